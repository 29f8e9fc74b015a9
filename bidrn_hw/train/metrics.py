"""Mesh metrics as Hand4Whole reports them, in millimetres.

* MPVPE (all): mean vertex error after translating the prediction so that its pelvis (the body model's
  J_regressor applied to the mesh) meets the ground truth's;
* MPVPE hands: each hand's vertices, aligned at its wrist; MPVPE face: face vertices aligned at the neck;
* PA-MPVPE / PA-MPJPE: after a similarity (Procrustes: rotation, uniform scale, translation) alignment of the
  vertices / of the 22 body skeleton joints regressed from the mesh.

Joints are regressed from the meshes on both sides, so the metrics need only vertices (EHF gives no joints).
"""
from __future__ import annotations

import numpy as np
import torch

from .skeleton import BODY_SKELETON, LEFT_WRIST, NECK, PELVIS, RIGHT_WRIST, VertexSets, body_vertex_sets

METRIC_KEYS = ("mpvpe_mm", "pa_mpvpe_mm", "pa_mpjpe_mm", "mpvpe_hands_mm", "mpvpe_face_mm")


def rigid_align(pred: torch.Tensor, gt: torch.Tensor) -> torch.Tensor:
    """Similarity-align ``pred`` (B, N, 3) to ``gt`` (B, N, 3) (Umeyama; reflections excluded)."""
    pred, gt = pred.double(), gt.double()
    mu_p, mu_g = pred.mean(1, keepdim=True), gt.mean(1, keepdim=True)
    x, y = pred - mu_p, gt - mu_g
    var_p = (x * x).sum((1, 2)) / x.shape[1]
    k = y.transpose(1, 2) @ x / x.shape[1]            # (B, 3, 3) cross-covariance
    u, s, vt = torch.linalg.svd(k)
    d = torch.ones_like(s)
    d[:, 2] = torch.sign(torch.linalg.det(u @ vt))
    r = u @ torch.diag_embed(d) @ vt
    scale = (s * d).sum(1) / var_p.clamp(min=1e-20)
    return scale[:, None, None] * x @ r.transpose(1, 2) + mu_g


def mean_distance(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Mean Euclidean distance per sample: (B, N, 3) x2 -> (B,)."""
    return (a.double() - b.double()).norm(dim=-1).mean(-1)


def root_aligned_error(pred: torch.Tensor, gt: torch.Tensor, pred_root: torch.Tensor, gt_root: torch.Tensor
                       ) -> torch.Tensor:
    """Mean vertex error after moving ``pred_root`` (B, 3) onto ``gt_root``."""
    return mean_distance(pred - pred_root[:, None] + gt_root[:, None], gt)


class MeshMetrics:
    """Per-sample metrics (mm) for meshes of one body-model topology."""

    def __init__(self, j_regressor: torch.Tensor, vertex_sets: VertexSets):
        self.j_regressor = j_regressor.double()
        self.vsets = vertex_sets

    @classmethod
    def for_body_model(cls, body_model) -> "MeshMetrics":
        return cls(body_model.smplx.J_regressor.detach().cpu(), body_vertex_sets(body_model))

    def __call__(self, pred: torch.Tensor, gt: torch.Tensor) -> dict[str, torch.Tensor]:
        pred, gt = pred.detach().cpu().double(), gt.detach().cpu().double()
        if pred.shape != gt.shape or pred.shape[1] != self.j_regressor.shape[1]:
            raise ValueError(f"meshes of shape {tuple(pred.shape)} / {tuple(gt.shape)} do not match the body "
                             f"model's {self.j_regressor.shape[1]} vertices")
        jp = torch.einsum("jv,bvc->bjc", self.j_regressor, pred)
        jg = torch.einsum("jv,bvc->bjc", self.j_regressor, gt)
        out = {"mpvpe_mm": root_aligned_error(pred, gt, jp[:, PELVIS], jg[:, PELVIS]),
               "pa_mpvpe_mm": mean_distance(rigid_align(pred, gt), gt)}
        body = list(BODY_SKELETON)
        out["pa_mpjpe_mm"] = mean_distance(rigid_align(jp[:, body], jg[:, body]), jg[:, body])
        lh, rh, face = (torch.as_tensor(self.vsets.lhand), torch.as_tensor(self.vsets.rhand),
                        torch.as_tensor(self.vsets.face))
        out["mpvpe_hands_mm"] = (root_aligned_error(pred[:, lh], gt[:, lh], jp[:, LEFT_WRIST], jg[:, LEFT_WRIST])
                                 + root_aligned_error(pred[:, rh], gt[:, rh], jp[:, RIGHT_WRIST],
                                                      jg[:, RIGHT_WRIST])) / 2
        out["mpvpe_face_mm"] = root_aligned_error(pred[:, face], gt[:, face], jp[:, NECK], jg[:, NECK])
        return {k: v * 1000.0 for k, v in out.items()}


class MetricAccumulator:
    """Running means of per-sample metrics."""

    def __init__(self):
        self.sums: dict[str, float] = {}
        self.count = 0

    def update(self, values: dict[str, torch.Tensor]) -> None:
        n = None
        for k, v in values.items():
            self.sums[k] = self.sums.get(k, 0.0) + float(v.sum())
            n = len(v)
        self.count += n or 0

    def result(self) -> dict[str, float]:
        return {k: (s / self.count if self.count else float("nan")) for k, s in self.sums.items()}


def summarize(values: dict[str, float]) -> dict[str, float]:
    return {k: round(float(v), 3) if np.isfinite(v) else None for k, v in values.items()}
