"""GlobalAccPool (GlobalAveragePool's sum; the 1/(H*W) is left to the host or a later requantization) ->
``hls/globalaccpool.sv``. Folding: PE divides NumChannels."""
from __future__ import annotations

from ..errors import UnsupportedError
from .base import NodeParamsKind, check_divides, int_dtype, node_name
from .memory import clog2, memory_cost


def globalaccpool_params(op) -> tuple[str, dict]:
    vecs = list(op.get_nodeattr("numInputVectors"))
    if len(vecs) != 3 or vecs[0] != 1:
        raise UnsupportedError(f"node {node_name(op)}: numInputVectors={vecs}; expected [1, H, W]")
    ch, pe = op.get_nodeattr("NumChannels"), op.get_nodeattr("PE")
    check_divides(op, ch, pe, "PE")
    idt = int_dtype(op, op.get_input_datatype(), "input", allow_bipolar=False)
    odt = op.get_output_datatype()
    return "globalaccpool", dict(CH=ch, PE=pe, PIXELS=vecs[1] * vecs[2], IN_BITS=idt.bitwidth(),
                                 IN_SIGNED=int(idt.signed()), OUT_BITS=odt.bitwidth())


class GlobalAccPool(NodeParamsKind):
    op_types = ("GlobalAccPool",)
    modules = ("globalaccpool",)
    pixel_folds = False  # (pixel folding leaves its PE)
    params = staticmethod(globalaccpool_params)

    def cycles(self, model, node, inst):
        """H*W*CH/PE: globalaccpool.sv emits each channel fold's sum while it adds the last pixel, so it has no
        separate output phase; FINN's formula adds CH/PE cycles for one (its HLS kernel reads, then writes)."""
        globalaccpool_params(inst)  # (unsupported attributes are an error here too)
        ch, pe = inst.get_nodeattr("NumChannels"), inst.get_nodeattr("PE")
        vecs = list(inst.get_nodeattr("numInputVectors"))
        return int(vecs[1] * vecs[2] * (ch // pe))

    def formula(self, model, node, inst, family, part):
        _, p = globalaccpool_params(inst)
        nf = p["CH"] // p["PE"]
        cost = memory_cost(p["PE"] * p["OUT_BITS"], nf, "auto", family)
        cost["LUT"] += p["PE"] * p["OUT_BITS"] + clog2(p["PIXELS"]) + 6
        cost["FF"] += p["PE"] * p["OUT_BITS"] + clog2(p["PIXELS"]) + clog2(nf) + 1
        return cost, "own"


KIND = GlobalAccPool()
