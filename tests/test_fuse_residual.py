"""The residual fusion pass (bidrn_hw/flow/fuse_residual.py): exact on BiDRN's partitions (FINN execution of
the fused graph == QONNX execution of the unfused export; lower_to_hw also checks the pass itself against the
graph before it), and joins it cannot fuse exactly stay unfused with a reason."""
import numpy as np
import pytest
from qonnx.core.modelwrapper import ModelWrapper

from bidrn_hw.cli import main as cli_main
from bidrn_hw.flow import fuse_residual
from tests.test_rtl_mvau_residual import unfused_graph


@pytest.fixture(scope="module")
def tiny_export(tmp_path_factory):
    out = tmp_path_factory.mktemp("fuse") / "export"
    assert cli_main(["export", "--config", "tiny", "--out", str(out), "--frames", "8"]) == 0
    return out


def lower(path, fuse: bool, monkeypatch, x0):
    from bidrn_hw.flow.lower import lower_to_hw

    monkeypatch.setenv(fuse_residual.ENV, "1" if fuse else "0")
    return lower_to_hw(ModelWrapper(str(path)), check_inputs=[x0])  # every pass checked on one frame


@pytest.mark.parametrize("part", ["body_encoder", pytest.param("hand_encoder", marks=pytest.mark.slow),
                                  pytest.param("face_encoder", marks=pytest.mark.slow)])
def test_tiny_partition_fuses_exactly(tiny_export, part, monkeypatch):
    from bidrn_hw.flow.lower import execute

    inputs = np.load(tiny_export / part / "inputs.npy").astype(np.float32)
    expected = np.load(tiny_export / part / "outputs.npy")
    fused = lower(tiny_export / part / "model.onnx", True, monkeypatch, inputs[0])
    ops = [n.op_type for n in fused.graph.node]
    report = fuse_residual.fusion_report(fused)
    done = [e for e in report if "fused_into" in e]
    assert ops.count("MVAUResidual") == len(done) > 0
    assert ops.count("ElementwiseAdd") == len(report) - len(done)
    # each fused join took its add and the add's Thresholding out of the graph: no Thresholding of a sum is left
    # but the unfused joins'
    sums = {n.output[0] for n in fused.graph.node if n.op_type == "ElementwiseAdd"}
    assert sum(n.op_type == "Thresholding" and n.input[0] in sums for n in fused.graph.node) == len(sums)
    for e in report:  # BiDRN's residual adds saturate to INT8: clamp(y + skip) exactly
        if "fused_into" in e:
            assert (e["offset"], e["lo"], e["hi"]) == (0, -128, 127)
        else:  # the block residual adds a finished residual sum (a fused unit's output), not an MVAU's
            assert "neither input is an MVAU" in e["reason"] and "MVAUResidual" in e["reason"], e
    for x, ref in zip(inputs, expected):  # all 8 frames, integer equality with QONNX's execution of the export
        assert np.array_equal(execute(fused, x), ref)


def unit(rng, **change):
    case = dict(xnor=True, mw=16, mh=4, simd=4, pe=2, idt="BINARY", wdt="BINARY", ydt="INT8", steps=255, sdt="INT8",
                offset=0, odt="INT8")
    case.update(change)
    return unfused_graph(rng, *case.values())[0]


def test_unit_join_fuses_and_executes_like_the_unfused_graph():
    from finn.core.onnx_exec import execute_onnx

    rng = np.random.default_rng(3)
    model = unit(rng, offset=5, odt="INT6", sdt="UINT4")
    fused = model.transform(fuse_residual.FuseResidualMVAU(enable=True))
    assert [n.op_type for n in fused.graph.node] == ["MVAUResidual"]
    for _ in range(3):
        x = rng.integers(0, 2, (1, 2, 3, 16)).astype(np.float32)
        s = rng.integers(0, 16, (1, 2, 3, 4)).astype(np.float32)
        a, b = execute_onnx(model, {"x": x, "s": s})["out"], execute_onnx(fused, {"x": x, "s": s})["out"]
        assert np.array_equal(a, b)
        assert a.min() == -32 or a.max() == 31  # the saturation is exercised


def test_general_requantization_stays_unfused():
    """One threshold of the add's Thresholding moved: it is no longer clamp(sum + c), so fusing would not be
    exact: the join stays, with the reason."""
    model = unit(np.random.default_rng(4))
    t2 = model.get_initializer("t2").copy()
    t2[0, 100] += 1
    model.set_initializer("t2", t2)
    fused = model.transform(fuse_residual.FuseResidualMVAU(enable=True))
    assert [n.op_type for n in fused.graph.node] == ["MVAU", "ElementwiseAdd", "Thresholding"]
    (entry,) = fuse_residual.fusion_report(fused)
    assert "not a saturation" in entry["reason"]


def test_mvau_with_other_consumers_or_fusion_off_stays_unfused(monkeypatch):
    model = unit(np.random.default_rng(5))
    monkeypatch.setenv(fuse_residual.ENV, "0")
    off = model.transform(fuse_residual.FuseResidualMVAU())
    assert "fusion off" in fuse_residual.fusion_report(off)[0]["reason"]
    assert "MVAUResidual" not in [n.op_type for n in off.graph.node]
    model.graph.output.append(model.get_tensor_valueinfo("y") or model.graph.value_info[0])
    shared = model.transform(fuse_residual.FuseResidualMVAU(enable=True))
    assert [n.op_type for n in shared.graph.node] == ["MVAU", "ElementwiseAdd", "Thresholding"]
    assert "neither input is an MVAU" in fuse_residual.fusion_report(shared)[0]["reason"]


def test_saturation_check_is_over_every_sum():
    from qonnx.core.datatype import DataType

    model = unit(np.random.default_rng(6), offset=-3, odt="INT5")
    req = model.graph.node[2]
    assert fuse_residual.saturation_of(model, req, DataType["INT9"]) == ((-3, -16, 15), "")


@pytest.mark.slow
def test_join_estimate_against_yosys(tmp_path):
    """The join's estimated LUTs and FFs (layers.mvau_residual.join_cost) against Yosys synth_xilinx: the
    difference between mvau_residual.sv and mvau.sv of the same parameters (benchmarks/residual_join.py),
    within the calibration's bound (20%)."""
    import importlib.util
    from pathlib import Path

    from bidrn_hw.layers.mvau_residual import join_cost

    spec = importlib.util.spec_from_file_location(
        "residual_join", Path(__file__).resolve().parents[1] / "benchmarks" / "residual_join.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    (tmp_path / "w.mem").write_text("".join(f"{v:016x}\n" for v in range(1, 5)))
    base = dict(MW=64, MH=4, SIMD=64, PE=2, IN_BITS=1, IN_SIGNED=0, W_BITS=1, W_SIGNED=0, XNOR=1, ACC_BITS=8,
                N_STEPS=0, WEIGHT_FILE="w.mem", RAM_STYLE="logic")
    m = bench.synth("mvau", {**base, "OUT_BITS": 8}, tmp_path)
    r = bench.synth("mvau_residual", {**base, "Y_BITS": 8, "SKIP_BITS": 8, "SKIP_SIGNED": 1, "OUT_BITS": 8,
                                      "SAT_LO": -128, "SAT_HI": 127}, tmp_path)
    est = join_cost(dict(PE=2, Y_BITS=8, SKIP_BITS=8, OUT_BITS=8))
    for res in ("LUT", "FF"):
        measured = r[res] - m[res]
        assert measured > 0 and abs(est[res] - measured) <= 0.2 * measured, (res, measured, est[res])
