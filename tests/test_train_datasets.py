"""AGORA and EHF loaders on tiny fake trees in the releases' layouts; the train/evaluate commands."""
import json

import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image

from bidrn_hw.cli import main as cli_main
from bidrn_hw.errors import InputFileError
from bidrn_hw.model.configs import get_config
from bidrn_hw.train.datasets import (EHF_CAMERA, AGORADataset, EHFDataset, open_dataset, person_box,
                                     read_ply_vertices)
from bidrn_hw.train.rotation import axis_angle_to_matrix

NV = 10475
CFG = get_config("tiny")


def _write_ply(path, verts, binary=True):
    faces = np.array([[0, 1, 2], [1, 2, 3]], dtype=np.int32)
    fmt = "binary_little_endian" if binary else "ascii"
    header = (f"ply\nformat {fmt} 1.0\ncomment fake EHF mesh\nelement vertex {len(verts)}\nproperty float x\n"
              f"property float y\nproperty float z\nelement face {len(faces)}\n"
              f"property list uchar int vertex_indices\nend_header\n").encode()
    with open(path, "wb") as fh:
        fh.write(header)
        if binary:
            fh.write(verts.astype("<f4").tobytes())
            for f in faces:
                fh.write(np.uint8(3).tobytes() + f.astype("<i4").tobytes())
        else:
            fh.write("".join(f"{x} {y} {z}\n" for x, y, z in verts).encode())
            fh.write("".join(f"3 {a} {b} {c}\n" for a, b, c in faces).encode())


def _person_image(path, size, box):
    img = np.zeros((size[1], size[0], 3), np.uint8)
    x0, y0, x1, y1 = (int(v) for v in box)
    img[y0:y1, x0:x1] = (200, 120, 80)
    Image.fromarray(img).save(path)


@pytest.fixture(scope="module")
def cam_mesh():
    rng = np.random.default_rng(0)
    return rng.normal(0, 0.3, (NV, 3)) + np.array([0.0, 0.0, 3.0])


@pytest.fixture(scope="module")
def ehf_tree(tmp_path_factory, cam_mesh):
    root = tmp_path_factory.mktemp("EHF")
    r = axis_angle_to_matrix(torch.tensor(EHF_CAMERA["rotvec"], dtype=torch.float64)).numpy()
    world = (cam_mesh - np.array(EHF_CAMERA["t"])) @ r  # inverse of cam = R w + t
    for k in (1, 2):
        _person_image(root / f"{k:02d}_img.jpg", (160, 120), (60, 20, 100, 110))
        _write_ply(root / f"{k:02d}_align.ply", world, binary=(k == 1))
        kp = np.zeros((25, 3))
        kp[:, 0] = np.linspace(65, 95, 25)
        kp[:, 1] = np.linspace(25, 105, 25)
        kp[:, 2] = 0.9
        kp[3, 2] = 0.0  # an undetected keypoint
        (root / f"{k:02d}_2Djnt.json").write_text(json.dumps({"version": 1.2, "people": [
            {"pose_keypoints_2d": kp.ravel().tolist(), "hand_left_keypoints_2d": [0.0] * 63,
             "hand_right_keypoints_2d": [0.0] * 63, "face_keypoints_2d": [0.0] * 210}]}))
    return root


@pytest.fixture(scope="module")
def agora_tree(tmp_path_factory, cam_mesh):
    root = tmp_path_factory.mktemp("AGORA")
    images = root / "validation_images_1280x720" / "validation"
    images.mkdir(parents=True)
    frames = root / "validation_Cam" / "Cam"
    frames.mkdir(parents=True)
    rows = []
    for k in range(2):
        name = f"ag_validationset_renderpeople_bfh_archviz_5_10_cam02_{k:05d}.png"
        _person_image(images / name.replace(".png", "_1280x720.png"), (1280, 720), (600, 100, 700, 600))
        j2d = np.stack([np.linspace(1850, 2050, 127), np.linspace(350, 1750, 127)], 1)  # 4K pixels
        rows.append({"imgPath": name, "isValid": [True, k == 0], "occlusion": [0.0, 10.0],
                     "gt_path_smplx": ["smplx_gt/a.obj", "smplx_gt/b.obj"],
                     "gt_joints_2d": [j2d, j2d], "gt_joints_3d": [np.zeros((127, 3)), np.ones((127, 3))],
                     "gt_verts": [cam_mesh, cam_mesh + 1]})
    pd.DataFrame(rows).to_pickle(frames / "validation_0_withjv.pkl")
    return root


def test_ply_reader_ascii_and_binary(tmp_path, cam_mesh):
    _write_ply(tmp_path / "a.ply", cam_mesh[:5], binary=False)
    _write_ply(tmp_path / "b.ply", cam_mesh[:5], binary=True)
    assert np.allclose(read_ply_vertices(tmp_path / "a.ply"), cam_mesh[:5], atol=1e-5)
    assert np.allclose(read_ply_vertices(tmp_path / "b.ply"), cam_mesh[:5], atol=1e-5)
    (tmp_path / "c.ply").write_text("not a mesh")
    with pytest.raises(InputFileError, match="c.ply"):
        read_ply_vertices(tmp_path / "c.ply")


def test_ehf_loader(ehf_tree, cam_mesh):
    ds = EHFDataset(ehf_tree, CFG)
    assert len(ds) == 2
    item = ds[1]
    assert item["image"].shape == (3, 128, 96)
    assert np.allclose(item["vertices"].numpy(), cam_mesh, atol=1e-4)  # camera space = R v + t
    kp = item["openpose_2d"].numpy()
    seen = kp[kp[:, 2] > 0]
    assert (seen[:, 0] > 0).all() and (seen[:, 0] < 96).all() and (seen[:, 1] > 0).all() and (seen[:, 1] < 128).all()
    # the person (the coloured block) is in the middle of the crop, the background is black
    img = item["image"].numpy()
    assert img[0, 64, 48] > 0.7 and img[:, 1, 1].max() < 0.05


def test_ehf_missing_files_are_named(ehf_tree, tmp_path):
    with pytest.raises(InputFileError, match="not found"):
        EHFDataset(tmp_path / "nowhere", CFG)
    with pytest.raises(InputFileError, match="NN_align.ply"):
        EHFDataset(tmp_path, CFG)
    broken = tmp_path / "EHF"
    broken.mkdir()
    for f in ehf_tree.iterdir():
        if f.name != "02_2Djnt.json":
            (broken / f.name).write_bytes(f.read_bytes())
    with pytest.raises(InputFileError, match="02_2Djnt.json"):
        EHFDataset(broken, CFG)


def test_agora_loader(agora_tree, cam_mesh):
    ds = open_dataset("agora", agora_tree, CFG, trust_pickle=True)  # the frames are pickles
    assert isinstance(ds, AGORADataset) and len(ds) == 3  # persons with isValid
    item = ds[0]
    assert item["image"].shape == (3, 128, 96)
    assert np.allclose(item["vertices"].numpy(), cam_mesh, atol=1e-5)
    assert item["joints_cam"].shape == (127, 3) and item["joints_img"].shape == (127, 2)
    j = item["joints_img"].numpy()
    assert (j[:, 0] >= 0).all() and (j[:, 0] <= 96).all() and (j[:, 1] >= 0).all() and (j[:, 1] <= 128).all()
    # 4K joints scaled to the 1280x720 image, then into the crop
    j2d = np.stack([np.linspace(1850, 2050, 127), np.linspace(350, 1750, 127)], 1) / 3
    box = person_box(j2d, CFG.image_input)
    assert np.allclose(j[0], (j2d[0] - box[:2]) * [96 / (box[2] - box[0]), 128 / (box[3] - box[1])], atol=1e-3)


def test_agora_missing_image_and_column(agora_tree, tmp_path):
    frames = tmp_path / "f"
    frames.mkdir()
    pd.DataFrame([{"imgPath": "nope.png", "isValid": [True], "gt_joints_2d": [np.zeros((127, 2))],
                   "gt_joints_3d": [np.zeros((127, 3))], "gt_verts": [np.zeros((NV, 3))]}]).to_pickle(
        frames / "x_withjv.pkl")
    with pytest.raises(InputFileError, match="nope.png"):
        AGORADataset(tmp_path, CFG, trust_pickle=True)
    pd.DataFrame([{"imgPath": "nope.png"}]).to_pickle(frames / "x_withjv.pkl")
    with pytest.raises(InputFileError, match="gt_verts"):
        AGORADataset(tmp_path, CFG, trust_pickle=True)
    with pytest.raises(InputFileError, match="withjv"):
        AGORADataset(agora_tree / "validation_images_1280x720", CFG, trust_pickle=True)  # images but no data frame


def test_train_and_evaluate_commands(tmp_path, ehf_tree, capsys):
    out, cache = tmp_path / "run", str(tmp_path / "cache")
    args = ["train", "--config", "tiny", "--variant", "bnn", "--out", str(out), "--steps", "2", "--batch-size", "4",
            "--train-size", "8", "--eval-frames", "4", "--cache-dir", cache, "--no-progress", "--threads", "1",
            "--json"]
    assert cli_main(args) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["steps_run"] == 2 and result["variant"] == "bnn" and result["mpvpe_mm"] > 0
    ckpt = out / "checkpoint.pt"
    before = ckpt.read_bytes()
    assert cli_main(args) == 2  # exists, no --resume: refused, untouched
    assert "--resume" in json.loads(capsys.readouterr().out)["error"]
    assert ckpt.read_bytes() == before

    keys = {"mpvpe_mm", "pa_mpvpe_mm", "pa_mpjpe_mm", "mpvpe_hands_mm", "mpvpe_face_mm"}
    assert cli_main(["evaluate", str(ckpt), "--frames", "4", "--cache-dir", cache, "--no-progress", "--json"]) == 0
    ev = json.loads(capsys.readouterr().out)
    assert keys <= set(ev) and ev["frames"] == 4 and ev["variant"] == "bnn"
    assert ev["mpvpe_mm"] == pytest.approx(result["mpvpe_mm"], abs=1e-3)  # same frames as the training summary
    assert all(ev[k] >= 0 for k in keys)
    assert cli_main(["evaluate", str(ckpt), "--data", f"ehf:{ehf_tree}", "--frames", "5", "--json"]) == 0
    ev = json.loads(capsys.readouterr().out)
    assert keys <= set(ev) and ev["frames"] == 2

    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"PK\x03\x04 not really a zip")
    assert cli_main(["evaluate", str(bad), "--json"]) == 3
    err = json.loads(capsys.readouterr().out)
    assert err["kind"] == "InputFileError" and str(bad) in err["error"]


def test_training_on_agora_layout(agora_tree, tmp_path, capsys):
    assert cli_main(["train", "--out", str(tmp_path / "run"), "--data", f"agora:{agora_tree}", "--steps", "1",
                     "--batch-size", "2", "--variant", "fp", "--no-progress", "--trust-pickle", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["steps_run"] == 1 and np.isfinite(result["final_loss"])
