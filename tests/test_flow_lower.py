"""Lowering BiDRN's exported partitions to FINN HW layers is exact (FINN execution == QONNX == Brevitas)."""
import numpy as np
import pytest
from qonnx.core.modelwrapper import ModelWrapper

from bidrn_hw.cli import main as cli_main
from bidrn_hw.errors import MismatchError
from bidrn_hw.flow.lower import HW_DOMAIN, execute, lower_to_hw
from lowering import lowered_bytes


@pytest.fixture(scope="module")
def tiny_export(tmp_path_factory):
    out = tmp_path_factory.mktemp("tiny") / "exp"
    assert cli_main(["export", "--config", "tiny", "--out", str(out), "--frames", "16"]) == 0
    return out


@pytest.mark.parametrize("part", ["body_encoder", "hand_encoder", "face_encoder"])
def test_tiny_partition_lowers_bit_exact(tiny_export, part):
    qonnx = ModelWrapper(str(tiny_export / part / "model.onnx"))
    inputs = np.load(tiny_export / part / "inputs.npy").astype(np.float32)
    expected = np.load(tiny_export / part / "outputs.npy")
    for x, y in zip(inputs, expected):  # QONNX execution == Brevitas hardware variant
        assert np.array_equal(execute(qonnx, x), y)
    hw = lower_to_hw(qonnx, check_inputs=[inputs[0]])  # every pass checked on one frame
    assert all(n.domain == HW_DOMAIN for n in hw.graph.node)
    ops = {n.op_type for n in hw.graph.node}
    assert {"MVAU", "Thresholding", "ConvolutionInputGenerator", "ElementwiseAdd", "DuplicateStreams"} <= ops
    for x, y in zip(inputs, expected):  # FINN execution of the HW graph == reference, 16 frames
        assert np.array_equal(execute(hw, x), y)


def test_a_pass_that_breaks_exactness_is_named(tiny_export, monkeypatch):
    """The harness catches a wrong pass: qonnx's XNOR conversion without our pad-value remap."""
    from qonnx.transformation.bipolar_to_xnor import ConvertBipolarMatMulToXnorPopcount

    import bidrn_hw.flow.lower as lower

    real = lower.passes

    def broken():
        return [(n, ConvertBipolarMatMulToXnorPopcount() if n.startswith("XnorPopcount") else t) for n, t in real()]

    monkeypatch.setattr(lower, "passes", broken)
    qonnx = ModelWrapper(str(tiny_export / "body_encoder" / "model.onnx"))
    x = np.load(tiny_export / "body_encoder" / "inputs.npy")[0].astype(np.float32)
    with pytest.raises(MismatchError, match="pass XnorPopcount"):
        lower_to_hw(qonnx, check_inputs=[x])


def test_linear_qonnx_bookkeeping_gives_the_same_graph(tiny_export, monkeypatch):
    """fast_qonnx's passes change nothing but the time: the lowered graph is byte-identical to the one qonnx's
    own InferShapes/SortGraph/GiveUniqueParameterTensors/InferDataTypes and FINN's FoldQuantWeights give. The
    tiny weights are below the size that light shape inference leaves out, so the limit is lowered to make it
    leave them out here."""
    import bidrn_hw.flow.fast_qonnx as fast_qonnx

    monkeypatch.setattr(fast_qonnx, "SMALL_INITIALIZER", 16)
    qonnx = ModelWrapper(str(tiny_export / "body_encoder" / "model.onnx"))
    assert max(np.prod(t.dims) for t in qonnx.graph.initializer) > 16
    assert lowered_bytes(qonnx, fast=True) == lowered_bytes(qonnx, fast=False)
