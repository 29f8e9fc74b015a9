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
from bidrn_hw.train.loop import TrainOptions, train, training_data
from training_args import add_training_arguments, recipe_options  # benchmarks/training_args.py


def validation(source: Path, args) -> tuple[dict, dict]:
    """The checkpoint's metrics on ``--eval-frames`` validation frames (its own when it finished with them,
    else measured now) and the mean-mesh baseline on the same frames (accuracy.json's when it used as many
    frames, else computed)."""
    from bidrn_hw.body.smplx_layer import BodyModel
    from bidrn_hw.train.evaluation import evaluate, mean_mesh_baseline

    ckpt = read_checkpoint(source)
    opts = TrainOptions(config="tiny", variant="bidrn", eval_frames=args.eval_frames, **recipe_options(args))
    val = training_data(opts, split="val", size=args.eval_frames)
    body = BodyModel()
    metrics = ckpt.get("metrics") if ckpt.get("finished") else None
    if not metrics or (ckpt.get("options") or {}).get("eval_frames") != args.eval_frames:
        net = load_model(source, "tiny", "bidrn", with_body_model=False)
        metrics = {k: round(v, 3) for k, v in evaluate(net, body, val).items()}
    table = Path(__file__).resolve().parent / "results" / "accuracy.json"
    mean = json.loads(table.read_text()).get("mean_mesh") if table.exists() else None
    if mean and mean.get("eval_frames") == args.eval_frames and mean.get("best"):
        return metrics, mean["best"]
    return metrics, mean_mesh_baseline(body, training_data(opts), val, frames=args.eval_frames)["best"]


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
        src = read_checkpoint(source)
        note = {"made_by": "benchmarks/demo_checkpoint.py --from", "source": str(source),
                "source_command": args.source_command, "source_step": src["step"],
                "source_steps": (src.get("options") or {}).get("steps"), "source_finished": src.get("finished")}
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
        metrics, base = validation(source, args)
        note["mean_mesh_best"] = base
        out = slim_checkpoint(source, args.out, note, metrics)
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
    ckpt = read_checkpoint(out)
    print(json.dumps({"checkpoint": str(out), "bytes": out.stat().st_size, "step": ckpt["step"],
                      "finished": ckpt["finished"],
                      "metrics": ckpt["metrics"], "options": ckpt["options"], "provenance": ckpt["provenance"]},
                     indent=1))


if __name__ == "__main__":
    main()
