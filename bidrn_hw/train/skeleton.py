"""Joint and vertex index sets on the SMPL-X layer's outputs, shared by data, losses and metrics.

The network's PositionNet predicts Hand4Whole's 25 body joints and 20 joints per hand; here they are looked up
by name among the body model's 144 output joints (:func:`bidrn_hw.body.smplx_layer.output_joint_names`).
Hand and face vertices are chosen from the skinning weights (the joint that moves a vertex most), which works
for the real SMPL-X file and the stand-in alike.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import torch

from ..body.smplx_layer import output_joint_names

#: Hand4Whole's body joint set, in PositionNet order, as SMPL-X output joint names.
BODY_JOINTS = ("pelvis", "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle", "neck",
               "left_shoulder", "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist",
               "left_big_toe", "left_small_toe", "left_heel", "right_big_toe", "right_small_toe", "right_heel",
               "left_ear", "right_ear", "left_eye", "right_eye", "nose")
FINGERS = ("thumb", "index", "middle", "ring", "pinky")  # PositionNet order: MCP, PIP, DIP, tip per finger


def hand_joint_names(side: str) -> tuple[str, ...]:
    return tuple(f"{side}_{finger}{k}" if k else f"{side}_{finger}" for finger in FINGERS for k in (1, 2, 3, 0))


#: Skeleton joint indices (SMPL-X order) used for alignment.
PELVIS, NECK, LEFT_WRIST, RIGHT_WRIST = 0, 12, 20, 21
BODY_SKELETON = tuple(range(22))  # pelvis .. right wrist: PA-MPJPE's joint set
HAND_SKELETON = {"left": (20, *range(25, 40)), "right": (21, *range(40, 55))}
FACE_SKELETON = (15, 22, 23, 24)  # head, jaw, eyes


@dataclass(frozen=True)
class JointSets:
    body: tuple[int, ...]            # 25 indices into the output joints
    lhand: tuple[int, ...]           # 20
    rhand: tuple[int, ...]           # 20
    lhand_all: tuple[int, ...]       # wrist + 20: the hand's joints for root-relative 3D losses
    rhand_all: tuple[int, ...]
    face: tuple[int, ...]            # face landmarks (and contour) + jaw


@lru_cache(maxsize=4)
def joint_sets(use_face_contour: bool = True) -> JointSets:
    names = output_joint_names(use_face_contour)
    index = {n: i for i, n in enumerate(names)}
    lh = tuple(index[n] for n in hand_joint_names("left"))
    rh = tuple(index[n] for n in hand_joint_names("right"))
    face = (index["jaw"], *range(55 + 21, len(names)))
    return JointSets(body=tuple(index[n] for n in BODY_JOINTS), lhand=lh, rhand=rh,
                     lhand_all=(index["left_wrist"], *lh), rhand_all=(index["right_wrist"], *rh), face=face)


@dataclass(frozen=True)
class VertexSets:
    lhand: np.ndarray
    rhand: np.ndarray
    face: np.ndarray
    part: np.ndarray                 # (V,) skeleton joint that moves each vertex most


def vertex_sets(lbs_weights: torch.Tensor | np.ndarray) -> VertexSets:
    """Hand and face vertices from the skinning weights (V, 55)."""
    w = np.asarray(lbs_weights.detach().cpu() if isinstance(lbs_weights, torch.Tensor) else lbs_weights)
    part = w.argmax(1)
    pick = lambda joints: np.flatnonzero(np.isin(part, joints))  # noqa: E731
    return VertexSets(lhand=pick(HAND_SKELETON["left"]), rhand=pick(HAND_SKELETON["right"]),
                      face=pick(FACE_SKELETON), part=part)


def body_vertex_sets(body_model) -> VertexSets:
    return vertex_sets(body_model.smplx.lbs_weights)
