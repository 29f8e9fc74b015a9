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
from collections import deque

import onnx
import onnx.shape_inference as si
from finn.transformation.qonnx.fold_quant_weights import FoldQuantWeights
from onnx import helper as oh
from qonnx.core.datatype import DataType
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.transformation import general as qonnx_general
from qonnx.transformation import infer_datatypes as qonnx_infer_datatypes
from qonnx.transformation import infer_shapes as qonnx_infer_shapes
from qonnx.util import onnx as qonnx_onnx_util
from toposort import CircularDependencyError

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


def copy_model(model: ModelWrapper) -> ModelWrapper:
    """``ModelWrapper(model.model.__deepcopy__())`` without the constructor's quadratic shape check (its
    one effect, value infos for initializers without one, is added in linear time)."""
    copy = ModelWrapper(model.model.__deepcopy__(), fix_missing_initializer_valueinfo=False)
    _add_initializer_value_infos(copy)
    return copy


def readable_tensor_names(model: ModelWrapper) -> bool:
    """The names qonnx's GiveReadableTensorNames gives (``<node>_out<k>``, ``<node>_param<k>``, ``global_in``,
    ``global_out``), assigned in one sweep instead of one graph scan per tensor. False (and nothing renamed)
    where the new names would clash with each other: qonnx's pass, which renames one tensor at a time, then."""
    graph = model.graph
    inits = {t.name for t in graph.initializer}
    new = {}
    for n in graph.node:
        for k, o in enumerate(n.output):
            new[o] = f"{n.name}_out{k}"
        k = 0
        for i in n.input:
            if i in inits:
                new[i] = f"{n.name}_param{k}"
                k += 1
    for i, t in enumerate(graph.input):
        new[t.name] = "global_in" if i == 0 else f"global_in_{i}"
    for i, t in enumerate(graph.output):
        new[t.name] = "global_out" if i == 0 else f"global_out_{i}"
    if len(set(new.values())) != len(new):
        return False
    for t in [*graph.input, *graph.output, *graph.value_info, *graph.initializer]:
        t.name = new.get(t.name, t.name)
    for qa in graph.quantization_annotation:
        qa.tensor_name = new.get(qa.tensor_name, qa.tensor_name)
    for n in graph.node:
        for idx, name in enumerate(n.input):
            if name in new:
                n.input[idx] = new[name]
        for idx, name in enumerate(n.output):
            if name in new:
                n.output[idx] = new[name]
    return True


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
    order = _toposort_flatten(dependencies)
    del model.graph.node[:]
    model.graph.node.extend(nodes[idx] for idx in order)


def _toposort_flatten(dependencies: dict[int, set[int]]) -> list[int]:
    """``toposort.toposort_flatten`` in linear time: an item's level is one more than its deepest dependency's
    (toposort's rounds), and the items come by level, each level sorted."""
    deps = {item: {d for d in ds if d != item} for item, ds in dependencies.items()}
    for extra in {d for ds in deps.values() for d in ds} - deps.keys():
        deps[extra] = set()
    users: dict[int, list[int]] = {item: [] for item in deps}
    for item, ds in deps.items():
        for d in ds:
            users[d].append(item)
    waiting = {item: len(ds) for item, ds in deps.items()}
    level = {item: 0 for item, n in waiting.items() if n == 0}
    ready = deque(level)
    while ready:
        item = ready.popleft()
        for user in users[item]:
            level[user] = max(level.get(user, 0), level[item] + 1)
            waiting[user] -= 1
            if waiting[user] == 0:
                ready.append(user)
    if any(waiting.values()):
        raise CircularDependencyError({item: ds for item, ds in deps.items() if waiting[item]})
    return sorted(level, key=lambda item: (level[item], item))


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
    ``model.set_tensor_datatype`` keeps current. Tensors with several annotations or value infos take qonnx's
    path (which raises)."""
    g = model.graph
    records, ambiguous = {}, set()  # tensor -> its TensorAnnotation; tensors qonnx would raise on
    for qa in g.quantization_annotation:
        entries = [e for e in qa.quant_parameter_tensor_names if e.key == "finn_datatype"]
        if qa.tensor_name in records or len(entries) > 1:
            ambiguous.add(qa.tensor_name)
        records[qa.tensor_name] = qa
    for name in ambiguous:
        del records[name]
    annotated = {}  # tensor -> its finn_datatype, or None
    for name, qa in records.items():
        entries = [e.value for e in qa.quant_parameter_tensor_names if e.key == "finn_datatype"]
        annotated[name] = entries[0] if entries else None
    get, put = type(model).get_tensor_datatype, type(model).set_tensor_datatype

    # qonnx's answer for a tensor without an annotation: FLOAT16 where its value info (or, without one, its
    # initializer) says so, else FLOAT32. InferDataTypes changes no value info or initializer.
    elem_types: dict[str, int | None] = {}
    for vi in [*g.input, *g.output, *g.value_info]:
        elem_types[vi.name] = None if vi.name in elem_types else vi.type.tensor_type.elem_type  # None: ask qonnx
    init_types = {t.name: t.data_type for t in g.initializer}

    def get_tensor_datatype(name):
        value = annotated.get(name)
        if value is not None:
            return DataType[value]
        if name in ambiguous or (name in elem_types and elem_types[name] is None):
            return get(model, name)
        elem = elem_types[name] if name in elem_types else init_types.get(name)
        return DataType["FLOAT16" if elem == onnx.TensorProto.FLOAT16 else "FLOAT32"]

    def set_tensor_datatype(name, datatype):
        """qonnx's set_tensor_datatype, the annotation found in the dictionary."""
        if name in ambiguous:
            return put(model, name, datatype)
        qa = records.get(name)
        if qa is None and datatype is not None:
            qa = records[name] = g.quantization_annotation.add()
            qa.tensor_name = name
        if qa is not None:
            entry = next((e for e in qa.quant_parameter_tensor_names if e.key == "finn_datatype"), None)
            if entry is not None and datatype is None:
                entry.Clear()
            elif datatype is not None:
                if entry is None:
                    entry = qa.quant_parameter_tensor_names.add()
                    entry.key = "finn_datatype"
                entry.value = datatype.name
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


class _LazyExecContext(dict):
    """ModelWrapper.make_empty_exec_context's dictionary with each tensor made when it is first read: FINN's
    FoldQuantWeights makes one per folded weight (zeros of every activation of the model: seconds on the
    ``paper`` encoders) to execute one Quant node, which reads its four constant inputs."""

    def __init__(self, model: ModelWrapper):
        super().__init__({"": None})
        self._model = model

    def __missing__(self, name):
        value = self._model.get_initializer(name)
        if value is None:
            value = qonnx_onnx_util.valueinfo_to_tensor(self._model.get_tensor_valueinfo(name))
        self[name] = value
        return value


_fold_quant_weights = FoldQuantWeights.apply


def _fold_quant_weights_lazily(self, model):
    model.make_empty_exec_context = lambda: _LazyExecContext(model)
    try:
        return _fold_quant_weights(self, model)
    finally:
        del model.make_empty_exec_context


def _infer_datatypes_with_lookup(self, model):
    with _datatype_lookup(model):
        return _infer_datatypes(self, model)


_SWAPS = [(qonnx_infer_shapes.InferShapes, _light_infer_shapes), (qonnx_general.SortGraph, _sort_graph),
          (qonnx_general.GiveUniqueParameterTensors, _unique_parameters),
          (qonnx_infer_datatypes.InferDataTypes, _infer_datatypes_with_lookup),
          (FoldQuantWeights, _fold_quant_weights_lazily)]


@contextlib.contextmanager
def fast_qonnx():
    """qonnx's InferShapes, SortGraph, GiveUniqueParameterTensors and InferDataTypes run their linear
    versions, and FINN's FoldQuantWeights a lazily filled execution context, inside the block (see the
    module doc)."""
    originals = [(cls, cls.apply) for cls, _ in _SWAPS]
    for cls, apply in _SWAPS:
        cls.apply = apply
    try:
        yield
    finally:
        for cls, apply in originals:
            cls.apply = apply
