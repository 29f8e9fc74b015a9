"""Checkpoints: plain dicts of tensors and Python scalars, saved with ``torch.save`` and read back with
``torch.load(..., weights_only=True)`` (no arbitrary unpickling).

Writes are atomic (a temporary file in the same directory, then ``os.replace``), so an interrupted save leaves
the previous checkpoint intact. The body model's buffers are not saved (tens of MB of SMPL-X data that the
layer reloads from its own file); the network's parameters and buffers (BatchNorm statistics) are.
"""
from __future__ import annotations

import os
from dataclasses import asdict
from pathlib import Path

import torch
from torch import nn

from ..body.smplx_layer import BodyModel
from ..errors import InputFileError, UsageError
from ..model.configs import CONFIGS, check_variant, get_config
from ..model.network import WholeBodyNet
from ..model.variants import VARIANTS

FORMAT = "bidrn-hw-checkpoint"
VERSION = 1
BODY_PREFIX = "body_model."


def unwrap(model: nn.Module) -> WholeBodyNet:
    """The network inside a DistributedDataParallel (or any ``.module`` wrapper)."""
    while hasattr(model, "module") and not isinstance(model, WholeBodyNet):
        model = model.module
    return model


def network_state(model: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().cpu().clone() for k, v in unwrap(model).state_dict().items()
            if not k.startswith(BODY_PREFIX)}


def save_checkpoint(path: str | os.PathLike, model: nn.Module, *, step: int, epoch: int = 0,
                    metrics: dict | None = None, optimizer: torch.optim.Optimizer | None = None,
                    scheduler=None, options: dict | None = None, finished: bool = False,
                    history: list | None = None) -> Path:
    net = unwrap(model)
    payload = {
        "format": FORMAT, "version": VERSION,
        "config": net.config.name, "config_fields": asdict(net.config), "variant": net.variant,
        "step": int(step), "epoch": int(epoch), "finished": bool(finished),
        "metrics": dict(metrics or {}), "options": dict(options or {}), "history": list(history or []),
        "model": network_state(net),
        "optimizer": optimizer.state_dict() if optimizer is not None else None,
        "scheduler": scheduler.state_dict() if scheduler is not None else None,
        "torch_rng": torch.get_rng_state(),
    }
    return _save_atomic(payload, path)


def read_checkpoint(path: str | os.PathLike) -> dict:
    """Load and check a checkpoint; any problem is an InputFileError naming the file."""
    path = Path(path)
    if not path.is_file():
        raise InputFileError(f"checkpoint not found: {path}")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises RuntimeError, pickle.UnpicklingError, EOFError, zipfile errors ...
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InputFileError(f"{path} is not a readable checkpoint (corrupt or not a torch.save file): "
                             f"{first}") from exc
    if not isinstance(ckpt, dict) or ckpt.get("format") != FORMAT:
        raise InputFileError(f"{path} is not a bidrn-hw checkpoint (no '{FORMAT}' marker)")
    if ckpt.get("version") != VERSION:
        raise InputFileError(f"{path}: checkpoint version {ckpt.get('version')} is not supported "
                             f"(this bidrn-hw reads version {VERSION})")
    for key in ("config", "variant", "step", "model"):
        if key not in ckpt:
            raise InputFileError(f"{path}: checkpoint lacks '{key}'")
    if ckpt["config"] not in CONFIGS:
        raise InputFileError(f"{path}: unknown config {ckpt['config']!r} in checkpoint")
    if ckpt["variant"] not in VARIANTS:
        raise InputFileError(f"{path}: unknown variant {ckpt['variant']!r} in checkpoint (this bidrn-hw has "
                             f"{', '.join(VARIANTS)})")
    if asdict(get_config(ckpt["config"])) != _plain(ckpt.get("config_fields", asdict(get_config(ckpt["config"])))):
        raise InputFileError(f"{path}: config {ckpt['config']!r} in the checkpoint differs from this bidrn-hw's "
                             f"definition of it")
    return ckpt


def _plain(value):
    """torch.load gives lists where asdict gives tuples; compare structurally."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return tuple(_plain(v) for v in value)
    return value


def check_identity(ckpt: dict, path, config: str | None, variant: str | None) -> None:
    if config is not None and config != ckpt["config"]:
        raise InputFileError(f"{path}: checkpoint was trained with config {ckpt['config']!r}, not {config!r}")
    if variant is not None:
        check_variant(variant)
        if variant != ckpt["variant"]:
            raise InputFileError(f"{path}: checkpoint holds variant {ckpt['variant']!r}, not {variant!r}")


def load_state(model: nn.Module, ckpt: dict, path) -> None:
    """Load the network weights into ``model``; mismatched keys or shapes are an InputFileError."""
    net = unwrap(model)
    expected = {k: v for k, v in net.state_dict().items() if not k.startswith(BODY_PREFIX)}
    state = ckpt["model"]
    if not isinstance(state, dict):
        raise InputFileError(f"{path}: checkpoint 'model' is not a state dict")
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    if missing or unexpected:
        raise InputFileError(f"{path}: weights do not fit {ckpt['config']}/{ckpt['variant']}: "
                             f"missing {missing[:3]}, unexpected {unexpected[:3]}")
    for k, v in expected.items():
        if not isinstance(state[k], torch.Tensor) or state[k].shape != v.shape:
            got = tuple(state[k].shape) if isinstance(state[k], torch.Tensor) else type(state[k]).__name__
            raise InputFileError(f"{path}: weight '{k}' has shape {got}, the model needs {tuple(v.shape)}")
    net.load_state_dict(state, strict=False)


def load_model(path: str | os.PathLike, config: str | None = None, variant: str | None = None,
               body_model: nn.Module | None = None, with_body_model: bool = True) -> WholeBodyNet:
    """A network built from a checkpoint, in eval mode. ``config`` / ``variant``, when given, must match the
    checkpoint's; with ``with_body_model`` the default SMPL-X layer is attached (or ``body_model``)."""
    if config is not None and config not in CONFIGS:
        raise UsageError(f"unknown config {config!r}; choose one of {', '.join(CONFIGS)}")
    ckpt = read_checkpoint(path)
    check_identity(ckpt, path, config, variant)
    if body_model is None and with_body_model:
        body_model = BodyModel()
    model = WholeBodyNet(get_config(ckpt["config"]), ckpt["variant"], body_model)
    load_state(model, ckpt, path)
    model.eval()
    model.checkpoint_info = {k: ckpt.get(k) for k in ("config", "variant", "step", "epoch", "finished",
                                                        "metrics", "options")}
    return model


# ---------------------------------------------------------------------------------------------------------
# The shipped demo checkpoint: a trained tiny BiDRN, weights only (no optimizer state), package data.
DEMO_CHECKPOINT = Path(__file__).resolve().parent.parent / "data" / "tiny_bidrn.pt"
SLIM_DROPPED = ("optimizer", "scheduler", "torch_rng")


def slim_checkpoint(src: str | os.PathLike, dst: str | os.PathLike, note: dict | None = None,
                    metrics: dict | None = None) -> Path:
    """Copy a checkpoint without its optimizer/scheduler/RNG state (for inference only; it cannot be resumed),
    the per-step loss history cut to its last entry, ``note`` stored under ``"provenance"``, ``metrics`` (when
    given) replacing the stored ones (a snapshot of an unfinished run has none). Atomic write."""
    ckpt = read_checkpoint(src)
    slim = {k: v for k, v in ckpt.items() if k not in SLIM_DROPPED}
    slim.update(optimizer=None, scheduler=None, history=list(ckpt.get("history") or [])[-1:])
    if metrics is not None:
        slim["metrics"] = dict(metrics)
    slim["model"] = {k: v.clone() for k, v in ckpt["model"].items()}
    if note:
        slim["provenance"] = dict(note)
    return _save_atomic(slim, dst)


def load_demo_model(path: str | os.PathLike | None = None, body_model: nn.Module | None = None,
                    with_body_model: bool = True) -> WholeBodyNet:
    """The trained ``tiny`` BiDRN shipped with the package (``bidrn_hw/data/tiny_bidrn.pt``), or the one at
    ``path``, in eval mode, ready for inference (``net(img)`` with ``img`` (B, 3, 128, 96) in [0, 1]).
    Its training record is in ``net.checkpoint_info`` (metrics, options, provenance)."""
    path = Path(path) if path is not None else DEMO_CHECKPOINT
    if not path.is_file():
        raise InputFileError(f"demo checkpoint not found: {path} (make one with "
                             f"`python benchmarks/demo_checkpoint.py --out {path}`)")
    net = load_model(path, config="tiny", variant="bidrn", body_model=body_model, with_body_model=with_body_model)
    net.checkpoint_info["provenance"] = read_checkpoint(path).get("provenance")
    return net


def _save_atomic(payload: dict, path) -> Path:
    """torch.save to a temporary name, then rename: an interrupted save never leaves a truncated file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    try:
        torch.save(payload, tmp)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return path
