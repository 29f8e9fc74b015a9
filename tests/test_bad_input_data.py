"""No code from data files: body models and data sets that carry a pickled payload are refused before
anything unpickles them, and damaged body-model files are named. The payload, if it ever ran, would create
a file (``PWNED``): each case checks that it does not exist."""
from __future__ import annotations

import pickle
import zipfile
from pathlib import Path

import numpy as np
import pytest

from bad_input import expect_error, run_cli, snapshot

CKPT = Path(__file__).resolve().parent.parent / "bidrn_hw" / "data" / "tiny_bidrn.pt"


class Payload:
    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return (open, (self.path, "w"))


@pytest.fixture(scope="module")
def standin():
    from bidrn_hw.body.smplx_layer import standin_path

    path = standin_path(0)
    if not path.is_file():
        from bidrn_hw.body.smplx_layer import BodyModel

        BodyModel()  # writes the cached stand-in
    return path


def _npz_with(tmp_path, standin, name, extra):
    arrays = dict(np.load(standin, allow_pickle=False))
    arrays.update(extra)
    p = tmp_path / name
    with open(p, "wb") as fh:
        np.savez(fh, **arrays)
    return p


def test_npz_with_a_pickled_extra_array(standin, tmp_path, capsys):
    """An extra key smplx does not need, holding a pickled object: smplx loads every key with
    allow_pickle=True, so the payload would have run on `bodymodel --check`."""
    p = _npz_with(tmp_path, standin, "SMPLX_NEUTRAL.npz",
                  {"notes": np.array([Payload(tmp_path / "PWNED")], dtype=object)})
    before = snapshot(p)
    expect_error(capsys, "input", ["SMPLX_NEUTRAL.npz", "'notes'", "pickled"], "bodymodel", "--check", p)
    assert not (tmp_path / "PWNED").exists() and snapshot(p) == before


def test_npz_with_a_pickled_required_array(standin, tmp_path, capsys):
    p = _npz_with(tmp_path, standin, "m.npz", {"f": np.array([Payload(tmp_path / "PWNED")], dtype=object)})
    expect_error(capsys, "input", ["m.npz", "'f'"], "bodymodel", "--check", p)
    assert not (tmp_path / "PWNED").exists()


def test_pickled_npz_through_the_environment(standin, tmp_path, capsys, monkeypatch):
    """BIDRN_HW_SMPLX reaches the same check (here through evaluate, which loads the body model first)."""
    p = _npz_with(tmp_path, standin, "SMPLX_NEUTRAL.npz",
                  {"x": np.array([Payload(tmp_path / "PWNED")], dtype=object)})
    monkeypatch.setenv("BIDRN_HW_SMPLX", str(p))
    expect_error(capsys, "input", ["SMPLX_NEUTRAL.npz", "'x'"], "evaluate", CKPT, "--frames", "1")
    assert not (tmp_path / "PWNED").exists()
    monkeypatch.setenv("BIDRN_HW_SMPLX", str(tmp_path))  # the folder holding it
    expect_error(capsys, "input", "SMPLX_NEUTRAL.npz", "evaluate", CKPT, "--frames", "1")
    assert not (tmp_path / "PWNED").exists()


def test_pkl_model_needs_trust_pickle(standin, tmp_path, capsys):
    p = tmp_path / "SMPLX_NEUTRAL.pkl"
    p.write_bytes(pickle.dumps(Payload(tmp_path / "PWNED")))
    expect_error(capsys, "input", ["SMPLX_NEUTRAL.pkl", "pickle", "--trust-pickle", ".npz"], "bodymodel", "--check", p)
    assert not (tmp_path / "PWNED").exists()


def test_trusted_pkl_model_loads(standin, tmp_path, capsys):
    """With --trust-pickle, a .pkl holding the same arrays loads through smplx like the .npz."""
    arrays = dict(np.load(standin, allow_pickle=False))
    p = tmp_path / "SMPLX_NEUTRAL.pkl"
    p.write_bytes(pickle.dumps(arrays))
    code, err, out = run_cli(capsys, "bodymodel", "--check", p, "--trust-pickle", "--json")
    assert code == 0, err
    import json

    res = json.loads(out)
    assert res["vertices"] == arrays["v_template"].shape[0] and res["standin"] is False


DAMAGED = [
    ("empty", lambda b: b""),
    ("truncated", lambda b: b[: len(b) // 2]),
    ("text", lambda b: b"v_template = [1, 2, 3]\n"),
]


@pytest.mark.parametrize("damage", [d[1] for d in DAMAGED], ids=[d[0] for d in DAMAGED])
def test_damaged_body_model(standin, tmp_path, capsys, damage):
    p = tmp_path / "SMPLX_NEUTRAL.npz"
    p.write_bytes(damage(standin.read_bytes()))
    expect_error(capsys, "input", "SMPLX_NEUTRAL.npz", "bodymodel", "--check", p)


def test_npz_with_a_corrupt_array(standin, tmp_path, capsys):
    """A zip whose shapedirs member is cut short: the header reads, the data does not."""
    p = tmp_path / "m.npz"
    with zipfile.ZipFile(standin) as src, zipfile.ZipFile(p, "w") as dst:
        for name in src.namelist():
            data = src.read(name)
            dst.writestr(name, data[: len(data) // 2] if name == "shapedirs.npy" else data)
    expect_error(capsys, "input", ["m.npz", "unreadable"], "bodymodel", "--check", p)


@pytest.fixture
def agora_pickle(tmp_path):
    root = tmp_path / "agora"
    (root / "frames").mkdir(parents=True)
    (root / "frames" / "validation_0_withjv.pkl").write_bytes(pickle.dumps(Payload(tmp_path / "PWNED")))
    return root


def test_agora_pickles_need_trust_pickle(agora_pickle, tmp_path, capsys):
    before = snapshot(agora_pickle)
    expect_error(capsys, "input", ["validation_0_withjv.pkl", "pickle", "--trust-pickle"],
                 "evaluate", CKPT, "--data", f"agora:{agora_pickle}", "--frames", "1")
    assert not (tmp_path / "PWNED").exists() and snapshot(agora_pickle) == before


def test_agora_pickles_refused_by_train(agora_pickle, tmp_path, capsys):
    run = tmp_path / "run"
    expect_error(capsys, "input", ["validation_0_withjv.pkl", "--trust-pickle"],
                 "train", "--out", run, "--data", f"agora:{agora_pickle}", "--steps", "1", "--batch-size", "2",
                 "--no-progress")
    assert not (tmp_path / "PWNED").exists() and not (run / "checkpoint.pt").exists()
