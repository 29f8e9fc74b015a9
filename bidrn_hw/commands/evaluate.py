"""Mesh metrics of a checkpoint: MPVPE (pelvis-aligned; hands at the wrists, face at the neck), PA-MPVPE and
PA-MPJPE, in mm, on synthetic validation frames (the checkpoint's seed, a split it never trained on) or on
EHF / AGORA data (--data ehf:PATH | agora:PATH)."""
from __future__ import annotations

import argparse

from ..body.smplx_layer import BodyModel
from ..errors import UsageError
from ..train.checkpoint import load_model
from ..train.data import SyntheticGenerator, cached_dataset
from ..train.datasets import open_dataset
from ..train.evaluation import evaluate
from ..train.loop import pick_device
from ..train.metrics import METRIC_KEYS
from .train import check_device


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("checkpoint", help="checkpoint.pt written by `bidrn-hw train`")
    parser.add_argument("--frames", type=int, default=64, help="number of frames to evaluate")
    parser.add_argument("--data", default="synthetic", help="synthetic | agora:PATH | ehf:PATH")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--seed", type=int, default=None, help="synthetic data seed (default: the checkpoint's)")
    parser.add_argument("--cache-dir", default=None, help="synthetic data cache root")
    parser.add_argument("--device", default="auto", help="auto | cpu | cuda[:N]")
    parser.add_argument("--no-progress", action="store_true")
    parser.add_argument("--trust-pickle", action="store_true",
                        help="read pickle files (AGORA's data frames, a .pkl body model): they can run code, so "
                             "they are refused unless you trust them")


def run(args) -> dict:
    if args.frames < 1:
        raise UsageError("--frames must be positive")
    check_device(args.device)
    if args.batch_size < 1:
        raise UsageError(f"--batch-size must be positive, got {args.batch_size}")
    body = BodyModel(trust_pickle=args.trust_pickle)
    net = load_model(args.checkpoint, body_model=None, with_body_model=False)
    info = net.checkpoint_info
    kind, _, path = args.data.partition(":")
    seed = args.seed if args.seed is not None else int((info.get("options") or {}).get("seed", 0))
    if kind == "synthetic":
        dataset = cached_dataset(net.config, args.frames, seed, "val", root=args.cache_dir,
                                 progress=not args.no_progress, generator=SyntheticGenerator(net.config, body))
    elif kind in ("agora", "ehf") and path:
        dataset = open_dataset(kind, path, net.config, trust_pickle=args.trust_pickle)
    else:
        raise UsageError(f"invalid --data {args.data!r}: use synthetic, agora:PATH or ehf:PATH")
    device = pick_device(args.device)
    net.to(device)
    frames = min(args.frames, len(dataset))
    metrics = evaluate(net, body, dataset, frames, args.batch_size, device=device)
    result = {k: round(metrics[k], 3) for k in METRIC_KEYS}
    result.update(frames=frames, data=args.data, config=info["config"], variant=info["variant"],
                  step=info["step"], finished=info["finished"], body_model="stand-in" if body.is_standin else
                  str(body.path))
    return result
