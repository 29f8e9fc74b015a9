"""Export BiDRN's FPGA partitions (hardware-variant encoders) to QONNX with reference inputs and outputs."""
from __future__ import annotations

from pathlib import Path

from ..builddir import OutputDir
from ..errors import InputFileError, UsageError


def add_arguments(parser):
    parser.add_argument("--config", default="tiny", help="paper | edge | tiny (default: tiny)")
    parser.add_argument("--out", required=True, help="output directory (new, empty, or an earlier export)")
    parser.add_argument("--force", action="store_true",
                        help="write into a non-empty folder that is not an export (nothing of yours is removed)")
    parser.add_argument("--checkpoint", help="trained checkpoint (default: random initialization)")
    parser.add_argument("--frames", type=int, default=16, help="reference frames per partition (default 16)")
    parser.add_argument("--residual-bits", type=int, default=8, help="R, the residual stream width (default 8)")
    parser.add_argument("--seed", type=int, default=0)


def run(args) -> dict:
    # lazy: torch, Brevitas and the partition export, kept off the CLI's startup
    import torch

    from ..model.configs import get_config
    from ..model.network import WholeBodyNet
    from ..partition import export_partitions

    cfg = get_config(args.config)
    if not 2 <= args.residual_bits <= 16:
        raise UsageError(f"--residual-bits must be in 2..16, got {args.residual_bits}")
    if args.frames < 1:
        raise UsageError(f"--frames must be >= 1, got {args.frames}")
    output = OutputDir(args.out, "export", force=args.force,
                       expected=("body_encoder", "hand_encoder", "face_encoder", "partitions.json"))  # before work
    if args.checkpoint and not Path(args.checkpoint).is_file():
        raise InputFileError(f"--checkpoint {args.checkpoint}: not found" if not Path(args.checkpoint).exists()
                             else f"--checkpoint {args.checkpoint}: not a file")
    torch.manual_seed(args.seed)
    if args.checkpoint:
        # lazy: torch, only with --checkpoint
        from ..train.checkpoint import load_model

        model = load_model(args.checkpoint, config=cfg.name, variant="bidrn")
    else:
        model = WholeBodyNet(cfg, "bidrn")
    model.eval()
    out = Path(args.out)
    with output as tmp:  # a sibling folder swapped in on success: a failed export leaves DIR as it was
        summary = export_partitions(model, tmp, frames=args.frames, bits=args.residual_bits, seed=args.seed)
    parts = {name: {**info, "qonnx": str(out / name / "model.onnx")} for name, info in summary["partitions"].items()}
    return {"config": cfg.name, "out": str(out), "qonnx": [p["qonnx"] for p in parts.values()],
            "nodes": {name: p["nodes"] for name, p in parts.items()}, "partitions": parts}
