"""StreamingFIFO -> ``hls/fifo.sv`` (a circular buffer; FINN's fifo.sv cost model applies). The flow inserts
them (``flow.fifos``, ``flow.rate_fifos``) and sizes their depth; folding files may set depth and
ram_style. Cycles: 0 (it never holds the pipeline)."""
from __future__ import annotations

import math

from .base import LayerKind, ram_style, zero
from .memory import bram18, clog2, lutram_luts, styled


def fifo_params(node, inst) -> dict:
    return dict(WIDTH=inst.get_instream_width_padded(0), DEPTH=int(inst.get_nodeattr("depth")),
                RAM_STYLE=ram_style(node))


class StreamingFIFO(LayerKind):
    op_types = ("StreamingFIFO",)
    modules = ("fifo",)

    def cycles(self, model, node, inst):
        return 0

    def rtl_params(self, model, node, inst):
        return "fifo", fifo_params(node, inst)

    def formula(self, model, node, inst, family, part):
        cost = zero()
        cost["LUT"] = int(inst.lut_estimation(part))
        cost["BRAM_18K"] = int(inst.bram_estimation(part))
        cost["URAM"] = int(inst.uram_estimation(part))
        cost["FF"] = 3 * clog2(inst.get_nodeattr("depth")) + 2
        if cost["URAM"] and family in ("zynq7000", "ecp5"):  # FINN picks URAM for deep FIFOs on any part
            cost["URAM"] = 0
            cost["BRAM_18K"] += bram18(inst.get_instream_width_padded(), inst.get_nodeattr("depth"))
        return cost, "finn (StreamingFIFO; URAM -> BRAM where the device has none) + own FF"

    def memory_shape(self, module, p):
        return (p["WIDTH"], p["DEPTH"], False) if p["DEPTH"] > 2 else None

    def terms(self, module, p, content):
        t: dict = {"one": 1}
        width, depth = p["WIDTH"], p["DEPTH"]
        where = styled(self.memory_shape(module, p), p.get("RAM_STYLE", "auto"))
        in_bram, in_lutram = where == "block", where == "lut"
        brams = [(width, depth)] if in_bram else []
        t["buf"] = lutram_luts(width, depth) if in_lutram else 0
        t["lut64"] = int(in_lutram and depth > 32)  # RAM64M slices (their address decode) instead of RAM32M
        t["lutmux"] = width * (math.ceil(depth / 64) - 1) if in_lutram else 0  # read mux across 64-word slices
        t["bram_w"] = width if in_bram else 0  # the block RAM's output path to the registered output
        t["counters"] = clog2(depth + 1)
        t["regs"] = width * depth if depth <= 2 else 0
        return t, brams


KIND = StreamingFIFO()
