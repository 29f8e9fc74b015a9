"""Hand4Whole's training losses, all L1, weighted by :data:`LOSS_WEIGHTS` by default:

* ``pose``: SMPL-X poses (root, body, hands, jaw), compared as 6D rotations (the first two columns of the
  rotation matrices: continuous, no 2*pi ambiguity) or, with ``pose_repr="axis_angle"``, as Hand4Whole does;
* ``shape``, ``expr``: SMPL-X coefficients;
* ``joint_cam``: 3D joints of the posed body model, root-relative: body joints relative to the pelvis, hand
  joints to their wrist, face landmarks to the neck (metres);
* ``joint_proj``: 2D projections of those joints with the network's camera, in body-heatmap units;
* ``joint_img``: PositionNet's 3D heatmap coordinates: the 25 body joints in the body heatmap, the 20 joints
  per hand in the (predicted, detached) hand crop's heatmap, left hand mirrored; joints outside the crop are
  masked as Hand4Whole's truncation does;
* ``box``: hand/face boxes (x0, y0, x1, y1), in body-heatmap units;
* ``vertex`` (not Hand4Whole's; only when the batch holds ``vertices_gt``, the mesh of its parameters): L1 on
  the vertices, each mesh relative to its pelvis: the quantity MPVPE measures, in metres;
* ``mesh`` (not Hand4Whole's; only for data sets that give meshes but no parameters): L1 on the vertices, each
  mesh centred on its mean.

A loss is computed when its targets are in the batch, so data sets without parameters (EHF, AGORA without
pickles) train on what they have.
"""
from __future__ import annotations

import torch

from ..model.configs import ModelConfig
from .rotation import axis_angle_to_matrix, matrix_to_rot6d
from .skeleton import NECK, PELVIS, joint_sets

# Hand4Whole weighs every term 1. With the rotations' L1 averaged over 53 joints x 6 numbers (the root is
# 6 of 318) and the 3D joints in metres (~0.05), the heatmap/box/2D terms (pixels and voxels, ~1) drive the
# shared encoder and a small network trained from scratch never learns the global orientation: overfitting
# 16 images for 300 steps, the predicted root yaw spread stays 0.14 rad against 0.66 rad in the truth; with
# the rotations weighed 10x it fits them (corr 1.00, MPVPE 40 mm on the batch). The pelvis-relative vertex
# L1 (what MPVPE measures) is added at 10x; shape and expression, which the 64x48 body crop and 32x32 face
# crop barely show, are weighed down so their noise does not dominate the encoder. See docs/training.md.
LOSS_WEIGHTS = {"pose": 10.0, "joint_cam": 10.0, "vertex": 10.0, "shape": 0.3, "expr": 0.3}

POSE_KEYS = ("root_pose", "body_pose", "lhand_pose", "rhand_pose", "jaw_pose")
BODY_3D_SIZE = 2.0  # metres spanned by the body heatmap's depth axis (Hand4Whole: body_3d_size)
HAND_3D_SIZE = 0.3


def _l1(a: torch.Tensor, b: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    diff = (a - b).abs()
    if mask is None:
        return diff.mean()
    mask = mask.expand_as(diff).to(diff.dtype)
    return (diff * mask).sum() / mask.sum().clamp(min=1.0)


def pose_loss(out: dict, batch: dict, pose_repr: str = "6d") -> torch.Tensor:
    preds, gts = [], []
    for key in POSE_KEYS:
        p, g = out[key].reshape(len(out[key]), -1, 3), batch[key].reshape(len(batch[key]), -1, 3).to(out[key])
        if pose_repr == "6d":
            p, g = matrix_to_rot6d(axis_angle_to_matrix(p)), matrix_to_rot6d(axis_angle_to_matrix(g))
        elif pose_repr != "axis_angle":
            raise ValueError(f"unknown pose representation {pose_repr!r}")
        preds.append(p.flatten(1))
        gts.append(g.flatten(1))
    return _l1(torch.cat(preds, 1), torch.cat(gts, 1))


def relative_joints(joints: torch.Tensor) -> torch.Tensor:
    """(B, J, 3) camera-space output joints -> root-relative: body to the pelvis, hands to their wrist, face
    landmarks to the neck."""
    sets = joint_sets(joints.shape[1] > 127)
    rel = joints - joints[:, PELVIS:PELVIS + 1]
    rel = rel.clone()
    for ids in (sets.lhand_all, sets.rhand_all):
        ids = [i for i in ids if i < joints.shape[1]]
        rel[:, ids[1:]] = joints[:, ids[1:]] - joints[:, ids[:1]]
    face = [i for i in sets.face if i < joints.shape[1]]
    rel[:, face] = joints[:, face] - joints[:, NECK:NECK + 1]
    return rel


def relative_root(joints: torch.Tensor) -> torch.Tensor:
    """(B, J, 3) -> the pelvis (B, 1, 3)."""
    return joints[:, PELVIS:PELVIS + 1]


def project_to_image(joints: torch.Tensor, focal: float, height: int, width: int) -> torch.Tensor:
    """Camera-space points -> image pixels with the network's camera (principal point at the centre)."""
    z = joints[..., 2:3].clamp(min=0.1)
    return joints[..., :2] / z * focal + joints.new_tensor([width / 2, height / 2])


def _box_to_hand_crop(uv: torch.Tensor, box: torch.Tensor, size: tuple[int, int], width: int, height: int,
                      flip: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """Pixels (B, J, 2) -> coordinates in the crop's heatmap (fh, fw) for boxes (B, 4); and the in-crop mask."""
    fh, fw = size
    x0, y0, x1, y1 = (box[:, i:i + 1] for i in range(4))
    u, v = uv[..., 0] / width, uv[..., 1] / height
    x = ((x1 - u) if flip else (u - x0)) / (x1 - x0).clamp(min=1e-6) * fw
    y = (v - y0) / (y1 - y0).clamp(min=1e-6) * fh
    inside = (x >= 0) & (x < fw) & (y >= 0) & (y < fh)
    return torch.stack([x, y], -1), inside


def compute_losses(out: dict, batch: dict, config: ModelConfig, focal: float, weights: dict | None = None,
                   pose_repr: str = "6d") -> dict[str, torch.Tensor]:
    """Loss terms and their weighted ``total``. ``out``: network outputs plus the body model's ``joints``;
    ``focal``: the network's focal length at the image resolution."""
    h, w = config.image_input
    fh, fw = config.feature_hw("body")
    to_hm = out["body_joints_img"].new_tensor([fw / w, fh / h])
    losses: dict[str, torch.Tensor] = {}
    if all(k in batch for k in POSE_KEYS):
        losses["pose"] = pose_loss(out, batch, pose_repr)
    for key in ("shape", "expr"):
        if key in batch:
            losses[key] = _l1(out[key], batch[key].to(out[key]))
    joints = out.get("joints")
    if joints is not None and "joints_cam" in batch:
        n = min(joints.shape[1], batch["joints_cam"].shape[1])
        gt = batch["joints_cam"][:, :n].to(joints)
        losses["joint_cam"] = _l1(relative_joints(joints[:, :n]), relative_joints(gt))
    if "joints_img" in batch:
        gt_uv = batch["joints_img"].to(out["body_joints_img"])
        valid = ((gt_uv[..., 0] >= 0) & (gt_uv[..., 0] < w) & (gt_uv[..., 1] >= 0) & (gt_uv[..., 1] < h))[..., None]
        if joints is not None:
            n = min(joints.shape[1], gt_uv.shape[1])
            proj = project_to_image(joints[:, :n], focal, h, w)
            losses["joint_proj"] = _l1(proj * to_hm, gt_uv[:, :n] * to_hm, valid[:, :n])
        if "joints_cam" in batch:
            losses["joint_img"] = joint_img_loss(out, batch, config)
    if "vertices_gt" in batch and "vertices" in out:  # the posed parameters' mesh, pelvis-centred (MPVPE's L1)
        pv, gv = out["vertices"], batch["vertices_gt"].to(out["vertices"])
        pp, gp = (relative_root(joints), relative_root(batch["joints_cam"].to(joints))) if joints is not None \
            else (pv.mean(1, keepdim=True), gv.mean(1, keepdim=True))
        losses["vertex"] = _l1(pv - pp, gv - gp)
    if "vertices" in batch and "vertices" in out:  # meshes without parameters (EHF, AGORA): centred L1
        pv, gv = out["vertices"], batch["vertices"].to(out["vertices"])
        losses["mesh"] = _l1(pv - pv.mean(1, keepdim=True), gv - gv.mean(1, keepdim=True))
    if "boxes" in batch:
        scale = out["boxes"].new_tensor([fw, fh, fw, fh])
        losses["box"] = _l1(out["boxes"] * scale, batch["boxes"].to(out["boxes"]) * scale)
    weights = LOSS_WEIGHTS if weights is None else weights
    losses["total"] = sum(weights.get(k, 1.0) * v for k, v in losses.items())
    return losses


def joint_img_loss(out: dict, batch: dict, config: ModelConfig) -> torch.Tensor:
    """PositionNet targets (Hand4Whole's ``joint_img``) for the body and both hand crops."""
    h, w = config.image_input
    fh, fw = config.feature_hw("body")
    hh, hw = config.feature_hw("hand")
    d = config.hm_depth
    pred_body = out["body_joints_img"]
    sets = joint_sets(batch["joints_cam"].shape[1] > 127)
    uv = batch["joints_img"].to(pred_body)
    cam = batch["joints_cam"].to(pred_body)
    body = list(sets.body)
    z = ((cam[:, body, 2] - cam[:, PELVIS:PELVIS + 1, 2]) / (BODY_3D_SIZE / 2) + 1) / 2 * d
    gt_body = torch.cat([uv[:, body] * uv.new_tensor([fw / w, fh / h]), z[..., None]], -1)
    in_body = ((gt_body[..., :2] >= 0) & (gt_body[..., :2] < gt_body.new_tensor([fw, fh]))).all(-1)
    in_body = in_body & (z >= 0) & (z < d)
    terms, masks = [(pred_body - gt_body).abs()], [in_body[..., None].expand(-1, -1, 3)]
    b = len(pred_body)
    boxes = out["boxes"].detach()
    for k, (ids, flip) in enumerate(((sets.lhand_all, True), (sets.rhand_all, False))):
        pred = out["hand_joints_img"][k * b:(k + 1) * b]
        ids = list(ids)
        xy, inside = _box_to_hand_crop(uv[:, ids[1:]], boxes[:, k], (hh, hw), w, h, flip)
        zh = ((cam[:, ids[1:], 2] - cam[:, ids[:1], 2]) / (HAND_3D_SIZE / 2) + 1) / 2 * d
        inside = inside & (zh >= 0) & (zh < d)
        terms.append((pred - torch.cat([xy, zh[..., None]], -1)).abs())
        masks.append(inside[..., None].expand(-1, -1, 3))
    diff, mask = torch.cat(terms, 1), torch.cat(masks, 1).to(pred_body.dtype)
    return (diff * mask).sum() / mask.sum().clamp(min=1.0)
