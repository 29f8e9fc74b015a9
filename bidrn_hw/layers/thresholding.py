"""Thresholding -> ``hls/thresholding.sv``: PE channels per beat, each value's count of passed thresholds,
searched in a stored table (``threshold_search.sv``) or computed from lines (``threshold_lines.sv``).

Folding: PE divides NumChannels. Cycles: FINN's ``get_exp_cycles``.
"""
from __future__ import annotations

from qonnx.core.datatype import DataType

from ..errors import UnsupportedError
from . import thresholds as thr
from .base import LayerKind, LayerRTL
from .memory import clog2
from .threshold_lines import line_files, line_params


def thresholding_params(model, node, inst) -> dict:
    """The parameters :meth:`Thresholding.rtl` gives thresholding.sv (no memory files)."""
    idt, odt = inst.get_input_datatype(0), inst.get_output_datatype(0)
    return dict(CH=inst.get_nodeattr("NumChannels"), PE=inst.get_nodeattr("PE"),
                IN_BITS=1 if idt == DataType["BIPOLAR"] else idt.bitwidth(),
                OUT_BITS=1 if odt == DataType["BIPOLAR"] else odt.bitwidth(),
                **thr.estimate_params(model, node, inst))


class Thresholding(LayerKind):
    op_types = ("Thresholding",)
    modules = ("thresholding",)

    def fold_limits(self, model, node, inst):
        return {"PE": inst.get_nodeattr("NumChannels")}

    def pixel_fold(self, model, node, inst):
        inst.set_nodeattr("PE", inst.get_nodeattr("NumChannels"))

    def rtl_params(self, model, node, inst):
        return "thresholding", thresholding_params(model, node, inst)

    def rtl(self, model, node, inst):
        ch, pe = inst.get_nodeattr("NumChannels"), inst.get_nodeattr("PE")
        if ch % pe:
            raise UnsupportedError(f"node {node.name}: PE {pe} must divide NumChannels {ch}")
        idt, odt = inst.get_input_datatype(0), inst.get_output_datatype(0)
        in_bits, in_signed = thr.dtype_bits(idt)
        if idt == DataType["BIPOLAR"]:
            raise UnsupportedError(f"node {node.name}: thresholding a BIPOLAR stream is not supported")
        params = dict(CH=ch, PE=pe, IN_BITS=in_bits, IN_SIGNED=in_signed, OUT_BITS=thr.dtype_bits(odt)[0])
        lines = thr.node_threshold_lines(model, node, inst)
        if lines is not None:
            params.update(THR_BITS=in_bits + 1, **line_params(lines, thr.act_val(inst, odt)))
            return LayerRTL("thresholding", params, line_files(lines, pe), ["thresholding", "threshold_lines"])
        table = thr.node_threshold_table(model, node, inst)
        params.update(thr.search_params(table, thr.act_val(inst, odt)))
        return LayerRTL("thresholding", params, thr.threshold_files(table, pe), ["thresholding", "threshold_search"])

    def formula(self, model, node, inst, family, part):
        p = thresholding_params(model, node, inst)
        nf = p["CH"] // p["PE"]
        cost = thr.formula(p, nf, p["IN_BITS"] + 1, family)
        cost["LUT"] += 8
        cost["FF"] += p["PE"] * p["OUT_BITS"] + clog2(nf) + 1
        return cost, "own (binary search)"

    def content(self, model, node, module, p):
        return thr.content(model, node, p)

    def terms(self, module, p, content):
        nf = p["CH"] // p["PE"]
        t: dict = {"one": 1}
        search, brams = thr.terms(p, nf, p["IN_BITS"] + 1, content)
        t.update(search)
        t["regs"] = p["PE"] * p["IN_BITS"] + clog2(nf)
        return t, brams

    def calibrated_extra(self, module, p, cost):
        return thr.lines_dsp_cost(p, p["IN_BITS"] + 1, cost)

    def report_extra(self, module, p):
        return thr.report_extra(p)


KIND = Thresholding()
