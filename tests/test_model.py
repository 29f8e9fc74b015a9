"""BiDRN model: Table-1 counts, forward shapes of every variant/config, gradients, bad input."""
import json

import pytest
import torch

from bidrn_hw.cli import main as cli_main
from bidrn_hw.errors import UsageError
from bidrn_hw.model import CONFIGS, VARIANTS, build_model
from bidrn_hw.model.counter import count
from bidrn_hw.model.network import WholeBodyNet

FP_PARAMS = 77_842_256  # Hand4Whole, exactly


@pytest.fixture(scope="module")
def body_model():
    from bidrn_hw.body.smplx_layer import BodyModel

    return BodyModel()


def test_fp_parameter_count_is_hand4whole_exactly():
    result = count(WholeBodyNet(CONFIGS["paper"], "fp"))
    assert result["total_params"] == FP_PARAMS
    assert result["binary_params"] == 0
    assert round(result["params_M"], 2) == 77.84


@pytest.mark.parametrize("variant", ["bnn", "xnor", "dorefa", "bireal"])
def test_bnn_baselines_match_table1_params(variant):
    result = count(WholeBodyNet(CONFIGS["paper"], variant))
    assert abs(result["params_M"] - 21.61) / 21.61 <= 0.005, result["params_M"]
    assert result["total_params"] == FP_PARAMS  # same layers, only binarized


def test_bidrn_params_and_ops_near_table1():
    result = count(WholeBodyNet(CONFIGS["paper"], "bidrn"))
    assert abs(result["params_M"] - 17.22) / 17.22 <= 0.05, result["params_M"]
    assert abs(result["ops_G"] - 2.50) / 2.50 <= 0.05, result["ops_G"]
    # BoxNet is binarized in BiDRN, float in the BNN baselines
    assert result["by_module"]["box_net"]["binary_macs_G"] > 1.0


def test_count_cli_json_keys():
    import io
    from contextlib import redirect_stdout

    buf = io.StringIO()
    with redirect_stdout(buf):
        assert cli_main(["count", "--config", "tiny", "--variant", "bidrn", "--json", "--by-module"]) == 0
    out = json.loads(buf.getvalue())
    for key in ("params_M", "ops_G", "binary_macs_G", "float_macs_G", "by_module"):
        assert key in out
    assert out["binary_macs_G"] > 0 and out["float_macs_G"] > 0


@pytest.mark.parametrize("config", list(CONFIGS))
def test_forward_every_variant_gives_mesh(config, body_model):
    n_verts = body_model.num_vertices
    n_joints = body_model.num_output_joints
    h, w = CONFIGS[config].image_input
    img = torch.rand(1, 3, h, w)
    for variant in VARIANTS:
        model = build_model(config, variant, body_model=body_model).eval()
        with torch.no_grad():
            out = model(img)
        assert out["vertices"].shape == (1, n_verts, 3), (config, variant)
        assert out["joints"].shape == (1, n_joints, 3), (config, variant)
        assert out["body_pose"].shape == (1, 63) and out["lhand_pose"].shape == (1, 45)
        assert out["boxes"].shape == (1, 3, 4)
        assert torch.isfinite(out["vertices"]).all(), (config, variant)


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_gradients_reach_every_parameter(variant, body_model):
    torch.manual_seed(0)
    model = build_model("tiny", variant, body_model=body_model).train()
    h, w = model.config.image_input
    out = model(torch.rand(2, 3, h, w))
    loss = out["vertices"].pow(2).mean() + out["joints"].pow(2).mean()
    loss = loss + sum(out[k].pow(2).mean() for k in ("boxes", "body_joints_img", "hand_joints_img"))
    loss.backward()
    for name, p in model.named_parameters():
        if name.startswith("body_model"):
            continue
        assert p.grad is not None, f"{variant}: no gradient reaches {name}"
        assert torch.isfinite(p.grad).all(), f"{variant}: non-finite gradient in {name}"
        assert p.grad.abs().max() > 0, f"{variant}: zero gradient in {name}"


def test_bidrn_uses_every_lcr_variant_at_paper_scale():
    from bidrn_hw.model.blocks import ChannelGroupMean, ChannelRepeat, DownsampleUnit

    model = WholeBodyNet(CONFIGS["paper"], "bidrn")
    kinds = {type(m) for m in model.modules()}
    assert {ChannelGroupMean, ChannelRepeat, DownsampleUnit} <= kinds
    assert any(isinstance(m, torch.nn.AvgPool2d) for m in model.modules())


def test_wrong_image_size_is_a_clear_error():
    model = build_model("tiny", "bidrn", with_body_model=False)
    with pytest.raises(UsageError, match=r"expects images of shape \(B, 3, 128, 96\)"):
        model(torch.rand(1, 3, 64, 64))


@pytest.mark.parametrize("args, word", [(["--config", "huge"], "huge"), (["--variant", "ternary"], "ternary")])
def test_unknown_config_or_variant_exits_nonzero(args, word, capsys):
    code = cli_main(["count", *args])
    assert code != 0
    assert word in capsys.readouterr().err
