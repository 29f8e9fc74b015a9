"""Bad input to the commands that take a model or a build directory: compile, simulate, estimate, vivado,
synth and bitstream. One tiny model (TFC-w1a1, 14 s to export) is compiled once per module (6 s, folded
for 2,000 frames/s at 100 MHz so its Verilator model builds in seconds); each case that damages a build
works on its own copy. Every case: the documented exit code, one error line naming the file, node or
option, no traceback, the user's files unchanged (tests/bad_input.py)."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from bad_input import (EXIT, expect_error, no_leftovers, run_cli, snapshot, training_run, user_folder)
from bidrn_hw.builddir import MARKER

FOLD = ("--target-fps", "2000", "--fclk-mhz", "100")


@pytest.fixture(scope="module")
def tfc(tmp_path_factory):
    from bidrn_hw.flow.bnn_pynq import export_bnn_pynq

    root = tmp_path_factory.mktemp("tfc")
    export_bnn_pynq("tfc-w1a1", root / "tfc.onnx", seed=5)
    return root / "tfc.onnx"


@pytest.fixture(scope="module")
def build(tfc, tmp_path_factory):
    """A pristine build directory: never modified by a case (copy it first)."""
    from bidrn_hw.cli import main

    out = tmp_path_factory.mktemp("build") / "b"
    assert main(["compile", str(tfc), "--out", str(out), *FOLD, "--json"]) == 0
    return out


@pytest.fixture
def copy(build, tmp_path):
    d = tmp_path / "copy"
    shutil.copytree(build, d, symlinks=True)
    return d


def _accel(d: Path) -> dict:
    return json.loads((d / "accel.json").read_text())


def _write_accel(d: Path, accel: dict) -> None:
    (d / "accel.json").write_text(json.dumps(accel))


def _mem(d: Path) -> Path:
    return sorted((d / "rtl").glob("*.mem"))[0]


# ------------------------------------------------------------------------------------------------- compile
def _model_bytes(tfc, tmp_path, name, data):
    p = tmp_path / name
    p.write_bytes(data if isinstance(data, bytes) else data(tfc.read_bytes()))
    return p


MODEL_FILES = [
    ("empty.onnx", b""),
    ("truncated.onnx", lambda b: b[: len(b) // 3]),
    ("notes.onnx", b"these are my notes, not a model\n"),
    ("frames.npy", lambda b: b"\x93NUMPY\x01\x00v\x00{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }"),
    ("zeros.onnx", b"\x00" * 4096),
]


@pytest.mark.parametrize("name, data", MODEL_FILES, ids=[m[0] for m in MODEL_FILES])
def test_compile_model_file_not_a_model(tfc, tmp_path, capsys, name, data):
    model = _model_bytes(tfc, tmp_path, name, data)
    out = tmp_path / "out"
    before = snapshot(model)
    expect_error(capsys, "input", str(model), "compile", model, "--out", out)
    assert not out.exists() and snapshot(model) == before
    no_leftovers(tmp_path)


def test_compile_model_missing_or_a_folder(tmp_path, capsys):
    expect_error(capsys, "input", "nope.onnx", "compile", tmp_path / "nope.onnx", "--out", tmp_path / "o")
    (tmp_path / "adir").mkdir()
    expect_error(capsys, "input", "adir", "compile", tmp_path / "adir", "--out", tmp_path / "o")
    assert not (tmp_path / "o").exists()


def test_compile_float_input_without_integer_type(tfc, tmp_path, capsys):
    from qonnx.core.datatype import DataType
    from qonnx.core.modelwrapper import ModelWrapper

    m = ModelWrapper(str(tfc))
    m.set_tensor_datatype(m.graph.input[0].name, DataType["FLOAT32"])
    p = tmp_path / "float.onnx"
    m.save(str(p))
    expect_error(capsys, "usage", ["FLOAT32", "graph input"], "compile", p, "--out", tmp_path / "o")


def _bad_values(option: str, *values: str) -> list:
    """(extra arguments, needle) cases that give ``option`` each bad value: the error names the option."""
    return [((option, v), option) for v in values]


OPTIONS = [
    *_bad_values("--target-fps", "0", "-5", "nan", "inf", "fast"),
    (("--fclk-mhz", "0", "--target-fps", "10"), "--fclk-mhz"),
    *_bad_values("--fclk-mhz", "-100", "nan"),
    (("--part", "xc9z999"), "xc9z999"),
    (("--part", ""), "part"),
    (("--folding", "missing.json"), "missing.json"),
    (("--folding", "F", "--target-fps", "100"), "--folding"),
]


@pytest.mark.parametrize("extra, needle", OPTIONS, ids=[" ".join(o[0]) for o in OPTIONS])
def test_compile_bad_option(tfc, tmp_path, capsys, extra, needle):
    extra = [str(tmp_path / "F.json") if e == "F" else e for e in extra]
    (tmp_path / "F.json").write_text("{}")
    out = tmp_path / "o"
    expect_error(capsys, "usage", needle, "compile", tfc, "--out", out, *extra)
    assert not out.exists()


FOLDINGS = [
    ("not json", "{PE: 2", "F.json"),
    ("a list", "[1, 2, 3]", "F.json"),
    ("unknown node", '{"MVAU_99": {"PE": 2}}', "MVAU_99"),
    ("PE zero", '{"MVAU_0": {"PE": 0}}', "MVAU_0"),
    ("PE not dividing", '{"MVAU_0": {"PE": 7}}', "MVAU_0"),
    ("PE a string", '{"MVAU_0": {"PE": "many"}}', "MVAU_0"),
]


@pytest.mark.parametrize("text, needle", [f[1:] for f in FOLDINGS], ids=[f[0] for f in FOLDINGS])
def test_compile_bad_folding_file(tfc, tmp_path, capsys, text, needle):
    f = tmp_path / "F.json"
    f.write_text(text)
    out = tmp_path / "o"
    code, err, _ = run_cli(capsys, "compile", tfc, "--out", out, "--folding", f)
    from bad_input import error_line

    line = error_line(err, "compile")
    assert code in (EXIT["usage"], EXIT["input"]) and needle in line, (code, line)
    assert not out.exists() and f.read_text() == text
    no_leftovers(tmp_path)


def test_compile_refuses_a_users_folder(tfc, tmp_path, capsys):
    out = user_folder(tmp_path / "thesis")
    before = snapshot(out)
    expect_error(capsys, "usage", [str(out), "not made by bidrn-hw", "--force"], "compile", tfc, "--out", out)
    assert snapshot(out) == before
    no_leftovers(tmp_path)


def test_compile_refuses_a_training_run(tfc, tmp_path, capsys):
    run = training_run(tmp_path / "run")
    before = snapshot(run)
    expect_error(capsys, "usage", str(run), "compile", tfc, "--out", run)
    assert snapshot(run) == before


def test_compile_refuses_an_export_folder(tfc, tmp_path, capsys):
    exp = tmp_path / "exp"
    exp.mkdir()
    (exp / "model.onnx").write_bytes(tfc.read_bytes())
    (exp / MARKER).write_text(json.dumps({"tool": "bidrn-hw", "kind": "export", "command": "bidrn-hw export",
                                          "entries": ["model.onnx"]}))
    before = snapshot(exp)
    expect_error(capsys, "usage", ["holds a bidrn-hw export", "not the compile"], "compile", exp / "model.onnx",
                 "--out", exp)
    assert snapshot(exp) == before


def test_compile_refuses_a_file_as_out(tfc, tmp_path, capsys):
    f = tmp_path / "results.txt"
    f.write_text("keep")
    expect_error(capsys, "usage", ["results.txt", "not a folder"], "compile", tfc, "--out", f)
    assert f.read_text() == "keep"


def test_compile_force_never_overwrites_a_users_file(tfc, tmp_path, capsys):
    out = user_folder(tmp_path / "mine")
    (out / "report.md").write_text("my own report")
    before = snapshot(out)
    expect_error(capsys, "usage", ["report.md", "not ours"], "compile", tfc, "--out", out, "--force")
    assert snapshot(out) == before


def test_compile_into_an_unwritable_location(tfc, capsys):
    expect_error(capsys, "input", ["/proc/self", "cannot write"], "compile", tfc, "--out", "/proc/self/build")


def test_compile_force_into_users_folder_then_rerun_keeps_their_files(tfc, tmp_path, capsys):
    out = user_folder(tmp_path / "mine")
    mine = snapshot(out)
    code, err, _ = run_cli(capsys, "compile", tfc, "--out", out, "--force", *FOLD)
    assert code == 0, err
    assert (out / "accel.json").is_file() and (out / MARKER).is_file()
    assert {k: v for k, v in snapshot(out).items() if k in mine} == mine
    marker = json.loads((out / MARKER).read_text())
    assert marker["kind"] == "compile" and "thesis.tex" not in marker["entries"] and "rtl" in marker["entries"]
    assert "compile" in marker["command"] and marker["version"]
    # a rerun replaces only our entries; the user's stay
    code, err, _ = run_cli(capsys, "compile", tfc, "--out", out, *FOLD)
    assert code == 0, err
    assert {k: v for k, v in snapshot(out).items() if k in mine} == mine
    no_leftovers(tmp_path)


@pytest.mark.parametrize("failure", ["interrupt", "error"])
def test_interrupted_or_failed_compile_keeps_the_earlier_build(tfc, build, tmp_path, capsys, monkeypatch, failure):
    d = tmp_path / "b"
    shutil.copytree(build, d)
    (d / "notes.txt").write_text("my notes on this build")  # a user's file in our build: kept by a rerun
    before = snapshot(d)
    from bidrn_hw.errors import UnsupportedError
    from bidrn_hw.flow import build as flow_build

    def boom(*a, **k):
        raise KeyboardInterrupt if failure == "interrupt" else UnsupportedError("node X (Boom) has no hardware layer")

    monkeypatch.setattr(flow_build, "write_report", boom)
    code, err, _ = run_cli(capsys, "compile", tfc, "--out", d, *FOLD)
    if failure == "interrupt":
        assert code == EXIT["interrupted"] and "interrupted" in err and "Traceback" not in err
    else:
        assert code == EXIT["unsupported"] and "node X" in err
    assert snapshot(d) == before
    no_leftovers(tmp_path)


# ------------------------------------------------------------------------------------------------ simulate
def _tamper_mem(d):
    m = _mem(d)
    m.write_text(m.read_text().replace("1", "0", 1) if "1" in m.read_text() else "1" + m.read_text())
    return m.name


def _delete_mem(d):
    m = _mem(d)
    m.unlink()
    return m.name


def _tamper_hw(d):
    (d / "hw.onnx").write_bytes((d / "hw.onnx").read_bytes() + b"\x00")
    return "hw.onnx"


def _tamper_top_sv(d):
    top = d / "rtl" / "accel_top.sv"
    top.write_text(top.read_text() + "\n// edited\n")
    return "accel_top.sv"


def _accel_not_json(d):
    (d / "accel.json").write_text('{"top": "accel_top", ')
    return "accel.json"


def _accel_list(d):
    (d / "accel.json").write_text("[]")
    return "accel.json"


def _accel_empty(d):
    (d / "accel.json").write_text("")
    return "accel.json"


def _set_accel(name: str, where: tuple, value, needle: str):
    """A damage called ``name`` that sets accel.json's entry at the keys and indices ``where`` to ``value``;
    it returns the ``needle`` the error must name."""
    def damage(d):
        a = _accel(d)
        entry = a
        for key in where[:-1]:
            entry = entry[key]
        entry[where[-1]] = value
        _write_accel(d, a)
        return needle

    damage.__name__ = damage.__qualname__ = f"_{name}"
    return damage


_accel_old_format = _set_accel("accel_old_format", ("format",), 1, "format 1")


def _accel_no_manifest(d):
    a = _accel(d)
    del a["files"]
    _write_accel(d, a)
    return "'files'"


def _accel_missing(d):
    (d / "accel.json").unlink()
    return "accel.json not found"


_hostile_top = _set_accel("hostile_top", ("top",), "accel_top; exec touch PWNED; #", "top")
_hostile_stream = _set_accel("hostile_stream", ("inputs", 0, "name"), "s_axis_0 [exec rm -rf ~]", "inputs[0].name")


def _hostile_parameter(d):
    a = _accel(d)
    layer = next(ly for ly in a["layers"] if ly["parameters"])
    key = next(iter(layer["parameters"]))
    layer["parameters"][key] = 'x"); $system("touch PWNED"); //'
    _write_accel(d, a)
    return key


_hostile_module = _set_accel("hostile_module", ("layers", 0, "module"), 'mvau"; exec touch PWNED',
                             "layers[0].module")
_files_parent = _set_accel("files_parent", ("files", "../outside.mem"), "0" * 64, "../outside.mem")
_files_absolute = _set_accel("files_absolute", ("files", "/etc/hostname"), "0" * 64, "/etc/hostname")


def _symlink_outside(d):
    m = _mem(d)
    target = d.parent / "elsewhere.mem"
    target.write_bytes(m.read_bytes())
    m.unlink()
    m.symlink_to(target)
    return m.name


def _filelist_absolute(d):
    fl = d / "rtl" / "filelist.f"
    fl.write_text(str((d / "rtl" / "accel_top.sv").resolve()) + "\n")
    return "filelist.f"


def _filelist_missing(d):
    (d / "rtl" / "filelist.f").unlink()
    return "filelist.f"


_shape_negative = _set_accel("shape_negative", ("inputs", 0, "shape"), [1, -4], "shape")
_bits_string = _set_accel("bits_string", ("outputs", 0, "tdata_bits"), "wide", "tdata_bits")


DAMAGE = [_tamper_mem, _delete_mem, _tamper_hw, _tamper_top_sv, _accel_not_json, _accel_list, _accel_empty,
          _accel_old_format, _accel_no_manifest, _accel_missing, _hostile_top, _hostile_stream, _hostile_parameter,
          _hostile_module, _files_parent, _files_absolute, _symlink_outside, _filelist_absolute, _filelist_missing,
          _shape_negative, _bits_string]


@pytest.mark.parametrize("damage", DAMAGE, ids=[f.__name__[1:] for f in DAMAGE])
def test_simulate_refuses_a_damaged_or_hostile_build(copy, capsys, damage, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    needle = damage(copy)
    before = snapshot(copy)
    expect_error(capsys, "input", needle, "simulate", copy, "--frames", "1")
    assert snapshot(copy) == before and not list(tmp_path.rglob("PWNED"))


@pytest.mark.parametrize("command, extra", [("vivado", ("--out", "V")), ("synth", ()), ("bitstream", ())],
                         ids=["vivado", "synth", "bitstream"])
@pytest.mark.parametrize("damage", [_tamper_mem, _hostile_top, _files_parent],
                         ids=["tampered", "hostile_top", "outside_path"])
def test_backends_refuse_a_damaged_or_hostile_build(copy, capsys, tmp_path, monkeypatch, command, extra, damage):
    monkeypatch.chdir(tmp_path)
    needle = damage(copy)
    before = snapshot(copy)
    extra = [str(tmp_path / e) if e == "V" else e for e in extra]
    expect_error(capsys, "input", needle, command, copy, *extra)
    assert snapshot(copy) == before and not list(tmp_path.rglob("PWNED")) and not (tmp_path / "V").exists()


def test_simulate_not_a_build(tmp_path, capsys):
    expect_error(capsys, "input", "nowhere", "simulate", tmp_path / "nowhere")
    folder = user_folder(tmp_path / "mine")
    expect_error(capsys, "input", "accel.json not found", "simulate", folder)
    f = tmp_path / "file.txt"
    f.write_text("x")
    expect_error(capsys, "input", "file.txt", "simulate", f)


def _npy(tmp_path, name, array, **kw):
    p = tmp_path / name
    np.save(p, array, **kw)
    return p


class _Payload:
    """Unpickling this creates a file: proof that code from a data file ran."""

    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return (open, (self.path, "w"))


INPUTS = [
    ("missing", None, "input", "frames.npy"),
    ("text", "text", "input", "frames.npy"),
    ("pickled objects", "pickle", "input", "frames.npy"),
    ("wrong shape", np.zeros((2, 3, 5)), "usage", "expected frames of shape"),
    ("fractions", np.full((1, 784), 0.5), "usage", "integers"),
    ("NaN", np.full((1, 784), np.nan), "usage", "integers"),
    ("out of range", np.full((1, 784), 300), "usage", "outside"),
    ("negative", np.full((1, 784), -1), "usage", "outside"),
]


@pytest.mark.parametrize("data, code, needle", [c[1:] for c in INPUTS], ids=[c[0] for c in INPUTS])
def test_simulate_bad_inputs_file(build, tmp_path, capsys, data, code, needle):
    p = tmp_path / "frames.npy"
    if data is None:
        pass
    elif isinstance(data, str) and data == "text":
        p.write_text("1 2 3\n")
    elif isinstance(data, str) and data == "pickle":
        np.save(p, np.array([_Payload(tmp_path / "PWNED")], dtype=object), allow_pickle=True)
    else:
        np.save(p, data)
    before = snapshot(build)
    expect_error(capsys, code, needle, "simulate", build, "--inputs", p)
    assert snapshot(build) == before and not (tmp_path / "PWNED").exists()


SIM_OPTIONS = [*_bad_values("--frames", "0", "-3", "two"), *_bad_values("--stall", "1.0", "-0.1", "nan")]


@pytest.mark.parametrize("extra, needle", SIM_OPTIONS, ids=[" ".join(o[0]) for o in SIM_OPTIONS])
def test_simulate_bad_option(build, capsys, extra, needle):
    before = snapshot(build)
    expect_error(capsys, "usage", needle, "simulate", build, *extra)
    assert snapshot(build) == before


def test_simulate_outputs_into_a_missing_folder(build, tmp_path, capsys):
    """An output location that cannot be written: one line naming it (exit 3), not a traceback."""
    before = snapshot(build)
    expect_error(capsys, "input", "nowhere", "simulate", build, "--frames", "1", "--outputs",
                 tmp_path / "nowhere" / "out.npy")
    assert snapshot(build) == before


def test_copied_build_with_the_original_deleted_simulates_bit_exact(build, tmp_path, capsys):
    """A build copied elsewhere (and the original gone) reads its own memory files: the same outputs."""
    frames = np.random.default_rng(1).integers(0, 256, size=(2, 784))
    inputs = _npy(tmp_path, "in.npy", frames)
    orig = tmp_path / "orig"
    shutil.copytree(build, orig)
    code, err, out = run_cli(capsys, "simulate", orig, "--inputs", inputs, "--outputs", tmp_path / "a.npy", "--json")
    assert code == 0, err
    moved = tmp_path / "elsewhere" / "deeper" / "copy"
    shutil.copytree(orig, moved)
    shutil.rmtree(orig)
    code, err, out = run_cli(capsys, "simulate", moved, "--inputs", inputs, "--outputs", tmp_path / "b.npy", "--json")
    assert code == 0, err
    assert json.loads(out)["bit_exact"] is True
    assert np.array_equal(np.load(tmp_path / "a.npy"), np.load(tmp_path / "b.npy"))
    # no path of the original anywhere in the copy
    for p in moved.rglob("*"):
        if p.is_file() and p.suffix in (".sv", ".json", ".f"):
            assert str(orig) not in p.read_text(), p


# ------------------------------------------------------------------------------------------------ estimate
EST = [
    (lambda d: (d / "estimates.json").unlink(), "input", "estimates.json"),
    (lambda d: (d / "estimates.json").write_text("{"), "input", "estimates.json"),
    (lambda d: (d / "estimates.json").write_text("[1]"), "input", "estimates.json"),
    (lambda d: (d / "estimates.json").write_text('{"format": 0}'), "input", "format"),
]


@pytest.mark.parametrize("damage, code, needle", EST, ids=["missing", "not json", "a list", "old format"])
def test_estimate_damaged_file(copy, capsys, damage, code, needle):
    damage(copy)
    expect_error(capsys, code, needle, "estimate", copy)


EST_OPTIONS = [*_bad_values("--fclk-mhz", "0", "nan", "inf"), (("--part", "xc1z1"), "xc1z1")]


@pytest.mark.parametrize("extra, needle", EST_OPTIONS, ids=[" ".join(o[0]) for o in EST_OPTIONS])
def test_estimate_bad_option(build, capsys, extra, needle):
    expect_error(capsys, "usage", needle, "estimate", build, *extra)


def test_estimate_missing_dir(tmp_path, capsys):
    expect_error(capsys, "input", "nowhere", "estimate", tmp_path / "nowhere")


# -------------------------------------------------------------------------------------------------- vivado
VIV_OPTIONS = [(("--part", "xc9z999"), "xc9z999"), *_bad_values("--freq-mhz", "5", "nan"),
               *_bad_values("--jobs", "0", "x")]


@pytest.mark.parametrize("extra, needle", VIV_OPTIONS, ids=[" ".join(o[0]) for o in VIV_OPTIONS])
def test_vivado_bad_option(build, tmp_path, capsys, extra, needle):
    before = snapshot(build)
    expect_error(capsys, "usage", needle, "vivado", build, "--out", tmp_path / "v", *extra)
    assert snapshot(build) == before and not (tmp_path / "v").exists()


def test_vivado_refuses_users_folder_and_file(build, tmp_path, capsys):
    mine = user_folder(tmp_path / "mine")
    before = snapshot(mine)
    expect_error(capsys, "usage", [str(mine), "--force"], "vivado", build, "--out", mine)
    assert snapshot(mine) == before
    f = tmp_path / "f.txt"
    f.write_text("keep")
    expect_error(capsys, "usage", "f.txt", "vivado", build, "--out", f)
    assert f.read_text() == "keep"


def test_vivado_export_of_a_copy_is_identical_and_reruns_keep_user_files(build, tmp_path, capsys):
    a, b = tmp_path / "va", tmp_path / "vb"
    moved = tmp_path / "moved"
    shutil.copytree(build, moved)
    assert run_cli(capsys, "vivado", build, "--out", a)[0] == 0
    assert run_cli(capsys, "vivado", moved, "--out", b)[0] == 0
    files = lambda d: {p.relative_to(d).as_posix(): p.read_bytes() for p in d.rglob("*")  # noqa: E731
                       if p.is_file() and p.name != MARKER}
    assert files(a) == files(b)
    (a / "my_constraints.xdc").write_text("# mine")
    assert run_cli(capsys, "vivado", build, "--out", a, "--freq-mhz", "100")[0] == 0
    assert (a / "my_constraints.xdc").read_text() == "# mine" and "10.000" in (a / "constraints.xdc").read_text()
    no_leftovers(tmp_path)


# ---------------------------------------------------------------------------------------- synth, bitstream
BACKEND_OPTIONS = [
    ("synth", ("--part", "xc9z999"), "usage", "xc9z999"),
    ("bitstream", ("--device", "ecp5-99k"), "usage", "ecp5-99k"),
    ("bitstream", ("--board", "nosuchboard"), "usage", "nosuchboard"),
    ("bitstream", ("--freq-mhz", "0"), "usage", "freq"),
    ("bitstream", ("--freq-mhz", "nan"), "usage", "freq"),
]


@pytest.mark.parametrize("command, extra, code, needle", BACKEND_OPTIONS,
                         ids=[f"{c[0]} {' '.join(c[1])}" for c in BACKEND_OPTIONS])
def test_backend_bad_option(build, capsys, command, extra, code, needle):
    before = snapshot(build)
    expect_error(capsys, code, needle, command, build, *extra)
    assert snapshot(build) == before


@pytest.mark.parametrize("command", ["synth", "bitstream", "vivado", "estimate"])
def test_backend_on_a_users_folder(tmp_path, capsys, command):
    mine = user_folder(tmp_path / "mine")
    before = snapshot(mine)
    code, err, _ = run_cli(capsys, command, mine)
    from bad_input import error_line

    line = error_line(err, command)
    assert code == EXIT["input"] and str(mine) in line
    assert snapshot(mine) == before


# ---------------------------------------------------------------------------- as a user sees it: processes
@pytest.mark.parametrize("argv, code", [
    (["simulate", "{copy}", "--frames", "0"], EXIT["usage"]),
    (["compile", "{copy}/nope.onnx", "--out", "{tmp}/o"], EXIT["input"]),
    (["vivado", "{hostile}", "--out", "{tmp}/v"], EXIT["input"]),
], ids=["simulate-frames", "compile-missing", "vivado-hostile"])
def test_no_traceback_reaches_stderr_of_the_console_script(copy, tmp_path, argv, code):
    hostile = tmp_path / "hostile"
    shutil.copytree(copy, hostile)
    _hostile_top(hostile)
    argv = [a.format(copy=copy, tmp=tmp_path, hostile=hostile) for a in argv]
    proc = subprocess.run([sys.executable, "-m", "bidrn_hw.cli", *argv], capture_output=True, text=True,
                          cwd=tmp_path, timeout=300)
    assert proc.returncode == code, proc.stderr
    assert "Traceback" not in proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ln.startswith(f"bidrn-hw {argv[0]}: error: ")]
    assert len(lines) == 1, proc.stderr
    assert not list(tmp_path.rglob("PWNED"))


def test_damaged_memory_file_copy_in_the_cache_is_made_again(build, tmp_path, monkeypatch):
    """Simulation reads memory files from a copy in the cache named by their sha256: a copy damaged there is
    replaced, never used."""
    from bidrn_hw import builddir

    monkeypatch.setenv("BIDRN_HW_CACHE", str(tmp_path / "cache"))
    b = builddir.load_design(build)
    data = builddir._data_copy(b)
    victim = data / b.data_files[0].name
    victim.write_text("0\n" * len(victim.read_text().split()))
    assert builddir._data_copy(b) == data
    assert victim.read_bytes() == b.data_files[0].read_bytes()
