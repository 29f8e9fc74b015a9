"""CNV-w1a1 with FINN's published BNN-PYNQ Pynq-Z1 folding: Yosys-measured xc7z020 resources beside FINN's figure.

    python benchmarks/cnv_resources.py [--work build/cnv_resources] [--top] [--out benchmarks/results/cnv_resources.json]

Steps: export CNV-w1a1 (``bidrn_hw.flow.bnn_pynq``, seeded random weights), ``bidrn-hw compile`` with the preset
``bidrn_hw/flow/presets/cnv_w1a1_pynq.json`` (finn-examples' Pynq-Z1 folding renamed to our node names), then
Yosys ``synth_xilinx -family xc7`` of every layer out of context (``bidrn_hw.fpga.xilinx.measure_layers``, results
cached by a hash of sources + parameters + memory contents in ``--cache``). The total is the **sum of the layers**
(FIFOs and data-width converters included); ``--top`` also synthesizes the stitched top (long on a loaded
2-core machine). Prints one JSON object and writes it to ``--out``.

FINN's figure (BNN-PYNQ / finn-examples CNV-w1a1 on the Pynq-Z1, Vivado post-implementation): 30,605 LUTs,
140 BRAM36, at the same folding, whose slowest layer takes 32,768 cycles per frame.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FINN_PUBLISHED = {"LUT": 30605, "BRAM36": 140, "board": "Pynq-Z1 (xc7z020)", "cycles_per_frame": 32768,
                  "source": "FINN BNN-PYNQ / finn-examples CNV-w1a1 Pynq-Z1 build, as cited in issue 5"}


def build(work: Path) -> Path:
    from bidrn_hw.cli import main as cli
    from bidrn_hw.flow.bnn_pynq import export_bnn_pynq

    preset = ROOT / "bidrn_hw" / "flow" / "presets" / "cnv_w1a1_pynq.json"
    out = work / "cnv_pynq"  # compiled every run (seconds): the estimates beside the measurements stay current
    work.mkdir(parents=True, exist_ok=True)
    onnx = work / "cnv.onnx"
    if not onnx.is_file():
        export_bnn_pynq("cnv-w1a1", str(onnx))
    code = cli(["compile", str(onnx), "--out", str(out), "--folding", str(preset), "--part", "xc7z020",
                "--no-check", "--json"])
    if code != 0:
        sys.exit(f"compile failed with exit code {code}")
    return out


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--work", type=Path, default=ROOT / "build" / "cnv_resources")
    ap.add_argument("--cache", type=Path, default=ROOT / "build" / "synth_cache")
    ap.add_argument("--top", action="store_true", help="also synthesize the stitched top")
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "cnv_resources.json")
    args = ap.parse_args(argv)

    from bidrn_hw.fpga.xilinx import RESOURCES, _Synth, resources_from_cells
    from bidrn_hw.fpga.xilinx import measure_layers

    t0 = time.monotonic()
    d = build(args.work)
    est = json.loads((d / "estimates.json").read_text())
    load_before = os.getloadavg()
    rows = measure_layers(d, "xc7z020", cache_dir=args.cache)
    total = {r: sum(row["measured"][r] for row in rows) for r in RESOURCES}
    by_type: dict[str, dict] = {}
    for row in rows:
        t = by_type.setdefault(row["op_type"] or row["module"], {r: 0 for r in RESOURCES} | {"layers": 0})
        t["layers"] += 1
        for r in RESOURCES:
            t[r] += row["measured"][r]
    result = {
        "design": "cnv-w1a1", "folding": "bidrn_hw/flow/presets/cnv_w1a1_pynq.json", "part": "xc7z020",
        "tool": "yosys synth_xilinx -family xc7 -noiopad -noclkbuf, each layer out of context",
        "total_is": "sum of the layers",
        "cycles_per_frame": {"ours_estimated": est["cycles_per_frame"], "bottleneck": est["bottleneck"],
                             "finn": FINN_PUBLISHED["cycles_per_frame"]},
        "measured": total | {"BRAM36_equiv": total["BRAM_18K"] / 2},
        "estimated": {r: est["resources"][r] for r in RESOURCES},
        "finn_published": FINN_PUBLISHED,
        "lut_vs_finn": round(total["LUT"] / FINN_PUBLISHED["LUT"], 3),
        "by_type": by_type,
        "layers": [{"name": r["name"], "module": r["module"], "measured": r["measured"],
                    "estimate": r["estimate"], **({"same_as": r["same_as"]} if r.get("same_as") else {}),
                    "seconds": round(r["seconds"], 1)} for r in rows],
        "synth_seconds_uncached": round(sum(r["seconds"] for r in rows if not r.get("cached")), 1),
        "load_average_at_start": [round(x, 2) for x in load_before],
    }
    if args.top:
        syn = _Synth(d, "xc7z020", False)
        cells, secs = syn.run("top_accel_top", syn.design.top, {}, "yosys synth_xilinx xc7z020: top")
        result["top"] = {"measured": resources_from_cells(cells), "seconds": round(secs, 1)}
    result["seconds"] = round(time.monotonic() - t0, 1)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
