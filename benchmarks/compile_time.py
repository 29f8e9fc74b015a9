"""Compile time and estimated performance of BiDRN's FPGA partitions; prints one JSON object.

For each config (default: edge on the ZCU104 = xczu7ev, paper on the Alveo U250 = xcu250, both at 200 MHz):
export the three encoder partitions (body, hand, face) to QONNX, lower each to FINN HW layers (per-pass
seconds recorded, so a dominating FINN pass is named), fold them automatically for a common frame rate and
estimate. One frame needs the body and the face encoder once and the hand encoder twice (both hands), so
the hand partition is folded for twice the frame rate. The three pipelines share the device: the frame
rate starts at the fastest all three can reach (each fully parallel; FINN's two-pass relaxation) and drops
by 1.25x until the summed estimated resources fit the budget.

    .venv/bin/python benchmarks/compile_time.py [--configs edge,paper] [--fusion on,off] [--timeout-s 900] [--out DIR]

``--fusion``: each config is compiled with residual fusion on (``flow.fuse_residual``: each residual add and
its requantization fused into the MVAU feeding it) and/or off (the unfused graph), reported side by side as
``configs[config]["fused"]`` / ``["unfused"]`` with a ``comparison`` (frame rate, LUTs at the goal rate,
balance, seconds).

Where the LUTs go: ``lut_breakdown`` (the chosen folding) and ``at_goal_fps.lut_breakdown`` (the goal's
folding; ``lut_breakdown_by_partition`` per encoder) split the estimated LUTs by layer kind and by component
(compute, threshold search/lines, threshold tables, weight memories, buffers, FIFOs, width converters,
control; ``bidrn_hw/flow/lut_breakdown.py``).

Each config runs in a child process with a wall-clock limit (``--timeout-s``): a pass that does not finish
is reported with the pass it was in, not waited for. Seconds are wall time on this machine.
"""
from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import signal
import sys
import tempfile
import time
import traceback
from pathlib import Path


def run_config(config: str, out: Path, progress) -> dict:
    from bidrn_hw.flow.frame_estimate import estimate_config

    return estimate_config(config, out, progress=lambda message: progress(("stage", message)))


def _child(config, out, queue, fusion="on"):
    from bidrn_hw.flow import fuse_residual

    os.environ[fuse_residual.ENV] = "1" if fusion == "on" else "0"
    os.setpgrp()  # its own process group: a timeout stops its lowering workers too (they outlived it before)
    try:
        queue.put(("result", run_config(config, Path(out), queue.put)))
    except BaseException as exc:  # reported to the parent, which prints JSON
        queue.put(("error", f"{type(exc).__name__}: {exc}", traceback.format_exc(limit=3)))


def _run(config: str, fusion: str, work: Path, timeout_s: float) -> dict:
    """One config in a child process (fusion on/off), with the wall-clock limit."""
    work.mkdir(parents=True, exist_ok=True)
    queue = mp.Queue()
    proc = mp.Process(target=_child, args=(config, str(work), queue, fusion))
    start = time.time()
    proc.start()
    stage, outcome = "start", None
    while time.time() - start < timeout_s:
        try:
            msg = queue.get(timeout=1.0)
        except Exception:
            if not proc.is_alive():
                break
            continue
        if msg[0] == "stage":
            stage = msg[1]
            print(f"[{config} fusion {fusion} {time.time() - start:7.1f} s] {stage}", file=sys.stderr, flush=True)
        else:
            outcome = msg
            break
    if outcome is None:
        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.killpg(proc.pid, sig)
            except ProcessLookupError:
                break
            proc.join(5)
        return {"completed": False, "timed_out_after_s": round(time.time() - start, 1), "stage_when_stopped": stage}
    proc.join(5)
    if outcome[0] == "error":
        return {"completed": False, "error": outcome[1], "stage_when_stopped": stage,
                "seconds": round(time.time() - start, 1)}
    return {"completed": True, **outcome[1]}


def _compare(runs: dict) -> dict:
    """Fused vs unfused: the figures the issue asks for, where both completed."""
    def pick(r: dict) -> dict:
        goal = r.get("at_goal_fps") or {}
        return {"frame_fps": r.get("frame_fps"), "fits": r.get("fits"), "balance": r.get("balance"),
                "LUT": (r.get("resources") or {}).get("LUT"), "LUT_util": (r.get("utilization") or {}).get("LUT"),
                "LUT_at_goal": (goal.get("resources") or {}).get("LUT"),
                "LUT_util_at_goal": (goal.get("utilization") or {}).get("LUT"),
                "BRAM_18K_util_at_goal": (goal.get("utilization") or {}).get("BRAM_18K"),
                "seconds": (r.get("seconds") or {}).get("total")}

    return {k: pick(r) for k, r in runs.items() if r.get("completed")}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--configs", default="edge,paper")
    ap.add_argument("--fusion", default="on,off", help="residual fusion on, off or both (on,off)")
    ap.add_argument("--timeout-s", type=float, default=900.0, help="wall-clock limit per config and fusion")
    ap.add_argument("--out", default=None, help="work directory (default: a temporary one)")
    args = ap.parse_args(argv)
    work = Path(args.out or tempfile.mkdtemp(prefix="compile_time_"))
    work.mkdir(parents=True, exist_ok=True)
    report = {"machine_cpus": mp.cpu_count(), "loadavg_start": [round(x, 2) for x in os.getloadavg()], "configs": {}}
    for config in [c.strip() for c in args.configs.split(",") if c.strip()]:
        from bidrn_hw.flow.frame_estimate import TARGETS

        if config not in TARGETS:
            print(json.dumps({"error": f"unknown config {config}; known: {', '.join(TARGETS)}"}))
            return 2
        runs = {}
        for fusion in [f.strip() for f in args.fusion.split(",") if f.strip()]:
            key = {"on": "fused", "off": "unfused"}[fusion]
            runs[key] = _run(config, fusion, work / key, args.timeout_s)
        report["configs"][config] = {**runs, "comparison": _compare(runs)}
    report["loadavg_end"] = [round(x, 2) for x in os.getloadavg()]
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
