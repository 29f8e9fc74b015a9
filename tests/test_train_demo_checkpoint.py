"""The shipped trained tiny BiDRN (bidrn_hw/data/tiny_bidrn.pt), its loader and the slimming of checkpoints."""
import pytest
import torch

from bidrn_hw.errors import InputFileError
from bidrn_hw.model.configs import get_config
from bidrn_hw.model.network import WholeBodyNet
from bidrn_hw.train.checkpoint import (DEMO_CHECKPOINT, FORMAT, load_demo_model, read_checkpoint, save_checkpoint,
                                       slim_checkpoint)
from bidrn_hw.train.loop import TrainOptions, train

torch.set_num_threads(1)


def test_demo_checkpoint_is_shipped_small_and_safe():
    assert DEMO_CHECKPOINT.is_file()
    assert DEMO_CHECKPOINT.stat().st_size < 5 * 2 ** 20
    raw = torch.load(DEMO_CHECKPOINT, map_location="cpu", weights_only=True)
    assert raw["format"] == FORMAT and raw["config"] == "tiny" and raw["variant"] == "bidrn"
    assert raw["optimizer"] is None and raw["finished"] and raw["step"] >= 200
    assert raw["metrics"]["mpvpe_mm"] > 0 and raw["provenance"]["made_by"].startswith("benchmarks/")
    # it has learned something: better MPVPE than predicting the mean mesh on the same validation frames
    assert raw["metrics"]["mpvpe_mm"] < raw["provenance"]["mean_mesh_best"]["mpvpe_mm"]


def test_load_demo_model_is_ready_for_inference():
    from bidrn_hw.body.smplx_layer import BodyModel

    body = BodyModel()
    net = load_demo_model(body_model=body)
    assert isinstance(net, WholeBodyNet) and not net.training and net.body_model is body
    assert net.config.name == "tiny" and net.variant == "bidrn"
    info = net.checkpoint_info
    assert info["finished"] and info["metrics"]["mpvpe_mm"] > 0 and info["provenance"]
    with torch.no_grad():
        out = net(torch.rand(2, 3, *net.config.image_input, generator=torch.Generator().manual_seed(0)))
    assert out["vertices"].shape == (2, 10475, 3) and torch.isfinite(out["vertices"]).all()
    # trained, not initial: BatchNorm statistics moved away from (0, 1)
    bn = net.body_encoder.stem[1]
    assert not torch.allclose(bn.running_var, torch.ones_like(bn.running_var))


def test_load_demo_model_missing_or_wrong_file(tmp_path):
    with pytest.raises(InputFileError, match="demo_checkpoint.py"):
        load_demo_model(tmp_path / "none.pt")
    other = tmp_path / "bnn.pt"
    save_checkpoint(other, WholeBodyNet(get_config("tiny"), "bnn"), step=1)
    with pytest.raises(InputFileError, match="variant 'bnn', not 'bidrn'"):
        load_demo_model(other, with_body_model=False)


def test_slim_checkpoint_keeps_weights_drops_optimizer(tmp_path):
    opts = TrainOptions(config="tiny", variant="bidrn", out=str(tmp_path / "run"), steps=2, batch_size=4,
                        train_size=8, eval_frames=0, progress=False, cache_dir=str(tmp_path / "cache"), seed=3)
    train(opts)
    src = tmp_path / "run" / "checkpoint.pt"
    before = src.read_bytes()
    dst = slim_checkpoint(src, tmp_path / "slim" / "tiny.pt", {"made_by": "test"})
    full, slim = read_checkpoint(src), read_checkpoint(dst)
    assert src.read_bytes() == before
    assert dst.stat().st_size < src.stat().st_size
    assert slim["optimizer"] is None and slim["provenance"] == {"made_by": "test"} and len(slim["history"]) == 1
    assert all(torch.equal(full["model"][k], slim["model"][k]) for k in full["model"])
    net = load_demo_model(dst, with_body_model=False)
    assert net.checkpoint_info["provenance"] == {"made_by": "test"}
    # a slim checkpoint is for inference: resuming from it is refused with a clear error
    (tmp_path / "resume").mkdir()
    (tmp_path / "resume" / "checkpoint.pt").write_bytes(dst.read_bytes())
    with pytest.raises(InputFileError, match="no optimizer state"):
        train(TrainOptions(**{**opts.__dict__, "out": str(tmp_path / "resume"), "steps": 4, "resume": True}))
