"""Quantization-aware training of a BiDRN variant (Hand4Whole's losses, Adam, step LR schedule).

Writes OUT/checkpoint.pt at every epoch end and at the finish (atomically); --resume continues an interrupted
run. Under torchrun (WORLD_SIZE > 1) trains with DistributedDataParallel (gloo on CPU). Synthetic data is
rendered once and cached (~/.cache/bidrn-hw/synthetic, or --cache-dir).
"""
from __future__ import annotations

import argparse
import math
import re

import torch

from ..body.smplx_layer import trusting_pickle
from ..errors import UsageError
from ..model.configs import CONFIGS
from ..model.variants import VARIANTS
from ..train.loop import TrainOptions, train


def _data(value: str) -> str:
    kind, sep, path = value.partition(":")
    if kind == "synthetic" and not sep:
        return value
    if kind in ("agora", "ehf") and path:
        return value
    raise argparse.ArgumentTypeError(f"invalid --data {value!r}: use synthetic, agora:PATH or ehf:PATH")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    d = TrainOptions()
    parser.add_argument("--config", default=d.config, choices=sorted(CONFIGS))
    parser.add_argument("--variant", default=d.variant, choices=list(VARIANTS))
    parser.add_argument("--out", required=True, help="run directory (holds checkpoint.pt)")
    parser.add_argument("--steps", type=int, default=d.steps, help="total optimizer steps")
    parser.add_argument("--batch-size", type=int, default=d.batch_size, help="global batch size")
    parser.add_argument("--lr", type=float, default=d.lr)
    parser.add_argument("--seed", type=int, default=d.seed)
    parser.add_argument("--resume", action="store_true", help="continue OUT/checkpoint.pt")
    parser.add_argument("--data", type=_data, default=d.data, help="synthetic | agora:PATH | ehf:PATH")
    parser.add_argument("--train-size", type=int, default=d.train_size, help="synthetic samples per epoch")
    parser.add_argument("--eval-frames", type=int, default=d.eval_frames,
                        help="synthetic validation frames evaluated at the end (0: none)")
    parser.add_argument("--checkpoint-every", type=int, default=d.checkpoint_every,
                        help="also checkpoint every N steps (default: at epoch ends)")
    parser.add_argument("--device", default=d.device, help="auto | cpu | cuda[:N]")
    parser.add_argument("--cache-dir", default=None, help="synthetic data cache root")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch CPU threads (on a busy 2-core machine, 1 is several times faster than 2)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    parser.add_argument("--trust-pickle", action="store_true",
                        help="read pickle files (AGORA's data frames, a .pkl body model): they can run code, so "
                             "they are refused unless you trust them")


def check_device(name: str) -> str:
    """--device: auto, cpu, cuda or cuda:N of a GPU that is there."""
    if name in ("auto", "cpu"):
        return name
    if not re.fullmatch(r"cuda(:\d+)?", name or ""):
        raise UsageError(f"--device {name!r}: use auto, cpu, cuda or cuda:N")

    index = int(name.split(":")[1]) if ":" in name else 0
    if not torch.cuda.is_available() or index >= torch.cuda.device_count():
        raise UsageError(f"--device {name}: no such CUDA device here (use cpu or auto)")
    return name


def check_options(args) -> None:
    """Every numeric option in its range, before any data is rendered or a model built."""
    if not (math.isfinite(args.lr) and args.lr > 0):
        raise UsageError(f"--lr must be a positive number, not {args.lr}")
    for option, value, low in (("--steps", args.steps, 1), ("--batch-size", args.batch_size, 1),
                               ("--train-size", args.train_size, 1), ("--eval-frames", args.eval_frames, 0),
                               ("--checkpoint-every", args.checkpoint_every, 0)):
        if value < low:
            raise UsageError(f"{option} must be >= {low}, got {value}")
    if args.threads is not None and args.threads < 1:
        raise UsageError(f"--threads must be >= 1, got {args.threads}")
    check_device(args.device)


def run(args) -> dict:
    check_options(args)
    if args.threads:
        torch.set_num_threads(args.threads)
    opts = TrainOptions(config=args.config, variant=args.variant, out=args.out, steps=args.steps,
                        batch_size=args.batch_size, lr=args.lr, seed=args.seed, resume=args.resume, data=args.data,
                        train_size=args.train_size, eval_frames=args.eval_frames,
                        checkpoint_every=args.checkpoint_every, device=args.device, cache_dir=args.cache_dir,
                        progress=not args.no_progress)
    with trusting_pickle(args.trust_pickle):
        return train(opts)
