"""Estimates of a folded HW graph: per-layer cycles and resources, network FPS, latency, FIFO depths;
written as ``estimates.json``, ``report.md`` and ``estimates.png``.

Cycles per layer are those of *our* RTL (``folding.layer_cycles_of``: ``layers_dataflow.estimate_cycles``
for the dataflow layers, FINN's ``get_exp_cycles`` for MVAU/Thresholding, max(input, output beats) for the
data-width converter). FPS = fclk / the slowest layer's cycles (the pipeline's initiation interval).
Latency = the longest path through the graph by the sum of layer cycles (FINN's ``critical_path_cycles``
definition in ``dataflow_performance``): an upper bound, since layers overlap within a frame.

Resources (LUT, FF, BRAM_18K, URAM, DSP) per layer; ``formula`` in each layer row says whose.

**Xilinx parts (the report's numbers): the calibrated model** (:func:`calibrated_cost`). Each RTL module
instance, from the parameters it is instantiated with (``accel.json``), is reduced to a few structural terms
(:func:`rtl_terms`: XNOR lanes, multiplier bits, accumulator bits, LUT6 of a lookup ROM (one per bit per 64
words), comparator bits of the threshold search, ...), and LUT and FF are weighted sums of them with
coefficients fitted to Yosys ``synth_xilinx`` measurements of layers of several designs
(``benchmarks/calibrate.py``; data in ``benchmarks/results/calibration_data.json``; coefficients in
``calibration.json`` beside this file; held-out error table in ``docs/calibration.md``). The threshold
ROMs' LUT6 and block RAM are counted from their contents (:func:`threshold_rom_usage`: an affine
requantization's table compresses far below its size, and bits constant in every word take no storage).
Block RAM follows what Yosys does with our RTL (:func:`yosys_block_ram`): mvau.sv's weight ROM and input
buffer, the window buffer (swg.sv), the FIFO buffer and the threshold-stage ROMs are read synchronously and
go to block RAM where Yosys' library costs make that cheaper. The weight
ROM, the window buffer and the FIFO buffer carry FINN's ``ram_style`` as their ``RAM_STYLE`` synthesis
attribute; on Xilinx parts the flow makes "auto" explicit by the same rule (``flow.memory_styles``), so
the build follows the estimate.
Modules without coefficients, and ECP5 (LUT4), use the formulas below.

**The formulas** (:func:`formula_resources`; the estimate before calibration, and what FINN uses where noted):

* **MVAU** compute: FINN's ``MVAU_hls.lut_estimation`` (the FINN-R model: c0 + c1 * PE * (multipliers +
  adder tree + accumulator)) and ``dsp_estimation``, called on a copy of the node; our parts replace
  FINN's memory and threshold terms: ``mvau.sv`` keeps weights in an inferred ROM (``ram_style`` auto: a
  memory shallower than 128 words or smaller than 4 kbit goes to LUTs, else block RAM; ``ultra`` -> URAM
  with FINN's URAM formula), buffers the input vector (SF words) and binary-searches sorted thresholds
  (log2(N+1) comparators per PE plus threshold muxes) instead of FINN's N comparators. resType is ``dsp``
  when both weights and inputs are 4 bits or wider (integer stem), else ``lut`` (XNOR, 0/1 shortcuts).
* **StreamingFIFO**: FINN's ``StreamingFIFO`` estimators (FINN's fifo.sv cost model; ours is the same
  circular buffer).
* **Thresholding, ConvolutionInputGenerator, FMPadding, ElementwiseAdd, DuplicateStreams, Pool,
  GlobalAccPool, UpsampleNearestNeighbour, StreamingDataWidthConverter**: our own formulas from the RTL's
  registers and memories (FINN's are for its HLS/RTL variants: e.g. 0 LUT for FMPadding and DuplicateStreams,
  N comparators per channel for Thresholding_rtl, a shift-register DWC).
* **FF**: FINN has no FF model; ours counts the RTL's registers (output registers, accumulators, counters,
  register-mapped memories).

Memory mapping (our helper :func:`memory_cost`): block RAM as 18-kbit blocks in the best of the
16384x1 ... 512x36 aspects (the same for ECP5's EBR); distributed memory as one LUT6 per bit per 64 words
(LUT4 per bit per 16 words on ECP5); a one-word constant memory costs nothing (constants fold into logic).
Everything here is an estimate for planning; ``bidrn-hw synth`` measures with Yosys.
"""
from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
from qonnx.core.datatype import DataType
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.custom_op.registry import getCustomOp

from ..rtlgen.layers_compute import fifo_params
from .folding import RESOURCE_KEYS, base_op, dwc_cycles, layer_cycles_of
from .memory_styles import rtl_ram_style

BRAM18_ASPECTS = [(16384, 1), (8192, 2), (4096, 4), (2048, 9), (1024, 18), (512, 36)]
ESTIMATES_FORMAT = 1


def _clog2(n: int) -> int:
    return max(1, math.ceil(math.log2(max(n, 2))))


def bram18(width: int, depth: int) -> int:
    return min(math.ceil(depth / d) * math.ceil(width / w) for d, w in BRAM18_ASPECTS)


def memory_cost(width: int, depth: int, style: str = "auto", family: str = "xilinx", rom: bool = False) -> dict:
    """Resources of a ``depth`` x ``width`` memory (ROM when ``rom``: a one-word ROM is free)."""
    cost = dict.fromkeys(RESOURCE_KEYS, 0)
    if width <= 0 or depth <= 0 or (rom and depth == 1):
        return cost
    if style == "auto":
        style = "block" if depth >= 128 and width * depth >= 4096 else "distributed"
    if style == "ultra" and family not in ("ecp5", "zynq7000"):
        cost["URAM"] = math.ceil(width / 72) * math.ceil(depth / 4096)
    elif style in ("block", "ultra"):
        cost["BRAM_18K"] = bram18(width, depth)
    else:
        words = 16 if family == "ecp5" else 64
        cost["LUT"] = width * math.ceil(depth / words)
        if depth <= 2 and not rom:
            cost["LUT"], cost["FF"] = 0, width * depth  # registers
    return cost


def _add(a: dict, b: dict) -> dict:
    return {k: a.get(k, 0) + b.get(k, 0) for k in RESOURCE_KEYS}


def _bits(dt: DataType) -> int:
    return 1 if dt == DataType["BIPOLAR"] else dt.bitwidth()


def threshold_cost(pe: int, nf: int, n_steps: int, thr_bits: int, family: str, shared: int = 0,
                   base_bits: int = 0) -> dict:
    """Thresholds searched as the RTL does (a binary search over n sorted thresholds per channel):
    log2(n+1) comparators per PE, and per probe j a lookup of one of 2^j thresholds of the current channel
    fold. With fewer than 128 folds the table is constant logic: probe j is a ROM of nf * 2^j words
    (THR_BITS LUT6 per 64 words); with more, the table sits in block RAM, read one fold per cycle, and probe
    j is a 2^j:1 mux (4:1 per LUT6). FF: the search pipeline (:func:`search_registers`; THR_BITS stands in
    for the value's width). A shared row is one fold's table; a base count is a ROM of nf words per PE."""
    cost = dict.fromkeys(RESOURCE_KEYS, 0)
    if n_steps == 0:
        return cost
    rows = 1 if shared else nf
    steps = _clog2(n_steps + 1)
    words = 16 if family == "ecp5" else 64
    if rows < 128:
        lookup = sum(math.ceil(rows * min(2 ** j, n_steps) / words) for j in range(steps))
    else:
        cost = memory_cost(pe * n_steps * thr_bits, rows, "block", family)
        lookup = sum(math.ceil(min(2 ** j, n_steps) / 4) for j in range(steps))
    cost["LUT"] += pe * thr_bits * (steps + lookup)
    cost["FF"] += search_registers(pe, steps, thr_bits, thr_bits + 1)
    if base_bits:
        cost = _add(cost, memory_cost(pe * base_bits, nf, "auto", family, rom=True))
        cost["FF"] += 3 * pe * base_bits
    return cost


def line_widths(val_bits: int, p: dict) -> dict:
    """threshold_lines.sv's widths: a channel's word, the product, the sum."""
    lw = p["M_BITS"] + p["C_BITS"]
    pw = val_bits + p["M_BITS"] + 1
    return dict(word=2 * lw + 1 if p["LINES"] == 2 else lw, prod=pw, sum=max(max(pw, p["C_BITS"]) + 1, 12))


def multiplier_dsps(a_bits: int, b_bits: int, family: str = "xilinx") -> int:
    """DSP blocks of a signed a x b multiplier split over 25 x 18 signed slices (MULT18X18 on ECP5)."""
    da, db = (17, 17) if family == "ecp5" else (24, 17)
    return math.ceil((a_bits - 1) / da) * math.ceil((b_bits - 1) / db)


def line_dsps(val_bits: int, p: dict, family: str = "xilinx") -> int:
    """DSP blocks of one lane's LINES multipliers (a ``val_bits`` value times an M_BITS + 1 signed slope)."""
    return p["LINES"] * multiplier_dsps(val_bits + 1, p["M_BITS"] + 1, family)


def lines_cost(pe: int, nf: int, val_bits: int, p: dict, family: str) -> dict:
    """Formula of threshold_lines.sv: per lane a ROM of nf words (``family``'s memory), the multipliers
    (:func:`line_dsps`), and the logic and registers the calibrated model counts (:func:`_line_terms`'
    ``lin_add`` and ``lin_ff``) at one LUT and one FF per bit."""
    terms, _ = _line_terms(pe, nf, val_bits, p)
    cost = dict.fromkeys(RESOURCE_KEYS, 0)
    for _ in range(pe):
        cost = _add(cost, memory_cost(line_widths(val_bits, p)["word"], nf, "auto", family, rom=True))
    cost["DSP"] += pe * line_dsps(val_bits, p, family)
    cost["LUT"] += terms["lin_add"]
    cost["FF"] += terms["lin_ff"]
    return cost


def _threshold_formula(p: dict, nf: int, val_bits: int, family: str) -> dict:
    """The formula cost of a layer's thresholds: computed from lines or searched in a table."""
    if p.get("LINES"):
        return lines_cost(p["PE"], nf, val_bits, p, family)
    return threshold_cost(p["PE"], nf, p["N_STEPS"], p["THR_BITS"], family, p["SHARED"], p["BASE_BITS"])


def search_registers(pe: int, stages: int, val_bits: int, word_bits: int) -> int:
    """Registers of threshold_search.sv: per lane and stage three positions of the searched value and the
    count, plus the read and its output register (``word_bits`` wide)."""
    return pe * stages * (3 * val_bits + 2 * word_bits + 3 * (stages + 1))


# ------------------------------------------------------------------------------------------ per op
def _search_params(model, node, inst) -> dict:
    """The thresholds' parameters as the generator gives them: LINES, M_BITS, C_BITS and SHIFT where it
    computes them from lines (``rtlgen.layers_compute.node_threshold_lines``), else N_STEPS, THR_BITS,
    SHARED and BASE_BITS of the table it stores (``node_threshold_table``: only the window of thresholds a
    value can fall in)."""
    from ..rtlgen.layers_compute import node_threshold_lines, node_threshold_table, threshold_range

    lines = node_threshold_lines(model, node, inst)
    if lines is not None:
        return dict(N_STEPS=lines.n_steps, THR_BITS=threshold_range(inst, node)[3], SHARED=0, BASE_BITS=0,
                    LINES=lines.lines, M_BITS=lines.m_bits, C_BITS=lines.c_bits, SHIFT=lines.shift)
    table = node_threshold_table(model, node, inst)
    return dict(N_STEPS=table.steps, THR_BITS=table.bits, SHARED=int(table.shared), BASE_BITS=table.base_bits)


def thresholding_params(model, node, inst) -> dict:
    """The parameters ``rtlgen.layers_compute.thresholding`` gives thresholding.sv (no memory files)."""
    return dict(CH=inst.get_nodeattr("NumChannels"), PE=inst.get_nodeattr("PE"),
                IN_BITS=_bits(inst.get_input_datatype(0)), OUT_BITS=_bits(inst.get_output_datatype(0)),
                **_search_params(model, node, inst))


def mvau_params(model, node, inst) -> dict:
    """The parameters ``rtlgen.layers_compute.mvau`` gives mvau.sv, without building its memory files."""
    from ..rtlgen.layers_compute import mvau_widths, pack_products
    from ..rtlgen.stitch import WEIGHT_WORD_BITS

    wd = mvau_widths(inst)
    style = rtl_ram_style(node)
    if inst.get_nodeattr("noActivation") == 0:
        search = _search_params(model, node, inst)
    else:
        search = dict(N_STEPS=0, THR_BITS=wd["ACC_BITS"] + 1, SHARED=0, BASE_BITS=0)
    return dict(**{k: inst.get_nodeattr(k) for k in ("MW", "MH", "SIMD", "PE")},
                **{k: wd[k] for k in ("XNOR", "IN_BITS", "W_BITS", "ACC_BITS")},
                OUT_BITS=_bits(inst.get_output_datatype(0)), **search, RAM_STYLE=style,
                **({"PACK": 1} if pack_products(model, inst, wd) else {}),
                **({"W_LOAD": 1, "W_WORD_BITS": WEIGHT_WORD_BITS} if style == "ultra" else {}))


def _mvau(model, node, inst, family, part) -> tuple[dict, str]:
    p = mvau_params(model, node, inst)
    sf, nf = p["MW"] // p["SIMD"], p["MH"] // p["PE"]
    dsp_style = not p["XNOR"] and p["W_BITS"] >= 4 and p["IN_BITS"] >= 4
    # FINN's compute formula on an MVAU_hls copy of the node, memories and thresholds left to us.
    from onnx import helper

    copy = helper.make_node("MVAU_hls", list(node.input), list(node.output), name=node.name,
                            domain="finn.custom_op.fpgadataflow.hls", backend="fpgadataflow")
    copy.attribute.extend(a for a in node.attribute if a.name not in ("ram_style", "noActivation"))
    finn = getCustomOp(copy)
    finn.set_nodeattr("ram_style", "block")
    finn.set_nodeattr("noActivation", 1)
    finn.set_nodeattr("resType", "dsp" if dsp_style else "lut")
    cost = dict.fromkeys(RESOURCE_KEYS, 0)
    cost["LUT"] = int(finn.lut_estimation(part))
    cost["DSP"] = int(finn.dsp_estimation(part))
    if p.get("PACK"):  # FINN's formula counts one DSP per product
        cost["DSP"] = mvau_multipliers(p)
    cost = _add(cost, mvau_outside_fit(p))
    style = inst.get_nodeattr("ram_style")
    cost = _add(cost, memory_cost(p["PE"] * p["SIMD"] * p["W_BITS"], nf * sf, style, family, rom=True))
    in_width = p["SIMD"] * p["IN_BITS"]
    cost = _add(cost, memory_cost(in_width, sf, "distributed", family) if sf > 2 else {"FF": in_width * sf})
    cost = _add(cost, _threshold_formula(p, nf, _thresholded_bits("mvau", p), family))
    cost["FF"] += (p["PE"] * (p["ACC_BITS"] + p["OUT_BITS"]) + _clog2(sf) + _clog2(nf) + 1
                   + p["PE"] * p["SIMD"] * p["W_BITS"] + in_width)  # + the operand register
    return cost, "finn (compute, DSP) + own (memories, threshold search, FF)"


def _thresholding(model, node, inst, family, part) -> tuple[dict, str]:
    p = thresholding_params(model, node, inst)
    nf = p["CH"] // p["PE"]
    cost = _threshold_formula(p, nf, _thresholded_bits("thresholding", p), family)
    cost["LUT"] += 8
    cost["FF"] += p["PE"] * p["OUT_BITS"] + _clog2(nf) + 1
    return cost, "own (binary search)"


def _dataflow(model, node, inst, family, part) -> tuple[dict, str]:
    from ..rtlgen import layers_dataflow

    module, p = layers_dataflow.rtl_module(inst)
    cost = dict.fromkeys(RESOURCE_KEYS, 0)
    if module == "swg":
        width = p["SIMD"] * p["ELEM_BITS"]
        cost = memory_cost(width, p["BUF_DEPTH"], p["RAM_STYLE"], family)
        counters = 8 * _clog2(p["IFM_H"] * p["IFM_W"] * p["CH"] // p["SIMD"])
        cost["LUT"] += 2 * counters + 20
        cost["FF"] += counters + width + 2
    elif module == "swg_parallel":
        # Measured with Yosys synth_xilinx: the paper body stem (262x198, 7x7, stride 2, 3 x 8 bits; xcup)
        # 2,225 FF (this formula: 2,225), 52 LUT (90), 2 RAMB36 (4 RAMB18); the tiny hand encoder's three
        # (LUT-RAM line buffers; xczu7ev): FF equal, LUT 104 and 71 (114 and 94).
        lines = memory_shape(module, p)
        if lines is not None:
            cost = memory_cost(lines[0], lines[1], p["RAM_STYLE"], family)
            if styled_memory(module, p) == "lut":
                cost["FF"] += lines[0]  # the registered read (inside the RAM when it is a block RAM)
        cost["LUT"] += 2 * _swg_parallel_counter_bits(p) + 10
        cost["FF"] += _swg_parallel_counter_bits(p) + swg_parallel_registers(p) + 1
    elif module == "fmpadding":
        width = p["SIMD"] * p["ELEM_BITS"]
        counters = 3 * _clog2(max(p["IMG_H"], p["IMG_W"]) * 4) + _clog2(p["CH"] // p["SIMD"])
        cost["LUT"] = width + 2 * counters + 10
        cost["FF"] = width + counters + 1
    elif module == "addstreams":
        cost["LUT"] = p["PE"] * p["OUT_BITS"] + 4
        cost["FF"] = p["PE"] * p["OUT_BITS"] + 1
    elif module == "duplicatestreams":
        cost["LUT"] = 2 * p["N_OUT"] + 2
        cost["FF"] = p["N_OUT"] * (p["DATA_BITS"] + 1)
    elif module == "pool":
        cost["LUT"] = p["PE"] * 2 * p["ACC_BITS"] + _clog2(p["K2"]) + 6
        cost["FF"] = p["PE"] * (p["ACC_BITS"] + p["OUT_BITS"]) + _clog2(p["K2"]) + 1
    elif module == "globalaccpool":
        nf = p["CH"] // p["PE"]
        cost = memory_cost(p["PE"] * p["OUT_BITS"], nf, "auto", family)
        cost["LUT"] += p["PE"] * p["OUT_BITS"] + _clog2(p["PIXELS"]) + 6
        cost["FF"] += p["PE"] * p["OUT_BITS"] + _clog2(p["PIXELS"]) + _clog2(nf) + 1
    elif module == "upsampler":
        width = p["SIMD"] * p["ELEM_BITS"]
        cost = memory_cost(width, p["WI"] * p["CH"] // p["SIMD"], "auto", family)
        cost["LUT"] += 4 * _clog2(p["WI"] * p["CH"]) + 10
        cost["FF"] += width + 4 * _clog2(p["WI"] * p["CH"])
    return cost, "own"


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
        mux, shift, counters = 0, a * bits, _clog2(a // b) + 2
    elif kind == "up":
        mux, counters = b // a, _clog2(b // a) + 2
    else:
        sources = min(a, (cap - a) // math.gcd(a, b) + 1) + 1  # input elements that can land in a slot, + shift
        mux, counters = cap * bits * math.ceil(sources / 4), _clog2(cap + 1)
    return {"mux": mux, "shift": shift, "counters": counters, "regs": cap * bits}


def _dwc(model, node, inst, family, part) -> tuple[dict, str]:
    bits = inst.get_input_datatype().bitwidth()
    a, b = inst.get_nodeattr("inWidth") // bits, inst.get_nodeattr("outWidth") // bits
    t = dwc_terms(a, b, bits)
    cost = dict.fromkeys(RESOURCE_KEYS, 0)
    cost["FF"] = t["regs"] + t["counters"]
    cost["LUT"] = t["mux"] + 2 * t["shift"] + 2 * t["counters"]  # (two LUTs per bit of the shifting word)
    return cost, f"own ({dwc_kind(a, b)} converter, {dwc_capacity(a, b)} elements buffered)"


def _fifo(model, node, inst, family, part) -> tuple[dict, str]:
    cost = dict.fromkeys(RESOURCE_KEYS, 0)
    cost["LUT"] = int(inst.lut_estimation(part))
    cost["BRAM_18K"] = int(inst.bram_estimation(part))
    cost["URAM"] = int(inst.uram_estimation(part))
    cost["FF"] = 3 * _clog2(inst.get_nodeattr("depth")) + 2
    if cost["URAM"] and family in ("zynq7000", "ecp5"):  # FINN picks URAM for deep FIFOs on any part
        cost["URAM"] = 0
        cost["BRAM_18K"] += bram18(inst.get_instream_width_padded(), inst.get_nodeattr("depth"))
    return cost, "finn (StreamingFIFO; URAM -> BRAM where the device has none) + own FF"


# ------------------------------------------------------------------------------------------ calibrated model
# Resources of one RTL module instance from its parameters (the ``accel.json`` ones): a few structural terms
# per module, each a count the RTL implies (bits of a lookup ROM per 64 words, comparator bits, ...), weighted
# by coefficients fitted to Yosys ``synth_xilinx`` measurements (benchmarks/calibrate.py, data in
# benchmarks/results/calibration_data.json, coefficients in calibration.json beside this file).
CALIBRATION_FILE = Path(__file__).resolve().with_name("calibration.json")
CALIBRATED_FAMILIES = ("zynq7000", "zynq_us+", "alveo", "xilinx")  # LUT6 fabrics; ECP5 keeps the formulas
_CALIBRATION: dict | None = None


def calibration() -> dict:
    """The fitted coefficients (``{}`` when the file is absent: the formulas are used)."""
    global _CALIBRATION
    if _CALIBRATION is None:
        _CALIBRATION = json.loads(CALIBRATION_FILE.read_text()) if CALIBRATION_FILE.is_file() else {}
    return _CALIBRATION


def lutram_luts(width: int, depth: int) -> int:
    """LUTs of a simple dual-port LUT-RAM as Yosys builds it on Xilinx: RAM32M (32 words x 6 bits) or RAM64M
    (64 x 3) of 4 LUTs each, 64-word slices side by side for deeper memories."""
    if depth <= 32:
        return 4 * math.ceil(width / 6)
    return 4 * math.ceil(depth / 64) * math.ceil(width / 3)


def yosys_block_ram(width: int, depth: int, rom: bool = False) -> bool:
    """Whether Yosys' memory_libmap puts a synchronously read ``depth`` x ``width`` memory in block RAM on
    Xilinx: it takes the cheapest by its library costs, 129 per RAMB18 against 8 per LUT-RAM slice
    (RAM32M/RAM64M) for a written memory, and against one per 64 bits of logic for a ROM (ROMs never go to
    LUT-RAM). A read whose address comes straight from a register counts as synchronous (Yosys moves the
    register into the port: fifo.sv, mvau.sv's input buffer and weight ROM)."""
    if depth <= 1:
        return False
    other = width * depth / 64 if rom else 2 * lutram_luts(width, depth)
    return 129 * bram18(width, depth) < other


def memory_shape(module: str, p: dict) -> tuple[int, int, bool] | None:
    """(width, depth, is a ROM) of the memory an RTL module's RAM_STYLE applies to: mvau.sv's weight ROM,
    swg.sv's window buffer, fifo.sv's buffer (none below three words: registers)."""
    if module == "mvau":
        return p["PE"] * p["SIMD"] * p["W_BITS"], (p["MW"] // p["SIMD"]) * (p["MH"] // p["PE"]), True
    if module == "swg":
        return p["SIMD"] * p["ELEM_BITS"], p["BUF_DEPTH"], False
    if module == "swg_parallel" and p["K_H"] > 1 and p["IFM_W"] > 1:  # the line buffer
        return ((p["K_H"] - 1) * p["DIL_H"]) * p["CH"] * p["ELEM_BITS"], p["IFM_W"], False
    if module == "fifo" and p["DEPTH"] > 2:
        return p["WIDTH"], p["DEPTH"], False
    return None


def styled_memory(module: str, p: dict) -> str | None:
    """Where that memory goes: "block", "ultra" or "lut" (LUT-RAM, or logic for a ROM), by the RAM_STYLE
    parameter or, where it is "auto", by Yosys' library costs (:func:`yosys_block_ram`)."""
    shape = memory_shape(module, p)
    if shape is None:
        return None
    style = p.get("RAM_STYLE", "auto")
    if style == "auto":
        return "block" if yosys_block_ram(*shape) else "lut"
    return style if style in ("block", "ultra") else "lut"


def _lut_rom(width: int, depth: int) -> int:
    """LUT6 of a ``depth`` x ``width`` lookup in logic or LUT-RAM: one per bit per 64 words (a one-word ROM
    is a constant)."""
    return 0 if depth <= 1 else width * math.ceil(depth / 64)


def _truth_table(bits: np.ndarray) -> np.ndarray:
    """64-entry bit columns (..., 64) -> their truth tables as uint64 (entry i in bit i)."""
    return np.packbits(bits.astype(np.uint8), axis=-1, bitorder="little").view("<u8")[..., 0]


# truth tables of an address bit and of its complement: a ROM data bit equal to one needs no LUT
_ADDRESS_BITS = _truth_table((np.arange(64)[None, :] >> np.arange(6)[:, None]) & 1)
_TRIVIAL = np.concatenate([_ADDRESS_BITS, ~_ADDRESS_BITS, np.array([0, ~np.uint64(0)], dtype=np.uint64)])


def rom_logic_luts(words: np.ndarray, width: int) -> int:
    """LUT6 of a ``width``-bit ROM kept in logic, by its contents: a data bit is a function of the address,
    one LUT6 per 64-word slice, unless that slice is constant or an address bit; equal slice functions are
    one LUT (ABC merges them); past 256 words (four slices: MUXF7/MUXF8) each non-constant bit adds a 4:1
    mux per four slices. The thresholds of an affine requantization or a saturating table come out far
    below width * depth / 64, a table of unrelated values near it."""
    words = np.asarray(words, dtype=np.int64)
    if len(words) <= 1 or width <= 0:
        return 0
    if len(words) < 64:
        words = np.resize(words, 64)  # a function of fewer address bits: its table repeats
    slices = -(-len(words) // 64)
    words = np.concatenate([words, np.zeros(slices * 64 - len(words), dtype=np.int64)])
    bits = (words[None, :] >> np.arange(width)[:, None]) & 1                # (width, words)
    tables = _truth_table(bits.reshape(width, slices, 64))                  # (width, slices)
    luts = np.unique(tables[~np.isin(tables, _TRIVIAL)]).size
    if slices > 4:
        luts += rom_data_bits(words, width) * (-(-slices // 4) - 1)
    return int(luts)


def rom_data_bits(words: np.ndarray, width: int) -> int:
    """Data bits of a ROM that are not the same in every word: what Yosys keeps before it maps the ROM."""
    words = np.asarray(words, dtype=np.int64)
    bits = (words[None, :] >> np.arange(width)[:, None]) & 1
    return int((bits.min(axis=1) != bits.max(axis=1)).sum())


def threshold_rom_usage(table, pe: int) -> tuple[int, list]:
    """(LUT6 of a threshold table's search ROMs kept in logic (:func:`rom_logic_luts`), (width, depth) of
    those in block RAM), over the stages and base counts of every lane. Block RAM or logic is decided as
    Yosys does, on the data bits left after the constant ones are dropped (:func:`rom_data_bits`), which is
    also the block RAM's width. A shared row is one ROM per lane, all with the contents of lane 0."""
    from ..rtlgen.layers_compute import base_words, search_stage_words

    lanes = 1 if table.shared else pe
    roms = [(table.bits + 1, w, pe // lanes) for w in search_stage_words(table.rows, lanes, table.bits).values()]
    roms += [(table.base_bits, w, 1) for w in base_words(table, pe).values()]
    luts, brams = 0, []
    for width, words, copies in roms:
        kept = rom_data_bits(words, width)
        if kept and yosys_block_ram(kept, len(words), rom=True):
            brams += [(kept, len(words))] * copies
        elif kept:
            luts += copies * rom_logic_luts(words, width)
    return luts, brams


def rtl_content(model: ModelWrapper, node, module: str, p: dict) -> dict:
    """What the calibrated model reads from a layer's memory contents rather than its parameters: the
    threshold ROMs' LUT6 in logic (``thr_rom``) and their block RAMs (``thr_brams``: [width, depth] each),
    by :func:`threshold_rom_usage`."""
    if module not in ("mvau", "thresholding") or not p["N_STEPS"] or p.get("LINES"):
        return {}
    from ..rtlgen.layers_compute import node_threshold_table

    luts, brams = threshold_rom_usage(node_threshold_table(model, node), p["PE"])
    return {"thr_rom": luts, "thr_brams": [list(b) for b in brams]}


def _search_terms(pe: int, nf: int, n_steps: int, val_bits: int, thr_bits: int, shared: int = 0,
                  base_bits: int = 0, content: dict | None = None) -> tuple[dict, list]:
    """threshold_search.sv: S stages of a comparison (``cmp``: comparator bits), a ROM of rows * 2^j
    thresholds per stage and lane (rows = nf, or 1 where shared; ``thr_rom``: its LUT6 where Yosys keeps it
    in logic, block RAM where that is cheaper; the per-channel base counts' ROM of nf words joins it), the
    pipeline registers (``thr_ff``: three positions a stage, each with the searched value and the count, and
    the read plus its output register; the base's three registers) and the read address adders
    (``thr_addr``: their bits). ``content`` (:func:`rtl_content`) replaces the ROMs' LUT6 and block RAMs,
    counted here from the parameters, by the counts from their contents."""
    if n_steps == 0:
        return {"cmp": 0, "thr_rom": 0, "thr_ff": 0, "thr_addr": 0}, []
    s = _clog2(n_steps + 1) if n_steps > 1 else 1
    cw, tw = max(val_bits, thr_bits) + 1, thr_bits + 1
    rows = 1 if shared else nf
    roms = [(tw, rows << j) for j in range(s)] + ([(base_bits, nf)] if base_bits else [])
    rom, brams = 0, []
    for width, depth in roms:
        if yosys_block_ram(width, depth, rom=True):
            brams += [(width, depth)] * pe
        else:
            rom += pe * _lut_rom(width, depth)
    if content:
        rom, brams = content["thr_rom"], [tuple(b) for b in content["thr_brams"]]
    addr = pe * sum(_clog2(rows << j) for j in range(s))  # each stage's read address: fold and count bits added
    return {"cmp": pe * s * cw, "thr_rom": rom, "thr_ff": search_registers(pe, s, val_bits, tw) + 3 * pe * base_bits,
            "thr_addr": addr}, brams


def _thresholded_bits(module: str, p: dict) -> int:
    """Signed width of the values a module thresholds: an MVAU's accumulator, a Thresholding's input."""
    return p["ACC_BITS"] if module == "mvau" else p["IN_BITS"] + 1


def _threshold_terms(p: dict, nf: int, val_bits: int, content: dict | None) -> tuple[dict, list]:
    """The calibrated terms (and block RAMs) of a layer's thresholds: computed from lines or searched."""
    if p.get("LINES"):
        return _line_terms(p["PE"], nf, val_bits, p)
    return _search_terms(p["PE"], nf, p["N_STEPS"], val_bits, p["THR_BITS"], p.get("SHARED", 0),
                         p.get("BASE_BITS", 0), content)


def _line_terms(pe: int, nf: int, val_bits: int, p: dict) -> tuple[dict, list]:
    """threshold_lines.sv: per lane a ROM of nf channel words (``lin_rom``: LUT6 where Yosys keeps it in
    logic, else block RAM), the adders and comparisons (``lin_add``: an offset adder per line, the min/max
    where there are two, the clamp; their bits), the adders of partial products where a multiplier spans
    several DSPs (``lin_mul``: product bits per extra DSP) and the registers (``lin_ff``). The multipliers
    are DSPs (:func:`calibrated_cost`)."""
    w = line_widths(val_bits, p)
    rom, brams = 0, []
    if nf > 1 and yosys_block_ram(w["word"], nf, rom=True):
        brams = [(w["word"], nf)] * pe
    elif nf > 1:
        rom = pe * _lut_rom(w["word"], nf)
    # a product wider than one DSP is summed from partial products in the fabric (Yosys' mul2dsp)
    partial = line_dsps(val_bits, p) // p["LINES"] - 1
    return {"lin_rom": rom, "lin_add": pe * (2 * p["LINES"] * w["sum"] + p["OUT_BITS"]),
            "lin_mul": pe * p["LINES"] * partial * w["prod"],
            "lin_ff": pe * (3 * val_bits + 2 * w["word"] + p["LINES"] * (w["prod"] + p["C_BITS"] + w["sum"])
                            + p["OUT_BITS"])}, brams


def _swg_counter_bits(p: dict) -> int:
    """Bits of swg.sv's loop counters (channel fold, kernel x/y where the kernel has them, output x/y), frame
    indices (window and row start, kernel x/y offsets where used), buffer addresses (window, row and frame base,
    write address) and the three signed position comparisons (``wpos`` against the read need and the write
    limit), with the widths swg.sv derives from its parameters."""
    from ..rtlgen.layers_dataflow import swg_geometry

    def bits(n: int) -> int:
        return _clog2(n) if n > 1 else 1

    geo = swg_geometry(p)
    cf, n, buf = geo["cf"], geo["n_in"], p["BUF_DEPTH"]
    k_h, k_w = p["K_H"], p["K_W"]
    loops = (bits(cf) if cf > 1 else 0) + (bits(k_w) if k_w > 1 else 0) + (bits(k_h) if k_h > 1 else 0) \
        + bits(geo["ow"]) + bits(geo["oh"])
    index = _clog2(n + 1) * (2 + (k_w > 1) + (k_h > 1))
    address = 4 * bits(buf)
    position = 3 * (_clog2(2 * n + buf + 1) + 1)
    return loops + index + address + position


def _swg_parallel_counter_bits(p: dict) -> int:
    """Bits of swg_parallel.sv's position counters (x, y, the two stride waits, output x/y)."""
    from ..rtlgen.layers_dataflow import swg_parallel_geometry

    g = swg_parallel_geometry(p)
    kext_h, kext_w = (p["K_H"] - 1) * p["DIL_H"] + 1, (p["K_W"] - 1) * p["DIL_W"] + 1
    wait = _clog2(max(kext_w, kext_h) + max(p["STRIDE_W"], p["STRIDE_H"]) + 1)
    return (max(1, _clog2(p["IFM_W"])) + max(1, _clog2(p["IFM_H"])) + 2 * wait
            + _clog2(g["ow"] + 1) + _clog2(g["oh"] + 1))


def swg_parallel_registers(p: dict) -> int:
    """Flip-flops of swg_parallel.sv's data path: the KEXT_W-1 window columns of KEXT_H pixels, the output
    register of one window, and the line-buffer word itself where the row is one pixel wide."""
    pix = p["CH"] * p["ELEM_BITS"]
    kext_h, kext_w = (p["K_H"] - 1) * p["DIL_H"] + 1, (p["K_W"] - 1) * p["DIL_W"] + 1
    word = (kext_h - 1) * pix if p["IFM_W"] == 1 else 0
    return (kext_w - 1) * kext_h * pix + p["K_H"] * p["K_W"] * pix + word


def rtl_terms(module: str, p: dict, content: dict | None = None) -> tuple[dict, list]:
    """(structural terms, block RAMs as (width, depth)) of one RTL module instance; the terms are what the
    calibrated LUT and FF models weight. ``content`` (:func:`rtl_content`) gives the threshold ROMs' LUT6
    and block RAMs from their contents (:func:`_search_terms`)."""
    t: dict = {"one": 1}
    brams: list = []
    if module == "mvau":
        sf, nf = p["MW"] // p["SIMD"], p["MH"] // p["PE"]
        lanes = p["PE"] * p["SIMD"]
        t["xnor"] = lanes if p["XNOR"] else 0
        t["mul"] = 0 if p["XNOR"] else lanes * p["ACC_BITS"]  # products in DSP48s: the adder tree is LUTs
        t["acc"] = p["PE"] * p["ACC_BITS"]
        # read synchronously (registered): block RAM where Yosys finds it cheaper, else logic. (A separate term
        # for ROMs past 1,024 words had no fit data since the reads became synchronous, so it estimated them
        # at 0 LUTs; a 4,096 x 1 logic ROM measures 316 LUTs in all, the shared term gives 294.)
        w_line = lanes * p["W_BITS"]
        t["w_rom"] = t["w_mux"] = 0
        where = styled_memory(module, p)
        if where == "block":
            brams.append((w_line, nf * sf))
        elif where == "lut":
            t["w_rom"] = _lut_rom(w_line, nf * sf)
            t["w_mux"] = w_line * (math.ceil(nf * sf / 64) - 1)  # the read mux across 64-word slices
        in_width = p["SIMD"] * p["IN_BITS"]
        t["ibuf"] = 0
        if sf > 1 and yosys_block_ram(in_width, sf):
            brams.append((in_width, sf))
        elif sf > 1:
            t["ibuf"] = lutram_luts(in_width, sf) + in_width
        search, more = _threshold_terms(p, nf, _thresholded_bits(module, p), content)
        brams += more
        t.update(search)
        t["regs"] = (2 * p["PE"] * p["ACC_BITS"] + _clog2(sf) + _clog2(nf) + w_line + in_width  # + operand register
                     + (0 if p["N_STEPS"] else p["PE"] * p["OUT_BITS"]))
    elif module == "thresholding":
        nf = p["CH"] // p["PE"]
        search, brams = _threshold_terms(p, nf, _thresholded_bits(module, p), content)
        t.update(search)
        t["regs"] = p["PE"] * p["IN_BITS"] + _clog2(nf)
    elif module == "swg":
        width = p["SIMD"] * p["ELEM_BITS"]
        where = styled_memory(module, p)
        t["buf"] = lutram_luts(width, p["BUF_DEPTH"]) if where == "lut" else 0
        # the read mux across 64-word LUT-RAM slices, as in the FIFO's model
        t["lutmux"] = width * (math.ceil(p["BUF_DEPTH"] / 64) - 1) if where == "lut" else 0
        brams = [(width, p["BUF_DEPTH"])] if where == "block" else []
        t["counters"] = _swg_counter_bits(p)
        t["regs"] = width
    elif module == "fifo":
        width, depth = p["WIDTH"], p["DEPTH"]
        where = styled_memory(module, p)
        in_bram, in_lutram = where == "block", where == "lut"
        brams = [(width, depth)] if in_bram else []
        t["buf"] = lutram_luts(width, depth) if in_lutram else 0
        t["lut64"] = int(in_lutram and depth > 32)  # RAM64M slices (their address decode) instead of RAM32M
        t["lutmux"] = width * (math.ceil(depth / 64) - 1) if in_lutram else 0  # read mux across 64-word slices
        t["bram_w"] = width if in_bram else 0  # the block RAM's output path to the registered output
        t["counters"] = _clog2(depth + 1)
        t["regs"] = width * depth if depth <= 2 else 0
    elif module == "dwc":
        t.update(dwc_terms(p["IN_ELEMS"], p["OUT_ELEMS"], p["ELEM_BITS"]))
    elif module == "fmpadding":
        width = p["SIMD"] * p["ELEM_BITS"]
        t["mux"] = width
        t["counters"] = 3 * _clog2(max(p["IMG_H"], p["IMG_W"]) * 4) + _clog2(p["CH"] // p["SIMD"])
        t["regs"] = width
    elif module == "addstreams":
        t["adder"] = p["PE"] * p["OUT_BITS"]
        t["regs"] = p["PE"] * p["OUT_BITS"]
    elif module == "duplicatestreams":
        t["mux"] = p["N_OUT"]
        t["regs"] = p["N_OUT"] * (p["DATA_BITS"] + 1)
    elif module == "pool":
        t["adder"] = p["PE"] * p["ACC_BITS"]
        t["counters"] = _clog2(p["K2"])
        t["regs"] = p["PE"] * (p["ACC_BITS"] + p["OUT_BITS"])
    else:
        return {}, []
    return t, brams


# LUTs per bit of the packed products' borrow corrections (mvau.sv PACK = 1), outside the fit (no calibration
# design packs). Measured with Yosys synth_xilinx -family xcup, same layer unpacked and packed: INT8 x INT8,
# MW 64, SIMD 16, PE 4: 1,885 -> 2,233 LUT (0.64 per bit), DSP48E2 64 -> 32; UINT8 x INT8, MW 27, SIMD 27, PE 4:
# 2,090 -> 2,231 LUT (0.15 per bit), DSP 108 -> 54. The larger figure is used.
PACK_LUT_PER_BIT = 0.65


def weight_loader_cost(p: dict) -> dict:
    """weight_loader.sv of a W_LOAD MVAU (outside the fit): the line being assembled and the pass-through
    word in registers, its counters; its LUTs are the counters' logic and the pass-through handshake."""
    line_bits = p["PE"] * p["SIMD"] * p["W_BITS"]
    word = p.get("W_WORD_BITS", 32)
    beats = -(-line_bits // word)
    counters = _clog2(beats) + 2 * _clog2((p["MW"] // p["SIMD"]) * (p["MH"] // p["PE"]))
    cost = dict.fromkeys(RESOURCE_KEYS, 0)
    cost["FF"] = beats * word + word + counters + 3
    cost["LUT"] = 2 * counters + 6
    return cost


def mvau_outside_fit(p: dict) -> dict:
    """What an MVAU costs beyond the calibrated model and FINN's formula: the packed products' corrections
    (PACK) and the weight loader (W_LOAD); zero for neither."""
    cost = weight_loader_cost(p) if p.get("W_LOAD") else dict.fromkeys(RESOURCE_KEYS, 0)
    cost["LUT"] += PACK_LUT_PER_BIT * packed_correction_bits(p)
    return cost


def mvau_multipliers(p: dict) -> int:
    """Multipliers of an integer MVAU: one per product, or one per two lanes' products where PACK = 1."""
    lanes = p["PE"] // 2 + p["PE"] % 2 if p.get("PACK") else p["PE"]
    return lanes * p["SIMD"]


def packed_correction_bits(p: dict) -> int:
    """Adder bits of the packed products' corrections: one PROD_BITS adder per pair and input element."""
    return (p["PE"] // 2) * p["SIMD"] * (p["IN_BITS"] + p["W_BITS"] + 1) if p.get("PACK") else 0


def calibrated_cost(module: str, p: dict, family: str = "zynq7000", content: dict | None = None) -> dict | None:
    """Resources of one RTL module instance by the calibrated model, or None where it has no coefficients
    (module not fitted, ECP5, no calibration file)."""
    models = calibration().get("models", {})
    if family not in CALIBRATED_FAMILIES or module not in models:
        return None
    terms, brams = rtl_terms(module, p, content)
    cost = dict.fromkeys(RESOURCE_KEYS, 0)
    for res in ("LUT", "FF"):
        coef = models[module].get(res, {})
        cost[res] = max(0.0, sum(c * terms.get(k, 0) for k, c in coef.items()))
    cost["BRAM_18K"] = sum(bram18(w, d) for w, d in brams)
    if styled_memory(module, p) == "ultra":
        width, depth, _ = memory_shape(module, p)
        cost["URAM"] = math.ceil(width / 72) * math.ceil(depth / 4096)
    if module == "mvau" and not p["XNOR"] and p["IN_BITS"] >= 2 and p["W_BITS"] >= 2:
        # Yosys maps every product of the integer dot product to a DSP48 (even 8 x 2 bits: CNV's first layer)
        cost["DSP"] = mvau_multipliers(p)
    if module == "mvau":
        cost = _add(cost, mvau_outside_fit(p))
    if p.get("LINES"):
        cost["DSP"] += p["PE"] * line_dsps(_thresholded_bits(module, p), p)
    return cost


def rtl_params(model: ModelWrapper, node) -> tuple[str, dict] | None:
    """(module, parameters) of the RTL a node becomes, as ``accel.json`` lists them (without memory files)."""
    from ..rtlgen import layers_dataflow
    from ..rtlgen.layers_dwc import dwc_params

    inst = getCustomOp(node)
    op = base_op(node)
    if op == "MVAU":
        return "mvau", mvau_params(model, node, inst)
    if op == "Thresholding":
        return "thresholding", thresholding_params(model, node, inst)
    if op == "StreamingFIFO":
        return "fifo", fifo_params(node)
    if op == "StreamingDataWidthConverter":
        return "dwc", dwc_params(inst)
    if op in layers_dataflow.supported_op_types():
        return layers_dataflow.rtl_module(inst)
    return None


def formula_resources(model: ModelWrapper, node, device: dict) -> tuple[dict, str]:
    """The uncalibrated per-op formulas (FINN's where they model our RTL, ours elsewhere): what the estimate
    was before the Yosys calibration, kept for comparison (benchmarks/calibrate.py's "before")."""
    from ..rtlgen import layers_dataflow

    inst = getCustomOp(node)
    op = base_op(node)
    family, part = device.get("family", "xilinx"), device["part"]
    if op == "MVAU":
        cost, formula = _mvau(model, node, inst, family, part)
    elif op == "Thresholding":
        cost, formula = _thresholding(model, node, inst, family, part)
    elif op == "StreamingFIFO":
        cost, formula = _fifo(model, node, inst, family, part)
    elif op == "StreamingDataWidthConverter":
        cost, formula = _dwc(model, node, inst, family, part)
    elif op in layers_dataflow.supported_op_types():
        cost, formula = _dataflow(model, node, inst, family, part)
    else:
        cost, formula = dict.fromkeys(RESOURCE_KEYS, 0), "none (unknown op)"
    return {k: int(math.ceil(v)) for k, v in cost.items()}, formula


def layer_resources(model: ModelWrapper, node, device: dict, calibrated: bool = True,
                    rtl: tuple[str, dict] | None = None) -> tuple[dict, str]:
    """A layer's resources: the calibrated model where it has coefficients for the module and the device is
    a LUT6 (Xilinx) part, else the formulas (:func:`formula_resources`). ``rtl``: the node's
    :func:`rtl_params` where the caller has them already."""
    if calibrated:
        rtl = rtl or rtl_params(model, node)
        family = device.get("family", "xilinx")
        cost = None
        if rtl and family in CALIBRATED_FAMILIES:
            cost = calibrated_cost(*rtl, family, rtl_content(model, node, *rtl))
        if cost is not None:
            fit = calibration().get("fit", {})
            return ({k: int(math.ceil(v)) for k, v in cost.items()},
                    f"calibrated ({rtl[0]}: Yosys {fit.get('family', 'xc7')} fit, calibration.json)")
    return formula_resources(model, node, device)


def total_resources(model: ModelWrapper, device: dict) -> dict:
    total = dict.fromkeys(RESOURCE_KEYS, 0)
    for node in model.graph.node:
        total = _add(total, layer_resources(model, node, device)[0])
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
        kind = {"ElementwiseAdd": "branch", "ConvolutionInputGenerator": "generator input", "MVAU": "MVAU input"}.get(
            base_op(consumer) if consumer is not None else "", "other")
        rows.append({"name": node.name, "kind": kind, "depth": int(inst.get_nodeattr("depth")),
                     "width_bits": int(inst.get_instream_width_padded()),
                     "from": producer.name if producer is not None else None,
                     "to": consumer.name if consumer is not None else None,
                     "input": list(consumer.input).index(node.output[0]) if consumer is not None else None})
    return rows


def estimate(model: ModelWrapper, device: dict, fclk_mhz: float, rtl_names: dict[str, str] | None = None,
             folding: dict | None = None) -> dict:
    """The estimates.json document for a folded HW graph (FIFOs and DWCs inserted)."""
    cycles = {n.name: layer_cycles_of(model, n) for n in model.graph.node}
    layers, total = [], dict.fromkeys(RESOURCE_KEYS, 0)
    for node in model.graph.node:
        rtl = rtl_params(model, node)
        res, formula = layer_resources(model, node, device, rtl=rtl)
        total = _add(total, res)
        inst = getCustomOp(node)
        fold = {}
        for attr in ("PE", "SIMD", "depth", "inWidth", "outWidth"):
            try:
                fold[attr] = inst.get_nodeattr(attr)
            except AttributeError:
                pass
        if base_op(node) == "ConvolutionInputGenerator" and inst.get_nodeattr("parallel_window"):
            fold["parallel_window"] = 1
        extra = {}
        if rtl and rtl[0] in ("mvau", "thresholding") and rtl[1].get("N_STEPS"):
            p = rtl[1]
            extra["thresholds"] = (f"computed ({p['LINES']} line{'s' if p['LINES'] > 1 else ''})" if p.get("LINES")
                                   else f"searched ({p['N_STEPS']} steps)")
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
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

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
    from ..errors import InputFileError

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


__all__ = ["estimate", "write_report", "load_estimates", "total_resources", "layer_resources", "memory_cost",
           "dwc_cycles"]
