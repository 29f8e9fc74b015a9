"""Layout and padding passes for convolutional residual graphs (BiDRN's partitions).

After ``LowerConvsToMatMul`` every conv is ``Transpose(NCHW->NHWC) -> Im2Col -> MatMul -> Transpose(back)``.
FINN's transpose-moving passes do not get these out of a residual graph (``MoveTransposePastJoinAdd``
skips Adds whose producers differ). When every remaining op is per-element or per-channel, the whole graph
can run in NHWC instead: :class:`ConvertToNHWC` drops every Transpose and switches the layout-sensitive ops
(MultiThreshold's ``data_layout``, Pad's pads, MaxPool -> MaxPoolNHWC) to NHWC. The graph input and output become NHWC; the host
transposes.

Binarized convs pad their sign input with -1 (docs/architecture.md). :class:`AbsorbPadIntoIm2Col` moves the Pad into
the following Im2Col (``pad_amount``/``pad_value``); after qonnx's ``ConvertBipolarMatMulToXnorPopcount``
the bipolar stream is encoded as {0, 1} with 0 meaning -1, and :class:`RemapXnorPadValue` turns the pad
value -1 into 0 accordingly (qonnx leaves it at -1, which is wrong by up to the pad count per output).
"""
from __future__ import annotations

import json

import numpy as np
import qonnx.core.data_layout as layouts
from onnx import helper
from qonnx.core.datatype import DataType
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.custom_op.registry import getCustomOp
from qonnx.transformation.base import Transformation
from qonnx.transformation.infer_datatypes import InferDataTypes
from qonnx.transformation.infer_shapes import InferShapes

from ..errors import UnsupportedError
from . import host_ops

# Ops that are per element or per channel (given their layout attribute) once convs are lowered.
_LAYOUT_FREE = {"MatMul", "XnorPopcountMatMul", "Add", "Sub", "Mul", "Div", "MultiThreshold", "Im2Col", "Pad",
                "Transpose", "MaxPool", "QuantAvgPool2d", "GlobalAveragePool", "ReduceMean", "Reshape", "Flatten"}


def _rewire(model: ModelWrapper, old: str, new: str) -> None:
    for node in model.graph.node:
        for i, t in enumerate(node.input):
            if t == old:
                node.input[i] = new


def _bypass(model: ModelWrapper, src: str, dst: str, outputs) -> None:
    """Join tensor ``src`` to ``dst`` around the node between them (removed by the caller): where ``dst`` is a
    graph output the producer of ``src`` writes it directly, otherwise the consumers of ``dst`` read ``src``."""
    if dst in outputs:
        for p in model.graph.node:
            for i, t in enumerate(p.output):
                if t == src:
                    p.output[i] = dst
        _rewire(model, src, dst)
    else:
        _rewire(model, dst, src)


def _drop_flatten(model: ModelWrapper, node) -> set[str]:
    """Remove a flattening Reshape/Flatten of a 1x1 feature map: its consumers read the 4-D tensor, the shapes
    after it are inferred again (4-D), and the host flattens the graph output."""
    graph = model.graph
    src, dst = node.input[0], node.output[0]
    graph.node.remove(node)
    outputs = {o.name: o for o in graph.output}
    downstream, todo = set(), [dst]
    while todo:
        t = todo.pop()
        if t in downstream:
            continue
        downstream.add(t)
        for n in model.find_consumers(t) or []:
            todo.extend(n.output)
    _bypass(model, src, dst, outputs)
    for vi in list(graph.value_info):
        if vi.name in downstream:
            graph.value_info.remove(vi)
    for name in downstream & set(outputs):  # made 4-D here: already in NHWC order
        dims = outputs[name].type.tensor_type.shape.dim
        n, k = (d.dim_value for d in dims)
        del dims[:]
        for v in (n, 1, 1, k):
            dims.add().dim_value = v
    ops = host_ops.get(model)
    ops["flatten_output"] = True
    model.set_metadata_prop(host_ops.META_KEY, json.dumps(ops))
    return downstream & set(outputs)


class ConvertToNHWC(Transformation):
    """Drop every Transpose of a lowered conv graph and run it in NHWC (see the module docstring)."""

    def apply(self, model: ModelWrapper):
        graph = model.graph
        for node in graph.node:
            if node.op_type not in _LAYOUT_FREE:
                raise UnsupportedError(f"node {node.name} ({node.op_type}): ConvertToNHWC handles only "
                                       f"{', '.join(sorted(_LAYOUT_FREE))}")
            if node.op_type in ("Reshape", "Flatten"):
                shape = model.get_tensor_shape(node.input[0])
                out = model.get_tensor_shape(node.output[0])
                if len(shape) == 4 and not (len(out) == 2 and shape[2] * shape[3] == 1):
                    raise UnsupportedError(f"node {node.name} ({node.op_type}): flattening a {shape[2]}x"
                                           f"{shape[3]} feature map inside a residual graph (only 1x1, after a "
                                           f"global pool)")
        # Tensors already in NHWC: those inside each lowered conv (after the first Transpose, up to the second).
        already_nhwc = {t for n in graph.node if n.op_type in ("Im2Col", "MatMul", "XnorPopcountMatMul")
                        for t in n.output}
        outputs = {o.name for o in graph.output}
        for node in list(graph.node):
            if node.op_type == "Transpose":
                _bypass(model, node.input[0], node.output[0], outputs)
                graph.node.remove(node)
            elif node.op_type in ("MultiThreshold", "QuantAvgPool2d"):
                getCustomOp(node).set_nodeattr("data_layout", "NHWC")
            elif node.op_type in ("Add", "Sub", "Mul", "Div"):
                for i, t in enumerate(node.input):  # a per-channel constant (1, C, 1, 1) -> (1, 1, 1, C)
                    c = model.get_initializer(t)
                    if c is not None and c.ndim == 4:
                        model.set_initializer(t, np.ascontiguousarray(c.transpose(0, 2, 3, 1)))
            elif node.op_type in ("Reshape", "Flatten") and len(model.get_tensor_shape(node.input[0])) == 4:
                # (N, 1, 1, C) -> (N, C) after a global pool: the same stream, so the graph stays 4-D from here
                # and the host flattens the output (host_ops "flatten_output")
                already_nhwc |= _drop_flatten(model, node)
            elif node.op_type in ("GlobalAveragePool", "ReduceMean"):
                # a global average pool in NHWC: the sum over H and W (GlobalAccPool) times 1/(H*W), which
                # streamlining absorbs into the quantizer after it
                shape = model.get_tensor_shape(node.input[0])
                keep = 1 if node.op_type == "GlobalAveragePool" else next(
                    (a.i for a in node.attribute if a.name == "keepdims"), 1)
                result = node.output[0]
                if not keep:  # the (N, C) mean: the 4-D (N, 1, 1, C) one, flattened like a Flatten after it
                    node.output[0] = result + "_4d"
                summed = node.output[0] + "_sum"
                axes = node.output[0] + "_axes"
                model.set_initializer(axes, np.asarray([1, 2], dtype=np.int64))
                scale = node.output[0] + "_inv_hw"
                model.set_initializer(scale, np.asarray(1.0 / (shape[2] * shape[3]), dtype=np.float32))
                idx = list(graph.node).index(node)
                graph.node.insert(idx, helper.make_node("ReduceSum", [node.input[0], axes], [summed],
                                                        keepdims=1, name=node.name + "_sum"))
                graph.node.insert(idx + 1, helper.make_node("Mul", [summed, scale], [node.output[0]],
                                                            name=node.name + "_mean"))
                graph.node.remove(node)
                if not keep:
                    flat = helper.make_node("Flatten", [node.output[0]], [result], axis=1, name=node.name + "_flat")
                    graph.node.insert(idx + 2, flat)
                    already_nhwc |= _drop_flatten(model, flat)
            elif node.op_type == "MaxPool":  # qonnx's NHWC max pool (same attributes)
                node.op_type, node.domain = "MaxPoolNHWC", "qonnx.custom_op.general"
            elif node.op_type == "Pad":
                pads = model.get_initializer(node.input[1]).reshape(2, 4)
                model.set_initializer(node.input[1], pads[:, [0, 2, 3, 1]].reshape(-1).astype(np.int64))
        consts = {t.name for t in graph.initializer}  # their shapes are their values' (transposed above)
        for vi in list(graph.input) + list(graph.output) + list(graph.value_info):
            dims = vi.type.tensor_type.shape.dim
            if len(dims) == 4 and vi.name not in already_nhwc and vi.name not in consts:
                n, c, h, w = (d.dim_value for d in dims)
                for d, v in zip(dims, (n, h, w, c)):
                    d.dim_value = v
        model = model.transform(InferShapes()).transform(InferDataTypes())
        # FINN's HW inference reads the layout annotations (streamlining left NCHW on the graph's tensors)
        names = {t for n in graph.node for t in (*n.input, *n.output) if t and model.get_initializer(t) is None}
        for t in names:
            shape = model.get_tensor_shape(t)
            if shape is not None and len(shape) in (2, 4):
                model.set_tensor_layout(t, layouts.NHWC if len(shape) == 4 else layouts.NC)
        return model, False


class AbsorbPadIntoIm2Col(Transformation):
    """Pad (constant, spatial only, NHWC) -> the following Im2Col's pad_amount and pad_value."""

    def apply(self, model: ModelWrapper):
        for node in list(model.graph.node):
            if node.op_type != "Pad":
                continue
            consumers = model.find_consumers(node.output[0]) or []
            if len(consumers) != 1 or consumers[0].op_type != "Im2Col":
                raise UnsupportedError(f"node {node.name} (Pad): only a Pad feeding one Im2Col can be mapped")
            pads = model.get_initializer(node.input[1]).reshape(2, 4)  # NHWC begins / ends
            if pads[:, 0].any() or pads[:, 3].any():
                raise UnsupportedError(f"node {node.name} (Pad): padding of batch or channel axes")
            value = model.get_initializer(node.input[2]) if len(node.input) > 2 and node.input[2] else 0
            im2col = getCustomOp(consumers[0])
            if any(im2col.get_nodeattr("pad_amount")):
                raise UnsupportedError(f"node {consumers[0].name}: Im2Col already pads")
            im2col.set_nodeattr("pad_amount", [int(pads[0, 1]), int(pads[0, 2]), int(pads[1, 1]), int(pads[1, 2])])
            im2col.set_nodeattr("pad_value", int(np.asarray(value).item()))
            consumers[0].input[0] = node.input[0]
            model.graph.node.remove(node)
        return model.transform(InferShapes()), False


class RemapXnorPadValue(Transformation):
    """Im2Col on a {0,1}-encoded bipolar stream pads with 0 (= -1), not -1."""

    def apply(self, model: ModelWrapper):
        for node in model.graph.node:
            if node.op_type == "Im2Col" and model.get_tensor_datatype(node.input[0]) == DataType["BINARY"]:
                inst = getCustomOp(node)
                if inst.get_nodeattr("pad_value") == -1:
                    inst.set_nodeattr("pad_value", 0)
        return model, False
