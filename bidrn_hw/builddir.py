"""Build directories: how bidrn-hw writes them, replaces them, and reads them back.

Writing (:class:`OutputDir`): every folder a command creates (``compile --out``, ``export --out``,
``vivado --out``) carries a marker file, :data:`MARKER`, naming the tool, its version, the command that made
it and the entries it made. A command writes into a temporary sibling folder and, only when everything
succeeded, moves it into place with SIGINT deferred (a new folder by one rename; an existing one of ours
by exchanging our entries, so the folder itself and the user's files in it stay), so a failed or
interrupted run (Ctrl-C included) leaves the previous folder exactly as it was. An existing folder is replaced only when it is ours (its
marker says so, same kind); a folder that is not ours and not empty is refused with a one-line error
unless ``force``, and even then only our own entries are ever removed: the user's files stay (a name of
theirs that collides with one of ours is refused, never overwritten).

Reading (:func:`load_design`): the one reader of a compiled build directory, used by simulation, synthesis,
the bitstream and the Vivado export. Every path in it is relative to the directory; ``accel.json``
``"files"`` records the sha256 of every file the compile wrote, and a file that is missing or changed
since is refused naming it. So a build directory copied or moved elsewhere works exactly as the original
(memory files are named relative to ``rtl/``; :func:`stage_sources` gives each tool copies of the sources
with those names resolved for it), and a tampered one is not used. Names that reach Tcl/Verilog are
checked by :mod:`bidrn_hw.names`.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import signal
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from . import __version__, names
from .errors import InputFileError, UsageError

MARKER = ".bidrn-hw.json"
ACCEL = "accel.json"
ACCEL_FORMAT_VERSION = 2  # 2: paths relative to the build directory, "files" manifest with sha256
SOURCE_SUFFIXES = (".sv", ".v", ".svh", ".vh")

_argv: list[str] | None = None


def set_command_line(argv: list[str] | None) -> None:
    """The command line recorded in markers (set by the CLI for each command it runs)."""
    global _argv
    _argv = list(argv) if argv is not None else None


def sha256_file(path: Path | str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


# ----------------------------------------------------------------------------------------------------------
# Writing: markers and safe replacement
# ----------------------------------------------------------------------------------------------------------
def read_marker(path: Path | str) -> dict | None:
    """The marker of a folder of ours, or None (no marker, or one that is not ours / not readable)."""
    f = Path(path) / MARKER
    try:
        data = json.loads(f.read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("tool") != "bidrn-hw" or not isinstance(data.get("entries"), list):
        return None
    return data


def _entries(path: Path) -> list[Path]:
    try:
        return sorted(path.iterdir())
    except OSError as exc:
        raise InputFileError(f"{path}: cannot list the folder ({exc.strerror})") from None


def _our_entries(path: Path, kind: str) -> set[str]:
    """Names in ``path`` that we made and may remove: those its marker lists when it is a ``kind`` folder
    (plus the marker), and sub-folders that carry a marker of ours themselves (e.g. DIR/vivado)."""
    marker = read_marker(path)
    ours = {MARKER} if marker is not None else set()
    if marker is not None and marker.get("kind") == kind:
        ours |= {str(e) for e in marker["entries"]}
    for e in _entries(path):
        if e.is_dir() and not e.is_symlink() and read_marker(e) is not None:
            ours.add(e.name)
    return ours


def check_output_dir(out: Path | str, kind: str, force: bool = False, option: str = "--out",
                     expected: tuple[str, ...] = ()) -> Path:
    """Refuse an output location we must not write to, before any work is done (see the module doc).
    ``expected``: names the command will write, refused early when a file of the user's has one of them."""
    out = Path(os.path.abspath(out))  # "." or "x/.." has no name to put a sibling beside
    if out.is_symlink() or (out.exists() and not out.is_dir()):
        raise UsageError(f"{option} {out}: exists and is not a folder; refusing to replace it")
    parent = out.parent if str(out.parent) else Path(".")
    probe = parent
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    if not probe.is_dir():
        raise UsageError(f"{option} {out}: {probe} is not a folder")
    for where in ([probe, out] if out.is_dir() else [probe]):
        try:  # really try (permissions, read-only mounts, root's /proc): os.access says yes to root
            os.rmdir(tempfile.mkdtemp(prefix=".bidrn-hw-probe-", dir=where))
        except OSError as exc:
            raise InputFileError(f"{option} {out}: cannot write in {where} ({exc.strerror})") from None
    if out.is_dir():
        marker = read_marker(out)
        foreign = [e for e in _entries(out) if e.name not in _our_entries(out, kind)]
        if marker is not None and marker.get("kind") != kind and not force:
            raise UsageError(f"{option} {out}: holds a bidrn-hw {marker.get('kind')} (made by "
                             f"`{marker.get('command', '?')}`), not the {kind} this command writes; refusing to "
                             f"replace it: choose another folder (--force adds the {kind}'s files beside it, "
                             f"removing nothing)")
        if marker is None and foreign and not force:
            older = " (a build of a bidrn-hw before markers? remove it yourself)" if (out / ACCEL).is_file() else ""
            raise UsageError(f"{option} {out}: not empty and not made by bidrn-hw (no {MARKER}){older}; refusing "
                             f"to write into it: choose a new or empty folder, or --force to add the {kind}'s "
                             f"files to it (nothing of yours is removed)")
        clash = sorted({e.name for e in foreign} & set(expected))
        if clash:
            raise UsageError(f"{option} {out}: {out / clash[0]} is not ours and the {kind} would overwrite it; "
                             f"move it away or choose another folder")
    return out


@contextlib.contextmanager
def _deferred_interrupt():
    """SIGINT (Ctrl-C) arriving inside the block is delivered when it ends (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    got = []
    previous = signal.signal(signal.SIGINT, lambda *_: got.append(True))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    if got:
        raise KeyboardInterrupt


class OutputDir:
    """``with OutputDir(out, "compile", force) as tmp:`` write into ``tmp``; on success it becomes ``out``.

    The check runs at construction (before the slow work). On an exception or KeyboardInterrupt inside the
    block, ``tmp`` is removed and ``out`` is untouched."""

    def __init__(self, out: Path | str, kind: str, force: bool = False, command: str | None = None,
                 option: str = "--out", expected: tuple[str, ...] = ()):
        self.out = check_output_dir(out, kind, force, option, expected)
        self.kind, self.force, self.option = kind, force, option
        self.command = command or kind
        self.tmp: Path | None = None

    def __enter__(self) -> Path:
        try:
            self.out.parent.mkdir(parents=True, exist_ok=True)
            self.tmp = Path(tempfile.mkdtemp(prefix=f".{self.out.name}.tmp-", dir=self.out.parent))
        except OSError as exc:
            raise InputFileError(f"{self.option} {self.out}: cannot create it ({exc.strerror})") from None
        return self.tmp

    def __exit__(self, exc_type, exc, tb):
        try:
            if exc_type is None:
                self._commit()
        finally:
            if self.tmp is not None and self.tmp.exists():
                shutil.rmtree(self.tmp, ignore_errors=True)
        return False

    def _marker(self, entries: list[str]) -> dict:
        argv = _argv if _argv is not None else sys.argv[1:]
        return {"tool": "bidrn-hw", "version": __version__, "kind": self.kind,
                "command": f"bidrn-hw {' '.join(argv)}" if _argv is not None else self.command,
                "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "entries": entries}

    def _commit(self) -> None:
        tmp, out = self.tmp, self.out
        entries = sorted(p.name for p in tmp.iterdir() if p.name != MARKER)
        (tmp / MARKER).write_text(json.dumps(self._marker(entries), indent=2) + "\n")
        with _deferred_interrupt():
            if not out.exists():
                os.rename(tmp, out)
                return
            check_output_dir(out, self.kind, self.force, self.option)  # again: it may have changed meanwhile
            ours = _our_entries(out, self.kind)
            foreign = [e for e in _entries(out) if e.name not in ours]
            clash = [e.name for e in foreign if (tmp / e.name).exists() or e.name == MARKER]
            if clash:
                raise UsageError(f"{self.option} {out}: {out / clash[0]} is not ours and the {self.kind} would "
                                 f"overwrite it; move it away or choose another folder")
            # only our own entries are exchanged, one by one: the user's files stay where they are, and the folder
            # itself (its permissions, a shell's working directory in it) is kept
            trash = Path(tempfile.mkdtemp(prefix=f".{out.name}.old-", dir=out.parent))
            for name in sorted(ours):
                if (out / name).exists() or (out / name).is_symlink():
                    os.rename(out / name, trash / name)
            for e in sorted(tmp.iterdir()):
                os.rename(e, out / e.name)
            shutil.rmtree(trash, ignore_errors=True)


def reject_output_inside_input(out: Path | str, inputs: list[Path | str], option: str = "--out") -> None:
    """Refuse an output folder that is (or contains) one of the inputs: replacing it would delete them."""
    o = Path(out).resolve()
    for p in inputs:
        q = Path(p).resolve()
        if q == o or o in q.parents:
            raise UsageError(f"{option} {out}: it holds the input {p}; choose another folder")


# ----------------------------------------------------------------------------------------------------------
# Sealing and reading a compiled build directory
# ----------------------------------------------------------------------------------------------------------
def manifest(build_dir: Path | str, skip=(ACCEL, MARKER)) -> dict[str, str]:
    """sha256 of every file under ``build_dir`` (relative POSIX paths), except accel.json and the marker."""
    d = Path(build_dir)
    out = {}
    for p in sorted(d.rglob("*")):
        rel = p.relative_to(d).as_posix()
        if p.is_file() and rel not in skip:
            out[rel] = sha256_file(p)
    return out


def seal(build_dir: Path | str, accel: dict | None = None) -> dict:
    """Record the format and the manifest in ``DIR/accel.json`` (``accel``, or the file's own contents)."""
    d = Path(build_dir)
    if accel is None:
        accel = json.loads((d / ACCEL).read_text())
    accel = {**accel, "format": ACCEL_FORMAT_VERSION, "bidrn_hw_version": __version__, "files": manifest(d)}
    (d / ACCEL).write_text(json.dumps(accel, indent=2))
    return accel


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
class Build:
    """A checked build directory: ``accel.json`` with every file it lists present and unchanged."""

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

    @property
    def data_names(self) -> dict[str, Path]:
        """Memory/data files of rtl/ by the name the sources and parameters use for them."""
        return {p.name: p for p in self.data_files}

    def file(self, rel: str) -> Path:
        return self.dir / rel


def _need(obj, key: str, where: str):
    if not isinstance(obj, dict):
        raise InputFileError(f"{where}: expected a JSON object, got {type(obj).__name__}")
    if key not in obj:
        raise InputFileError(f"{where}: missing key '{key}'")
    return obj[key]


def _positive_int(value, where: str, lo: int = 1, hi: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < lo or (hi is not None and value > hi):
        rng = f"{lo}..{hi}" if hi is not None else f">= {lo}"
        raise InputFileError(f"{where}: expected an integer {rng}, got {value!r}")
    return value


def _relative(d: Path, rel, where: str) -> Path:
    """``d/rel`` for a relative POSIX path that stays inside ``d``; refused otherwise."""
    if not isinstance(rel, str) or not rel or "\\" in rel or "\x00" in rel:
        raise InputFileError(f"{where}: {rel!r} is not a relative file path")
    pure = PurePosixPath(rel)
    if pure.is_absolute() or ".." in pure.parts:
        raise InputFileError(f"{where}: {rel!r} is not inside the build directory (paths in a build directory are "
                             f"relative to it; recompile a build made by an older version)")
    p = d / pure
    try:
        inside = p.resolve().is_relative_to(d.resolve())
    except OSError:
        inside = False
    if not inside:
        raise InputFileError(f"{where}: {rel!r} leads outside the build directory")
    return p


def _streams(accel: dict, key: str, path: Path) -> list[Stream]:
    raw = accel.get(key)
    if not isinstance(raw, list) or not raw:
        raise InputFileError(f"{path}: '{key}' lists no stream")
    streams = []
    for i, s in enumerate(raw):
        where = f"{path}: {key}[{i}]"
        name = names.identifier(_need(s, "name", where), f"{where}.name")
        bits = _positive_int(_need(s, "tdata_bits", where), f"{where}.tdata_bits", 1, 1 << 16)
        if "shape" in s:
            if not isinstance(s["shape"], list) or not s["shape"]:
                raise InputFileError(f"{where}.shape: expected a list of positive integers, got {s['shape']!r}")
            for k, n in enumerate(s["shape"]):
                _positive_int(n, f"{where}.shape[{k}]")
        for k, hi in (("elem_bits", 64), ("elems_per_beat", 1 << 16), ("beats_per_frame", 1 << 40)):
            if k in s:
                _positive_int(s[k], f"{where}.{k}", 1, hi)
        if "elem_signed" in s and not isinstance(s["elem_signed"], bool):
            raise InputFileError(f"{where}.elem_signed: expected true or false, got {s['elem_signed']!r}")
        if "datatype" in s:
            names.identifier(s["datatype"], f"{where}.datatype")
        streams.append(Stream(name=name, tdata_bits=bits))
    return streams


def _parameters(raw, where: str, data: dict[str, Path]) -> dict:
    if not isinstance(raw, dict):
        raise InputFileError(f"{where}: expected a JSON object of parameters")
    out = {}
    for k, v in raw.items():
        names.identifier(k, f"{where} name")
        if isinstance(v, str):
            names.word(v, f"{where}.{k}")
        elif isinstance(v, float) and v != v:
            raise InputFileError(f"{where}.{k}: NaN is not a parameter value")
        elif not isinstance(v, (bool, int, float)):
            raise InputFileError(f"{where}.{k}: expected a number or a string, got {type(v).__name__}")
        out[k] = v
    return out


def load_design(build_dir: Path | str) -> Build:
    """Read and check ``DIR/accel.json``, every file its manifest lists, and ``DIR/rtl/filelist.f``."""
    d = Path(build_dir)
    if not d.is_dir():
        raise InputFileError(f"{d}: build directory not found" if not d.exists() else f"{d}: not a folder")
    path = d / ACCEL
    if not path.is_file():
        raise InputFileError(f"{path} not found: is {d} a build directory written by `bidrn-hw compile` "
                             f"(bidrn-hw compile MODEL --out {d})?")
    try:
        accel = json.loads(path.read_text())
    except (ValueError, UnicodeDecodeError) as exc:
        raise InputFileError(f"{path} is not valid JSON ({exc})") from None
    except OSError as exc:
        raise InputFileError(f"{path}: cannot read it ({exc.strerror})") from None
    if not isinstance(accel, dict):
        raise InputFileError(f"{path}: expected a JSON object")
    if accel.get("format") != ACCEL_FORMAT_VERSION:
        raise InputFileError(f"{path} has format {accel.get('format')!r} (written by bidrn-hw "
                             f"{accel.get('bidrn_hw_version', '?')}); this version reads format "
                             f"{ACCEL_FORMAT_VERSION}: recompile the design")
    files = accel.get("files")
    if not isinstance(files, dict) or not files:
        raise InputFileError(f"{path}: no 'files' manifest; recompile the design")
    for rel, digest in files.items():
        p = _relative(d, rel, f"{path}: files")
        if not p.is_file():
            raise InputFileError(f"{p} is missing (accel.json lists it): the build directory is incomplete; "
                                 f"restore it or recompile")
        if not isinstance(digest, str) or sha256_file(p) != digest:
            raise InputFileError(f"{p} changed since compile (its sha256 differs from accel.json's); restore it "
                                 f"or recompile")
    top = names.identifier(_need(accel, "top", str(path)), f"{path}: top")
    clock = names.identifier(accel.get("clock", "ap_clk"), f"{path}: clock")
    reset = names.identifier(accel.get("reset", "ap_rst_n"), f"{path}: reset")
    inputs, outputs = _streams(accel, "inputs", path), _streams(accel, "outputs", path)
    rtl = d / "rtl"
    data = sorted(d / rel for rel in files
                  if rel.startswith("rtl/") and rel.count("/") == 1 and not rel.endswith((*SOURCE_SUFFIXES, ".f")))
    data_names = {p.name: p for p in data}
    layers = []
    raw_layers = accel.get("layers", []) or []
    if not isinstance(raw_layers, list):
        raise InputFileError(f"{path}: 'layers' must be a list")
    for i, layer in enumerate(raw_layers):
        where = f"{path}: layers[{i}]"
        inst = layer.get("instance") if isinstance(layer, dict) else None
        layers.append(Layer(name=names.identifier(_need(layer, "name", where), f"{where}.name"),
                            module=names.identifier(_need(layer, "module", where), f"{where}.module"),
                            instance=None if inst is None else names.identifier(inst, f"{where}.instance"),
                            op_type=layer.get("op_type"),
                            parameters=_parameters(layer.get("parameters", {}) or {}, f"{where}.parameters",
                                                   data_names)))
    weights = accel.get("weights")
    if weights:
        wfile = _need(weights, "file", f"{path}: weights")
        if wfile not in files:
            raise InputFileError(f"{path}: weights file {wfile!r} is not in the 'files' manifest")
        names.identifier(_need(weights, "name", f"{path}: weights"), f"{path}: weights.name")
        _positive_int(_need(weights, "words", f"{path}: weights"), f"{path}: weights.words", 0)
        _positive_int(_need(weights, "word_bits", f"{path}: weights"), f"{path}: weights.word_bits", 1, 64)
    sources = read_filelist(rtl, files)
    if not any(p.stem == top for p in sources):
        raise InputFileError(f"{rtl / 'filelist.f'}: no source of the top module {top} ({top}.sv)")
    return Build(dir=d.resolve(), top=top, clock=clock, reset=reset, inputs=inputs, outputs=outputs, layers=layers,
                 sources=[p.resolve() for p in sources], data_files=[p.resolve() for p in data], accel=accel)


def read_filelist(rtl_dir: Path, files: dict | None = None) -> list[Path]:
    """Sources of ``rtl/filelist.f`` (one a line, relative to rtl/; # comments allowed), each in the manifest."""
    flist = rtl_dir / "filelist.f"
    if not flist.is_file():
        raise InputFileError(f"{flist} not found: the build directory has no RTL file list (recompile it)")
    sources = []
    for n, line in enumerate(flist.read_text(errors="replace").splitlines(), 1):
        line = line.split("#", 1)[0].strip()
        if not line or line.startswith("//"):
            continue
        p = _relative(rtl_dir, line, f"{flist}:{n}")
        rel = p.relative_to(rtl_dir.parent).as_posix()
        if not p.is_file():
            raise InputFileError(f"{flist}:{n}: source {line} not found ({p})")
        if files is not None and rel not in files:
            raise InputFileError(f"{flist}:{n}: source {line} is not in accel.json's 'files' manifest")
        sources.append(p)
    if not sources:
        raise InputFileError(f"{flist}: lists no source")
    return sources


_STRING_RE = re.compile(r'"([^"\n]*)"')


def rewrite_data_names(text: str, data_names: dict[str, Path], mapping) -> str:
    """String literals naming a data file of the build (e.g. ``"MVAU_0_weights.mem"``) -> ``mapping(path)``."""
    def sub(m: re.Match) -> str:
        p = data_names.get(m.group(1))
        return f'"{mapping(p)}"' if p is not None else m.group(0)
    return _STRING_RE.sub(sub, text)


def stage_sources(build: Build, dest: Path, mapping=lambda p: str(p)) -> list[Path]:
    """Copies of the sources under ``dest`` (filelist order, index-prefixed names) with the data files they
    name resolved by ``mapping`` (default: the file's absolute path in the build directory)."""
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    staged = []
    names_ = build.data_names
    for i, src in enumerate(build.sources):
        # (a header keeps its name: the sources `include it by that name)
        out = dest / (src.name if src.suffix in (".svh", ".vh") else f"{i:03d}_{src.name}")
        out.write_text(rewrite_data_names(src.read_text(errors="replace"), names_, mapping))
        staged.append(out)
    return staged


def resolved_parameters(build: Build, layer: Layer, mapping=lambda p: str(p)) -> dict:
    """A layer's parameters with data file names resolved by ``mapping``."""
    data = build.data_names
    return {k: (mapping(data[v]) if isinstance(v, str) and v in data else v) for k, v in layer.parameters.items()}


def _data_copy(build: Build) -> Path:
    """The build's memory files copied into the cache under a name made of their sha256 alone
    (``$BIDRN_HW_CACHE/data/<hash>``): a build and its copies anywhere name the same files, so their sources
    are identical and share one Verilator model; a changed file makes another folder (and model)."""
    # lazy: rtl_sim.verilator imports layers (qonnx, onnx); builddir stays light for the CLI
    from .rtl_sim.verilator import cache_root

    files = build.accel["files"]
    digests = sorted((p.name, files[p.relative_to(build.dir).as_posix()]) for p in build.data_files)
    key = hashlib.sha256(json.dumps(digests).encode()).hexdigest()[:24]
    dest = cache_root().parent / "data" / key
    if dest.is_dir() and all((dest / name).is_file() and sha256_file(dest / name) == digest
                             for name, digest in digests):
        return dest  # whole and unchanged (a damaged copy is made again below)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{key}.", dir=dest.parent))
    for p in build.data_files:
        shutil.copyfile(p, tmp / p.name)
    shutil.rmtree(dest, ignore_errors=True)  # an incomplete copy: replaced whole
    try:
        os.rename(tmp, dest)
    except OSError:  # another process put it there meanwhile
        shutil.rmtree(tmp, ignore_errors=True)
    return dest


def simulation_sources(build_dir: Path | str) -> list[Path]:
    """The sources of a build directory ready for a simulator, in filelist order: staged copies whose memory
    files are named by absolute path in a content-addressed copy (:func:`_data_copy`), so the simulation does
    not depend on where the build directory lives, and a moved or copied build reuses the original's
    Verilator model. The copies are kept in the cache (``$BIDRN_HW_CACHE/src/<hash>``) under a name made of
    their content, so the simulator's build cache, whose key includes the sources' folder, finds them again."""
    # lazy: rtl_sim.verilator imports layers (qonnx, onnx); builddir stays light for the CLI
    from .rtl_sim.verilator import cache_root

    build = load_design(build_dir)
    data = _data_copy(build)
    files = build.accel["files"]
    key = hashlib.sha256(json.dumps([str(data), [files[p.relative_to(build.dir).as_posix()] for p in build.sources],
                                     [p.name for p in build.sources]]).encode()).hexdigest()[:24]
    dest = cache_root().parent / "src" / key
    done = dest / ".staged"
    if done.is_file():
        try:
            names_ = json.loads(done.read_text())
            if all((dest / n).is_file() for n in names_):
                return [dest / n for n in names_]
        except (OSError, ValueError, TypeError):
            pass
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{key}.", dir=dest.parent))
    staged = stage_sources(build, tmp / "s", lambda p: str(data / p.name))
    for p in staged:
        os.rename(p, tmp / p.name)
    os.rmdir(tmp / "s")
    names_ = [p.name for p in staged]
    (tmp / ".staged").write_text(json.dumps(names_))  # last: marks the copy complete
    shutil.rmtree(dest, ignore_errors=True)  # an incomplete one
    try:
        os.rename(tmp, dest)
    except OSError:  # another process staged it meanwhile
        shutil.rmtree(tmp, ignore_errors=True)
    return [dest / n for n in names_]
