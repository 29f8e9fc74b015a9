"""Accuracy of every variant at the tiny config against the mean-mesh baseline, one recipe and budget for all;
writes benchmarks/results/accuracy.json as each variant finishes.

    .venv/bin/python benchmarks/accuracy.py --out /work/runs/accuracy [--variants fp bidrn bnn] [--commit]

The same command continues where it stopped: every run (lr sweep and main) is a resumable training run under
``--out`` (checkpoints every ``--checkpoint-every`` steps), finished variants are read back from their
checkpoints, and ``accuracy.json`` is rewritten (under a file lock, so two processes with different
``--variants`` can share it) as soon as a variant finishes. ``--commit`` also commits the JSON then.

Per variant:

1. **lr sweep**: ``--sweep-steps`` steps at each of ``--sweep-lrs`` (same recipe otherwise); the lr with the
   lowest MPVPE on ``--selection-frames`` frames of the synthetic ``test`` split (not the validation frames
   the table reports) is the variant's lr.
2. **main run**: ``--steps`` steps at that lr; metrics on ``--eval-frames`` validation frames (the ``val``
   split: their own random stream, never trained on); a learning curve PNG beside the checkpoint.

``mean_mesh``: the baseline any learning must beat, a constant prediction (the mean of the pelvis-centred
training meshes, or their generalized-Procrustes mean; per metric the better one) scored on the same frames
with the same metrics. Every variant carries its ratio to it. ``bidrn_hw`` is the trained BiDRN's hardware
variant, its three encoders exported to QONNX and executed by qonnx (the integer graphs the FPGA partitions
compute), the host part in PyTorch; calibrated on ``--calibration-frames`` training images.

The recipe (losses, schedule, clipping, binarization stages, data) is docs/training.md's.
"""
import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import torch

from bidrn_hw.train.loop import CHECKPOINT_NAME, TrainOptions, train, training_data
from training_args import add_training_arguments, recipe_options  # benchmarks/training_args.py

VARIANTS = ("fp", "bnn", "xnor", "dorefa", "bireal", "reactnet", "bidrn")
TABLE_ORDER = (*VARIANTS, "bidrn_hw")
REPO = Path(__file__).resolve().parent.parent
DEFAULT_RESULTS = REPO / "benchmarks" / "results" / "accuracy.json"
METRICS = ("mpvpe_mm", "pa_mpvpe_mm", "pa_mpjpe_mm", "mpvpe_hands_mm", "mpvpe_face_mm")


def command_line() -> str:
    return " ".join([".venv/bin/python", "benchmarks/accuracy.py", *sys.argv[1:]])


def gap_closed(variants: dict, key: str, model: str = "bidrn"):
    """(bnn - model) / (bnn - fp): 1 = as good as full precision, 0 = no better than BNN."""
    if not all(v in variants for v in ("fp", "bnn", model)):
        return None
    fp, bnn, m = (variants[v][key] for v in ("fp", "bnn", model))
    return None if abs(bnn - fp) < 1e-9 else round((bnn - m) / (bnn - fp), 3)


def ratios(metrics: dict, baseline: dict) -> dict:
    return {k: round(metrics[k] / baseline[k], 3) for k in METRICS if k in metrics and baseline.get(k)}


def acceptance(results: dict) -> dict:
    """The issue's targets, each with the numbers it was decided on (None: not measured yet)."""
    v, base = results.get("variants", {}), (results.get("mean_mesh") or {}).get("best", {})
    out = {}
    if "fp" in v and base:
        out["fp_mpvpe_le_0.5x_mean"] = v["fp"]["mpvpe_mm"] <= 0.5 * base["mpvpe_mm"]
        out["fp_pa_mpjpe_le_0.5x_mean"] = v["fp"]["pa_mpjpe_mm"] <= 0.5 * base["pa_mpjpe_mm"]
    if "bidrn" in v and base:
        out["bidrn_mpvpe_le_0.6x_mean"] = v["bidrn"]["mpvpe_mm"] <= 0.6 * base["mpvpe_mm"]
        others = [o for o in ("bnn", "xnor", "dorefa", "bireal", "reactnet") if o in v]
        out["bidrn_beats"] = {o: v["bidrn"]["mpvpe_mm"] < v[o]["mpvpe_mm"] for o in others}
    gap = gap_closed(v, "mpvpe_mm")
    if gap is not None:
        out["bidrn_gap_closed_ge_0.6"] = gap >= 0.6
    if "bidrn_hw" in v and "bidrn" in v:
        out["bidrn_hw_within_1pct"] = abs(v["bidrn_hw"]["mpvpe_mm"] / v["bidrn"]["mpvpe_mm"] - 1) <= 0.01
    return out


def update_results(path: Path, update, commit: bool = False, message: str = "") -> dict:
    """Read-modify-write ``path`` under a file lock; ``update(results)`` changes the dict in place. Derived
    fields (ratios, gaps, acceptance) are recomputed; keys keep the table's order, mean_mesh first."""
    from filelock import FileLock

    with FileLock(str(path) + ".lock"):
        results = json.loads(path.read_text()) if path.exists() else {}
        update(results)
        base = (results.get("mean_mesh") or {}).get("best")
        variants = results.get("variants", {})
        if base:
            for r in variants.values():
                r["ratio_to_mean_mesh"] = ratios(r, base)
        ordered = {"mean_mesh": results.get("mean_mesh"),
                   "variants": {k: variants[k] for k in TABLE_ORDER if k in variants}}
        ordered["bidrn_gap_closed_mpvpe"] = gap_closed(variants, "mpvpe_mm")
        ordered["bidrn_gap_closed_pa_mpjpe"] = gap_closed(variants, "pa_mpjpe_mm")
        ordered["bidrn_hw_gap_closed_mpvpe"] = gap_closed(variants, "mpvpe_mm", "bidrn_hw")
        ordered["acceptance"] = acceptance(ordered)
        for k, val in results.items():
            if k not in ordered:
                ordered[k] = val
        tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
        tmp.write_text(json.dumps(ordered, indent=1) + "\n")
        os.replace(tmp, path)
        if commit:
            git_commit(path, message)
    return ordered


def git_commit(path: Path, message: str, tries: int = 20) -> None:
    """``git add PATH; git commit -m MESSAGE -- PATH`` (only that file, whatever else is staged), retried while
    another process holds the index lock."""
    for attempt in range(tries):
        add = subprocess.run(["git", "add", str(path)], cwd=REPO, capture_output=True, text=True)
        if add.returncode == 0:
            done = subprocess.run(["git", "commit", "-m", message, "--", str(path)], cwd=REPO, capture_output=True,
                                  text=True)
            if done.returncode == 0 or "nothing to commit" in done.stdout + done.stderr:
                return
            err = done.stderr
        else:
            err = add.stderr
        if "index.lock" not in err:
            print(f"git commit of {path} failed: {err.strip()}", file=sys.stderr)
            return
        time.sleep(3 + attempt)
    print(f"git commit of {path} gave up (index.lock held)", file=sys.stderr)


def history_time(run_dir: Path) -> float | None:
    """Training seconds the run's checkpoint records (summed over the sessions that made it)."""
    from bidrn_hw.train.checkpoint import read_checkpoint

    path = run_dir / CHECKPOINT_NAME
    if not path.exists():
        return None
    hist = read_checkpoint(path).get("history") or []
    return hist[-1].get("time_s") if hist else None


def options(args, variant: str, out: Path, lr: float, steps: int, eval_frames: int, eval_every: int) -> TrainOptions:
    return TrainOptions(config="tiny", variant=variant, out=str(out), steps=steps, lr=lr, resume=True,
                        eval_frames=eval_frames, eval_every=eval_every, **recipe_options(args))


def sweep(args, variant: str, root: Path) -> dict:
    """Short runs at each candidate lr; the one with the lowest selection MPVPE wins."""
    from bidrn_hw.body.smplx_layer import BodyModel
    from bidrn_hw.train.checkpoint import load_model
    from bidrn_hw.train.evaluation import evaluate

    runs = {}
    body = BodyModel()
    for lr in args.sweep_lrs:
        run_dir = root / f"lr{lr:g}"
        opts = options(args, variant, run_dir, lr, args.sweep_steps, 0, 0)
        train(opts)
        selection = training_data(opts, split="test", size=args.selection_frames)
        net = load_model(run_dir / CHECKPOINT_NAME, "tiny", variant, with_body_model=False)
        m = evaluate(net, body, selection)
        runs[f"{lr:g}"] = {"lr": lr, "selection_mpvpe_mm": round(m["mpvpe_mm"], 3),
                           "time_s": history_time(run_dir)}
        print(json.dumps({"variant": variant, "sweep": runs[f"{lr:g}"]}), flush=True)
    finite = {k: r for k, r in runs.items() if r["selection_mpvpe_mm"] == r["selection_mpvpe_mm"]}
    best = min(finite.values(), key=lambda r: r["selection_mpvpe_mm"])
    return {"steps": args.sweep_steps, "selection_split": "test", "selection_frames": args.selection_frames,
            "runs": runs, "best_lr": best["lr"]}


def run_variant(args, variant: str, out: Path) -> dict:
    t0 = time.perf_counter()
    root = out / variant
    sweep_file = root / "sweep.json"
    if args.lr is not None:
        chosen = {"fixed_lr": args.lr, "best_lr": args.lr}
    elif sweep_file.exists():
        chosen = json.loads(sweep_file.read_text())
    else:
        chosen = sweep(args, variant, root / "sweep")
        sweep_file.write_text(json.dumps(chosen, indent=1))
    main_dir = root / "main"
    opts = options(args, variant, main_dir, chosen["best_lr"], args.steps, args.eval_frames, args.eval_every)
    summary, net = train(opts, return_net=True)
    sweep_s = sum((r.get("time_s") or 0) for r in chosen.get("runs", {}).values())
    main_s = history_time(main_dir)
    result = {**summary["metrics"], "steps": args.steps, "batch_size": args.batch_size, "lr": chosen["best_lr"],
              "lr_sweep": chosen, "final_loss": summary["final_loss"],
              "train_s": main_s, "sweep_s": round(sweep_s, 1), "wall_s": round((main_s or 0) + sweep_s, 1),
              "this_session_s": round(time.perf_counter() - t0, 1), "checkpoint": str(main_dir / CHECKPOINT_NAME),
              "learning_curve": str(main_dir / "learning_curve.png"), "command": command_line()}
    return result, net, opts


def hardware_row(args, net, opts, out: Path, float_metrics: dict) -> dict:
    from bidrn_hw.body.smplx_layer import BodyModel
    from bidrn_hw.train.evaluation import evaluate_hardware_qonnx

    t0 = time.perf_counter()
    calibration = training_data(opts)
    val = training_data(opts, split="val", size=args.eval_frames)
    hw = evaluate_hardware_qonnx(net, BodyModel(), calibration, val, out / "bidrn" / "qonnx",
                                 calibration_frames=args.calibration_frames, bits=args.residual_bits)
    hw["float_mpvpe_mm"] = float_metrics["mpvpe_mm"]
    hw["mpvpe_vs_float"] = round(hw["mpvpe_mm"] / float_metrics["mpvpe_mm"] - 1, 4)
    hw["steps"] = float_metrics["steps"]
    hw["wall_s"] = round(time.perf_counter() - t0, 1)
    hw["command"] = command_line()
    return hw


def mean_mesh(args, out: Path) -> dict:
    from bidrn_hw.body.smplx_layer import BodyModel
    from bidrn_hw.train.evaluation import mean_mesh_baseline

    t0 = time.perf_counter()
    opts = options(args, "fp", out / "mean_mesh", 0.0, 1, args.eval_frames, 0)
    base = mean_mesh_baseline(BodyModel(), training_data(opts), training_data(opts, split="val",
                              size=args.eval_frames), train_frames=args.mean_frames, frames=args.eval_frames)
    base.update(eval_frames=args.eval_frames, wall_s=round(time.perf_counter() - t0, 1), command=command_line())
    return base


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_training_arguments(parser)
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=VARIANTS)
    parser.add_argument("--out", default=str(REPO / "runs" / "accuracy"),
                        help="run directories (checkpoints to resume from; not in git)")
    parser.add_argument("--results", default=str(DEFAULT_RESULTS))
    parser.add_argument("--sweep-lrs", type=float, nargs="+", default=[1e-3, 3e-3])
    parser.add_argument("--sweep-steps", type=int, default=150)
    parser.add_argument("--selection-frames", type=int, default=64)
    parser.add_argument("--mean-frames", type=int, default=2048, help="training meshes averaged for the baseline")
    parser.add_argument("--residual-bits", type=int, default=8, help="hardware variant's residual stream width")
    parser.add_argument("--calibration-frames", type=int, default=8,
                        help="training images that calibrate the hardware variant's residual scales")
    parser.add_argument("--commit", action="store_true", help="git-commit the results file after each variant")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    out, results = Path(args.out), Path(args.results)
    out.mkdir(parents=True, exist_ok=True)
    recipe = {k: v for k, v in vars(args).items() if k not in ("variants", "out", "results", "commit", "progress")}

    existing = json.loads(results.read_text()) if results.exists() else {}
    if existing.get("recipe") != recipe:  # another recipe's table (or none): start a new one
        base = mean_mesh(args, out)

        def fresh(r):
            if r.get("recipe") == recipe:  # another process started this table meanwhile: keep its rows
                return
            r.clear()
            r.update(mean_mesh=base, variants={}, recipe=recipe)

        update_results(results, fresh, args.commit, "accuracy.json: new table, the mean-mesh baseline")
    for variant in args.variants:
        row, net, opts = run_variant(args, variant, out)

        def put(r, name=variant, row=row):
            r.setdefault("variants", {})[name] = row
            r["recipe"] = recipe
            r["resume"] = (f"checkpoints under {out} (not in git); rerun the variant's 'command' to continue or "
                           f"re-read an unfinished variant: finished runs are read back, unfinished ones resume "
                           f"from their last checkpoint")

        update_results(results, put, args.commit, f"accuracy.json: {variant} ({args.steps} steps)")
        print(json.dumps({variant: {k: row.get(k) for k in (*METRICS, "lr", "wall_s")}}), flush=True)
        if variant == "bidrn" and not args.no_hardware:
            hw = hardware_row(args, net, opts, out, row)
            update_results(results, lambda r: r.setdefault("variants", {}).__setitem__("bidrn_hw", hw),
                           args.commit, "accuracy.json: bidrn_hw through QONNX execution")
            print(json.dumps({"bidrn_hw": {k: hw.get(k) for k in (*METRICS, "mpvpe_vs_float")}}), flush=True)


if __name__ == "__main__":
    main()
