"""Synthetic whole-body data, deterministic from a seed: random SMPL-X parameters, the body model, a camera
that frames the body, and a flat-shaded CPU rendering (:mod:`.render`) at ``config.image_input``.

Every sample is a function of ``(seed, split, index)`` only (its own ``numpy`` generator), so a sample is the
same whether it is generated alone, in a batch, in another process or read back from the cache.

Conventions (as Hand4Whole's): camera space is OpenCV's (x right, y down, z forward); the camera is the
network's own (:func:`camera`): focal ``5000 * H / 256`` pixels at the image height ``H``, principal point at
the image centre, so that the network's ``cam_trans`` is directly the ground-truth translation. Poses are
axis-angle; ``root_pose`` is in camera space (an upright person facing the camera is a rotation by pi about x).

A sample (numpy, as :meth:`SyntheticGenerator.generate` returns it batched, or tensors from the datasets):

=============== ================ ==========================================================================
``image``       (H, W, 3) uint8  the rendering (the datasets give float (3, H, W) in [0, 1])
``root_pose``…  (n,)             SMPL-X parameters, :data:`bidrn_hw.body.smplx_layer.PARAMETERS`
``joints_cam``  (J, 3)           the body model's output joints in camera space (metres)
``joints_img``  (J, 2)           their projections in image pixels
``boxes``       (3, 4)           lhand, rhand, face boxes, normalized (x0, y0, x1, y1), square in pixels and
                                 extended like the network's (2x hands, 1.5x face)
``boxes_tight`` (3, 4)           the tight boxes of the projected hand / face vertices
``vertices``    (V, 3)           camera-space mesh (only with ``with_vertices``; else the body model
                                 rebuilds it from the parameters)
=============== ================ ==========================================================================
"""
from __future__ import annotations

import hashlib
import json
import os
import zipfile
import zlib
from pathlib import Path

import numpy as np
import torch
from filelock import FileLock
from torch.utils.data import Dataset

from ..body.smplx_layer import BodyModel
from ..errors import InputFileError
from .progress import progress_bar
from ..model.configs import ModelConfig, get_config
from ..model.network import BOX_EXTENSION
from .render import background, project, render
from .rotation import np_axis_matrix, np_euler_xyz, np_matrix_to_axis_angle
from .skeleton import body_vertex_sets

GENERATOR_VERSION = 2  # 2: occluders
SPLITS = {"train": 0, "val": 1, "test": 2}

# Euler x-y-z limits (radians) of the 21 body-pose joints; "L" joints are mirrored to the right side
# (x kept, y and z negated). Stand-in/SMPL-X rest pose: T-pose, y up, facing +z, the body's left at +x.
_CENTRE_LIMITS = {
    "spine1": ((-0.15, 0.3), (-0.25, 0.25), (-0.15, 0.15)),
    "spine2": ((-0.15, 0.3), (-0.25, 0.25), (-0.15, 0.15)),
    "spine3": ((-0.1, 0.2), (-0.2, 0.2), (-0.1, 0.1)),
    "neck": ((-0.3, 0.4), (-0.5, 0.5), (-0.25, 0.25)),
    "head": ((-0.3, 0.3), (-0.4, 0.4), (-0.2, 0.2)),
}
_LEFT_LIMITS = {
    "hip": ((-1.4, 0.35), (-0.4, 0.5), (-0.15, 0.6)),      # x < 0: leg forward; z > 0: leg out
    "knee": ((0.0, 2.0), (-0.1, 0.1), (-0.1, 0.1)),        # x > 0: shin back
    "ankle": ((-0.5, 0.5), (-0.2, 0.2), (-0.25, 0.25)),
    "foot": ((-0.2, 0.3), (-0.1, 0.1), (-0.1, 0.1)),
    "collar": ((-0.15, 0.15), (-0.3, 0.15), (-0.25, 0.3)),
    "shoulder": ((-0.6, 0.6), (-1.2, 0.7), (-1.4, 0.6)),    # y < 0: arm forward; z < 0: arm down
    "elbow": ((-0.3, 0.3), (-2.3, 0.0), (-0.1, 0.1)),      # y < 0: forearm forward
    "wrist": ((-0.5, 0.5), (-0.3, 0.3), (-0.7, 0.7)),
}
_BODY_POSE_JOINTS = ("left_hip", "right_hip", "spine1", "left_knee", "right_knee", "spine2", "left_ankle",
                     "right_ankle", "spine3", "left_foot", "right_foot", "neck", "left_collar", "right_collar",
                     "head", "left_shoulder", "right_shoulder", "left_elbow", "right_elbow", "left_wrist",
                     "right_wrist")


def _joint_limits() -> np.ndarray:
    """(21, 3, 2) lower/upper Euler limits in body-pose order."""
    out = []
    for name in _BODY_POSE_JOINTS:
        if name in _CENTRE_LIMITS:
            out.append(_CENTRE_LIMITS[name])
            continue
        side, joint = name.split("_", 1)
        lim = _LEFT_LIMITS[joint]
        if side == "right":
            lim = (lim[0], (-lim[1][1], -lim[1][0]), (-lim[2][1], -lim[2][0]))
        out.append(lim)
    return np.asarray(out, dtype=np.float64)


JOINT_LIMITS = _joint_limits()

# Colours: skin for hands, face and neck; clothing elsewhere (randomized per sample).
_SKIN = np.array([[0.96, 0.80, 0.69], [0.88, 0.67, 0.53], [0.76, 0.57, 0.42], [0.55, 0.38, 0.26],
                  [0.36, 0.24, 0.16]])
_PART_GROUP = np.zeros(55, dtype=np.int64)  # 0 shirt, 1 pants, 2 shoes, 3 skin, 4 eyes, 5 sleeve-or-skin
_PART_GROUP[[1, 2, 4, 5, 7, 8]] = 1
_PART_GROUP[[10, 11]] = 2
_PART_GROUP[[12, 15, 22, 20, 21, *range(25, 55)]] = 3
_PART_GROUP[[23, 24]] = 4
_PART_GROUP[[18, 19]] = 5


def camera(config: ModelConfig) -> tuple[float, tuple[float, float]]:
    """The network's camera at the full image: (focal in pixels, principal point (cx, cy)).

    :class:`~bidrn_hw.model.network.WholeBodyNet` uses focal ``5000 * body_H / 256`` at the body crop, which
    is the whole image resized; at the image resolution that is ``5000 * H / 256``.
    """
    h, w = config.image_input
    return 5000.0 * h / 256, (w / 2, h / 2)


def square_boxes(tight: np.ndarray, height: int, width: int) -> np.ndarray:
    """Tight normalized boxes (…, 3, 4) -> the network's convention: square in pixels, extended."""
    ext = np.array([BOX_EXTENSION["hand"]] * 2 + [BOX_EXTENSION["face"]])
    cx = (tight[..., 0] + tight[..., 2]) / 2 * width
    cy = (tight[..., 1] + tight[..., 3]) / 2 * height
    side = np.maximum((tight[..., 2] - tight[..., 0]) * width, (tight[..., 3] - tight[..., 1]) * height) * ext
    return np.stack([(cx - side / 2) / width, (cy - side / 2) / height,
                     (cx + side / 2) / width, (cy + side / 2) / height], -1)


def occlude(img: np.ndarray, rng: np.random.Generator, p: float = 0.35) -> np.ndarray:
    """With probability ``p``, one to two flat-coloured rectangles or ellipses (each 8-25% of the image side)
    drawn over the rendering: objects in front of the body, so that no single pixel region is always
    reliable. Labels are unchanged (the body is still there)."""
    if rng.random() >= p:
        return img
    h, w = img.shape[:2]
    ys, xs = np.mgrid[0:h, 0:w]
    img = img.copy()
    for _ in range(rng.integers(1, 3)):
        cx, cy = rng.uniform(0, w), rng.uniform(0, h)
        rx, ry = rng.uniform(0.04, 0.125, 2) * np.array([w, h]) * 2
        if rng.random() < 0.5:
            mask = (np.abs(xs - cx) < rx) & (np.abs(ys - cy) < ry)
        else:
            mask = ((xs - cx) / rx) ** 2 + ((ys - cy) / ry) ** 2 < 1
        img[mask] = rng.uniform(0, 1, 3)
    return img


def photometric(image: torch.Tensor, rng: np.random.Generator) -> torch.Tensor:
    """Training-time augmentation that leaves every label valid: per-channel gain, brightness, contrast and
    pixel noise on a float (3, H, W) image in [0, 1]."""
    gain = torch.from_numpy(rng.uniform(0.85, 1.15, 3).astype(np.float32))[:, None, None]
    mean = image.mean()
    out = (image - mean) * float(rng.uniform(0.8, 1.2)) + mean * float(rng.uniform(0.85, 1.15))
    out = out * gain + torch.from_numpy(rng.normal(0, rng.uniform(0, 0.03), image.shape).astype(np.float32))
    return out.clamp(0, 1)


def sample_rng(seed: int, split: str, index: int) -> np.random.Generator:
    return np.random.default_rng([GENERATOR_VERSION, seed, SPLITS[split], index])


def sample_parameters(rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Random SMPL-X parameters (no translation): plausible body pose within :data:`JOINT_LIMITS`, small hand
    and jaw poses, shape ~ N(0, 1) and expression ~ N(0, 0.7), both clipped to +-2.5."""
    lo, hi = JOINT_LIMITS[..., 0], JOINT_LIMITS[..., 1]
    euler = lo + (hi - lo) * rng.beta(1.6, 1.6, size=lo.shape)
    body = np_matrix_to_axis_angle(np_euler_xyz(euler))
    yaw, pitch, roll = rng.uniform(-1.3, 1.3), rng.uniform(-0.2, 0.2), rng.uniform(-0.2, 0.2)
    root = (np_axis_matrix(0, np.array([np.pi])) @ np_axis_matrix(1, np.array([yaw]))
            @ np_axis_matrix(0, np.array([pitch])) @ np_axis_matrix(2, np.array([roll])))
    jaw = np.array([rng.uniform(0.0, 0.35), rng.normal(0, 0.03), rng.normal(0, 0.03)])
    return {
        "root_pose": np_matrix_to_axis_angle(root)[0],
        "body_pose": body.reshape(-1),
        "lhand_pose": np.clip(rng.normal(0, 0.15, 45), -0.5, 0.5),
        "rhand_pose": np.clip(rng.normal(0, 0.15, 45), -0.5, 0.5),
        "jaw_pose": jaw,
        "shape": np.clip(rng.normal(0, 1, 10), -2.5, 2.5),
        "expr": np.clip(rng.normal(0, 0.7, 10), -2.5, 2.5),
    }


def place_in_view(verts: np.ndarray, rng: np.random.Generator, focal: float, height: int, width: int
                  ) -> np.ndarray:
    """A translation that puts ``verts`` (posed at the origin) in view: the larger of its projected height /
    width fills 55-85% of the image, centred with a random offset that keeps it inside."""
    lo, hi = verts.min(0), verts.max(0)
    mid = (lo + hi) / 2
    fill = rng.uniform(0.55, 0.85)
    z = focal * max((hi[1] - lo[1]) / height, (hi[0] - lo[0]) / width) / fill
    # Projected half-extents at that depth; shift the centre by up to the remaining margin.
    half_w = (hi[0] - lo[0]) / 2 * focal / z
    half_h = (hi[1] - lo[1]) / 2 * focal / z
    du = rng.uniform(-1, 1) * max(width / 2 - half_w - 1, 0)
    dv = rng.uniform(-1, 1) * max(height / 2 - half_h - 1, 0)
    depth = z - mid[2] + (hi[2] - lo[2]) / 2  # the nearest point at distance z
    return np.array([du * depth / focal - mid[0], dv * depth / focal - mid[1], depth])


class SyntheticGenerator:
    """Generates batches of samples for one config with one body model."""

    def __init__(self, config: str | ModelConfig = "tiny", body_model: BodyModel | None = None):
        self.config = get_config(config) if isinstance(config, str) else config
        self.body = body_model if body_model is not None else BodyModel()
        self.faces = self.body.faces.detach().cpu().numpy().astype(np.int64)
        self.vsets = body_vertex_sets(self.body)
        self.face_group = _PART_GROUP[self.vsets.part[self.faces[:, 0]]]
        self.focal, self.center = camera(self.config)

    def identity(self) -> str:
        """What the samples depend on besides (seed, split, index): used as the cache key."""
        st = os.stat(self.body.path)
        return json.dumps({"generator": GENERATOR_VERSION, "config": self.config.name,
                           "image": list(self.config.image_input), "body": str(self.body.path),
                           "body_size": st.st_size, "body_mtime": st.st_mtime_ns})

    def _colors(self, rng: np.random.Generator) -> np.ndarray:
        skin = _SKIN[rng.integers(len(_SKIN))] * rng.uniform(0.9, 1.1)
        shirt, pants = rng.uniform(0.05, 0.95, 3), rng.uniform(0.05, 0.8, 3)
        shoes = rng.uniform(0.0, 0.3, 3)
        sleeve = skin if rng.random() < 0.5 else shirt
        palette = np.clip(np.stack([shirt, pants, shoes, skin, np.full(3, 0.1), sleeve]), 0, 1)
        return palette[self.face_group]

    def generate(self, seed: int, indices, split: str = "train", with_vertices: bool = False
                 ) -> dict[str, np.ndarray]:
        """Samples ``indices`` of ``(seed, split)``, batched (leading axis = len(indices))."""
        if split not in SPLITS:
            raise ValueError(f"unknown split {split!r}; choose one of {', '.join(SPLITS)}")
        indices = [int(i) for i in indices]
        rngs = [sample_rng(seed, split, i) for i in indices]
        params = [sample_parameters(r) for r in rngs]
        batch = {k: np.stack([p[k] for p in params]).astype(np.float32) for k in params[0]}
        n = len(indices)
        with torch.no_grad():
            out = self.body(**{k: torch.from_numpy(v) for k, v in batch.items()},
                            cam_trans=torch.zeros(n, 3))
        verts0 = out.vertices.numpy().astype(np.float64)
        joints0 = out.joints.numpy().astype(np.float64)
        h, w = self.config.image_input
        images = np.empty((n, h, w, 3), dtype=np.uint8)
        trans = np.empty((n, 3))
        tight = np.empty((n, 3, 4))
        for i, rng in enumerate(rngs):
            trans[i] = place_in_view(verts0[i], rng, self.focal, h, w)
            verts = verts0[i] + trans[i]
            light = rng.normal(size=3) + np.array([0.0, -0.5, -1.5])
            img, _ = render(verts, self.faces, self._colors(rng), self.focal, self.center, h, w,
                            background(rng, h, w), light / np.linalg.norm(light), ambient=rng.uniform(0.25, 0.5))
            img = occlude(img, rng)
            img = img * rng.uniform(0.8, 1.2) + rng.normal(0, rng.uniform(0.0, 0.04), img.shape)
            images[i] = np.clip(np.round(img * 255), 0, 255).astype(np.uint8)
            pix = project(verts, self.focal, self.center)
            for b, ids in enumerate((self.vsets.lhand, self.vsets.rhand, self.vsets.face)):
                p = pix[ids]
                tight[i, b] = [p[:, 0].min() / w, p[:, 1].min() / h, p[:, 0].max() / w, p[:, 1].max() / h]
        joints_cam = joints0 + trans[:, None]
        result = dict(batch)
        result.update(
            image=images,
            cam_trans=trans.astype(np.float32),
            joints_cam=joints_cam.astype(np.float32),
            joints_img=project(joints_cam, self.focal, self.center).astype(np.float32),
            boxes=square_boxes(tight, h, w).astype(np.float32),
            boxes_tight=tight.astype(np.float32),
            index=np.asarray(indices, dtype=np.int64),
        )
        if with_vertices:
            result["vertices"] = (verts0 + trans[:, None]).astype(np.float32)
        return result


def to_sample(arrays: dict[str, np.ndarray], i: int) -> dict[str, torch.Tensor]:
    """Row ``i`` of batched numpy arrays -> a sample of tensors (image as float (3, H, W) in [0, 1])."""
    sample = {}
    for key, value in arrays.items():
        if key == "image":
            sample[key] = torch.from_numpy(value[i]).permute(2, 0, 1).float() / 255.0
        else:
            sample[key] = torch.from_numpy(np.asarray(value[i]))
    return sample


class SyntheticWholeBody(Dataset):
    """Samples generated on the fly; a DataLoader batch is generated in one call (``__getitems__``)."""

    def __init__(self, config: str | ModelConfig = "tiny", size: int = 1024, seed: int = 0, split: str = "train",
                 body_model: BodyModel | None = None, with_vertices: bool = False,
                 generator: SyntheticGenerator | None = None):
        self.generator = generator or SyntheticGenerator(config, body_model)
        self.size, self.seed, self.split, self.with_vertices = size, seed, split, with_vertices

    def __len__(self) -> int:
        return self.size

    def _check(self, index: int) -> int:
        if not 0 <= index < self.size:
            raise IndexError(f"sample {index} out of range (size {self.size})")
        return index

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        return self.__getitems__([index])[0]

    def __getitems__(self, indices) -> list[dict[str, torch.Tensor]]:
        arrays = self.generator.generate(self.seed, [self._check(int(i)) for i in indices], self.split,
                                         self.with_vertices)
        return [to_sample(arrays, i) for i in range(len(indices))]


# ---------------------------------------------------------------------------------------------------------
# On-disk cache: .npz shards + meta.json, each written to a temporary name and renamed.
def _atomic_savez(path: Path, arrays: dict[str, np.ndarray]) -> None:
    tmp = path.with_name(path.name + f".tmp{os.getpid()}")
    with open(tmp, "wb") as fh:
        np.savez(fh, **arrays)
    os.replace(tmp, path)


class CachedDataset(Dataset):
    """Samples read from a cache directory (all shards held in memory: images are uint8)."""

    def __init__(self, directory: str | os.PathLike, meta_name: str = "meta.json"):
        self.directory = Path(directory)
        meta_path = self.directory / meta_name
        try:
            self.meta = json.loads(meta_path.read_text())
            shards = [np.load(self.directory / name) for name in self.meta["shards"]]
            size = self.meta.get("size")  # shards are whole; a set of ``size`` samples ends inside the last one
            self.arrays = {k: np.concatenate([s[k] for s in shards])[:size] for k in shards[0].files}
        except (OSError, ValueError, KeyError, IndexError, EOFError, zipfile.BadZipFile, zlib.error) as exc:
            raise InputFileError(f"synthetic data cache {self.directory} is unreadable ({type(exc).__name__}: "
                                 f"{exc}); delete the directory to regenerate it") from exc

    def __len__(self) -> int:
        return len(self.arrays["image"])

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        return to_sample(self.arrays, index)

    def __getitems__(self, indices) -> list[dict[str, torch.Tensor]]:
        return [to_sample(self.arrays, int(i)) for i in indices]


def default_cache_root() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "bidrn-hw" / "synthetic"


def cached_dataset(config: str | ModelConfig, size: int, seed: int = 0, split: str = "train",
                   root: str | os.PathLike | None = None, body_model: BodyModel | None = None,
                   shard_size: int = 256, progress: bool = True,
                   generator: SyntheticGenerator | None = None) -> CachedDataset:
    """The cached samples 0..size-1 of (seed, split), generated where missing (finished shards are kept, so an
    interrupted generation resumes). The directory name hashes everything the samples depend on except the
    size: shards always hold ``shard_size`` consecutive samples, so sets of different sizes share them."""
    gen = generator or SyntheticGenerator(config, body_model)
    ident = gen.identity() + json.dumps({"seed": seed, "split": split, "shard": shard_size})
    key = hashlib.sha256(ident.encode()).hexdigest()[:16]
    directory = Path(root or default_cache_root()) / f"{gen.config.name}-{split}-s{seed}-{key}"
    directory.mkdir(parents=True, exist_ok=True)
    meta_name = f"meta-n{size}.json"
    if (directory / meta_name).exists():
        return CachedDataset(directory, meta_name)
    starts = list(range(0, size, shard_size))
    names = [f"shard_{k:05d}.npz" for k in range(len(starts))]
    # Shards are claimed one at a time under their own lock, so processes that need the same data at once
    # (two training runs started together) render different shards in parallel instead of waiting.
    with progress_bar(progress) as bar:
        task = bar.add_task(f"synthetic {split} data", total=size,
                            completed=sum(min(shard_size, size - s) for s, n in zip(starts, names)
                                          if (directory / n).exists()))
        for blocking in (False, True):
            for start, name in zip(starts, names):
                if (directory / name).exists():
                    continue
                lock = FileLock(str(directory / name) + ".lock")
                try:
                    lock.acquire(timeout=-1 if blocking else 0)
                except TimeoutError:
                    continue
                try:
                    if (directory / name).exists():
                        continue
                    stop = start + shard_size
                    arrays = {}
                    for chunk in range(start, stop, 32):
                        part = gen.generate(seed, range(chunk, min(chunk + 32, stop)), split)
                        for k, v in part.items():
                            arrays.setdefault(k, []).append(v)
                        bar.advance(task, max(0, min(len(part["index"]), size - chunk)))
                    _atomic_savez(directory / name, {k: np.concatenate(v) for k, v in arrays.items()})
                finally:
                    lock.release()
    meta = {"identity": json.loads(gen.identity()), "seed": seed, "split": split, "size": size,
            "shard_size": shard_size, "shards": names}
    tmp = directory / f"{meta_name}.tmp{os.getpid()}"
    tmp.write_text(json.dumps(meta, indent=1))
    os.replace(tmp, directory / meta_name)
    return CachedDataset(directory, meta_name)
