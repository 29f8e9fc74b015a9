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
import os
import sys
import tempfile
import time
import traceback
from pathlib import Path


def run_config(config: str, out: Path, progress) -> dict:
    from bidrn_hw.flow.frame_estimate import estimate_config

    return estimate_config(config, out, progress=lambda message: progress(("stage", message)))


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
    report = {"machine_cpus": mp.cpu_count(), "loadavg_start": [round(x, 2) for x in os.getloadavg()], "configs": {}}
    for config in [c.strip() for c in args.configs.split(",") if c.strip()]:
        from bidrn_hw.flow.frame_estimate import TARGETS

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
    report["loadavg_end"] = [round(x, 2) for x in os.getloadavg()]
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
