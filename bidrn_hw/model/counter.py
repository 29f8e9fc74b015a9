"""Parameters and OPs with the paper's convention (Table 1 of BiDRN, following Bi-Real/ReActNet):

    Params = binary parameters / 32 + float parameters
    OPs    = binary MACs / 64 + float MACs

MACs are counted for convolutions, transposed convolutions and linear layers on one frame (both hand crops
included) by forward hooks; layers marked ``is_binary`` count as binary. Normalisation, activations, pooling
and the SMPL-X layer are not counted (as in the paper). The SMPL-X layer holds no learned parameters.
"""
from __future__ import annotations

from collections import defaultdict

import torch
from torch import nn

from .network import WholeBodyNet

PAPER_TABLE1 = {  # params (M), OPs (G) as printed in the paper's Table 1
    "fp": (77.84, 16.85), "bnn": (21.61, 2.63), "xnor": (21.61, 2.63), "dorefa": (21.61, 2.63),
    "bireal": (21.61, 2.63), "reactnet": (21.66, 2.63), "bidrn": (17.22, 2.50),
}


def _layer_macs(module: nn.Module, x: torch.Tensor, y: torch.Tensor) -> int:
    """MACs of one call over its whole batch (the hand encoder sees both hand crops of the frame)."""
    if isinstance(module, nn.ConvTranspose2d):
        kh, kw = module.kernel_size
        return x.numel() * module.out_channels * kh * kw // module.groups
    if isinstance(module, nn.Conv2d):
        kh, kw = module.kernel_size
        return y.numel() * (module.in_channels // module.groups) * kh * kw
    if isinstance(module, nn.Linear):
        return x.numel() // module.in_features * module.in_features * module.out_features
    return 0


def _top_name(name: str) -> str:
    return name.split(".")[0]


def count(model: WholeBodyNet) -> dict:
    """Params/OPs of ``model`` per the paper's convention, with a per-module breakdown."""
    binary_params, float_params = defaultdict(int), defaultdict(int)
    binary_ids = set()
    for name, module in model.named_modules():
        if name.startswith("body_model"):
            continue
        if getattr(module, "is_binary", False) and isinstance(module, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            binary_ids.add(id(module.weight))
    for name, p in model.named_parameters():
        if name.startswith("body_model") or not p.requires_grad:
            continue
        (binary_params if id(p) in binary_ids else float_params)[_top_name(name)] += p.numel()

    binary_macs, float_macs = defaultdict(int), defaultdict(int)
    hooks = []
    for name, module in model.named_modules():
        if name.startswith("body_model") or not isinstance(module, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            continue
        target = binary_macs if getattr(module, "is_binary", False) else float_macs
        top = _top_name(name)

        def hook(mod, inp, out, target=target, top=top):
            target[top] += _layer_macs(mod, inp[0], out)

        hooks.append(module.register_forward_hook(hook))
    was_training = model.training
    body_model, model.body_model = model.body_model, None
    try:
        model.eval()
        h, w = model.config.image_input
        with torch.no_grad():
            model(torch.rand(1, 3, h, w))
    finally:
        for hk in hooks:
            hk.remove()
        model.body_model = body_model
        model.train(was_training)

    modules = sorted(set(binary_params) | set(float_params) | set(binary_macs) | set(float_macs))
    by_module = {m: _summary(binary_params[m], float_params[m], binary_macs[m], float_macs[m]) for m in modules}
    total = _summary(sum(binary_params.values()), sum(float_params.values()), sum(binary_macs.values()),
                     sum(float_macs.values()))
    total["by_module"] = by_module
    return total


def _summary(bp: int, fp: int, bm: int, fm: int) -> dict:
    return {
        "params_M": round((bp / 32 + fp) / 1e6, 4),
        "ops_G": round((bm / 64 + fm) / 1e9, 4),
        "binary_macs_G": round(bm / 1e9, 4),
        "float_macs_G": round(fm / 1e9, 4),
        "binary_params": bp,
        "float_params": fp,
        "total_params": bp + fp,
    }
