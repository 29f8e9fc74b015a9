"""The SMPL-X layer of the host part: loads a SMPL-X ``.npz`` through ``smplx.SMPLX`` and poses it from
Hand4Whole-style parameters.

Which model file is used, first match wins:

1. an explicit path (argument ``model_path``; a directory is searched for ``SMPLX_NEUTRAL.npz`` and
   ``smplx/SMPLX_NEUTRAL.npz``);
2. the environment variable ``BIDRN_HW_SMPLX`` (same rules);
3. the generated stand-in (:mod:`bidrn_hw.body.standin`), cached as
   ``~/.cache/bidrn-hw/body/SMPLX_STANDIN_v<version>_seed<seed>.npz`` (``$XDG_CACHE_HOME`` is honoured).

The file is checked before ``smplx`` sees it (``smplx`` would fail with an assertion or an index error deep
in its forward), so a bad file is an :class:`~bidrn_hw.errors.InputFileError` that names the file and the key.
"""
from __future__ import annotations

import contextlib
import io
import os
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from filelock import FileLock

from ..errors import InputFileError, UsageError
from . import standin

ENV_VAR = "BIDRN_HW_SMPLX"
MODEL_FILENAME = "SMPLX_NEUTRAL.npz"
DOWNLOAD_HINT = (f"download {MODEL_FILENAME} from https://smpl-x.is.tue.mpg.de (free registration, accept the "
                 f"licence) and pass its path or set {ENV_VAR}; or pass no path to use the generated stand-in")

NUM_SKELETON_JOINTS = standin.NUM_JOINTS          # 55: the rows of J_regressor, SMPL-X order
NUM_EXTRA_KEYPOINTS = 21                          # smplx's vertex keypoints: nose, eyes, ears, feet, fingertips
NUM_STATIC_LANDMARKS = 51
NUM_CONTOUR_LANDMARKS = 17
#: The largest vertex index in smplx's (hard-coded) SMPL-X keypoint table, smplx/vertex_ids.py.
MAX_KEYPOINT_VERTEX = 9929

#: Hand4Whole-style inputs of :meth:`BodyModel.forward`: name -> values per sample (axis-angle for poses).
PARAMETERS = {"root_pose": 3, "body_pose": 21 * 3, "lhand_pose": 15 * 3, "rhand_pose": 15 * 3, "jaw_pose": 3,
              "shape": 10, "expr": 10, "cam_trans": 3}


def output_joint_names(use_face_contour: bool = True) -> list[str]:
    """Names of the J output joints: 55 skeleton joints, 21 vertex keypoints, 51 face landmarks and, with
    the face contour, 17 contour landmarks (J = 144; 127 without the contour), as smplx orders them."""
    # lazy: smplx (and what it imports) only where its joint table or model is used
    from smplx.joint_names import JOINT_NAMES
    count = (NUM_SKELETON_JOINTS + NUM_EXTRA_KEYPOINTS + NUM_STATIC_LANDMARKS
             + (NUM_CONTOUR_LANDMARKS if use_face_contour else 0))
    return list(JOINT_NAMES[:count])


# ---------------------------------------------------------------------------------------------------------
# Locating and checking the model file.
def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "bidrn-hw" / "body"


def standin_path(seed: int = 0) -> Path:
    """The cached stand-in for ``seed``, generated on first use (under a file lock, written atomically).

    A cached file that fails the check (e.g. truncated) is regenerated.
    """
    path = cache_dir() / f"SMPLX_STANDIN_v{standin.GENERATOR_VERSION}_seed{seed}.npz"
    path.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(path) + ".lock"):
        if path.exists():
            try:
                check_model_file(path)
                return path
            except InputFileError:
                pass
        standin.write_standin(path, seed)
    return path


def _find_in_dir(directory: Path, origin: str) -> Path:
    for candidate in (directory / MODEL_FILENAME, directory / "smplx" / MODEL_FILENAME):
        if candidate.is_file():
            return candidate
    raise InputFileError(f"{directory} (from the {origin}) is a directory without {MODEL_FILENAME} "
                         f"(nor smplx/{MODEL_FILENAME}); {DOWNLOAD_HINT}")


def resolve_model_path(model_path: str | os.PathLike | None = None, seed: int = 0) -> tuple[Path, str]:
    """The model file to load and where that choice came from ('argument', the env var name, 'stand-in')."""
    if model_path is not None and str(model_path) != "":
        origin, raw = "argument", model_path
    elif os.environ.get(ENV_VAR):
        origin, raw = ENV_VAR, os.environ[ENV_VAR]
    else:
        return standin_path(seed), "stand-in"
    path = Path(raw).expanduser()
    label = "SMPL-X model path" if origin == "argument" else f"environment variable {ENV_VAR}"
    if path.is_dir():
        return _find_in_dir(path, label), origin
    if not path.exists():
        raise InputFileError(f"SMPL-X model file not found: {path} (from the {label}); {DOWNLOAD_HINT}")
    return path, origin


def _npz_headers(path: Path) -> dict[str, tuple[tuple[int, ...], np.dtype]]:
    """Shape and dtype of every array in an .npz, read from the .npy headers without loading the data."""
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        hint = f" ({PICKLE_HINT})" if path.suffix == ".pkl" else ""
        raise InputFileError(f"{path} is not an .npz archive: {exc}{hint}") from exc
    headers = {}
    with archive:
        for name in archive.namelist():
            if not name.endswith(".npy"):
                continue
            try:
                with archive.open(name) as fh:
                    version = np.lib.format.read_magic(fh)
                    if version == (1, 0):
                        shape, _, dtype = np.lib.format.read_array_header_1_0(fh)
                    else:
                        shape, _, dtype = np.lib.format.read_array_header_2_0(fh)
            except (ValueError, OSError, zipfile.BadZipFile) as exc:
                raise InputFileError(f"{path}: array '{name[:-4]}' is unreadable: {exc}") from exc
            headers[name[:-4]] = (tuple(shape), dtype)
    if not headers:
        raise InputFileError(f"{path} is a zip archive without .npy arrays, not a SMPL-X .npz")
    return headers


def _required_shapes(num_verts: int, use_face_contour: bool) -> dict[str, tuple]:
    """Shapes smplx.SMPLX needs; None is any size, '>=n' a lower bound. V is taken from v_template."""
    v, j = num_verts, NUM_SKELETON_JOINTS
    shapes = {
        "v_template": (v, 3), "f": (None, 3), "J_regressor": (j, v), "weights": (v, j), "kintree_table": (2, j),
        # smplx takes betas from [:10] and, for fewer than 400 components, the expression from [10:20].
        "shapedirs": (v, 3, ">=20"), "posedirs": (v, 3, (j - 1) * 9),
        "hands_componentsl": (">=1", 45), "hands_componentsr": (">=1", 45), "hands_meanl": (45,),
        "hands_meanr": (45,), "lmk_faces_idx": (None,), "lmk_bary_coords": (None, 3),
    }
    if use_face_contour:      # one row per degree of head yaw, -39..39 (smplx's find_dynamic_lmk_idx_and_bcoords)
        shapes["dynamic_lmk_faces_idx"] = (79, None)
        shapes["dynamic_lmk_bary_coords"] = (79, None, 3)
    return shapes


def _shape_ok(shape: tuple[int, ...], want: tuple) -> bool:
    if len(shape) != len(want):
        return False
    for got, w in zip(shape, want):
        if isinstance(w, str):
            if got < int(w[2:]):
                return False
        elif w is not None and got != w:
            return False
    return True


@dataclass(frozen=True)
class ModelFileInfo:
    path: Path
    num_vertices: int
    num_faces: int
    num_shape_components: int
    standin: bool


PICKLE_HINT = ("the real SMPL-X is distributed as SMPLX_NEUTRAL.npz too (use that), or pass --trust-pickle if you "
               "trust this file")


TRUST_PICKLE_ENV = "BIDRN_HW_TRUST_PICKLE"


def pickle_trusted() -> bool:
    """Whether the user asked for pickles to be loaded (``--trust-pickle`` sets ``BIDRN_HW_TRUST_PICKLE=1`` for
    the command it is given to)."""
    return os.environ.get(TRUST_PICKLE_ENV) == "1"


@contextlib.contextmanager
def trusting_pickle(trust: bool):
    """``BIDRN_HW_TRUST_PICKLE=1`` for the duration of the block when ``trust`` (a command's --trust-pickle)."""
    if not trust:
        yield
        return
    old = os.environ.get(TRUST_PICKLE_ENV)
    os.environ[TRUST_PICKLE_ENV] = "1"
    try:
        yield
    finally:
        if old is None:
            os.environ.pop(TRUST_PICKLE_ENV, None)
        else:
            os.environ[TRUST_PICKLE_ENV] = old


def _refuse_pickle(path: Path) -> None:
    if path.suffix.lower() in (".pkl", ".pickle"):
        raise InputFileError(f"{path} is a pickle: loading it can run code stored in it, so it is not loaded; "
                             f"{PICKLE_HINT}")


def _load_without_pickle(path: Path, headers: dict) -> None:
    """Every array of the archive read with ``allow_pickle=False`` before smplx (which loads .npz files with
    ``allow_pickle=True``) sees it: an array of Python objects would run code when unpickled."""
    for key, (_, dtype) in headers.items():
        if dtype.hasobject:
            raise InputFileError(f"{path}: array '{key}' holds pickled Python objects, which could run code when "
                                 f"loaded; refusing the file (a SMPL-X .npz holds numeric arrays only)")
    try:
        with np.load(path, allow_pickle=False) as npz:
            for key in npz.files:
                npz[key]
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as exc:
        raise InputFileError(f"{path}: unreadable .npz ({exc})") from None


def check_model_file(path: str | os.PathLike, use_face_contour: bool = True) -> ModelFileInfo:
    """Check that ``path`` is a SMPL-X .npz that smplx.SMPLX can load, reading every array with
    ``allow_pickle=False``; raise InputFileError naming the problem."""
    path = Path(path)
    if not path.is_file():
        raise InputFileError(f"SMPL-X model file not found: {path}; {DOWNLOAD_HINT}")
    _refuse_pickle(path)
    headers = _npz_headers(path)
    if "v_template" not in headers:
        raise InputFileError(f"{path}: key 'v_template' is missing; not a SMPL-X model file")
    num_verts = headers["v_template"][0][0] if headers["v_template"][0] else 0
    for key, want in _required_shapes(num_verts, use_face_contour).items():
        if key not in headers:
            raise InputFileError(f"{path}: key '{key}' is missing (smplx.SMPLX needs it); not a complete SMPL-X "
                                 f"model file")
        shape, dtype = headers[key]
        if dtype.hasobject:
            raise InputFileError(f"{path}: key '{key}' is stored as Python objects, not a numeric array")
        if not _shape_ok(shape, want):
            readable = "(" + ", ".join("any" if w is None else str(w) for w in want) + ")"
            raise InputFileError(f"{path}: key '{key}' has shape {shape}, smplx.SMPLX needs {readable} "
                                 f"(V = {num_verts} from v_template)")
    if num_verts <= MAX_KEYPOINT_VERTEX:
        raise InputFileError(f"{path}: v_template has {num_verts} vertices, but smplx reads its SMPL-X keypoints "
                             f"at fixed vertex indices up to {MAX_KEYPOINT_VERTEX}")
    _load_without_pickle(path, headers)
    return ModelFileInfo(path=path, num_vertices=num_verts, num_faces=headers["f"][0][0],
                         num_shape_components=headers["shapedirs"][0][2], standin="standin_version" in headers)


# ---------------------------------------------------------------------------------------------------------
@dataclass
class BodyOutput:
    vertices: torch.Tensor            # (B, V, 3), camera space: posed mesh + cam_trans
    joints: torch.Tensor              # (B, J, 3), J = len(output_joint_names(use_face_contour)), + cam_trans


class BodyModel(torch.nn.Module):
    """smplx.SMPLX with full (non-PCA) hand poses and Hand4Whole's parameter names.

    ``use_face_contour`` (default True, as Hand4Whole) adds the 17 dynamic contour landmarks to the joints;
    ``flat_hand_mean`` (default False, as Hand4Whole) decides whether the model's mean hand pose is added to
    the hand poses.
    """

    def __init__(self, model_path: str | os.PathLike | None = None, *, seed: int = 0, use_face_contour: bool = True,
                 flat_hand_mean: bool = False, dtype: torch.dtype = torch.float32, trust_pickle: bool = False):
        super().__init__()
        # lazy: smplx, only when a body model is built
        import smplx

        path, self.source = resolve_model_path(model_path, seed)
        pickled = path.suffix.lower() in (".pkl", ".pickle")
        if pickled and not (trust_pickle or pickle_trusted()):
            _refuse_pickle(path)
        self.info = None if pickled else check_model_file(path, use_face_contour)
        self.use_face_contour = use_face_contour
        # smplx prints its "only 10 shape coefficients" warnings on stdout, which would corrupt `--json` output.
        with contextlib.redirect_stdout(io.StringIO()):
            self.smplx = smplx.SMPLX(
                model_path=str(path), ext="pkl" if pickled else "npz", use_pca=False, flat_hand_mean=flat_hand_mean,
                use_face_contour=use_face_contour, num_betas=PARAMETERS["shape"],
                num_expression_coeffs=PARAMETERS["expr"], batch_size=1, dtype=dtype,
                create_global_orient=False, create_body_pose=False, create_left_hand_pose=False,
                create_right_hand_pose=False, create_jaw_pose=False, create_leye_pose=False,
                create_reye_pose=False, create_betas=False, create_expression=False, create_transl=False)
        if self.info is None:  # a trusted pickle: its sizes from the loaded model
            self.info = ModelFileInfo(path=path, num_vertices=int(self.smplx.v_template.shape[0]),
                                      num_faces=int(self.smplx.faces.shape[0]),
                                      num_shape_components=int(self.smplx.shapedirs.shape[2]), standin=False)

    @property
    def path(self) -> Path:
        return self.info.path

    @property
    def is_standin(self) -> bool:
        return self.info.standin

    @property
    def faces(self) -> torch.Tensor:
        return self.smplx.faces_tensor

    @property
    def num_vertices(self) -> int:
        return self.info.num_vertices

    @property
    def num_output_joints(self) -> int:
        return len(output_joint_names(self.use_face_contour))

    def forward(self, root_pose, body_pose, lhand_pose, rhand_pose, jaw_pose, shape, expr, cam_trans) -> BodyOutput:
        """All inputs (B, n) (or (B, ..., 3) for poses) with n from :data:`PARAMETERS`; returns camera-space
        vertices (B, V, 3) and joints (B, J, 3) (see :func:`output_joint_names`)."""
        given = dict(root_pose=root_pose, body_pose=body_pose, lhand_pose=lhand_pose, rhand_pose=rhand_pose,
                     jaw_pose=jaw_pose, shape=shape, expr=expr, cam_trans=cam_trans)
        batch = torch.as_tensor(root_pose).shape[0] if torch.as_tensor(root_pose).dim() else 0
        dtype = self.smplx.shapedirs.dtype
        p = {}
        for name, size in PARAMETERS.items():
            t = torch.as_tensor(given[name], dtype=dtype)
            if t.dim() < 2 or t.shape[0] != batch or t[0].numel() != size:
                raise UsageError(f"body model input '{name}' has shape {tuple(t.shape)}; expected (B, {size}) "
                                 f"with B = {batch} from root_pose")
            p[name] = t.reshape(batch, size)
        zeros = torch.zeros(batch, 3, dtype=dtype, device=p["root_pose"].device)
        out = self.smplx(global_orient=p["root_pose"], body_pose=p["body_pose"], left_hand_pose=p["lhand_pose"],
                         right_hand_pose=p["rhand_pose"], jaw_pose=p["jaw_pose"], leye_pose=zeros, reye_pose=zeros,
                         betas=p["shape"], expression=p["expr"], transl=p["cam_trans"], return_shaped=False)
        return BodyOutput(vertices=out.vertices, joints=out.joints)
