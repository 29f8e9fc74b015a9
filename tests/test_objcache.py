"""The compiler wrapper that reuses Verilator's runtime objects across builds (rtl_sim/objcache.py)."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from bidrn_hw.rtl_sim import objcache

SCRIPT = Path(objcache.__file__)


def _fake_compiler(tmp_path: Path) -> Path:
    """A 'compiler' that logs each call and writes the source's text, reversed, as the object."""
    cc = tmp_path / "fakecc"
    cc.write_text("#!/bin/sh\n"
                  f"echo \"$@\" >> '{tmp_path / 'calls.log'}'\n"
                  "out=''; prev=''\n"
                  "for a in \"$@\"; do [ \"$prev\" = -o ] && out=$a; prev=$a; done\n"
                  "src=$a\n"
                  "rev \"$src\" > \"$out\"\n")
    cc.chmod(0o755)
    return cc


def _run(tmp_path: Path, root: Path, *cmd: str) -> int:
    env = dict(os.environ, VERILATOR_ROOT=str(root))
    return subprocess.call([sys.executable, str(SCRIPT), str(tmp_path / "objects"), *cmd], env=env, cwd=tmp_path)


def _calls(tmp_path: Path) -> int:
    log = tmp_path / "calls.log"
    return len(log.read_text().splitlines()) if log.exists() else 0


def test_runtime_objects_compile_once_and_are_reused(tmp_path):
    cc, root = _fake_compiler(tmp_path), tmp_path / "vroot"
    (root / "include").mkdir(parents=True)
    src = root / "include" / "verilated.cpp"
    src.write_text("runtime v1\n")
    cmd = (str(cc), "-Os", "-DVM_TRACE=0", "-c", "-o", "verilated.o", str(src))
    assert _run(tmp_path, root, *cmd) == 0 and _calls(tmp_path) == 1
    first = (tmp_path / "verilated.o").read_bytes()
    (tmp_path / "verilated.o").unlink()
    assert _run(tmp_path, root, *cmd) == 0 and _calls(tmp_path) == 1  # served from the cache
    assert (tmp_path / "verilated.o").read_bytes() == first
    # other flags, or a changed source or header, are another object
    assert _run(tmp_path, root, *cmd[:2], "-DVM_TRACE=1", *cmd[3:]) == 0 and _calls(tmp_path) == 2
    (root / "include" / "verilated.h").write_text("changed\n")
    assert _run(tmp_path, root, *cmd) == 0 and _calls(tmp_path) == 3


def test_model_files_always_compile(tmp_path):
    cc, root = _fake_compiler(tmp_path), tmp_path / "vroot"
    (root / "include").mkdir(parents=True)
    model = tmp_path / "Vtop.cpp"  # the build's own file, or cocotb's harness: they include generated headers
    model.write_text("model\n")
    for _ in range(2):
        assert _run(tmp_path, root, str(cc), "-Os", "-c", "-o", "Vtop.o", str(model)) == 0
    assert _calls(tmp_path) == 2
    assert not (tmp_path / "objects").exists()


def test_a_failed_compile_is_not_stored(tmp_path):
    root = tmp_path / "vroot"
    (root / "include").mkdir(parents=True)
    src = root / "include" / "verilated.cpp"
    src.write_text("x\n")
    assert _run(tmp_path, root, "false", "-c", "-o", "verilated.o", str(src)) != 0
    assert not list(tmp_path.glob("objects/*.o"))


def test_environment_names_the_current_caches_wrapper(tmp_path, monkeypatch):
    from bidrn_hw.rtl_sim import verilator

    monkeypatch.setenv("BIDRN_HW_CACHE", str(tmp_path / "a"))
    monkeypatch.setenv("MAKEFLAGS", verilator.verilator_env()["MAKEFLAGS"])  # as _activate_env leaves it
    monkeypatch.setenv("BIDRN_HW_CACHE", str(tmp_path / "b"))
    flags = verilator.verilator_env()["MAKEFLAGS"].split()
    assert [f for f in flags if f.startswith("OBJCACHE=")] == [f"OBJCACHE={tmp_path / 'b' / 'verilator-objects' / 'objcache.sh'}"]
    assert (tmp_path / "b" / "verilator-objects" / "objcache.sh").stat().st_mode & 0o111
    monkeypatch.setenv("BIDRN_HW_OBJCACHE", "0")
    assert not any(f.startswith("OBJCACHE=") for f in verilator.verilator_env()["MAKEFLAGS"].split())
