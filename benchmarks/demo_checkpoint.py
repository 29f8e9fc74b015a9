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


def overlay(checkpoint: Path, png: Path, frames: int = 6) -> None:
    """The first ``frames`` synthetic validation images, each beside the checkpoint's predicted mesh and the
    ground-truth mesh drawn over it (the network's camera), two rows: does the prediction follow the pose?"""
    import numpy as np
    from PIL import Image

    from bidrn_hw.body.smplx_layer import BodyModel
    from bidrn_hw.train.checkpoint import load_demo_model
    from bidrn_hw.train.data import SyntheticGenerator, camera
    from bidrn_hw.train.render import render

    body = BodyModel()
    net = load_demo_model(checkpoint, body_model=body)
    h, w = net.config.image_input
    focal, center = camera(net.config)
    s = SyntheticGenerator("tiny", body).generate(0, range(frames), split="val", with_vertices=True)
    with torch.no_grad():
        out = net(torch.from_numpy(s["image"]).permute(0, 3, 1, 2).float() / 255)
    faces = body.faces.numpy().astype(np.int64)
    light = np.array([0.0, -0.3, -1.0]) / np.linalg.norm([0.0, -0.3, -1.0])
    tiles = []
    for i in range(frames):
        row = [s["image"][i]]
        for verts in (out["vertices"][i].numpy(), s["vertices"][i]):
            bg = s["image"][i].astype(np.float64) / 255
            im, mask = render(verts.astype(np.float64), faces, np.tile([[0.3, 0.8, 1.0]], (len(faces), 1)), focal,
                              center, h, w, bg * 0.5, light, 0.4)
            im = np.where(mask[..., None], 0.6 * im + 0.4 * bg, bg)
            row.append(np.clip(im * 255, 0, 255).astype(np.uint8))
        tiles.append(np.concatenate(row, 1))
    half = (frames + 1) // 2
    grid = np.concatenate([np.concatenate(tiles[:half], 1), np.concatenate(tiles[half:], 1)], 0)
    Image.fromarray(grid).resize((grid.shape[1] * 2, grid.shape[0] * 2), Image.NEAREST).save(png)


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
    parser.add_argument("--overlay", default=None, metavar="PNG",
                        help="only draw the checkpoint at --out over 6 validation images (input | predicted | truth)")
    parser.add_argument("--run", default=None, help="keep the training run here (resumable; default: a temporary folder)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.overlay:
        overlay(Path(args.out), Path(args.overlay))
        return
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
