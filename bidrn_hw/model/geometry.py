"""Differentiable geometry used by the heads: soft-argmax, joint feature sampling, crops, rotations."""
from __future__ import annotations

import torch
from torch.nn import functional as F


def soft_argmax_2d(heatmap: torch.Tensor) -> torch.Tensor:
    """(B, J, H, W) -> (B, J, 2) expected (x, y) in heatmap pixels."""
    b, j, h, w = heatmap.shape
    prob = F.softmax(heatmap.reshape(b, j, h * w), 2).reshape(b, j, h, w)
    xs = torch.arange(w, dtype=prob.dtype, device=prob.device)
    ys = torch.arange(h, dtype=prob.dtype, device=prob.device)
    return torch.stack([(prob.sum(2) * xs).sum(-1), (prob.sum(3) * ys).sum(-1)], -1)


def soft_argmax_3d(heatmap: torch.Tensor) -> torch.Tensor:
    """(B, J, D, H, W) -> (B, J, 3) expected (x, y, z) in heatmap voxels."""
    b, j, d, h, w = heatmap.shape
    prob = F.softmax(heatmap.reshape(b, j, -1), 2).reshape(b, j, d, h, w)
    xs = torch.arange(w, dtype=prob.dtype, device=prob.device)
    ys = torch.arange(h, dtype=prob.dtype, device=prob.device)
    zs = torch.arange(d, dtype=prob.dtype, device=prob.device)
    x = (prob.sum((2, 3)) * xs).sum(-1)
    y = (prob.sum((2, 4)) * ys).sum(-1)
    z = (prob.sum((3, 4)) * zs).sum(-1)
    return torch.stack([x, y, z], -1)


def sample_joint_features(feat: torch.Tensor, xy: torch.Tensor) -> torch.Tensor:
    """Bilinear features at (x, y) in feature pixels: (B, C, H, W), (B, J, 2) -> (B, J, C)."""
    _, _, h, w = feat.shape
    gx = xy[..., 0] / max(w - 1, 1) * 2 - 1
    gy = xy[..., 1] / max(h - 1, 1) * 2 - 1
    grid = torch.stack([gx, gy], -1)[:, :, None, :]
    return F.grid_sample(feat, grid, align_corners=True)[:, :, :, 0].permute(0, 2, 1)


def crop_resize(img: torch.Tensor, boxes: torch.Tensor, out_hw: tuple[int, int], flip: bool = False) -> torch.Tensor:
    """Bilinear crops of ``img`` (B, C, H, W) at ``boxes`` (B, 4) = normalized (x0, y0, x1, y1) in [0, 1].

    ``flip`` mirrors each crop horizontally (Hand4Whole flips the left hand to look like a right hand).
    """
    b = img.shape[0]
    x0, y0, x1, y1 = boxes.unbind(-1)
    cx, cy = (x0 + x1) - 1, (y0 + y1) - 1  # centres in [-1, 1]
    sx, sy = (x1 - x0), (y1 - y0)
    theta = torch.zeros(b, 2, 3, dtype=img.dtype, device=img.device)
    theta[:, 0, 0] = -sx if flip else sx
    theta[:, 0, 2] = cx
    theta[:, 1, 1] = sy
    theta[:, 1, 2] = cy
    grid = F.affine_grid(theta, (b, img.shape[1], *out_hw), align_corners=False)
    return F.grid_sample(img, grid, align_corners=False)


def rot6d_to_matrix(x: torch.Tensor) -> torch.Tensor:
    """(…, 6) -> (…, 3, 3) by Gram-Schmidt (Zhou et al.)."""
    a1, a2 = x[..., :3], x[..., 3:]
    b1 = F.normalize(a1, dim=-1)
    b2 = F.normalize(a2 - (b1 * a2).sum(-1, keepdim=True) * b1, dim=-1)
    b3 = torch.cross(b1, b2, dim=-1)
    return torch.stack([b1, b2, b3], -1)


def matrix_to_axis_angle(m: torch.Tensor) -> torch.Tensor:
    """(…, 3, 3) rotation matrices -> (…, 3) axis-angle, via quaternions (stable near 0 and pi)."""
    m00, m11, m22 = m[..., 0, 0], m[..., 1, 1], m[..., 2, 2]
    q_abs = torch.sqrt(torch.clamp(torch.stack([1 + m00 + m11 + m22, 1 + m00 - m11 - m22,
                                                1 - m00 + m11 - m22, 1 - m00 - m11 + m22], -1), min=1e-8))
    r = m
    cands = torch.stack([
        torch.stack([q_abs[..., 0] ** 2, r[..., 2, 1] - r[..., 1, 2], r[..., 0, 2] - r[..., 2, 0], r[..., 1, 0] - r[..., 0, 1]], -1),
        torch.stack([r[..., 2, 1] - r[..., 1, 2], q_abs[..., 1] ** 2, r[..., 1, 0] + r[..., 0, 1], r[..., 0, 2] + r[..., 2, 0]], -1),
        torch.stack([r[..., 0, 2] - r[..., 2, 0], r[..., 1, 0] + r[..., 0, 1], q_abs[..., 2] ** 2, r[..., 2, 1] + r[..., 1, 2]], -1),
        torch.stack([r[..., 1, 0] - r[..., 0, 1], r[..., 2, 0] + r[..., 0, 2], r[..., 2, 1] + r[..., 1, 2], q_abs[..., 3] ** 2], -1),
    ], -2) / (2 * q_abs[..., None])
    best = q_abs.argmax(-1)
    quat = torch.gather(cands, -2, best[..., None, None].expand(*best.shape, 1, 4)).squeeze(-2)
    quat = quat * torch.where(quat[..., :1] < 0, -1.0, 1.0)  # w >= 0
    w, xyz = quat[..., 0], quat[..., 1:]
    sin_half = xyz.norm(dim=-1)
    angle = 2 * torch.atan2(sin_half, w)
    scale = torch.where(sin_half > 1e-6, angle / sin_half.clamp(min=1e-12), 2.0 + angle ** 2 / 12)
    return xyz * scale[..., None]


def rot6d_to_axis_angle(x: torch.Tensor) -> torch.Tensor:
    return matrix_to_axis_angle(rot6d_to_matrix(x))
