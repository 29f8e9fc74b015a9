"""qonnx's bookkeeping passes with the same results in linear time, swapped in while FINN's passes run.

FINN's passes run qonnx's InferShapes after nearly every change (FoldQuantWeights and
InferElementwiseBinaryOperation once per converted node), and each run hands the whole model to ONNX's
shape inference, which serializes it: on the ``paper`` encoders (~160 MB of float weights) that was 165 s of a
330 s lowering, plus a quadratic check of every tensor's shape when the result is wrapped again.

:func:`light_shape_inference` gives ONNX's shape inference a copy of the graph in which every initializer
larger than :data:`SMALL_INITIALIZER` elements is declared as a graph input of the same type and shape (shape
inference reads values only from small tensors: Reshape shapes, Slice bounds, pads, axes), copies the inferred
value infos back into the model and, like qonnx's ModelWrapper constructor, adds the value infos of
initializers that have none.

The rest of the time went to lookups that scan the whole graph per tensor: ModelWrapper.cleanup's SortGraph
(a producer search per node input) and GiveUniqueParameterTensors (an initializer search and decode per node
input) after every transform, and InferDataTypes (a scan of the quantization annotations per tensor).
:func:`fast_qonnx` swaps in versions that build a dictionary once per application and give the same results
(the same node order, the same tensor names in the same sequence, the same annotations), for the duration of
a block: FINN's passes import and instantiate these classes themselves. A test checks that a lowering with
and without it gives byte-identical graphs.
"""
from __future__ import annotations

import contextlib
import math

import onnx
import onnx.shape_inference as si
from onnx import helper as oh
from qonnx.core.datatype import DataType
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.transformation import general as qonnx_general
from qonnx.transformation import infer_datatypes as qonnx_infer_datatypes
from qonnx.transformation import infer_shapes as qonnx_infer_shapes

SMALL_INITIALIZER = 4096  # elements; shape-carrying inputs are far smaller, weight tensors far larger


def _light_model(model: ModelWrapper) -> onnx.ModelProto:
    """The model with its large initializers replaced by graph inputs of the same type and shape."""
    src = model.model
    light = onnx.ModelProto()
    light.ir_version = src.ir_version
    light.opset_import.extend(src.opset_import)
    graph, g = light.graph, src.graph
    graph.name = g.name
    graph.node.extend(g.node)
    graph.input.extend(g.input)
    graph.output.extend(g.output)
    graph.value_info.extend(g.value_info)
    inputs = {t.name for t in g.input}
    for init in g.initializer:
        if math.prod(init.dims) <= SMALL_INITIALIZER:
            graph.initializer.append(init)
        elif init.name not in inputs:
            graph.input.append(oh.make_tensor_value_info(init.name, init.data_type, list(init.dims)))
    return light


def _add_initializer_value_infos(model: ModelWrapper) -> None:
    """ModelWrapper's ``check_all_tensor_shapes_specified(fix_missing_init_shape=True)`` in linear time: a
    value info for every initializer a node reads or writes that has none, in the same order."""
    g = model.graph
    known = {t.name for t in g.input} | {t.name for t in g.output} | {t.name for t in g.value_info}
    inits = {t.name: t for t in g.initializer}
    for node in g.node:
        for name in [*node.input, *node.output]:
            if name and name not in known and name in inits:
                model.set_tensor_shape(name, list(inits[name].dims), dtype=inits[name].data_type)
                known.add(name)


def light_shape_inference(model: ModelWrapper) -> ModelWrapper:
    """Infer every tensor's shape like qonnx's InferShapes (custom ops hidden behind shape-compatible
    standard ops meanwhile); the model is changed in place and returned."""
    hidden = qonnx_infer_shapes._hide_finn_ops(model)
    try:
        inferred = si.infer_shapes(_light_model(model))
        g = model.graph
        del g.value_info[:]
        g.value_info.extend(inferred.graph.value_info)
        for out, inferred_out in zip(g.output, inferred.graph.output):
            if out != inferred_out:
                out.CopyFrom(inferred_out)
    finally:
        qonnx_infer_shapes._restore_finn_ops(model, hidden)
    model.temporary_fix_oldstyle_domain()
    _add_initializer_value_infos(model)
    return model


def sort_graph(model: ModelWrapper) -> None:
    """qonnx's SortGraph with a producer dictionary: the same dependency sets, the same toposort, the same order
    (nodes with no producer and no initializer or graph input among their inputs are dropped, as there)."""
    from toposort import toposort_flatten

    nodes = list(model.graph.node)
    if len(nodes) == 1:
        return
    producer = {}
    for idx, node in enumerate(nodes):
        for name in node.output:
            producer.setdefault(name, idx)
    sources = {t.name for t in model.graph.initializer} | {t.name for t in model.graph.input}
    dependencies = {}
    for idx, node in enumerate(nodes):
        preds = [producer[name] for name in node.input if name in producer]
        if preds:
            dependencies[idx] = set(preds)
        elif any(name in sources for name in node.input):
            dependencies[idx] = set()
    order = toposort_flatten(dependencies)
    del model.graph.node[:]
    model.graph.node.extend(nodes[idx] for idx in order)


def unique_parameters(model: ModelWrapper) -> None:
    """qonnx's GiveUniqueParameterTensors in linear time: a parameter read by several nodes gets a copy each."""
    inits = {t.name for t in model.graph.initializer}
    seen = set()
    for node in model.graph.node:
        for idx, name in enumerate(list(node.input)):
            if name not in inits:
                continue
            if name not in seen:
                seen.add(name)
                continue
            new = model.make_new_valueinfo_name()
            model.set_initializer(new, model.get_initializer(name))
            model.set_tensor_datatype(new, model.get_tensor_datatype(name))
            node.input[idx] = new


@contextlib.contextmanager
def _datatype_lookup(model: ModelWrapper):
    """While the block runs, ``model.get_tensor_datatype`` reads the annotations from a dictionary that
    ``model.set_tensor_datatype`` keeps current. Tensors without a (unique) annotation take qonnx's path, once
    per tensor: its answer then comes from the tensor's value info, which InferDataTypes does not change."""
    annotated: dict[str, str | None] = {}
    ambiguous = set()
    for qa in model.graph.quantization_annotation:
        entries = [e.value for e in qa.quant_parameter_tensor_names if e.key == "finn_datatype"]
        if qa.tensor_name in annotated or len(entries) > 1:
            ambiguous.add(qa.tensor_name)  # qonnx raises on these: leave it to qonnx
        annotated[qa.tensor_name] = entries[0] if entries else None
    for name in ambiguous:
        del annotated[name]
    get, put = type(model).get_tensor_datatype, type(model).set_tensor_datatype

    derived = {}  # qonnx's answer for tensors without an annotation: from value infos, which stay as they are

    def get_tensor_datatype(name):
        value = annotated.get(name)
        if value is not None:
            return DataType[value]
        if name not in derived:
            derived[name] = get(model, name)
        return derived[name]

    def set_tensor_datatype(name, datatype):
        put(model, name, datatype)
        if name not in ambiguous:
            annotated[name] = None if datatype is None else datatype.name

    model.get_tensor_datatype, model.set_tensor_datatype = get_tensor_datatype, set_tensor_datatype
    try:
        yield
    finally:
        del model.get_tensor_datatype, model.set_tensor_datatype


def _light_infer_shapes(self, model):
    return light_shape_inference(model), False


def _sort_graph(self, model):
    sort_graph(model)
    return model, False


def _unique_parameters(self, model):
    unique_parameters(model)
    return model, False


_infer_datatypes = qonnx_infer_datatypes.InferDataTypes.apply


def _infer_datatypes_with_lookup(self, model):
    with _datatype_lookup(model):
        return _infer_datatypes(self, model)


_SWAPS = [(qonnx_infer_shapes.InferShapes, _light_infer_shapes), (qonnx_general.SortGraph, _sort_graph),
          (qonnx_general.GiveUniqueParameterTensors, _unique_parameters),
          (qonnx_infer_datatypes.InferDataTypes, _infer_datatypes_with_lookup)]


@contextlib.contextmanager
def fast_qonnx():
    """qonnx's InferShapes, SortGraph, GiveUniqueParameterTensors and InferDataTypes run their linear
    versions inside the block (see the module doc)."""
    originals = [(cls, cls.apply) for cls, _ in _SWAPS]
    for cls, apply in _SWAPS:
        cls.apply = apply
    try:
        yield
    finally:
        for cls, apply in originals:
            cls.apply = apply
