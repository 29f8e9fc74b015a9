"""Hardware variant of BiDRN encoders: exact QONNX export, integer semantics, measured float deviation."""
import json

import numpy as np
import pytest
import torch

from bidrn_hw.cli import main as cli_main
from bidrn_hw.model.export import export_hardware_encoder, run_qonnx
from bidrn_hw.model.hardware import HardwareEncoder, calibrate_scale, level_thresholds, to_hardware
from bidrn_hw.model.network import WholeBodyNet
from bidrn_hw.model.configs import CONFIGS
from bidrn_hw.model.quant import LearnableBias, RPReLU


def randomized(config="tiny", seed=0):
    """A BiDRN with random BN statistics, shifts and RPReLU parameters (non-trivial thresholds)."""
    torch.manual_seed(seed)
    model = WholeBodyNet(CONFIGS[config], "bidrn").eval()
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-1, 1)
            m.running_var.uniform_(0.5, 2)
            m.weight.data.uniform_(-1.5, 1.5)  # negative slopes exercise the weight-sign folding
            m.bias.data.uniform_(-0.3, 0.3)
        elif isinstance(m, RPReLU):
            m.shift_in.data.uniform_(-0.2, 0.2)
            m.shift_out.data.uniform_(-0.2, 0.2)
        elif isinstance(m, LearnableBias):
            m.bias.data.uniform_(-0.1, 0.1)
    return model


def test_level_thresholds_match_direct_evaluation():
    rng = np.random.default_rng(0)
    a, b = rng.uniform(0.1, 2, (5, 1)), rng.uniform(-3, 3, (5, 1))
    g = lambda acc: np.maximum(a * acc + b, 0.2 * (a * acc + b))  # monotone, two slopes
    thr = level_thresholds(g, -8, 7, -40, 40, 0.7)
    acc = np.arange(-40, 41)[None, :].repeat(5, 0).astype(float)
    direct = np.clip(np.floor(g(acc) / 0.7), -8, 7)
    via_thr = (acc[:, :, None] >= thr[:, None, :]).sum(-1) - 8
    assert np.array_equal(direct, via_thr)


@pytest.mark.parametrize("config, part", [("tiny", "body_encoder"), ("tiny", "hand_encoder"), ("edge", "face_encoder")])
def test_qonnx_export_is_bit_exact(config, part, tmp_path):
    model = randomized(config)
    from bidrn_hw.partition import partition_input_hw

    size = partition_input_hw(model.config, part)
    hw = to_hardware(getattr(model, part), torch.rand(4, 3, *size))
    assert hw.report.channels_flipped > 0
    qonnx = export_hardware_encoder(hw, size, tmp_path / "m.onnx")
    types = {n.op_type for n in qonnx.graph.node}
    assert {"MultiThreshold", "Conv", "Add", "BipolarQuant"} <= types
    assert qonnx.get_tensor_datatype(qonnx.graph.input[0].name).name == "UINT8"
    gen = torch.Generator().manual_seed(1)
    for _ in range(4):
        x = torch.randint(0, 256, (1, 3, *size), generator=gen).float()
        with torch.no_grad():
            ref = hw(x).numpy()
        out = run_qonnx(qonnx, x.numpy())
        assert np.array_equal(out, ref)
        assert ref.min() >= -128 and ref.max() <= 127 and np.array_equal(ref, np.round(ref))


def test_hardware_variant_approaches_float_as_residual_widens():
    model = randomized("tiny")
    enc = model.body_encoder
    images = torch.rand(8, 3, 64, 48)
    u8 = torch.round(images * 255)
    with torch.no_grad():
        ref = enc(u8 / 255)
    errors = {}
    for bits in (6, 8, 12):
        hw = HardwareEncoder(enc, calibrate_scale(enc, images, bits, 1.0), bits).eval()
        with torch.no_grad():
            errors[bits] = ((hw(u8) * hw.scale - ref).abs().mean() / ref.abs().mean()).item()
    assert errors[12] < errors[8] < errors[6]
    assert errors[12] < 0.05


def test_export_cli_writes_partitions(tmp_path):
    out = tmp_path / "exp"
    assert cli_main(["export", "--config", "tiny", "--out", str(out), "--frames", "2", "--json"]) == 0
    summary = json.loads((out / "partitions.json").read_text())
    assert set(summary["partitions"]) == {"body_encoder", "hand_encoder", "face_encoder"}
    for name in summary["partitions"]:
        inputs = np.load(out / name / "inputs.npy")
        outputs = np.load(out / name / "outputs.npy")
        assert inputs.dtype == np.uint8 and inputs.shape[0] == 2 and outputs.shape[0] == 2


def test_export_bad_options_fail_cleanly(tmp_path, capsys):
    assert cli_main(["export", "--config", "giant", "--out", str(tmp_path / "x")]) != 0
    assert "giant" in capsys.readouterr().err
    assert cli_main(["export", "--config", "tiny", "--residual-bits", "1", "--out", str(tmp_path / "y")]) != 0
    assert not (tmp_path / "y").exists()


def test_fast_fold_constants_equals_qonnx_fold_constants(tmp_path):
    """The one-pass constant folding of the export gives the graph qonnx's one-node-per-round pass gives."""
    from brevitas.export import export_qonnx
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.transformation.fold_constants import FoldConstants
    from qonnx.transformation.general import GiveReadableTensorNames, GiveUniqueNodeNames
    from qonnx.transformation.infer_shapes import InferShapes

    from bidrn_hw.model.export import FastFoldConstants

    hw = to_hardware(randomized("tiny").hand_encoder, torch.rand(2, 3, 32, 32))
    with torch.no_grad():
        export_qonnx(hw.eval(), torch.rand(1, 3, 32, 32) * 255, str(tmp_path / "raw.onnx"), dynamo=False,
                     opset_version=13)
    raw = ModelWrapper(str(tmp_path / "raw.onnx")).transform(InferShapes())
    slow = ModelWrapper(str(tmp_path / "raw.onnx")).transform(InferShapes()).transform(FoldConstants())
    assert len(raw.graph.node) - len(slow.graph.node) >= 4, "nothing to fold: the test would mean nothing"
    fast = ModelWrapper(str(tmp_path / "raw.onnx")).transform(InferShapes()).transform(FastFoldConstants())
    # folded tensors get random names in both; name them by position, as the export does
    slow, fast = (m.transform(GiveUniqueNodeNames()).transform(GiveReadableTensorNames()) for m in (slow, fast))
    assert fast.graph.SerializeToString() == slow.graph.SerializeToString()


def test_export_tidying_with_linear_qonnx_bookkeeping_is_identical(tmp_path):
    """The export's qonnx passes give the same bytes with fast_qonnx's linear versions (its light shape
    inference made to leave every weight out) as with qonnx's own."""
    import bidrn_hw.flow.fast_qonnx as fq
    from brevitas.export import export_qonnx
    from qonnx.core.modelwrapper import ModelWrapper

    from bidrn_hw.model.export import tidy_export

    hw = to_hardware(randomized("tiny").hand_encoder, torch.rand(2, 3, 32, 32))
    with torch.no_grad():
        export_qonnx(hw.eval(), torch.rand(1, 3, 32, 32) * 255, str(tmp_path / "raw.onnx"), dynamo=False,
                     opset_version=13)
    slow = tidy_export(ModelWrapper(str(tmp_path / "raw.onnx")))
    limit = fq.SMALL_INITIALIZER
    fq.SMALL_INITIALIZER = 16
    try:
        with fq.fast_qonnx():
            fast = tidy_export(ModelWrapper(str(tmp_path / "raw.onnx")))
    finally:
        fq.SMALL_INITIALIZER = limit
    assert fast.model.SerializeToString() == slow.model.SerializeToString()


def test_readable_names_in_one_sweep_equal_qonnx_names(tmp_path):
    from brevitas.export import export_qonnx
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.transformation.general import GiveReadableTensorNames, GiveUniqueNodeNames
    from qonnx.transformation.infer_shapes import InferShapes

    from bidrn_hw.flow.fast_qonnx import readable_tensor_names

    hw = to_hardware(randomized("tiny").body_encoder, torch.rand(2, 3, 64, 48))
    with torch.no_grad():
        export_qonnx(hw.eval(), torch.rand(1, 3, 64, 48) * 255, str(tmp_path / "raw.onnx"), dynamo=False,
                     opset_version=13)
    slow, fast = (ModelWrapper(str(tmp_path / "raw.onnx")).transform(InferShapes()).transform(GiveUniqueNodeNames())
                  for _ in range(2))
    slow = slow.transform(GiveReadableTensorNames())
    assert readable_tensor_names(fast)
    assert fast.model.SerializeToString() == slow.model.SerializeToString()


def test_quantile_of_many_values_equals_torch_quantile():
    from bidrn_hw.model.hardware import _quantile

    values = torch.rand(2_500_001, generator=torch.Generator().manual_seed(0)) ** 3
    for q in (0.5, 0.999, 1.0):
        assert _quantile(values, q) == pytest.approx(torch.quantile(values.double(), q).item(), rel=1e-6)
