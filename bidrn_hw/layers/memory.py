"""Resource primitives the layer kinds' estimates are built from: block RAM aspects, memories by style, LUT-RAM
and logic ROMs as Yosys maps them, DSP slices of a multiplier, and the calibration coefficients
(``flow/calibration.json``, fitted by ``benchmarks/calibrate.py``; see ``flow/estimates.py`` for the model).

Memory mapping (:func:`memory_cost`): block RAM as 18-kbit blocks in the best of the 16384x1 ... 512x36
aspects (the same for ECP5's EBR); distributed memory as one LUT6 per bit per 64 words (LUT4 per bit per 16
words on ECP5); a one-word constant memory costs nothing (constants fold into logic).
"""
from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from .base import RESOURCE_KEYS

BRAM18_ASPECTS = [(16384, 1), (8192, 2), (4096, 4), (2048, 9), (1024, 18), (512, 36)]
CALIBRATION_FILE = Path(__file__).resolve().parent.parent / "flow" / "calibration.json"
CALIBRATED_FAMILIES = ("zynq7000", "zynq_us+", "alveo", "xilinx")  # LUT6 fabrics; ECP5 keeps the formulas
_CALIBRATION: dict | None = None


def clog2(n: int) -> int:
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


def multiplier_dsps(a_bits: int, b_bits: int, family: str = "xilinx") -> int:
    """DSP blocks of a signed a x b multiplier split over 25 x 18 signed slices (MULT18X18 on ECP5)."""
    da, db = (17, 17) if family == "ecp5" else (24, 17)
    return math.ceil((a_bits - 1) / da) * math.ceil((b_bits - 1) / db)


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


def styled(shape: tuple[int, int, bool] | None, style: str) -> str | None:
    """Where a memory of ``shape`` (width, depth, is a ROM) goes: "block", "ultra" or "lut" (LUT-RAM, or
    logic for a ROM), by its RAM_STYLE or, where that is "auto", by Yosys' library costs
    (:func:`yosys_block_ram`)."""
    if shape is None:
        return None
    if style == "auto":
        return "block" if yosys_block_ram(*shape) else "lut"
    return style if style in ("block", "ultra") else "lut"


def weight_rom_terms(width: int, words: int, where: str | None) -> tuple[dict, list]:
    """The calibrated terms of a weight ROM read synchronously (mvau.sv, vvau.sv) placed ``where``
    (:func:`styled`): in logic, ``w_rom`` (:func:`lut_rom`) and ``w_mux`` (the read mux across 64-word
    slices); in block RAM, one (width, words) block RAM and no terms."""
    terms = {"w_rom": 0, "w_mux": 0}
    if where == "block":
        return terms, [(width, words)]
    if where == "lut":
        terms = {"w_rom": lut_rom(width, words), "w_mux": width * (math.ceil(words / 64) - 1)}
    return terms, []


def lut_rom(width: int, depth: int) -> int:
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
