"""ResNet-style encoders (body, hand, face) built from :mod:`blocks`; stems stay full precision."""
from __future__ import annotations

from dataclasses import dataclass

from torch import nn

from .blocks import ResidualBlock
from .variants import BinarySpec


@dataclass(frozen=True)
class EncoderConfig:
    block: str  # "basic" | "bottleneck"
    layers: tuple[int, ...]  # blocks per stage
    widths: tuple[int, ...]  # stage widths (bottleneck output = 4x)
    stem: str = "imagenet"  # "imagenet": 7x7 s2 + maxpool (stride 4); "small": 3x3 s2 (stride 2)
    stem_width: int = 64
    # Bottleneck stride on the first 1x1 conv (original ResNet v1) instead of the 3x3 (torchvision's v1.5,
    # which Hand4Whole uses). Same parameters, fewer MACs; only used to explain the paper's OP count.
    stride_on_1x1: bool = False

    @property
    def out_channels(self) -> int:
        return self.widths[-1] * (4 if self.block == "bottleneck" else 1)

    @property
    def stride(self) -> int:
        return (4 if self.stem == "imagenet" else 2) * 2 ** (len(self.layers) - 1)


class ResNetEncoder(nn.Module):
    def __init__(self, cfg: EncoderConfig, spec: BinarySpec | None):
        super().__init__()
        if cfg.stem == "imagenet":
            self.stem = nn.Sequential(nn.Conv2d(3, cfg.stem_width, 7, 2, 3, bias=False), nn.BatchNorm2d(cfg.stem_width),
                                      nn.ReLU(inplace=True), nn.MaxPool2d(3, 2, 1))
        elif cfg.stem == "small":
            self.stem = nn.Sequential(nn.Conv2d(3, cfg.stem_width, 3, 2, 1, bias=False), nn.BatchNorm2d(cfg.stem_width),
                                      nn.ReLU(inplace=True))
        else:
            raise ValueError(f"unknown stem {cfg.stem!r}")
        blocks, cin = [], cfg.stem_width
        for stage, (n, width) in enumerate(zip(cfg.layers, cfg.widths)):
            for i in range(n):
                stride = 2 if (i == 0 and stage > 0) else 1
                block = ResidualBlock(spec, cfg.block, cin, width, stride, cfg.stride_on_1x1)
                blocks.append(block)
                cin = block.out_channels
        self.blocks = nn.Sequential(*blocks)
        self.out_channels = cin

    def forward(self, x):
        return self.blocks(self.stem(x))
