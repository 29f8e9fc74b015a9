"""Model configurations: ``paper`` (the paper's topology and sizes), ``edge`` and ``tiny``."""
from __future__ import annotations

from dataclasses import dataclass

from ..errors import UsageError
from .encoder import EncoderConfig
from .variants import VARIANTS


@dataclass(frozen=True)
class ModelConfig:
    name: str
    image_input: tuple[int, int]  # full image (H, W) the crops come from
    body_input: tuple[int, int]
    hand_input: tuple[int, int]
    face_input: tuple[int, int]
    body_encoder: EncoderConfig
    hand_encoder: EncoderConfig
    face_encoder: EncoderConfig
    box_widths: tuple[int, ...] = (256, 256, 256)
    rot_dim: int = 512  # RotationNet's 1x1 conv width
    hm_depth: int = 8
    body_joints: int = 25
    hand_joints: int = 20
    mcp_joints: int = 4  # hand MCP joints fed to the body RotationNet (per hand)
    target: str = ""  # FPGA budget the config is meant for

    def feature_hw(self, part: str) -> tuple[int, int]:
        enc = {"body": self.body_encoder, "hand": self.hand_encoder, "face": self.face_encoder}[part]
        h, w = {"body": self.body_input, "hand": self.hand_input, "face": self.face_input}[part]
        return h // enc.stride, w // enc.stride


RESNET50 = EncoderConfig("bottleneck", (3, 4, 6, 3), (64, 128, 256, 512))
RESNET18 = EncoderConfig("basic", (2, 2, 2, 2), (64, 128, 256, 512))

CONFIGS: dict[str, ModelConfig] = {
    # Hand4Whole / BiDRN as published: body ResNet-50 at 256x192, hands ResNet-50 at 256x256, face ResNet-18.
    "paper": ModelConfig("paper", (512, 384), (256, 192), (256, 256), (192, 192), RESNET50, RESNET50, RESNET18,
                         target="xcu250"),
    # Same blocks, quarter width, basic blocks, half input: weights fit on a ZCU104.
    "edge": ModelConfig("edge", (256, 192), (128, 96), (128, 128), (96, 96),
                        EncoderConfig("basic", (2, 2, 2, 2), (32, 64, 128, 256), stem_width=32),
                        EncoderConfig("basic", (1, 1, 1, 1), (32, 64, 128, 256), stem_width=32),
                        EncoderConfig("basic", (1, 1, 1, 1), (32, 64, 128, 256), stem_width=32),
                        box_widths=(128, 128), rot_dim=128, target="xczu7ev"),
    # A few BiDRBs on a small input: the whole accelerator is simulated in CI and fits an ECP5-85F.
    "tiny": ModelConfig("tiny", (128, 96), (64, 48), (32, 32), (32, 32),
                        EncoderConfig("basic", (1, 1), (16, 32), stem="small", stem_width=16),
                        EncoderConfig("basic", (1, 1), (16, 32), stem="small", stem_width=16),
                        EncoderConfig("basic", (1, 1), (16, 32), stem="small", stem_width=16),
                        box_widths=(32,), rot_dim=32, hm_depth=8, target="ecp5-85k"),
}


def get_config(name: str) -> ModelConfig:
    if name not in CONFIGS:
        raise UsageError(f"unknown config {name!r}; choose one of {', '.join(CONFIGS)}")
    return CONFIGS[name]


def check_variant(name: str) -> str:
    if name not in VARIANTS:
        raise UsageError(f"unknown variant {name!r}; choose one of {', '.join(VARIANTS)}")
    return name
