"""Make the demo checkpoint: train the tiny BiDRN with the accuracy benchmark's recipe and write it without
optimizer state (``bidrn_hw/data/tiny_bidrn.pt``, read by ``bidrn_hw.train.checkpoint.load_demo_model``).

    .venv/bin/python benchmarks/demo_checkpoint.py --lr LR [--steps N] [--out PATH] [--run DIR]
    .venv/bin/python benchmarks/demo_checkpoint.py --from RUN/checkpoint.pt   # slim an existing tiny/bidrn run

The recipe is ``benchmarks/accuracy.py``'s (benchmarks/training_args.py, docs/training.md) for ``bidrn`` at
the lr its sweep chose (``--lr``, default: the shipped checkpoint's); the shipped file is accuracy.py's BiDRN
run slimmed with ``--from``, which this command reproduces by training again. ``--run DIR`` keeps the
(resumable) run there. The validation metrics are stored in the checkpoint and printed as JSON.
"""
import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

import torch

from bidrn_hw.train.checkpoint import DEMO_CHECKPOINT, load_model, read_checkpoint, slim_checkpoint
from bidrn_hw.train.loop import TrainOptions, train
from training_args import add_training_arguments, recipe_options  # benchmarks/training_args.py


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_training_arguments(parser)
    parser.add_argument("--from", dest="source", default=None, help="slim this tiny/bidrn checkpoint instead")
    parser.add_argument("--source-command", default=None,
                        help="with --from: the command that trained the source run (stored as provenance)")
    parser.add_argument("--out", default=str(DEMO_CHECKPOINT))
    parser.add_argument("--run", default=None, help="keep the training run here (resumable; default: a temporary folder)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    t0 = time.perf_counter()
    tmp = None
    if args.source:
        source = Path(args.source)
        load_model(source, "tiny", "bidrn", with_body_model=False)  # checks identity and weights
        note = {"made_by": "benchmarks/demo_checkpoint.py --from", "source": str(source),
                "source_command": args.source_command}
    else:
        lr = args.lr
        if lr is None:  # the shipped checkpoint's
            lr = read_checkpoint(DEMO_CHECKPOINT)["options"]["lr"]
        if args.run:
            run = Path(args.run)
        else:
            tmp = Path(tempfile.mkdtemp(prefix="bidrn-demo-"))
            run = tmp / "run"
        opts = TrainOptions(config="tiny", variant="bidrn", out=str(run), steps=args.steps, lr=lr, resume=True,
                            eval_frames=args.eval_frames, eval_every=args.eval_every, **recipe_options(args))
        train(opts)
        source = run / "checkpoint.pt"
        note = {"made_by": "benchmarks/demo_checkpoint.py", "argv": sys.argv[1:], "torch_threads": args.threads}
    try:
        note["train_wall_s"] = round(time.perf_counter() - t0, 1)
        out = slim_checkpoint(source, args.out, note)
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
    ckpt = read_checkpoint(out)
    print(json.dumps({"checkpoint": str(out), "bytes": out.stat().st_size, "step": ckpt["step"],
                      "metrics": ckpt["metrics"], "options": ckpt["options"], "provenance": ckpt["provenance"]},
                     indent=1))


if __name__ == "__main__":
    main()
