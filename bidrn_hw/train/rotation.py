"""Rotation helpers shared by the data generator and the losses (torch and numpy, batched)."""
from __future__ import annotations

import numpy as np
import torch


def axis_angle_to_matrix(aa: torch.Tensor) -> torch.Tensor:
    """(…, 3) axis-angle -> (…, 3, 3) by Rodrigues' formula, smooth at zero (Taylor terms below 1e-4 rad)."""
    theta2 = (aa * aa).sum(-1, keepdim=True)[..., None]  # (…, 1, 1)
    theta = torch.sqrt(theta2.clamp(min=1e-12))
    small = theta2 < 1e-8
    a = torch.where(small, 1 - theta2 / 6, torch.sin(theta) / theta)
    b = torch.where(small, 0.5 - theta2 / 24, (1 - torch.cos(theta)) / theta2.clamp(min=1e-12))
    x, y, z = aa.unbind(-1)
    zero = torch.zeros_like(x)
    k = torch.stack([zero, -z, y, z, zero, -x, -y, x, zero], -1).reshape(*aa.shape[:-1], 3, 3)
    eye = torch.eye(3, dtype=aa.dtype, device=aa.device).expand_as(k)
    return eye + a * k + b * (k @ k)


def matrix_to_rot6d(m: torch.Tensor) -> torch.Tensor:
    """(…, 3, 3) -> (…, 6): the first two columns (Zhou et al.'s continuous representation)."""
    return torch.cat([m[..., :, 0], m[..., :, 1]], -1)


def np_axis_matrix(axis: int, angle: np.ndarray) -> np.ndarray:
    """Rotations about coordinate axis ``axis`` (0 x, 1 y, 2 z) by ``angle`` (N,) -> (N, 3, 3)."""
    c, s = np.cos(angle), np.sin(angle)
    m = np.zeros((len(angle), 3, 3))
    i, j = [(1, 2), (0, 2), (0, 1)][axis]
    m[:, axis, axis] = 1
    m[:, i, i], m[:, j, j] = c, c
    sign = -1 if axis == 1 else 1  # R_y has +sin in (0, 2)
    m[:, i, j], m[:, j, i] = -s * sign, s * sign
    return m


def np_euler_xyz(angles: np.ndarray) -> np.ndarray:
    """(N, 3) intrinsic x-y-z Euler angles -> (N, 3, 3) = Rx @ Ry @ Rz."""
    return np_axis_matrix(0, angles[:, 0]) @ np_axis_matrix(1, angles[:, 1]) @ np_axis_matrix(2, angles[:, 2])


def np_matrix_to_axis_angle(m: np.ndarray) -> np.ndarray:
    """(N, 3, 3) -> (N, 3) axis-angle; angles in [0, pi]; uses the symmetric part near pi."""
    cos = np.clip((np.trace(m, axis1=1, axis2=2) - 1) / 2, -1.0, 1.0)
    angle = np.arccos(cos)
    vec = np.stack([m[:, 2, 1] - m[:, 1, 2], m[:, 0, 2] - m[:, 2, 0], m[:, 1, 0] - m[:, 0, 1]], -1)
    sin = np.sin(angle)
    out = np.zeros((len(m), 3))
    regular = sin > 1e-4
    out[regular] = vec[regular] * (angle[regular] / (2 * sin[regular]))[:, None]
    tiny = (~regular) & (angle < 1.0)
    out[tiny] = vec[tiny] / 2  # sin(x) ~ x
    near_pi = (~regular) & (angle >= 1.0)
    for i in np.flatnonzero(near_pi):  # axis from the largest column of (R + I) / 2
        b = (m[i] + np.eye(3)) / 2
        col = b[:, np.argmax(np.diag(b))]
        out[i] = col / np.linalg.norm(col) * angle[i]
    return out
