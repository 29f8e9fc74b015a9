"""The `edge` config's FPGA partitions compile exactly: the Brevitas hardware variant's integer outputs ==
QONNX execution of the exported model == FINN's Python execution of the compiled (auto-folded, FIFOs and
data-width converters inserted) HW graph, on 16 random frames each.

Slow (an edge export, three compiles with per-pass checks, 3 x 16 frames executed): run with -m slow.
"""
import json

import numpy as np
import pytest
from qonnx.core.modelwrapper import ModelWrapper

from bidrn_hw.cli import main as cli_main
from bidrn_hw.flow.lower import HW_DOMAIN, execute

FRAMES = 16
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def edge_export(tmp_path_factory):
    out = tmp_path_factory.mktemp("edge") / "exp"
    assert cli_main(["export", "--config", "edge", "--out", str(out), "--frames", str(FRAMES), "--seed", "3"]) == 0
    return out


@pytest.mark.parametrize("part", ["body_encoder", "hand_encoder", "face_encoder"])
def test_edge_partition_compiles_bit_exact(edge_export, part, tmp_path, capsys):
    qonnx = ModelWrapper(str(edge_export / part / "model.onnx"))
    inputs = np.load(edge_export / part / "inputs.npy").astype(np.float32)
    expected = np.load(edge_export / part / "outputs.npy")  # the Brevitas hardware variant's integers
    assert inputs.shape[0] == expected.shape[0] == FRAMES
    assert len(np.unique(expected)) > 8  # a real spread of integers, not a constant output
    for x, y in zip(inputs, expected):  # QONNX execution == Brevitas hardware variant
        assert np.array_equal(execute(qonnx, x), y)

    # The compile command: every lowering pass checked on one frame, auto folding for the ZCU104, FIFOs, DWCs.
    build = tmp_path / "build"
    rc = cli_main(["compile", str(edge_export / part / "model.onnx"), "--out", str(build), "--no-rtl",
                   "--target-fps", "400", "--part", "xczu7ev", "--json"])
    out = capsys.readouterr().out
    assert rc == 0, out
    summary = json.loads(out[out.index("{"):])
    assert summary["estimates"]["folding"]["mode"] == "auto"
    hw = ModelWrapper(str(build / "hw.onnx"))
    assert all(n.domain == HW_DOMAIN for n in hw.graph.node)
    ops = {n.op_type for n in hw.graph.node}
    assert {"MVAU", "ConvolutionInputGenerator", "ElementwiseAdd", "DuplicateStreams"} <= ops
    folded = [n for n in hw.graph.node if n.op_type == "MVAU"]
    assert any(a.name in ("PE", "SIMD") and a.i > 1 for n in folded for a in n.attribute)  # really folded
    for i, (x, y) in enumerate(zip(inputs, expected)):  # FINN execution of the compiled graph == reference
        assert np.array_equal(execute(hw, x), y), f"{part}: frame {i} differs"
