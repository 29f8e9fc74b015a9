"""ElementwiseAdd of two streams (finn-plus has no AddStreams op any more) -> ``hls/addstreams.sv``: two
streamed inputs of equal shape, PE elements per beat. Folding: PE divides the channel count (last dim).
Cycles: one beat per output fold (FINN's formula).

Scaled joins: the node may carry integer weights ``lhs_mul``/``rhs_mul`` (default 1), ``out = lhs*lhs_mul +
rhs*rhs_mul``: an add of two streams quantized at different scales, made integer by
``flow.scaled_join.ScaleJoinOperands``. FINN's ElementwiseAdd class is replaced in FINN's registry by
:class:`ScaledElementwiseAdd` (on import), which is FINN's class with those two attributes; with both 1 it is
FINN's add, so every other ElementwiseAdd is unchanged."""
from __future__ import annotations

import numpy as np
from onnx import helper

from ..errors import UnsupportedError
from .base import LayerKind, base_op, check_divides, int_dtype, node_name, zero

MUL_ATTRS = ("lhs_mul", "rhs_mul")


def _op_class():
    # lazy: FINN: layers do not import it (docs/architecture.md); only to register the weighted add
    from finn.custom_op.fpgadataflow.elementwise_binary import ElementwiseAdd as FinnAdd

    class ScaledElementwiseAdd(FinnAdd):
        """FINN's ElementwiseAdd with integer operand weights: ``lhs*lhs_mul + rhs*rhs_mul``."""

        def get_nodeattr_types(self):
            attrs = super().get_nodeattr_types()
            attrs.update(lhs_mul=("i", False, 1), rhs_mul=("i", False, 1))
            return attrs

        @property
        def npy_op(self):
            m1, m2 = self.get_nodeattr("lhs_mul"), self.get_nodeattr("rhs_mul")
            if m1 == 1 and m2 == 1:
                return np.add
            return lambda a, b: np.multiply(a, m1) + np.multiply(b, m2)

    return ScaledElementwiseAdd


def register() -> None:
    """Make FINN's ``ElementwiseAdd`` op type execute with the operand weights (done on import)."""
    # lazy: FINN: layers do not import it (docs/architecture.md)
    import finn.custom_op.fpgadataflow as hw

    if getattr(hw.custom_op.get("ElementwiseAdd"), "__name__", "") == "ScaledElementwiseAdd":
        return
    hw.custom_op["ElementwiseAdd"] = _op_class()


register()


def operand_muls(node) -> tuple[int, int]:
    """(lhs_mul, rhs_mul) of an ElementwiseAdd node, read from the node itself (also after SpecializeLayers
    has made it FINN's ElementwiseAdd_hls, which does not know the attributes)."""
    attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute if a.name in MUL_ATTRS}
    return int(attrs.get("lhs_mul", 1)), int(attrs.get("rhs_mul", 1))


def sum_range(a, b, m1: int = 1, m2: int = 1) -> tuple[int, int]:
    """[lo, hi] of a*m1 + b*m2 over the integer types a and b (m1, m2 >= 1)."""
    return int(a.min()) * m1 + int(b.min()) * m2, int(a.max()) * m1 + int(b.max()) * m2


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
    m1, m2 = operand_muls(op.onnx_node)
    if m1 < 1 or m2 < 1:
        raise UnsupportedError(f"node {node_name(op)}: operand weights {m1}, {m2} must be positive")
    lo, hi = sum_range(a, b, m1, m2)
    if lo < o.min() or hi > o.max():
        raise UnsupportedError(f"node {node_name(op)}: output datatype {o.name} cannot hold {a.name}*{m1} + "
                               f"{b.name}*{m2} ([{lo}, {hi}]); run MinimizeAccumulatorWidth or widen out_dtype")
    params = dict(PE=pe, A_BITS=a.bitwidth(), A_SIGNED=int(a.signed()), B_BITS=b.bitwidth(),
                  B_SIGNED=int(b.signed()), OUT_BITS=o.bitwidth())
    if (m1, m2) != (1, 1):  # a plain add keeps the module's defaults (and its accel.json parameters)
        params.update(A_MUL=m1, B_MUL=m2)
    return "addstreams", params


def _mul_adder_bits(bits: int, mul: int) -> int:
    """Adder bits of a constant multiplication (shift-and-add: one adder of the product's width per set bit
    after the first)."""
    return (bin(mul).count("1") - 1) * (bits + mul.bit_length())


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
        cost["LUT"] = self._adder_bits(p) + 4
        cost["FF"] = p["PE"] * p["OUT_BITS"] + 1
        return cost, "own"

    @staticmethod
    def _adder_bits(p: dict) -> int:
        """The sum's adder plus, for a scaled join, the constant multiplications' adders."""
        muls = _mul_adder_bits(p["A_BITS"], p.get("A_MUL", 1)) + _mul_adder_bits(p["B_BITS"], p.get("B_MUL", 1))
        return p["PE"] * (p["OUT_BITS"] + muls)

    def terms(self, module, p, content):
        return {"one": 1, "adder": self._adder_bits(p), "regs": p["PE"] * p["OUT_BITS"]}, []


KIND = ElementwiseAdd()
