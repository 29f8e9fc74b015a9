"""Synthetic data: rasterizer cases, determinism, ground-truth consistency, boxes, the on-disk cache."""
import numpy as np
import pytest
import torch

from bidrn_hw.model import build_model
from bidrn_hw.model.configs import get_config
from bidrn_hw.train.data import (JOINT_LIMITS, SyntheticGenerator, SyntheticWholeBody, cached_dataset, camera,
                                 sample_parameters, sample_rng)
from bidrn_hw.train.render import project, rasterize
from bidrn_hw.train.skeleton import joint_sets


@pytest.fixture(scope="module")
def generator():
    return SyntheticGenerator("tiny")


@pytest.fixture(scope="module")
def batch(generator):
    return generator.generate(3, range(6), "train", with_vertices=True)


def test_rasterizer_fills_exactly_the_covered_pixel_centres():
    # a 4x3-pixel rectangle as two triangles: corners on pixel edges, so coverage is unambiguous
    pix = np.array([[2, 1], [6, 1], [6, 4], [2, 4]], float)
    face_id, zbuf = rasterize(pix, np.ones(4), np.array([[0, 1, 2], [0, 2, 3]]), 6, 8)
    covered = (face_id >= 0).reshape(6, 8)
    expected = np.zeros((6, 8), bool)
    expected[1:4, 2:6] = True
    assert (covered == expected).all()
    assert np.allclose(zbuf[face_id >= 0], 1.0)


def test_rasterizer_keeps_the_nearest_face():
    pix = np.array([[0, 0], [8, 0], [0, 8], [0, 0], [8, 0], [0, 8]], float)
    depth = np.array([5, 5, 5, 2, 2, 2], float)   # face 1 is nearer, listed second
    face_id, zbuf = rasterize(pix, depth, np.array([[0, 1, 2], [3, 4, 5]]), 8, 8)
    assert set(face_id[face_id >= 0]) == {1}
    face_id, _ = rasterize(pix, depth, np.array([[3, 4, 5], [0, 1, 2]]), 8, 8)  # order does not matter
    assert set(face_id[face_id >= 0]) == {0}


def test_camera_is_the_networks():
    cfg = get_config("tiny")
    net = build_model(cfg, "fp", with_body_model=False)
    focal, (cx, cy) = camera(cfg)
    assert focal == pytest.approx(net.focal * cfg.image_input[0] / cfg.body_input[0])
    assert (cx, cy) == (cfg.image_input[1] / 2, cfg.image_input[0] / 2)


def test_samples_are_deterministic_and_independent_of_batching(generator, batch):
    again = generator.generate(3, [4], "train")
    assert np.array_equal(again["image"][0], batch["image"][4])
    for key in ("body_pose", "shape", "cam_trans", "boxes"):
        assert np.allclose(again[key][0], batch[key][4], atol=1e-5), key
    other_seed = generator.generate(4, [4], "train")
    other_split = generator.generate(3, [4], "val")
    assert not np.array_equal(other_seed["image"][0], batch["image"][4])
    assert not np.allclose(other_split["body_pose"][0], batch["body_pose"][4])


def test_pose_samples_respect_the_joint_limits():
    from bidrn_hw.train.rotation import np_euler_xyz, np_matrix_to_axis_angle

    p = sample_parameters(sample_rng(0, "train", 0))
    assert p["body_pose"].shape == (63,) and p["lhand_pose"].shape == (45,)
    assert np.abs(p["lhand_pose"]).max() <= 0.5 and 0 <= p["jaw_pose"][0] <= 0.35
    # the knee (body-pose joint 3) only bends one way: its axis-angle is about +x
    lo, hi = JOINT_LIMITS[3].T
    assert lo[0] == 0.0 and hi[0] > 1.5
    knee = np_matrix_to_axis_angle(np_euler_xyz(np.array([[1.0, 0.0, 0.0]])))[0]
    assert knee[0] == pytest.approx(1.0)


def test_ground_truth_is_consistent(generator, batch):
    cfg = generator.config
    h, w = cfg.image_input
    img = batch["image"]
    assert img.shape == (6, h, w, 3) and img.dtype == np.uint8
    for i in range(6):
        assert img[i].std() > 5  # not constant
    focal, centre = camera(cfg)
    assert np.allclose(project(batch["joints_cam"].astype(np.float64), focal, centre), batch["joints_img"], atol=1e-2)
    # the mesh comes back from the parameters through the body model
    with torch.no_grad():
        mesh = generator.body(**{k: torch.from_numpy(batch[k]) for k in
                                 ("root_pose", "body_pose", "lhand_pose", "rhand_pose", "jaw_pose", "shape", "expr",
                                  "cam_trans")})
    assert torch.allclose(mesh.vertices, torch.from_numpy(batch["vertices"]), atol=1e-4)
    assert torch.allclose(mesh.joints, torch.from_numpy(batch["joints_cam"]), atol=1e-4)
    # the whole body is in view and in front of the camera
    assert (batch["vertices"][..., 2] > 1).all()
    uv = batch["joints_img"]
    assert (uv[..., 0] > 0).all() and (uv[..., 0] < w).all() and (uv[..., 1] > 0).all() and (uv[..., 1] < h).all()


def test_boxes_contain_the_projected_hand_and_face_joints(batch):
    h, w = get_config("tiny").image_input
    sets = joint_sets()
    uv = batch["joints_img"] / np.array([w, h])
    for b, ids in enumerate((sets.lhand, sets.rhand)):
        for key in ("boxes_tight", "boxes"):
            box = batch[key][:, b]
            p = uv[:, list(ids)]
            assert (p[..., 0] >= box[:, None, 0] - 1e-4).all() and (p[..., 0] <= box[:, None, 2] + 1e-4).all(), key
            assert (p[..., 1] >= box[:, None, 1] - 1e-4).all() and (p[..., 1] <= box[:, None, 3] + 1e-4).all(), key
        wrist = uv[:, sets.lhand_all[0] if b == 0 else sets.rhand_all[0]]
        box = batch["boxes"][:, b]
        assert ((wrist >= box[:, :2]) & (wrist <= box[:, 2:])).all()
    nose = uv[:, 55]
    face = batch["boxes_tight"][:, 2]
    assert ((nose >= face[:, :2]) & (nose <= face[:, 2:])).all()
    # the network's convention: square in pixels, hands 2x / face 1.5x the tight box's larger side
    side = (batch["boxes"][..., 2] - batch["boxes"][..., 0]) * w
    assert np.allclose(side, (batch["boxes"][..., 3] - batch["boxes"][..., 1]) * h, atol=1e-3)
    tight = np.maximum((batch["boxes_tight"][..., 2] - batch["boxes_tight"][..., 0]) * w,
                       (batch["boxes_tight"][..., 3] - batch["boxes_tight"][..., 1]) * h)
    assert np.allclose(side, tight * np.array([2.0, 2.0, 1.5]), rtol=1e-4)


def test_hands_and_face_are_skin_coloured_apart_from_the_clothes(generator):
    from bidrn_hw.train.data import _SKIN

    colors = generator._colors(np.random.default_rng(0))
    first = generator.vsets.part[generator.faces[:, 0]]
    hand = np.isin(first, [20, 21, *range(25, 55)])
    head = first == 15
    torso = np.isin(first, [0, 3, 6, 9])
    assert hand.any() and head.any() and torso.any()
    skin = colors[hand][0]
    assert np.allclose(colors[hand], skin) and np.allclose(colors[head], skin)
    assert np.min(np.abs(_SKIN / skin - 1).max(1)) <= 0.1 + 1e-9   # a skin tone (+-10%)
    assert np.abs(colors[torso] - skin).max() > 0.05                # clothes differ


def test_dataset_and_cache_give_the_same_samples(tmp_path, generator):
    live = SyntheticWholeBody("tiny", size=5, seed=1, generator=generator)
    cached = cached_dataset("tiny", 5, seed=1, root=tmp_path, shard_size=2, progress=False, generator=generator)
    assert len(cached) == 5 and len(list(tmp_path.glob("*/shard_*.npz"))) == 3
    a, b = live[3], cached[3]
    assert a["image"].shape == (3, 128, 96) and a["image"].dtype == torch.float32
    assert 0 <= a["image"].min() and a["image"].max() <= 1
    for key in a:
        assert torch.allclose(a[key].float(), b[key].float(), atol=1e-5), key
    with pytest.raises(IndexError):
        live[5]
    # a second call reuses the cache (no regeneration: same directory, same files)
    again = cached_dataset("tiny", 5, seed=1, root=tmp_path, shard_size=2, progress=False, generator=generator)
    assert again.directory == cached.directory
