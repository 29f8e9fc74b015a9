"""The whole-body network (Hand4Whole's pipeline) with binarized encoders/BoxNet per variant.

Pipeline: full image -> body crop (resize) -> body encoder -> PositionNet (body joints) -> BoxNet (hand and
face boxes) -> hand crops (left flipped) -> hand encoder -> PositionNet/RotationNet (hand pose) -> face crop
-> face encoder -> FaceRegressor -> body RotationNet (root/body pose, shape, camera) -> SMPL-X layer.
"""
from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

from ..body.smplx_layer import BodyModel
from ..errors import UsageError
from .configs import ModelConfig, check_variant, get_config
from .encoder import ResNetEncoder
from .geometry import crop_resize, rot6d_to_axis_angle
from .heads import BodyRotationNet, BoxNet, FaceRegressor, HandRotationNet, PositionNet
from .variants import VARIANTS

# Hand joint order (PositionNet, 20 per hand): 5 fingers x (MCP, PIP, DIP, tip), thumb first.
HAND_MCP_INDICES = (4, 8, 12, 16)  # index, middle, ring, pinky MCP: the joints the body RotationNet samples
BOX_EXTENSION = {"hand": 2.0, "face": 1.5}


class WholeBodyNet(nn.Module):
    def __init__(self, config: ModelConfig, variant: str, body_model: nn.Module | None = None):
        super().__init__()
        self.config, self.variant = config, variant
        spec = VARIANTS[variant]
        c = config
        self.body_encoder = ResNetEncoder(c.body_encoder, spec)
        self.hand_encoder = ResNetEncoder(c.hand_encoder, spec)
        self.face_encoder = ResNetEncoder(c.face_encoder, spec)
        fb, fh, ff = self.body_encoder.out_channels, self.hand_encoder.out_channels, self.face_encoder.out_channels
        self.body_position_net = PositionNet(fb, c.body_joints, c.hm_depth)
        self.hand_position_net = PositionNet(fh, c.hand_joints, c.hm_depth)
        self.body_rotation_net = BodyRotationNet(fb, fh, c.body_joints, c.mcp_joints, c.rot_dim)
        self.hand_rotation_net = HandRotationNet(fh, c.hand_joints, c.rot_dim)
        self.face_regressor = FaceRegressor(ff)
        self.box_net = BoxNet(spec, fb, c.body_joints, c.hm_depth, c.box_widths)
        self.body_model = body_model
        # Hand4Whole's camera: focal 5000 px at a 256-px-high body crop, 2.5 m 3D extent.
        self.focal = 5000.0 * c.body_input[0] / 256
        self.camera_3d_size = 2.5

    def check_input(self, img: torch.Tensor) -> None:
        h, w = self.config.image_input
        if img.dim() != 4 or img.shape[1] != 3 or tuple(img.shape[2:]) != (h, w):
            raise UsageError(f"config {self.config.name!r} expects images of shape (B, 3, {h}, {w}), "
                             f"got {tuple(img.shape)}")

    def boxes(self, centers: torch.Tensor, sizes: torch.Tensor) -> torch.Tensor:
        """Square boxes (B, 3, 4) normalized (x0, y0, x1, y1), extended around the predicted centres."""
        fh, fw = self.config.feature_hw("body")
        side = F.softplus(sizes).amax(-1) + 0.5  # feature pixels
        ext = torch.tensor([BOX_EXTENSION["hand"]] * 2 + [BOX_EXTENSION["face"]], device=sizes.device)
        half = side * ext / 2
        x0 = (centers[..., 0] - half) / fw
        x1 = (centers[..., 0] + half) / fw
        # Keep the box square in image pixels.
        aspect = (fw / fh) * (self.config.image_input[0] / self.config.image_input[1])
        y0 = (centers[..., 1] - half * aspect) / fh
        y1 = (centers[..., 1] + half * aspect) / fh
        return torch.stack([x0, y0, x1, y1], -1)

    def camera_translation(self, cam: torch.Tensor) -> torch.Tensor:
        h, w = self.config.body_input
        k = math.sqrt(self.focal * self.focal * self.camera_3d_size ** 2 / (h * w))
        return torch.cat([cam[:, :2], k * torch.sigmoid(cam[:, 2:])], 1)

    def forward(self, img: torch.Tensor) -> dict[str, torch.Tensor]:
        """``img``: (B, 3, H, W) RGB in [0, 1] at ``config.image_input``."""
        self.check_input(img)
        c, b = self.config, img.shape[0]
        body_img = F.interpolate(img, size=c.body_input, mode="bilinear", align_corners=False)
        body_feat = self.body_encoder(body_img)
        body_hm, body_joints = self.body_position_net(body_feat)
        centers, sizes = self.box_net(body_feat, body_hm)
        boxes = self.boxes(centers, sizes)

        lhand = crop_resize(img, boxes[:, 0].detach(), c.hand_input, flip=True)
        rhand = crop_resize(img, boxes[:, 1].detach(), c.hand_input)
        hand_feat = self.hand_encoder(torch.cat([lhand, rhand]))
        _, hand_joints = self.hand_position_net(hand_feat)
        hand_pose = rot6d_to_axis_angle(self.hand_rotation_net(hand_feat, hand_joints).view(2 * b, -1, 6))
        lhand_pose = hand_pose[:b] * torch.tensor([1.0, -1.0, -1.0], device=img.device)  # un-mirror
        rhand_pose = hand_pose[b:]

        face = crop_resize(img, boxes[:, 2].detach(), c.face_input)
        expr, jaw6d = self.face_regressor(self.face_encoder(face))

        mcp = list(HAND_MCP_INDICES)
        root6d, body6d, shape, cam = self.body_rotation_net(body_feat, body_joints, hand_feat[:b], hand_joints[:b, mcp],
                                                            hand_feat[b:], hand_joints[b:, mcp])
        out = {
            "root_pose": rot6d_to_axis_angle(root6d),
            "body_pose": rot6d_to_axis_angle(body6d.view(b, -1, 6)).flatten(1),
            "lhand_pose": lhand_pose.flatten(1),
            "rhand_pose": rhand_pose.flatten(1),
            "jaw_pose": rot6d_to_axis_angle(jaw6d),
            "shape": shape,
            "expr": expr,
            "cam_trans": self.camera_translation(cam),
            "body_joints_img": body_joints,
            "hand_joints_img": hand_joints,
            "boxes": boxes,
        }
        if self.body_model is not None:
            mesh = self.body_model(**{k: out[k] for k in ("root_pose", "body_pose", "lhand_pose", "rhand_pose",
                                                          "jaw_pose", "shape", "expr", "cam_trans")})
            out["vertices"], out["joints"] = mesh.vertices, mesh.joints
        return out


def build_model(config: str | ModelConfig = "tiny", variant: str = "bidrn", body_model: nn.Module | None = None,
                with_body_model: bool = True) -> WholeBodyNet:
    """Build a network; with ``with_body_model`` and no ``body_model``, the default SMPL-X layer is loaded
    (the real SMPL-X file when ``BIDRN_HW_SMPLX`` points at one, else the generated stand-in)."""
    cfg = get_config(config) if isinstance(config, str) else config
    check_variant(variant)
    if body_model is None and with_body_model:
        body_model = BodyModel()
    return WholeBodyNet(cfg, variant, body_model)
