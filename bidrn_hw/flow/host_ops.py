"""The host side of a compiled model: what stays off the FPGA at its input and output.

After lowering, the HW graph may still begin with a layout change of the image (a ``Transpose`` NCHW ->
NHWC, or a ``Reshape``/``Flatten`` that flattens it for a fully connected network) and end with float
operations after the last quantizer (e.g. the final ``Mul``/``Add`` that TensorNorm or a weight scale
streamlines to). Neither belongs on the FPGA. :class:`ExtractHostOps` removes them from the graph and
records them in the model's metadata (``bidrn_hw.host_ops``, JSON):

``{"input": {"from_shape": [...], "op": "transpose" | "reshape", "perm": [...]},
   "output": {"scale": s, "bias": b, "channels": C}}``

with ``s``/``b`` a float or a list of C per-channel floats (the last axis): the model's output is
``stream * scale + bias``. :func:`to_stream` and :func:`from_stream` apply them, so every consumer (FINN
execution in the harness, ``simulate``, accel.json's ``host_ops``) reports the model's own outputs.
"""
from __future__ import annotations

import json

import numpy as np
from qonnx.core.datatype import DataType
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.transformation.base import Transformation
from qonnx.util.basic import get_by_name

META_KEY = "bidrn_hw.host_ops"
HW_DOMAIN = "finn.custom_op.fpgadataflow"


def get(model: ModelWrapper) -> dict:
    text = model.get_metadata_prop(META_KEY)
    return json.loads(text) if text else {}


def _const(model: ModelWrapper, node):
    """The constant operand of a binary Mul/Add (and the index of the dynamic one), or (None, None)."""
    for k in (1, 0):
        c = model.get_initializer(node.input[k])
        if c is not None and model.get_initializer(node.input[1 - k]) is None:
            return np.asarray(c, dtype=np.float64), 1 - k
    return None, None


def _strip_output_transpose(model: ModelWrapper, out) -> None:
    """A Transpose NHWC -> NCHW writing the 4-D graph output: the stream stays NHWC and the host transposes
    (``execute`` and ``simulate`` return 4-D outputs in the model's NCHW, as for the input)."""
    node = model.find_producer(out.name)
    if node is None or node.op_type != "Transpose":
        return
    perm = list(get_by_name(node.attribute, "perm").ints)
    if perm != [0, 3, 1, 2]:
        return
    src = node.input[0]
    shape = model.get_tensor_shape(src)
    dt = model.get_tensor_datatype(src)
    model.graph.node.remove(node)
    for n in model.graph.node:
        for i, t in enumerate(n.output):
            if t == src:
                n.output[i] = out.name
        for i, t in enumerate(n.input):
            if t == src:
                n.input[i] = out.name
    for vi in list(model.graph.value_info):
        if vi.name == src:
            model.graph.value_info.remove(vi)
    dims = out.type.tensor_type.shape.dim
    del dims[:]
    for v in shape:
        dims.add().dim_value = int(v)
    model.set_tensor_datatype(out.name, dt)


class ExtractHostOps(Transformation):
    """Strip the leading layout op and the trailing float Mul/Add chain (see the module docstring)."""

    def apply(self, model: ModelWrapper):
        graph = model.graph
        ops = get(model)
        # ---- input side: Transpose(0,2,3,1) or Reshape/Flatten directly on the graph input
        inp = graph.input[0]
        consumers = model.find_consumers(inp.name) or []
        if len(consumers) == 1 and consumers[0].domain != HW_DOMAIN and "input" not in ops:
            node = consumers[0]
            from_shape = [int(d) for d in model.get_tensor_shape(inp.name)]
            entry = None
            if node.op_type == "Transpose":
                perm = list(get_by_name(node.attribute, "perm").ints)
                entry = {"from_shape": from_shape, "op": "transpose", "perm": perm}
            elif node.op_type in ("Reshape", "Flatten"):
                entry = {"from_shape": from_shape, "op": "reshape"}
            if entry is not None:
                dt = model.get_tensor_datatype(inp.name)
                new_shape = model.get_tensor_shape(node.output[0])
                out_name = node.output[0]
                graph.node.remove(node)
                # the layout op's output becomes the graph input
                inp.name = out_name
                dims = inp.type.tensor_type.shape.dim
                del dims[:]
                for v in new_shape:
                    dims.add().dim_value = int(v)
                for vi in list(graph.value_info):
                    if vi.name == out_name:
                        graph.value_info.remove(vi)
                model.set_tensor_datatype(out_name, dt)
                ops["input"] = entry
        # ---- output side: the transpose back to NCHW of a 4-D output (the host's layout change), then a chain
        # of Mul/Add with constant operands ending at the graph output
        out = graph.output[0]
        _strip_output_transpose(model, out)
        scale, bias = np.float64(1.0), np.float64(0.0)
        stripped = []
        name = out.name
        while True:
            node = model.find_producer(name)
            if node is None or node.domain == HW_DOMAIN or node.op_type not in ("Mul", "Add", "Sub", "Div"):
                break
            c, k = _const(model, node)
            if c is None:
                break
            channels = model.get_tensor_shape(name)[-1]
            if c.size not in (1, channels) or (c.size > 1 and c.shape[-1] != channels):
                break
            c = c.reshape(-1) if c.size > 1 else c.reshape(())
            if node.op_type in ("Sub", "Div") and k != 0:
                break  # c - x or c / x: not an affine op of x we record
            if node.op_type == "Mul":
                outer = (c, 0.0)
            elif node.op_type == "Div":
                outer = (1.0 / c, 0.0)
            elif node.op_type == "Add":
                outer = (1.0, c)
            else:
                outer = (1.0, -c)
            stripped.append((node, outer))
            name = node.input[k]
        if stripped:
            # stripped[0] is outermost: y = ((x*s_n + b_n) ... )*s_0 + b_0
            for _, (s, b) in reversed(stripped):
                scale, bias = scale * s, bias * s + b
            prev = dict(ops.get("output") or {"scale": 1.0, "bias": 0.0})
            s0, b0 = np.asarray(prev["scale"], dtype=np.float64), np.asarray(prev["bias"], dtype=np.float64)
            scale, bias = scale * s0, bias * s0 + b0
            src = name
            dt = model.get_tensor_datatype(src)
            for node, _ in stripped:
                graph.node.remove(node)
            for vi in list(graph.value_info):
                if vi.name == src:
                    graph.value_info.remove(vi)
            # the last HW node now writes the graph output directly
            for node in graph.node:
                for i, t in enumerate(node.output):
                    if t == src:
                        node.output[i] = out.name
            model.set_tensor_datatype(out.name, dt if dt is not None else DataType["FLOAT32"])
            channels = int(model.get_tensor_shape(out.name)[-1])
            ops["output"] = {"scale": _jsonable(scale), "bias": _jsonable(bias), "channels": channels}
        _strip_output_transpose(model, out)
        if ops:
            model.set_metadata_prop(META_KEY, json.dumps(ops))
        return model, False


def _jsonable(v):
    v = np.asarray(v, dtype=np.float64)
    return float(v) if v.ndim == 0 else [float(x) for x in v.reshape(-1)]


def to_stream(ops: dict, x: np.ndarray, batched: bool = True) -> np.ndarray:
    """The model's input (frames of ``from_shape``) -> the accelerator's input layout."""
    entry = ops.get("input")
    if not entry:
        return x
    if entry["op"] == "transpose":
        return np.ascontiguousarray(x.transpose(entry["perm"]))
    return x.reshape(x.shape[0], -1) if batched else x.reshape(-1)


def from_stream(ops: dict, y: np.ndarray) -> np.ndarray:
    """The accelerator's integer output -> the model's output (host scale and bias applied, float32)."""
    entry = ops.get("output")
    if ops.get("flatten_output"):  # a 1x1 feature map the model flattens (flow.layout: after a global pool)
        y = np.asarray(y).reshape(len(y), -1)
    if not entry:
        return y
    scale = np.asarray(entry["scale"], dtype=np.float64)
    bias = np.asarray(entry["bias"], dtype=np.float64)
    return (np.asarray(y, dtype=np.float64) * scale + bias).astype(np.float32)
