"""Passes on the exported QONNX graph before FINN's ConvertQONNXtoFINN: what Brevitas exports that FINN's
conversion does not take as it is.

* :class:`FoldBiasQuant`: a quantized convolution/linear bias (``Int32Bias``) is a ``Quant`` of a constant
  feeding the Conv/Gemm's third input. qonnx's ExtractBiasFromConv reshapes that Quant's zero point and
  fails on the scalar one Brevitas exports ("cannot reshape array of size 1"). The bias is a constant: it is
  computed here (qonnx's own Quant execution) and stored as the initializer the Conv/Gemm reads, which FINN
  then moves behind the layer as a float Add that streamlining absorbs into the next thresholds.
* :class:`DropConstantOutputs`: a model returning a Brevitas QuantTensor exports its scale, zero point and bit
  width as extra graph outputs; those are constants of the model, not streams, and are removed.
"""
from __future__ import annotations

import numpy as np
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.custom_op.registry import getCustomOp
from qonnx.transformation.base import Transformation
from onnx import helper
from qonnx.transformation.infer_datatypes import InferDataTypes
from qonnx.transformation.infer_shapes import InferShapes

from .supported import _is_const


def _evaluate_constant(model: ModelWrapper, node) -> np.ndarray:
    context = {t: model.get_initializer(t) for t in node.input if t}
    context[node.output[0]] = None
    getCustomOp(node).execute_node(context, model.graph)
    return np.asarray(context[node.output[0]], dtype=np.float32)


class FoldBiasQuant(Transformation):
    """Quant/IntQuant of a constant that is a Conv's or Gemm's bias -> its value as an initializer."""

    def apply(self, model: ModelWrapper):
        changed = False
        for node in list(model.graph.node):
            if node.op_type not in ("Quant", "IntQuant"):
                continue
            if not all(model.get_initializer(t) is not None for t in node.input if t):
                continue
            users = model.find_consumers(node.output[0]) or []
            if not users or not all(u.op_type in ("Conv", "Gemm") and list(u.input).index(node.output[0]) == 2
                                    for u in users):
                continue
            model.set_initializer(node.output[0], _evaluate_constant(model, node))
            model.graph.node.remove(node)
            changed = True
        return model, changed


class DropConstantOutputs(Transformation):
    """Graph outputs computed from constants only (a QuantTensor's scale, zero point, bit width)."""

    def apply(self, model: ModelWrapper):
        outs = list(model.graph.output)
        keep = [o for o in outs if not _is_const(model, o.name)]
        if keep and len(keep) < len(outs):
            for o in outs:
                if o not in keep:
                    model.graph.output.remove(o)
            graph_outs = {o.name for o in model.graph.output}
            while True:  # the nodes that computed only those outputs
                used = {t for n in model.graph.node for t in n.input} | graph_outs
                dead = [n for n in model.graph.node if not any(t in used for t in n.output)]
                if not dead:
                    break
                for n in dead:
                    model.graph.node.remove(n)
        return model, False


class DuplicateForkedScales(Transformation):
    """A constant scale (``Mul``) whose output feeds several consumers (a residual fork: the shortcut and the
    next convolution) cannot be absorbed into any of them; one copy per consumer can, each into its own
    branch (the next quantizer, or past the window generator and the matrix product into the thresholds
    after it). ``ReduceSum`` (a global pool's sum) is linear, so a scalar scale moves past it too."""

    def apply(self, model: ModelWrapper):
        graph = model.graph
        changed = False
        for node in list(graph.node):
            if node.op_type != "Mul" or len(node.input) != 2:
                continue
            c = model.get_initializer(node.input[1])
            if c is None or node.output[0] in {o.name for o in graph.output}:
                continue
            users = model.find_consumers(node.output[0]) or []
            if len(users) > 1 and c.size == 1:
                idx = list(graph.node).index(node)
                for k, user in enumerate(users[1:], start=1):
                    out = f"{node.output[0]}_fork{k}"
                    graph.node.insert(idx + k, helper.make_node("Mul", [node.input[0], node.input[1]], [out],
                                                                name=f"{node.name}_fork{k}"))
                    for i, t in enumerate(user.input):
                        if t == node.output[0]:
                            user.input[i] = out
                    model.set_tensor_datatype(out, model.get_tensor_datatype(node.output[0]))
                changed = True
            elif len(users) == 1 and users[0].op_type == "ReduceSum" and c.size == 1:
                red = users[0]  # x*c -> sum = sum(x)*c: the sum reads x, the Mul follows it
                x, mid, out = node.input[0], node.output[0], red.output[0]
                red.input[0], red.output[0] = x, mid
                node.input[0], node.output[0] = mid, out
                graph.node.remove(node)
                graph.node.insert(list(graph.node).index(red) + 1, node)
                for vi in list(graph.value_info):
                    if vi.name == mid:
                        graph.value_info.remove(vi)
                changed = True
        if changed:
            model = model.transform(InferShapes()).transform(InferDataTypes())
        return model, False


class MoveChannelScalesPastDepthwise(Transformation):
    """A per-channel scale (``Mul`` by a (1, 1, 1, C) constant, NHWC: a quantizer with per-channel scales, as
    MobileNet's pointwise activations have) feeding a lowered depthwise convolution (``Im2Col`` with
    ``depthwise=1`` and zero padding -> ``MatMul`` whose weights connect channel c only to channel c) moves
    behind the ``MatMul``: each output channel reads only its own input channel, so ``dw(x*s) = dw(x)*s``, and
    the padding is 0 either way. Streamlining then absorbs it into the thresholds after the convolution, and
    the window generator and the VVAU see the quantizer's integers."""

    def apply(self, model: ModelWrapper):
        graph = model.graph
        changed = False
        for mul in list(graph.node):
            if mul.op_type != "Mul" or len(mul.input) != 2:
                continue
            c = model.get_initializer(mul.input[1])
            users = model.find_consumers(mul.output[0]) or []
            if c is None or c.size < 2 or len(users) != 1 or users[0].op_type != "Im2Col":
                continue
            im2col = users[0]
            inst = getCustomOp(im2col)
            if not inst.get_nodeattr("depthwise") or float(inst.get_nodeattr("pad_value")) != 0.0:
                continue
            ch = int(model.get_tensor_shape(mul.input[0])[-1])
            if c.size != ch or c.shape[-1] != ch:
                continue
            mms = model.find_consumers(im2col.output[0]) or []
            if len(mms) != 1 or mms[0].op_type != "MatMul" or model.get_initializer(mms[0].input[1]) is None:
                continue
            mm = mms[0]
            w = model.get_initializer(mm.input[1])
            if w.shape[-1] != ch or w.shape[0] % ch:
                continue
            blocks = w.reshape(-1, ch, ch)
            if np.any(blocks * (1 - np.eye(ch))[None] != 0):  # not depthwise: channels mix
                continue
            im2col.input[0] = mul.input[0]
            out = mm.output[0]
            mid = out + "_unscaled"
            mm.output[0] = mid
            graph.node.remove(mul)
            graph.node.insert(list(graph.node).index(mm) + 1,
                              helper.make_node("Mul", [mid, mul.input[1]], [out], name=mul.name))
            model.set_initializer(mul.input[1], np.asarray(c, dtype=np.float32).reshape(1, 1, 1, ch))
            changed = True
        if changed:
            model = model.transform(InferShapes()).transform(InferDataTypes())
        return model, False
