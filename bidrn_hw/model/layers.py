"""Binarized layers: activation binarizer + Brevitas conv/deconv/linear with 1-bit weights.

Every binarized layer carries ``is_binary = True`` so the counter can split binary from float MACs.
"""
from __future__ import annotations

from brevitas.nn import QuantConv2d, QuantConvTranspose2d, QuantLinear
from torch import nn

from . import quant
from .variants import BinarySpec

_WEIGHT_QUANT = {
    "none": quant.BinaryWeightUnscaled,
    "tensor": quant.BinaryWeightPerTensorMean,
    "channel": quant.BinaryWeightPerChannelMean,
}


def activation_binarizer(spec: BinarySpec, channels: int) -> nn.Module:
    """[learnable shift ->] Hardtanh -> sign (or DoReFa's {0,1})."""
    act = quant.DorefaActivation() if spec.act == "dorefa" else quant.SignActivation(spec.approx_sign)
    if spec.learnable_bias:
        return nn.Sequential(quant.LearnableBias(channels), act)
    return act


class BinaryConv2d(nn.Module):
    """sign(x) * sign(W) convolution (bias-free; BN follows)."""

    is_binary = True

    def __init__(self, spec: BinarySpec, cin: int, cout: int, kernel: int, stride: int = 1, padding: int = 0):
        super().__init__()
        self.binarize = activation_binarizer(spec, cin)
        # Pad the sign output with -1 (docs/architecture.md, "Hardware numerics"): done explicitly so the padded
        # value is a bipolar value.
        self.pad = nn.ConstantPad2d(padding, -1.0 if spec.act == "sign" else 0.0) if padding else nn.Identity()
        self.conv = QuantConv2d(cin, cout, kernel, stride=stride, padding=0, bias=False,
                                weight_quant=_WEIGHT_QUANT[spec.weight])
        self.conv.is_binary = True

    def forward(self, x):
        return self.conv(self.pad(self.binarize(x)))


class BinaryConvTranspose2d(nn.Module):
    """Binarized transposed convolution (BoxNet's upsampling), k4 s2 p1 as in Hand4Whole."""

    is_binary = True

    def __init__(self, spec: BinarySpec, cin: int, cout: int, kernel: int = 4, stride: int = 2, padding: int = 1):
        super().__init__()
        self.binarize = activation_binarizer(spec, cin)
        self.deconv = QuantConvTranspose2d(cin, cout, kernel, stride=stride, padding=padding, bias=False,
                                           weight_quant=_WEIGHT_QUANT[spec.weight])
        self.deconv.is_binary = True

    def forward(self, x):
        return self.deconv(self.binarize(x))


class BinaryLinear(nn.Module):
    is_binary = True

    def __init__(self, spec: BinarySpec, fin: int, fout: int):
        super().__init__()
        self.binarize = activation_binarizer(spec, fin)
        self.linear = QuantLinear(fin, fout, bias=False, weight_quant=_WEIGHT_QUANT[spec.weight])
        self.linear.is_binary = True

    def forward(self, x):
        return self.linear(self.binarize(x))
