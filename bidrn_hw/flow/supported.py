"""What the flow can lower, checked before any pass runs (docs/supported_ops.md is this table in prose).

:func:`check_supported` walks the exported QONNX graph once and stops at the first node the flow has no
lowering for, with one line naming the node, its op type and why (:class:`~bidrn_hw.errors.UnsupportedOpError`,
exit code 2). A graph that passes may still be refused later by a pass (e.g. a float op stuck between two
integer layers), but then also with one line naming the pass and the node (:func:`flow.lower.lower_to_hw`).

The table :data:`OPS` maps each supported op type to the condition it must meet; the condition returns None
when it holds, else the reason.
"""
from __future__ import annotations

import numpy as np
from onnx import helper
from qonnx.core.modelwrapper import ModelWrapper

from ..errors import UnsupportedOpError
from ..layers import BY_OP

QUANT_OPS = ("Quant", "BipolarQuant", "Trunc", "MultiThreshold")


def _attr(node, name, default=None):
    for a in node.attribute:
        if a.name == name:
            return helper.get_attribute_value(a)
    return default


def _is_const(model: ModelWrapper, tensor: str, depth: int = 0) -> bool:
    """An initializer, or computed from initializers only (a Quant of weights, a Mul of two constants...)."""
    if not tensor:
        return True
    if model.get_initializer(tensor) is not None:
        return True
    prod = model.find_producer(tensor)
    if prod is None or depth > 8:
        return False
    return all(_is_const(model, t, depth + 1) for t in prod.input)


def _const_params(model, node, first: int = 1):
    bad = [t for t in node.input[first:] if not _is_const(model, t)]
    return f"its parameter {bad[0]} is computed at run time, not a constant" if bad else None


def _quant(model, node):
    if _is_const(model, node.input[0]):
        return None  # weights or biases: folded into the layer that uses them
    why = _const_params(model, node)
    if why:
        return why
    if node.op_type == "Trunc":
        mode = _attr(node, "rounding_mode", b"FLOOR")
        mode = (mode.decode() if isinstance(mode, bytes) else mode).upper()
        if mode != "FLOOR":
            return (f"rounding_mode {mode} (an average pool's truncation maps to hardware only with FLOOR: "
                    f"TruncAvgPool2d(..., float_to_int_impl_type='floor'))")
    if node.op_type in ("Quant", "Trunc"):
        zp = model.get_initializer(node.input[2])
        if zp is not None and np.any(np.asarray(zp) != 0):
            return "a non-zero zero point (only symmetric/unsigned quantizers with zero point 0 map to integers)"
    return None


def _shape(model, tensor):
    try:
        return model.get_tensor_shape(tensor)
    except Exception:  # noqa: BLE001 - a tensor without shape information
        return None


def _conv(model, node):
    if not _is_const(model, node.input[1]):
        return "its weights are computed at run time, not constants"
    shape = _shape(model, node.input[1])
    if shape is None or len(shape) != 4:
        return f"only 2-D convolutions are supported (weight shape {shape})"
    dil = _attr(node, "dilations", [1, 1])
    if any(d != 1 for d in dil):
        return f"dilations {list(dil)} (only 1 is supported)"
    group = _attr(node, "group", 1)
    if group == 1:
        return None
    cin = shape[1] * group
    if group == cin and shape[0] == cin:
        if "VVAU" not in BY_OP:
            return (f"depthwise convolution (group {group} = channels) needs the VVAU layer, which this build of "
                    f"the flow does not have")
        return None
    return f"grouped convolution with group {group} (only 1, or depthwise: group = input = output channels)"


def _matmul(model, node):
    if len(node.input) < 2 or not _is_const(model, node.input[1]):
        return "a product of two computed tensors (only a product with constant weights maps to an MVAU)"
    if node.op_type == "Gemm" and _attr(node, "transA", 0):
        return "transA=1 (the input must be the left operand as is)"
    if node.op_type == "Gemm" and len(node.input) > 2 and node.input[2] and not _is_const(model, node.input[2]):
        return "its bias is computed at run time, not a constant"
    return None


def _elementwise(model, node):
    consts = [_is_const(model, t) for t in node.input]
    if any(consts):
        return None
    if node.op_type == "Add":
        return None  # a residual join: ElementwiseAdd of two integer streams
    return (f"{node.op_type} of two computed tensors (only Add joins two streams; {node.op_type} needs one "
            f"constant operand)")


def _bn(model, node):
    return _const_params(model, node)


def _relu(model, node):
    users = model.find_consumers(node.output[0]) or []
    if users and all(u.op_type in QUANT_OPS for u in users):
        return None
    return "a ReLU not followed by a quantizer (QuantReLU exports ReLU + Quant; a bare float ReLU has no layer)"


def _pool(model, node):
    kernel = _attr(node, "kernel_shape", [])
    if len(kernel) != 2:
        return f"only 2-D pooling is supported (kernel_shape {list(kernel)})"
    if _attr(node, "ceil_mode", 0):
        return "ceil_mode=1"
    if any(d != 1 for d in _attr(node, "dilations", [1, 1])):
        return "dilated pooling"
    if node.op_type == "AveragePool":
        return _followed_by_quantizer(model, node, "an average pool")
    return None


def _followed_by_quantizer(model, node, what):
    users = model.find_consumers(node.output[0]) or []
    if users and all(u.op_type in QUANT_OPS for u in users):
        return None
    return (f"{what} whose result is not quantized (TruncAvgPool2d, or a QuantIdentity after the mean, makes "
            f"it an integer)")


def _global_pool(model, node):
    if node.op_type == "ReduceMean":
        axes = _attr(node, "axes")
        if axes is None and len(node.input) > 1:
            init = model.get_initializer(node.input[1])
            axes = None if init is None else [int(a) for a in np.asarray(init).ravel()]
        shape = _shape(model, node.input[0])
        rank = len(shape) if shape else 4
        if axes is None or sorted(a % rank for a in axes) != [2, 3] or rank != 4:
            return f"a mean over axes {axes} (only the spatial axes 2 and 3 of an NCHW tensor: a global average pool)"
    return _followed_by_quantizer(model, node, "a global average pool")


def _reshape(model, node):
    shape = _shape(model, node.input[0])
    out = _shape(model, node.output[0])
    if shape is None or out is None:
        return None  # shape inference decides later
    if len(out) == 2 and out[0] == shape[0]:
        return None  # a flatten (before a fully connected layer, or of the input)
    if list(out) == list(shape):
        return None
    return f"a reshape from {list(shape)} to {list(out)} (only flattening to (N, features) is supported)"


def _pad(model, node):
    mode = _attr(node, "mode", b"constant")
    mode = mode.decode() if isinstance(mode, bytes) else mode
    if mode != "constant":
        return f"pad mode {mode!r} (only constant padding)"
    return None


def _always(model, node):
    return None


OPS = {
    "Quant": _quant, "BipolarQuant": _quant, "Trunc": _quant, "MultiThreshold": _quant,
    "Conv": _conv, "MatMul": _matmul, "Gemm": _matmul,
    "Add": _elementwise, "Sub": _elementwise, "Mul": _elementwise, "Div": _elementwise,
    "BatchNormalization": _bn, "Relu": _relu,
    "MaxPool": _pool, "AveragePool": _pool, "GlobalAveragePool": _global_pool, "ReduceMean": _global_pool,
    "Reshape": _reshape, "Flatten": _reshape, "Transpose": _always, "Pad": _pad, "Identity": _always,
}

# Op types a QONNX export of a graph that already went through FINN's lowering may contain.
FINN_OPS = ("XnorPopcountMatMul", "Im2Col", "MaxPoolNHWC", "QuantAvgPool2d")


def check_supported(model: ModelWrapper) -> None:
    """Raise :class:`UnsupportedOpError` naming the first node the flow cannot lower (see module doc)."""
    if len(model.graph.input) != 1 or len(model.graph.output) != 1:
        raise UnsupportedOpError(f"the graph has {len(model.graph.input)} inputs and {len(model.graph.output)} "
                                 f"outputs; the flow compiles graphs with one input and one output")
    for node in model.graph.node:
        op = node.op_type
        if op in FINN_OPS:
            continue
        check = OPS.get(op)
        name = node.name or f"#{list(model.graph.node).index(node)}"
        if check is None:
            raise UnsupportedOpError(f"node {name} ({op}): no lowering or hardware layer for this op type "
                                     f"(supported: {', '.join(sorted(OPS))}; see docs/supported_ops.md)")
        try:
            why = check(model, node)
        except Exception as exc:  # noqa: BLE001 - a malformed node: say which, never a traceback
            why = f"malformed node ({type(exc).__name__}: {exc})"
        if why:
            raise UnsupportedOpError(f"node {name} ({op}): {why}")
