"""CNV-w1a1, CNV-w1a2 and CNV-w2a2 (Brevitas bnn_pynq, random weights and BatchNorm statistics, seed 3) auto-folded
for FINN's BNN-PYNQ rate on the Pynq-Z1's part, through the command line (issue 21 item 5):

    bidrn-hw compile NET.onnx --out B --target-fps 3052 --fclk-mhz 100 --part xc7z020
    bidrn-hw simulate B --frames 2 --stall 0            (compiled engine: cycles per frame, bit-exact)
    Yosys synth_xilinx (xc7) of every layer out of context, summed (bidrn_hw.fpga.xilinx.measure_layers,
    what `bidrn-hw synth B --part xc7z020` does per layer): LUT, FF, RAMB18, DSP

FINN's hand folding of CNV-w1a1 for the Pynq-Z1 (bidrn_hw/flow/presets/cnv_w1a1_pynq.json) takes 32,768 cycles a
frame (3,052 frames/s at 100 MHz) and 30,605 LUTs; the goal is 4,500 frames/s.

    .venv/bin/python benchmarks/cnv_autofold.py [--nets cnv-w1a1,...] [--fps 3052] [--work DIR] [--no-synth]
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results" / "cnv_autofold.json"
CLI = [sys.executable, "-m", "bidrn_hw.cli"]
FINN = {"cycles_per_frame": 32_768, "fps_at_100mhz": 3052, "lut": 30_605}


def _cli(*args: str) -> dict:
    t = time.time()
    proc = subprocess.run([*CLI, *args, "--json"], capture_output=True, text=True, cwd=ROOT)
    if proc.returncode:
        raise SystemExit(f"{' '.join(args)}: exit {proc.returncode}: {proc.stdout[-2000:]} {proc.stderr[-2000:]}")
    out = json.loads([ln for ln in proc.stdout.splitlines() if ln.startswith("{")][-1])
    out["_seconds"] = round(time.time() - t, 1)
    return out


def run(net: str, fps: float, work: Path, synth: bool, reuse: bool) -> dict:
    from bidrn_hw.flow.bnn_pynq import export_bnn_pynq

    onnx, build = work / f"{net}.onnx", work / f"build-{net}"
    if not (reuse and onnx.exists()):
        export_bnn_pynq(net, onnx, seed=3)
    row: dict = {"network": net, "target_fps": fps, "fclk_mhz": 100.0, "part": "xc7z020"}
    if not (reuse and (build / "accel.json").exists()):
        comp = _cli("compile", str(onnx), "--out", str(build), "--target-fps", str(fps), "--fclk-mhz", "100",
                    "--part", "xc7z020", "--no-check", "--force")
        row["compile_s"] = comp["_seconds"]
    est = json.loads((build / "estimates.json").read_text())
    row.update(estimate_cycles_per_frame=est["cycles_per_frame"], estimate_fps=est["fps"],
               estimate_resources=est["resources"], fits=est["fits"])
    sim = _cli("simulate", str(build), "--frames", "2", "--stall", "0")
    row.update(simulated_cycles_per_frame=sim["cycles_per_frame"], bit_exact=sim["bit_exact"],
               simulated_fps=round(100e6 / sim["cycles_per_frame"], 1))
    if synth:  # every layer out of context (as benchmarks/results/cnv_resources.json), summed
        report = build / "yosys_layers.json"
        if not (reuse and report.exists()):
            from bidrn_hw.fpga.xilinx import RESOURCES, measure_layers

            t = time.time()
            layers = measure_layers(build, "xc7z020", cache_dir=work / "synth-cache")
            report.write_text(json.dumps({
                "total_is": "sum of the layers, each synthesized out of context (yosys synth_xilinx -family xc7)",
                "measured": {r: sum(ly["measured"].get(r, 0) for ly in layers) for r in RESOURCES},
                "seconds": round(time.time() - t, 1),
                "layers": [{k: ly[k] for k in ("name", "module", "measured", "estimate")} for ly in layers]}, indent=1))
        yosys = json.loads(report.read_text())
        row.update(yosys=yosys["measured"], yosys_total_is=yosys["total_is"], yosys_seconds=yosys["seconds"],
                   yosys_lut_below_finn=yosys["measured"]["LUT"] < FINN["lut"])
    row["meets_finn_rate"] = bool(row["estimate_fps"] >= fps and row["simulated_fps"] >= fps)
    return row


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--nets", default="cnv-w1a1,cnv-w1a2,cnv-w2a2")
    parser.add_argument("--fps", type=float, default=3052)
    parser.add_argument("--work", default="out/cnv_autofold")
    parser.add_argument("--no-synth", action="store_true")
    parser.add_argument("--reuse", action="store_true", help="keep existing exports, builds and synthesis reports")
    parser.add_argument("--results", default=str(RESULTS))
    args = parser.parse_args(argv)
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    rows = []
    for net in args.nets.split(","):
        rows.append(run(net, args.fps, work, not args.no_synth, args.reuse))
        print(json.dumps(rows[-1]), flush=True)
        if args.results:
            Path(args.results).write_text(json.dumps({
                "command": "benchmarks/cnv_autofold.py " + " ".join(argv if argv is not None else sys.argv[1:]),
                "finn_bnn_pynq": FINN, "rows": rows}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
