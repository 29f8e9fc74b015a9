"""The BNN-PYNQ networks (Brevitas bnn_pynq TFC-w1a1, CNV-w1a1; random weights and BN statistics) go through
the flow: FINN execution of the compiled HW graph equals QONNX execution of the export, and the stitched RTL
equals FINN execution."""
import copy
import json
from pathlib import Path

import numpy as np
import pytest
from qonnx.core.datatype import DataType
from qonnx.core.modelwrapper import ModelWrapper

from bidrn_hw.cli import main as cli_main
from bidrn_hw.errors import UnsupportedError
from bidrn_hw import flow
from bidrn_hw.flow import host_ops
from bidrn_hw.flow.bnn_pynq import export_bnn_pynq, random_frames
from bidrn_hw.flow.lower import HW_DOMAIN, execute, lower_to_hw
from lowering import lowered_bytes

NETS = ["tfc-w1a1", "cnv-w1a1"]
PRESET = Path(flow.__file__).parent / "presets" / "cnv_w1a1_pynq.json"  # FINN's Pynq-Z1 folding of CNV-w1a1


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    root = tmp_path_factory.mktemp("bnn")
    return {net: export_bnn_pynq(net, root / f"{net}.onnx", seed=3) for net in NETS} | {"root": root}


def _frames(net: str, n: int) -> np.ndarray:
    """n (1, C, H, W) UINT8 frames; the first walks through all 256 values (every step of the input quantizer)."""
    x = random_frames(net, n, seed=7)
    x[0] = np.resize(np.arange(256, dtype=np.float32), x[0].shape)
    return x[:, None]


@pytest.mark.parametrize("net", NETS)
def test_bnn_pynq_lowers_bit_exact(exported, net):
    qonnx = exported[net]
    assert qonnx.get_tensor_datatype(qonnx.graph.input[0].name) == DataType["UINT8"]
    assert qonnx.graph.node[0].op_type == "Mul"  # FINN's ToTensor: UINT8 image * 1/255
    frames = _frames(net, 16)
    # TFC: every pass checked on the all-values frame; CNV: only the result (its per-pass checks cost about a
    # minute, and the harness itself is tested on BiDRN in test_flow_lower.py)
    hw = lower_to_hw(qonnx, check_inputs=[frames[0]] if net.startswith("tfc") else None)
    assert all(n.domain == HW_DOMAIN for n in hw.graph.node)
    ops = {n.op_type for n in hw.graph.node}
    assert {"MVAU", "Thresholding"} <= ops
    if net.startswith("cnv"):
        assert {"ConvolutionInputGenerator", "Pool"} <= ops
    host = host_ops.get(hw)["output"]  # TensorNorm's affine (and the popcount's offset) runs on the host
    scale, bias = np.float64(host["scale"]), np.float64(host["bias"])
    for x in frames:
        ref = execute(qonnx, x).astype(np.float64)
        acc = execute(hw, x, host=False)  # the accelerator's integers
        assert np.array_equal(acc, np.round(acc))
        # The integers the exported model's float output encodes: exact up to float rounding, so recovered
        # bit for bit.
        implied = (ref - bias) / scale
        assert np.abs(implied - np.round(implied)).max() < 1e-3
        assert np.array_equal(np.round(implied), acc)
        # what execute(hw, x) reports: the model's float output
        np.testing.assert_allclose(host_ops.from_stream(host_ops.get(hw), acc), ref, rtol=1e-5,
                                   atol=1e-5 * np.abs(ref).max())


def test_linear_qonnx_bookkeeping_gives_the_same_cnv_graph(exported):
    """fast_qonnx on the feed-forward pass list (CNV's weights are above the light shape inference's limit)."""
    assert lowered_bytes(exported["cnv-w1a1"], fast=True) == lowered_bytes(exported["cnv-w1a1"], fast=False)


def test_float_input_without_datatype_is_an_error(exported, capsys):
    model = ModelWrapper(copy.deepcopy(exported["tfc-w1a1"].model))
    model.set_tensor_datatype(model.graph.input[0].name, DataType["FLOAT32"])
    path = exported["root"] / "float_input.onnx"
    model.save(str(path))
    code = cli_main(["compile", str(path), "--out", str(exported["root"] / "never"), "--json"])
    assert code != 0
    err = json.loads(capsys.readouterr().out)["error"]
    assert "set_tensor_datatype" in err and "UINT8" in err
    assert not (exported["root"] / "never").exists()


def test_unsupported_node_is_named(exported):
    from onnx import helper

    model = ModelWrapper(copy.deepcopy(exported["tfc-w1a1"].model))
    out = model.graph.output[0]
    pre = out.name + "_pre_softmax"
    for node in model.graph.node:
        for i, t in enumerate(node.output):
            if t == out.name:
                node.output[i] = pre
    model.graph.node.append(helper.make_node("Softmax", [pre], [out.name], name="Softmax_0", axis=-1))
    with pytest.raises(UnsupportedError, match=r"node Softmax_0 \(Softmax\): no lowering or hardware layer for this op type"):
        lower_to_hw(model)


def _compile_and_simulate(exported, net, tmp_path, frames_n=8, stalls=(0.3, 0.0), folding=None):
    from bidrn_hw.flow.build import compile_partition
    from bidrn_hw.rtl_sim import accelerator

    build = tmp_path / net
    compile_partition(exported["root"] / f"{net}.onnx", build, folding=folding)
    accel = json.loads((build / "accel.json").read_text())
    hw = ModelWrapper(str(build / "hw.onnx"))
    x = _frames(net, frames_n)[:, 0]
    stream = host_ops.to_stream(host_ops.get(hw), x).astype(np.int64)
    expected = np.concatenate([execute(hw, f[None], host=False) for f in x])
    for stall in stalls:  # the last run is stall-free: its cycles per frame are compared with the estimate
        result = accelerator.simulate(build, [stream], stall=stall, seed=1)
        assert np.array_equal(result["outputs"][0].reshape(expected.shape), expected), f"stall {stall}"
    est = accel["estimated_cycles_per_frame"]
    assert abs(result["cycles_per_frame"] - est) <= 0.05 * est, (result["cycles_per_frame"], est)
    assert accel["outputs"][0]["host_ops"]["scale"] == host_ops.get(hw)["output"]["scale"]
    return build


def test_tfc_stitched_rtl_bit_exact(exported, tmp_path):
    _compile_and_simulate(exported, "tfc-w1a1", tmp_path)


@pytest.mark.slow
def test_tfc_simulate_command(exported, tmp_path, capsys):
    build = _compile_and_simulate(exported, "tfc-w1a1", tmp_path)
    x = _frames("tfc-w1a1", 8)[:, 0].astype(np.uint8)
    np.save(tmp_path / "x.npy", x)
    assert cli_main(["simulate", str(build), "--inputs", str(tmp_path / "x.npy"), "--outputs",
                     str(tmp_path / "y.npy"), "--stall", "0.3", "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["bit_exact"] and summary["frames"] == 8
    y = np.load(tmp_path / "y.npy")  # the model's own outputs (host scale/bias applied)
    qonnx = exported["tfc-w1a1"]
    ref = np.concatenate([execute(qonnx, f[None].astype(np.float32)) for f in x])
    np.testing.assert_allclose(y, ref, rtol=1e-5, atol=1e-5 * np.abs(ref).max())


def test_cnv_pynq_folding_stitched_rtl_bit_exact(exported, tmp_path):
    """FINN's published Pynq-Z1 folding of CNV-w1a1 (data-width converters between unequal PE/SIMD, MVAUs
    with NF up to 512): bit-exact over 8 frames with stalls 0.3 and 0, and 32,768 cycles per frame as
    estimated (the MVAU input FIFOs keep the two fully connected bottleneck layers from alternating)."""
    build = _compile_and_simulate(exported, "cnv-w1a1", tmp_path, folding=PRESET)
    assert json.loads((build / "accel.json").read_text())["estimated_cycles_per_frame"] == 32768
    # the compiled stream driver (used above) and the cocotb testbench agree: outputs and, without stalls,
    # the cycle of every output frame
    from bidrn_hw.rtl_sim import accelerator

    hw = ModelWrapper(str(build / "hw.onnx"))
    stream = host_ops.to_stream(host_ops.get(hw), _frames("cnv-w1a1", 2)[:, 0]).astype(np.int64)
    fast = accelerator.simulate(build, [stream], engine="compiled")
    slow = accelerator.simulate(build, [stream], engine="cocotb")
    assert np.array_equal(fast["outputs"][0], slow["outputs"][0])
    assert fast["frame_done_cycles"] == slow["frame_done_cycles"] and fast["cycles"] == slow["cycles"], \
        (fast["frame_done_cycles"], slow["frame_done_cycles"])


@pytest.mark.slow
def test_cnv_stitched_rtl_bit_exact(exported, tmp_path):
    """Pixel folding makes CNV's FC layers 512 x 512 XNORs per cycle: Verilator simulates about 30 cycles/s
    on this machine, so 3 frames (about 25k cycles) take about 15 minutes."""
    _compile_and_simulate(exported, "cnv-w1a1", tmp_path, frames_n=3, stalls=(0.0,))


def test_cnv_auto_folding_reaches_the_bnn_pynq_rate_on_xc7z020(exported):
    """Issue 21 item 5, by the estimate: CNV-w1a1 auto-folded for FINN's BNN-PYNQ rate on the Pynq-Z1's part
    (32,768 cycles a frame: 3,052 frames/s at 100 MHz, xc7z020) meets it, FIFOs and width converters included,
    within the part's budget and below the LUTs of FINN's hand folding (30,605). With fewer DSP blocks than the
    design's products, auto folding would move products to LUTs (resType "lut"); CNV-w1a1 has none in DSPs."""
    from bidrn_hw.devices import device_budget
    from bidrn_hw.flow.build import fold
    from bidrn_hw.flow.estimates import total_resources
    from bidrn_hw.flow.memory_styles import move_products_to_luts
    from bidrn_hw.layers import RESOURCE_KEYS, layer_cycles_of

    device = device_budget("xc7z020")
    folded, info = fold(lower_to_hw(exported["cnv-w1a1"]), target_fps=3052, fclk_mhz=100, part="xc7z020")
    assert info["mode"] == "auto" and info["target_met"] and info["fits"], info
    slowest = max(layer_cycles_of(folded, n) for n in folded.graph.node)
    assert slowest <= 32_768 and 100e6 / slowest >= 3052
    res = total_resources(folded, device)
    assert all(res[k] <= device[k] for k in RESOURCE_KEYS), res
    assert res["LUT"] < 30_605, res
    # the first layer's 8-bit x BIPOLAR products are logic (W_BIPOLAR, shift and add, as Yosys builds x * +-1
    # anyway): no DSPs, so none to move (tests/test_estimates.py moves INT4 x INT4 products)
    assert res["DSP"] == 0, res
    assert move_products_to_luts([folded], {**device, "DSP": 0}, res["DSP"]) == []
