"""Resource primitives the layer kinds' estimates are built from: block RAM aspects, memories by style, LUT-RAM
and logic ROMs as Yosys maps them, DSP slices of a multiplier, and the calibration coefficients
(``flow/calibration.json``, fitted by ``benchmarks/calibrate.py``; see ``flow/estimates.py`` for the model).

Memory mapping (:func:`memory_cost`): block RAM as 18-kbit blocks in the best of the 16384x1 ... 512x36
aspects (the same for ECP5's EBR; "auto" on ECP5 is Yosys' choice, :func:`yosys_block_ram`); distributed memory as one LUT6 per bit per 64 words (LUT4 per bit per 16
words on ECP5); a one-word constant memory costs nothing (constants fold into logic).
"""
from __future__ import annotations

import json
import math
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path

import numpy as np

from .base import RESOURCE_KEYS

BRAM18_ASPECTS = [(16384, 1), (8192, 2), (4096, 4), (2048, 9), (1024, 18), (512, 36)]
CALIBRATION_FILE = Path(__file__).resolve().parent.parent / "flow" / "calibration.json"
CALIBRATED_FAMILIES = ("zynq7000", "zynq_us+", "alveo", "xilinx")  # LUT6 fabrics (Xilinx memory styles)
_CALIBRATION: dict | None = None
# The fabric the calibrated terms are counted for (:func:`fabric`): "xc7" (LUT6, synth_xilinx; every
# Xilinx family) or "ecp5" (LUT4, synth_ecp5). It decides how Yosys maps a memory (:func:`yosys_block_ram`)
# and how many LUTs a logic ROM or LUT-RAM takes; the kinds' ``terms`` read it through these functions.
_FABRIC: ContextVar[str] = ContextVar("fabric", default="xc7")
# per fabric: words of one LUT (LUT6 / LUT4), Yosys' library cost of one block RAM (RAMB18 / DP16KD) and of
# one bit of a ROM kept in logic (synth_xilinx passes -logic-cost-rom 1/64; synth_ecp5 keeps the default 1/16)
_LUT_WORDS = {"xc7": 64, "ecp5": 16}
_BRAM_COST = {"xc7": 129, "ecp5": 128}


def calibration_fabric(family: str) -> str | None:
    """The calibration.json fabric of a device family: "xc7" (Xilinx), "ecp5", None (no calibration)."""
    return "xc7" if family in CALIBRATED_FAMILIES else ("ecp5" if family == "ecp5" else None)


@contextmanager
def fabric(name: str):
    """Count memories and ROMs for ``name`` ("xc7" or "ecp5"; a device family is translated) inside the block."""
    name = calibration_fabric(name) or name
    if name not in _LUT_WORDS:
        raise ValueError(f"unknown fabric {name!r}")
    token = _FABRIC.set(name)
    try:
        yield name
    finally:
        _FABRIC.reset(token)


def current_fabric() -> str:
    return _FABRIC.get()


def clog2(n: int) -> int:
    return max(1, math.ceil(math.log2(max(n, 2))))


def bram18(width: int, depth: int) -> int:
    return min(math.ceil(depth / d) * math.ceil(width / w) for d, w in BRAM18_ASPECTS)


def memory_cost(width: int, depth: int, style: str = "auto", family: str = "xilinx", rom: bool = False) -> dict:
    """Resources of a ``depth`` x ``width`` memory (ROM when ``rom``: a one-word ROM is free)."""
    cost = dict.fromkeys(RESOURCE_KEYS, 0)
    if width <= 0 or depth <= 0 or (rom and depth == 1):
        return cost
    if style == "auto" and family == "ecp5":  # what synth_ecp5's memory_libmap picks (yosys_block_ram)
        with fabric("ecp5"):
            style = "block" if yosys_block_ram(width, depth, rom) else "distributed"
    elif style == "auto":
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


def calibration(fab: str = "xc7") -> dict:
    """The fitted coefficients of a fabric ({"fit": ..., "models": ...}; ``{}`` when absent: the formulas are
    used). calibration.json holds the Xilinx fit at its top level and the ECP5 fit under "ecp5"."""
    global _CALIBRATION
    if _CALIBRATION is None:
        _CALIBRATION = json.loads(CALIBRATION_FILE.read_text()) if CALIBRATION_FILE.is_file() else {}
    if fab == "xc7":
        return {k: v for k, v in _CALIBRATION.items() if k in ("fit", "models")}
    return _CALIBRATION.get(fab, {})


def lutram_luts(width: int, depth: int) -> int:
    """LUTs of a simple dual-port LUT-RAM as Yosys builds it on Xilinx: RAM32M (32 words x 6 bits) or RAM64M
    (64 x 3) of 4 LUTs each, 64-word slices side by side for deeper memories. On ECP5: TRELLIS_DPR16X4 (16
    words x 4 bits), 6 LUT4 each as nextpnr counts them (4 RAM + 2 RAMW; ``fpga.xilinx._CELL_UNITS``)."""
    if _FABRIC.get() == "ecp5":
        return 6 * math.ceil(depth / 16) * math.ceil(width / 4)
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
    fab = _FABRIC.get()
    if fab == "ecp5":
        # DP16KD (cost 128) against a ROM's 1/16 per bit of logic, or TRELLIS_DPR16X4 (cost 4 each) plus the
        # read mux across 16-word banks: half a unit per bit per extra bank, the value that separates what
        # synth_ecp5 did with our FIFOs and window buffers (16 x 77 and 8 x 105 in LUT-RAM, 16 x 85 and
        # 8 x 231 in a DP16KD: the mux weight lies between 0.4 and 0.75; calibration_data_ecp5.json)
        banks = math.ceil(depth / 16)
        other = width * depth / 16 if rom else 4 * banks * math.ceil(width / 4) + 0.5 * width * (banks - 1)
        return _BRAM_COST[fab] * bram18(width, depth) < other
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
    is a constant); LUT4 per bit per 16 words on ECP5."""
    return 0 if depth <= 1 else width * math.ceil(depth / _LUT_WORDS[_FABRIC.get()])


def _truth_table(bits: np.ndarray) -> np.ndarray:
    """n-entry bit columns (..., n), n <= 64 -> their truth tables as uint64 (entry i in bit i)."""
    n = bits.shape[-1]
    padded = np.zeros(bits.shape[:-1] + (64,), dtype=np.uint8)
    padded[..., :n] = bits
    return np.packbits(padded, axis=-1, bitorder="little").view("<u8")[..., 0]


def _trivial(n: int) -> np.ndarray:
    """Truth tables of an n-word LUT that need no LUT: an address bit, its complement, constant 0 and 1."""
    k = n.bit_length() - 1
    addr = _truth_table((np.arange(n)[None, :] >> np.arange(k)[:, None]) & 1)
    full = np.uint64((1 << n) - 1) if n < 64 else ~np.uint64(0)
    return np.concatenate([addr, addr ^ full, np.array([0, full], dtype=np.uint64)])


def rom_logic_luts(words: np.ndarray, width: int) -> int:
    """LUTs of a ``width``-bit ROM kept in logic, by its contents: a data bit is a function of the address,
    one LUT per slice of 64 words (LUT6; 16 words and LUT4 on ECP5: :func:`fabric`), unless that slice is
    constant or an address bit; equal slice functions are one LUT (ABC merges them); past four slices
    (MUXF7/MUXF8 on Xilinx, PFUMX/L6MUX21 on ECP5) each non-constant bit adds a 4:1 mux per four slices. The
    thresholds of an affine requantization or a saturating table come out far below width * depth / 64, a
    table of unrelated values near it."""
    words = np.asarray(words, dtype=np.int64)
    if len(words) <= 1 or width <= 0:
        return 0
    n = _LUT_WORDS[_FABRIC.get()]
    if len(words) < n:
        words = np.resize(words, n)  # a function of fewer address bits: its table repeats
    slices = -(-len(words) // n)
    words = np.concatenate([words, np.zeros(slices * n - len(words), dtype=np.int64)])
    bits = (words[None, :] >> np.arange(width)[:, None]) & 1                # (width, words)
    tables = _truth_table(bits.reshape(width, slices, n))                   # (width, slices)
    luts = np.unique(tables[~np.isin(tables, _trivial(n))]).size
    if slices > 4:
        luts += rom_data_bits(words, width) * (-(-slices // 4) - 1)
    return int(luts)


def rom_data_bits(words: np.ndarray, width: int) -> int:
    """Data bits of a ROM that are not the same in every word: what Yosys keeps before it maps the ROM."""
    words = np.asarray(words, dtype=np.int64)
    bits = (words[None, :] >> np.arange(width)[:, None]) & 1
    return int((bits.min(axis=1) != bits.max(axis=1)).sum())
