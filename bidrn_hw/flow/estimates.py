"""Estimates of a folded HW graph: per-layer cycles and resources, network FPS, latency, FIFO depths;
written as ``estimates.json``, ``report.md`` and ``estimates.png``.

Cycles per layer are those of *our* RTL (each layer kind's ``cycles``, ``bidrn_hw/layers/<kind>.py``: FINN's
``get_exp_cycles`` for MVAU/Thresholding, max(input, output beats) for the data-width converter, our own model
for the window generator). FPS = fclk / the slowest layer's cycles (the pipeline's initiation interval).
Latency = the longest path through the graph by the sum of layer cycles (FINN's ``critical_path_cycles``
definition in ``dataflow_performance``): an upper bound, since layers overlap within a frame.

Resources (LUT, FF, BRAM_18K, URAM, DSP) per layer; ``formula`` in each layer row says whose.

**Xilinx parts (the report's numbers): the calibrated model** (:func:`calibrated_cost`). Each RTL module
instance, from the parameters it is instantiated with (``accel.json``), is reduced to a few structural terms
(:func:`rtl_terms`, each kind's ``terms``: XNOR lanes, multiplier bits, accumulator bits, LUT6 of a lookup ROM (one per bit per 64
words), comparator bits of the threshold search, ...), and LUT and FF are weighted sums of them with
coefficients fitted to Yosys ``synth_xilinx`` measurements of layers of several designs
(``benchmarks/calibrate.py``; data in ``benchmarks/results/calibration_data.json``; coefficients in
``calibration.json`` beside this file; held-out error table in ``docs/calibration.md``). The threshold
ROMs' LUT6 and block RAM are counted from their contents (``layers.thresholds.threshold_rom_usage``: an affine
requantization's table compresses far below its size, and bits constant in every word take no storage).
Block RAM follows what Yosys does with our RTL (``layers.memory.yosys_block_ram``): mvau.sv's weight ROM and input
buffer, the window buffer (swg.sv), the FIFO buffer and the threshold-stage ROMs are read synchronously and
go to block RAM where Yosys' library costs make that cheaper. The weight
ROM, the window buffer and the FIFO buffer carry FINN's ``ram_style`` as their ``RAM_STYLE`` synthesis
attribute; on Xilinx parts the flow makes "auto" explicit by the same rule (``flow.memory_styles``), so
the build follows the estimate.
**ECP5 parts: the same model fitted to Yosys ``synth_ecp5``** (``calibrate.py --family ecp5``; the "ecp5"
section of ``calibration.json``): the terms are counted for the LUT4 fabric (``layers.memory.fabric``: ROMs
and LUT-RAM in 16-word LUT4 slices, block RAM (EBR) where synth_ecp5's memory_libmap puts it).
Modules without coefficients use the formulas below.

**The formulas** (:func:`formula_resources`, each kind's ``formula``; the estimate before calibration, and what
FINN uses where noted):

* **MVAU** compute: FINN's ``MVAU_hls.lut_estimation`` (the FINN-R model: c0 + c1 * PE * (multipliers +
  adder tree + accumulator)) and ``dsp_estimation``, called on a copy of the node; our parts replace
  FINN's memory and threshold terms: ``mvau.sv`` keeps weights in an inferred ROM (``ram_style`` auto: a
  memory shallower than 128 words or smaller than 4 kbit goes to LUTs, else block RAM; ``ultra`` -> URAM
  with FINN's URAM formula), buffers the input vector (SF words) and binary-searches sorted thresholds
  (log2(N+1) comparators per PE plus threshold muxes) instead of FINN's N comparators. resType is ``dsp``
  when both weights and inputs are 4 bits or wider (integer stem), else ``lut`` (XNOR, 0/1 shortcuts);
  a node's own ``resType`` "lut" (a folding file, or auto folding where DSPs run short) is ``lut`` always.
  The calibrated model follows the RTL: mvau.sv's RES_TYPE "lut" sums the dot product by weight bits in
  adder trees (no DSP blocks; ``layers.mvau.lut_dot_bits``), "dsp" multiplies (one DSP48 per product).
* **StreamingFIFO**: FINN's ``StreamingFIFO`` estimators (FINN's fifo.sv cost model; ours is the same
  circular buffer).
* **Thresholding, ConvolutionInputGenerator, FMPadding, ElementwiseAdd, DuplicateStreams, Pool,
  GlobalAccPool, UpsampleNearestNeighbour, StreamingDataWidthConverter**: our own formulas from the RTL's
  registers and memories (FINN's are for its HLS/RTL variants: e.g. 0 LUT for FMPadding and DuplicateStreams,
  N comparators per channel for Thresholding_rtl, a shift-register DWC).
* **FF**: FINN has no FF model; ours counts the RTL's registers (output registers, accumulators, counters,
  register-mapped memories).

Memory mapping (``layers.memory.memory_cost``): block RAM as 18-kbit blocks in the best of the
16384x1 ... 512x36 aspects (the same for ECP5's EBR); distributed memory as one LUT6 per bit per 64 words
(LUT4 per bit per 16 words on ECP5); a one-word constant memory costs nothing (constants fold into logic).
Everything here is an estimate for planning; ``bidrn-hw synth`` measures with Yosys.
"""
from __future__ import annotations

import json
import math
from pathlib import Path

from qonnx.core.modelwrapper import ModelWrapper
from qonnx.custom_op.registry import getCustomOp

from ..errors import InputFileError
from ..layers import (BY_MODULE, RESOURCE_KEYS, base_op, kind_of, layer_cycles_of, memory_shape, rtl_params,
                      styled_memory)
from ..layers.base import add
from ..layers.memory import bram18, calibration, calibration_fabric, fabric
from .refill import pipeline_cycles

ESTIMATES_FORMAT = 1


# ------------------------------------------------------------------------------------------ per layer
def rtl_terms(module: str, p: dict, content: dict | None = None) -> tuple[dict, list]:
    """(structural terms, block RAMs as (width, depth)) of one RTL module instance, by its kind; the terms are
    what the calibrated LUT and FF models weight. ``content`` (:func:`rtl_content`) gives the threshold ROMs'
    LUT6 and block RAMs from their contents."""
    kind = BY_MODULE.get(module)
    return kind.terms(module, p, content) if kind is not None else ({}, [])


def rtl_content(model: ModelWrapper, node, module: str, p: dict) -> dict:
    """What the calibrated model reads from a layer's memory contents rather than its parameters (the
    threshold ROMs: ``layers.thresholds.content``)."""
    kind = BY_MODULE.get(module)
    return kind.content(model, node, module, p) if kind is not None else {}


def calibrated_cost(module: str, p: dict, family: str = "zynq7000", content: dict | None = None) -> dict | None:
    """Resources of one RTL module instance by the calibrated model of the device family's fabric (Xilinx:
    the synth_xilinx fit; ECP5: the synth_ecp5 fit, LUT4), or None where it has no coefficients (module not
    fitted, no calibration file). ``content``: :func:`rtl_content` counted for the same family."""
    fab = calibration_fabric(family)
    models = calibration(fab).get("models", {}) if fab else {}
    kind = BY_MODULE.get(module)
    fitted = (kind.calibration_module if kind is not None else None) or module
    if fitted not in models:
        return None
    with fabric(fab):
        terms, brams = rtl_terms(module, p, content)
    cost = dict.fromkeys(RESOURCE_KEYS, 0)
    for res in ("LUT", "FF"):
        coef = models[fitted].get(res, {})
        cost[res] = max(0.0, sum(c * terms.get(k, 0) for k, c in coef.items()))
    cost["BRAM_18K"] = sum(bram18(w, d) for w, d in brams)
    if styled_memory(module, p) == "ultra" and fab == "xc7":
        width, depth, _ = memory_shape(module, p)
        cost["URAM"] = math.ceil(width / 72) * math.ceil(depth / 4096)
    with fabric(fab):
        return kind.calibrated_extra(module, p, cost) if kind is not None else cost


def formula_resources(model: ModelWrapper, node, device: dict) -> tuple[dict, str]:
    """The uncalibrated per-op formulas (FINN's where they model our RTL, ours elsewhere): what the estimate
    was before the Yosys calibration, kept for comparison (benchmarks/calibrate.py's "before")."""
    kind = kind_of(node)
    family, part = device.get("family", "xilinx"), device["part"]
    if kind is None:
        cost, formula = dict.fromkeys(RESOURCE_KEYS, 0), "none (unknown op)"
    else:
        cost, formula = kind.formula(model, node, getCustomOp(node), family, part)
    return {k: int(math.ceil(v)) for k, v in cost.items()}, formula


def layer_resources(model: ModelWrapper, node, device: dict, calibrated: bool = True,
                    rtl: tuple[str, dict] | None = None) -> tuple[dict, str]:
    """A layer's resources: the calibrated model where it has coefficients for the module and the device's
    fabric (Xilinx LUT6 or ECP5 LUT4), else the formulas (:func:`formula_resources`). ``rtl``: the node's
    ``layers.rtl_params`` where the caller has them already."""
    if calibrated:
        rtl = rtl or rtl_params(model, node)
        family = device.get("family", "xilinx")
        fab = calibration_fabric(family)
        cost = None
        if rtl and fab:
            with fabric(fab):
                content = rtl_content(model, node, *rtl)
            cost = calibrated_cost(*rtl, family, content)
        if cost is not None:
            fit = calibration(fab).get("fit", {})
            return ({k: int(math.ceil(v)) for k, v in cost.items()},
                    f"calibrated ({rtl[0]}: Yosys {fit.get('family', fab)} fit, calibration.json)")
    return formula_resources(model, node, device)


def total_resources(model: ModelWrapper, device: dict) -> dict:
    total = dict.fromkeys(RESOURCE_KEYS, 0)
    for node in model.graph.node:
        total = add(total, layer_resources(model, node, device)[0])
    return total


# ------------------------------------------------------------------------------------------ network
def critical_path(model: ModelWrapper, cycles: dict[str, int]) -> tuple[int, list[str]]:
    """Longest path (sum of layer cycles) from the graph input to its output."""
    best: dict[str, tuple[int, list[str]]] = {}
    for node in model.graph.node:  # topologically sorted
        preds = [model.find_producer(t) for t in node.input if model.get_initializer(t) is None]
        prev = max((best[p.name] for p in preds if p is not None), key=lambda x: x[0], default=(0, []))
        best[node.name] = (prev[0] + cycles[node.name], prev[1] + [node.name])
    ends = [best[n.name] for n in model.graph.node if any(o in [x.name for x in model.graph.output] for o in n.output)]
    return max(ends or best.values(), key=lambda x: x[0])


def fifo_table(model: ModelWrapper) -> list[dict]:
    rows = []
    for node in model.graph.node:
        if base_op(node) != "StreamingFIFO":
            continue
        inst = getCustomOp(node)
        consumer = (model.find_consumers(node.output[0]) or [None])[0]
        producer = model.find_producer(node.input[0])
        kind = {"ElementwiseAdd": "branch", "ConvolutionInputGenerator": "generator input", "MVAU": "MVAU input",
                "MVAUResidual": "MVAU input"}.get(base_op(consumer) if consumer is not None else "", "other")
        if kind == "MVAU input" and list(consumer.input).index(node.output[0]) != 0:
            kind = "skip"  # a fused residual MVAU's skip input: a branch FIFO
        rows.append({"name": node.name, "kind": kind, "depth": int(inst.get_nodeattr("depth")),
                     "width_bits": int(inst.get_instream_width_padded()),
                     "from": producer.name if producer is not None else None,
                     "to": consumer.name if consumer is not None else None,
                     "input": list(consumer.input).index(node.output[0]) if consumer is not None else None})
    return rows


def estimate(model: ModelWrapper, device: dict, fclk_mhz: float, rtl_names: dict[str, str] | None = None,
             folding: dict | None = None) -> dict:
    """The estimates.json document for a folded HW graph (FIFOs and DWCs inserted)."""
    cycles = pipeline_cycles(model, {n.name: layer_cycles_of(model, n) for n in model.graph.node})
    layers, total = [], dict.fromkeys(RESOURCE_KEYS, 0)
    for node in model.graph.node:
        rtl = rtl_params(model, node)
        res, formula = layer_resources(model, node, device, rtl=rtl)
        total = add(total, res)
        inst = getCustomOp(node)
        fold = {}
        for attr in ("PE", "SIMD", "depth", "inWidth", "outWidth"):
            try:
                fold[attr] = inst.get_nodeattr(attr)
            except AttributeError:
                pass
        if base_op(node) == "ConvolutionInputGenerator" and inst.get_nodeattr("parallel_window"):
            fold["parallel_window"] = 1
        extra = BY_MODULE[rtl[0]].report_extra(*rtl) if rtl and rtl[0] in BY_MODULE else {}
        layers.append({"name": (rtl_names or {}).get(node.name, node.name), "node": node.name,
                       "op_type": base_op(node), "cycles": cycles[node.name], **fold, **res, "formula": formula,
                       **extra})
    slowest = max(cycles.values())
    busy = [c for c in cycles.values() if c > 0]
    latency, path = critical_path(model, cycles)
    budget = {k: device[k] for k in RESOURCE_KEYS}
    return {"format": ESTIMATES_FORMAT, "part": device["name"], "fpga_part": device["part"],
            "fclk_mhz": fclk_mhz, "cycles_per_frame": slowest,
            "fps": round(fclk_mhz * 1e6 / slowest, 3) if slowest else None,
            "latency_cycles": latency, "latency_ms": round(latency / (fclk_mhz * 1e3), 4),
            "critical_path": path, "bottleneck": max(cycles, key=cycles.get),
            "balance": round(slowest / (sum(busy) / len(busy)), 3) if busy else 1.0,
            "resources": total, "budget": budget,
            "utilization": {k: round(total[k] / budget[k], 4) if budget[k] else None for k in RESOURCE_KEYS},
            "fits": all(total[k] <= budget[k] for k in RESOURCE_KEYS),
            "fifos": fifo_table(model), "folding": folding or {"mode": "pixel"}, "layers": layers}


# ------------------------------------------------------------------------------------------ reports
def write_report(est: dict, out_dir: Path) -> None:
    out_dir = Path(out_dir)
    (out_dir / "estimates.json").write_text(json.dumps(est, indent=2))
    (out_dir / "report.md").write_text(report_markdown(est))
    plot(est, out_dir / "estimates.png")


def report_markdown(est: dict) -> str:
    r, b = est["resources"], est["budget"]
    fold = est.get("folding", {})
    lines = [f"# Estimates ({est['part']}, {est['fclk_mhz']} MHz)", "",
             f"- folding: {fold.get('mode', 'pixel')}" + (f", target {fold['target_fps']} FPS"
                                                           if fold.get("target_fps") else ""),
             f"- throughput: **{est['fps']} FPS** ({est['cycles_per_frame']} cycles/frame, bottleneck "
             f"{est['bottleneck']})",
             f"- latency (critical path, upper bound): {est['latency_cycles']} cycles = {est['latency_ms']} ms",
             f"- pipeline balance (slowest / mean layer cycles): {est['balance']}",
             "- resources: " + ", ".join(f"{k} {r[k]:,} / {b[k]:,}" for k in RESOURCE_KEYS)
             + ("" if est["fits"] else " (**over budget**)"), "",
             "| layer | op | PE | SIMD | cycles | LUT | FF | BRAM_18K | URAM | DSP | thresholds | formula |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for ly in est["layers"]:
        simd = f"{ly['SIMD']} (whole window)" if ly.get("parallel_window") else ly.get("SIMD", "")
        lines.append(f"| {ly['node']} | {ly['op_type']} | {ly.get('PE', '')} | {simd} | "
                     f"{ly['cycles']:,} | {ly['LUT']:,} | {ly['FF']:,} | {ly['BRAM_18K']} | {ly['URAM']} | "
                     f"{ly['DSP']} | {ly.get('thresholds', '')} | {ly['formula']} |")
    if est["fifos"]:
        lines += ["", "## FIFOs", "", "Branch FIFOs hold a residual bypass while the main branch fills its line buffers "
                  "(bidrn_hw/flow/fifos.py); generator-input and MVAU-input FIFOs let a producer keep its rate while "
                  "its consumer takes no input (a window generator's row of windows, an MVAU's folds 1..NF-1; "
                  "bidrn_hw/flow/rate_fifos.py).", "",
                  "| FIFO | kind | from | to (input) | depth | width |", "| --- | --- | --- | --- | --- | --- |"]
        for f in est["fifos"]:
            lines.append(f"| {f['name']} | {f['kind']} | {f['from']} | {f['to']} ({f['input']}) | {f['depth']} | "
                         f"{f['width_bits']} |")
    lines += ["", "Formulas: see bidrn_hw/flow/estimates.py (FINN's where they model our RTL, our own elsewhere).", ""]
    return "\n".join(lines)


def plot(est: dict, path: Path) -> None:
    # lazy: matplotlib, only for the plot
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # lazy: as matplotlib, after choosing the Agg backend

    layers = [ly for ly in est["layers"] if ly["op_type"] != "StreamingFIFO"]
    names = [ly["node"] for ly in layers]
    fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(max(8, 0.28 * len(names) + 2), 7), sharex=True)
    ax1.bar(range(len(names)), [ly["cycles"] for ly in layers], color="tab:blue")
    ax1.axhline(est["cycles_per_frame"], color="tab:red", lw=0.8, ls="--", label="slowest layer")
    ax1.set_ylabel("cycles / frame")
    ax1.set_title(f"{est['part']} @ {est['fclk_mhz']} MHz: {est['fps']} FPS, balance {est['balance']}")
    ax1.legend(loc="upper right", fontsize=8)
    ax2.bar(range(len(names)), [ly["LUT"] for ly in layers], color="tab:green")
    ax2.set_ylabel("LUT")
    ax2.set_xticks(range(len(names)))
    ax2.set_xticklabels(names, rotation=90, fontsize=6)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def load_estimates(dir_: Path | str) -> dict:
    """estimates.json of a build directory, checked for this format."""
    dir_ = Path(dir_)
    path = dir_ / "estimates.json"
    if not dir_.is_dir():
        raise InputFileError(f"build directory {dir_} not found")
    if not path.is_file():
        raise InputFileError(f"{path} not found: not a build directory of `bidrn-hw compile`")
    try:
        est = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise InputFileError(f"{path} is not valid JSON: {exc}") from None
    if not isinstance(est, dict) or est.get("format") != ESTIMATES_FORMAT:
        raise InputFileError(f"{path} has format {est.get('format') if isinstance(est, dict) else '?'}; this "
                             f"bidrn-hw reads format {ESTIMATES_FORMAT}: compile the model again")
    return est
