"""Compile time and estimated performance of BiDRN's FPGA partitions; prints one JSON object.

For each config (default: edge on the ZCU104 = xczu7ev, paper on the Alveo U250 = xcu250, both at 200 MHz):
export the three encoder partitions (body, hand, face) to QONNX, lower each to FINN HW layers (per-pass
seconds recorded, so a dominating FINN pass is named), fold them automatically for a common frame rate and
estimate. One frame needs the body and the face encoder once and the hand encoder twice (both hands), so
the hand partition is folded for twice the frame rate. The three pipelines share the device: the frame
rate starts at the fastest all three can reach (each fully parallel; FINN's two-pass relaxation) and drops
by 1.25x until the summed estimated resources fit the budget.

    .venv/bin/python benchmarks/compile_time.py [--configs edge,paper] [--timeout-s 900] [--out DIR]

Each config runs in a child process with a wall-clock limit (``--timeout-s``): a pass that does not finish
is reported with the pass it was in, not waited for. Seconds are wall time on this machine.
"""
from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import sys
import tempfile
import time
import traceback
from pathlib import Path

TARGETS = {"edge": ("xczu7ev", 200.0, 200.0), "paper": ("xcu250", 200.0, 1000.0), "tiny": ("ecp5-85k", 50.0, 100.0)}
PARTS = {"body_encoder": 1, "hand_encoder": 2, "face_encoder": 1}  # encoder runs per frame


def run_config(config: str, out: Path, progress) -> dict:
    from qonnx.core.modelwrapper import ModelWrapper

    from bidrn_hw.cli import main as cli_main
    from bidrn_hw.flow.estimates import estimate, total_resources
    from bidrn_hw.flow.fifos import InsertBranchFIFOs
    from bidrn_hw.flow.folding import (RESOURCE_KEYS, InsertDataWidthConverters, auto_fold, device_budget,
                                       min_cycles)
    from bidrn_hw.flow.lower import lower_to_hw

    part, fclk, goal_fps = TARGETS[config]
    device = device_budget(part)
    result = {"config": config, "part": device["name"], "fclk_mhz": fclk, "goal_fps": goal_fps, "seconds": {}}
    t0 = time.time()
    progress(("stage", "export"))
    exp = out / f"{config}_export"
    rc = cli_main(["export", "--config", config, "--out", str(exp), "--frames", "1"])
    if rc != 0:
        raise RuntimeError(f"export of {config} failed (exit {rc})")
    result["seconds"]["export"] = round(time.time() - t0, 2)

    lowered, passes = {}, {}
    for name in PARTS:
        t = time.time()
        times = []

        def log(line, times=times, name=name):
            times.append(line)
            progress(("stage", f"lower {name}: after {line}"))

        progress(("stage", f"lower {name}"))
        lowered[name] = lower_to_hw(ModelWrapper(str(exp / name / "model.onnx")), log=log)
        result["seconds"][f"lower_{name}"] = round(time.time() - t, 2)
        passes[name] = {ln.split(":")[0]: float(ln.split(":")[1].split(" s")[0]) for ln in times}
    slowest = {n: max(p.items(), key=lambda kv: kv[1]) for n, p in passes.items()}
    result["slowest_pass"] = {n: {"pass": p, "seconds": s} for n, (p, s) in slowest.items()}
    result["pass_seconds"] = passes

    # Joint frame rate: start at the fastest every partition reaches, relax until the sum fits.
    t = time.time()
    progress(("stage", "fold"))
    fastest_fps = min(fclk * 1e6 / min_cycles(m) / PARTS[n] for n, m in lowered.items())
    fps = fastest_fps
    zero = dict.fromkeys(RESOURCE_KEYS, 0)
    while True:
        folded, summaries, total = {}, {}, dict(zero)
        for name, model in lowered.items():
            folded[name], summaries[name] = auto_fold(model, fps * PARTS[name], fclk, part, estimate=lambda m: zero)
            res = total_resources(folded[name], device)
            total = {k: total[k] + res[k] for k in RESOURCE_KEYS}
        fits = all(total[k] <= device[k] for k in RESOURCE_KEYS)
        if fits or fps < 1:
            break
        fps /= 1.25
    result["seconds"]["fold"] = round(time.time() - t, 2)

    t = time.time()
    progress(("stage", "estimate"))
    parts_out, frame_fps, total = {}, None, dict(zero)
    for name, model in folded.items():
        model = model.transform(InsertBranchFIFOs()).transform(InsertDataWidthConverters())
        est = estimate(model, device, fclk, folding={"mode": "auto", **summaries[name]})
        total = {k: total[k] + est["resources"][k] for k in RESOURCE_KEYS}
        per_frame = est["fps"] / PARTS[name]
        frame_fps = per_frame if frame_fps is None else min(frame_fps, per_frame)
        parts_out[name] = {"runs_per_frame": PARTS[name], "fps": est["fps"], "cycles_per_frame": est["cycles_per_frame"],
                           "balance": est["balance"], "latency_cycles": est["latency_cycles"],
                           "bottleneck": est["bottleneck"], "layers": len(est["layers"]), "resources": est["resources"]}
    result["seconds"]["estimate"] = round(time.time() - t, 2)
    result["seconds"]["total"] = round(time.time() - t0, 2)
    result["seconds"]["compile_without_export"] = round(result["seconds"]["total"] - result["seconds"]["export"], 2)
    result.update({"frame_fps": round(frame_fps, 2), "fastest_frame_fps": round(fastest_fps, 2),
                   "goal_met": frame_fps >= goal_fps, "resources": total,
                   "budget": {k: device[k] for k in RESOURCE_KEYS},
                   "utilization": {k: round(total[k] / device[k], 3) if device[k] else None for k in RESOURCE_KEYS},
                   "fits": all(total[k] <= device[k] for k in RESOURCE_KEYS),
                   "balance": max(p["balance"] for p in parts_out.values()), "partitions": parts_out})
    return result


def _child(config, out, queue):
    try:
        queue.put(("result", run_config(config, Path(out), queue.put)))
    except BaseException as exc:  # reported to the parent, which prints JSON
        queue.put(("error", f"{type(exc).__name__}: {exc}", traceback.format_exc(limit=3)))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--configs", default="edge,paper")
    ap.add_argument("--timeout-s", type=float, default=900.0, help="wall-clock limit per config")
    ap.add_argument("--out", default=None, help="work directory (default: a temporary one)")
    args = ap.parse_args(argv)
    work = Path(args.out or tempfile.mkdtemp(prefix="compile_time_"))
    work.mkdir(parents=True, exist_ok=True)
    report = {"machine_cpus": mp.cpu_count(), "configs": {}}
    for config in [c.strip() for c in args.configs.split(",") if c.strip()]:
        if config not in TARGETS:
            print(json.dumps({"error": f"unknown config {config}; known: {', '.join(TARGETS)}"}))
            return 2
        queue = mp.Queue()
        proc = mp.Process(target=_child, args=(config, str(work), queue))
        start = time.time()
        proc.start()
        stage, outcome = "start", None
        while time.time() - start < args.timeout_s:
            try:
                msg = queue.get(timeout=1.0)
            except Exception:
                if not proc.is_alive():
                    break
                continue
            if msg[0] == "stage":
                stage = msg[1]
                print(f"[{config} {time.time() - start:7.1f} s] {stage}", file=sys.stderr, flush=True)
            else:
                outcome = msg
                break
        if outcome is None:
            proc.terminate()
            proc.join(5)
            if proc.is_alive():
                proc.kill()
            report["configs"][config] = {"completed": False, "timed_out_after_s": round(time.time() - start, 1),
                                         "stage_when_stopped": stage}
        elif outcome[0] == "error":
            proc.join(5)
            report["configs"][config] = {"completed": False, "error": outcome[1], "stage_when_stopped": stage,
                                         "seconds": round(time.time() - start, 1)}
        else:
            proc.join(5)
            report["configs"][config] = {"completed": True, **outcome[1]}
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
