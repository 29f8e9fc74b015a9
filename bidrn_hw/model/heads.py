"""Hand4Whole's heads: PositionNet, RotationNet (body, hand), FaceRegressor and BoxNet.

Sizes follow Hand4Whole (see docs/table1.md): with the paper config they give its exact parameter count.
BoxNet's deconvolutions and hidden linear layers are binarized in BiDRN (``spec.binary_boxnet``).
"""
from __future__ import annotations

import torch
from torch import nn

from .geometry import sample_joint_features, soft_argmax_2d, soft_argmax_3d
from .layers import BinaryConvTranspose2d, BinaryLinear
from .quant import RPReLU
from .variants import BinarySpec


def conv_bn_relu(cin: int, cout: int) -> nn.Sequential:
    """Hand4Whole's make_conv_layers: 1x1 conv (with bias) + BN + ReLU."""
    return nn.Sequential(nn.Conv2d(cin, cout, 1), nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


class PositionNet(nn.Module):
    """1x1 conv to joints x depth heatmaps, 3D soft-argmax -> (B, J, 3) in heatmap voxels."""

    def __init__(self, feat_dim: int, joint_num: int, depth: int):
        super().__init__()
        self.joint_num, self.depth = joint_num, depth
        self.conv = nn.Conv2d(feat_dim, joint_num * depth, 1)

    def forward(self, feat):
        b, _, h, w = feat.shape
        hm = self.conv(feat).view(b, self.joint_num, self.depth, h, w)
        return hm, soft_argmax_3d(hm)


def centred_coords(joints: torch.Tensor) -> torch.Tensor:
    """PositionNet's (B, J, 3) heatmap coordinates as the RotationNets read them: centred on their mean over
    the joints (still in heatmap voxels, so they spread over a few units, like the BN-normalized features
    beside them).

    Raw coordinates (0..W, 0..H, 0..D) enter the linear layer with a large offset common to all joints that
    Adam's per-weight steps do not remove, and the heads learned nothing from them in hundreds of steps; a
    linear layer fed the centred ground-truth 2D joints fits the body pose within ~500 Adam steps
    (docs/training.md). A fixed reparametrization: the layer's weights and the parameter count are unchanged."""
    return joints - joints.mean(1, keepdim=True)


class BodyRotationNet(nn.Module):
    """Root/body pose from joint-sampled features of the body and the hands' MCP joints; shape and camera."""

    def __init__(self, feat_dim: int, hand_feat_dim: int, joint_num: int, mcp_num: int, rot_dim: int,
                 body_pose_joints: int = 21, shape_dim: int = 10):
        super().__init__()
        self.body_conv = conv_bn_relu(feat_dim, rot_dim)
        self.lhand_conv = conv_bn_relu(hand_feat_dim, rot_dim)
        self.rhand_conv = conv_bn_relu(hand_feat_dim, rot_dim)
        fin = (joint_num + 2 * mcp_num) * (rot_dim + 3)
        self.root_pose_out = nn.Linear(fin, 6)
        self.body_pose_out = nn.Linear(fin, body_pose_joints * 6)
        self.shape_out = nn.Linear(feat_dim, shape_dim)
        self.cam_out = nn.Linear(feat_dim, 3)

    def forward(self, feat, joints, lhand_feat, lhand_joints, rhand_feat, rhand_joints):
        pooled = feat.mean((2, 3))
        parts = []
        for conv, f, j in ((self.body_conv, feat, joints), (self.lhand_conv, lhand_feat, lhand_joints),
                           (self.rhand_conv, rhand_feat, rhand_joints)):
            coords = centred_coords(j)
            parts.append(torch.cat([sample_joint_features(conv(f), j[..., :2]), coords], 2))
        x = torch.cat(parts, 1).flatten(1)
        return self.root_pose_out(x), self.body_pose_out(x), self.shape_out(pooled), self.cam_out(pooled)


class HandRotationNet(nn.Module):
    def __init__(self, feat_dim: int, joint_num: int, rot_dim: int, hand_pose_joints: int = 15):
        super().__init__()
        self.hand_conv = conv_bn_relu(feat_dim, rot_dim)
        self.hand_pose_out = nn.Linear(joint_num * (rot_dim + 3), hand_pose_joints * 6)

    def forward(self, feat, joints):
        coords = centred_coords(joints)
        x = torch.cat([sample_joint_features(self.hand_conv(feat), joints[..., :2]), coords], 2)
        return self.hand_pose_out(x.flatten(1))


class FaceRegressor(nn.Module):
    def __init__(self, feat_dim: int, expr_dim: int = 10):
        super().__init__()
        self.expr_out = nn.Linear(feat_dim, expr_dim)
        self.jaw_pose_out = nn.Linear(feat_dim, 6)

    def forward(self, feat):
        pooled = feat.mean((2, 3))
        return self.expr_out(pooled), self.jaw_pose_out(pooled)


class DeconvUnit(nn.Module):
    """BoxNet upsampling step: ConvTranspose k4 s2 p1 + BN + ReLU (fp), or binarized with LCR + RPReLU.

    The binarized unit's LCR is a nearest 2x upsample of its input (parameter-free) when the channels
    match, and a full-precision 1x1 conv + upsample where they do not (BoxNet's first deconv, whose input is
    the concatenated feature + heatmaps).
    """

    def __init__(self, spec: BinarySpec | None, cin: int, cout: int):
        super().__init__()
        self.binary = spec is not None and spec.binary_boxnet
        if self.binary:
            self.deconv = BinaryConvTranspose2d(spec, cin, cout)
            self.bn = nn.BatchNorm2d(cout)
            proj = nn.Identity() if cin == cout else nn.Conv2d(cin, cout, 1, bias=False)
            self.lcr = nn.Sequential(proj, nn.Upsample(scale_factor=2, mode="nearest"))
            self.post = RPReLU(cout)
        else:
            self.deconv = nn.ConvTranspose2d(cin, cout, 4, 2, 1, bias=False)
            self.bn = nn.BatchNorm2d(cout)
            self.post = nn.ReLU(inplace=True)

    def forward(self, x):
        y = self.bn(self.deconv(x))
        if self.binary:
            y = y + self.lcr(x)
        return self.post(y)


class SizeMLP(nn.Module):
    """Linear hidden -> hidden -> 2 (box width/height); the hidden layer is binarized in BiDRN."""

    def __init__(self, spec: BinarySpec | None, dim: int):
        super().__init__()
        if spec is not None and spec.binary_boxnet:
            self.hidden = nn.Sequential(BinaryLinear(spec, dim, dim), nn.BatchNorm1d(dim, affine=False), RPReLU(dim))
        else:
            self.hidden = nn.Sequential(nn.Linear(dim, dim), nn.ReLU(inplace=True))
        self.out = nn.Linear(dim, 2)

    def forward(self, x):
        return self.out(self.hidden(x))


class BoxNet(nn.Module):
    """Hand and face boxes from the body feature + body heatmaps: deconvs, centre heatmaps, size MLPs."""

    def __init__(self, spec: BinarySpec | None, feat_dim: int, joint_num: int, depth: int, widths: tuple[int, ...]):
        super().__init__()
        dims = [feat_dim + joint_num * depth, *widths]
        self.deconv = nn.Sequential(*[DeconvUnit(spec, a, b) for a, b in zip(dims[:-1], dims[1:])])
        self.upscale = 2 ** len(widths)
        self.bbox_center = nn.Conv2d(widths[-1], 3, 1)
        self.lhand_size = SizeMLP(spec, widths[-1])
        self.rhand_size = SizeMLP(spec, widths[-1])
        self.face_size = SizeMLP(spec, widths[-1])

    def forward(self, feat, joint_hm):
        b, j, d, h, w = joint_hm.shape
        x = self.deconv(torch.cat([feat, joint_hm.reshape(b, j * d, h, w)], 1))
        centers = soft_argmax_2d(self.bbox_center(x))  # (B, 3, 2) in deconv pixels
        sizes = []
        for i, mlp in enumerate((self.lhand_size, self.rhand_size, self.face_size)):
            sizes.append(mlp(sample_joint_features(x, centers[:, i:i + 1].detach())[:, 0]))
        # centres and sizes in the body feature's pixel units
        return centers / self.upscale, torch.stack(sizes, 1)
