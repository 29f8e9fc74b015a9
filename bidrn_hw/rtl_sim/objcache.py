"""A compiler wrapper for verilated.mk's ``OBJCACHE`` that reuses the objects of Verilator's own runtime.

Every Verilator model compiles ``verilated.cpp``, ``verilated_threads.cpp`` and, for cocotb, ``verilated_vpi.cpp``
and ``verilated_dpi.cpp`` again: about 10 CPU-seconds a build that never change, as much as a small layer's own
model. This script stands in front of the compiler (``OBJCACHE=wrapper`` makes the rule ``wrapper c++ ... -c -o
X.o SRC``): where SRC lies in ``$VERILATOR_ROOT/include`` (whose files include nothing that a build generates),
the object is looked up by a hash of the whole command line (flags, defines, output name), the compiler binary,
SRC and every header beside it, and copied; otherwise, or on a miss, the command runs as given and a miss is
stored. Anything else (the model's own files, cocotb's harness, which includes the model's header) always
compiles. Standard library only: it runs once per compiled file.

    python objcache.py CACHE_DIR c++ -Os ... -c -o verilated.o .../include/verilated.cpp
"""
from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path


def cacheable(cmd: list[str], include_dir: Path) -> Path | None:
    """The output object of a cacheable command line (``... -c -o OUT SRC`` with SRC in ``include_dir``)."""
    if len(cmd) < 4 or "-c" not in cmd or "-o" not in cmd or not cmd[-1].endswith(".cpp"):
        return None
    i = cmd.index("-o")
    if i + 1 >= len(cmd) - 1:
        return None
    try:
        src = Path(cmd[-1]).resolve()
    except OSError:
        return None
    if src.parent != include_dir.resolve() or not src.is_file():
        return None
    return Path(cmd[i + 1])


def key(cmd: list[str], include_dir: Path) -> str:
    h = hashlib.sha256()
    h.update("\0".join(cmd).encode())
    compiler = shutil.which(cmd[0])
    if compiler:
        st = Path(compiler).resolve().stat()
        h.update(f"{Path(compiler).resolve()}|{st.st_size}|{st.st_mtime_ns}".encode())
    for f in sorted(include_dir.glob("*")):
        if f.is_file() and f.suffix in (".h", ".cpp"):
            h.update(f.name.encode())
            h.update(f.read_bytes())
    return h.hexdigest()[:24]


def main(argv: list[str]) -> int:
    cache_dir, cmd = Path(argv[1]), argv[2:]
    root = os.environ.get("VERILATOR_ROOT")
    out = cacheable(cmd, Path(root) / "include") if root else None
    if out is None:
        return subprocess.call(cmd)
    stored = cache_dir / f"{out.stem}-{key(cmd, Path(root) / 'include')}.o"
    if stored.is_file():
        shutil.copyfile(stored, out)
        return 0
    rc = subprocess.call(cmd)
    if rc == 0 and out.is_file():
        cache_dir.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=cache_dir, suffix=".tmp")
        os.close(fd)
        shutil.copyfile(out, tmp)
        os.chmod(tmp, 0o644)
        os.replace(tmp, stored)  # atomic: a concurrent build sees the whole object or none
    return rc


if __name__ == "__main__":
    sys.exit(main(sys.argv))
