"""What distinguishes the compared networks: binarizer, weight scaling and block structure.

All variants share the encoders, heads and body model; only the convolution "unit" and the block around it
change. ``fp`` is Hand4Whole itself.

| variant  | activation          | weights                 | unit shortcut (LCR)        | block shortcut (BR)     | BoxNet |
| -------- | ------------------- | ----------------------- | -------------------------- | ----------------------- | ------ |
| bnn      | Hardtanh+sign, STE  | sign(W)                 | none                       | binary 1x1 downsample   | float  |
| xnor     | Hardtanh+sign, STE  | sign(W)*mean|W| per ch  | none                       | binary 1x1 downsample   | float  |
| dorefa   | round(clip(x,0,1))  | sign(W)*E|W| per layer  | none                       | binary 1x1 downsample   | float  |
| bireal   | ApproxSign          | sign(W)*mean|W| per ch  | where shapes match (+pool) | binary 1x1 downsample   | float  |
| reactnet | RSign + ApproxSign  | sign(W)*mean|W| per ch  | + down-sample (duplicate)  | binary 1x1 downsample   | float  |
| bidrn    | bias + ApproxSign   | sign(W)*mean|W| per ch  | every conv (all variants)  | float 1x1 downsample    | binary |

RPReLU follows each unit in reactnet and bidrn; the others use Hardtanh (BNN convention) after BN.
ReActNet applies it after the shortcut add, ``RPReLU(BN(conv) + x)``. BiDRN applies it on the conv branch,
``RPReLU(BN(conv)) + x``: then BN, the weight scale and RPReLU are one monotone per-channel function of the
integer accumulator (realized as thresholds in hardware) and the LCR add is a plain integer add.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class BinarySpec:
    name: str
    act: str = "sign"  # "sign" (bipolar) or "dorefa" ({0,1})
    approx_sign: bool = False  # Bi-Real ApproxSign gradient
    weight: str = "channel"  # "none" | "tensor" | "channel" scaling
    learnable_bias: bool = False  # RSign / BiDRN's shift before sign
    rprelu: bool = False  # RPReLU after each unit, else Hardtanh
    lcr: str = "none"  # "none" | "match" (identity/pool) | "duplicate" (+down-sample) | "all" (BiDRB)
    float_downsample: bool = False  # BR: full-precision 1x1 conv where the block downsamples
    binary_boxnet: bool = False
    act_before_add: bool = False  # post-activation on the conv branch, before the LCR add (BiDRN)


VARIANTS: dict[str, BinarySpec | None] = {
    "fp": None,
    "bnn": BinarySpec("bnn", weight="none"),
    "xnor": BinarySpec("xnor", weight="channel"),
    "dorefa": BinarySpec("dorefa", act="dorefa", weight="tensor"),
    "bireal": BinarySpec("bireal", approx_sign=True, lcr="match"),
    "reactnet": BinarySpec("reactnet", approx_sign=True, learnable_bias=True, rprelu=True, lcr="duplicate"),
    "bidrn": BinarySpec("bidrn", approx_sign=True, learnable_bias=True, rprelu=True, lcr="all",
                        float_downsample=True, binary_boxnet=True, act_before_add=True),
}
