"""A compiled build directory as the FPGA back ends see it: ``accel.json`` + ``rtl/filelist.f``.

Also stages the sources for a tool run (:func:`stage_sources`): copies of every source in a work folder,
with string literals that name an existing file by absolute path (the ``$readmemh`` files the stitcher
passes as parameters) rewritten relative to the tool's working directory; see ``tools.py`` for why the
YoWASP tools cannot open absolute paths under ``/tmp``.
"""
from __future__ import annotations

import json
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import InputFileError
from .tools import tool_path

_STRING_RE = re.compile(r'"(/[^"\n]+)"')


@dataclass
class Stream:
    name: str
    tdata_bits: int


@dataclass
class Layer:
    name: str
    module: str
    instance: str | None
    op_type: str | None
    parameters: dict


@dataclass
class Design:
    dir: Path
    top: str
    clock: str
    reset: str
    inputs: list[Stream]
    outputs: list[Stream]
    layers: list[Layer]
    sources: list[Path]
    data_files: list[Path] = field(default_factory=list)
    accel: dict = field(default_factory=dict)


def _need(obj: dict, key: str, where: str):
    if key not in obj:
        raise InputFileError(f"{where}: missing key '{key}'")
    return obj[key]


def _streams(accel: dict, key: str, path: Path) -> list[Stream]:
    streams = []
    for i, s in enumerate(accel.get(key, [])):
        where = f"{path}: {key}[{i}]"
        name = _need(s, "name", where)
        bits = _need(s, "tdata_bits", where)
        if not isinstance(bits, int) or bits <= 0:
            raise InputFileError(f"{where}: tdata_bits must be a positive integer, got {bits!r}")
        streams.append(Stream(name=str(name), tdata_bits=bits))
    if not streams:
        raise InputFileError(f"{path}: '{key}' lists no stream")
    return streams


def read_filelist(rtl_dir: Path) -> list[Path]:
    """Source paths of ``rtl/filelist.f`` (one a line, relative to rtl/ or absolute; # comments allowed)."""
    flist = rtl_dir / "filelist.f"
    if not flist.is_file():
        raise InputFileError(f"{flist}: not found; the build directory has no RTL file list")
    sources = []
    for n, line in enumerate(flist.read_text().splitlines(), 1):
        line = line.split("#", 1)[0].strip()
        if not line or line.startswith("//"):
            continue
        p = Path(line)
        p = p if p.is_absolute() else rtl_dir / p
        if not p.is_file():
            raise InputFileError(f"{flist}:{n}: source {line} not found ({p})")
        sources.append(p.resolve())
    if not sources:
        raise InputFileError(f"{flist}: lists no source")
    return sources


def load_design(build_dir: Path | str) -> Design:
    """Read and check ``DIR/accel.json`` and ``DIR/rtl/filelist.f``."""
    d = Path(build_dir)
    if not d.is_dir():
        raise InputFileError(f"{d}: build directory not found")
    path = d / "accel.json"
    if not path.is_file():
        raise InputFileError(f"{path}: not found; is {d} a build directory written by `bidrn-hw compile`?")
    try:
        accel = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise InputFileError(f"{path}: not valid JSON ({exc})") from None
    if not isinstance(accel, dict):
        raise InputFileError(f"{path}: expected a JSON object")
    top = _need(accel, "top", str(path))
    layers = []
    for i, layer in enumerate(accel.get("layers", []) or []):
        where = f"{path}: layers[{i}]"
        layers.append(Layer(name=str(_need(layer, "name", where)), module=str(_need(layer, "module", where)),
                            instance=layer.get("instance"), op_type=layer.get("op_type"),
                            parameters=dict(layer.get("parameters", {}) or {})))
    rtl = d / "rtl"
    sources = read_filelist(rtl)
    data = sorted(p.resolve() for p in rtl.iterdir()
                  if p.is_file() and p.suffix not in (".sv", ".v", ".svh", ".vh", ".f") and p.resolve() not in sources)
    return Design(dir=d.resolve(), top=str(top), clock=str(accel.get("clock", "ap_clk")),
                  reset=str(accel.get("reset", "ap_rst_n")), inputs=_streams(accel, "inputs", path),
                  outputs=_streams(accel, "outputs", path), layers=layers, sources=sources, data_files=data,
                  accel=accel)


def rewrite_paths(text: str, mapping) -> str:
    """Replace string literals holding an absolute path of an existing file by ``mapping(path)``."""
    def sub(m: re.Match) -> str:
        p = Path(m.group(1))
        return f'"{mapping(p)}"' if p.is_file() else m.group(0)
    return _STRING_RE.sub(sub, text)


def stage_sources(design: Design, cwd: Path, sub: str = "src") -> list[Path]:
    """Copies of the sources under ``cwd/sub`` with absolute file paths made relative to ``cwd``."""
    dst = cwd / sub
    if dst.exists():
        shutil.rmtree(dst)
    dst.mkdir(parents=True)
    staged = []
    for i, src in enumerate(design.sources):
        # keep the order of filelist.f; prefix with the index so equal basenames do not collide
        out = dst / f"{i:03d}_{src.name}"
        out.write_text(rewrite_paths(src.read_text(errors="replace"), lambda p: tool_path(p, cwd)))
        staged.append(out)
    return staged


def source_aliases(design: Design, staged: list[Path], cwd: Path) -> dict[str, str]:
    """Staged source name (as the tool prints it) -> original path, for error messages."""
    return {tool_path(s, cwd): str(src) for s, src in zip(staged, design.sources)}


def tool_parameters(layer: Layer, cwd: Path) -> dict:
    """A layer's parameters with absolute file paths made relative to the tool's cwd."""
    out = {}
    for k, v in layer.parameters.items():
        if isinstance(v, str) and v.startswith("/") and Path(v).is_file():
            v = tool_path(v, cwd)
        out[k] = v
    return out
