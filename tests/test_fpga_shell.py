"""The byte-serial board shell in simulation: bytes in -> fixture accelerator -> bytes out, bit-exact.

Builds ``bidrn_board_top`` exactly as the bitstream flow generates it (ULX3S, no PLL) around the fixture
design and checks every output beat against a Python model of the fixture (ROM weights x int8 inputs,
summed, plus the bias), with random gaps on the input pins and random stalls on the output pins.
"""
from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from bidrn_hw.builddir import simulation_sources
from bidrn_hw.fpga.design import load_design
from bidrn_hw.fpga.shell import SHELL_SV, board_top_sv, load_board, pin_width
from bidrn_hw.rtl_sim import verilator
from fpga_fixture import out_bits, write_design

LANES, DEPTH, BIAS, BEATS = 3, 16, -7, 40  # 24-bit input beats (3 bytes), 24-bit output (3 bytes), ROM wraps


def _s8(v: int) -> int:
    return v - 256 if v >= 128 else v


def expected(weights: list[int], beats: list[int]) -> list[int]:
    ob = out_bits(LANES)
    out = []
    for i, x in enumerate(beats):
        w = weights[i % DEPTH]
        acc = sum(_s8((x >> 8 * k) & 0xFF) * _s8((w >> 8 * k) & 0xFF) for k in range(LANES))
        out.append((acc + BIAS) % (1 << ob))
    return out


@pytest.mark.parametrize("gpio", [None, 12])
def test_board_top_roundtrip(tmp_path, gpio):
    """The board's 56 header pins (bytes), and a header of 12 (two streams of 4 data pins + valid + ready: the
    nibble bus a multi-partition build gets on the ULX3S, shell.pin_width)."""
    d = write_design(tmp_path / "b", lanes=LANES, depth=DEPTH, bias=BIAS, seed=3)
    design = load_design(d)
    board = load_board("ulx3s")
    if gpio:
        board = {**board, "gpio": board["gpio"][:gpio]}
    pw = pin_width(design, board)
    assert pw == (8 if gpio is None else 4)
    top = tmp_path / "bidrn_board_top.sv"
    top.write_text(board_top_sv(design, board, None))
    build = verilator.build([*simulation_sources(d), *SHELL_SV, top], "bidrn_board_top")

    weights = [int(ln, 16) for ln in (d / "rtl" / "mac0_weights.mem").read_text().split()]
    rng = random.Random(5)
    beats = [rng.getrandbits(8 * LANES) for _ in range(BEATS)]
    per_beat = 8 * LANES // pw
    in_bytes = [(x >> (pw * k)) & ((1 << pw) - 1) for x in beats for k in range(per_beat)]
    ob = out_bits(LANES) // pw
    spec, result = tmp_path / "spec.json", tmp_path / "result.json"
    spec.write_text(json.dumps({"seed": 11, "in_bytes": in_bytes, "out_nbytes": ob, "n_out": BEATS, "pw": pw}))
    verilator.run(build, "bidrn_board_top", "fpga_shell_tb", tmp_path / "sim",
                  extra_env={"FPGA_SHELL_SPEC": str(spec), "FPGA_SHELL_RESULT": str(result)},
                  module_dir=str(Path(__file__).parent))
    got = json.loads(result.read_text())
    assert got["bytes_in"] == len(in_bytes)
    assert got["bytes_out"] == BEATS * ob
    assert got["beats"] == expected(weights, beats)
