"""The VVAU layers of a zoo build (e.g. MobileNet-v1 0.25's depthwise convolutions) against Yosys: each layer
synthesized out of context with ``synth_xilinx`` for the build's part (bidrn_hw.fpga.xilinx.measure_layers,
cached), its estimated LUTs (estimates.json) beside the measured ones.

    .venv/bin/python benchmarks/zoo_vvau_yosys.py out/zoo/mobilenet-v1-0.25-4b/build \
        [--part xc7z020] [--out benchmarks/results/zoo_mobilenet_vvau.json]
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("build")
    parser.add_argument("--part", default="xc7z020")
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "zoo_mobilenet_vvau.json"))
    parser.add_argument("--cache", default=str(ROOT / "build" / "synth_cache_zoo"))
    args = parser.parse_args(argv)
    from bidrn_hw.fpga.xilinx import measure_layers

    accel = json.loads((Path(args.build) / "accel.json").read_text())
    names = [ly["name"] for ly in accel["layers"] if ly.get("module") == "vvau"]
    rows = []
    for r in measure_layers(args.build, args.part, cache_dir=args.cache, names=names):
        lut, est = r["measured"].get("LUT", 0), (r["estimate"] or {}).get("LUT")
        err = None if not lut or est is None else round(est / lut - 1, 4)
        rows.append({"layer": r["name"], "lut_yosys": lut, "lut_estimate": est, "error": err,
                     "ff_yosys": r["measured"].get("FF"), "dsp_yosys": r["measured"].get("DSP"),
                     "parameters": next(ly["parameters"] for ly in accel["layers"] if ly["name"] == r["name"])})
        print(f"{r['name']}: Yosys {lut} LUT, estimate {est} ({'-' if err is None else f'{err:+.1%}'})", flush=True)
    total_y = sum(r["lut_yosys"] for r in rows)
    total_e = sum(r["lut_estimate"] or 0 for r in rows)
    worst = max((abs(r["error"]) for r in rows if r["error"] is not None), default=None)
    summary = {"command": " ".join(["benchmarks/zoo_vvau_yosys.py", *(argv or sys.argv[1:])]), "part": args.part,
               "layers": rows, "lut_yosys": total_y, "lut_estimate": total_e, "worst_abs_error": worst}
    Path(args.out).write_text(json.dumps(summary, indent=1))
    print(f"{len(rows)} VVAU layers: Yosys {total_y} LUT, estimate {total_e}; worst per-layer error "
          f"{'-' if worst is None else f'{worst:.1%}'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
