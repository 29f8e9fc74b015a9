"""Bad input to train / evaluate from the command line: a corrupt or mismatched checkpoint, a data set path with
missing files, a damaged synthetic-data cache. Each is a one-line error of a bidrn_hw.errors type, a non-zero
exit, and nothing on disk is changed or lost."""
import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from bidrn_hw.cli import main as cli_main
from bidrn_hw.errors import InputFileError
from bidrn_hw.train.data import CachedDataset

torch.set_num_threads(1)


def _tree_digest(root: Path) -> dict:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A finished 2-step tiny/bnn run (its checkpoint) and its synthetic cache."""
    root = tmp_path_factory.mktemp("bad-input")
    out, cache = root / "run", root / "cache"
    assert cli_main(["train", "--config", "tiny", "--variant", "bnn", "--out", str(out), "--steps", "2",
                     "--batch-size", "4", "--train-size", "8", "--eval-frames", "0", "--cache-dir", str(cache),
                     "--no-progress", "--threads", "1", "--json"]) == 0
    return out, cache


def _train(out, cache, *extra):
    return ["train", "--out", str(out), "--steps", "4", "--batch-size", "4", "--train-size", "8", "--eval-frames",
            "0", "--cache-dir", str(cache), "--no-progress", "--threads", "1", "--json", *extra]


def _error(capsys) -> dict:
    err = json.loads(capsys.readouterr().out)
    assert set(err) >= {"error", "kind"} and "\n" not in err["error"]
    return err


@pytest.mark.parametrize("extra, needle", [
    (["--variant", "bidrn"], "variant 'bnn', not 'bidrn'"),
    (["--variant", "bnn", "--config", "edge"], "config 'tiny', not 'edge'"),
])
def test_resume_with_a_mismatched_checkpoint_is_refused_untouched(run, tmp_path, capsys, extra, needle):
    out, cache = run
    before = _tree_digest(out)
    assert cli_main(_train(out, cache, "--resume", *extra)) == 3
    err = _error(capsys)
    assert err["kind"] == "InputFileError" and needle in err["error"] and "checkpoint.pt" in err["error"]
    assert _tree_digest(out) == before


@pytest.mark.parametrize("damage", ["truncated", "garbage", "empty"])
def test_corrupt_checkpoint_is_named_and_kept(run, tmp_path, capsys, damage):
    out, cache = run
    good = (out / "checkpoint.pt").read_bytes()
    bad_dir = tmp_path / "bad"
    bad_dir.mkdir()
    bad = bad_dir / "checkpoint.pt"
    bad.write_bytes({"truncated": good[: len(good) // 2], "garbage": b"\x80\x04garbage" * 50, "empty": b""}[damage])
    before = bad.read_bytes()
    assert cli_main(["evaluate", str(bad), "--frames", "2", "--cache-dir", str(cache), "--no-progress",
                     "--json"]) == 3
    err = _error(capsys)
    assert err["kind"] == "InputFileError" and str(bad) in err["error"]
    assert cli_main(_train(bad_dir, cache, "--variant", "bnn", "--resume")) == 3  # resume: same error, kept
    assert str(bad) in _error(capsys)["error"]
    assert bad.read_bytes() == before and sorted(p.name for p in bad_dir.iterdir()) == ["checkpoint.pt"]


def test_checkpoint_with_another_config_definition_or_wrong_weights(run, tmp_path, capsys):
    out, _ = run
    state = torch.load(out / "checkpoint.pt", weights_only=True)
    redefined = tmp_path / "redefined.pt"
    torch.save({**state, "config_fields": {**state["config_fields"], "image_input": [64, 48]}}, redefined)
    assert cli_main(["evaluate", str(redefined), "--json"]) == 3
    assert "differs from this bidrn-hw's definition" in _error(capsys)["error"]
    relabelled = tmp_path / "relabelled.pt"  # bnn weights claiming to be bidrn: the layers do not fit
    torch.save({**state, "variant": "bidrn"}, relabelled)
    assert cli_main(["evaluate", str(relabelled), "--json"]) == 3
    assert "do not fit tiny/bidrn" in _error(capsys)["error"]
    unknown = tmp_path / "unknown.pt"
    torch.save({**state, "variant": "ternary"}, unknown)
    assert cli_main(["evaluate", str(unknown), "--json"]) != 0
    assert "ternary" in _error(capsys)["error"]


@pytest.mark.parametrize("kind", ["ehf", "agora"])
def test_dataset_path_with_missing_files(run, tmp_path, capsys, kind):
    out, _ = run
    empty = tmp_path / "data"
    empty.mkdir()
    (empty / "unrelated.txt").write_text("keep me")
    before = _tree_digest(out)
    assert cli_main(["evaluate", str(out / "checkpoint.pt"), "--data", f"{kind}:{empty}", "--json"]) == 3
    assert _error(capsys)["kind"] == "InputFileError"
    assert cli_main(["evaluate", str(out / "checkpoint.pt"), "--data", f"{kind}:{tmp_path / 'nowhere'}",
                     "--json"]) == 3
    assert "nowhere" in _error(capsys)["error"]
    new_run = tmp_path / "new-run"
    assert cli_main(_train(new_run, tmp_path / "cache", "--data", f"{kind}:{empty}")) == 3
    assert _error(capsys)["kind"] == "InputFileError"
    assert not (new_run / "checkpoint.pt").exists()
    assert _tree_digest(out) == before and (empty / "unrelated.txt").read_text() == "keep me"


def test_damaged_synthetic_cache_is_a_clear_error(tmp_path):
    d = tmp_path / "cache-dir"
    d.mkdir()
    np.savez(d / "shard_00000.npz", image=np.zeros((4, 8, 8, 3), np.uint8), index=np.arange(4))
    data = (d / "shard_00000.npz").read_bytes()
    (d / "shard_00000.npz").write_bytes(data[: len(data) // 2])
    (d / "meta.json").write_text(json.dumps({"shards": ["shard_00000.npz"]}))
    with pytest.raises(InputFileError, match="delete the directory"):
        CachedDataset(d)
    (d / "meta.json").write_text("{not json")
    with pytest.raises(InputFileError, match="unreadable"):
        CachedDataset(d)
