"""FINN compute layers (MVAU, Thresholding, StreamingFIFO) -> our RTL modules, parameters and memory files.

Weights come from the node's initializer ``W`` (MW x MH) and thresholds ``T`` (MH x steps, or 1 x steps
shared by all channels), laid out as ``hls/mvau.sv`` and ``hls/thresholding.sv`` document. Thresholds are
clipped to the searched values' range and only the window a value can fall in is stored
(:class:`ThresholdTable`): BiDRN's 255-step residual requantizations reach 24-255 of their steps.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from qonnx.core.datatype import DataType
from qonnx.custom_op.registry import getCustomOp

from ..errors import UnsupportedError
from ..flow.memory_styles import ram_style, rtl_ram_style
from .stitch import WEIGHT_WORD_BITS, LayerRTL
from .threshold_lines import ThresholdLines, line_files, line_params, lines_for


def _signed_bits(lo: int, hi: int) -> int:
    bits = 1
    while not (-(1 << (bits - 1)) <= lo and hi <= (1 << (bits - 1)) - 1):
        bits += 1
    return max(bits, 2)


def _hex_lines(words: list[list[int]], elem_bits: int) -> str:
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


def _dtype_bits(dt: DataType) -> tuple[int, int]:
    if dt == DataType["BIPOLAR"]:
        return 1, 0
    return dt.bitwidth(), int(dt.signed())


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
    return ThresholdTable(rows, base, max(_signed_bits(lo, hi + 1), min_bits))


def threshold_files(table: ThresholdTable, pe: int, name: str = "thresholds.mem") -> dict[str, str]:
    """threshold_search.sv's memory files of a table: the stage files (lane 0 only where shared) and, where
    the base differs between channels, one base file per lane (``name.bPPP``: line nf = channel nf*PE + p,
    less the common offset)."""
    files = search_stage_files(table.rows, 1 if table.shared else pe, table.bits, name)
    for p, words in base_words(table, pe).items():
        files[f"{name}.b{p:03d}"] = _hex_lines([[int(v)] for v in words], table.base_bits)
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
    return {name if j == p == 0 else f"{name}.s{j:02d}p{p:03d}": _hex_lines([[int(v)] for v in words], bits + 1)
            for (j, p), words in search_stage_words(thr, pe, bits).items()}


def base_words(table: ThresholdTable, pe: int) -> dict[int, np.ndarray]:
    """The per-channel base counts of each lane (word nf = channel nf*PE + p, less the common offset); none
    where every channel has the same base."""
    if not table.base_bits:
        return {}
    return {p: table.base[p::pe] - table.base_offset for p in range(pe)}


def _act_val(inst, odt: DataType) -> int:
    return 0 if odt == DataType["BIPOLAR"] else int(inst.get_nodeattr("ActVal"))


def mvau_widths(inst) -> dict:
    """What mvau.sv computes with, from an MVAU node's types: XNOR mode, input and weight bits and signedness,
    the accumulator's range (ACC_LO, ACC_HI) and width. Shared by the generator, the estimator
    (``flow.estimates.mvau_params``) and the threshold tables."""
    mw = inst.get_nodeattr("MW")
    idt, wdt = inst.get_input_datatype(0), DataType[inst.get_nodeattr("weightDataType")]
    xnor = int(inst.get_nodeattr("binaryXnorMode")) or (idt == DataType["BIPOLAR"] and wdt == DataType["BIPOLAR"])
    if xnor:
        in_bits, in_signed, w_bits, w_signed = 1, 0, 1, 0
        acc_lo, acc_hi = 0, mw
    else:
        in_bits, in_signed = _dtype_bits(idt)
        # Integer mode: weights are stored as their values, so BIPOLAR (-1/+1) needs 2-bit signed (the 1-bit
        # {0,1} code of _dtype_bits is the XNOR encoding, where a -1 weight would read as +1 here).
        w_bits, w_signed = (2, 1) if wdt == DataType["BIPOLAR"] else _dtype_bits(wdt)
        products = [a * b for a in (idt.min(), idt.max()) for b in (wdt.min(), wdt.max())]
        acc_lo, acc_hi = int(min(products)) * mw, int(max(products)) * mw
        # The flow's accumulator type (flow.lower.MinimizeOutputWidth: the range the actual weights reach
        # with the input's type) bounds it further; two's-complement accumulation wraps harmlessly in between,
        # so ACC_BITS holding the final value is exact. FINN's default INT32 changes nothing.
        adt = DataType[inst.get_nodeattr("accDataType")]
        if adt.is_integer() and adt.bitwidth() < _signed_bits(min(acc_lo, 0), acc_hi):
            acc_lo, acc_hi = max(acc_lo, int(adt.min())), min(acc_hi, int(adt.max()))
    return dict(XNOR=int(bool(xnor)), IN_BITS=in_bits, IN_SIGNED=in_signed, W_BITS=w_bits, W_SIGNED=w_signed,
                ACC_LO=acc_lo, ACC_HI=acc_hi, ACC_BITS=_signed_bits(min(acc_lo, 0), acc_hi))


def threshold_range(inst, node) -> tuple[int, int, int, int]:
    """(channels, lo, hi, min_bits) of the values a node thresholds: an MVAU's accumulator, a Thresholding
    node's input type; min_bits is the least threshold width the generator gives them (THR_BITS)."""
    if node.op_type.startswith("MVAU"):
        wd = mvau_widths(inst)
        return inst.get_nodeattr("MH"), wd["ACC_LO"], wd["ACC_HI"], wd["ACC_BITS"] + 1
    idt = inst.get_input_datatype(0)
    return inst.get_nodeattr("NumChannels"), int(idt.min()), int(idt.max()), _dtype_bits(idt)[0] + 1


def node_threshold_table(model, node, inst=None) -> ThresholdTable:
    """The threshold table of an MVAU (over its accumulator's range) or a Thresholding node (over its input
    type's range), as the generator stores it."""
    inst = inst or getCustomOp(node)
    channels, lo, hi, min_bits = threshold_range(inst, node)
    return threshold_table(model, node, channels, lo, hi, min_bits)


def node_threshold_lines(model, node, inst=None) -> ThresholdLines | None:
    """The lines threshold_lines.sv computes the node's thresholds from, or None where the table is stored
    (:func:`rtlgen.threshold_lines.lines_for`)."""
    inst = inst or getCustomOp(node)
    channels, lo, hi, _ = threshold_range(inst, node)
    return lines_for(clipped_thresholds(model, node, channels, lo, hi), lo, hi)


# The compile's target family, kept in the model's metadata (set by bidrn_hw.flow.build.fold and the whole-frame
# estimate before folding) so that the generator and the estimator see the same target.
TARGET_FAMILY = "bidrn_hw_target_family"
DSP48E2_FAMILIES = ("zynq_us+", "alveo")  # UltraScale+: 27 x 18-bit multipliers


def set_target_family(model, family: str) -> None:
    model.set_metadata_prop(TARGET_FAMILY, family)


def pack_products(model, inst, wd: dict | None = None) -> int:
    """1 where mvau.sv should compute two PE lanes' products per multiplier (its PACK parameter): integer
    products that Yosys maps to DSPs (both operands 2 bits or more), a DSP48E2 target, and operands that fit
    it: the input in the 18-bit port, the packed weight (IN_BITS + 2 * W_BITS + 2 bits) in the 27-bit one."""
    wd = wd or mvau_widths(inst)
    if model.get_metadata_prop(TARGET_FAMILY) not in DSP48E2_FAMILIES or wd["XNOR"] or inst.get_nodeattr("PE") < 2:
        return 0
    in_bits, w_bits = wd["IN_BITS"], wd["W_BITS"]
    return int(in_bits >= 2 and w_bits >= 2 and in_bits + 1 <= 18 and in_bits + 2 * w_bits + 2 <= 27)


def mvau(model, node) -> LayerRTL:
    inst = getCustomOp(node)
    mw, mh, simd, pe = (inst.get_nodeattr(k) for k in ("MW", "MH", "SIMD", "PE"))
    if mw % simd or mh % pe:
        raise UnsupportedError(f"node {node.name}: SIMD {simd} must divide MW {mw} and PE {pe} must divide MH {mh}")
    wd = mvau_widths(inst)
    xnor, in_bits, w_bits, acc_bits = wd["XNOR"], wd["IN_BITS"], wd["W_BITS"], wd["ACC_BITS"]
    w = np.asarray(model.get_initializer(node.input[1]), dtype=np.float64)
    if xnor and inst.get_nodeattr("weightDataType") == "BIPOLAR":
        w = (w + 1) / 2  # {0,1} codes
    w_int = np.round(w).astype(np.int64)
    sf, nf = mw // simd, mh // pe
    words = [[w_int[s * simd + j, n * pe + p] for p in range(pe) for j in range(simd)]
             for n in range(nf) for s in range(sf)]
    name = node.name
    memfiles = {"weights.mem": _hex_lines(words, w_bits)}
    params = dict(MW=mw, MH=mh, SIMD=simd, PE=pe, IN_BITS=in_bits, IN_SIGNED=wd["IN_SIGNED"], W_BITS=w_bits,
                  W_SIGNED=wd["W_SIGNED"], XNOR=xnor, ACC_BITS=acc_bits, WEIGHT_FILE="weights.mem",
                  RAM_STYLE=rtl_ram_style(node))
    if pack_products(model, inst, wd):
        params["PACK"] = 1
    sources = ["mvau"]
    if params["RAM_STYLE"] == "ultra":  # no initial contents: loaded after reset from the weight stream
        family = model.get_metadata_prop(TARGET_FAMILY)
        if family not in DSP48E2_FAMILIES:
            raise UnsupportedError(f"node {name}: ram_style='ultra' (UltraRAM weights, loaded after reset) needs an "
                                   f"UltraScale+ part (xczu7ev, xcu250), not the {family or 'default'} target")
        params.update(W_LOAD=1, W_WORD_BITS=WEIGHT_WORD_BITS)
        sources.append("weight_loader")
    odt = inst.get_output_datatype(0)
    if inst.get_nodeattr("noActivation") == 0:
        lines = node_threshold_lines(model, node, inst)
        if lines is not None:
            memfiles.update(line_files(lines, pe))
            params.update(OUT_BITS=_dtype_bits(odt)[0], THR_BITS=acc_bits + 1,
                          **line_params(lines, _act_val(inst, odt)))
            return LayerRTL("mvau", params, memfiles, sources + ["threshold_lines"])
        table = node_threshold_table(model, node, inst)
        memfiles.update(threshold_files(table, pe))
        params.update(OUT_BITS=_dtype_bits(odt)[0], **search_params(table, _act_val(inst, odt)))
    else:
        params.update(N_STEPS=0, THR_BITS=acc_bits + 1, OUT_BITS=_dtype_bits(odt)[0], ACT_VAL=0, SHARED=0, BASE_BITS=0)
        if params["OUT_BITS"] < acc_bits:
            raise UnsupportedError(f"node {name}: output type {odt.name} narrower than the accumulator "
                                   f"({acc_bits} bits)")
    return LayerRTL("mvau", params, memfiles, sources + (["threshold_search"] if params["N_STEPS"] else []))


def thresholding(model, node) -> LayerRTL:
    inst = getCustomOp(node)
    ch, pe = inst.get_nodeattr("NumChannels"), inst.get_nodeattr("PE")
    if ch % pe:
        raise UnsupportedError(f"node {node.name}: PE {pe} must divide NumChannels {ch}")
    idt, odt = inst.get_input_datatype(0), inst.get_output_datatype(0)
    in_bits, in_signed = _dtype_bits(idt)
    if idt == DataType["BIPOLAR"]:
        raise UnsupportedError(f"node {node.name}: thresholding a BIPOLAR stream is not supported")
    params = dict(CH=ch, PE=pe, IN_BITS=in_bits, IN_SIGNED=in_signed, OUT_BITS=_dtype_bits(odt)[0])
    lines = node_threshold_lines(model, node, inst)
    if lines is not None:
        params.update(THR_BITS=in_bits + 1, **line_params(lines, _act_val(inst, odt)))
        return LayerRTL("thresholding", params, line_files(lines, pe), ["thresholding", "threshold_lines"])
    table = node_threshold_table(model, node, inst)
    params.update(search_params(table, _act_val(inst, odt)))
    return LayerRTL("thresholding", params, threshold_files(table, pe), ["thresholding", "threshold_search"])


def fifo_params(node) -> dict:
    inst = getCustomOp(node)
    return dict(WIDTH=inst.get_instream_width_padded(0), DEPTH=int(inst.get_nodeattr("depth")),
                RAM_STYLE=ram_style(node))


def streaming_fifo(model, node) -> LayerRTL:
    return LayerRTL("fifo", fifo_params(node))


MAPPERS = {"MVAU": mvau, "Thresholding": thresholding, "StreamingFIFO": streaming_fifo}
