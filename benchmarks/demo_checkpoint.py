"""Make the demo checkpoint: train the tiny BiDRN with the accuracy benchmark's recipe and write it without
optimizer state (``bidrn_hw/data/tiny_bidrn.pt``, read by ``bidrn_hw.train.checkpoint.load_demo_model``).

    .venv/bin/python benchmarks/demo_checkpoint.py [--steps N] [--out PATH]
    .venv/bin/python benchmarks/demo_checkpoint.py --from RUN/checkpoint.pt   # slim an existing tiny/bidrn run

The recipe is ``benchmarks/accuracy.py``'s for ``bidrn`` (synthetic data of seed 0, 1024 samples, batch 16, Adam
1e-4 with drops at 70% and 90% of the steps, one torch thread); only ``--steps`` may differ. The training
summary (validation metrics on 128 synthetic frames) is stored in the checkpoint and printed as JSON.
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
from training_args import add_training_arguments  # benchmarks/training_args.py (the script's folder is on sys.path)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_training_arguments(parser)
    parser.add_argument("--from", dest="source", default=None, help="slim this tiny/bidrn checkpoint instead")
    parser.add_argument("--source-command", default=None,
                        help="with --from: the command that trained the source run (stored as provenance)")
    parser.add_argument("--out", default=str(DEMO_CHECKPOINT))
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
        tmp = Path(tempfile.mkdtemp(prefix="bidrn-demo-"))
        opts = TrainOptions(config="tiny", variant="bidrn", out=str(tmp / "run"), steps=args.steps,
                            batch_size=args.batch_size, lr=args.lr, seed=args.seed, train_size=args.train_size,
                            eval_frames=args.eval_frames, cache_dir=args.cache_dir, progress=args.progress)
        train(opts)
        source = tmp / "run" / "checkpoint.pt"
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
