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

import numpy as np
from qonnx.core.datatype import DataType
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.custom_op.registry import getCustomOp
from qonnx.transformation.base import Transformation
from qonnx.transformation.infer_datatypes import InferDataTypes
from qonnx.transformation.infer_shapes import InferShapes

from ..errors import UnsupportedError

# Ops that are per element or per channel (given their layout attribute) once convs are lowered.
_LAYOUT_FREE = {"MatMul", "XnorPopcountMatMul", "Add", "Mul", "MultiThreshold", "Im2Col", "Pad", "Transpose", "MaxPool"}


def _rewire(model: ModelWrapper, old: str, new: str) -> None:
    for node in model.graph.node:
        for i, t in enumerate(node.input):
            if t == old:
                node.input[i] = new


class ConvertToNHWC(Transformation):
    """Drop every Transpose of a lowered conv graph and run it in NHWC (see the module docstring)."""

    def apply(self, model: ModelWrapper):
        graph = model.graph
        for node in graph.node:
            if node.op_type not in _LAYOUT_FREE:
                raise UnsupportedError(f"node {node.name} ({node.op_type}): ConvertToNHWC handles only "
                                       f"{', '.join(sorted(_LAYOUT_FREE))}")
            if node.op_type == "Mul" and model.get_initializer(node.input[1]) is not None and \
                    model.get_initializer(node.input[1]).size > 1:
                raise UnsupportedError(f"node {node.name}: per-channel Mul cannot be moved to NHWC here")
        # Tensors already in NHWC: those inside each lowered conv (after the first Transpose, up to the second).
        already_nhwc = {t for n in graph.node if n.op_type in ("Im2Col", "MatMul", "XnorPopcountMatMul")
                        for t in n.output}
        outputs = {o.name for o in graph.output}
        for node in list(graph.node):
            if node.op_type == "Transpose":
                src, dst = node.input[0], node.output[0]
                if dst in outputs:  # the producer of src writes the graph output directly
                    for p in graph.node:
                        for i, t in enumerate(p.output):
                            if t == src:
                                p.output[i] = dst
                    _rewire(model, src, dst)
                else:
                    _rewire(model, dst, src)
                graph.node.remove(node)
            elif node.op_type == "MultiThreshold":
                getCustomOp(node).set_nodeattr("data_layout", "NHWC")
            elif node.op_type == "MaxPool":  # qonnx's NHWC max pool (same attributes)
                node.op_type, node.domain = "MaxPoolNHWC", "qonnx.custom_op.general"
            elif node.op_type == "Pad":
                pads = model.get_initializer(node.input[1]).reshape(2, 4)
                model.set_initializer(node.input[1], pads[:, [0, 2, 3, 1]].reshape(-1).astype(np.int64))
        for vi in list(graph.input) + list(graph.output) + list(graph.value_info):
            dims = vi.type.tensor_type.shape.dim
            if len(dims) == 4 and vi.name not in already_nhwc:
                n, c, h, w = (d.dim_value for d in dims)
                for d, v in zip(dims, (n, h, w, c)):
                    d.dim_value = v
        model = model.transform(InferShapes()).transform(InferDataTypes())
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
