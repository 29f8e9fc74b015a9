"""The whole network with its encoders in the hardware variant (accuracy evaluation of the integer model)."""
import pytest
import torch

from bidrn_hw.body.smplx_layer import PARAMETERS
from bidrn_hw.errors import UnsupportedError
from bidrn_hw.model.configs import CONFIGS
from bidrn_hw.model.encoder import ResNetEncoder
from bidrn_hw.model.hardware import (ENCODER_NAMES, HardwareEncoderAsFloat, encoder_inputs, to_hardware_network,
                                     to_uint8_levels)
from bidrn_hw.model.network import WholeBodyNet


@pytest.fixture(scope="module")
def nets():
    torch.manual_seed(0)
    net = WholeBodyNet(CONFIGS["tiny"], "bidrn").eval()
    images = torch.rand(4, 3, *CONFIGS["tiny"].image_input, generator=torch.Generator().manual_seed(1))
    return net, to_hardware_network(net, images), images


def test_hardware_network_replaces_encoders_and_leaves_the_float_net(nets):
    net, hw, images = nets
    for name in ENCODER_NAMES:
        assert isinstance(getattr(net, name), ResNetEncoder)
        assert isinstance(getattr(hw, name), HardwareEncoderAsFloat)
        assert getattr(hw, name).out_channels == getattr(net, name).out_channels
    assert not hw.training
    # Heads are copies with the same weights, not shared modules.
    assert hw.box_net is not net.box_net
    assert torch.equal(hw.body_rotation_net.cam_out.weight, net.body_rotation_net.cam_out.weight)


def test_hardware_encoders_output_integer_levels_on_uint8_input(nets):
    net, hw, images = nets
    inputs = encoder_inputs(net, images)
    for name in ENCODER_NAMES:
        enc = getattr(hw, name)
        x = inputs[name]
        with torch.no_grad():
            levels = enc.hardware(to_uint8_levels(x))
            real = enc(x)
        assert torch.equal(levels, torch.round(levels))
        assert levels.min() >= -128 and levels.max() <= 127
        assert torch.allclose(real, levels * enc.scale)
        # What the hardware sees is the uint8 image: inputs that round alike give identical features.
        on_grid = to_uint8_levels(x) / 255
        with torch.no_grad():
            assert torch.equal(enc(on_grid), enc(on_grid + 0.8 / 255 * (torch.rand_like(x) - 0.5)))


def test_hardware_network_is_close_to_the_float_model(nets):
    net, hw, images = nets
    torch.manual_seed(5)
    other = WholeBodyNet(CONFIGS["tiny"], "bidrn").eval()  # a differently initialized net: the scale of "far"
    with torch.no_grad():
        ref, out, far = net(images), hw(images), other(images)
    for key in ("body_pose", "shape", "body_joints_img", "expr", "rhand_pose"):
        assert out[key].shape == ref[key].shape
        assert torch.isfinite(out[key]).all()
        err = (out[key] - ref[key]).abs().mean()
        assert err < 0.6 * (far[key] - ref[key]).abs().mean(), key
    # The boxes (BoxNet on the integer body features) stay within a few percent of the image. Not measured
    # against "far": untrained BoxNets all put their boxes near the same place (two random nets differ by
    # 0.013 of the image, the hardware variant by 0.008), so that ratio depends on the CPU's float kernels.
    assert out["boxes"].shape == ref["boxes"].shape and torch.isfinite(out["boxes"]).all()
    assert (out["boxes"] - ref["boxes"]).abs().mean() < 0.05


def test_hardware_network_is_bidrn_only():
    net = WholeBodyNet(CONFIGS["tiny"], "bireal").eval()
    with pytest.raises(UnsupportedError, match="BiDRN"):
        to_hardware_network(net, torch.rand(1, 3, *CONFIGS["tiny"].image_input))


def test_trained_demo_model_hardware_variant_keeps_its_accuracy():
    """On the shipped trained BiDRN and 8 synthetic validation frames: the integer encoders move each
    root-relative mesh by a few percent of the float model's error, and MPVPE / PA-MPVPE stay within 5%
    (the accuracy benchmark, on 128 frames, measures +0.5 mm MPVPE at about 285 mm)."""
    from bidrn_hw.body.smplx_layer import BodyModel
    from bidrn_hw.train.checkpoint import load_demo_model
    from bidrn_hw.train.data import SyntheticGenerator, SyntheticWholeBody
    from bidrn_hw.train.evaluation import evaluate, evaluate_hardware_variant, stacked_images

    body = BodyModel()
    net = load_demo_model(body_model=None, with_body_model=False)
    gen = SyntheticGenerator("tiny", body)
    calibration = SyntheticWholeBody(size=8, split="train", generator=gen)
    val = SyntheticWholeBody(size=8, split="val", generator=gen)
    float_metrics = evaluate(net, body, val)
    hw_metrics = evaluate_hardware_variant(net, body, calibration, val)
    assert hw_metrics["residual_bits"] == 8 and hw_metrics["calibration_frames"] == 8
    for key in ("mpvpe_mm", "pa_mpvpe_mm"):
        assert abs(hw_metrics[key] - float_metrics[key]) < 0.05 * float_metrics[key], key
    hw = to_hardware_network(net, stacked_images(calibration, 8))
    images = stacked_images(val, 8)
    with torch.no_grad():
        v_ref = body(**{k: v for k, v in net(images).items() if k in PARAMETERS}).vertices
        v_hw = body(**{k: v for k, v in hw(images).items() if k in PARAMETERS}).vertices
    rel = lambda v: v - v.mean(1, keepdim=True)  # noqa: E731 (root-relative: camera depth aside)
    shift_mm = (rel(v_hw) - rel(v_ref)).norm(dim=-1).mean().item() * 1000
    print(f"float {float_metrics}, hardware {hw_metrics}, shift {shift_mm:.1f} mm")
    assert shift_mm < 0.2 * float_metrics["mpvpe_mm"], shift_mm
