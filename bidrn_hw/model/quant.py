"""Quantization primitives, expressed with Brevitas quantizers so the model exports to QONNX.

* Activations: ``Hardtanh -> sign``. Brevitas' ``SignedBinaryActPerTensorConst`` is exactly that: it clamps
  to [-1, 1] (a Hardtanh whose gradient is the clipped identity) and takes the sign with ``sign(0) = +1``
  (FINN's bipolar convention). It exports as one QONNX ``BipolarQuant``.
* Bi-Real's ApproxSign gradient ``d sign(x)/dx ~ 2 - 2|x|`` on [-1, 1]: during training the input is passed
  through :class:`_ApproxSignGrad`, which is the identity forward and multiplies the gradient by
  ``2 - 2|x|``; combined with the clamp's clipped identity this is ApproxSign's derivative. It is skipped
  when not training, so the exported graph holds only the BipolarQuant.
* Weights: ``sign(W) * mean|W|`` per output channel (XNOR-Net / Bi-Real scaling) with the clipped-identity
  STE (no gradient where ``|W| > 1``); the scale is computed from the weights (Brevitas STATS scaling), so
  it adds no parameters.
* RPReLU and the learnable bias (ReActNet's RSign shift) are plain float modules.
"""
from __future__ import annotations

import torch
from brevitas.core.function_wrapper import TensorClamp
from brevitas.core.quant.binary import BinaryQuant
from brevitas.inject.enum import FloatToIntImplType, RestrictValueType, ScalingImplType, ScalingPerOutputType
from brevitas.inject.enum import StatsOp
from brevitas.nn import QuantIdentity
from brevitas.quant.binary import SignedBinaryActPerTensorConst
from brevitas.quant.solver import WeightQuantSolver
from brevitas.quant.scaled_int import Uint8ActPerTensorFloat
from brevitas.inject import ExtendedInjector
from torch import nn


class _ApproxSignGrad(torch.autograd.Function):
    """Identity forward; backward multiplies by Bi-Real's ApproxSign slope ``max(0, 2 - 2|x|)``."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return grad * torch.clamp(2.0 - 2.0 * x.abs(), min=0.0)


class _ClippedSignSte(torch.autograd.Function):
    """sign with sign(0)=+1 forward; clipped identity backward (zero where |x| > 1)."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return torch.where(x >= 0, torch.ones_like(x), -torch.ones_like(x))

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return grad * (x.abs() <= 1).to(grad.dtype)


class ClippedSteBinaryQuant(BinaryQuant):
    """Brevitas BinaryQuant whose sign uses the clipped-identity STE (BinaryNet / XNOR-Net weights)."""

    def forward(self, x):
        scale = self.scaling_impl(x)
        y = _ClippedSignSte.apply(x) * scale
        y = self.delay_wrapper(x, y)
        return y, scale, self.zero_point(), self.bit_width()


class _BinaryWeightBase(ExtendedInjector):
    tensor_quant = ClippedSteBinaryQuant
    restrict_scaling_type = RestrictValueType.FP
    float_to_int_impl_type = FloatToIntImplType.ROUND
    narrow_range = True
    signed = True
    bit_width = 1


class BinaryWeightPerChannelMean(_BinaryWeightBase, WeightQuantSolver):
    """``sign(W) * mean|W|`` with one scale per output channel (XNOR-Net, Bi-Real, ReActNet, BiDRN)."""

    scaling_impl_type = ScalingImplType.STATS
    scaling_stats_op = StatsOp.AVE
    scaling_per_output_type = ScalingPerOutputType.CHANNEL


class BinaryWeightPerTensorMean(_BinaryWeightBase, WeightQuantSolver):
    """``sign(W) * E|W|`` with one scale per layer (DoReFa's 1-bit weights)."""

    scaling_impl_type = ScalingImplType.STATS
    scaling_stats_op = StatsOp.AVE
    scaling_per_output_type = ScalingPerOutputType.TENSOR


class BinaryWeightUnscaled(_BinaryWeightBase, WeightQuantSolver):
    """``sign(W)`` with no scale (BinaryNet)."""

    scaling_impl_type = ScalingImplType.CONST
    scaling_const = 1.0
    scaling_per_output_type = ScalingPerOutputType.TENSOR


class BinaryActHardtanhSign(SignedBinaryActPerTensorConst):
    """Hardtanh (clamp to [-1, 1]) then sign; exports as BipolarQuant."""

    tensor_clamp_impl = TensorClamp


class SignActivation(nn.Module):
    """Hardtanh -> sign, with the clipped-identity STE or Bi-Real's ApproxSign gradient."""

    def __init__(self, approx_sign: bool = True):
        super().__init__()
        self.approx_sign = approx_sign
        self.quant = QuantIdentity(act_quant=BinaryActHardtanhSign, return_quant_tensor=False)

    def forward(self, x):
        if self.approx_sign and self.training and torch.is_grad_enabled():
            x = _ApproxSignGrad.apply(x)
        return self.quant(x)


class _DorefaUint1(Uint8ActPerTensorFloat):
    """1-bit unsigned activation with a constant unit scale: ``round(clip(x, 0, 1))``."""

    bit_width = 1
    scaling_impl_type = ScalingImplType.CONST
    scaling_const = 1.0
    max_val = 1.0


class DorefaActivation(nn.Module):
    """DoReFa's 1-bit activation in {0, 1} with a straight-through gradient on [0, 1]."""

    def __init__(self):
        super().__init__()
        self.quant = QuantIdentity(act_quant=_DorefaUint1, return_quant_tensor=False)

    def forward(self, x):
        return self.quant(x)


class LearnableBias(nn.Module):
    """Per-channel shift before the sign (ReActNet's RSign threshold)."""

    def __init__(self, channels: int):
        super().__init__()
        self.bias = nn.Parameter(torch.zeros(channels))

    def forward(self, x):
        shape = (1, -1) + (1,) * (x.dim() - 2)
        return x + self.bias.view(shape)


class RPReLU(nn.Module):
    """ReActNet's RPReLU: ``PReLU(x - gamma) + zeta`` per channel."""

    def __init__(self, channels: int):
        super().__init__()
        self.shift_in = nn.Parameter(torch.zeros(channels))
        self.slope = nn.Parameter(torch.full((channels,), 0.25))
        self.shift_out = nn.Parameter(torch.zeros(channels))

    def forward(self, x):
        shape = (1, -1) + (1,) * (x.dim() - 2)
        y = x - self.shift_in.view(shape)
        y = torch.where(y >= 0, y, y * self.slope.view(shape))
        return y + self.shift_out.view(shape)
