"""Pool (MaxPool, AccPool, QuantAvgPool over a window) -> ``hls/pool.sv``. finn-plus has no StreamingMaxPool:
a max pool is a depthwise sliding window generator followed by Pool, tied to it (its PE = the generator's
SIMD). Folding: PE divides Channels. Cycles: input beats, K*K*CH/PE per output pixel (FINN's formula)."""
from __future__ import annotations

from ..errors import UnsupportedError
from .base import NodeParamsKind, check_divides, int_dtype, node_name, signed_bits, zero
from .memory import clog2

POOL_FUNCTIONS = {"MaxPool": 0, "AccPool": 1, "QuantAvgPool": 2}


def pool_params(op) -> tuple[str, dict]:
    fxn = op.get_nodeattr("Function")
    if fxn not in POOL_FUNCTIONS:
        raise UnsupportedError(f"node {node_name(op)}: Pool Function={fxn} is not supported (AvgPool's "
                               "python semantics is a float mean; use QuantAvgPool)")
    ch, pe = op.get_nodeattr("Channels"), op.get_nodeattr("PE")
    check_divides(op, ch, pe, "PE")
    k_h, k_w = op.get_nodeattr("KernelSize")
    idt = int_dtype(op, op.get_input_datatype(), "input", allow_bipolar=False)
    odt = int_dtype(op, op.get_output_datatype(), "output", allow_bipolar=False)
    k2 = k_h * k_w
    acc_bits = signed_bits(min(k2 * idt.min(), idt.min()), max(k2 * idt.max(), idt.max()))
    shift = 0
    if fxn == "QuantAvgPool":
        # FINN's python semantics (pool.py): shift by bits(k2 * (2**ibits - 1)) - obits, floor (arithmetic).
        max_bit_width = int((2 ** idt.bitwidth() - 1) * k2).bit_length()
        shift = max(0, max_bit_width - odt.bitwidth())
    acc_bits = max(acc_bits, odt.bitwidth() + shift)
    return "pool", dict(PE=pe, K2=k2, FUNC=POOL_FUNCTIONS[fxn], IN_BITS=idt.bitwidth(),
                        IN_SIGNED=int(idt.signed()), ACC_BITS=acc_bits, OUT_BITS=odt.bitwidth(), SHIFT=shift)


class Pool(NodeParamsKind):
    op_types = ("Pool",)
    window_fold_attr = "PE"
    modules = ("pool",)
    limit_names = {"PE": "Channels"}
    fold_of = "Channels"
    params = staticmethod(pool_params)

    def formula(self, model, node, inst, family, part):
        _, p = pool_params(inst)
        cost = zero()
        cost["LUT"] = p["PE"] * 2 * p["ACC_BITS"] + clog2(p["K2"]) + 6
        cost["FF"] = p["PE"] * (p["ACC_BITS"] + p["OUT_BITS"]) + clog2(p["K2"]) + 1
        return cost, "own"

    def terms(self, module, p, content):
        return {"one": 1, "adder": p["PE"] * p["ACC_BITS"], "counters": clog2(p["K2"]),
                "regs": p["PE"] * (p["ACC_BITS"] + p["OUT_BITS"])}, []


KIND = Pool()
