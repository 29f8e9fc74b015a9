"""Loaders for real data laid out as the public releases are, for training or evaluating on them.

EHF (https://smpl-x.is.tue.mpg.de, "Expressive Hands and Faces", 100 frames), one folder holding per frame
``NN_img.jpg`` (1600x1200; ``.png`` accepted), ``NN_align.ply`` (the SMPL-X mesh fitted to the scan, world
coordinates) and ``NN_2Djnt.json`` (OpenPose keypoints: ``people[0].pose_keypoints_2d``, x/y/confidence).
The camera is fixed (EHF_camera.txt): rotation vector (-2.98747896, 0.01172457, -0.05704687), translation
(-0.03609917, 0.43416458, 2.37101226), focal 1498.22426237, principal point (790.263706, 578.90334);
camera-space vertices are ``R v + t``.

AGORA (https://agora.is.tue.mpg.de): the images (``<imgPath>`` at 3840x2160, or ``<stem>_1280x720.png``) and
the camera data frames "with SMPL-X joints and vertices" (pandas pickles, e.g. ``validation_*_withjv.pkl``),
one row per image with per-person lists: ``gt_joints_2d`` (127 SMPL-X joints in 3840x2160 pixels),
``gt_joints_3d`` and ``gt_verts`` (camera space), ``isValid``, ``occlusion``, ``gt_path_smplx``. Files are
looked up anywhere under the given folder. The data frames are pickles, which can run code when loaded:
they are read only when the user asks for it (``--trust-pickle``, i.e. ``BIDRN_HW_TRUST_PICKLE=1``, or
``trust_pickle=True``); otherwise the AGORA reader refuses with an error naming the file.

Each sample is a person cropped around its 2D keypoints (extended 1.2x to the network's aspect ratio) and
resized to ``config.image_input``; keys as the synthetic data's (:mod:`.data`) where the data set has them:
``image``, ``vertices``, and for AGORA ``joints_cam`` / ``joints_img`` (the first 127 SMPL-X output joints).
"""
from __future__ import annotations

import json
import os
import re
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from ..body.smplx_layer import pickle_trusted
from ..errors import InputFileError, UsageError
from ..model.configs import ModelConfig
from .rotation import axis_angle_to_matrix

EHF_CAMERA = {"rotvec": (-2.98747896, 0.01172457, -0.05704687), "t": (-0.03609917, 0.43416458, 2.37101226),
              "focal": 1498.22426237, "princpt": (790.263706, 578.90334)}
AGORA_4K_WIDTH = 3840
BOX_SCALE = 1.2

_PLY_TYPES = {"char": "i1", "uchar": "u1", "short": "i2", "ushort": "u2", "int": "i4", "uint": "u4",
              "float": "f4", "double": "f8", "int8": "i1", "uint8": "u1", "int16": "i2", "uint16": "u2",
              "int32": "i4", "uint32": "u4", "float32": "f4", "float64": "f8"}


def read_ply_vertices(path: str | os.PathLike) -> np.ndarray:
    """The x, y, z of a PLY file's vertices (ascii or binary; the vertex element must come first)."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise InputFileError(f"cannot read {path}: {exc}") from exc
    end = raw.find(b"end_header")
    if not raw.startswith(b"ply") or end < 0:
        raise InputFileError(f"{path} is not a PLY file (no 'ply' magic / end_header)")
    header = raw[:end].decode("ascii", "replace").splitlines()
    body = raw[raw.index(b"\n", end) + 1:]
    fmt, count, props, element = None, 0, [], None
    for line in header:
        parts = line.split()
        if not parts:
            continue
        if parts[0] == "format":
            fmt = parts[1]
        elif parts[0] == "element":
            if element == "vertex":
                break
            element = parts[1]
            if element != "vertex":
                raise InputFileError(f"{path}: the first PLY element is '{element}', expected 'vertex'")
            count = int(parts[2])
        elif parts[0] == "property" and element == "vertex":
            if parts[1] == "list":
                raise InputFileError(f"{path}: list property in the vertex element is not supported")
            if parts[1] not in _PLY_TYPES:
                raise InputFileError(f"{path}: unknown PLY type '{parts[1]}'")
            props.append((parts[2], _PLY_TYPES[parts[1]]))
    names = [n for n, _ in props]
    if element != "vertex" or not {"x", "y", "z"} <= set(names):
        raise InputFileError(f"{path}: no vertex element with x, y, z properties")
    try:
        if fmt == "ascii":
            lines = body.decode("ascii").splitlines()[:count]
            table = np.array([[float(x) for x in ln.split()[:len(props)]] for ln in lines])
            if table.shape != (count, len(props)):
                raise ValueError(f"{len(lines)} vertex lines, header says {count}")
            cols = {n: table[:, i] for i, n in enumerate(names)}
        elif fmt in ("binary_little_endian", "binary_big_endian"):
            order = "<" if fmt == "binary_little_endian" else ">"
            dtype = np.dtype([(n, order + t) for n, t in props])
            arr = np.frombuffer(body, dtype=dtype, count=count)
            cols = {n: arr[n] for n in names}
        else:
            raise ValueError(f"unknown PLY format {fmt!r}")
    except ValueError as exc:
        raise InputFileError(f"{path}: unreadable vertex data: {exc}") from exc
    return np.stack([cols["x"], cols["y"], cols["z"]], 1).astype(np.float64)


def person_box(points: np.ndarray, out_hw: tuple[int, int], scale: float = BOX_SCALE) -> np.ndarray:
    """(x0, y0, x1, y1) around 2D points, extended by ``scale`` and widened/heightened to ``out_hw``'s aspect."""
    lo, hi = points.min(0), points.max(0)
    c = (lo + hi) / 2
    w, h = (hi - lo) * scale
    aspect = out_hw[1] / out_hw[0]  # W / H
    if w / max(h, 1e-6) > aspect:
        h = w / aspect
    else:
        w = h * aspect
    return np.array([c[0] - w / 2, c[1] - h / 2, c[0] + w / 2, c[1] + h / 2])


def crop_image(path: Path, box: np.ndarray, out_hw: tuple[int, int]) -> torch.Tensor:
    """Crop ``box`` (pixels; outside the image is black) and resize to ``out_hw``: float (3, H, W) in [0, 1]."""
    # lazy: Pillow, only to read the real data sets' images (kept off the CLI's startup)
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as img:
            img = img.convert("RGB")
            crop = img.transform((out_hw[1], out_hw[0]), Image.Transform.EXTENT, tuple(float(v) for v in box),
                                 resample=Image.Resampling.BILINEAR)
    except (OSError, UnidentifiedImageError) as exc:
        raise InputFileError(f"cannot read image {path}: {exc}") from exc
    return torch.from_numpy(np.asarray(crop, dtype=np.float32) / 255.0).permute(2, 0, 1).contiguous()


def to_crop(points: np.ndarray, box: np.ndarray, out_hw: tuple[int, int]) -> np.ndarray:
    return (points - box[:2]) * np.array([out_hw[1] / (box[2] - box[0]), out_hw[0] / (box[3] - box[1])])


def _require_dir(root) -> Path:
    root = Path(root).expanduser()
    if not root.is_dir():
        raise InputFileError(f"data folder not found: {root}")
    return root


class EHFDataset(Dataset):
    """EHF frames: ``image`` and camera-space ``vertices``."""

    def __init__(self, root: str | os.PathLike, config: ModelConfig):
        self.root, self.out_hw = _require_dir(root), config.image_input
        meshes = sorted(self.root.glob("*_align.ply"))
        if not meshes:
            raise InputFileError(f"{self.root}: no NN_align.ply files; EHF's layout is NN_img.jpg, NN_align.ply "
                                 f"and NN_2Djnt.json per frame")
        self.frames = []
        for mesh in meshes:
            stem = mesh.name[:-len("_align.ply")]
            image = next((p for p in (self.root / f"{stem}_img.jpg", self.root / f"{stem}_img.png") if p.is_file()),
                         self.root / f"{stem}_img.jpg")
            keypoints = self.root / f"{stem}_2Djnt.json"
            for p in (image, keypoints):
                if not p.is_file():
                    raise InputFileError(f"EHF frame {stem}: missing {p}")
            self.frames.append((stem, image, mesh, keypoints))
        rot = axis_angle_to_matrix(torch.tensor(EHF_CAMERA["rotvec"], dtype=torch.float64)).numpy()
        self.rotation, self.translation = rot, np.asarray(EHF_CAMERA["t"])

    def __len__(self) -> int:
        return len(self.frames)

    def keypoints(self, path: Path) -> np.ndarray:
        try:
            people = json.loads(path.read_text())["people"]
            kp = np.asarray(people[0]["pose_keypoints_2d"], dtype=np.float64).reshape(-1, 3)
        except (OSError, ValueError, KeyError, IndexError, TypeError) as exc:
            raise InputFileError(f"{path}: not an OpenPose keypoint file with people[0].pose_keypoints_2d "
                                 f"({exc})") from exc
        if not (kp[:, 2] > 0).any():
            raise InputFileError(f"{path}: no confident body keypoint to crop around")
        return kp

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        stem, image, mesh, keypoints = self.frames[index]
        kp = self.keypoints(keypoints)
        box = person_box(kp[kp[:, 2] > 0, :2], self.out_hw)
        verts = read_ply_vertices(mesh) @ self.rotation.T + self.translation
        return {"image": crop_image(image, box, self.out_hw),
                "vertices": torch.from_numpy(verts.astype(np.float32)),
                "openpose_2d": torch.from_numpy(np.concatenate([to_crop(kp[:, :2], box, self.out_hw), kp[:, 2:]], 1)
                                                .astype(np.float32)),
                "index": torch.tensor(index)}

    def __getitems__(self, indices) -> list[dict[str, torch.Tensor]]:
        return [self[int(i)] for i in indices]


class AGORADataset(Dataset):
    """AGORA people (``isValid``): ``image``, camera-space ``vertices``, ``joints_cam``, ``joints_img``."""

    def __init__(self, root: str | os.PathLike, config: ModelConfig, frames: list[Path] | None = None,
                 trust_pickle: bool | None = None):
        # lazy: pandas (~1.3 s), only for AGORA's annotation tables
        import pandas as pd

        self.root, self.out_hw = _require_dir(root), config.image_input
        frames = frames or sorted(p for p in self.root.rglob("*.pkl") if "withjv" in p.name)
        if not frames:
            raise InputFileError(f"{self.root}: no AGORA camera data frame with joints and vertices "
                                 f"(*withjv*.pkl) found")
        self.images = {}
        for p in self.root.rglob("*.png"):
            self.images.setdefault(p.name, p)
        if not (pickle_trusted() if trust_pickle is None else trust_pickle):
            raise InputFileError(f"{frames[0]} is a pickle (an AGORA pandas data frame): loading it can run code "
                                 f"stored in it, so it is not read; pass --trust-pickle if you trust the data set")
        self.people = []
        for frame in frames:
            try:
                df = pd.read_pickle(frame)
            except Exception as exc:  # pickle, EOF, pandas errors
                raise InputFileError(f"{frame} is not a readable pandas data frame: {exc}") from exc
            missing = [c for c in ("imgPath", "isValid", "gt_joints_2d", "gt_joints_3d", "gt_verts")
                       if c not in getattr(df, "columns", [])]
            if missing:
                raise InputFileError(f"{frame}: AGORA data frame lacks column(s) {', '.join(missing)}")
            for _, row in df.iterrows():
                image, scale = self._image(row["imgPath"], frame)
                for j, valid in enumerate(row["isValid"]):
                    if valid:
                        self.people.append((image, scale, np.asarray(row["gt_joints_2d"][j], np.float64),
                                            np.asarray(row["gt_joints_3d"][j], np.float32),
                                            np.asarray(row["gt_verts"][j], np.float32)))
        if not self.people:
            raise InputFileError(f"{self.root}: the AGORA data frames list no valid person")

    def _image(self, img_path: str, frame: Path) -> tuple[Path, float]:
        name = Path(img_path).name
        if name in self.images:
            return self.images[name], 1.0
        small = re.sub(r"\.png$", "_1280x720.png", name)
        if small in self.images:
            return self.images[small], 1280 / AGORA_4K_WIDTH
        raise InputFileError(f"image {img_path} (listed in {frame}) not found under {self.root} "
                             f"(nor {small})")

    def __len__(self) -> int:
        return len(self.people)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        image, scale, j2d, j3d, verts = self.people[index]
        j2d = j2d[:, :2] * scale
        box = person_box(j2d, self.out_hw)
        return {"image": crop_image(image, box, self.out_hw), "vertices": torch.from_numpy(verts),
                "joints_cam": torch.from_numpy(j3d),
                "joints_img": torch.from_numpy(to_crop(j2d, box, self.out_hw).astype(np.float32)),
                "index": torch.tensor(index)}

    def __getitems__(self, indices) -> list[dict[str, torch.Tensor]]:
        return [self[int(i)] for i in indices]


def open_dataset(kind: str, path: str | os.PathLike, config: ModelConfig, trust_pickle: bool | None = None) -> Dataset:
    if kind == "ehf":
        return EHFDataset(path, config)
    if kind == "agora":
        return AGORADataset(path, config, trust_pickle=trust_pickle)
    raise UsageError(f"unknown data set {kind!r}; use agora or ehf")
