"""Estimates of a compiled design (estimates.json, report.md, estimates.png) and the `estimate` command.

One tiny export; its hand partition compiled twice (pixel folding and auto folding) in module fixtures.
"""
from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("finn")

from onnx import helper  # noqa: E402
from qonnx.core.modelwrapper import ModelWrapper  # noqa: E402
from qonnx.custom_op.registry import getCustomOp  # noqa: E402

from bidrn_hw.cli import main as cli_main  # noqa: E402
from bidrn_hw.flow.build import compile_partition  # noqa: E402
from bidrn_hw.devices import device_budget  # noqa: E402
from bidrn_hw.flow.estimates import calibrated_cost, layer_resources, rtl_content  # noqa: E402
from bidrn_hw.layers import RESOURCE_KEYS, base_op, rtl_params  # noqa: E402
from bidrn_hw.layers.dwc import dwc_capacity, dwc_kind  # noqa: E402
from bidrn_hw.layers.memory import bram18, memory_cost  # noqa: E402
from bidrn_hw.layers.mvau import finn_compute_copy  # noqa: E402
from bidrn_hw.layers.thresholds import threshold_cost  # noqa: E402

PART = "hand_encoder"


@pytest.fixture(scope="module")
def builds(tmp_path_factory):
    root = tmp_path_factory.mktemp("est")
    assert cli_main(["export", "--config", "tiny", "--out", str(root / "exp"), "--frames", "1"]) == 0
    model = root / "exp" / PART / "model.onnx"
    pixel = compile_partition(model, root / "pixel", part="xczu7ev", fclk_mhz=200)
    auto = compile_partition(model, root / "auto", part="xczu7ev", fclk_mhz=200, target_fps=2000)
    return {"pixel": root / "pixel", "auto": root / "auto", "summaries": (pixel, auto)}


def load(d):
    return json.loads((d / "estimates.json").read_text())


def test_estimates_json_is_consistent(builds):
    for kind in ("pixel", "auto"):
        d = builds[kind]
        est = load(d)
        hw = ModelWrapper(str(d / "hw.onnx"))
        assert est["part"] == "xczu7ev" and est["fclk_mhz"] == 200
        assert [ly["node"] for ly in est["layers"]] == [n.name for n in hw.graph.node]
        cycles = [ly["cycles"] for ly in est["layers"]]
        assert est["cycles_per_frame"] == max(cycles)
        assert est["fps"] == pytest.approx(200e6 / est["cycles_per_frame"], rel=1e-6)
        busy = [c for c in cycles if c > 0]
        assert est["balance"] == pytest.approx(max(busy) / np.mean(busy), abs=1e-3)
        # Latency: the critical path starts at the input layer, ends at the output layer, sums its cycles.
        by_node = {ly["node"]: ly for ly in est["layers"]}
        path = est["critical_path"]
        assert path[0] == hw.graph.node[0].name and path[-1] == hw.graph.node[-1].name
        assert est["latency_cycles"] == sum(by_node[n]["cycles"] for n in path) >= est["cycles_per_frame"]
        for key in RESOURCE_KEYS:
            assert est["resources"][key] == sum(ly[key] for ly in est["layers"])
            assert all(isinstance(ly[key], int) and ly[key] >= 0 for ly in est["layers"])
        assert est["resources"]["LUT"] > 0 and est["resources"]["FF"] > 0
        assert est["budget"]["LUT"] == 230400 and est["fits"] == all(
            est["resources"][k] <= est["budget"][k] for k in RESOURCE_KEYS)
        # FIFO depths per branch (and before slow-fed generators) come from the graph's StreamingFIFO nodes.
        fifos = {n.name: getCustomOp(n).get_nodeattr("depth") for n in hw.graph.node if base_op(n) == "StreamingFIFO"}
        assert fifos and {f["name"]: f["depth"] for f in est["fifos"]} == fifos
        # (a fused residual MVAU, flow/fuse_residual.py, is a join: its skip input's FIFO, or its MVAU input's
        # where the skip comes the longer way)
        kinds = {"branch": ("ElementwiseAdd",), "generator input": ("ConvolutionInputGenerator",),
                 "skip": ("MVAUResidual",), "MVAU input": ("MVAUResidual",)}
        assert all(base_op(hw.get_node_from_name(f["to"])) in kinds[f["kind"]] for f in est["fifos"])
        assert {"branch", "generator input", "skip"} <= {f["kind"] for f in est["fifos"]} <= set(kinds)
        accel = json.loads((d / "accel.json").read_text())
        assert accel["estimated_cycles_per_frame"] == est["cycles_per_frame"]
        assert {ly["name"] for ly in accel["layers"]} == {ly["name"] for ly in est["layers"]}


def test_auto_folding_trades_throughput_for_resources(builds):
    pixel, auto = load(builds["pixel"]), load(builds["auto"])
    assert auto["folding"]["mode"] == "auto" and pixel["folding"]["mode"] == "pixel"
    assert auto["fps"] >= 2000 and auto["fps"] < pixel["fps"]
    assert auto["resources"]["LUT"] < pixel["resources"]["LUT"] / 2
    assert auto["resources"]["DSP"] < pixel["resources"]["DSP"]
    assert any(ly["op_type"] == "StreamingDataWidthConverter" for ly in auto["layers"])


def test_report_and_chart(builds):
    d = builds["auto"]
    est = load(d)
    report = (d / "report.md").read_text()
    assert f"{est['fps']} FPS" in report and f"balance (slowest / mean layer cycles): {est['balance']}" in report
    for ly in est["layers"]:
        assert f"| {ly['node']} | {ly['op_type']} |" in report
    for f in est["fifos"]:
        assert f"| {f['name']} |" in report
    png = (d / "estimates.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10_000


def test_mvau_uses_finns_compute_formula(builds):
    """Uncalibrated (``calibrated=False``, the formulas the calibration starts from): the MVAU's LUTs are FINN's
    MVAU_hls.lut_estimation (memories excluded) plus our memory terms."""
    hw = ModelWrapper(str(builds["auto"] / "hw.onnx"))
    device = device_budget("xczu7ev")
    seen = 0
    for node in hw.graph.node:
        if base_op(node) != "MVAU":
            continue
        finn = finn_compute_copy(node)
        res, formula = layer_resources(hw, node, device, calibrated=False)
        assert "finn" in formula
        assert res["LUT"] >= finn.lut_estimation(device["part"]) > 0
        seen += 1
    assert seen


def test_calibrated_estimates_use_the_rtl_parameters(builds):
    """The report's estimates are the calibrated model (Xilinx parts) evaluated on the parameters the RTL is
    instantiated with (accel.json) and the threshold ROMs' contents: the same numbers as calibrated_cost on
    accel.json's parameters."""
    for kind in ("pixel", "auto"):
        d = builds[kind]
        hw = ModelWrapper(str(d / "hw.onnx"))
        est = {ly["node"]: ly for ly in load(d)["layers"]}
        by_name = {ly["name"]: ly for ly in json.loads((d / "accel.json").read_text())["layers"]}
        calibrated = 0
        for node in hw.graph.node:
            row = est[node.name]
            if not row["formula"].startswith("calibrated"):
                continue
            calibrated += 1
            layer = by_name[row["name"]]
            module, params = rtl_params(hw, node)
            assert module == layer["module"]
            plain = {k: v for k, v in layer["parameters"].items() if not k.endswith("_FILE")}  # less memory files
            assert set(params) <= set(plain) and all(params[k] == plain[k] for k in params), row["name"]
            cost = calibrated_cost(layer["module"], plain, "zynq_us+", rtl_content(hw, node, module, params))
            assert all(row[k] == math.ceil(cost[k]) for k in RESOURCE_KEYS)
        assert calibrated >= len(hw.graph.node) // 2, (kind, calibrated)


def test_memory_and_dwc_formulas():
    assert bram18(36, 512) == 1 and bram18(1, 16384) == 1 and bram18(72, 1024) == 4 and bram18(9, 2049) == 2
    assert memory_cost(8, 64, "distributed")["LUT"] == 8
    assert memory_cost(8, 64, "distributed", family="ecp5")["LUT"] == 32
    assert memory_cost(64, 1, rom=True) == dict.fromkeys(RESOURCE_KEYS, 0)  # a constant word folds away
    assert memory_cost(36, 1024, "auto")["BRAM_18K"] == 2
    assert memory_cost(72, 8192, "ultra")["URAM"] == 2
    assert memory_cost(72, 8192, "ultra", family="zynq7000")["URAM"] == 0  # no URAM there: block RAM
    # hls/dwc.sv: two words of the wider side for an integer ratio, 2*in + out - 1 elements otherwise
    assert dwc_capacity(4, 1) == 8 and dwc_capacity(1, 8) == 16 and dwc_capacity(2, 3) == 6
    assert [dwc_kind(*r) for r in [(4, 1), (2, 6), (4, 6), (3, 3)]] == ["down", "up", "any", "any"]


def test_estimate_command(builds, tmp_path, capsys):
    d = builds["auto"]
    est = load(d)
    assert cli_main(["estimate", str(d), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    for key in ("fclk_mhz", "fps", "latency_cycles", "resources", "balance", "layers"):
        assert key in out
    assert set(out["resources"]) == set(RESOURCE_KEYS)
    assert out["fps"] == est["fps"] and out["latency_cycles"] == est["latency_cycles"]
    assert len(out["layers"]) == len(est["layers"])
    assert cli_main(["estimate", str(d), "--fclk-mhz", "100", "--part", "xcu250", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["fps"] == pytest.approx(est["fps"] / 2, rel=1e-4) and out["budget"]["URAM"] == 1280
    # Bad input: missing DIR, a DIR that is no build, another format, an unknown part.
    assert cli_main(["estimate", str(tmp_path / "nope"), "--json"]) == 3
    assert "not found" in json.loads(capsys.readouterr().out)["error"]
    (tmp_path / "empty").mkdir()
    assert cli_main(["estimate", str(tmp_path / "empty"), "--json"]) == 3
    assert "not a build directory" in json.loads(capsys.readouterr().out)["error"]
    old = tmp_path / "old"
    old.mkdir()
    (old / "estimates.json").write_text(json.dumps({"layers": [], "cycles_per_frame": 1}))
    assert cli_main(["estimate", str(old), "--json"]) == 3
    assert "compile the model again" in json.loads(capsys.readouterr().out)["error"]
    assert cli_main(["estimate", str(d), "--part", "xc9000", "--json"]) == 2
    assert "known devices" in json.loads(capsys.readouterr().out)["error"]


def test_compile_summary(builds):
    pixel, auto = builds["summaries"]
    assert math.isclose(auto["estimates"]["fps"], load(builds["auto"])["fps"])
    assert auto["estimates"]["folding"]["target_fps"] == 2000 and auto["estimates"]["folding"]["target_met"]
    assert pixel["estimates"]["folding"] == {"mode": "pixel"}


def test_estimator_parameters_equal_the_generated_rtl_parameters():
    """The estimator's module parameters are the ones the RTL generator gives the module (CNV-w1a1's first
    layer: BIPOLAR weights on an 8-bit input are 1-bit codes in integer mode, W_BIPOLAR), for every layer of CNV."""
    import tempfile

    from qonnx.core.modelwrapper import ModelWrapper

    from bidrn_hw.flow.bnn_pynq import export_bnn_pynq
    from bidrn_hw.flow.build import compile_partition

    with tempfile.TemporaryDirectory() as tmp:
        onnx = export_bnn_pynq("cnv-w1a1", f"{tmp}/cnv.onnx", seed=3)
        preset = Path(__file__).resolve().parent.parent / "bidrn_hw" / "flow" / "presets" / "cnv_w1a1_pynq.json"
        compile_partition(f"{tmp}/cnv.onnx", f"{tmp}/b", folding=preset, part="xc7z020")
        accel = json.loads(Path(f"{tmp}/b/accel.json").read_text())
        node_of = {ly["name"]: ly["node"] for ly in json.loads(Path(f"{tmp}/b/estimates.json").read_text())["layers"]}
        hw = ModelWrapper(f"{tmp}/b/hw.onnx")
        by_node = {n.name: n for n in hw.graph.node}
        checked = 0
        for layer in accel["layers"]:
            name = layer["name"]
            if layer["module"] not in ("mvau", "thresholding", "fifo"):
                continue
            node = by_node[node_of[name]]
            module, params = rtl_params(hw, node)
            assert module == layer["module"]
            for key, value in params.items():
                assert layer["parameters"][key] == value, (name, key, value, layer["parameters"][key])
            checked += 1
        assert checked >= 10


def test_threshold_cost_formula():
    """The uncalibrated search formula (ECP5's estimate): log2(n+1) comparators and the stage ROMs per lane; a
    shared row is one fold's table, a per-channel base adds a ROM of nf words and three registers a lane."""
    # 2 lanes, 4 folds, 7 thresholds (3 stages), 9 bits: 2 * 9 * (3 comparators + 3 one-LUT stage ROMs)
    plain = threshold_cost(2, 4, 7, 9, "xilinx")
    assert plain["LUT"] == 2 * 9 * (3 + 3) and plain["BRAM_18K"] == 0
    assert threshold_cost(2, 4, 7, 9, "xilinx", shared=1)["LUT"] == plain["LUT"]
    deep = threshold_cost(1, 100, 255, 12, "xilinx")
    assert threshold_cost(1, 100, 255, 12, "xilinx", shared=1)["LUT"] < deep["LUT"]
    based = threshold_cost(2, 4, 7, 9, "xilinx", base_bits=5)
    assert based["LUT"] == plain["LUT"] + 2 * 5 and based["FF"] == plain["FF"] + 3 * 2 * 5


def test_threshold_kind_and_line_parameters_match_the_generated_rtl(builds):
    """BiDRN's requantizations compute their thresholds from lines: the estimator's parameters of those layers
    (LINES, M_BITS, C_BITS, SHIFT, N_STEPS) are the generator's, and estimates.json/report.md say which
    layers compute and which search their thresholds."""
    for kind in ("pixel", "auto"):
        d = builds[kind]
        est, accel = load(d), json.loads((d / "accel.json").read_text())
        hw = ModelWrapper(str(d / "hw.onnx"))
        by_node = {n.name: n for n in hw.graph.node}
        label = {ly["name"]: ly.get("thresholds") for ly in est["layers"]}
        node_of = {ly["name"]: ly["node"] for ly in est["layers"]}
        computed = 0
        for layer in accel["layers"]:
            if layer["module"] not in ("mvau", "mvau_residual", "thresholding") or \
                    not layer["parameters"].get("N_STEPS"):
                continue
            p = layer["parameters"]
            module, params = rtl_params(hw, by_node[node_of[layer["name"]]])
            for key in ("N_STEPS", "LINES", "M_BITS", "C_BITS", "SHIFT", "SHARED", "BASE_BITS"):
                assert params.get(key, 0) == p.get(key, 0), (layer["name"], key)
            if p.get("LINES"):
                computed += 1
                assert label[layer["name"]] == f"computed ({p['LINES']} line{'s' if p['LINES'] > 1 else ''})"
            else:
                assert label[layer["name"]] == f"searched ({p['N_STEPS']} steps)"
        assert computed >= 4, kind  # the hand encoder's XNOR convolutions and integer 1x1 convolutions
        assert "computed (2 lines)" in (d / "report.md").read_text()


def _int_mvau(idt="INT2", wdt="INT2", mw=64, mh=16, simd=16, pe=4):
    """One integer MVAU (accumulator output) as the flow's HW graph has it."""
    from onnx import TensorProto
    from qonnx.core.datatype import DataType
    from qonnx.util.basic import qonnx_make_model

    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, (1, mw))
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, (1, mh))
    node = helper.make_node("MVAU", ["x", "w"], ["y"], name="MVAU_0", MW=mw, MH=mh, SIMD=simd, PE=pe,
                            inputDataType=idt, weightDataType=wdt, outputDataType="INT32", binaryXnorMode=0,
                            noActivation=1, numInputVectors=[1], domain="finn.custom_op.fpgadataflow",
                            backend="fpgadataflow")
    model = ModelWrapper(qonnx_make_model(helper.make_graph([node], "g", [x], [y]), producer_name="t"))
    model.set_tensor_datatype("x", DataType[idt])
    model.set_tensor_datatype("y", DataType["INT32"])
    w = np.random.default_rng(0).integers(DataType[wdt].min(), DataType[wdt].max() + 1, (mw, mh))
    model.set_initializer("w", w.astype(np.float32))
    return model


@pytest.mark.parametrize("part", ["xc7z020", "ecp5-85k"])
def test_res_type_lut_is_estimated_as_luts(part):
    """A folding file's resType "lut" puts an MVAU's integer products in LUTs (mvau.sv RES_TYPE "lut": shift
    and add) and the estimate follows: no DSPs, more LUTs; "dsp" and "auto" keep one DSP per product (the
    calibrated Xilinx model and the ECP5 formula alike). ram_style from the file is honoured too."""
    from bidrn_hw.flow.folding import ApplyFoldingConfig

    device = device_budget(part)
    costs = {}
    for res in ("auto", "dsp", "lut"):
        model = _int_mvau("INT4", "INT4").transform(ApplyFoldingConfig({"MVAU_0": {"resType": res,
                                                                                  "ram_style": "block"}}))
        node = model.graph.node[0]
        assert getCustomOp(node).get_nodeattr("resType") == res
        module, p = rtl_params(model, node)
        assert p.get("RES_TYPE", "dsp") == ("lut" if res == "lut" else "dsp")
        assert p["RAM_STYLE"] == "block"
        costs[res] = layer_resources(model, node, device)[0]
    assert costs["auto"] == costs["dsp"]
    assert costs["dsp"]["DSP"] > 0
    assert costs["lut"]["DSP"] == 0
    assert costs["lut"]["LUT"] > costs["dsp"]["LUT"]
    if part == "xc7z020":  # the weight ROM where the file put it: block RAM, either way
        assert costs["lut"]["BRAM_18K"] == costs["dsp"]["BRAM_18K"] > 0
    with pytest.raises(Exception, match="resType"):
        _int_mvau().transform(ApplyFoldingConfig({"MVAU_0": {"resType": "fast"}}))


def test_lut_breakdown_sums_to_the_estimate(builds):
    """The LUT breakdown by kind and component (flow.lut_breakdown) is a split of the estimate, not a second
    model: per layer its parts sum to the layer's LUTs (up to the rounding up of each layer), FIFOs and width
    converters count whole, and the calibrated MVAUs' parts name their compute."""
    from bidrn_hw.flow.lut_breakdown import layer_lut_parts, lut_breakdown  # lazy: only this test

    device = device_budget("xczu7ev")
    hw = ModelWrapper(str(builds["auto"] / "hw.onnx"))
    total = 0
    for node in hw.graph.node:
        parts = layer_lut_parts(hw, node, device)
        luts = layer_resources(hw, node, device)[0]["LUT"]
        assert abs(sum(parts.values()) - luts) <= 1, node.name
        assert all(v >= 0 for v in parts.values()), (node.name, parts)
        if base_op(node) == "StreamingFIFO":
            assert set(parts) == {"fifo"}
        if base_op(node) in ("MVAU", "MVAUResidual"):
            assert "compute" in parts, (node.name, parts)
        total += luts
    doc = lut_breakdown(hw, device)
    assert abs(doc["total"] - total) <= len(hw.graph.node)
    assert sum(doc["by_component"].values()) == doc["total"]
    assert sum(row["layers"] for row in doc["by_kind"].values()) == len(hw.graph.node)


def test_products_move_to_luts_where_the_dsps_run_short():
    """Auto folding's move_products_to_luts: an INT4 x INT4 MVAU (9-bit products: DSP48s) on a part with fewer
    DSPs than its products gets resType "lut" and the estimate follows (no DSPs, more LUTs)."""
    from bidrn_hw.flow.estimates import total_resources
    from bidrn_hw.flow.memory_styles import move_products_to_luts

    model = _int_mvau("INT4", "INT4")
    getCustomOp(model.graph.node[0]).set_nodeattr("resType", "auto")
    device = device_budget("xc7z020")
    res = total_resources(model, device)
    assert res["DSP"] == 4 * 16, res  # PE x SIMD products
    small = {**device, "DSP": 8}
    moved = move_products_to_luts([model], small, res["DSP"])
    after = total_resources(model, small)
    assert moved == ["MVAU_0"] and after["DSP"] == 0 and after["LUT"] > res["LUT"], (moved, after)
    narrow = _int_mvau("INT2", "INT2")  # 5-bit products: no DSP48 in Yosys, so none estimated
    assert total_resources(narrow, device)["DSP"] == 0
