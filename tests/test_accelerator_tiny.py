"""The stitched tiny BiDRN accelerator, every FPGA partition: compiled with the CLI, simulated in Verilator with
random stalls on both streams, integer-equal to QONNX execution of the exported model, and as fast as estimated."""
import json
import shutil

import numpy as np
import pytest

from bidrn_hw.cli import main as cli_main

FRAMES = 8
PARTS = ["body_encoder", "hand_encoder", "face_encoder"]


@pytest.fixture(scope="module")
def tiny_export(tmp_path_factory):
    out = tmp_path_factory.mktemp("tiny") / "exp"
    assert cli_main(["export", "--config", "tiny", "--out", str(out), "--frames", str(FRAMES)]) == 0
    return out


def run_json(capsys, argv):
    rc = cli_main([*argv, "--json"])
    text = capsys.readouterr().out
    return rc, json.loads(text[text.index("{"):])


# Auto folding for the ECP5-85F (the design `bitstream` and the demo build) keeps Verilator builds small;
# pixel folding (every channel in parallel: thousands of threshold-search lanes) takes many minutes to
# build, so it runs with the slow tests.
FOLDINGS = {"ecp5": ["--target-fps", "500", "--fclk-mhz", "50", "--part", "ecp5-85k"], "pixel": []}


@pytest.fixture(scope="module")
def ecp5_build(tiny_export, tmp_path_factory):
    """part -> its ECP5-folded build directory, compiled once for the module's tests (which do not change it)."""
    builds = {}

    def get(part):
        if part not in builds:
            out = tmp_path_factory.mktemp(f"ecp5_{part}") / "build"
            rc = cli_main(["compile", str(tiny_export / part / "model.onnx"), "--out", str(out), "--no-check",
                           *FOLDINGS["ecp5"]])
            assert rc == 0
            builds[part] = out
        return builds[part]

    return get


@pytest.mark.parametrize("folding", ["ecp5", pytest.param("pixel", marks=pytest.mark.slow)])
@pytest.mark.parametrize("part", PARTS)
def test_tiny_partition_rtl_matches_qonnx(tiny_export, ecp5_build, part, folding, tmp_path, capsys):
    if folding == "ecp5":
        build = ecp5_build(part)
        capsys.readouterr()
    else:
        build = tmp_path / "build"
        rc, compiled = run_json(capsys, ["compile", str(tiny_export / part / "model.onnx"), "--out", str(build),
                                         "--no-check", *FOLDINGS[folding]])
        assert rc == 0, compiled
    produced = tmp_path / "rtl_out.npy"
    rc, sim = run_json(capsys, ["simulate", str(build), "--inputs", str(tiny_export / part / "inputs.npy"),
                                "--outputs", str(produced), "--stall", "0.3", "--seed", "3"])
    assert rc == 0, sim
    assert sim["bit_exact"] and sim["mismatches"] == 0 and sim["frames"] == FRAMES
    # What the RTL produced equals QONNX execution of the exported model (outputs.npy), integer for integer.
    reference = np.load(tiny_export / part / "outputs.npy")
    rtl = np.load(produced)
    assert rtl.shape == reference.reshape(FRAMES, *reference.shape[-3:]).shape
    assert np.array_equal(rtl, reference.reshape(rtl.shape))
    # Measured steady-state cycles per frame within 5% of the estimate (stalls included: both streams at 0.3
    # only slow the ends, the pipeline's slowest layer sets the rate; folded designs need the generator-input
    # FIFOs sized by the consumer's pace, rate_fifos.InsertGeneratorInputFIFOs).
    est = sim["estimated_cycles_per_frame"]
    assert abs(sim["cycles_per_frame"] - est) <= 0.05 * est, sim


# One partition in the default set (the cocotb build and run cost what the compiled engine saves elsewhere);
# the other two with the slow tests.
@pytest.mark.parametrize("part", ["body_encoder", *[pytest.param(p, marks=pytest.mark.slow) for p in PARTS[1:]]])
def test_compiled_and_cocotb_engines_agree(tiny_export, ecp5_build, part):
    """The compiled C++ stream driver (simulate's default) and the cocotb testbench give the same outputs and,
    without stalls, the same cycle of every output frame (two frames: the pipeline's fill and its steady
    state)."""
    from bidrn_hw.commands.simulate import _to_stream
    from bidrn_hw.rtl_sim import accelerator

    build = ecp5_build(part)
    accel = accelerator.load_design(build)
    frames = _to_stream(np.load(tiny_export / part / "inputs.npy")[:2], accel["inputs"][0])
    fast = accelerator.simulate(build, [frames], engine="compiled")
    slow = accelerator.simulate(build, [frames], engine="cocotb")
    assert fast["engine"] == "compiled" and slow["engine"] == "cocotb"
    assert np.array_equal(fast["outputs"][0], slow["outputs"][0])
    assert fast["frame_done_cycles"] == slow["frame_done_cycles"] and len(fast["frame_done_cycles"]) == 2, \
        (fast["frame_done_cycles"], slow["frame_done_cycles"])
    assert fast["cycles"] == slow["cycles"] == fast["frame_done_cycles"][-1]


def test_compiled_engine_names_the_stalled_streams(ecp5_build):
    """A run that cannot finish (one frame of input, two frames of output expected) stops at the watchdog with
    the streams still waiting named, instead of hanging."""
    from bidrn_hw.errors import MismatchError
    from bidrn_hw.rtl_sim import accelerator, compiled

    build = ecp5_build("face_encoder")
    accel = accelerator.load_design(build)
    s = accel["inputs"][0]
    x = np.zeros((1, *s["shape"][1:]), dtype=np.int64)
    words = compiled.pack_words(x, s["elem_bits"], s["elems_per_beat"], s["tdata_bits"])
    exe = compiled.build(accelerator.sources(build), accel)
    # the watchdog: a frame's estimated cycles (the first frame's output may follow its input by tens of
    # thousands of cycles at this folding: 500 frames/s at 50 MHz)
    frame = json.loads((build / "estimates.json").read_text())["cycles_per_frame"]
    with pytest.raises(MismatchError, match=rf"deadlock: no beat moved for {frame} cycles.*inputs still waiting: "
                                            r"none; outputs still expected: m_axis_0") as err:
        compiled.simulate_jobs(exe, accel, [(2, [words])], watchdog=frame)
    assert f"m_axis_0 ({accel['outputs'][0]['beats_per_frame']} of" in str(err.value)


def test_simulate_jobs_and_cached_reference(ecp5_build, tmp_path, capsys, monkeypatch):
    """--jobs 2 runs two batches in two processes: the same outputs as one process; the reference (FINN's
    execution) is computed by the first call and read from the cache by the next one with the same frames."""
    from bidrn_hw.commands import simulate

    monkeypatch.setattr(simulate, "reference_cache_dir", lambda: tmp_path / "reference")
    build = ecp5_build("face_encoder")
    one, two = tmp_path / "one.npy", tmp_path / "two.npy"
    argv = ["simulate", str(build), "--frames", "4", "--seed", "11", "--stall", "0.2"]
    rc, first = run_json(capsys, [*argv, "--outputs", str(one)])
    assert rc == 0 and first["bit_exact"] and first["jobs"] == 1 and not first["reference_cached"], first
    rc, second = run_json(capsys, [*argv, "--outputs", str(two), "--jobs", "2"])
    assert rc == 0 and second["bit_exact"] and second["jobs"] == 2 and second["reference_cached"], second
    assert len(second["total_cycles"]) == 2
    assert np.array_equal(np.load(one), np.load(two))
    rc, other = run_json(capsys, ["simulate", str(build), "--frames", "1", "--seed", "12"])
    assert rc == 0 and not other["reference_cached"], other
    rc, err = run_json(capsys, [*argv, "--jobs", "2", "--engine", "cocotb"])
    assert rc == 2 and "--jobs" in err["error"]


def test_parallel_window_generators_stitched_bit_exact_at_the_estimated_rate(tiny_export, tmp_path, capsys):
    """Folded for 100,000 frames/s at 200 MHz (2,000 cycles), the hand encoder's stem (3x3, stride 2, three
    channels: 2,367 cycles at SIMD = 3) and the next two 3x3 generators need a whole window per beat
    (parallel_window=1, swg_parallel.sv, MVAU SIMD = MW). Integer-equal to QONNX execution under stalls; without
    stalls within 5% of the estimate (measured 1,664 against 1,600; 1,735 before parallel generators got
    consumer-paced input FIFOs)."""
    build = tmp_path / "build"
    part = "hand_encoder"
    rc, compiled = run_json(capsys, ["compile", str(tiny_export / part / "model.onnx"), "--out", str(build),
                                     "--no-check", "--target-fps", "100000", "--fclk-mhz", "200", "--part", "xczu7ev"])
    assert rc == 0, compiled
    folding = json.loads((build / "folding.json").read_text())
    parallel = [n for n, e in folding.items() if e.get("parallel_window") == 1]
    assert "ConvolutionInputGenerator_0" in parallel and folding["MVAU_0"]["SIMD"] == 27, folding
    accel = json.loads((build / "accel.json").read_text())
    assert sum(1 for layer in accel["layers"] if layer["module"] == "swg_parallel") == len(parallel)
    est_layers = json.loads((build / "estimates.json").read_text())["layers"]
    assert sorted(ly["node"] for ly in est_layers if ly.get("parallel_window")) == sorted(parallel)
    assert "3 (whole window)" in (build / "report.md").read_text()
    produced = tmp_path / "rtl_out.npy"
    rc, sim = run_json(capsys, ["simulate", str(build), "--inputs", str(tiny_export / part / "inputs.npy"),
                                "--outputs", str(produced), "--stall", "0.3", "--seed", "5"])
    assert rc == 0 and sim["bit_exact"] and sim["mismatches"] == 0, sim
    reference = np.load(tiny_export / part / "outputs.npy")
    assert np.array_equal(np.load(produced), reference.reshape(np.load(produced).shape))
    rc, sim = run_json(capsys, ["simulate", str(build), "--frames", "4", "--stall", "0"])
    assert rc == 0 and sim["bit_exact"], sim
    est = sim["estimated_cycles_per_frame"]
    assert est <= 2000 and abs(sim["cycles_per_frame"] - est) <= 0.05 * est, sim


def test_ultraram_weights_stream_in_after_reset(tiny_export, tmp_path, capsys):
    """A FINN folding file that puts two MVAUs' weights in UltraRAM (ram_style "ultra", xczu7ev): their
    memories have no initial contents, the top gets the weight stream s_axis_w, and `simulate` streams
    weights.bin through it after reset. Integer-equal to QONNX under stalls; with the stream's words zeroed
    the outputs differ (the weights really come from the stream)."""
    part = "face_encoder"
    first = tmp_path / "ecp5"
    assert run_json(capsys, ["compile", str(tiny_export / part / "model.onnx"), "--out", str(first), "--no-check",
                             *FOLDINGS["ecp5"]])[0] == 0
    folding = json.loads((first / "folding.json").read_text())
    for entry in folding.values():
        entry.pop("ram_style", None)
    mvaus = [name for name in folding if name.startswith("MVAU")][1:3]
    for name in mvaus:
        folding[name]["ram_style"] = "ultra"
    folding_file = tmp_path / "folding.json"
    folding_file.write_text(json.dumps(folding))
    build = tmp_path / "build"
    rc, compiled = run_json(capsys, ["compile", str(tiny_export / part / "model.onnx"), "--out", str(build),
                                     "--no-check", "--folding", str(folding_file), "--part", "xczu7ev"])
    assert rc == 0, compiled
    accel = json.loads((build / "accel.json").read_text())
    chain = accel["weights"]["chain"]
    assert accel["weights"]["name"] == "s_axis_w" and len(chain) == 2
    assert sum(c["lines"] * c["words_per_line"] for c in chain) == accel["weights"]["words"]
    assert "input  logic [31:0] s_axis_w_tdata" in (build / "rtl" / "accel_top.sv").read_text()
    assert compiled["estimates"]["resources"]["URAM"] >= 2
    produced = tmp_path / "rtl_out.npy"
    rc, sim = run_json(capsys, ["simulate", str(build), "--inputs", str(tiny_export / part / "inputs.npy"),
                                "--outputs", str(produced), "--stall", "0.3", "--seed", "4"])
    assert rc == 0 and sim["bit_exact"], sim
    reference = np.load(tiny_export / part / "outputs.npy")
    assert np.array_equal(np.load(produced), reference.reshape(np.load(produced).shape))
    np.zeros(accel["weights"]["words"], dtype="<u4").tofile(build / "weights.bin")
    rc, sim = run_json(capsys, ["simulate", str(build), "--frames", "1"])
    assert rc != 0 and "differ" in sim["error"], sim


def test_moved_build_simulates(ecp5_build, tmp_path, capsys):
    """A build directory is self-contained (memory files named relative to rtl/, accel.json format 2): a copy
    moved elsewhere simulates bit-exact (it was refused while the top named memory files by absolute path)."""
    build = tmp_path / "build"
    shutil.copytree(ecp5_build("face_encoder"), build)
    moved = tmp_path / "moved"
    build.rename(moved)
    rc, sim = run_json(capsys, ["simulate", str(moved), "--frames", "1"])
    assert rc == 0 and sim["bit_exact"], sim


def test_simulate_rejects_bad_inputs(ecp5_build, tmp_path, capsys):
    build = tmp_path / "build"
    shutil.copytree(ecp5_build("face_encoder"), build)  # a copy: accel.json is changed below
    wrong = tmp_path / "wrong.npy"
    np.save(wrong, np.zeros((2, 3, 5, 5), dtype=np.uint8))
    rc, err = run_json(capsys, ["simulate", str(build), "--inputs", str(wrong)])
    assert rc != 0 and "shape" in err["error"]
    notnpy = tmp_path / "x.npy"
    notnpy.write_text("not an array")
    rc, err = run_json(capsys, ["simulate", str(build), "--inputs", str(notnpy)])
    assert rc == 3 and str(notnpy) in err["error"]
    rc, err = run_json(capsys, ["simulate", str(tmp_path / "nowhere")])
    assert rc == 3 and "nowhere: build directory not found" in err["error"]
    rc, err = run_json(capsys, ["simulate", str(build), "--stall", "1.5"])
    assert rc == 2 and "--stall" in err["error"]
    accel = json.loads((build / "accel.json").read_text())
    accel["format"] = 999
    (build / "accel.json").write_text(json.dumps(accel))
    rc, err = run_json(capsys, ["simulate", str(build)])
    assert rc == 3 and "format" in err["error"]
