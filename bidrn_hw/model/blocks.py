"""Residual blocks: full-precision ResNet blocks (Hand4Whole) and binarized blocks, BiDRB among them.

A binarized *unit* is one binarized convolution with its BN, its Local Convolution Residual (LCR) and its
post-activation::

    y = post( BN( conv_b( sign(x + b) ) ) + lcr(x) )      (ReActNet order; the baselines)
    y = post( BN( conv_b( sign(x + b) ) ) ) + lcr(x)      (BiDRN: activation on the branch, see variants.py)

BiDRB = units with LCR + a Block Residual (BR) around the whole block. The LCR keeps a full-precision path
around every binarized conv; where the conv changes the shape, one of four parameter-free variants keeps it:

* **down-scale** (stride 2, same channels): the shortcut is a 2x2 average pool, so the full-precision
  signal reaches the lower resolution unchanged up to averaging.
* **down-sample** (channels doubled, ``C -> 2C``): the conv is split into two binarized ``C -> C`` convs on
  the same input, each with its own identity (or pooled) shortcut; their outputs are concatenated, so both
  halves of the output carry the full-precision input.
* **fusion-up** (channels multiplied by ``k > 2``, e.g. a bottleneck's 1x1 ``C -> 4C``): the shortcut
  repeats the input channels ``k`` times.
* **fusion-down** (channels divided by ``k``, e.g. a bottleneck's 1x1 ``4C -> C``): the shortcut averages
  groups of ``k`` consecutive input channels.

The BR is the identity, or where the block changes shape, a full-precision 1x1 conv (stride 2 where it
downsamples) + BN, so the block's input also reaches its output at full precision. Baselines use the same
units with less of this (see ``variants.py``): BNN/XNOR/DoReFa have no LCR and a binarized 1x1 downsample.
"""
from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from .layers import BinaryConv2d
from .quant import RPReLU
from .variants import BinarySpec


class ChannelRepeat(nn.Module):
    """Fusion-up shortcut: each input channel repeated ``k`` times (channel c -> outputs c, c+C, ...)."""

    def __init__(self, k: int):
        super().__init__()
        self.k = k

    def forward(self, x):
        return x.repeat(1, self.k, 1, 1)


class ChannelGroupMean(nn.Module):
    """Fusion-down shortcut: mean of ``k`` consecutive input channels."""

    def __init__(self, k: int):
        super().__init__()
        self.k = k

    def forward(self, x):
        n, c, h, w = x.shape
        return x.view(n, c // self.k, self.k, h, w).mean(2)


def lcr_shortcut(spec: BinarySpec, cin: int, cout: int, stride: int) -> nn.Module | None:
    """The LCR path for a unit ``cin -> cout`` at ``stride``, or None where the variant has none."""
    if spec.lcr == "none":
        return None
    spatial = nn.AvgPool2d(2) if stride == 2 else nn.Identity()
    if cin == cout:
        return spatial
    if spec.lcr != "all":
        return None
    if cout % cin == 0:
        return nn.Sequential(spatial, ChannelRepeat(cout // cin))
    if cin % cout == 0:
        return nn.Sequential(spatial, ChannelGroupMean(cin // cout))
    return None


class BinaryUnit(nn.Module):
    """One binarized conv + BN + LCR + post-activation (RPReLU or Hardtanh)."""

    def __init__(self, spec: BinarySpec, cin: int, cout: int, kernel: int, stride: int = 1):
        super().__init__()
        self.conv = BinaryConv2d(spec, cin, cout, kernel, stride, padding=kernel // 2)
        self.bn = nn.BatchNorm2d(cout)
        self.lcr = lcr_shortcut(spec, cin, cout, stride)
        self.post = RPReLU(cout) if spec.rprelu else nn.Hardtanh()
        self.act_before_add = spec.act_before_add

    def forward(self, x):
        y = self.bn(self.conv(x))
        if self.act_before_add:
            y = self.post(y)
            return y if self.lcr is None else y + self.lcr(x)
        if self.lcr is not None:
            y = y + self.lcr(x)
        return self.post(y)


class DownsampleUnit(nn.Module):
    """Down-sample LCR variant: ``C -> 2C`` as two binarized ``C -> C`` units on the same input."""

    def __init__(self, spec: BinarySpec, cin: int, kernel: int, stride: int):
        super().__init__()
        self.first = BinaryUnit(spec, cin, cin, kernel, stride)
        self.second = BinaryUnit(spec, cin, cin, kernel, stride)
        # "the same input": both convs see one binarized input (one learnable shift, one sign)
        self.second.conv.binarize = self.first.conv.binarize

    def forward(self, x):
        return torch.cat([self.first(x), self.second(x)], 1)


def make_unit(spec: BinarySpec, cin: int, cout: int, kernel: int, stride: int = 1) -> nn.Module:
    if spec.lcr in ("duplicate", "all") and cout == 2 * cin:
        return DownsampleUnit(spec, cin, kernel, stride)
    return BinaryUnit(spec, cin, cout, kernel, stride)


def block_shortcut(spec: BinarySpec | None, cin: int, cout: int, stride: int) -> nn.Module:
    """BR: identity, or 1x1 conv + BN where the block changes shape (float in fp and BiDRN)."""
    if cin == cout and stride == 1:
        return nn.Identity()
    if spec is None or spec.float_downsample:
        conv = nn.Conv2d(cin, cout, 1, stride=stride, bias=False)
    else:
        conv = BinaryConv2d(spec, cin, cout, 1, stride)
    return nn.Sequential(conv, nn.BatchNorm2d(cout))


class ResidualBlock(nn.Module):
    """ResNet basic (two 3x3) or bottleneck (1x1, 3x3, 1x1 with expansion 4) block.

    ``spec=None`` gives torchvision's full-precision block (conv-BN-ReLU, ReLU after the add); otherwise
    binarized units with the variant's LCR, and the BR around the block.
    """

    def __init__(self, spec: BinarySpec | None, kind: str, cin: int, width: int, stride: int,
                 stride_on_1x1: bool = False):
        super().__init__()
        self.spec = spec
        if kind == "basic":
            shapes = [(cin, width, 3, stride), (width, width, 3, 1)]
            cout = width
        elif kind == "bottleneck":
            cout = width * 4
            s1, s3 = (stride, 1) if stride_on_1x1 else (1, stride)
            shapes = [(cin, width, 1, s1), (width, width, 3, s3), (width, cout, 1, 1)]
        else:
            raise ValueError(f"unknown block kind {kind!r}")
        self.out_channels = cout
        if spec is None:
            layers = []
            for i, (a, b, k, s) in enumerate(shapes):
                layers += [nn.Conv2d(a, b, k, s, k // 2, bias=False), nn.BatchNorm2d(b)]
                if i < len(shapes) - 1:
                    layers.append(nn.ReLU(inplace=True))
            self.body = nn.Sequential(*layers)
        else:
            self.body = nn.Sequential(*[make_unit(spec, a, b, k, s) for a, b, k, s in shapes])
        self.shortcut = block_shortcut(spec, cin, cout, stride)

    def forward(self, x):
        y = self.body(x) + self.shortcut(x)
        return F.relu(y) if self.spec is None else y
