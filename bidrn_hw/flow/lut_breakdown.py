"""Where a folded HW graph's estimated LUTs go: by layer kind and by component (compute, weight memories,
threshold tables, buffers, FIFOs, width converters, control), for the reports of ``benchmarks/compile_time.py``.

The split follows the calibrated model itself (:func:`~bidrn_hw.flow.estimates.calibrated_cost`): a layer's
LUTs are a weighted sum of its structural terms, so each term's share (coefficient x term) is assigned to the
component the term describes (:data:`COMPONENT_OF_TERM`); what a kind adds outside the fit (the dot products'
adder trees of RES_TYPE "lut", the fused residual join, the weight loader, packed-product corrections) is
the layer's LUTs less its fitted terms, reported as ``outside_fit``. Every FIFO counts as ``fifo`` and every
width converter as ``dwc`` whatever its terms. Layers estimated by the formulas (no coefficients) count whole
as ``formula``. The parts sum to the estimate's LUTs (up to rounding per layer: each layer is rounded up).
"""
from __future__ import annotations

from qonnx.core.modelwrapper import ModelWrapper

from ..layers import BY_MODULE, base_op, rtl_params
from ..layers.memory import CALIBRATED_FAMILIES, calibration
from .estimates import layer_resources, rtl_content, rtl_terms

# term -> component; a term not named here is "control" (one, counters, regs, ...).
COMPONENT_OF_TERM = {
    "xnor": "compute", "mul": "compute", "acc": "compute", "lutmul": "compute", "adder": "compute",
    "w_rom": "weight_memory", "w_mux": "weight_memory",
    "thr_rom": "threshold_table", "thr_addr": "threshold_table", "lin_rom": "threshold_table",
    "cmp": "threshold_compute", "lin_add": "threshold_compute", "lin_mul": "threshold_compute",
    "ibuf": "buffer", "buf": "buffer", "lutmux": "buffer", "lut64": "buffer", "bram_w": "buffer",
}
WHOLE_LAYER = {"StreamingFIFO": "fifo", "StreamingDataWidthConverter": "dwc"}


def layer_lut_parts(model: ModelWrapper, node, device: dict) -> dict[str, float]:
    """{component: LUTs} of one layer (see the module doc); sums to its estimated LUTs."""
    total = layer_resources(model, node, device)[0]["LUT"]
    op = base_op(node)
    if op in WHOLE_LAYER:
        return {WHOLE_LAYER[op]: total}
    rtl = rtl_params(model, node)
    kind = BY_MODULE.get(rtl[0]) if rtl else None
    models = calibration().get("models", {})
    fitted = ((kind.calibration_module if kind is not None else None) or (rtl[0] if rtl else None))
    if not rtl or device.get("family") not in CALIBRATED_FAMILIES or fitted not in models:
        return {"formula": total}
    terms, _ = rtl_terms(*rtl, rtl_content(model, node, *rtl))
    parts: dict[str, float] = {}
    for term, coef in models[fitted].get("LUT", {}).items():
        share = coef * terms.get(term, 0)
        if share:
            comp = COMPONENT_OF_TERM.get(term, "control")
            parts[comp] = parts.get(comp, 0.0) + share
    fitted_sum = max(0.0, sum(parts.values()))
    if total - fitted_sum > 0.5:
        parts["outside_fit"] = total - fitted_sum
    return parts


def lut_breakdown(model: ModelWrapper, device: dict) -> dict:
    """{"by_kind": {op type: {component: LUTs, "total": LUTs, "layers": n}}, "by_component": {component:
    LUTs}, "total": LUTs} of a folded graph (rounded to whole LUTs)."""
    by_kind: dict[str, dict] = {}
    by_comp: dict[str, float] = {}
    for node in model.graph.node:
        parts = layer_lut_parts(model, node, device)
        row = by_kind.setdefault(base_op(node), {"layers": 0})
        row["layers"] += 1
        for comp, luts in parts.items():
            row[comp] = row.get(comp, 0.0) + luts
            by_comp[comp] = by_comp.get(comp, 0.0) + luts
    rounded = {c: round(v) for c, v in sorted(by_comp.items(), key=lambda kv: -kv[1])}
    return {"by_kind": {k: {c: round(v) for c, v in row.items()} | {"total": round(sum(v for c, v in row.items()
                                                                                         if c != "layers"))}
                        for k, row in sorted(by_kind.items())},
            "by_component": rounded, "total": sum(rounded.values())}


def merge_breakdowns(docs: list[dict]) -> dict:
    """The sum of several :func:`lut_breakdown` documents (a config's partitions; weighted by nothing: each
    partition is one pipeline on the device)."""
    by_kind: dict[str, dict] = {}
    by_comp: dict[str, int] = {}
    for doc in docs:
        for kind, row in doc["by_kind"].items():
            acc = by_kind.setdefault(kind, {})
            for c, v in row.items():
                acc[c] = acc.get(c, 0) + v
        for c, v in doc["by_component"].items():
            by_comp[c] = by_comp.get(c, 0) + v
    return {"by_kind": dict(sorted(by_kind.items(), key=lambda kv: -kv[1]["total"])),
            "by_component": dict(sorted(by_comp.items(), key=lambda kv: -kv[1])),
            "total": sum(by_comp.values())}
