"""Hardware variant of a BiDRN encoder: what the FPGA computes, as a Brevitas model that exports to QONNX.

Numerics (README and docs/architecture.md, "Hardware numerics"):

* The image enters as uint8 (0..255); the stem conv has int8 weights (per-channel scale folded away).
* The residual stream is a signed R-bit integer ``r`` at one scale ``s`` per encoder (the residual chain):
  the real value is ``r * s``. LCR and BR additions are integer adds saturated back to R bits.
* A binarized conv takes ``sign(r + b/s)`` (the learnable bias is a per-channel integer threshold; Hardtanh
  does not change the sign), pads with -1 and convolves with bipolar weights: an exact integer accumulator.
* BN, the weight scale and RPReLU are one monotone per-channel function ``g`` of the accumulator; the unit's
  output level ``clip(floor(g(acc) / s))`` is realized as thresholds on the accumulator (a qonnx
  ``MultiThreshold``). A channel whose BN slope is negative has its weights negated so ``g`` increases;
  a negative RPReLU slope is clamped to 0 (counted in ``conversion_report``).
* Shortcuts that change shape are fixed 0/1-weight convs (down-scale: 2x2 stride-2 sum; fusion-up: channel
  repeat; fusion-down: group sum; down-sample: repeat of the pooled input) followed by a rounding threshold
  (``floor(sum / n)``), so every layer maps to a FINN MVAU + thresholds. The float BR 1x1 conv becomes
  an int8-weight conv with its BN folded into thresholds.
* The down-sample variant's two binarized ``C -> C`` convs on the same input are one ``C -> 2C`` conv
  (same weights stacked; BN and RPReLU are per channel), which is exact.

Levels are floors, not rounded: level 0 covers [0, s), so ``sign(level) == sign(real value)`` and the next
binarized conv sees the same signs as the float model would on the same values (rounding to nearest would
turn every value in (-s/2, 0) into a +1). The price is a bias of -s/2 per requantization, which the
measured float-vs-hardware difference includes.

The thresholds *define* the hardware variant: the PyTorch forward and QONNX execution compare the same
integers with the same thresholds, so they agree bit for bit. How far the hardware variant is from the float
model is a separate, measured question (``tests/test_hardware_variant.py``).
"""
from __future__ import annotations

import copy
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np
import torch
from brevitas.inject.enum import ScalingImplType
from brevitas.nn import QuantConv2d
from brevitas.quant.scaled_int import Int8WeightPerTensorFloat
from torch import nn
from torch.nn import functional as F

from ..errors import UnsupportedError
from .blocks import BinaryUnit, ChannelGroupMean, ChannelRepeat, DownsampleUnit, ResidualBlock
from .encoder import ResNetEncoder
from .quant import BinaryWeightUnscaled, LearnableBias, RPReLU

QONNX_DOMAIN = "qonnx.custom_op.general"


class IntWeightUnitScale(Int8WeightPerTensorFloat):
    """int8 weights exported with scale 1 (the weight values are the integers themselves).

    Brevitas' constant scaling sets the largest magnitude, so 127 gives the scale 127 / 127 = 1."""

    scaling_impl_type = ScalingImplType.CONST
    scaling_const = 127.0


class Int2WeightUnitScale(IntWeightUnitScale):
    """{-1, 0, 1} weights with scale 1 (the fixed 0/1 shortcut convs)."""

    bit_width = 2
    scaling_const = 1.0


class _MultiThresholdFn(torch.autograd.Function):
    """qonnx MultiThreshold: ``out_scale * #{k : x >= T[c, k]} + out_bias`` (NCHW)."""

    @staticmethod
    def forward(ctx, x, thresholds, out_scale, out_bias, out_dtype):
        c = x.shape[1]
        thr = thresholds.expand(c, -1) if thresholds.shape[0] == 1 else thresholds
        flat = x.transpose(0, 1).reshape(c, -1).contiguous()
        count = torch.searchsorted(thr.contiguous(), flat, right=True)
        count = count.reshape(x.shape[1], x.shape[0], *x.shape[2:]).transpose(0, 1)
        return count.to(x.dtype) * out_scale + out_bias

    @staticmethod
    def symbolic(g, x, thresholds, out_scale, out_bias, out_dtype):
        out = g.op(f"{QONNX_DOMAIN}::MultiThreshold", x, thresholds, out_dtype_s=out_dtype,
                   out_scale_f=float(out_scale), out_bias_f=float(out_bias), data_layout_s="NCHW")
        out.setType(x.type())  # same shape as the input
        return out


class MultiThreshold(nn.Module):
    """Per-channel (``(C, N)``) or shared (``(1, N)``) sorted integer thresholds."""

    def __init__(self, thresholds: np.ndarray, out_bias: int, out_dtype: str, out_scale: int = 1):
        super().__init__()
        self.register_buffer("thresholds", torch.as_tensor(np.asarray(thresholds, dtype=np.float32)))
        self.out_bias, self.out_scale, self.out_dtype = float(out_bias), float(out_scale), out_dtype

    def forward(self, x):
        return _MultiThresholdFn.apply(x, self.thresholds, self.out_scale, self.out_bias, self.out_dtype)


def level_thresholds(g, lo: int, hi: int, acc_min: int, acc_max: int, scale: float) -> np.ndarray:
    """Thresholds of ``clip(floor(g(acc) / scale), lo, hi)`` for per-channel increasing ``g``.

    ``g`` maps an integer array of shape (C, K) to real values channel by channel. Returns (C, hi - lo)
    integers: T[c, j] = the smallest acc whose level is >= lo + 1 + j (acc_max + 1 where none is).
    """
    levels = np.arange(lo + 1, hi + 1, dtype=np.float64)
    probe = g(np.zeros((1, 1)))
    channels = probe.shape[0]
    low = np.full((channels, levels.size), acc_min, dtype=np.int64)
    high = np.full((channels, levels.size), acc_max + 1, dtype=np.int64)
    while np.any(low < high):
        mid = (low + high) // 2
        ok = g(mid.astype(np.float64)) / scale >= levels[None, :]
        high = np.where(ok & (low < high), mid, high)
        low = np.where(~ok & (low < high), mid + 1, low)
    return low.astype(np.float64)


def _bn_affine(bn: nn.BatchNorm2d) -> tuple[np.ndarray, np.ndarray]:
    std = torch.sqrt(bn.running_var + bn.eps)
    a = (bn.weight / std).detach().double().numpy()
    b = (bn.bias - bn.running_mean * bn.weight / std).detach().double().numpy()
    return a, b


@dataclass
class ConversionReport:
    residual_bits: int
    residual_scale: float
    negative_slopes_clamped: int = 0
    channels_flipped: int = 0
    layers: list = field(default_factory=list)


class _Converter:
    """Builds integer layers from float ones for one encoder, sharing the residual scale."""

    def __init__(self, bits: int, scale: float):
        self.bits, self.scale = bits, scale
        self.lo, self.hi = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
        self.dtype = f"INT{bits}"
        self.report = ConversionReport(bits, scale)

    def saturate(self) -> MultiThreshold:
        """Identity on integers, clipped to R bits (after a residual add)."""
        return MultiThreshold(np.arange(self.lo + 1, self.hi + 1)[None, :], self.lo, self.dtype)

    def requant(self, a: np.ndarray, post, acc_bound: int, nonnegative: bool = False) -> MultiThreshold:
        """Thresholds for ``post(a * acc)`` with ``a > 0`` per channel (``post`` acts per channel).

        ``nonnegative`` (``post`` is a ReLU): levels 0..hi as an unsigned type, so a following max pool may
        pad with 0 (FINN pads max pools with the input type's minimum, and only 0 maps to FMPadding)."""
        lo = 0 if nonnegative else self.lo
        thr = level_thresholds(lambda acc: post(a[:, None] * acc), lo, self.hi, -acc_bound, acc_bound, self.scale)
        return MultiThreshold(thr, lo, f"UINT{self.bits - 1}" if nonnegative else self.dtype)

    def rounding_sum(self, n: int) -> MultiThreshold:
        """``floor(sum / n)`` of a sum of ``n`` integer levels, clipped to R bits."""
        return MultiThreshold(level_thresholds(lambda acc: acc / n, self.lo, self.hi, n * self.lo, n * self.hi,
                                               1.0)[:1], self.lo, self.dtype)

    def flip_signs(self, a: np.ndarray) -> np.ndarray:
        sign = np.where(a < 0, -1.0, 1.0)
        self.report.channels_flipped += int((sign < 0).sum())
        return sign


def _rprelu_fn(post: nn.Module, b: np.ndarray, conv: _Converter):
    """``post(z + b)`` per channel as numpy; RPReLU slopes clamped to >= 0 for monotonicity."""
    if isinstance(post, RPReLU):
        gamma = post.shift_in.detach().double().numpy()[:, None]
        zeta = post.shift_out.detach().double().numpy()[:, None]
        slope = post.slope.detach().double().numpy()
        conv.report.negative_slopes_clamped += int((slope < 0).sum())
        slope = np.maximum(slope, 0.0)[:, None]
        return lambda z: np.where(z + b[:, None] - gamma >= 0, z + b[:, None] - gamma,
                                  slope * (z + b[:, None] - gamma)) + zeta
    if isinstance(post, nn.Hardtanh):
        return lambda z: np.clip(z + b[:, None], -1.0, 1.0)
    if isinstance(post, nn.ReLU):
        return lambda z: np.maximum(z + b[:, None], 0.0)
    if post is None or isinstance(post, nn.Identity):
        return lambda z: z + b[:, None]
    raise UnsupportedError(f"no monotone hardware form for activation {type(post).__name__}")


class SignThreshold(nn.Module):
    """sign(r * s + bias) in {-1, +1} as one integer threshold per channel (MultiThreshold, BIPOLAR)."""

    def __init__(self, channels: int, bias: np.ndarray | None, scale: float):
        super().__init__()
        t = np.zeros(channels) if bias is None else np.ceil(-bias / scale)
        self.mt = MultiThreshold(t[:, None], -1, "BIPOLAR", out_scale=2)

    def forward(self, r):
        return self.mt(r)


class FixedShortcut(nn.Module):
    """Shape-changing LCR: a 0/1-weight conv (sum of ``n`` inputs per output) + rounding to the R-bit grid."""

    def __init__(self, cin: int, cout: int, stride: int, conv: _Converter):
        super().__init__()
        k = stride
        w = torch.zeros(cout, cin, k, k)
        if cout >= cin:  # identity / repeat (fusion-up, down-sample)
            for o in range(cout):
                w[o, o % cin] = 1.0
            n = k * k
        else:  # group sum (fusion-down)
            group = cin // cout
            for o in range(cout):
                w[o, o * group:(o + 1) * group] = 1.0
            n = k * k * group
        self.conv = QuantConv2d(cin, cout, k, stride=stride, bias=False, weight_quant=Int2WeightUnitScale)
        with torch.no_grad():
            self.conv.weight.copy_(w)
        self.round = conv.rounding_sum(n)

    def forward(self, r):
        return self.round(self.conv(r))


class HwUnit(nn.Module):
    """sign -> pad(-1) -> binary conv -> thresholds (BN, scale, RPReLU) [-> + LCR -> saturate]."""

    def __init__(self, units: list[BinaryUnit], conv: _Converter):
        super().__init__()
        first = units[0]
        cin = first.conv.conv.in_channels
        kernel, stride = first.conv.conv.kernel_size[0], first.conv.conv.stride[0]
        cout = sum(u.conv.conv.out_channels for u in units)
        bias = first.conv.binarize[0].bias.detach().double().numpy() if isinstance(first.conv.binarize, nn.Sequential) \
            and isinstance(first.conv.binarize[0], LearnableBias) else None
        if any(u.conv.binarize is not first.conv.binarize for u in units[1:]):
            raise UnsupportedError("down-sample unit halves binarize their input differently; cannot merge")
        self.sign = SignThreshold(cin, bias, conv.scale)
        self.pad = kernel // 2
        weights, a_all, posts = [], [], []
        for u in units:
            if not u.act_before_add:
                raise UnsupportedError("hardware variant needs the activation before the LCR add (BiDRN units)")
            w = u.conv.conv.weight.detach()
            alpha = w.abs().mean((1, 2, 3)).double().numpy()
            a_bn, b_bn = _bn_affine(u.bn)
            a = a_bn * alpha
            flip = conv.flip_signs(a)
            weights.append(torch.where(w >= 0, 1.0, -1.0) * torch.as_tensor(flip, dtype=w.dtype)[:, None, None, None])
            a_all.append(a * flip)
            posts.append(_rprelu_fn(u.post, b_bn, conv))
        self.conv = QuantConv2d(cin, cout, kernel, stride=stride, bias=False, weight_quant=BinaryWeightUnscaled)
        with torch.no_grad():
            self.conv.weight.copy_(torch.cat(weights))
        a = np.concatenate(a_all)
        sizes = np.cumsum([0] + [u.conv.conv.out_channels for u in units])

        def post(z):
            return np.concatenate([p(z[s:e]) for p, s, e in zip(posts, sizes[:-1], sizes[1:])])

        self.requant = conv.requant(a, post, cin * kernel * kernel)
        lcr = first.lcr
        if lcr is None:
            self.lcr = None
        elif isinstance(lcr, nn.Identity) and cin == cout:
            self.lcr = nn.Identity()
        else:
            self.lcr = FixedShortcut(cin, cout, stride, conv)
        self.sat = conv.saturate() if self.lcr is not None else None

    def forward(self, r):
        a = self.sign(r)
        if self.pad:
            a = F.pad(a, [self.pad] * 4, value=-1.0)
        t = self.requant(self.conv(a))
        if self.lcr is None:
            return t
        return self.sat(t + self.lcr(r))


class IntConvRequant(nn.Module):
    """int8-weight conv on integer input + BN (+ activation) folded into thresholds (stem, BR 1x1)."""

    def __init__(self, conv2d: nn.Conv2d, bn: nn.BatchNorm2d, post, input_scale: float, input_bound: int,
                 conv: _Converter):
        super().__init__()
        w = conv2d.weight.detach().double()
        ws = w.abs().amax((1, 2, 3)).clamp(min=1e-12) / 127
        w_int = torch.round(w / ws[:, None, None, None])
        a_bn, b_bn = _bn_affine(bn)
        if conv2d.bias is not None:
            b_bn = b_bn + a_bn * conv2d.bias.detach().double().numpy()
        a = a_bn * ws.numpy() * input_scale
        flip = conv.flip_signs(a)
        self.conv = QuantConv2d(conv2d.in_channels, conv2d.out_channels, conv2d.kernel_size, stride=conv2d.stride,
                                padding=conv2d.padding, bias=False, weight_quant=IntWeightUnitScale)
        with torch.no_grad():
            self.conv.weight.copy_((w_int * torch.as_tensor(flip)[:, None, None, None]).float())
        bound = int(w_int.abs().sum((1, 2, 3)).max()) * input_bound
        self.requant = conv.requant(a * flip, _rprelu_fn(post, b_bn, conv), bound,
                                    nonnegative=isinstance(post, nn.ReLU))

    def forward(self, x):
        return self.requant(self.conv(x))


class HwBlock(nn.Module):
    def __init__(self, block: ResidualBlock, conv: _Converter):
        super().__init__()
        units = []
        for u in block.body:
            units.append(HwUnit([u.first, u.second] if isinstance(u, DownsampleUnit) else [u], conv))
        self.units = nn.Sequential(*units)
        sc = block.shortcut
        if isinstance(sc, nn.Identity):
            self.shortcut = nn.Identity()
        elif isinstance(sc[0], nn.Conv2d):
            self.shortcut = IntConvRequant(sc[0], sc[1], None, conv.scale, -conv.lo, conv)
        else:
            raise UnsupportedError("hardware variant needs a full-precision BR downsample conv (BiDRN)")
        self.sat = conv.saturate()

    def forward(self, r):
        return self.sat(self.units(r) + self.shortcut(r))


class HardwareEncoder(nn.Module):
    """Integer encoder: uint8 image (as float) in, R-bit residual levels out; real value = levels * scale."""

    def __init__(self, encoder: ResNetEncoder, scale: float, bits: int = 8):
        super().__init__()
        conv = _Converter(bits, scale)
        stem_conv, stem_bn, stem_act = encoder.stem[0], encoder.stem[1], encoder.stem[2]
        self.stem = IntConvRequant(stem_conv, stem_bn, stem_act, 1.0 / 255, 255, conv)
        self.pool = nn.MaxPool2d(3, 2, 1) if len(encoder.stem) > 3 else nn.Identity()
        self.blocks = nn.Sequential(*[HwBlock(b, conv) for b in encoder.blocks])
        self.scale, self.bits = scale, bits
        self.report = conv.report

    def forward(self, image_u8):
        return self.blocks(self.pool(self.stem(image_u8)))


@contextmanager
def _watched_eval(module: nn.Module, hooks: list):
    """A no-grad, eval-mode pass of ``module`` for its ``hooks`` to watch: afterwards (error or not) the hooks are
    removed and ``module``'s training mode is what it was."""
    was_training = module.training
    try:
        module.eval()
        with torch.no_grad():
            yield
    finally:
        for h in hooks:
            h.remove()
        module.train(was_training)


def calibrate_scale(encoder: ResNetEncoder, images: torch.Tensor, bits: int = 8, quantile: float = 0.999) -> float:
    """Residual scale s so that the ``quantile`` of |residual| over ``images`` (float in [0, 1]) maps to the
    largest R-bit level. The residual points are the stem output and every unit and block output."""
    points = []
    hooks = [m.register_forward_hook(lambda mod, i, o: points.append(o.detach().abs().flatten()))
             for m in encoder.modules() if isinstance(m, (BinaryUnit, DownsampleUnit, ResidualBlock))]
    hooks.append(encoder.stem.register_forward_hook(lambda mod, i, o: points.append(o.detach().abs().flatten())))
    with _watched_eval(encoder, hooks):
        encoder(images)
    q = _quantile(torch.cat(points), quantile)
    return max(q, 1e-6) / ((1 << (bits - 1)) - 1)


def _quantile(values: torch.Tensor, q: float) -> float:
    """torch.quantile's linear interpolation over all values: torch.quantile itself up to a million values,
    above that the two order statistics it interpolates, found exactly without sorting everything (torch.quantile
    refuses large inputs): a strided sample bounds them from below, one pass keeps the values at or above
    that bound, and a sort of those (a fraction of a percent of them) gives the two. Where the bound is not
    below them (it can only miss on adversarial data), a top-k selection of the tail gives them instead."""
    n = values.numel()
    if n <= 1_000_000:
        return torch.quantile(values, q).item()
    rank = q * (n - 1)
    lo = int(rank)
    bound = torch.quantile(values[:: n // 1_000_000], max(0.0, q - 0.002)).item()
    tail = values[values >= bound]
    first = n - tail.numel()  # sorted position of the tail's smallest value
    if first <= lo:
        tail = torch.sort(tail).values
        pair = tail[lo - first: lo - first + 2]
    else:
        pair = torch.topk(values, n - lo).values.flip(0)[:2]  # ascending from sorted position lo
    below = pair[0].item()
    above = pair[1].item() if len(pair) > 1 else below
    return below + (above - below) * (rank - lo)


def to_hardware(encoder: ResNetEncoder, calibration_images: torch.Tensor, bits: int = 8) -> HardwareEncoder:
    """The hardware variant of a BiDRN encoder, its residual scale calibrated on ``calibration_images``."""
    return HardwareEncoder(encoder, calibrate_scale(encoder, calibration_images, bits), bits).eval()


# ---------------------------------------------------------------------------------------------------------
# The whole network with its encoders in the hardware variant (for accuracy evaluation on the host).
ENCODER_NAMES = ("body_encoder", "hand_encoder", "face_encoder")


def to_uint8_levels(image: torch.Tensor) -> torch.Tensor:
    """A float image in [0, 1] as the uint8 levels (0..255, held as float) that the hardware receives."""
    return torch.round(image.clamp(0.0, 1.0) * 255.0)


class HardwareEncoderAsFloat(nn.Module):
    """Drop-in for a float encoder inside a WholeBodyNet: the [0, 1] input (the host's resized crop) is
    rounded to uint8 as the accelerator sees it, the integer :class:`HardwareEncoder` runs, and its R-bit
    residual levels are scaled back to real values (``levels * scale``) for the host heads."""

    def __init__(self, hardware: HardwareEncoder, out_channels: int | None = None):
        super().__init__()
        self.hardware = hardware
        self.out_channels = out_channels

    @property
    def scale(self) -> float:
        return self.hardware.scale

    def forward(self, x):
        return self.hardware(to_uint8_levels(x)) * self.hardware.scale


def encoder_inputs(net: nn.Module, images: torch.Tensor) -> dict[str, torch.Tensor]:
    """What each encoder of ``net`` (a WholeBodyNet) receives on a float forward pass over ``images``:
    the resized body image, the hand crops (left flipped) and the face crop at the predicted boxes."""
    captured: dict[str, torch.Tensor] = {}
    hooks = [getattr(net, name).register_forward_pre_hook(
        lambda mod, args, name=name: captured.__setitem__(name, args[0].detach().clone()))
        for name in ENCODER_NAMES]
    body_model, net.body_model = net.body_model, None  # the SMPL-X layer is not needed here
    with _watched_eval(net, hooks):
        try:
            net(images)
        finally:
            net.body_model = body_model
    return captured


def to_hardware_network(net: nn.Module, calibration_images: torch.Tensor, bits: int = 8) -> nn.Module:
    """A copy of ``net`` (a BiDRN WholeBodyNet) whose body, hand and face encoders are their integer hardware
    variants (:class:`HardwareEncoderAsFloat`), in eval mode; ``net`` is not changed (the body model, if
    any, is shared, not copied).

    ``calibration_images``: (N, 3, H, W) full images in [0, 1] at ``net.config.image_input`` (a few training
    frames). Each encoder's residual scale is calibrated on the inputs it actually receives on them (the
    resized image, the hand and face crops at the float model's boxes), rounded to uint8.
    """
    if getattr(net, "variant", None) != "bidrn":
        raise UnsupportedError(f"the hardware variant exists for BiDRN only, not {getattr(net, 'variant', None)!r}")
    inputs = encoder_inputs(net, calibration_images)
    memo = {id(net.body_model): net.body_model} if net.body_model is not None else {}
    hw_net = copy.deepcopy(net, memo)
    for name in ENCODER_NAMES:
        encoder = getattr(net, name)
        hardware = to_hardware(encoder, to_uint8_levels(inputs[name]) / 255.0, bits)
        setattr(hw_net, name, HardwareEncoderAsFloat(hardware, getattr(encoder, "out_channels", None)))
    return hw_net.eval()
