"""Losses on a fixed batch, the training loop, checkpoints (save / resume / bad files), load_model."""
import hashlib

import pytest
import torch
from torch.utils.data import default_collate

from bidrn_hw.errors import InputFileError, UsageError
from bidrn_hw.model.configs import get_config
from bidrn_hw.model.network import WholeBodyNet
from bidrn_hw.train import loop as loop_module
from bidrn_hw.train.checkpoint import load_model, read_checkpoint, save_checkpoint
from bidrn_hw.train.data import SyntheticWholeBody, camera
from bidrn_hw.train.evaluation import body_forward
from bidrn_hw.train.loop import TrainOptions, train
from bidrn_hw.train.losses import compute_losses, pose_loss

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return str(tmp_path_factory.mktemp("synthetic-cache"))


@pytest.fixture(scope="module")
def body():
    from bidrn_hw.body.smplx_layer import BodyModel

    return BodyModel()


def _opts(tmp_path, cache, **kw):
    base = dict(config="tiny", variant="bidrn", out=str(tmp_path / "run"), steps=4, batch_size=4, train_size=8,
                eval_frames=0, progress=False, cache_dir=cache, seed=5)
    base.update(kw)
    return TrainOptions(**base)


def _sha(path):
    return hashlib.sha256(open(path, "rb").read()).hexdigest()


def test_pose_loss_is_zero_for_the_truth_and_sees_2pi_wraps():
    b = {k: torch.randn(2, n) * 0.5 for k, n in
         (("root_pose", 3), ("body_pose", 63), ("lhand_pose", 45), ("rhand_pose", 45), ("jaw_pose", 3))}
    assert float(pose_loss(b, b)) == pytest.approx(0.0, abs=1e-6)
    # the same rotations written with angle + 2*pi: zero in 6D, not in axis-angle
    wrapped = {k: v + 2 * torch.pi * v / v.reshape(2, -1, 3).norm(dim=-1, keepdim=True).repeat_interleave(3, -1)
                  .reshape(v.shape) for k, v in b.items()}
    assert float(pose_loss(wrapped, b, "6d")) == pytest.approx(0.0, abs=1e-4)
    assert float(pose_loss(wrapped, b, "axis_angle")) > 1.0


@pytest.mark.parametrize("variant", ["bidrn", "bnn"])
def test_a_few_steps_reduce_the_loss_on_a_fixed_batch(variant, body):
    cfg = get_config("tiny")
    data = SyntheticWholeBody(cfg, size=4, seed=2, body_model=body)
    batch = default_collate(data.__getitems__(range(4)))
    torch.manual_seed(0)
    net = WholeBodyNet(cfg, variant, None)
    opt = torch.optim.Adam(net.parameters(), lr=2e-3)
    focal = camera(cfg)[0]
    totals = []
    for _ in range(12):
        out = net(batch["image"])
        out["vertices"], out["joints"] = body_forward(body, out)
        losses = compute_losses(out, batch, cfg, focal)
        assert set(losses) >= {"pose", "shape", "expr", "joint_cam", "joint_proj", "joint_img", "box", "total"}
        opt.zero_grad()
        losses["total"].backward()
        opt.step()
        totals.append(float(losses["total"].detach()))
    assert totals[-1] < 0.75 * totals[0], totals


def test_train_resume_after_interruption_matches_an_uninterrupted_run(tmp_path, cache, monkeypatch):
    full, full_net = train(_opts(tmp_path / "a", cache), return_net=True)
    assert full["steps_run"] == 4 and full["final_loss"] > 0
    ckpt = read_checkpoint(full["checkpoint"])
    assert ckpt["finished"] and ckpt["step"] == 4 and len(ckpt["history"]) == 4

    real_save, calls = loop_module.save_checkpoint, []

    def interrupted_save(*args, **kwargs):  # the run dies right after its first epoch checkpoint
        real_save(*args, **kwargs)
        calls.append(kwargs["step"])
        raise KeyboardInterrupt

    monkeypatch.setattr(loop_module, "save_checkpoint", interrupted_save)
    with pytest.raises(KeyboardInterrupt):
        train(_opts(tmp_path / "b", cache))
    assert calls == [2]  # 8 samples / batch 4: the epoch ends at step 2
    monkeypatch.setattr(loop_module, "save_checkpoint", real_save)
    half = read_checkpoint(tmp_path / "b" / "run" / "checkpoint.pt")
    assert half["step"] == 2 and not half["finished"]

    with pytest.raises(UsageError, match="--resume"):  # never overwrites a run silently
        train(_opts(tmp_path / "b", cache))
    resumed, resumed_net = train(_opts(tmp_path / "b", cache, resume=True), return_net=True)
    assert resumed["resumed_from"] == 2 and resumed["steps_run"] == 2
    for (k, a), (_, b) in zip(full_net.state_dict().items(), resumed_net.state_dict().items()):
        assert torch.allclose(a, b, atol=1e-6), k
    digest = _sha(tmp_path / "b" / "run" / "checkpoint.pt")
    done = train(_opts(tmp_path / "b", cache, resume=True))  # already finished: nothing to run or rewrite
    assert done["steps_run"] == 0 and _sha(tmp_path / "b" / "run" / "checkpoint.pt") == digest


def test_load_model_and_bad_checkpoints(tmp_path, cache, body):
    run = train(_opts(tmp_path, cache, variant="xnor", steps=2, eval_frames=4))
    path = run["checkpoint"]
    assert set(run["metrics"]) == {"mpvpe_mm", "pa_mpvpe_mm", "pa_mpjpe_mm", "mpvpe_hands_mm", "mpvpe_face_mm"}
    model = load_model(path, "tiny", "xnor", body_model=body)
    assert model.variant == "xnor" and not model.training and model.body_model is body
    digest = _sha(path)
    with pytest.raises(InputFileError, match="config 'tiny', not 'edge'"):
        load_model(path, config="edge", with_body_model=False)
    with pytest.raises(InputFileError, match="variant 'xnor', not 'bidrn'"):
        load_model(path, variant="bidrn", with_body_model=False)

    corrupt = tmp_path / "corrupt.pt"
    corrupt.write_bytes(b"\x00garbage" * 100)
    truncated = tmp_path / "truncated.pt"
    truncated.write_bytes(open(path, "rb").read()[:5000])
    other = tmp_path / "other.pt"
    torch.save({"weights": torch.zeros(3)}, other)
    for bad, pattern in ((corrupt, "not a readable checkpoint"), (truncated, "not a readable checkpoint"),
                         (other, "not a bidrn-hw checkpoint"), (tmp_path / "missing.pt", "not found")):
        before = bad.read_bytes() if bad.exists() else None
        with pytest.raises(InputFileError, match=pattern) as err:
            load_model(bad, with_body_model=False)
        assert str(bad) in str(err.value)
        assert (bad.read_bytes() if bad.exists() else None) == before
    # weights for another network: named, not loaded
    wrong = tmp_path / "wrong.pt"
    save_checkpoint(wrong, WholeBodyNet(get_config("tiny"), "bidrn", None), step=1)
    state = torch.load(wrong, weights_only=True)
    state["model"]["body_encoder.stem.0.weight"] = torch.zeros(1)
    state["variant"] = "bidrn"
    torch.save(state, wrong)
    with pytest.raises(InputFileError, match="body_encoder.stem.0.weight"):
        load_model(wrong, with_body_model=False)
    assert _sha(path) == digest


def test_output_heads_start_at_the_mean_target():
    from bidrn_hw.train.loop import init_output_heads

    torch.manual_seed(0)
    net = WholeBodyNet(get_config("tiny"), "bidrn", None).eval()
    img = torch.rand(2, 3, 128, 96)
    with torch.no_grad():
        before = net(img)
        init_output_heads(net, mean_depth=40.0)
        after = net(img)
    # rest pose, upright and facing the camera (pi about x), at about the requested depth
    assert after["body_pose"].abs().mean() < 0.5 * before["body_pose"].abs().mean()
    assert after["body_pose"].abs().max() < 0.3
    from bidrn_hw.train.rotation import axis_angle_to_matrix

    facing = axis_angle_to_matrix(torch.tensor([torch.pi, 0.0, 0.0]))
    rel = axis_angle_to_matrix(after["root_pose"]).transpose(1, 2) @ facing
    angle = torch.arccos(((rel.diagonal(dim1=1, dim2=2).sum(-1) - 1) / 2).clamp(-1, 1))
    assert angle.max() < 0.5  # radians from upright-facing-the-camera
    assert after["cam_trans"][:, 2].sub(40.0).abs().max() < 4.0
