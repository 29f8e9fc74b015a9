"""The Verilator build cache heals: an entry is reused only when its marker (written last, atomically) is
whole and every file it lists is there with its size; a half-written, interrupted or damaged entry is
rebuilt from an empty folder, never reused.

cocotb's runner is replaced by a fake that writes a model the way Verilator does (a few files, the
executable last), counting builds, so each case takes milliseconds; tests/test_fpga_shell.py and the
stitched tests build real models through the same code."""
from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from bidrn_hw.rtl_sim import verilator


class FakeRunner:
    builds = 0
    fail_after: int | None = None  # write that many files, then raise (an interrupted build)

    def build(self, sources, hdl_toplevel, build_dir, **kw):
        build_dir = Path(build_dir)
        build_dir.mkdir(parents=True, exist_ok=True)
        files = [("Vtop.mk", b"mk"), ("Vtop__ALL.a", b"a" * 100), (hdl_toplevel, b"\x7fELF" + b"x" * 200)]
        for i, (name, data) in enumerate(files):
            if FakeRunner.fail_after is not None and i == FakeRunner.fail_after:
                raise KeyboardInterrupt
            (build_dir / name).write_bytes(data)
        FakeRunner.builds += 1


@pytest.fixture
def cache(tmp_path, monkeypatch):
    import cocotb_tools.runner

    monkeypatch.setenv("BIDRN_HW_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(cocotb_tools.runner, "get_runner", lambda name: FakeRunner())
    FakeRunner.builds, FakeRunner.fail_after = 0, None
    src = tmp_path / "m.sv"
    src.write_text("module m; endmodule\n")
    return src


def _build(src):
    return verilator.build([src], "m")


def test_complete_entry_is_reused(cache):
    d = _build(cache)
    assert FakeRunner.builds == 1
    marker = json.loads((d / ".built").read_text())
    assert set(marker["files"]) == {"Vtop.mk", "Vtop__ALL.a", "m"} and marker["bytes"] == 2 + 100 + 204
    assert _build(cache) == d and FakeRunner.builds == 1


def _truncate_marker(d):
    (d / ".built").write_text('{"key": "')


def _no_marker(d):
    (d / ".built").unlink()


def _wrong_key(d):
    m = json.loads((d / ".built").read_text())
    (d / ".built").write_text(json.dumps({**m, "key": "0" * 16}))


def _truncated_exe(d):
    (d / "m").write_bytes(b"\x7fELF")


def _deleted_archive(d):
    (d / "Vtop__ALL.a").unlink()


def _marker_not_json_object(d):
    (d / ".built").write_text("[1, 2]")


def _empty_marker(d):
    (d / ".built").write_bytes(b"")


@pytest.mark.parametrize("damage", [_truncate_marker, _no_marker, _wrong_key, _truncated_exe, _deleted_archive,
                                    _marker_not_json_object, _empty_marker])
def test_damaged_entry_is_rebuilt(cache, damage):
    d = _build(cache)
    (d / "stale.o").write_bytes(b"old object")  # must not survive into the rebuilt entry
    damage(d)
    assert _build(cache) == d and FakeRunner.builds == 2
    assert not (d / "stale.o").exists()
    assert verilator.entry_complete(d, json.loads((d / ".built").read_text())["key"])


@pytest.mark.parametrize("written", [0, 1, 2])
def test_interrupted_build_leaves_no_complete_entry_and_is_rebuilt(cache, written):
    FakeRunner.fail_after = written
    with pytest.raises(KeyboardInterrupt):
        _build(cache)
    entries = [p for p in verilator.cache_root().iterdir() if p.is_dir()]
    assert all(not (p / ".built").exists() for p in entries)  # nothing marked complete
    FakeRunner.fail_after = None
    d = _build(cache)
    assert FakeRunner.builds == 1 and (d / ".built").is_file()


def test_legacy_marker_is_kept_only_with_its_executable(cache):
    d = _build(cache)
    key = json.loads((d / ".built").read_text())["key"]
    (d / ".built").write_text(json.dumps({"key": key, "bytes": 306}))  # a marker from before the file list
    assert _build(cache) == d and FakeRunner.builds == 1
    (d / "m").unlink()
    assert _build(cache) == d and FakeRunner.builds == 2


def test_marker_is_written_atomically(cache, monkeypatch):
    """The marker appears by rename: a crash while writing it leaves only a temporary file, never a partial
    .built that a later run could take for a complete entry."""
    real = os.replace
    calls = []

    def replace(a, b):
        calls.append((Path(a).name, Path(b).name))
        return real(a, b)

    monkeypatch.setattr(verilator.os, "replace", replace)
    d = _build(cache)
    assert calls and calls[-1][1] == ".built" and calls[-1][0].startswith(".built.") and (d / ".built").is_file()
    assert not list(d.glob(".built.*"))
