"""One frame of each `edge` partition through the compiled Verilator stream driver, bit-exact against FINN's
execution of the compiled graph; prints JSON (and writes it with --results).

    .venv/bin/python benchmarks/edge_sim.py [--work DIR] [--parts body_encoder,hand_encoder,face_encoder]
        [--results benchmarks/results/edge_sim.json]

Each partition is auto-folded for edge's default target (frame_estimate.TARGETS: the ZCU104 = xczu7ev at
200 MHz, 200 whole frames/s, so a partition that runs k times a frame is folded for 200 k runs/s), compiled
(``compile_s``), its Verilator model built into an empty cache (``verilator_build_s``), and the first exported
frame simulated (``simulation_s``: the simulator process, from reset to the last output beat and the tail check;
``cycles_per_s`` over it). ``reference_s``: FINN's execution of hw.onnx on the same frame. ``bit_exact`` is
integer equality of every output value; ``matches_export`` compares with the exported QONNX outputs too.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

PARTS = ["body_encoder", "hand_encoder", "face_encoder"]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--work", help="work folder (kept; the export is reused when present)")
    ap.add_argument("--parts", default=",".join(PARTS))
    ap.add_argument("--stall", type=float, default=0.0)
    ap.add_argument("--results", help="also write the JSON here")
    args = ap.parse_args(argv)
    work = Path(args.work) if args.work else Path(tempfile.mkdtemp(prefix="bidrn-edgesim-"))
    work.mkdir(parents=True, exist_ok=True)
    cache = Path(tempfile.mkdtemp(prefix="bidrn-edgesim-cache-"))
    os.environ["BIDRN_HW_CACHE"] = str(cache)  # an empty Verilator cache: the build is timed

    import numpy as np

    from bidrn_hw.cli import main as cli_main
    from bidrn_hw.commands.simulate import _to_stream, reference_outputs
    from bidrn_hw.flow.build import compile_partition
    from bidrn_hw.flow.frame_estimate import PARTS as RUNS, TARGETS
    from bidrn_hw.rtl_sim import accelerator, compiled

    part, fclk, goal_fps = TARGETS["edge"]
    result = {"command": "benchmarks/edge_sim.py " + " ".join(argv if argv is not None else sys.argv[1:]),
              "date": time.strftime("%Y-%m-%d"), "part": part, "fclk_mhz": fclk, "frame_fps": goal_fps,
              "stall": args.stall, "partitions": {}}
    exp = work / "edge_export"
    t = time.time()
    if not (exp / PARTS[0] / "inputs.npy").exists():
        if cli_main(["export", "--config", "edge", "--out", str(exp), "--frames", "1"]) != 0:
            raise SystemExit("export of the edge config failed")
    result["export_s"] = round(time.time() - t, 1)
    try:
        for name in args.parts.split(","):
            entry = {"runs_per_frame": RUNS[name], "target_fps": goal_fps * RUNS[name]}
            build = work / f"build_{name}"
            t = time.time()
            compile_partition(exp / name / "model.onnx", build, target_fps=entry["target_fps"], fclk_mhz=fclk,
                              part=part, force=True)
            entry["compile_s"] = round(time.time() - t, 1)
            accel = accelerator.load_design(build)
            t = time.time()
            compiled.build(accelerator.sources(build), accel)
            entry["verilator_build_s"] = round(time.time() - t, 1)
            x = np.load(exp / name / "inputs.npy")
            x = x.reshape(-1, *x.shape[-3:])[:1]  # the first frame (of the first crop, for the hands)
            frames = _to_stream(x, accel["inputs"][0])
            sim = accelerator.simulate(build, [frames], stall=args.stall)
            t = time.time()
            expected, _, _ = reference_outputs(build, frames)
            entry["reference_s"] = round(time.time() - t, 1)
            produced = sim["outputs"][0]
            entry["bit_exact"] = bool(np.array_equal(produced, expected.reshape(produced.shape)))
            exported = np.load(exp / name / "outputs.npy")
            rtl = produced.transpose(0, 3, 1, 2) if produced.ndim == 4 else produced
            exported = exported.reshape(-1, *rtl.shape[1:])[:1]
            entry["matches_export"] = bool(np.array_equal(rtl, exported))
            entry["cycles"] = sim["cycles"]
            entry["estimated_cycles_per_frame"] = accel.get("estimated_cycles_per_frame")
            entry["simulation_s"] = round(sim["simulation_s"], 2)
            entry["cycles_per_s"] = round(sim["cycles"] / sim["simulation_s"])
            entry["layers"] = len(accel.get("layers", []))
            result["partitions"][name] = entry
            print(json.dumps({name: entry}), file=sys.stderr, flush=True)
    finally:
        shutil.rmtree(cache, ignore_errors=True)
        if not args.work:
            shutil.rmtree(work, ignore_errors=True)
    result["bit_exact"] = all(e["bit_exact"] for e in result["partitions"].values())
    text = json.dumps(result, indent=1)
    print(text)
    if args.results:
        Path(args.results).write_text(text + "\n")
    return 0 if result["bit_exact"] else 1


if __name__ == "__main__":
    sys.exit(main())
