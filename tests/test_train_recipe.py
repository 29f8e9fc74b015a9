"""The training recipe's parts: LR schedule, two-stage binarization, augmentation, the mean-mesh baseline, the
vertex loss, learning curves, shared cache shards, the QONNX-executed hardware variant and accuracy.py's
bookkeeping. Everything here runs a few steps at most."""
import importlib
import json
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from torch.utils.data import default_collate

from bidrn_hw.model.configs import get_config
from bidrn_hw.model.network import WholeBodyNet
from bidrn_hw.train.loop import TrainOptions, make_scheduler, set_weight_binarization, write_learning_curve

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def body():
    from bidrn_hw.body.smplx_layer import BodyModel

    return BodyModel()


@pytest.fixture(scope="module")
def generator(body):
    from bidrn_hw.train.data import SyntheticGenerator

    return SyntheticGenerator("tiny", body)


def _lrs(opts, n):
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=opts.lr)
    sched = make_scheduler(opt, opts)
    out = []
    for _ in range(n):
        out.append(sched.get_last_lr()[0])
        opt.step()
        sched.step()
    return out, opt, sched


def test_cosine_schedule_warms_up_then_decays_and_resumes_exactly():
    opts = TrainOptions(steps=100, lr=1e-3, warmup=0.1, final_lr=0.01)
    lrs, _, _ = _lrs(opts, 100)
    assert lrs[0] == pytest.approx(1e-5)                                    # lr / 100 at the first step
    assert all(a < b for a, b in zip(lrs[:10], lrs[1:11]))                  # linear warm-up
    assert lrs[10] == pytest.approx(1e-3)
    assert all(a >= b for a, b in zip(lrs[10:], lrs[11:]))                  # then never rises
    assert lrs[-1] == pytest.approx(1e-5, rel=0.05)
    # a scheduler restored from a state dict continues the same sequence
    _, opt, sched = _lrs(opts, 37)
    state = sched.state_dict()
    opt2 = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=opts.lr)
    sched2 = make_scheduler(opt2, opts)
    sched2.load_state_dict(state)
    assert sched2.get_last_lr()[0] == pytest.approx(lrs[37])
    step = TrainOptions(steps=10, lr=1.0, schedule="step", lr_milestones=(0.5,), lr_gamma=0.1)
    assert _lrs(step, 10)[0] == pytest.approx([1.0] * 5 + [0.1] * 5)


def test_two_stage_binarization_switches_the_weights_only():
    torch.manual_seed(0)
    net = WholeBodyNet(get_config("tiny"), "bidrn").eval()
    layers = [m for m in net.modules() if getattr(m, "is_binary", False) and hasattr(m, "weight_quant")]
    assert layers
    layer = layers[0]
    w = layer.weight.detach()

    def weights():
        q = layer.quant_weight()
        return (q.value if hasattr(q, "value") else q).detach()

    set_weight_binarization(net, False)
    assert torch.equal(weights(), w)
    set_weight_binarization(net, True)
    q = weights()
    assert not torch.equal(q, w)
    assert torch.all((q.abs() - q.abs().amax(dim=tuple(range(1, q.dim())), keepdim=True)).abs() < 1e-6)
    x = torch.rand(1, 3, *net.config.image_input)
    with torch.no_grad():
        binary = net(x)["body_joints_img"]
        set_weight_binarization(net, False)
        real = net(x)["body_joints_img"]
    assert not torch.allclose(binary, real)
    fp = WholeBodyNet(get_config("tiny"), "fp")
    set_weight_binarization(fp, False)  # no binarized layers: a no-op


def test_photometric_augmentation_keeps_labels_and_range(generator):
    from bidrn_hw.train.data import photometric, to_sample
    from bidrn_hw.train.loop import augment_items

    s = to_sample(generator.generate(0, [3]), 0)
    a = photometric(s["image"], np.random.default_rng(1))
    b = photometric(s["image"], np.random.default_rng(1))
    assert torch.equal(a, b) and a.shape == s["image"].shape and 0 <= a.min() and a.max() <= 1
    assert (a - s["image"]).abs().mean() > 1e-3
    (e0,), (e1,) = augment_items([s], 0, 0, [3]), augment_items([s], 0, 1, [3])
    assert not torch.equal(e0["image"], e1["image"])                  # another epoch, other colours
    assert all(torch.equal(e0[k], s[k]) for k in s if k != "image")   # labels untouched


def test_mean_mesh_baseline(body, generator):
    from bidrn_hw.train.data import SyntheticWholeBody
    from bidrn_hw.train.evaluation import evaluate_constant, mean_mesh_baseline, mean_meshes, training_meshes

    train = SyntheticWholeBody("tiny", size=6, generator=generator)
    val = SyntheticWholeBody("tiny", size=4, split="val", generator=generator)
    meshes = training_meshes(body, train, 6)
    assert meshes.shape == (6, 10475, 3)
    # a set of one mesh: both means are that mesh, and predicting the truth scores zero
    one = mean_meshes(meshes[:1])
    assert torch.allclose(one["mean"], meshes[0], atol=1e-6)
    assert torch.allclose(one["procrustes_mean"], meshes[0], atol=1e-5)
    single = SyntheticWholeBody("tiny", size=1, generator=generator)
    zero = evaluate_constant(body, meshes[0], single)
    assert all(v < 1e-2 for v in zero.values())  # mm
    base = mean_mesh_baseline(body, train, val, train_frames=6)
    assert base["train_frames"] == 6
    for k, v in base["best"].items():
        assert v == min(base["mean"][k], base["procrustes_mean"][k]) and v > 10


def test_vertex_loss_is_zero_for_the_truth_and_positive_otherwise(body, generator):
    from bidrn_hw.train.data import camera
    from bidrn_hw.train.evaluation import body_forward
    from bidrn_hw.train.losses import compute_losses

    cfg = get_config("tiny")
    batch = {k: torch.from_numpy(v) for k, v in generator.generate(0, [0, 1]).items()}
    v, j = body_forward(body, batch)
    batch["vertices_gt"] = v
    net_out = WholeBodyNet(cfg, "fp")(batch["image"].permute(0, 3, 1, 2).float() / 255)
    truth = {**net_out, **{k: batch[k] for k in ("root_pose", "body_pose", "lhand_pose", "rhand_pose", "jaw_pose",
                                                  "shape", "expr", "cam_trans")}}
    truth["vertices"], truth["joints"] = v + 0.3, j + 0.3   # a translation: the pelvis-relative loss ignores it
    assert float(compute_losses(truth, batch, cfg, camera(cfg)[0])["vertex"]) < 1e-6
    truth["vertices"] = v * 1.1
    assert float(compute_losses(truth, batch, cfg, camera(cfg)[0])["vertex"]) > 1e-3


def test_learning_curve_png(tmp_path):
    from PIL import Image

    hist = [{"step": i + 1, "total": 5.0 / (i + 1)} for i in range(20)]
    hist[9]["val"] = {"mpvpe_mm": 200.0, "pa_mpjpe_mm": 100.0}
    hist[19]["val"] = {"mpvpe_mm": 150.0, "pa_mpjpe_mm": 80.0}
    path = write_learning_curve(hist, tmp_path / "c" / "curve.png", "tiny/fp", final={"mpvpe_mm": 150.0})
    with Image.open(path) as im:
        assert im.size[0] > 400 and im.size[1] > 200


def test_cache_sets_of_different_sizes_share_shards(tmp_path, generator):
    from bidrn_hw.train.data import cached_dataset

    small = cached_dataset("tiny", 3, seed=4, root=tmp_path, shard_size=2, progress=False, generator=generator)
    shards = sorted(tmp_path.glob("*/shard_*.npz"))
    assert len(small) == 3 and len(shards) == 2
    mtimes = [p.stat().st_mtime_ns for p in shards]
    big = cached_dataset("tiny", 5, seed=4, root=tmp_path, shard_size=2, progress=False, generator=generator)
    assert len(big) == 5 and big.directory == small.directory
    assert [p.stat().st_mtime_ns for p in shards] == mtimes           # the first two shards were not rendered again
    assert len(list(tmp_path.glob("*/shard_*.npz"))) == 3
    assert torch.equal(big[2]["image"], small[2]["image"])


def test_hardware_variant_through_qonnx_matches_the_pytorch_integer_network(tmp_path, body, generator):
    from bidrn_hw.train.data import SyntheticWholeBody
    from bidrn_hw.train.evaluation import evaluate_hardware_qonnx, evaluate_hardware_variant

    torch.manual_seed(0)
    net = WholeBodyNet(get_config("tiny"), "bidrn")
    net.train()
    with torch.no_grad():  # move BatchNorm statistics off their initial values
        net(torch.rand(8, 3, *net.config.image_input))
    net.eval()
    calib = SyntheticWholeBody("tiny", size=4, generator=generator)
    val = SyntheticWholeBody("tiny", size=2, split="val", generator=generator)
    torch_int = evaluate_hardware_variant(net, body, calib, val, calibration_frames=4)
    qonnx = evaluate_hardware_qonnx(net, body, calib, val, tmp_path / "onnx", calibration_frames=4)
    assert qonnx["executed_by"] == "qonnx" and sorted(p.name for p in (tmp_path / "onnx").iterdir()) == [
        "body_encoder.onnx", "face_encoder.onnx", "hand_encoder.onnx"]
    for key in ("mpvpe_mm", "pa_mpvpe_mm", "pa_mpjpe_mm"):
        assert qonnx[key] == pytest.approx(torch_int[key], abs=1e-3), key


def _accuracy_module():
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
    try:
        return importlib.import_module("accuracy")
    finally:
        sys.path.pop(0)


def test_accuracy_results_file_orders_rows_and_derives_ratios(tmp_path):
    acc = _accuracy_module()
    path = tmp_path / "accuracy.json"
    row = lambda m: {"mpvpe_mm": m, "pa_mpvpe_mm": m / 2, "pa_mpjpe_mm": m / 3, "mpvpe_hands_mm": 10.0,
                     "mpvpe_face_mm": 5.0}
    acc.update_results(path, lambda r: r.setdefault("variants", {}).update(bidrn=row(140.0), fp=row(100.0)))
    acc.update_results(path, lambda r: r.update(mean_mesh={"best": row(250.0)}))
    res = acc.update_results(path, lambda r: r["variants"].update(bnn=row(200.0)))
    on_disk = json.loads(path.read_text())
    assert list(on_disk)[:2] == ["mean_mesh", "variants"] and list(on_disk["variants"]) == ["fp", "bnn", "bidrn"]
    assert on_disk["variants"]["fp"]["ratio_to_mean_mesh"]["mpvpe_mm"] == 0.4
    assert res["bidrn_gap_closed_mpvpe"] == 0.6
    assert res["acceptance"]["fp_mpvpe_le_0.5x_mean"] and res["acceptance"]["bidrn_mpvpe_le_0.6x_mean"]
    assert res["acceptance"]["bidrn_beats"] == {"bnn": True}
