"""Accuracy of every variant at the tiny config, trained with identical data, steps and seeds; prints JSON.

    .venv/bin/python benchmarks/accuracy.py [--steps N] [--variants fp bnn bidrn] [--out DIR]

Each variant trains from the same initial seed on the same cached synthetic samples in the same order, then
is evaluated on the same validation frames (a split it never saw). Reported per variant: MPVPE, PA-MPVPE,
PA-MPJPE, hands / face MPVPE (mm), the final training loss, steps/s; and the fraction of the BNN -> FP MPVPE
gap that BiDRN closes, ``(bnn - bidrn) / (bnn - fp)`` (1 = as good as full precision, 0 = no better than
BNN), also for PA-MPVPE.

After ``bidrn`` trains, its hardware variant (``bidrn_hw``: the same trained network with the body, hand and
face encoders replaced by their integer versions, ``bidrn_hw.model.hardware.to_hardware_network``: uint8
crops in, R-bit residual stream, thresholds; residual scales calibrated on the first ``--calibration-frames``
training images) is evaluated on the same validation frames, with its MPVPE beside the float model's.

The defaults (200 steps of batch 16 on 1024 samples per variant, 128 validation frames, one torch thread) take
about 10 minutes on this 2-core machine when it is otherwise lightly loaded; ``wall_s`` reports what it took.
Numbers come from the stand-in body model and synthetic renders at 128x96 after a few hundred steps: they
compare the variants with each other early in training, not with the paper's EHF figures.
"""
import argparse
import json
import shutil
import tempfile
import time
from pathlib import Path

import torch

from bidrn_hw.train.evaluation import evaluate_hardware_variant
from bidrn_hw.train.loop import TrainOptions, train, training_data
from training_args import add_training_arguments  # benchmarks/training_args.py (the script's folder is on sys.path)

VARIANTS = ("fp", "bnn", "xnor", "dorefa", "bireal", "reactnet", "bidrn")


def gap_closed(results: dict, key: str):
    if not all(v in results for v in ("fp", "bnn", "bidrn")):
        return None
    fp, bnn, bidrn = (results[v][key] for v in ("fp", "bnn", "bidrn"))
    if abs(bnn - fp) < 1e-9:
        return None
    return round((bnn - bidrn) / (bnn - fp), 3)


def hardware_variant(net, opts: TrainOptions, args, float_metrics: dict) -> dict:
    """The trained BiDRN's hardware variant on the same validation frames, beside the float model."""
    from bidrn_hw.body.smplx_layer import BodyModel

    t0 = time.perf_counter()
    calibration = training_data(opts)
    val = training_data(opts, split="val", size=opts.eval_frames)
    hw = evaluate_hardware_variant(net, BodyModel(), calibration, val, calibration_frames=args.calibration_frames,
                                   bits=args.residual_bits)
    hw["float_mpvpe_mm"] = float_metrics.get("mpvpe_mm")
    hw["float_pa_mpvpe_mm"] = float_metrics.get("pa_mpvpe_mm")
    if hw["float_mpvpe_mm"] is not None:
        hw["mpvpe_increase_mm"] = round(hw["mpvpe_mm"] - hw["float_mpvpe_mm"], 3)
        hw["pa_mpvpe_increase_mm"] = round(hw["pa_mpvpe_mm"] - hw["float_pa_mpvpe_mm"], 3)
    hw["wall_s"] = round(time.perf_counter() - t0, 1)
    return hw


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_training_arguments(parser)
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=VARIANTS)
    parser.add_argument("--out", default=None, help="keep the runs here (default: a temporary folder)")
    parser.add_argument("--residual-bits", type=int, default=8, help="hardware variant's residual stream width")
    parser.add_argument("--calibration-frames", type=int, default=8,
                        help="training images that calibrate the hardware variant's residual scales")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    out = Path(args.out) if args.out else Path(tempfile.mkdtemp(prefix="bidrn-accuracy-"))
    t_all = time.perf_counter()
    results, hardware = {}, None
    try:
        for variant in args.variants:
            run_dir = out / variant
            if run_dir.exists():
                shutil.rmtree(run_dir)
            t0 = time.perf_counter()
            opts = TrainOptions(config="tiny", variant=variant, out=str(run_dir), steps=args.steps,
                                batch_size=args.batch_size, lr=args.lr, seed=args.seed,
                                train_size=args.train_size, eval_frames=args.eval_frames,
                                cache_dir=args.cache_dir, progress=args.progress)
            r, net = train(opts, return_net=True)
            results[variant] = {**r["metrics"], "final_loss": round(r["final_loss"], 4),
                                "steps_per_s": r["steps_per_s"], "wall_s": round(time.perf_counter() - t0, 1)}
            if variant == "bidrn" and args.eval_frames > 0:
                hardware = hardware_variant(net, opts, args, results["bidrn"])
            if args.out:  # what is finished so far, in case a long run is interrupted
                (out / "partial.json").write_text(json.dumps({"variants": results, "bidrn_hw": hardware}, indent=1))
    finally:
        if not args.out:
            shutil.rmtree(out, ignore_errors=True)
    print(json.dumps({
        "config": "tiny", "steps": args.steps, "batch_size": args.batch_size, "train_size": args.train_size,
        "eval_frames": args.eval_frames, "seed": args.seed, "torch_threads": torch.get_num_threads(),
        "variants": results,
        "bidrn_gap_closed_mpvpe": gap_closed(results, "mpvpe_mm"),
        "bidrn_gap_closed_pa_mpvpe": gap_closed(results, "pa_mpvpe_mm"),
        "bidrn_hw": hardware,
        "bidrn_hw_gap_closed_mpvpe": gap_closed({**results, "bidrn": hardware}, "mpvpe_mm") if hardware else None,
        "wall_s": round(time.perf_counter() - t_all, 1),
    }, indent=1))


if __name__ == "__main__":
    main()
