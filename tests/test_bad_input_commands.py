"""Bad options and output folders for the commands that need no build directory: count, export, train,
evaluate, bodymodel, demo. Each case fails before any slow work (no data rendered, no model exported),
except the one real export that shows a rerun keeps a user's file and an interrupted export keeps the
earlier one. Checks as in tests/bad_input.py."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from bad_input import EXIT, expect_error, no_leftovers, run_cli, snapshot, training_run, user_folder
from bidrn_hw.builddir import MARKER

CKPT = Path(__file__).resolve().parent.parent / "bidrn_hw" / "data" / "tiny_bidrn.pt"

OPTION_CASES = [
    # (command line, exit code, words the message must hold); {tmp} is the case's folder
    (["count", "--config", "huge"], "usage", ["huge", "tiny"]),
    (["count", "--variant", "ternary"], "usage", ["ternary", "bidrn"]),
    (["export", "--config", "huge", "--out", "{tmp}/e"], "usage", "huge"),
    (["export", "--residual-bits", "1", "--out", "{tmp}/e"], "usage", "--residual-bits"),
    (["export", "--residual-bits", "17", "--out", "{tmp}/e"], "usage", "--residual-bits"),
    (["export", "--frames", "0", "--out", "{tmp}/e"], "usage", "--frames"),
    (["export", "--frames", "many", "--out", "{tmp}/e"], "usage", "--frames"),
    (["export", "--checkpoint", "{tmp}/none.pt", "--out", "{tmp}/e"], "input", "none.pt"),
    (["export", "--checkpoint", "{tmp}", "--out", "{tmp}/e"], "input", "--checkpoint"),
    (["export"], "usage", "--out"),
    (["train", "--out", "{tmp}/r", "--steps", "0"], "usage", "--steps"),
    (["train", "--out", "{tmp}/r", "--batch-size", "0"], "usage", "--batch-size"),
    (["train", "--out", "{tmp}/r", "--lr", "nan"], "usage", "--lr"),
    (["train", "--out", "{tmp}/r", "--lr", "-0.1"], "usage", "--lr"),
    (["train", "--out", "{tmp}/r", "--train-size", "0"], "usage", "--train-size"),
    (["train", "--out", "{tmp}/r", "--eval-frames", "-1"], "usage", "--eval-frames"),
    (["train", "--out", "{tmp}/r", "--checkpoint-every", "-5"], "usage", "--checkpoint-every"),
    (["train", "--out", "{tmp}/r", "--threads", "0"], "usage", "--threads"),
    (["train", "--out", "{tmp}/r", "--device", "tpu"], "usage", "--device"),
    (["train", "--out", "{tmp}/r", "--device", "cuda:7"], "usage", "cuda:7"),
    (["train", "--out", "{tmp}/r", "--data", "imagenet"], "usage", "--data"),
    (["train", "--out", "{tmp}/r", "--data", "agora:"], "usage", "--data"),
    (["train", "--out", "{tmp}/r", "--config", "huge"], "usage", "--config"),
    (["train", "--out", "{tmp}/r", "--variant", "ternary"], "usage", "--variant"),
    (["evaluate", "{tmp}/none.pt"], "input", "none.pt"),
    (["evaluate", "{ckpt}", "--frames", "0"], "usage", "--frames"),
    (["evaluate", "{ckpt}", "--batch-size", "0"], "usage", "--batch-size"),
    (["evaluate", "{ckpt}", "--device", "tpu"], "usage", "--device"),
    (["evaluate", "{ckpt}", "--data", "coco:{tmp}"], "usage", "--data"),
    (["evaluate", "{ckpt}", "--data", "ehf:{tmp}/nowhere"], "input", "nowhere"),
    (["bodymodel"], "usage", "--out"),
    (["bodymodel", "--out", "{tmp}/model.pkl"], "usage", ".npz"),
    (["bodymodel", "--out", "{tmp}"], "usage", "folder"),
    (["bodymodel", "--check", "{tmp}/none.npz"], "input", "none.npz"),
    (["bodymodel", "--check", "{tmp}"], "input", "SMPLX_NEUTRAL.npz"),
    (["demo", "--out", "{tmp}/d", "--repeat", "0"], "usage", "--repeat"),
    (["demo", "--out", "{tmp}/d", "--stall", "1.5"], "usage", "--stall"),
    (["demo", "--out", "{tmp}/d", "--target-fps", "-1"], "usage", "--target-fps"),
    (["demo", "--out", "{tmp}/d", "--target-fps", "nan"], "usage", "--target-fps"),
    (["demo", "--out", "{tmp}/d", "--freq-mhz", "0"], "usage", "--freq-mhz"),
    (["demo", "--out", "{tmp}/d", "--estimates", "tiny,huge"], "usage", "huge"),
    (["demo", "--out", "{tmp}/d", "--device", "xc9z999"], "usage", "xc9z999"),
    (["demo", "--out", "{tmp}/d", "--image", "{tmp}/none.png"], "input", "none.png"),
]


@pytest.mark.parametrize("argv, code, needles", OPTION_CASES, ids=[" ".join(c[0]) for c in OPTION_CASES])
def test_bad_option(tmp_path, capsys, argv, code, needles):
    (tmp_path / "keep.txt").write_text("a file of the user's")
    before = snapshot(tmp_path)
    argv = [a.format(tmp=tmp_path, ckpt=CKPT) for a in argv]
    expect_error(capsys, code, needles, *argv)
    assert snapshot(tmp_path) == before  # nothing written, nothing removed
    assert CKPT.is_file()


def _demo_image(tmp_path):
    p = tmp_path / "photo.png"
    p.write_bytes(b"\x89PNG\r\n\x1a\n not really")
    return p


def test_demo_unreadable_image(tmp_path, capsys):
    img = _demo_image(tmp_path)
    expect_error(capsys, "input", "photo.png", "demo", "--out", tmp_path / "d", "--image", img)
    assert not (tmp_path / "d").exists()


def test_export_refuses_a_training_run(tmp_path, capsys):
    """The issue's reproducer: `export --out RUN` on a training run deleted its checkpoint."""
    run = training_run(tmp_path / "run")
    before = snapshot(run)
    expect_error(capsys, "usage", [str(run), "not made by bidrn-hw", "--force"], "export", "--out", run)
    assert snapshot(run) == before
    no_leftovers(tmp_path)


def test_export_refuses_a_users_folder_a_file_and_a_build(tmp_path, capsys):
    mine = user_folder(tmp_path / "thesis")
    f = tmp_path / "notes.txt"
    f.write_text("keep")
    build = tmp_path / "build"
    build.mkdir()
    (build / "accel.json").write_text("{}")
    (build / MARKER).write_text(json.dumps({"tool": "bidrn-hw", "kind": "compile", "command": "bidrn-hw compile",
                                            "entries": ["accel.json"]}))
    before = snapshot(tmp_path)
    expect_error(capsys, "usage", str(mine), "export", "--out", mine)
    expect_error(capsys, "usage", "notes.txt", "export", "--out", f)
    expect_error(capsys, "usage", ["bidrn-hw compile", "not the export"], "export", "--out", build)
    assert snapshot(tmp_path) == before


def test_export_into_an_unwritable_location(capsys):
    expect_error(capsys, "input", "/proc/self", "export", "--out", "/proc/self/exp")


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    from bidrn_hw.cli import main

    out = tmp_path_factory.mktemp("exp") / "e"
    assert main(["export", "--config", "tiny", "--frames", "1", "--out", str(out), "--json"]) == 0
    return out


def test_interrupted_export_keeps_the_earlier_export_and_the_users_file(exported, tmp_path, capsys,
                                                                                    monkeypatch):
    import shutil

    d = tmp_path / "e"
    shutil.copytree(exported, d)
    marker = json.loads((d / MARKER).read_text())
    assert marker["kind"] == "export" and "body_encoder" in marker["entries"]
    (d / "my_notes.md").write_text("what I changed")
    before = snapshot(d)
    from bidrn_hw import partition

    def interrupted(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(partition, "export_partitions", interrupted)
    code, err, _ = run_cli(capsys, "export", "--config", "tiny", "--frames", "1", "--out", d)
    assert code == EXIT["interrupted"] and "Traceback" not in err
    assert snapshot(d) == before
    no_leftovers(tmp_path)
    # a rerun replaces the export (ours) and keeps my_notes.md: the same code as compile's rerun, shown there


def test_demo_refuses_a_users_folder_and_a_file(tmp_path, capsys):
    mine = user_folder(tmp_path / "mine")
    (mine / "partitions").mkdir()  # a name the demo would replace
    f = tmp_path / "f.txt"
    f.write_text("keep")
    before = snapshot(tmp_path)
    expect_error(capsys, "usage", [str(mine), "not a demo folder"], "demo", "--out", mine)
    expect_error(capsys, "usage", "f.txt", "demo", "--out", f)
    expect_error(capsys, "input", "/proc/self", "demo", "--out", "/proc/self/demo")
    assert snapshot(tmp_path) == before


def test_bodymodel_out_refuses_to_replace_a_file(tmp_path, capsys):
    f = tmp_path / "model.npz"
    f.write_bytes(b"PK the user's own model")
    expect_error(capsys, "usage", ["model.npz", "--force"], "bodymodel", "--out", f)
    assert f.read_bytes() == b"PK the user's own model"
