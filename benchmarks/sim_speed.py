"""Simulation speed of stitched accelerators, both engines side by side (the compiled C++ stream driver and
Verilator + cocotb); prints JSON.

    .venv/bin/python benchmarks/sim_speed.py [--frames 4] [--designs tiny_body tiny_body_ecp5 cnv_pynq]
        [--engines compiled cocotb] [--command-frames 8]

Designs: the `tiny` body encoder with the default pixel folding (``tiny_body``) and auto-folded for the
ECP5-85F at 500 FPS / 50 MHz (``tiny_body_ecp5``, the bitstream's design), CNV-w1a1 with random weights and
FINN's Pynq-Z1 folding (``cnv_pynq``) or pixel folding (``cnv_pixel``: 512 x 512 XNORs a cycle, a Verilator
build of many minutes and ~50 simulated cycles/s, so not in the default set).

For each design and engine: compile it (not timed), build the Verilator model once (``build_s``, a cache
miss), then time complete `accelerator.simulate` runs with the build cached: ``one_frame_s`` (one frame, wall
time of the whole call: cache check, start-up, simulation), ``frames_s`` for ``--frames`` frames back to back,
simulated ``cycles_per_s`` over that run's simulation step (``simulation_s``: the simulator process(es) for the
compiled engine; cocotb's start-up included for cocotb), ``s_per_frame`` (marginal: the difference of the two
runs per extra frame), and the measured vs estimated cycles per frame. Both engines get the same frames and
must give the same outputs and cycle counts (checked: ``engines_agree``).

``simulate_command`` (the ECP5-folded tiny body encoder, the issue's acceptance): wall time of the whole
``bidrn-hw simulate B --frames N --stall 0.3 --json`` process with the Verilator build and FINN's reference
outputs cached (the second of two calls), and what it reports.
"""
import argparse
import contextlib
import io
import json
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from bidrn_hw.flow.build import compile_partition
from bidrn_hw.rtl_sim import accelerator, verilator


def _tiny_body(work: Path) -> Path:
    from bidrn_hw.cli import main as cli_main

    exp = work / "exp"
    if (exp / "body_encoder" / "model.onnx").exists():  # shared by tiny_body and tiny_body_ecp5
        return exp / "body_encoder" / "model.onnx"
    with contextlib.redirect_stdout(io.StringIO()):
        rc = cli_main(["export", "--config", "tiny", "--out", str(exp), "--frames", "1"])
    if rc != 0:
        raise SystemExit("export of the tiny config failed")
    return exp / "body_encoder" / "model.onnx"


def _cnv(work: Path) -> Path:
    from bidrn_hw.flow.bnn_pynq import export_bnn_pynq

    path = work / "cnv.onnx"
    if path.exists():
        return path
    export_bnn_pynq("cnv-w1a1", path, seed=0)
    return path


PRESET = Path(__file__).resolve().parents[1] / "bidrn_hw" / "flow" / "presets" / "cnv_w1a1_pynq.json"
ECP5 = {"target_fps": 500, "fclk_mhz": 50, "part": "ecp5-85k"}
# name: (model builder, compile_partition folding options)
DESIGNS = {"tiny_body": (_tiny_body, {}), "tiny_body_ecp5": (_tiny_body, ECP5),
           "cnv_pynq": (_cnv, {"folding": PRESET}), "cnv_pixel": (_cnv, {})}
DEFAULT = ["tiny_body", "tiny_body_ecp5", "cnv_pynq"]


def _frames(accel: dict, n: int) -> np.ndarray:
    s = accel["inputs"][0]
    lo = -(1 << (s["elem_bits"] - 1)) if s["elem_signed"] else 0
    hi = (1 << (s["elem_bits"] - (1 if s["elem_signed"] else 0))) - 1
    return np.random.default_rng(0).integers(lo, hi + 1, size=(n, *s["shape"][1:]))


def _run(build: Path, frames, engine: str) -> tuple[dict, float]:
    """One call; its result gets ``cpu_s``: CPU time of the simulator processes (both engines run the model in
    a child process), the figure that does not depend on what else the machine runs."""
    import resource

    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    r = accelerator.simulate(build, [frames], engine=engine)
    wall = time.perf_counter() - t0
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    r["cpu_s"] = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
    return r, wall


def measure(name: str, work: Path, frames: int, engines: list[str]) -> dict:
    make_model, options = DESIGNS[name]
    model = make_model(work)
    build = work / f"build_{name}"
    compile_partition(model, build, **options)
    accel = accelerator.load_design(build)
    one, many = _frames(accel, 1), _frames(accel, frames)
    out, runs = {"estimated_cycles_per_frame": accel.get("estimated_cycles_per_frame")}, {}
    for engine in engines:
        cache = Path(tempfile.mkdtemp(prefix="bidrn-simspeed-cache-"))
        old_cache = verilator.cache_root
        verilator.cache_root = lambda: cache  # a cold cache: the first run pays the build
        try:
            _, first = _run(build, one, engine)
            r1, one_s = _run(build, one, engine)
            rn, many_s = _run(build, many, engine)
        finally:
            verilator.cache_root = old_cache
            shutil.rmtree(cache, ignore_errors=True)
        runs[engine] = rn
        out[engine] = {"build_s": round(first - one_s, 2), "one_frame_s": round(one_s, 2), "frames": frames,
                       "frames_s": round(many_s, 2), "simulation_s": round(rn["simulation_s"], 2),
                       "cycles": rn["cycles"], "cycles_per_s": round(rn["cycles"] / rn["simulation_s"], 1),
                       "simulation_cpu_s": round(rn["cpu_s"], 2), "cycles_per_cpu_s": round(rn["cycles"] / rn["cpu_s"]),
                       "s_per_frame": round((many_s - one_s) / max(1, frames - 1), 3),
                       "cycles_per_frame": rn["cycles_per_frame"], "one_frame_cycles": r1["cycles"]}
    if len(runs) == 2:
        a, b = runs.values()
        out["engines_agree"] = bool(all(np.array_equal(x, y) for x, y in zip(a["outputs"], b["outputs"]))
                                    and a["frame_done_cycles"] == b["frame_done_cycles"])
        out["speedup"] = round(out[engines[0]]["cycles_per_s"] / out[engines[1]]["cycles_per_s"], 1)
    return out


def simulate_command(work: Path, frames: int) -> dict:
    """The whole `bidrn-hw simulate` process on the ECP5-folded tiny body encoder, build and reference cached."""
    import subprocess
    import sys

    build = work / "build_tiny_body_ecp5"
    if not (build / "accel.json").exists():
        compile_partition(_tiny_body(work), build, **ECP5)
    # `python -m bidrn_hw.cli` is the console script `bidrn-hw`, run from this checkout
    cmd = [sys.executable, "-m", "bidrn_hw.cli", "simulate", str(build), "--frames", str(frames),
           "--stall", "0.3", "--json"]
    runs = []
    for _ in range(2):  # the first call fills the caches
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True, check=True, cwd=Path(__file__).resolve().parents[1])
        runs.append((time.perf_counter() - t0, json.loads(proc.stdout)))
    (first_s, _), (wall, report) = runs
    return {"command": "bidrn-hw simulate B --frames %d --stall 0.3 --json" % frames, "first_call_s": round(first_s, 2),
            "wall_s": round(wall, 2), "report": report}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=4)
    parser.add_argument("--designs", nargs="+", default=DEFAULT, choices=list(DESIGNS))
    parser.add_argument("--engines", nargs="+", default=["compiled", "cocotb"], choices=["compiled", "cocotb"])
    parser.add_argument("--command-frames", type=int, default=8,
                        help="frames of the timed `bidrn-hw simulate` call (0: skip it)")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bidrn-simspeed-"))
    try:
        results = {name: measure(name, work, args.frames, args.engines) for name in args.designs}
        command = simulate_command(work, args.command_frames) if args.command_frames else None
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(json.dumps({"frames": args.frames, "engines": args.engines, "designs": results,
                      "simulate_command": command}, indent=1))


if __name__ == "__main__":
    main()
