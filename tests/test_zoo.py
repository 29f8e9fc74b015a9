"""The network zoo (benchmarks/zoo.py): networks written as Brevitas users write them, through the command line,
against QONNX execution of their export; and unsupported constructs refused in one line.

Default suite: the same constructs at tiny widths and inputs (zoo.networks()' ``fast`` entries: bnn_pynq's FC
class without a final quantizer, the ResNet with shared and separately quantized residual adds, the
depthwise-separable block), each built once per session and shared by the tests that read it, run in this
process (FINN and torch imported once) with the compiled engine and 4 frames. Every full-size network of the
zoo (bnn_pynq in every width, ResNet, depthwise block, MobileNet-v1) is in the slow tests."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import onnx  # noqa: F401
import pytest
from onnx import TensorProto, helper

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))

import zoo  # noqa: E402

NETS = zoo.networks()
FAST = [n for n, s in NETS.items() if s.fast]
FULL = [n for n, s in NETS.items() if not s.fast]


@pytest.fixture(scope="session")
def fast_rows(tmp_path_factory):
    """zoo.run_network of each fast network, built on first use and shared by the tests."""
    rows = {}
    out = tmp_path_factory.mktemp("zoo")

    def row(name):
        if name not in rows:
            rows[name] = zoo.run_network(name, NETS[name], out, frames=4, stall=0.3, cycles=False, inprocess=True)
        return rows[name]
    return row


def test_fast_subset_covers_the_constructs():
    assert set(FAST) == {"fc-w2a2-tiny", "resnet-separate-tiny", "depthwise-tiny"}
    assert {"tfc-w2a2", "cnv-w2a2", "lfc-w1a2", "resnet", "resnet-separate", "depthwise",
            "mobilenet-v1-0.25-4b"} <= set(FULL)


def test_bnn_pynq_fc_without_final_quantizer_is_exact(fast_rows):
    """bnn_pynq's FC class ending in a QuantLinear without quantizer (as TFC-w2a2 does): its output type comes
    from the actual weights and the RTL's accumulator follows it (it was refused: 'INT8 narrower than the
    accumulator (10 bits)')."""
    row = fast_rows("fc-w2a2-tiny")
    assert row["compiled"], row.get("error")
    assert row["dead_layers"] == [] and all(a["distinct"] >= 2 for a in row["activations"])
    assert row["reference_integer"] and row["exact"] and row["mismatches"] == 0, row


@pytest.mark.parametrize("name", ["resnet-separate-tiny", "depthwise-tiny"])
def test_user_networks_compile_and_are_exact_tiny(name, fast_rows):
    """The user-style ResNet (QuantIdentity input, biases, a shared-quantizer add and a separately quantized
    one, TruncAvgPool2d, mean, flatten, QuantLinear head) and the depthwise-separable block (VVAU), at tiny
    widths: compiled by the command line and integer-equal to QONNX execution of the export with stalls."""
    row = fast_rows(name)
    assert row["dead_layers"] == []
    assert row["compiled"], row.get("error")
    assert row["reference_integer"] and row["exact"] and row["mismatches"] == 0, row


@pytest.mark.slow
def test_bnn_pynq_without_final_quantizer_is_exact(tmp_path):
    """TFC-w2a2 at its real size (the fast test's full-size counterpart)."""
    row = zoo.run_network("tfc-w2a2", NETS["tfc-w2a2"], tmp_path, frames=8, stall=0.3, cycles=False)
    assert row["compiled"], row.get("error")
    assert row["dead_layers"] == [] and all(a["distinct"] >= 2 for a in row["activations"])
    assert row["reference_integer"] and row["exact"] and row["mismatches"] == 0, row


@pytest.mark.slow
@pytest.mark.parametrize("name", ["resnet", "depthwise"])
def test_user_networks_compile_and_are_exact(name, tmp_path):
    """The user-style ResNet and the depthwise-separable block at their zoo size."""
    row = zoo.run_network(name, NETS[name], tmp_path, frames=4, stall=0.3, cycles=False)
    assert row["dead_layers"] == []
    assert row["compiled"], row.get("error")
    assert row["reference_integer"] and row["exact"] and row["mismatches"] == 0, row


@pytest.mark.slow
@pytest.mark.parametrize("name", FULL)
def test_full_zoo(name, tmp_path):
    """Every full-size network as benchmarks/zoo.py runs it (8 frames, stall 0.3): compiled, integer-equal to
    QONNX execution, measured cycles per frame within 5% of the estimate (minutes each; CNV about 20)."""
    row = zoo.run_network(name, NETS[name], tmp_path, frames=8, stall=0.3)
    assert row["compiled"], row.get("error")
    assert row["reference_integer"] and row["exact"] and row["mismatches"] == 0, row
    err = row["cycles_measured"] / row["cycles_estimated"] - 1
    assert abs(err) <= 0.05, row


def _quant(name, inp, out, bits, signed=1):
    return helper.make_node("Quant", [inp, f"{name}_s", f"{name}_z", f"{name}_b"], [out], name=name,
                            domain="qonnx.custom_op.general", signed=signed, narrow=0, rounding_mode="ROUND")


def _model(nodes, inits, out_shape, path):
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4, 4, 4])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, out_shape)], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    from qonnx.core.datatype import DataType
    from qonnx.core.modelwrapper import ModelWrapper

    mw = ModelWrapper(model)
    mw.set_tensor_datatype("x", DataType["UINT8"])
    mw.save(str(path))


def _qinits(name, scale=1.0, bits=8):
    return [helper.make_tensor(f"{name}_s", TensorProto.FLOAT, [], [scale]),
            helper.make_tensor(f"{name}_z", TensorProto.FLOAT, [], [0.0]),
            helper.make_tensor(f"{name}_b", TensorProto.FLOAT, [], [float(bits)])]


CASES = {
    "softmax": ([_quant("Q0", "x", "q", 8), helper.make_node("Softmax", ["q"], ["y"], name="Soft0")],
                _qinits("Q0"), [1, 4, 4, 4], "Soft0 (Softmax)"),
    "concat": ([_quant("Q0", "x", "q", 8), helper.make_node("Concat", ["q", "q"], ["y"], axis=1, name="Cat0")],
               _qinits("Q0"), [1, 8, 4, 4], "Cat0 (Concat)"),
    "product_of_streams": ([_quant("Q0", "x", "q", 8), helper.make_node("Mul", ["q", "q"], ["y"], name="Sq0")],
                           _qinits("Q0"), [1, 4, 4, 4], "Sq0 (Mul)"),
    "grouped_conv": ([_quant("Q0", "x", "q", 8),
                      helper.make_node("Conv", ["q", "w"], ["y"], group=2, kernel_shape=[1, 1], name="GConv0")],
                     [*_qinits("Q0"), helper.make_tensor("w", TensorProto.FLOAT, [8, 2, 1, 1], [1.0] * 16)],
                     [1, 8, 4, 4], "GConv0 (Conv)"),
    "trunc_round": ([_quant("Q0", "x", "q", 8),
                     helper.make_node("AveragePool", ["q"], ["p"], kernel_shape=[2, 2], strides=[2, 2], name="P0"),
                     helper.make_node("Trunc", ["p", "Q0_s", "Q0_z", "tb", "Q0_b"], ["y"], name="T0",
                                      domain="qonnx.custom_op.general", rounding_mode="ROUND")],
                    [*_qinits("Q0"), helper.make_tensor("tb", TensorProto.FLOAT, [], [10.0])], [1, 4, 2, 2],
                    "T0 (Trunc)"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_unsupported_construct_one_line_exit_2(case, tmp_path, capsys):
    from bidrn_hw.cli import main

    nodes, inits, out_shape, named = CASES[case]
    path = tmp_path / "m.onnx"
    _model(nodes, inits, out_shape, path)
    out = tmp_path / "build"
    code = main(["compile", str(path), "--out", str(out), "--json"])
    res = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert code == 2 and res["kind"] == "UnsupportedOpError", res
    assert named in res["error"] and "\n" not in res["error"]
    assert not out.exists() and not any(p.name.startswith(".build") for p in tmp_path.iterdir())


def test_random_bytes_are_not_a_traceback(tmp_path, capsys):
    from bidrn_hw.cli import main

    path = tmp_path / "junk.onnx"
    path.write_bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    code = main(["compile", str(path), "--out", str(tmp_path / "b"), "--json"])
    res = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert code != 0 and res.get("error") and "\n" not in res["error"]


@pytest.mark.slow
def test_mobilenet_vvau_luts_against_yosys(tmp_path):
    """MobileNet-v1 0.25 (4-bit) compiles and is exact, and each VVAU layer's LUT estimate is within 20% of
    Yosys synth_xilinx out of context (benchmarks/zoo_vvau_yosys.py; tens of minutes)."""
    import zoo_vvau_yosys

    name = "mobilenet-v1-0.25-4b"
    row = zoo.run_network(name, NETS[name], tmp_path, frames=2, stall=0.3, cycles=False)
    assert row["compiled"] and row["exact"], row
    out = tmp_path / "vvau.json"
    zoo_vvau_yosys.main([str(tmp_path / name / "build"), "--out", str(out)])
    res = json.loads(out.read_text())
    assert len(res["layers"]) == 13 and res["worst_abs_error"] <= 0.2, res
