"""ElementwiseAdd of two streams (finn-plus has no AddStreams op any more) -> ``hls/addstreams.sv``: two
streamed inputs of equal shape, PE elements per beat. Folding: PE divides the channel count (last dim).
Cycles: one beat per output fold (FINN's formula)."""
from __future__ import annotations

from ..errors import UnsupportedError
from .base import LayerKind, base_op, check_divides, int_dtype, node_name, zero


def addstreams_params(op) -> tuple[str, dict]:
    if base_op(op.onnx_node) != "ElementwiseAdd":
        raise UnsupportedError(f"node {node_name(op)}: {op.onnx_node.op_type} is not an elementwise add")
    if op.get_nodeattr("lhs_style") != "input" or op.get_nodeattr("rhs_style") != "input":
        raise UnsupportedError(f"node {node_name(op)}: an add with a constant operand is not a two-stream add")
    lhs, rhs, out = list(op.get_nodeattr("lhs_shape")), list(op.get_nodeattr("rhs_shape")), \
        list(op.get_nodeattr("out_shape"))
    if not lhs == rhs == out:
        raise UnsupportedError(f"node {node_name(op)}: broadcasting add ({lhs} + {rhs}) is not supported")
    pe = op.get_nodeattr("PE")
    check_divides(op, lhs[-1], pe, "PE")
    a = int_dtype(op, op.get_input_datatype(0), "lhs", allow_bipolar=False)
    b = int_dtype(op, op.get_input_datatype(1), "rhs", allow_bipolar=False)
    o = int_dtype(op, op.get_output_datatype(), "output", allow_bipolar=False)
    lo, hi = a.min() + b.min(), a.max() + b.max()
    if lo < o.min() or hi > o.max():
        raise UnsupportedError(f"node {node_name(op)}: output datatype {o.name} cannot hold {a.name} + {b.name} "
                               f"([{lo}, {hi}]); run MinimizeAccumulatorWidth or widen out_dtype")
    return "addstreams", dict(PE=pe, A_BITS=a.bitwidth(), A_SIGNED=int(a.signed()), B_BITS=b.bitwidth(),
                              B_SIGNED=int(b.signed()), OUT_BITS=o.bitwidth())


class ElementwiseAdd(LayerKind):
    op_types = ("ElementwiseAdd",)
    modules = ("addstreams",)
    limit_names = {"PE": "channels"}

    def fold_limits(self, model, node, inst):
        return {"PE": int(model.get_tensor_shape(node.input[0])[-1])}

    def pixel_fold(self, model, node, inst):
        inst.set_nodeattr("PE", int(model.get_tensor_shape(node.input[0])[-1]))

    def rtl_params(self, model, node, inst):
        return addstreams_params(inst)

    def cycles(self, model, node, inst):
        addstreams_params(inst)  # (unsupported attributes are an error here too)
        return int(inst.get_exp_cycles())

    def formula(self, model, node, inst, family, part):
        _, p = addstreams_params(inst)
        cost = zero()
        cost["LUT"] = p["PE"] * p["OUT_BITS"] + 4
        cost["FF"] = p["PE"] * p["OUT_BITS"] + 1
        return cost, "own"

    def terms(self, module, p, content):
        return {"one": 1, "adder": p["PE"] * p["OUT_BITS"], "regs": p["PE"] * p["OUT_BITS"]}, []


KIND = ElementwiseAdd()
