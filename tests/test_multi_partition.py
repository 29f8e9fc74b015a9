"""A multi-partition build: `bidrn-hw compile EXPORT_DIR` compiles every FPGA partition and stitches them into
one accelerator, one AXI-Stream pair per partition (s_axis_<i>/m_axis_<i>, ap_clk/ap_rst_n shared).

The default tests use an export directory whose three partitions are TFC-w1a1 with different weights (seeds 5,
6, 7: a stream wired to the wrong partition computes something else), whose Verilator model builds in
seconds; the tiny BiDRN itself (a Verilator model of all three encoders: minutes to build) runs with the slow
tests. Simulation drives every stream pair at once with random stalls on each and checks each partition,
integer for integer, against FINN's execution of its own hw.onnx."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from bad_input import expect_error, no_leftovers, snapshot
from bidrn_hw.builddir import load_design, seal
from bidrn_hw.cli import main

PARTS = ("body_encoder", "hand_encoder", "face_encoder")
FOLD = ("--target-fps", "2000", "--fclk-mhz", "100")


def run_json(capsys, argv) -> tuple[int, dict]:
    rc = main([str(a) for a in argv] + ["--json"])
    text = capsys.readouterr().out
    return rc, json.loads(text[text.index("{"):])


@pytest.fixture(scope="module")
def trio(tmp_path_factory):
    """An export directory of three TFC-w1a1 partitions with different weights."""
    from bidrn_hw.flow.bnn_pynq import export_bnn_pynq

    root = tmp_path_factory.mktemp("trio") / "exp"
    for k, name in enumerate(PARTS):
        (root / name).mkdir(parents=True)
        export_bnn_pynq("tfc-w1a1", root / name / "model.onnx", seed=5 + k)
    return root


@pytest.fixture(scope="module")
def trio_build(trio, tmp_path_factory):
    """A pristine multi-partition build (never modified by a case: copy it first)."""
    out = tmp_path_factory.mktemp("trio_build") / "b"
    assert main(["compile", str(trio), "--out", str(out), "--no-check", *FOLD, "--json"]) == 0
    return out


def test_one_top_one_stream_pair_per_partition(trio_build, capsys):
    accel = json.loads((trio_build / "accel.json").read_text())
    assert [s["name"] for s in accel["inputs"]] == ["s_axis_0", "s_axis_1", "s_axis_2"]
    assert [s["name"] for s in accel["outputs"]] == ["m_axis_0", "m_axis_1", "m_axis_2"]
    assert [s["partition"] for s in accel["inputs"]] == list(PARTS) == [s["partition"] for s in accel["outputs"]]
    assert [(p["name"], p["inputs"], p["outputs"], p["runs_per_frame"]) for p in accel["partitions"]] == [
        ("body_encoder", ["s_axis_0"], ["m_axis_0"], 1), ("hand_encoder", ["s_axis_1"], ["m_axis_1"], 2),
        ("face_encoder", ["s_axis_2"], ["m_axis_2"], 1)]
    design = load_design(trio_build)  # every file of the build, the partitions' included, sealed
    assert design.top == "accel_top" and any(f.startswith("hand_encoder/") for f in accel["files"])
    top = (trio_build / "rtl" / "accel_top.sv").read_text()
    for k, name in enumerate(PARTS):  # partition k's own stream 0 is the top's stream k
        assert f"{name}_top u_{name} (" in top
        block = top[top.index(f"u_{name} ("):].split(");", 1)[0]
        assert f".s_axis_0_tdata(s_axis_{k}_tdata)" in block and f".m_axis_0_tready(m_axis_{k}_tready)" in block
        sub = load_design(trio_build / name)  # each partition is a build of its own
        assert sub.top == f"{name}_top"
        assert all(p.name.startswith(f"{name}_") for p in sub.data_files)
    files = (trio_build / "rtl" / "filelist.f").read_text().split()
    assert files[0] == "axis.svh" and files[-4:] == [f"{p}_top.sv" for p in PARTS] + ["accel_top.sv"]
    assert len(files) == len(set(files))
    layers = {ly["name"] for ly in accel["layers"]}
    assert len(layers) == len(accel["layers"]) and all(ly.split("_")[0] in ("body", "hand", "face") for ly in layers)

    # estimates: resources add up; a network frame needs the hand encoder twice
    est = json.loads((trio_build / "estimates.json").read_text())
    subs = {p: json.loads((trio_build / p / "estimates.json").read_text()) for p in PARTS}
    for k in est["resources"]:
        assert est["resources"][k] == sum(s["resources"][k] for s in subs.values())
    runs = {"body_encoder": 1, "hand_encoder": 2, "face_encoder": 1}
    assert est["cycles_per_frame"] == max(subs[p]["cycles_per_frame"] * runs[p] for p in PARTS)
    rc, out = run_json(capsys, ["estimate", trio_build, "--fclk-mhz", "50"])
    assert rc == 0 and out["fps"] == round(50e6 / est["cycles_per_frame"], 3)
    assert set(out["partitions"]) == set(PARTS) and out["partitions"]["hand_encoder"]["runs_per_frame"] == 2


def test_every_stream_pair_bit_exact_with_stalls(trio_build, tmp_path, capsys):
    rc, sim = run_json(capsys, ["simulate", trio_build, "--frames", "2", "--stall", "0.3", "--seed", "4",
                                "--outputs", tmp_path / "out"])
    assert rc == 0, sim
    assert sim["bit_exact"] and sim["mismatches"] == 0 and sim["frames"] == 2
    for k, name in enumerate(PARTS):
        p = sim["partitions"][name]
        assert (p["input"], p["output"], p["bit_exact"]) == (f"s_axis_{k}", f"m_axis_{k}", True)
        # each stream keeps its own partition's pace (stalls only slow the ends)
        assert abs(p["cycles_per_frame"] - p["estimated_cycles_per_frame"]) <= 0.05 * p["estimated_cycles_per_frame"]
        assert np.load(tmp_path / "out" / f"{name}.npy").shape[0] == 2
    # the partitions differ (different weights): a stream wired to another partition would not pass
    outs = [np.load(tmp_path / "out" / f"{name}.npy") for name in PARTS]
    assert not np.array_equal(outs[0], outs[2])


def test_a_partition_checked_against_another_reference_fails(trio_build, tmp_path, capsys):
    d = tmp_path / "swapped"
    shutil.copytree(trio_build, d)
    body, face = d / "body_encoder" / "hw.onnx", d / "face_encoder" / "hw.onnx"
    tmp = body.read_bytes()
    body.write_bytes(face.read_bytes())
    face.write_bytes(tmp)
    seal(d)  # a consistent build whose references are swapped: only the comparison can catch it
    line = expect_error(capsys, "mismatch", ["body_encoder", "face_encoder"], "simulate", d, "--frames", "2")
    assert "hand_encoder" not in line.split("(", 2)[1]


def test_folding_of_a_multi_partition_build_feeds_back(trio, trio_build, tmp_path, capsys):
    out = tmp_path / "again"
    rc, res = run_json(capsys, ["compile", trio, "--out", out, "--no-check", "--no-rtl",
                                "--folding", trio_build / "folding.json"])
    assert rc == 0, res
    assert json.loads((out / "folding.json").read_text()) == json.loads((trio_build / "folding.json").read_text())


def test_export_missing_a_partition_keeps_the_earlier_build(trio, trio_build, tmp_path, capsys):
    exp = tmp_path / "exp"
    shutil.copytree(trio, exp)
    shutil.rmtree(exp / "hand_encoder")
    out = tmp_path / "b"
    shutil.copytree(trio_build, out)
    before = snapshot(out, exp)
    expect_error(capsys, "usage", ["hand_encoder", str(exp)], "compile", exp, "--out", out, *FOLD)
    assert snapshot(out, exp) == before
    no_leftovers(tmp_path)


def test_board_shell_narrows_the_pins_when_the_streams_need_more(trio_build):
    from bidrn_hw.fpga.design import load_design as fpga_design
    from bidrn_hw.fpga.shell import assign_pins, board_top_sv, load_board, pin_width

    board = load_board("ulx3s")  # 56 GPIO: six streams at 8 + 2 pins would need 60
    multi, single = fpga_design(trio_build), fpga_design(trio_build / "body_encoder")
    assert pin_width(single, board) == 8 and pin_width(multi, board) == 4
    assert len(assign_pins(multi, board)) == 6 * 6
    top = board_top_sv(multi, board, None)
    assert top.count(".PW(4)") == 6 and "input  logic [3:0] s_axis_2_d" in top


@pytest.mark.slow
def test_tiny_bidrn_in_one_accelerator(tmp_path, capsys):
    """The tiny BiDRN's three encoders in one accelerator (the ECP5 folding of test_accelerator_tiny), every
    stream pair stalled, each partition integer-equal to the exported model's reference outputs."""
    exp = tmp_path / "exp"
    assert main(["export", "--config", "tiny", "--out", str(exp), "--frames", "2"]) == 0
    build = tmp_path / "b"
    rc, res = run_json(capsys, ["compile", exp, "--out", build, "--target-fps", "500", "--fclk-mhz", "50",
                                "--part", "ecp5-85k"])
    assert rc == 0, res
    assert [res["partitions"][p]["stream"] for p in PARTS] == [0, 1, 2]
    rc, sim = run_json(capsys, ["simulate", build, "--inputs", exp, "--outputs", tmp_path / "out", "--stall", "0.3",
                                "--seed", "3"])
    assert rc == 0 and sim["bit_exact"], sim
    for name in PARTS:
        reference = np.load(exp / name / "outputs.npy")
        rtl = np.load(tmp_path / "out" / f"{name}.npy")
        assert np.array_equal(rtl, reference.reshape(rtl.shape)), name
        p = sim["partitions"][name]
        assert abs(p["cycles_per_frame"] - p["estimated_cycles_per_frame"]) <= 0.05 * p["estimated_cycles_per_frame"]
    assert Path(build / "body_encoder" / "report.md").is_file()


@pytest.mark.slow
def test_netlist_of_a_multi_partition_build(trio_build, capsys):
    """Yosys synth_ecp5 of the whole accel_top, simulated with the cell models: every partition bit-exact."""
    rc, sim = run_json(capsys, ["simulate", trio_build, "--netlist", "--part", "ecp5-85k", "--frames", "2",
                                "--stall", "0.3"])
    assert rc == 0, sim
    assert sim["bit_exact"] and sim["netlist"]["part"] == "ecp5-85k"
    assert all(sim["partitions"][p]["bit_exact"] for p in PARTS)
