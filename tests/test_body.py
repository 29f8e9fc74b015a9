"""The body model: the generated stand-in SMPL-X file, smplx loading it unchanged, skinning along the kinematic
tree, blend shapes, the BodyModel wrapper and the `bodymodel` command."""
from __future__ import annotations

import contextlib
import io
import json
import os
import subprocess
import sys

import numpy as np
import pytest
import torch

smplx = pytest.importorskip("smplx")

from bidrn_hw.body import smplx_layer, standin  # noqa: E402
from bidrn_hw.body.smplx_layer import PARAMETERS, BodyModel, check_model_file, output_joint_names  # noqa: E402
from bidrn_hw.body.standin import JOINT, NUM_VERTICES, PARENTS  # noqa: E402
from bidrn_hw.cli import main  # noqa: E402
from bidrn_hw.errors import InputFileError, UsageError  # noqa: E402

V = NUM_VERTICES


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    path = tmp_path_factory.mktemp("body") / "SMPLX_NEUTRAL.npz"
    model = standin.write_standin(path, seed=0)
    return path, model


@pytest.fixture(scope="module")
def layer(generated):
    """smplx.SMPLX itself (not our wrapper) on the generated file, flat hands so that zero pose is the rest pose."""
    with contextlib.redirect_stdout(io.StringIO()):
        return smplx.SMPLX(model_path=str(generated[0]), use_pca=False, flat_hand_mean=True, use_face_contour=True)


def descendants(joint: int) -> set[int]:
    out = {joint}
    for j in range(len(PARENTS)):
        if PARENTS[j] in out:
            out.add(j)
    return out


def pose(layer, **kwargs):
    """Run smplx with the given axis-angle inputs (1, n); everything else zero."""
    with torch.no_grad():
        return layer(**{k: torch.as_tensor(np.asarray(v, dtype=np.float32))[None] for k, v in kwargs.items()})


def body_pose_with(joint: int, axis_angle) -> np.ndarray:
    body = np.zeros(63)
    body[3 * (joint - 1):3 * joint] = axis_angle
    return body


# ---------------------------------------------------------------------------------------------------------
# The file and smplx's reading of it.
def test_npz_has_the_smplx_layout(generated):
    path, _ = generated
    data = np.load(path)
    want = {"v_template": (V, 3), "J_regressor": (55, V), "kintree_table": (2, 55), "weights": (V, 55),
            "shapedirs": (V, 3, 20), "posedirs": (V, 3, 486), "hands_componentsl": (45, 45),
            "hands_componentsr": (45, 45), "hands_meanl": (45,), "hands_meanr": (45,), "lmk_faces_idx": (51,),
            "lmk_bary_coords": (51, 3), "dynamic_lmk_faces_idx": (79, 17), "dynamic_lmk_bary_coords": (79, 17, 3)}
    for key, shape in want.items():
        assert data[key].shape == shape, key
    assert data["f"].ndim == 2 and data["f"].shape[1] == 3 and np.issubdtype(data["f"].dtype, np.integer)
    assert data["f"].min() == 0 and data["f"].max() == V - 1
    for side in "lr":
        comps = data[f"hands_components{side}"]
        np.testing.assert_allclose(comps @ comps.T, np.eye(45), atol=1e-12)


def test_smplx_loads_the_file_unchanged(generated, layer):
    path, model = generated
    assert layer.num_betas == 10 and layer.num_expression_coeffs == 10
    np.testing.assert_array_equal(layer.parents.numpy()[1:], PARENTS[1:])
    out = pose(layer, betas=np.zeros(10))
    assert out.vertices.shape == (1, V, 3) and out.joints.shape == (1, 144, 3)
    np.testing.assert_allclose(out.vertices[0].numpy(), model.arrays["v_template"], atol=1e-6)
    np.testing.assert_allclose(out.joints[0, :55].numpy(), model.joints, atol=1e-6)
    # smplx.create picks SMPLX from a folder holding smplx/SMPLX_NEUTRAL.npz, as with the real download
    folder = path.parent / "models"
    (folder / "smplx").mkdir(parents=True, exist_ok=True)
    os.link(path, folder / "smplx" / "SMPLX_NEUTRAL.npz")
    with contextlib.redirect_stdout(io.StringIO()):
        created = smplx.create(str(folder), model_type="smplx", use_pca=False)
    assert created.get_num_verts() == V


def test_smplx_keypoints_land_where_their_names_say(layer, generated):
    _, model = generated
    joints = pose(layer, betas=np.zeros(10)).joints[0].numpy()
    at = dict(zip(output_joint_names(True), joints))
    head = model.joints[JOINT["head"]]
    assert at["nose"][2] > 0.08 and abs(at["nose"][0]) < 0.01 and 0.2 < at["nose"][1] < 0.3
    assert at["left_eye"][0] > 0.02 and at["right_eye"][0] < -0.02 and at["left_eye"][2] > 0.08
    assert at["left_ear"][0] > 0.06 and at["right_ear"][0] < -0.06 and abs(at["left_ear"][1] - head[1]) < 0.1
    for side, s in (("left", 1), ("right", -1)):
        assert s * at[f"{side}_big_toe"][0] < s * at[f"{side}_small_toe"][0]      # big toe is medial
        assert at[f"{side}_big_toe"][2] > 0.15 and at[f"{side}_heel"][2] < -0.08
        assert at[f"{side}_heel"][1] < -1.3
        for finger in ("thumb", "index", "middle", "ring", "pinky"):
            distal = model.joints[JOINT[f"{side}_{finger}3"]]
            assert 0.015 < np.linalg.norm(at[f"{side}_{finger}"] - distal) < 0.04, (side, finger)
    landmarks = joints[76:]                                                       # 51 static + 17 contour
    assert np.all(landmarks[:, 2] > 0.0) and np.all(np.abs(landmarks[:51, 0]) < 0.07)


@pytest.mark.parametrize("yaw", [0.0, 0.5, -0.5])
def test_face_contour_stays_on_the_side_facing_the_camera(layer, yaw):
    """smplx picks the contour row from the neck chain's yaw; the chin point must keep facing +z."""
    joints = pose(layer, body_pose=body_pose_with(JOINT["neck"], (0.0, yaw, 0.0))).joints[0].numpy()
    head, contour = joints[JOINT["head"]], joints[127:144]
    azimuth = np.degrees(np.arctan2(contour[:, 0] - head[0], contour[:, 2] - head[2]))
    assert abs(azimuth[8]) < 3.0 and azimuth[0] < -60.0 and azimuth[16] > 60.0


# ---------------------------------------------------------------------------------------------------------
# Geometry and rig.
def test_mesh_is_closed_and_outward(generated):
    _, model = generated
    verts, faces = model.arrays["v_template"], model.arrays["f"].astype(np.int64)
    directed = np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]])
    keys = directed[:, 0] * V + directed[:, 1]
    assert len(np.unique(keys)) == len(keys), "an edge is used twice in the same direction"
    assert np.isin(directed[:, 1] * V + directed[:, 0], keys).all(), "an edge has only one face"
    assert len(np.unique(faces)) == V, "unused vertex"
    for part in np.unique(model.part):                # each capsule encloses a positive volume
        tri = verts[faces[np.all(model.part[faces] == part, axis=1)]]
        assert np.einsum("ij,ij->i", tri[:, 0], np.cross(tri[:, 1], tri[:, 2])).sum() > 0, part
    height = verts[:, 1].max() - verts[:, 1].min()
    assert 1.6 < height < 1.8


def test_skinning_weights_sum_to_one_and_stay_on_neighbouring_joints(generated):
    _, model = generated
    w = model.arrays["weights"]
    np.testing.assert_allclose(w.sum(axis=1), 1.0, atol=1e-12)
    assert w.min() >= 0.0
    owner = model.part
    assert np.all(w[np.arange(V), owner] >= 0.25)
    for j in range(55):                               # only the owner, its parent or its children
        allowed = {j, int(PARENTS[j])} | {c for c in range(55) if PARENTS[c] == j}
        used = set(np.flatnonzero(w[owner == j].max(axis=0) > 0))
        assert used <= allowed, (standin.JOINT_NAMES[j], used - allowed)
    # soft falloff: on the forearm, the shoulder's share decreases smoothly with the distance from the elbow
    elbow, wrist = JOINT["left_elbow"], JOINT["left_wrist"]
    verts = model.arrays["v_template"]
    near = (owner == elbow) & (np.linalg.norm(verts - model.joints[elbow], axis=1)
                               < np.linalg.norm(verts - model.joints[wrist], axis=1))
    dist = np.linalg.norm(verts[near] - model.joints[elbow], axis=1)
    share = w[near, JOINT["left_shoulder"]][np.argsort(dist)]
    assert np.all(np.diff(share) <= 1e-12) and share[0] > 0.2 and share[-1] == 0.0
    assert len(np.unique(np.round(share, 3))) > 5


def test_joint_regressor_reproduces_the_joints(generated):
    _, model = generated
    reg = model.arrays["J_regressor"]
    np.testing.assert_allclose(reg.sum(axis=1), 1.0, atol=1e-12)
    assert reg.min() >= 0.0
    np.testing.assert_allclose(reg @ model.arrays["v_template"], model.joints, atol=1e-12)
    # the rest skeleton is a plausible T-pose: left at +x, feet down, hands out
    j = model.joints
    assert j[JOINT["left_hip"], 0] > 0 > j[JOINT["right_hip"], 0]
    assert j[JOINT["head"], 1] > j[JOINT["neck"], 1] > j[JOINT["pelvis"], 1] > j[JOINT["left_knee"], 1]
    assert j[JOINT["left_wrist"], 0] > 0.6 and abs(j[JOINT["left_wrist"], 1] - j[JOINT["left_shoulder"], 1]) < 0.01


def test_generation_is_deterministic_per_seed(generated):
    _, model = generated
    again, other = standin.build_standin(0), standin.build_standin(1)
    for key, value in model.arrays.items():
        np.testing.assert_array_equal(again.arrays[key], value, err_msg=key)
    np.testing.assert_array_equal(other.arrays["v_template"], model.arrays["v_template"])
    assert not np.array_equal(other.arrays["posedirs"], model.arrays["posedirs"])


def test_pose_correctives_only_touch_vertices_their_joint_moves(generated):
    _, model = generated
    posedirs, w = model.arrays["posedirs"], model.arrays["weights"]
    assert np.abs(posedirs).max() > 1e-3
    for j in range(1, 55):
        touched = np.abs(posedirs[:, :, 9 * (j - 1):9 * j]).max(axis=(1, 2)) > 0
        assert not np.any(touched & (w[:, j] == 0)), standin.JOINT_NAMES[j]


# ---------------------------------------------------------------------------------------------------------
# Posing through smplx.
def moved_vertices(layer, rest, **kwargs):
    out = pose(layer, **kwargs).vertices[0].numpy()
    return np.linalg.norm(out - rest, axis=1) > 1e-6, out


def test_bending_the_left_elbow_moves_only_its_subtree(layer, generated):
    _, model = generated
    rest = model.arrays["v_template"]
    elbow = JOINT["left_elbow"]
    moved, _ = moved_vertices(layer, rest, body_pose=body_pose_with(elbow, (0.0, -1.2, 0.0)))
    subtree = sorted(descendants(elbow))
    influenced = model.arrays["weights"][:, subtree].sum(axis=1) > 0
    assert np.all(influenced[moved]), "a vertex without weight on the left forearm/hand moved"
    hand = np.isin(model.part, sorted(descendants(JOINT["left_wrist"])))
    assert moved[hand].all() and moved[model.part == elbow].mean() > 0.9
    untouched = [n for n in standin.JOINT_NAMES if n.startswith("right_") or any(
        k in n for k in ("hip", "knee", "ankle", "foot", "spine", "pelvis", "head", "jaw", "eye"))]
    assert not moved[np.isin(model.part, [JOINT[n] for n in untouched])].any()


def test_rotating_the_root_rotates_everything(layer, generated):
    _, model = generated
    root = np.array([0.3, -0.7, 0.2])
    out = pose(layer, global_orient=root)
    rot = smplx.lbs.batch_rodrigues(torch.tensor(root, dtype=torch.float64)[None])[0].numpy()
    pelvis = model.joints[0]
    want = (model.arrays["v_template"] - pelvis) @ rot.T + pelvis
    np.testing.assert_allclose(out.vertices[0].numpy(), want, atol=2e-5)
    np.testing.assert_allclose(out.joints[0, :55].numpy(), (model.joints - pelvis) @ rot.T + pelvis, atol=2e-5)


def test_bending_a_finger_moves_only_that_finger(layer, generated):
    _, model = generated
    rest = model.arrays["v_template"]
    index2 = JOINT["left_index2"]
    hand = np.zeros(45)
    hand[3 * (index2 - 25):3 * (index2 - 25) + 3] = (0.0, 0.0, -1.0)          # curl towards the palm
    moved, out = moved_vertices(layer, rest, left_hand_pose=hand)
    finger = sorted(descendants(index2))
    assert np.all(model.arrays["weights"][moved][:, finger].sum(axis=1) > 0)
    assert moved[model.part == JOINT["left_index3"]].all()
    others = [j for j in range(25, 55) if j not in (JOINT["left_index1"], index2, JOINT["left_index3"])]
    assert not moved[np.isin(model.part, others + [JOINT["left_wrist"], JOINT["right_wrist"]])].any()
    tip = model.part == JOINT["left_index3"]
    assert out[tip, 1].mean() < rest[tip, 1].mean() - 0.01                    # the fingertip went down


def test_shape_and_expression_change_the_mesh(layer, generated):
    _, model = generated
    rest = model.arrays["v_template"]
    for k in range(10):
        betas = np.zeros(10)
        betas[k] = 1.0
        moved, _ = moved_vertices(layer, rest, betas=betas)
        assert moved.sum() > 50, standin.SHAPE_COMPONENTS[k]
    betas = np.zeros(10)
    betas[0] = 2.0
    taller = pose(layer, betas=betas).vertices[0].numpy()
    assert np.ptp(taller[:, 1]) > 1.08 * np.ptp(rest[:, 1])
    face = np.isin(model.part, [JOINT["head"], JOINT["jaw"]])
    for k in range(10):
        expression = np.zeros(10)
        expression[k] = 2.0
        moved, _ = moved_vertices(layer, rest, expression=expression)
        assert moved.any() and not moved[~face].any(), standin.EXPRESSION_COMPONENTS[k]
    mouth = np.zeros(10)
    mouth[0] = 2.0
    _, opened = moved_vertices(layer, rest, expression=mouth)
    assert (opened - rest)[face, 1].min() < -0.01


# ---------------------------------------------------------------------------------------------------------
# The wrapper.
def zeros(batch=2):
    return {name: torch.zeros(batch, size) for name, size in PARAMETERS.items()}


def test_body_model_forward_hand4whole_inputs(generated):
    path, model = generated
    body = BodyModel(path)
    assert body.is_standin and body.source == "argument" and body.num_vertices == V
    params = zeros(2)
    params["cam_trans"] = torch.tensor([[0.0, 0.0, 5.0], [1.0, -1.0, 3.0]])
    with torch.no_grad():
        out = body(**params)
    assert out.vertices.shape == (2, V, 3) and out.joints.shape == (2, body.num_output_joints, 3) == (2, 144, 3)
    flat = model.arrays["v_template"][None] + params["cam_trans"].numpy()[:, None]
    hands = model.arrays["weights"][:, 25:55].sum(axis=1) > 0      # the mean hand pose curls the fingers
    np.testing.assert_allclose(out.vertices.numpy()[:, ~hands], flat[:, ~hands], atol=1e-5)
    assert not np.allclose(out.vertices.numpy()[:, hands], flat[:, hands], atol=1e-4)   # mean hand pose
    params["body_pose"] = torch.zeros(2, 60)
    with pytest.raises(UsageError, match="body_pose"):
        body(**params)


def test_default_is_the_cached_standin(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.delenv(smplx_layer.ENV_VAR, raising=False)
    path, origin = smplx_layer.resolve_model_path()
    assert origin == "stand-in" and path.parent == tmp_path / "bidrn-hw" / "body" and path.is_file()
    stamp = path.stat().st_mtime_ns
    assert smplx_layer.resolve_model_path() == (path, "stand-in") and path.stat().st_mtime_ns == stamp
    path.write_bytes(b"truncated")                    # a broken cache entry is regenerated
    assert check_model_file(smplx_layer.resolve_model_path()[0]).standin


def test_environment_variable_and_folder(generated, monkeypatch, tmp_path):
    path, _ = generated
    monkeypatch.setenv(smplx_layer.ENV_VAR, str(path.parent))
    assert smplx_layer.resolve_model_path() == (path, smplx_layer.ENV_VAR)
    monkeypatch.setenv(smplx_layer.ENV_VAR, str(tmp_path / "SMPLX_NEUTRAL.npz"))
    with pytest.raises(InputFileError, match=smplx_layer.ENV_VAR):
        smplx_layer.resolve_model_path()
    with pytest.raises(InputFileError, match="directory without SMPLX_NEUTRAL.npz"):
        smplx_layer.resolve_model_path(tmp_path)


@pytest.fixture(scope="module")
def broken_files(generated, tmp_path_factory):
    path, model = generated
    folder = tmp_path_factory.mktemp("broken")
    files = {"missing": folder / "nothing_here.npz", "text": folder / "notes.npz", "pkl": folder / "SMPLX.pkl"}
    files["text"].write_text("not a zip archive")
    files["pkl"].write_bytes(b"\x80\x04K\x01.")
    arrays = dict(model.arrays)
    for key, change in (("posedirs", None), ("J_regressor", lambda a: a[:54]), ("lmk_bary_coords", None)):
        broken = dict(arrays)
        if change is None:
            del broken[key]
        else:
            broken[key] = change(broken[key])
        files[key] = folder / f"no_{key}.npz"
        np.savez(files[key], **broken)
    return files


@pytest.mark.parametrize("case, message", [
    ("missing", "not found.*nothing_here.npz.*smpl-x.is.tue.mpg.de"),
    ("text", "notes.npz is not an .npz archive"),
    ("pkl", "is a pickle.*not loaded.*SMPLX_NEUTRAL.npz.*--trust-pickle"),
    ("posedirs", "key 'posedirs' is missing"),
    ("J_regressor", r"key 'J_regressor' has shape \(54, 10475\)"),
    ("lmk_bary_coords", "key 'lmk_bary_coords' is missing"),
])
def test_wrapper_errors_name_the_file_and_key(broken_files, case, message):
    with pytest.raises(InputFileError, match=message):
        BodyModel(broken_files[case])


# ---------------------------------------------------------------------------------------------------------
# The command.
def test_cli_writes_and_checks(tmp_path, capsys):
    out = tmp_path / "standin.npz"
    assert main(["bodymodel", "--out", str(out), "--seed", "3", "--json"]) == 0
    written = json.loads(capsys.readouterr().out)
    assert written == {"path": str(out), "vertices": V, "faces": written["faces"], "joints": 55, "seed": 3,
                       "standin": True}
    assert out.is_file() and written["faces"] == len(np.load(out)["f"])
    assert main(["bodymodel", "--check", str(out), "--json"]) == 0
    checked = json.loads(capsys.readouterr().out)       # smplx's stdout warnings must not leak into the JSON
    assert checked["vertices"] == V and checked["joints"] == 55 and checked["output_joints"] == 144
    assert checked["standin"] is True and checked["shape_components"] == 20


def test_cli_rejects_bad_files(broken_files, capsys):
    assert main(["bodymodel", "--check", str(broken_files["posedirs"])]) == InputFileError.exit_code
    assert "posedirs" in capsys.readouterr().err
    assert main(["bodymodel", "--check", str(broken_files["text"]), "--json"]) != 0
    assert "notes.npz" in json.loads(capsys.readouterr().out)["error"]
    proc = subprocess.run([sys.executable, "-m", "bidrn_hw.cli", "bodymodel", "--check",
                           str(broken_files["J_regressor"])], capture_output=True, text=True, timeout=120)
    assert proc.returncode == InputFileError.exit_code and "J_regressor" in proc.stderr
