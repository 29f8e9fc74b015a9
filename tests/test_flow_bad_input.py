"""Bad input to `bidrn-hw compile` through the CLI: a clear error naming the model/node/option, a non-zero exit,
and no build directory left behind (nor a temporary one that could be taken for it).

Covered elsewhere: a float graph input without a datatype annotation (test_bnn_pynq), an unknown part and a
folding whose SIMD does not divide its limit (test_folding, on the tiny export). Here: a float model without
quantizers, an unsupported op, SIMD not dividing MW on a layer not fed by a sliding window generator, and an
unknown part given with --target-fps."""
import copy
import json

import numpy as np
import pytest
from onnx import TensorProto, helper
from qonnx.core.datatype import DataType
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.custom_op.registry import getCustomOp
from qonnx.transformation.infer_datatypes import InferDataTypes

from bidrn_hw.cli import main as cli_main
from bidrn_hw.flow.bnn_pynq import export_bnn_pynq
from bidrn_hw.flow.lower import lower_to_hw


@pytest.fixture(scope="module")
def tfc(tmp_path_factory):
    root = tmp_path_factory.mktemp("tfc")
    return export_bnn_pynq("tfc-w1a1", root / "tfc.onnx", seed=5), root


def _compile(capsys, model_path, out, *extra):
    code = cli_main(["compile", str(model_path), "--out", str(out), "--json", *extra])
    text = capsys.readouterr().out
    return code, json.loads(text[text.index("{"):])


def _nothing_left(out):
    assert not out.exists()
    assert not [p for p in out.parent.iterdir() if p.name.startswith(f".{out.name}.")], list(out.parent.iterdir())


def test_float_model_without_quantizers(tmp_path, capsys):
    """A float MLP (MatMul, Add, Relu; UINT8-annotated input so it passes the input check) has no integer
    layers: the error names the first float node."""
    rng = np.random.default_rng(0)
    w1 = helper.make_tensor("w1", TensorProto.FLOAT, [16, 8], rng.normal(size=(16, 8)).astype(np.float32).ravel())
    b1 = helper.make_tensor("b1", TensorProto.FLOAT, [8], rng.normal(size=8).astype(np.float32))
    w2 = helper.make_tensor("w2", TensorProto.FLOAT, [8, 4], rng.normal(size=(8, 4)).astype(np.float32).ravel())
    nodes = [helper.make_node("MatMul", ["x", "w1"], ["h0"], name="MatMul_0"),
             helper.make_node("Add", ["h0", "b1"], ["h1"], name="Add_0"),
             helper.make_node("Relu", ["h1"], ["h2"], name="Relu_0"),
             helper.make_node("MatMul", ["h2", "w2"], ["y"], name="MatMul_1")]
    graph = helper.make_graph(nodes, "float_mlp", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 16])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])], [w1, b1, w2])
    model = ModelWrapper(helper.make_model(graph, producer_name="test"))
    model.set_tensor_datatype("x", DataType["UINT8"])
    path = tmp_path / "float_mlp.onnx"
    model.save(str(path))
    out = tmp_path / "build"
    code, res = _compile(capsys, path, out)
    assert code == 4 and res["kind"] == "UnsupportedError", res
    assert "MatMul_0 (MatMul)" in res["error"] and "no hardware layer" in res["error"], res
    assert "no quantizers" in res["error"], res  # says what is missing
    _nothing_left(out)


def test_unsupported_op_between_layers(tfc, tmp_path, capsys):
    """An Erf between two quantized layers of TFC: named with its op type and why it cannot stay."""
    qonnx, root = tfc
    model = ModelWrapper(copy.deepcopy(qonnx.model))
    mm = [n for n in model.graph.node if n.op_type == "MatMul"][1]  # the second layer's MatMul
    pre = mm.input[0] + "_before_erf"
    for node in model.graph.node:
        for i, t in enumerate(node.output):
            if t == mm.input[0]:
                node.output[i] = pre
    model.graph.node.insert(list(model.graph.node).index(mm),
                            helper.make_node("Erf", [pre], [mm.input[0]], name="Erf_inserted"))
    model.set_tensor_datatype(mm.input[0], DataType["FLOAT32"])  # Erf's output is no longer bipolar
    model = model.transform(InferDataTypes())  # nor what follows it
    path = tmp_path / "tfc_erf.onnx"
    model.save(str(path))
    out = tmp_path / "build"
    code, res = _compile(capsys, path, out)
    # refused before any pass runs (flow/supported.py), naming the node and its op type
    assert code == 2 and res["kind"] == "UnsupportedOpError", res
    assert "Erf_inserted (Erf)" in res["error"], res
    _nothing_left(out)


def test_simd_not_dividing_mw(tfc, tmp_path, capsys):
    qonnx, root = tfc
    hw = lower_to_hw(ModelWrapper(copy.deepcopy(qonnx.model)))
    mvau = next(n for n in hw.graph.node if n.op_type == "MVAU")
    mw = getCustomOp(mvau).get_nodeattr("MW")
    bad = next(v for v in range(2, mw) if mw % v)
    folding = tmp_path / "folding.json"
    folding.write_text(json.dumps({mvau.name: {"SIMD": bad, "PE": 1}}))
    out = tmp_path / "build"
    code, res = _compile(capsys, root / "tfc.onnx", out, "--folding", str(folding), "--no-check")
    assert code == 2 and res["kind"] == "UsageError", res
    for word in (str(folding), mvau.name, f"SIMD={bad}", f"MW={mw}"):
        assert word in res["error"], (word, res)
    _nothing_left(out)


def test_unknown_part_with_target_fps_keeps_an_earlier_build(tfc, tmp_path, capsys):
    qonnx, root = tfc
    out = tmp_path / "build"
    code, res = _compile(capsys, root / "tfc.onnx", out, "--no-rtl", "--no-check")
    assert code == 0, res
    before = sorted(p.name for p in out.iterdir())
    code, res = _compile(capsys, root / "tfc.onnx", out, "--target-fps", "1000", "--part", "virtex-9000")
    assert code == 2 and "unknown part 'virtex-9000'" in res["error"] and "xczu7ev" in res["error"], res
    assert sorted(p.name for p in out.iterdir()) == before  # the earlier build is untouched
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".build.")]
