"""StreamingDataWidthConverter -> ``hls/dwc.sv`` (the flow inserts it where folding changes the number of
elements per beat between two layers: ``flow.folding.InsertDataWidthConverters``). Up- and down-conversion by
an integer have implementations of their own; other ratios use a shift buffer. Cycles: one input and one
output beat per cycle, so max(input, output beats)."""
from __future__ import annotations

import math

from ..errors import UnsupportedError
from .base import LayerKind, zero
from .memory import clog2


def dwc_params(op) -> dict:
    name = op.onnx_node.name or op.onnx_node.op_type
    dt = op.get_input_datatype()
    bits = dt.bitwidth()
    in_w, out_w = op.get_nodeattr("inWidth"), op.get_nodeattr("outWidth")
    if in_w % bits or out_w % bits or in_w <= 0 or out_w <= 0:
        raise UnsupportedError(f"node {name}: widths {in_w} -> {out_w} bits are not whole {bits}-bit elements")
    a, b = in_w // bits, out_w // bits
    total = math.prod(int(s) for s in op.get_nodeattr("inShape"))
    if math.prod(int(s) for s in op.get_nodeattr("outShape")) != total:
        raise UnsupportedError(f"node {name}: inShape and outShape hold different numbers of elements")
    lcm = a * b // math.gcd(a, b)
    if total % lcm:
        raise UnsupportedError(f"node {name}: a frame of {total} elements is not a whole number of "
                               f"lcm({a}, {b}) = {lcm} elements; the converter would carry elements across frames")
    return dict(IN_ELEMS=a, OUT_ELEMS=b, ELEM_BITS=bits)


def dwc_cycles(inst) -> int:
    """hls/dwc.sv takes one input beat and emits one output beat per cycle: max(input, output beats)."""
    shape = inst.get_nodeattr("inShape")
    total = math.prod(int(s) for s in shape)
    bits = inst.get_input_datatype().bitwidth()
    a, b = inst.get_nodeattr("inWidth") // bits, inst.get_nodeattr("outWidth") // bits
    return max(total // a, total // b)


def dwc_kind(in_elems: int, out_elems: int) -> str:
    """Which of hls/dwc.sv's implementations a converter gets: "down" or "up" by an integer, or "any"."""
    if in_elems > out_elems and in_elems % out_elems == 0:
        return "down"
    if out_elems > in_elems and out_elems % in_elems == 0:
        return "up"
    return "any"


def dwc_capacity(in_elems: int, out_elems: int) -> int:
    """Elements hls/dwc.sv buffers: enough to take an input beat whenever an output beat can leave (two
    words of the wider side for an integer ratio, a shift buffer of 2*in + out - 1 elements otherwise)."""
    kind = dwc_kind(in_elems, out_elems)
    return 2 * max(in_elems, out_elems) if kind != "any" else 2 * in_elems + out_elems - 1


def dwc_terms(in_elems: int, out_elems: int, bits: int) -> dict:
    """hls/dwc.sv's structure: ``shift`` (the down-converter's shifting word: each bit chooses among its
    shifted neighbour, the waiting word and the input), ``mux`` (the up-converter's slot enables, one per
    input beat of its word; the general shift buffer's selection, several LUTs per buffered bit, as its
    slots each take one of several input elements), ``counters`` (state bits) and ``regs`` (buffered
    bits)."""
    a, b = in_elems, out_elems
    cap = dwc_capacity(a, b)
    kind = dwc_kind(a, b)
    shift = 0
    if kind == "down":
        mux, shift, counters = 0, a * bits, clog2(a // b) + 2
    elif kind == "up":
        mux, counters = b // a, clog2(b // a) + 2
    else:
        sources = min(a, (cap - a) // math.gcd(a, b) + 1) + 1  # input elements that can land in a slot, + shift
        mux, counters = cap * bits * math.ceil(sources / 4), clog2(cap + 1)
    return {"mux": mux, "shift": shift, "counters": counters, "regs": cap * bits}


class StreamingDataWidthConverter(LayerKind):
    op_types = ("StreamingDataWidthConverter",)
    modules = ("dwc",)

    def cycles(self, model, node, inst):
        return dwc_cycles(inst)

    def rtl_params(self, model, node, inst):
        return "dwc", dwc_params(inst)

    def formula(self, model, node, inst, family, part):
        bits = inst.get_input_datatype().bitwidth()
        a, b = inst.get_nodeattr("inWidth") // bits, inst.get_nodeattr("outWidth") // bits
        t = dwc_terms(a, b, bits)
        cost = zero()
        cost["FF"] = t["regs"] + t["counters"]
        cost["LUT"] = t["mux"] + 2 * t["shift"] + 2 * t["counters"]  # (two LUTs per bit of the shifting word)
        return cost, f"own ({dwc_kind(a, b)} converter, {dwc_capacity(a, b)} elements buffered)"

    def terms(self, module, p, content):
        return {"one": 1, **dwc_terms(p["IN_ELEMS"], p["OUT_ELEMS"], p["ELEM_BITS"])}, []


KIND = StreamingDataWidthConverter()
