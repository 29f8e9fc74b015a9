"""UpsampleNearestNeighbour (Upsample/Resize nearest, integer scales) -> ``hls/upsampler.sv``. Folding: SIMD
divides NumChannels. Cycles: output beats (FINN's formula)."""
from __future__ import annotations

from ..errors import UnsupportedError
from .base import NodeParamsKind, check_divides, int_dtype, node_name
from .memory import clog2, memory_cost


def upsampler_params(op) -> tuple[str, dict]:
    hi, wi, ho, wo = (op.get_nodeattr(a) for a in ("HI", "WI", "HO", "WO"))
    if ho % hi or wo % wi:
        raise UnsupportedError(f"node {node_name(op)}: non-integer upsampling {hi}x{wi} -> {ho}x{wo} is not "
                               "supported (FINN's python execution rounds the scale and fails too)")
    if op.get_nodeattr("batchSize") != 1:
        raise UnsupportedError(f"node {node_name(op)}: batchSize != 1 is not supported")
    ch, simd = op.get_nodeattr("NumChannels"), op.get_nodeattr("SIMD")
    check_divides(op, ch, simd, "SIMD")
    dt = int_dtype(op, op.get_input_datatype(), "input")
    return "upsampler", dict(IFM_H=hi, IFM_W=wi, SCALE_H=ho // hi, SCALE_W=wo // wi, CH=ch, SIMD=simd,
                             ELEM_BITS=dt.bitwidth())


class UpsampleNearestNeighbour(NodeParamsKind):
    op_types = ("UpsampleNearestNeighbour",)
    modules = ("upsampler",)
    fold_attr = "SIMD"
    pixel_folds = False  # (pixel folding leaves its SIMD)
    params = staticmethod(upsampler_params)

    def formula(self, model, node, inst, family, part):
        _, p = upsampler_params(inst)
        width = p["SIMD"] * p["ELEM_BITS"]
        cost = memory_cost(width, p["IFM_W"] * p["CH"] // p["SIMD"], "auto", family)
        cost["LUT"] += 4 * clog2(p["IFM_W"] * p["CH"]) + 10
        cost["FF"] += width + 4 * clog2(p["IFM_W"] * p["CH"])
        return cost, "own"


KIND = UpsampleNearestNeighbour()
