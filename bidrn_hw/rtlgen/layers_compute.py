"""FINN compute layers (MVAU, Thresholding, StreamingFIFO) -> our RTL modules, parameters and memory files.

Weights come from the node's initializer ``W`` (MW x MH) and thresholds ``T`` (MH x steps, or 1 x steps
shared by all channels), laid out as ``hls/mvau.sv`` and ``hls/thresholding.sv`` document. Thresholds are
clipped to the accumulator's range (a threshold above every reachable value becomes max + 1), so they fit
``ACC_BITS + 1`` bits whatever the float values were.
"""
from __future__ import annotations

import numpy as np
from qonnx.core.datatype import DataType
from qonnx.custom_op.registry import getCustomOp

from ..errors import UnsupportedError
from .stitch import LayerRTL


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


def _thresholds(model, node, channels: int, pe: int, acc_lo: int, acc_hi: int, min_bits: int = 2):
    """(steps, bits, memory files) of a node's thresholds, clipped to [acc_lo, acc_hi + 1], at least
    ``min_bits`` wide. The RTL binary-searches them, so each channel's row must be sorted ascending."""
    thr = model.get_initializer(node.input[-1])
    if thr is None:
        raise UnsupportedError(f"node {node.name}: thresholds are not a constant initializer")
    thr = np.asarray(thr, dtype=np.float64)
    if thr.shape[0] == 1 and channels > 1:
        thr = np.repeat(thr, channels, axis=0)
    # acc >= t  <=>  acc >= ceil(t) for integer acc; clip into [lo, hi + 1].
    thr = np.clip(np.ceil(thr), acc_lo, acc_hi + 1).astype(np.int64)
    if np.any(np.diff(thr, axis=1) < 0):
        bad = int(np.argwhere(np.diff(thr, axis=1) < 0)[0][0])
        raise UnsupportedError(f"node {node.name}: thresholds of channel {bad} are not sorted ascending "
                               f"(the RTL searches them; MultiThreshold semantics need them sorted)")
    steps = thr.shape[1]
    bits = max(_signed_bits(acc_lo, acc_hi + 1), min_bits)
    return steps, bits, search_stage_files(thr, pe, bits)


def search_stage_files(thr: np.ndarray, pe: int, bits: int, name: str = "thresholds.mem") -> dict[str, str]:
    """Memory files of threshold_search.sv, one per stage j and lane p: line nf*2^j + k holds threshold
    k*2^(S-j) + 2^(S-1-j) - 1 of channel nf*PE + p, or +infinity (bit ``bits`` set) past the last one.
    Stage 0 of lane 0 is ``name``, the others ``name.sJJpPPP``."""
    channels, steps = thr.shape
    nf = channels // pe
    stages = max(1, int(steps).bit_length())  # clog2(steps + 1)
    if pe > 999:
        raise UnsupportedError(f"PE {pe}: threshold memories are named with 3-digit lane numbers (PE <= 999)")
    inf = 1 << bits
    files = {}
    for j in range(stages):
        idx = np.arange(1 << j) * (1 << (stages - j)) + (1 << (stages - 1 - j)) - 1
        for p in range(pe):
            words = [[int(thr[n * pe + p][i]) & (inf - 1) if i < steps else inf] for n in range(nf) for i in idx]
            files[name if j == p == 0 else f"{name}.s{j:02d}p{p:03d}"] = _hex_lines(words, bits + 1)
    return files


def _act_val(inst, odt: DataType) -> int:
    return 0 if odt == DataType["BIPOLAR"] else int(inst.get_nodeattr("ActVal"))


def mvau(model, node) -> LayerRTL:
    inst = getCustomOp(node)
    mw, mh, simd, pe = (inst.get_nodeattr(k) for k in ("MW", "MH", "SIMD", "PE"))
    if mw % simd or mh % pe:
        raise UnsupportedError(f"node {node.name}: SIMD {simd} must divide MW {mw} and PE {pe} must divide MH {mh}")
    idt, wdt = inst.get_input_datatype(0), DataType[inst.get_nodeattr("weightDataType")]
    xnor = int(inst.get_nodeattr("binaryXnorMode")) or (idt == DataType["BIPOLAR"] and wdt == DataType["BIPOLAR"])
    w = np.asarray(model.get_initializer(node.input[1]), dtype=np.float64)
    if xnor:
        w = (w + 1) / 2 if wdt == DataType["BIPOLAR"] else w  # {0,1} codes
        in_bits, in_signed, w_bits, w_signed = 1, 0, 1, 0
        acc_lo, acc_hi = 0, mw
    else:
        in_bits, in_signed = _dtype_bits(idt)
        # Integer mode: weights are stored as their values, so BIPOLAR (-1/+1) needs 2-bit signed (the 1-bit
        # {0,1} code of _dtype_bits is the XNOR encoding, where a -1 weight would read as +1 here).
        w_bits, w_signed = (2, 1) if wdt == DataType["BIPOLAR"] else _dtype_bits(wdt)
        products = [a * b for a in (idt.min(), idt.max()) for b in (wdt.min(), wdt.max())]
        acc_lo, acc_hi = int(min(products)) * mw, int(max(products)) * mw
    acc_bits = _signed_bits(min(acc_lo, 0), acc_hi)
    w_int = np.round(w).astype(np.int64)
    sf, nf = mw // simd, mh // pe
    words = [[w_int[s * simd + j, n * pe + p] for p in range(pe) for j in range(simd)]
             for n in range(nf) for s in range(sf)]
    name = node.name
    memfiles = {"weights.mem": _hex_lines(words, w_bits)}
    params = dict(MW=mw, MH=mh, SIMD=simd, PE=pe, IN_BITS=in_bits, IN_SIGNED=in_signed, W_BITS=w_bits,
                  W_SIGNED=w_signed, XNOR=int(bool(xnor)), ACC_BITS=acc_bits, WEIGHT_FILE="weights.mem")
    odt = inst.get_output_datatype(0)
    if inst.get_nodeattr("noActivation") == 0:
        steps, thr_bits, files = _thresholds(model, node, mh, pe, acc_lo, acc_hi, min_bits=acc_bits + 1)
        memfiles.update(files)
        params.update(N_STEPS=steps, THR_BITS=thr_bits, OUT_BITS=_dtype_bits(odt)[0],
                      ACT_VAL=_act_val(inst, odt), THRESH_FILE="thresholds.mem")
    else:
        params.update(N_STEPS=0, THR_BITS=acc_bits + 1, OUT_BITS=_dtype_bits(odt)[0], ACT_VAL=0)
        if params["OUT_BITS"] < acc_bits:
            raise UnsupportedError(f"node {name}: output type {odt.name} narrower than the accumulator "
                                   f"({acc_bits} bits)")
    return LayerRTL("mvau", params, memfiles, ["mvau", "threshold_search"] if params["N_STEPS"] else ["mvau"])


def thresholding(model, node) -> LayerRTL:
    inst = getCustomOp(node)
    ch, pe = inst.get_nodeattr("NumChannels"), inst.get_nodeattr("PE")
    if ch % pe:
        raise UnsupportedError(f"node {node.name}: PE {pe} must divide NumChannels {ch}")
    idt, odt = inst.get_input_datatype(0), inst.get_output_datatype(0)
    in_bits, in_signed = _dtype_bits(idt)
    lo, hi = int(idt.min()), int(idt.max())
    if idt == DataType["BIPOLAR"]:
        raise UnsupportedError(f"node {node.name}: thresholding a BIPOLAR stream is not supported")
    steps, thr_bits, files = _thresholds(model, node, ch, pe, lo, hi, min_bits=in_bits + 1)
    params = dict(CH=ch, PE=pe, IN_BITS=in_bits, IN_SIGNED=in_signed, N_STEPS=steps, THR_BITS=thr_bits,
                  OUT_BITS=_dtype_bits(odt)[0], ACT_VAL=_act_val(inst, odt), THRESH_FILE="thresholds.mem")
    return LayerRTL("thresholding", params, files, ["thresholding", "threshold_search"])


def streaming_fifo(model, node) -> LayerRTL:
    inst = getCustomOp(node)
    return LayerRTL("fifo", dict(WIDTH=inst.get_instream_width_padded(0), DEPTH=int(inst.get_nodeattr("depth"))))


MAPPERS = {"MVAU": mvau, "Thresholding": thresholding, "StreamingFIFO": streaming_fifo}
