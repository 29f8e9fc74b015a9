"""Thresholds of an MVAU or a Thresholding layer, shared by both kinds: the widths of the values they
threshold, the table ``hls/threshold_search.sv`` stores (or the lines ``hls/threshold_lines.sv`` computes
them from: :mod:`.threshold_lines`), its memory files and parameters, and its resources (formula and the
calibrated model's terms).

Weights come from the node's initializer ``W`` (MW x MH) and thresholds ``T`` (MH x steps, or 1 x steps
shared by all channels). Thresholds are clipped to the searched values' range and only the window a value
can fall in is stored (:class:`ThresholdTable`): BiDRN's 255-step residual requantizations reach 24-255 of
their steps.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from qonnx.core.datatype import DataType
from qonnx.custom_op.registry import getCustomOp

from ..errors import UnsupportedError
from .base import RESOURCE_KEYS, add, signed_bits
from .memory import clog2, lut_rom, memory_cost, multiplier_dsps, rom_data_bits, rom_logic_luts, yosys_block_ram
from .threshold_lines import ThresholdLines, lines_for


# ------------------------------------------------------------------------------------------ widths
def padded_signed_bits(lo: int, hi: int) -> int:
    """:func:`~.base.signed_bits`, at least 2 (the generator's least signed width)."""
    return max(signed_bits(lo, hi), 2)


def hex_lines(words: list[list[int]], elem_bits: int) -> str:
    """One line per word; element 0 in the low bits; two's complement per element."""
    mask = (1 << elem_bits) - 1
    digits = max(1, -(-len(words[0]) * elem_bits // 4))
    lines = []
    for word in words:
        value = 0
        for i, e in enumerate(word):
            value |= (int(e) & mask) << (i * elem_bits)
        lines.append(f"{value:0{digits}x}")
    return "\n".join(lines) + "\n"


def dtype_bits(dt: DataType) -> tuple[int, int]:
    """(bits, signed) of a stream element; BIPOLAR is one unsigned bit (0 for -1)."""
    if dt == DataType["BIPOLAR"]:
        return 1, 0
    return dt.bitwidth(), int(dt.signed())


def act_val(inst, odt: DataType) -> int:
    return 0 if odt == DataType["BIPOLAR"] else int(inst.get_nodeattr("ActVal"))


def mvau_widths(inst) -> dict:
    """What mvau.sv computes with, from an MVAU node's types: XNOR mode, input and weight bits and signedness,
    the accumulator's range (ACC_LO, ACC_HI) and width. Shared by the generator, the estimator and the
    threshold tables."""
    mw = inst.get_nodeattr("MW")
    idt, wdt = inst.get_input_datatype(0), DataType[inst.get_nodeattr("weightDataType")]
    xnor = int(inst.get_nodeattr("binaryXnorMode")) or (idt == DataType["BIPOLAR"] and wdt == DataType["BIPOLAR"])
    if xnor:
        in_bits, in_signed, w_bits, w_signed = 1, 0, 1, 0
        acc_lo, acc_hi = 0, mw
    else:
        in_bits, in_signed = dtype_bits(idt)
        # Integer mode: weights are stored as their values, except BIPOLAR (-1/+1) weights: their 1-bit {0,1}
        # codes (mvau.sv W_BIPOLAR: each product +x or -x), half the memory of 2-bit signed values.
        w_bits, w_signed = dtype_bits(wdt)
        products = [a * b for a in (idt.min(), idt.max()) for b in (wdt.min(), wdt.max())]
        acc_lo, acc_hi = int(min(products)) * mw, int(max(products)) * mw
        # The flow's accumulator type (flow.lower.MinimizeOutputWidth: the range the actual weights reach
        # with the input's type) bounds it further; two's-complement accumulation wraps harmlessly in between,
        # so ACC_BITS holding the final value is exact. FINN's default INT32 changes nothing.
        adt = DataType[inst.get_nodeattr("accDataType")]
        if adt.is_integer() and adt.bitwidth() < padded_signed_bits(min(acc_lo, 0), acc_hi):
            acc_lo, acc_hi = max(acc_lo, int(adt.min())), min(acc_hi, int(adt.max()))
    return dict(XNOR=int(bool(xnor)), IN_BITS=in_bits, IN_SIGNED=in_signed, W_BITS=w_bits, W_SIGNED=w_signed,
                W_BIPOLAR=int(not xnor and wdt == DataType["BIPOLAR"]),
                ACC_LO=acc_lo, ACC_HI=acc_hi, ACC_BITS=padded_signed_bits(min(acc_lo, 0), acc_hi))


def threshold_range(inst, node) -> tuple[int, int, int, int]:
    """(channels, lo, hi, min_bits) of the values a node thresholds: an MVAU's accumulator, a Thresholding
    node's input type; min_bits is the least threshold width the generator gives them (THR_BITS)."""
    if node.op_type.startswith("MVAU"):
        wd = mvau_widths(inst)
        return inst.get_nodeattr("MH"), wd["ACC_LO"], wd["ACC_HI"], wd["ACC_BITS"] + 1
    idt = inst.get_input_datatype(0)
    return inst.get_nodeattr("NumChannels"), int(idt.min()), int(idt.max()), dtype_bits(idt)[0] + 1


# ------------------------------------------------------------------------------------------ stored tables
@dataclass(frozen=True)
class ThresholdTable:
    """A node's thresholds as threshold_search.sv stores them. Clipped to the searched values' range
    [lo, hi + 1] (acc >= t <=> acc >= ceil(t) for integers), a channel's sorted row is ``b`` thresholds at lo
    (always passed), the thresholds a value can fall between, and thresholds at hi + 1 (never passed). Only
    the middle, the window, is searched: ``rows`` holds each channel's window padded with hi + 1 to the
    widest one (one row for all channels where the node shares one), ``base`` the counts below it; the output
    is base + (thresholds of the window passed) + ActVal, the same count as the full row."""
    rows: np.ndarray   # (1 or channels, steps) int64
    base: np.ndarray   # (channels,) int64
    bits: int          # signed width of a threshold

    @property
    def steps(self) -> int:
        return int(self.rows.shape[1])

    @property
    def shared(self) -> bool:
        return self.rows.shape[0] == 1

    @property
    def base_offset(self) -> int:
        """The part of the base every channel has (added to ActVal)."""
        return int(self.base.min())

    @property
    def base_bits(self) -> int:
        """Width of the per-channel base memory; 0 where every channel has the same base."""
        spread = int(self.base.max()) - self.base_offset
        return int(spread).bit_length() if spread else 0


def clipped_thresholds(model, node, channels: int, lo: int, hi: int) -> np.ndarray:
    """The node's thresholds (its last input) as integers for integer values in [lo, hi]: ceiled (acc >= t
    <=> acc >= ceil(t)) and clipped to [lo, hi + 1]; rows checked sorted."""
    thr = model.get_initializer(node.input[-1])
    if thr is None:
        raise UnsupportedError(f"node {node.name}: thresholds are not a constant initializer")
    thr = np.asarray(thr, dtype=np.float64)
    if thr.ndim != 2 or thr.shape[0] not in (1, channels):
        raise UnsupportedError(f"node {node.name}: thresholds of shape {list(thr.shape)}; expected "
                               f"[{channels}, steps] or [1, steps]")
    thr = np.clip(np.ceil(thr), lo, hi + 1).astype(np.int64)
    if np.any(np.diff(thr, axis=1) < 0):
        bad = int(np.argwhere(np.diff(thr, axis=1) < 0)[0][0])
        raise UnsupportedError(f"node {node.name}: thresholds of channel {bad} are not sorted ascending "
                               f"(the RTL searches them; MultiThreshold semantics need them sorted)")
    return thr


def threshold_table(model, node, channels: int, lo: int, hi: int, min_bits: int = 2) -> ThresholdTable:
    """The node's thresholds (its last input) as a :class:`ThresholdTable` for values in [lo, hi]."""
    thr = clipped_thresholds(model, node, channels, lo, hi)
    below = (thr <= lo).sum(axis=1)
    inside = ((thr > lo) & (thr <= hi)).sum(axis=1)
    steps = max(1, int(inside.max()))
    k = np.arange(steps)[None, :]
    window = np.take_along_axis(thr, np.minimum(below[:, None] + k, thr.shape[1] - 1), axis=1)
    rows = np.where(k < inside[:, None], window, hi + 1)
    base = np.broadcast_to(below, (channels,)).astype(np.int64)
    return ThresholdTable(rows, base, max(padded_signed_bits(lo, hi + 1), min_bits))


def threshold_files(table: ThresholdTable, pe: int, name: str = "thresholds.mem") -> dict[str, str]:
    """threshold_search.sv's memory files of a table: the stage files (lane 0 only where shared) and, where
    the base differs between channels, one base file per lane (``name.bPPP``: line nf = channel nf*PE + p,
    less the common offset)."""
    files = search_stage_files(table.rows, 1 if table.shared else pe, table.bits, name)
    for p, words in base_words(table, pe).items():
        files[f"{name}.b{p:03d}"] = hex_lines([[int(v)] for v in words], table.base_bits)
    return files


def search_params(table: ThresholdTable, act_val: int) -> dict:
    """threshold_search.sv's parameters for a table (the common base folded into ACT_VAL)."""
    return dict(N_STEPS=table.steps, THR_BITS=table.bits, ACT_VAL=act_val + table.base_offset,
                SHARED=int(table.shared), BASE_BITS=table.base_bits, THRESH_FILE="thresholds.mem")


def search_stage_words(thr: np.ndarray, pe: int, bits: int) -> dict[tuple[int, int], np.ndarray]:
    """The words of threshold_search.sv's stage memories, per (stage j, lane p): word r*2^j + k is threshold
    k*2^(S-j) + 2^(S-1-j) - 1 of row r*PE + p (rows: channels, or one shared row with pe = 1) as a
    ``bits``-bit two's complement, or +infinity (bit ``bits`` set) past the last one."""
    channels, steps = thr.shape
    nf = channels // pe
    stages = max(1, int(steps).bit_length())  # clog2(steps + 1)
    inf = 1 << bits
    padded = np.concatenate([thr & (inf - 1), np.full((channels, 1), inf, dtype=np.int64)], axis=1)
    words = {}
    for j in range(stages):
        idx = np.arange(1 << j) * (1 << (stages - j)) + (1 << (stages - 1 - j)) - 1
        idx = np.minimum(idx, steps)  # past the last threshold: the +infinity column
        for p in range(pe):
            words[j, p] = padded[p::pe][:nf][:, idx].reshape(-1)
    return words


def search_stage_files(thr: np.ndarray, pe: int, bits: int, name: str = "thresholds.mem") -> dict[str, str]:
    """Memory files of threshold_search.sv (:func:`search_stage_words`), one per stage j and lane p: stage 0
    of lane 0 is ``name``, the others ``name.sJJpPPP``."""
    if pe > 999:
        raise UnsupportedError(f"PE {pe}: threshold memories are named with 3-digit lane numbers (PE <= 999)")
    return {name if j == p == 0 else f"{name}.s{j:02d}p{p:03d}": hex_lines([[int(v)] for v in words], bits + 1)
            for (j, p), words in search_stage_words(thr, pe, bits).items()}


def base_words(table: ThresholdTable, pe: int) -> dict[int, np.ndarray]:
    """The per-channel base counts of each lane (word nf = channel nf*PE + p, less the common offset); none
    where every channel has the same base."""
    if not table.base_bits:
        return {}
    return {p: table.base[p::pe] - table.base_offset for p in range(pe)}


def node_threshold_table(model, node, inst=None) -> ThresholdTable:
    """The threshold table of an MVAU (over its accumulator's range) or a Thresholding node (over its input
    type's range), as the generator stores it."""
    inst = inst or getCustomOp(node)
    channels, lo, hi, min_bits = threshold_range(inst, node)
    return threshold_table(model, node, channels, lo, hi, min_bits)


def node_threshold_lines(model, node, inst=None) -> ThresholdLines | None:
    """The lines threshold_lines.sv computes the node's thresholds from, or None where the table is stored
    (:func:`.threshold_lines.lines_for`)."""
    inst = inst or getCustomOp(node)
    channels, lo, hi, _ = threshold_range(inst, node)
    return lines_for(clipped_thresholds(model, node, channels, lo, hi), lo, hi)


def estimate_params(model, node, inst) -> dict:
    """The thresholds' parameters as the generator gives them: LINES, M_BITS, C_BITS and SHIFT where it
    computes them from lines (:func:`node_threshold_lines`), else N_STEPS, THR_BITS, SHARED and BASE_BITS
    of the table it stores (:func:`node_threshold_table`: only the window of thresholds a value can fall
    in)."""
    lines = node_threshold_lines(model, node, inst)
    if lines is not None:
        return dict(N_STEPS=lines.n_steps, THR_BITS=threshold_range(inst, node)[3], SHARED=0, BASE_BITS=0,
                    LINES=lines.lines, M_BITS=lines.m_bits, C_BITS=lines.c_bits, SHIFT=lines.shift)
    table = node_threshold_table(model, node, inst)
    return dict(N_STEPS=table.steps, THR_BITS=table.bits, SHARED=int(table.shared), BASE_BITS=table.base_bits)


def report_extra(p: dict) -> dict:
    """The "thresholds" column of a layer's estimate row."""
    if not p.get("N_STEPS"):
        return {}
    return {"thresholds": (f"computed ({p['LINES']} line{'s' if p['LINES'] > 1 else ''})" if p.get("LINES")
                           else f"searched ({p['N_STEPS']} steps)")}


# ------------------------------------------------------------------------------------------ formulas
def search_registers(pe: int, stages: int, val_bits: int, word_bits: int) -> int:
    """Registers of threshold_search.sv: per lane and stage three positions of the searched value and the
    count, plus the read and its output register (``word_bits`` wide)."""
    return pe * stages * (3 * val_bits + 2 * word_bits + 3 * (stages + 1))


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
    steps = clog2(n_steps + 1)
    words = 16 if family == "ecp5" else 64
    if rows < 128:
        lookup = sum(math.ceil(rows * min(2 ** j, n_steps) / words) for j in range(steps))
    else:
        cost = memory_cost(pe * n_steps * thr_bits, rows, "block", family)
        lookup = sum(math.ceil(min(2 ** j, n_steps) / 4) for j in range(steps))
    cost["LUT"] += pe * thr_bits * (steps + lookup)
    cost["FF"] += search_registers(pe, steps, thr_bits, thr_bits + 1)
    if base_bits:
        cost = add(cost, memory_cost(pe * base_bits, nf, "auto", family, rom=True))
        cost["FF"] += 3 * pe * base_bits
    return cost


def line_widths(val_bits: int, p: dict) -> dict:
    """threshold_lines.sv's widths: a channel's word, the product, the sum."""
    lw = p["M_BITS"] + p["C_BITS"]
    pw = val_bits + p["M_BITS"] + 1
    return dict(word=2 * lw + 1 if p["LINES"] == 2 else lw, prod=pw, sum=max(max(pw, p["C_BITS"]) + 1, 12))


def line_dsps(val_bits: int, p: dict, family: str = "xilinx") -> int:
    """DSP blocks of one lane's LINES multipliers (a ``val_bits`` value times an M_BITS + 1 signed slope)."""
    return p["LINES"] * multiplier_dsps(val_bits + 1, p["M_BITS"] + 1, family)


def lines_cost(pe: int, nf: int, val_bits: int, p: dict, family: str) -> dict:
    """Formula of threshold_lines.sv: per lane a ROM of nf words (``family``'s memory), the multipliers
    (:func:`line_dsps`), and the logic and registers the calibrated model counts (:func:`line_terms`'
    ``lin_add`` and ``lin_ff``) at one LUT and one FF per bit."""
    terms, _ = line_terms(pe, nf, val_bits, p)
    cost = dict.fromkeys(RESOURCE_KEYS, 0)
    for _ in range(pe):
        cost = add(cost, memory_cost(line_widths(val_bits, p)["word"], nf, "auto", family, rom=True))
    cost["DSP"] += pe * line_dsps(val_bits, p, family)
    cost["LUT"] += terms["lin_add"]
    cost["FF"] += terms["lin_ff"]
    return cost


def formula(p: dict, nf: int, val_bits: int, family: str) -> dict:
    """The formula cost of a layer's thresholds: computed from lines or searched in a table."""
    if p.get("LINES"):
        return lines_cost(p["PE"], nf, val_bits, p, family)
    return threshold_cost(p["PE"], nf, p["N_STEPS"], p["THR_BITS"], family, p["SHARED"], p["BASE_BITS"])


# ------------------------------------------------------------------------------------------ calibrated terms
def threshold_rom_usage(table, pe: int) -> tuple[int, list]:
    """(LUT6 of a threshold table's search ROMs kept in logic (:func:`~.memory.rom_logic_luts`), (width,
    depth) of those in block RAM), over the stages and base counts of every lane. Block RAM or logic is
    decided as Yosys does, on the data bits left after the constant ones are dropped
    (:func:`~.memory.rom_data_bits`), which is also the block RAM's width. A shared row is one ROM per lane,
    all with the contents of lane 0."""
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


def content(model, node, p: dict) -> dict:
    """What the calibrated model reads from a layer's threshold memories rather than its parameters: the
    ROMs' LUT6 in logic (``thr_rom``) and their block RAMs (``thr_brams``: [width, depth] each), by
    :func:`threshold_rom_usage`; {} where the thresholds are computed from lines or there are none."""
    if not p["N_STEPS"] or p.get("LINES"):
        return {}
    luts, brams = threshold_rom_usage(node_threshold_table(model, node), p["PE"])
    return {"thr_rom": luts, "thr_brams": [list(b) for b in brams]}


def search_terms(pe: int, nf: int, n_steps: int, val_bits: int, thr_bits: int, shared: int = 0,
                 base_bits: int = 0, content: dict | None = None) -> tuple[dict, list]:
    """threshold_search.sv: S stages of a comparison (``cmp``: comparator bits), a ROM of rows * 2^j
    thresholds per stage and lane (rows = nf, or 1 where shared; ``thr_rom``: its LUT6 where Yosys keeps it
    in logic, block RAM where that is cheaper; the per-channel base counts' ROM of nf words joins it), the
    pipeline registers (``thr_ff``: three positions a stage, each with the searched value and the count, and
    the read plus its output register; the base's three registers) and the read address adders
    (``thr_addr``: their bits). ``content`` (:func:`content`) replaces the ROMs' LUT6 and block RAMs,
    counted here from the parameters, by the counts from their contents."""
    if n_steps == 0:
        return {"cmp": 0, "thr_rom": 0, "thr_ff": 0, "thr_addr": 0}, []
    s = clog2(n_steps + 1) if n_steps > 1 else 1
    cw, tw = max(val_bits, thr_bits) + 1, thr_bits + 1
    rows = 1 if shared else nf
    roms = [(tw, rows << j) for j in range(s)] + ([(base_bits, nf)] if base_bits else [])
    rom, brams = 0, []
    for width, depth in roms:
        if yosys_block_ram(width, depth, rom=True):
            brams += [(width, depth)] * pe
        else:
            rom += pe * lut_rom(width, depth)
    if content:
        rom, brams = content["thr_rom"], [tuple(b) for b in content["thr_brams"]]
    addr = pe * sum(clog2(rows << j) for j in range(s))  # each stage's read address: fold and count bits added
    return {"cmp": pe * s * cw, "thr_rom": rom, "thr_ff": search_registers(pe, s, val_bits, tw) + 3 * pe * base_bits,
            "thr_addr": addr}, brams


def terms(p: dict, nf: int, val_bits: int, content: dict | None) -> tuple[dict, list]:
    """The calibrated terms (and block RAMs) of a layer's thresholds: computed from lines or searched."""
    if p.get("LINES"):
        return line_terms(p["PE"], nf, val_bits, p)
    return search_terms(p["PE"], nf, p["N_STEPS"], val_bits, p["THR_BITS"], p.get("SHARED", 0),
                        p.get("BASE_BITS", 0), content)


def line_terms(pe: int, nf: int, val_bits: int, p: dict) -> tuple[dict, list]:
    """threshold_lines.sv: per lane a ROM of nf channel words (``lin_rom``: LUT6 where Yosys keeps it in
    logic, else block RAM), the adders and comparisons (``lin_add``: an offset adder per line, the min/max
    where there are two, the clamp; their bits), the adders of partial products where a multiplier spans
    several DSPs (``lin_mul``: product bits per extra DSP) and the registers (``lin_ff``). The multipliers
    are DSPs (:func:`lines_dsp_cost`)."""
    w = line_widths(val_bits, p)
    rom, brams = 0, []
    if nf > 1 and yosys_block_ram(w["word"], nf, rom=True):
        brams = [(w["word"], nf)] * pe
    elif nf > 1:
        rom = pe * lut_rom(w["word"], nf)
    # a product wider than one DSP is summed from partial products in the fabric (Yosys' mul2dsp)
    partial = line_dsps(val_bits, p) // p["LINES"] - 1
    return {"lin_rom": rom, "lin_add": pe * (2 * p["LINES"] * w["sum"] + p["OUT_BITS"]),
            "lin_mul": pe * p["LINES"] * partial * w["prod"],
            "lin_ff": pe * (3 * val_bits + 2 * w["word"] + p["LINES"] * (w["prod"] + p["C_BITS"] + w["sum"])
                            + p["OUT_BITS"])}, brams


def lines_dsp_cost(p: dict, val_bits: int, cost: dict) -> dict:
    """The calibrated cost with the line multipliers' DSPs added (outside the fit)."""
    if p.get("LINES"):
        cost["DSP"] += p["PE"] * line_dsps(val_bits, p)
    return cost
