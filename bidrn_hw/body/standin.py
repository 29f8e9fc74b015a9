"""A stand-in SMPL-X body model, generated, in the ``.npz`` layout that ``smplx.SMPLX`` loads unchanged.

The real SMPL-X files are licensed and cannot ship with this project. This module builds a geometric
look-alike so that everything downstream of the body model (the SMPL-X layer, losses, MPVPE) runs:

* the 55 SMPL-X joints on the real kinematic tree, at hand-placed rest positions (T-pose, y up, facing +z,
  the body's left at +x, about 1.70 m tall, origin near the navel as in SMPL-X);
* a mesh made of one closed capsule per joint (torso segments, limbs, phalanges, head, jaw, eyeballs), every
  edge shared by exactly two faces. It has exactly SMPL-X's 10,475 vertices, because ``smplx`` hard-codes
  SMPL-X vertex indices (nose, eyes, ears, toes, heels, fingertips, up to 9,929) for its extra keypoints;
  the generator moves the matching vertex of the stand-in to each of those indices, so those keypoints land
  where their names say;
* skinning weights: each capsule follows its joint, blended smoothly with the neighbouring joints near the
  joint centres (rows sum to 1, zero beyond the blend radius, so a joint moves only its own subtree);
* a J_regressor that averages the capsule rings centred on each joint (rows sum to 1, exact on v_template);
* 10 shape blend shapes with names (:data:`SHAPE_COMPONENTS`) and 10 expression blend shapes on the face
  (:data:`EXPRESSION_COMPONENTS`), stored like the 20-component SMPL-X v1.0 file;
* small pose corrective blend shapes (a bulge at a bending joint plus seeded off-diagonal terms);
* hand PCA (mean: a slight curl), 51 static + 79x17 dynamic face landmarks on the head.

It is NOT SMPL-X: there is no learned shape space, so numbers measured on it are not comparable with published
ones (see docs/body_model.md). The output is a deterministic function of ``seed``; the seed drives only the
pose correctives' off-diagonal terms, three of the expression components and the tail of the hand PCA basis.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

GENERATOR_VERSION = 1
NUM_JOINTS = 55
NUM_VERTICES = 10475          # as SMPL-X; see the module docstring for why
NUM_POSE_BASIS = (NUM_JOINTS - 1) * 9

JOINT_NAMES = (
    "pelvis", "left_hip", "right_hip", "spine1", "left_knee", "right_knee", "spine2", "left_ankle",
    "right_ankle", "spine3", "left_foot", "right_foot", "neck", "left_collar", "right_collar", "head",
    "left_shoulder", "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist", "jaw",
    "left_eye_smplhf", "right_eye_smplhf",
) + tuple(f"{side}_{finger}{k}" for side in ("left", "right")
          for finger in ("index", "middle", "pinky", "ring", "thumb") for k in (1, 2, 3))
JOINT = {name: i for i, name in enumerate(JOINT_NAMES)}

SHAPE_COMPONENTS = ("height", "girth", "leg_length", "arm_length", "shoulder_width", "belly", "head_size",
                    "hand_size", "neck_length", "hip_width")
EXPRESSION_COMPONENTS = ("mouth_open", "smile", "brow_raise", "brow_furrow", "pucker", "cheek_puff",
                         "squint", "random_1", "random_2", "random_3")


def _parents() -> np.ndarray:
    parents = [-1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14, 16, 17, 18, 19, 15, 15, 15]
    for wrist, first in ((JOINT["left_wrist"], 25), (JOINT["right_wrist"], 40)):
        for finger in range(5):
            j = first + 3 * finger
            parents += [wrist, j, j + 1]
    return np.array(parents, dtype=np.int64)


PARENTS = _parents()

# ---------------------------------------------------------------------------------------------------------
# Rest skeleton (metres). Centre-line joints, then the left side; the right side is the mirror image (x -> -x).
_CENTRE = {"pelvis": (0.0, -0.35, 0.0), "spine1": (0.0, -0.24, -0.005), "spine2": (0.0, -0.12, -0.005),
           "spine3": (0.0, -0.01, -0.005), "neck": (0.0, 0.12, -0.015), "head": (0.0, 0.22, 0.0),
           "jaw": (0.0, 0.235, 0.02)}
_LEFT = {"hip": (0.085, -0.45, 0.0), "knee": (0.095, -0.86, 0.01), "ankle": (0.10, -1.25, -0.03),
         "foot": (0.11, -1.30, 0.09), "collar": (0.05, 0.07, -0.01), "shoulder": (0.175, 0.085, -0.015),
         "elbow": (0.43, 0.085, -0.025), "wrist": (0.68, 0.085, -0.02), "eye_smplhf": (0.033, 0.29, 0.078)}
# Left hand, palm down, fingers along +x: base offset from the wrist, direction, three phalanx lengths
# (the last one to the fingertip) and radius.
_FINGERS = {
    "index": ((0.088, 0.0, 0.026), (1.0, 0.0, 0.06), (0.040, 0.025, 0.022), 0.0085),
    "middle": ((0.090, 0.0, 0.008), (1.0, 0.0, 0.0), (0.045, 0.028, 0.024), 0.0088),
    "pinky": ((0.080, 0.0, -0.028), (1.0, 0.0, -0.10), (0.032, 0.020, 0.019), 0.0072),
    "ring": ((0.088, 0.0, -0.010), (1.0, 0.0, -0.05), (0.042, 0.026, 0.022), 0.0082),
    "thumb": ((0.022, -0.012, 0.030), (0.7, -0.1, 0.7), (0.032, 0.030, 0.026), 0.0095),
}
_MIRROR = np.array([-1.0, 1.0, 1.0])


def _unit(v) -> np.ndarray:
    v = np.asarray(v, dtype=np.float64)
    return v / np.linalg.norm(v)


def rest_joints() -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Rest joint positions (55, 3) and the fingertip points (``left_index_tip`` ...) that end the hands."""
    joints = np.zeros((NUM_JOINTS, 3))
    for name, pos in _CENTRE.items():
        joints[JOINT[name]] = pos
    for name, pos in _LEFT.items():
        joints[JOINT["left_" + name]] = pos
        joints[JOINT["right_" + name]] = np.asarray(pos) * _MIRROR
    tips = {}
    for side, mirror in (("left", np.ones(3)), ("right", _MIRROR)):
        wrist = joints[JOINT[f"{side}_wrist"]]
        for finger, (base, direction, lengths, _) in _FINGERS.items():
            d = _unit(direction) * mirror
            p = wrist + np.asarray(base) * mirror
            for k in range(3):
                joints[JOINT[f"{side}_{finger}{k + 1}"]] = p
                p = p + d * lengths[k]
            tips[f"{side}_{finger}_tip"] = p
    return joints, tips


# ---------------------------------------------------------------------------------------------------------
# Mesh: one capsule (elliptic cross-section, ellipsoidal caps) per joint.
@dataclass(frozen=True)
class _Part:
    owner: int                        # the joint whose rotation moves this capsule
    a: np.ndarray                     # axis start
    b: np.ndarray                     # axis end (== a for a sphere, then `axis` gives the pole direction)
    radii: tuple[float, float]        # cross-section half-axes along u and v
    cap: float                        # axial radius of the end caps
    res: tuple[int, int, int]         # vertices around, body rings, rings per cap
    u_hint: tuple[float, float, float]
    axis: tuple[float, float, float] | None = None
    joint_a: int | None = None        # joint centred on the body ring at a (feeds the J_regressor)
    joint_b: int | None = None        # joint centred on the body ring at b
    blend_parent: bool = True         # blend with the owner's parent around the owner's joint
    blend_children: tuple[int, ...] = ()   # blend with these children around their joints
    rho: float = 0.05                 # blend radius (m)


_X, _Z = (1.0, 0.0, 0.0), (0.0, 0.0, 1.0)
_TORSO, _LIMB, _FINGER = (32, 5, 5), (20, 14, 4), (10, 3, 2)


def _parts(J: np.ndarray, tips: dict[str, np.ndarray]) -> list[_Part]:
    """The 55 capsules. Resolutions are chosen so that the total is exactly NUM_VERTICES."""
    j = JOINT
    parts = [
        _Part(j["pelvis"], J[0], J[3], (0.15, 0.10), 0.09, _TORSO, _X, joint_a=0, joint_b=3, blend_parent=False,
              blend_children=(1, 2, 3), rho=0.10),
        _Part(j["spine1"], J[3], J[6], (0.14, 0.095), 0.05, _TORSO, _X, joint_a=3, joint_b=6,
              blend_children=(6,), rho=0.10),
        _Part(j["spine2"], J[6], J[9], (0.15, 0.10), 0.05, _TORSO, _X, joint_a=6, joint_b=9,
              blend_children=(9,), rho=0.10),
        _Part(j["spine3"], J[9], J[12], (0.16, 0.10), 0.05, _TORSO, _X, joint_a=9, joint_b=12,
              blend_children=(12, 13, 14), rho=0.10),
        _Part(j["neck"], J[12], J[15], (0.05, 0.05), 0.03, (20, 4, 3), _X, joint_a=12, joint_b=15,
              blend_children=(15,), rho=0.06),
        _Part(j["head"], J[15], J[15] + (0.0, 0.08, 0.005), (0.075, 0.09), 0.07, (32, 8, 8), _X, joint_a=15,
              blend_children=(22,), rho=0.06),
        _Part(j["jaw"], J[22], np.array([0.0, 0.175, 0.07]), (0.04, 0.02), 0.02, (17, 3, 3), _X, joint_a=22,
              rho=0.04),
    ]
    for side, m in (("left", np.ones(3)), ("right", _MIRROR)):
        def s(name):
            return j[f"{side}_{name}"]
        fingers1 = tuple(s(f"{f}1") for f in _FINGERS)
        parts += [
            _Part(s("eye_smplhf"), J[s("eye_smplhf")], J[s("eye_smplhf")], (0.012, 0.012), 0.012, (12, 1, 4), _X,
                  axis=_Z, joint_a=s("eye_smplhf"), blend_parent=False),
            _Part(s("collar"), J[s("collar")], J[s("shoulder")], (0.045, 0.045), 0.045, (16, 4, 3), _Z,
                  joint_a=s("collar"), joint_b=s("shoulder"), blend_children=(s("shoulder"),), rho=0.07),
            _Part(s("shoulder"), J[s("shoulder")], J[s("elbow")], (0.048, 0.048), 0.048, _LIMB, _Z,
                  joint_a=s("shoulder"), joint_b=s("elbow"), blend_children=(s("elbow"),), rho=0.08),
            _Part(s("elbow"), J[s("elbow")], J[s("wrist")], (0.038, 0.03), 0.035, _LIMB, _Z,
                  joint_a=s("elbow"), joint_b=s("wrist"), blend_children=(s("wrist"),), rho=0.07),
            _Part(s("wrist"), J[s("wrist")], J[s("wrist")] + np.array([0.075, 0.0, 0.0]) * m, (0.042, 0.014), 0.014,
                  (16, 5, 3), _Z, joint_a=s("wrist"), blend_children=fingers1, rho=0.035),
            _Part(s("hip"), J[s("hip")], J[s("knee")], (0.075, 0.075), 0.07, _LIMB, _X,
                  joint_a=s("hip"), joint_b=s("knee"), blend_children=(s("knee"),), rho=0.10),
            _Part(s("knee"), J[s("knee")], J[s("ankle")], (0.05, 0.05), 0.045, _LIMB, _X,
                  joint_a=s("knee"), joint_b=s("ankle"), blend_children=(s("ankle"),), rho=0.09),
            _Part(s("ankle"), np.array([0.10, -1.30, -0.065]) * m, J[s("foot")], (0.042, 0.03), 0.03, (20, 6, 4), _X,
                  joint_b=s("foot"), blend_children=(s("foot"),), rho=0.06),
            _Part(s("foot"), J[s("foot")], np.array([0.115, -1.305, 0.16]) * m, (0.042, 0.022), 0.018, (16, 2, 3),
                  _X, joint_a=s("foot"), rho=0.04),
        ]
        for finger, (_, _, _, radius) in _FINGERS.items():
            ids = [s(f"{finger}{k}") for k in (1, 2, 3)]
            ends = [J[ids[1]], J[ids[2]], tips[f"{side}_{finger}_tip"]]
            for k in range(3):
                r = radius * (1.0 - 0.08 * k)
                parts.append(_Part(ids[k], J[ids[k]], ends[k], (r, 0.9 * r), r, _FINGER, _Z, joint_a=ids[k],
                                   joint_b=ids[k + 1] if k < 2 else None,
                                   blend_children=(ids[k + 1],) if k < 2 else (), rho=0.018))
    return parts


@dataclass
class _Mesh:
    verts: np.ndarray                 # (V, 3)
    faces: np.ndarray                 # (F, 3), outward (counter-clockwise seen from outside)
    part: np.ndarray                  # (V,) owner joint of the capsule each vertex belongs to
    normal: np.ndarray                # (V, 3) outward direction
    centre: np.ndarray                # (V, 3) the nearest point on the capsule's axis segment
    rings: dict[int, list[np.ndarray]] = field(default_factory=dict)   # joint -> rings centred on it


def _capsule(p: _Part):
    length = float(np.linalg.norm(p.b - p.a))
    axis = _unit(p.b - p.a) if length > 0 else _unit(p.axis)
    u = np.asarray(p.u_hint, dtype=np.float64)
    u = _unit(u - axis * (u @ axis))
    v = np.cross(axis, u)                             # (u, v, axis) right-handed: faces below point outwards
    n_around, n_body, n_cap = p.res
    r1, r2 = p.radii
    phi = 2.0 * np.pi * np.arange(n_around) / n_around
    circle = r1 * np.cos(phi)[:, None] * u + r2 * np.sin(phi)[:, None] * v
    radial = np.array([_unit(n) for n in np.cos(phi)[:, None] / r1 * u + np.sin(phi)[:, None] / r2 * v])

    cap_angles = 0.5 * np.pi * np.arange(1, n_cap + 1) / (n_cap + 1)       # from the pole towards the body
    rings = [(-p.cap * np.cos(t), np.sin(t), -np.cos(t)) for t in cap_angles]
    ts = np.linspace(0.0, 1.0, n_body) if n_body > 1 else np.zeros(1)
    rings += [(t * length, 1.0, 0.0) for t in ts]
    rings += [(length + p.cap * np.cos(t), np.sin(t), np.cos(t)) for t in cap_angles[::-1]]

    verts, normals, centres = [p.a - axis * p.cap], [-axis], [p.a]
    for offset, scale, axial in rings:
        centre = p.a + axis * min(max(offset, 0.0), length)
        verts.append(p.a + axis * offset + scale * circle)
        normals.append(np.array([_unit(scale * n + axial * axis) for n in radial]))
        centres.append(np.repeat(centre[None], n_around, axis=0))
    verts.append(p.b + axis * p.cap)
    normals.append(axis)
    centres.append(p.b)
    verts, normals, centres = (np.vstack([np.atleast_2d(x) for x in arr]) for arr in (verts, normals, centres))

    n_rings = len(rings)
    idx = 1 + np.arange(n_rings * n_around).reshape(n_rings, n_around)
    nxt = np.roll(idx, -1, axis=1)
    last = len(verts) - 1
    faces = [np.stack([np.zeros(n_around, int), nxt[0], idx[0]], 1)]
    for r in range(n_rings - 1):
        faces.append(np.stack([idx[r], nxt[r], nxt[r + 1]], 1))
        faces.append(np.stack([idx[r], nxt[r + 1], idx[r + 1]], 1))
    faces.append(np.stack([idx[-1], nxt[-1], np.full(n_around, last)], 1))

    joint_rings = []
    if p.joint_a is not None:
        joint_rings.append((p.joint_a, idx[n_cap]))
    if p.joint_b is not None:
        joint_rings.append((p.joint_b, idx[n_cap + n_body - 1]))
    return verts, np.vstack(faces), normals, centres, joint_rings


def _build_mesh(parts: list[_Part]) -> _Mesh:
    verts, faces, part, normal, centre, rings = [], [], [], [], [], {}
    offset = 0
    for p in parts:
        v, f, n, c, joint_rings = _capsule(p)
        verts.append(v), faces.append(f + offset), normal.append(n), centre.append(c)
        part.append(np.full(len(v), p.owner))
        for joint, ring in joint_rings:
            rings.setdefault(joint, []).append(ring + offset)
        offset += len(v)
    return _Mesh(np.vstack(verts), np.vstack(faces), np.concatenate(part), np.vstack(normal), np.vstack(centre),
                 rings)


# ---------------------------------------------------------------------------------------------------------
# Vertex order: smplx reads 21 extra keypoints at fixed SMPL-X vertex indices (smplx/vertex_ids.py).
_SMPLX_KEYPOINT_VERTEX = {
    "nose": 9120, "reye": 9929, "leye": 9448, "rear": 616, "lear": 6,
    "rthumb": 8079, "rindex": 7669, "rmiddle": 7794, "rring": 7905, "rpinky": 8022,
    "lthumb": 5361, "lindex": 4933, "lmiddle": 5058, "lring": 5169, "lpinky": 5286,
    "LBigToe": 5770, "LSmallToe": 5780, "LHeel": 8846, "RBigToe": 8463, "RSmallToe": 8474, "RHeel": 8635,
}


def _keypoint_targets(tips: dict[str, np.ndarray]) -> dict[str, tuple[int, np.ndarray]]:
    """For each smplx keypoint: the capsule to search and a point the vertex should be nearest to."""
    targets = {
        "nose": (JOINT["head"], (0.0, 0.265, 0.3)),
        "rear": (JOINT["head"], (-0.3, 0.27, 0.0)), "lear": (JOINT["head"], (0.3, 0.27, 0.0)),
        "reye": (JOINT["right_eye_smplhf"], (-0.033, 0.29, 0.3)),
        "leye": (JOINT["left_eye_smplhf"], (0.033, 0.29, 0.3)),
    }
    for side, key, m in (("left", "L", np.ones(3)), ("right", "R", _MIRROR)):
        targets[f"{key}BigToe"] = (JOINT[f"{side}_foot"], np.array([0.085, -1.30, 0.3]) * m)
        targets[f"{key}SmallToe"] = (JOINT[f"{side}_foot"], np.array([0.15, -1.30, 0.25]) * m)
        targets[f"{key}Heel"] = (JOINT[f"{side}_ankle"], np.array([0.10, -1.40, -0.3]) * m)
        for finger, (_, direction, _, _) in _FINGERS.items():
            tip = tips[f"{side}_{finger}_tip"]
            targets[side[0] + finger] = (JOINT[f"{side}_{finger}3"], tip + _unit(direction) * m)
    return {k: (part, np.asarray(t, dtype=np.float64)) for k, (part, t) in targets.items()}


def _place_keypoint_vertices(mesh: _Mesh, tips: dict[str, np.ndarray]) -> _Mesh:
    """Renumber the vertices so that each smplx keypoint index holds the matching stand-in vertex."""
    order = np.arange(len(mesh.verts))                # order[new index] = old index
    position = np.arange(len(mesh.verts))             # position[old index] = new index
    for name, (part, target) in _keypoint_targets(tips).items():
        candidates = np.flatnonzero(mesh.part == part)
        old = candidates[np.argmin(np.linalg.norm(mesh.verts[candidates] - target, axis=1))]
        new = _SMPLX_KEYPOINT_VERTEX[name]
        displaced = order[new]
        order[new], order[position[old]] = old, displaced
        position[displaced], position[old] = position[old], new
    rings = {j: [position[r] for r in rs] for j, rs in mesh.rings.items()}
    return _Mesh(mesh.verts[order], position[mesh.faces], mesh.part[order], mesh.normal[order],
                 mesh.centre[order], rings)


# ---------------------------------------------------------------------------------------------------------
# Rigging and blend shapes.
def _falloff(dist: np.ndarray, rho: float) -> np.ndarray:
    x = np.clip(dist / rho, 0.0, 1.0)
    return (1.0 - x * x) ** 3                         # 1 at the centre, 0 (with zero slope) at rho


def _skinning_weights(mesh: _Mesh, parts: list[_Part], J: np.ndarray) -> np.ndarray:
    weights = np.zeros((len(mesh.verts), NUM_JOINTS))
    for p in parts:
        ids = np.flatnonzero(mesh.part == p.owner)
        v = mesh.verts[ids]
        influence = {p.owner: np.ones(len(ids))}
        if p.blend_parent and PARENTS[p.owner] >= 0:
            influence[int(PARENTS[p.owner])] = _falloff(np.linalg.norm(v - J[p.owner], axis=1), p.rho)
        for child in p.blend_children:
            influence[child] = _falloff(np.linalg.norm(v - J[child], axis=1), p.rho)
        total = sum(influence.values())
        for joint, f in influence.items():
            weights[ids, joint] = f / total
    return weights


def _joint_regressor(mesh: _Mesh) -> np.ndarray:
    regressor = np.zeros((NUM_JOINTS, len(mesh.verts)))
    for joint in range(NUM_JOINTS):
        ids = np.concatenate(mesh.rings[joint])       # every ring is centred on the joint
        regressor[joint, ids] = 1.0 / len(ids)
    return regressor


def _bump(v: np.ndarray, centre, sigma: float) -> np.ndarray:
    return np.exp(-np.sum((v - np.asarray(centre)) ** 2, axis=1) / (2.0 * sigma * sigma))[:, None]


def _shape_dirs(mesh: _Mesh, J: np.ndarray) -> np.ndarray:
    """(V, 3, 10) displacements for beta = 1 of each of SHAPE_COMPONENTS (about one standard deviation)."""
    v, part = mesh.verts, mesh.part
    x, y = v[:, 0], v[:, 1]
    sx = np.sign(x)
    ex, ey, ez = np.eye(3)
    in_parts = lambda names: np.isin(part, [JOINT[n] for n in names])[:, None]  # noqa: E731
    hands = [n for n in JOINT_NAMES if "wrist" in n or any(f in n for f in _FINGERS)]
    head = ["head", "jaw", "left_eye_smplhf", "right_eye_smplhf"]
    girth = ["pelvis", "spine1", "spine2", "spine3", "neck", "left_collar", "right_collar", "left_shoulder",
             "right_shoulder", "left_elbow", "right_elbow", "left_hip", "right_hip", "left_knee", "right_knee"]
    hip_y, shoulder_x, neck_y, head_y = J[JOINT["left_hip"], 1], J[JOINT["left_shoulder"], 0], J[12, 1], J[15, 1]
    smooth = lambda t: np.clip(t, 0.0, 1.0) ** 2 * (3.0 - 2.0 * np.clip(t, 0.0, 1.0))  # noqa: E731
    dirs = [
        0.05 * (v - J[0]),                                                        # height: scale about the pelvis
        0.12 * (v - mesh.centre) * in_parts(girth),                               # girth: radial
        0.06 * np.minimum(y - hip_y, 0.0)[:, None] * ey,                          # leg length: stretch below hips
        0.06 * (sx * np.maximum(np.abs(x) - shoulder_x, 0.0))[:, None] * ex,      # arm length
        0.03 * (sx * smooth((np.abs(x) - 0.05) / 0.12) * smooth((y + 0.10) / 0.10))[:, None] * ex,
        0.04 * _bump(v, (0.0, -0.2, 0.1), 0.1) * ez,                              # belly
        0.08 * (v - (J[15] + (0.0, 0.04, 0.0))) * in_parts(head),                 # head size about its centre
        0.08 * (v - J[np.where(x > 0, JOINT["left_wrist"], JOINT["right_wrist"])]) * in_parts(hands),
        0.03 * (smooth((y - neck_y) / (head_y - neck_y)) * (np.abs(x) < 0.12))[:, None] * ey,   # neck length
        0.03 * (sx * smooth((-0.30 - y) / 0.10) * np.clip(np.abs(x) / 0.1, 0.0, 1.0))[:, None] * ex,  # hips
    ]
    return np.stack(dirs, axis=-1)


def _expression_dirs(mesh: _Mesh, rng: np.random.Generator) -> np.ndarray:
    """(V, 3, 10) face displacements (head and jaw capsules only) for each of EXPRESSION_COMPONENTS."""
    v, n = mesh.verts, mesh.normal
    face = (np.isin(mesh.part, [JOINT["head"], JOINT["jaw"]]) * np.clip(n[:, 2] * 2.0, 0.0, 1.0))[:, None]

    def pair(centre, sigma, direction, amplitude):    # the same bump on both sides of the face, mirrored
        d = np.zeros_like(v)
        for m in (np.ones(3), _MIRROR):
            d += amplitude * _bump(v, np.asarray(centre) * m, sigma) * (_unit(direction) * m)
        return d

    dirs = [
        0.010 * _bump(v, (0.0, 0.19, 0.08), 0.025) * np.array([0.0, -1.0, 0.0]),
        pair((0.024, 0.215, 0.085), 0.012, (0.4, 1.0, 0.0), 0.005),
        pair((0.033, 0.31, 0.085), 0.015, (0.0, 1.0, 0.0), 0.005),
        pair((0.015, 0.305, 0.09), 0.010, (-0.5, -1.0, 0.0), 0.004),
        0.006 * _bump(v, (0.0, 0.215, 0.09), 0.015) * np.array([0.0, 0.0, 1.0]),
        sum(0.006 * _bump(v, np.array([0.045, 0.235, 0.075]) * m, 0.018) * n for m in (np.ones(3), _MIRROR)),
        pair((0.033, 0.298, 0.085), 0.008, (0.0, -1.0, 0.0), 0.003),
    ]
    for _ in range(3):
        centre = (rng.uniform(-0.05, 0.05), rng.uniform(0.19, 0.31), 0.08)
        dirs.append(0.004 * _bump(v, centre, rng.uniform(0.01, 0.025)) * _unit(rng.normal(size=3)))
    return np.stack(dirs, axis=-1) * face[:, :, None]


def _pose_dirs(mesh: _Mesh, weights: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """(V, 3, 486) correctives: a bulge along the normal where a joint and its parent share a vertex.

    smplx multiplies them with (R - I) of joints 1..54 (9 entries each). The diagonal terms (cos(angle) - 1)
    make the bulge grow with the bend; the seeded off-diagonal terms are odd in the angle. Support is
    4 * w_joint * w_parent, so a joint's correctives touch only vertices that the joint already moves.
    """
    posedirs = np.zeros((len(mesh.verts), 3, NUM_POSE_BASIS), dtype=np.float32)
    coef = rng.uniform(-0.002, 0.002, size=(NUM_JOINTS, 3, 3))
    coef[:, [0, 1, 2], [0, 1, 2]] = -0.004
    for joint in range(1, NUM_JOINTS):
        support = 4.0 * weights[:, joint] * weights[:, PARENTS[joint]]
        ids = np.flatnonzero(support > 0)
        if ids.size == 0:
            continue
        disp = support[ids, None] * mesh.normal[ids]                        # (n, 3)
        posedirs[ids, :, 9 * (joint - 1):9 * joint] = disp[:, :, None] * coef[joint].reshape(1, 1, 9)
    return posedirs


def _hand_pca(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Left/right hand PCA bases (45, 45; rows orthonormal) and means (45,), axis-angle per finger joint.

    The first components are designed (all fingers curl, fingers spread, thumb opposition), the rest complete
    an orthonormal basis from seeded noise. Left hand: palm down, fingers along +x, so curling is a negative
    rotation about z. The right hand mirrors it: (x, y, z) -> (x, -y, -z) for each axis-angle vector.
    """
    curl = np.zeros((15, 3))
    curl[:12, 2] = -1.0
    spread = np.zeros((15, 3))
    for finger, sign in enumerate((-1.0, 0.0, 1.0, 0.5)):           # index, middle, pinky, ring: about y
        spread[3 * finger, 1] = sign
    thumb = np.zeros((15, 3))
    thumb[12:, 0] = 1.0
    designed = np.stack([curl.ravel(), spread.ravel(), thumb.ravel()], axis=1)
    basis = np.concatenate([designed, rng.normal(size=(45, 42))], axis=1)
    q, r = np.linalg.qr(basis)
    q = q * np.sign(np.diag(r))                                       # keep the designed directions' sign
    comps_l = q.T
    mean_l = (0.12 * curl).ravel()
    mirror = np.tile([1.0, -1.0, -1.0], 15)
    return comps_l, comps_l * mirror, mean_l, mean_l * mirror


# ---------------------------------------------------------------------------------------------------------
# Face landmarks (iBUG-68 without the 17 contour points; the contour is the dynamic set).
def _static_landmark_points() -> np.ndarray:
    """(51, 2) (x, y) face positions in iBUG-68 order 17..67 (subject's right first, x < 0)."""
    pts = [(-0.050 + 0.009 * k, 0.300 + 0.010 * np.sin(np.pi * k / 4)) for k in range(5)]         # right brow
    pts += [(0.014 + 0.009 * k, 0.300 + 0.010 * np.sin(np.pi * (4 - k) / 4)) for k in range(5)]    # left brow
    pts += [(0.0, 0.285 - 0.011 * k) for k in range(4)]                                             # bridge
    pts += [(-0.014 + 0.007 * k, 0.245 - 0.003 * (k in (1, 2, 3))) for k in range(5)]               # nostrils
    for cx, order in ((-0.033, (180, 120, 60, 0, 300, 240)), (0.033, (180, 120, 60, 0, 300, 240))):
        pts += [(cx + 0.013 * np.cos(np.radians(a)), 0.29 + 0.005 * np.sin(np.radians(a))) for a in order]
    outer = [180, 150, 120, 90, 60, 30, 0, 330, 300, 270, 240, 210]
    pts += [(0.024 * np.cos(np.radians(a)), 0.215 + 0.011 * np.sin(np.radians(a))) for a in outer]
    inner = [180, 135, 90, 45, 0, 315, 270, 225]
    pts += [(0.016 * np.cos(np.radians(a)), 0.215 + 0.004 * np.sin(np.radians(a))) for a in inner]
    return np.array(pts)


def _ray_hit(origin, direction, tri: np.ndarray) -> tuple[int, np.ndarray]:
    """Nearest triangle (index into tri (n, 3, 3)) hit by the ray, and the barycentric coordinates of the hit."""
    v0, e1, e2 = tri[:, 0], tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0]
    pvec = np.cross(direction, e2)
    det = np.einsum("ij,ij->i", e1, pvec)
    with np.errstate(divide="ignore", invalid="ignore"):
        inv = 1.0 / det
        tvec = origin - v0
        u = np.einsum("ij,ij->i", tvec, pvec) * inv
        qvec = np.cross(tvec, e1)
        v = (qvec @ direction) * inv
        t = np.einsum("ij,ij->i", e2, qvec) * inv
    ok = (np.abs(det) > 1e-12) & (u >= 0) & (v >= 0) & (u + v <= 1) & (t > 0)
    if not ok.any():
        raise RuntimeError(f"landmark ray from {origin} along {direction} missed the head")
    k = np.flatnonzero(ok)[np.argmin(t[ok])]
    return int(k), np.array([1.0 - u[k] - v[k], u[k], v[k]])


def dynamic_landmark_yaw(bin_index: int) -> int:
    """The head yaw (degrees, as smplx's find_dynamic_lmk_idx_and_bcoords computes it) of a look-up row."""
    return bin_index if bin_index <= 39 else 39 - bin_index


def _landmarks(mesh: _Mesh):
    head_faces = np.flatnonzero(np.all(mesh.part[mesh.faces] == JOINT["head"], axis=1))
    tri = mesh.verts[mesh.faces[head_faces]]
    axis_z = 0.0                                      # the head capsule's axis runs (nearly) in z = 0
    static_idx, static_bary = [], []
    for x, y in _static_landmark_points():            # project along +z onto the front of the head
        k, bary = _ray_hit(np.array([x, y, axis_z]), np.array([0.0, 0.0, 1.0]), tri)
        static_idx.append(head_faces[k]), static_bary.append(bary)
    # Contour: 17 points along the jaw line from the right ear over the chin to the left ear; when the head
    # turns, the look-up shifts the contour by the yaw so that it stays on the side facing the camera.
    s = np.linspace(-1.0, 1.0, 17)
    heights = 0.17 + 0.09 * np.abs(s) ** 1.3
    dyn_idx = np.zeros((79, 17), dtype=np.int64)
    dyn_bary = np.zeros((79, 17, 3))
    for row in range(79):
        azimuths = np.radians(np.clip(75.0 * s + dynamic_landmark_yaw(row), -110.0, 110.0))
        for i, (psi, y) in enumerate(zip(azimuths, heights)):
            k, bary = _ray_hit(np.array([0.0, y, axis_z]), np.array([np.sin(psi), 0.0, np.cos(psi)]), tri)
            dyn_idx[row, i], dyn_bary[row, i] = head_faces[k], bary
    return (np.array(static_idx, dtype=np.int64), np.array(static_bary), dyn_idx, dyn_bary)


# ---------------------------------------------------------------------------------------------------------
@dataclass
class StandIn:
    """The generated model: ``arrays`` is exactly what goes into the .npz; the rest is for tests and tools."""

    arrays: dict[str, np.ndarray]
    joints: np.ndarray                # (55, 3) rest joints (== J_regressor @ v_template)
    part: np.ndarray                  # (V,) owner joint of each vertex's capsule
    seed: int

    @property
    def num_vertices(self) -> int:
        return len(self.arrays["v_template"])

    @property
    def num_faces(self) -> int:
        return len(self.arrays["f"])


def build_standin(seed: int = 0) -> StandIn:
    rng = np.random.default_rng(seed)
    joints, tips = rest_joints()
    parts = _parts(joints, tips)
    mesh = _place_keypoint_vertices(_build_mesh(parts), tips)
    assert len(mesh.verts) == NUM_VERTICES, len(mesh.verts)
    weights = _skinning_weights(mesh, parts, joints)
    regressor = _joint_regressor(mesh)
    shapedirs = np.concatenate([_shape_dirs(mesh, joints), _expression_dirs(mesh, rng)], axis=-1)
    posedirs = _pose_dirs(mesh, weights, rng)
    comps_l, comps_r, mean_l, mean_r = _hand_pca(rng)
    lmk_idx, lmk_bary, dyn_idx, dyn_bary = _landmarks(mesh)
    kintree = np.stack([PARENTS, np.arange(NUM_JOINTS)]).astype(np.int64)
    arrays = {
        "v_template": mesh.verts, "f": mesh.faces.astype(np.int32), "J_regressor": regressor,
        "kintree_table": kintree, "weights": weights, "shapedirs": shapedirs, "posedirs": posedirs,
        "hands_componentsl": comps_l, "hands_componentsr": comps_r, "hands_meanl": mean_l, "hands_meanr": mean_r,
        "lmk_faces_idx": lmk_idx, "lmk_bary_coords": lmk_bary,
        "dynamic_lmk_faces_idx": dyn_idx, "dynamic_lmk_bary_coords": dyn_bary,
        # Not in the real file (smplx ignores them): marks a stand-in and keeps the capsule of each vertex.
        "standin_version": np.array(GENERATOR_VERSION), "standin_seed": np.array(seed),
        "vertex_part": mesh.part.astype(np.int64),
    }
    return StandIn(arrays=arrays, joints=joints, part=mesh.part, seed=seed)


def write_standin(path: str | os.PathLike, seed: int = 0) -> StandIn:
    """Generate the stand-in and write it to ``path`` exactly (atomically; no '.npz' is appended)."""
    path = Path(path)
    model = build_standin(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as fh:
            np.savez_compressed(fh, **model.arrays)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return model
