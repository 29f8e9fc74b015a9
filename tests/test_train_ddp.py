"""DistributedDataParallel on CPU: two gloo processes train a few steps and end with identical weights.

(Not equal to a one-process run: BatchNorm statistics are per rank, as in Hand4Whole's DDP training.)"""
import socket

import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from bidrn_hw.train.loop import TrainOptions, train


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _options(out, cache) -> TrainOptions:
    return TrainOptions(config="tiny", variant="bidrn", out=out, steps=3, batch_size=4, train_size=8,
                        eval_frames=0, progress=False, cache_dir=cache, seed=11, lr=2e-3)


def _worker(rank: int, port: int, out: str, cache: str, result_dir: str) -> None:
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=2)
    try:
        summary, net = train(_options(out, cache), return_net=True)
        assert summary["world_size"] == 2
        torch.save({k: v.detach().clone() for k, v in net.state_dict().items()}, f"{result_dir}/rank{rank}.pt")
    finally:
        dist.destroy_process_group()


def test_two_gloo_processes_end_with_identical_weights(tmp_path):
    from bidrn_hw.train.data import cached_dataset

    cache = str(tmp_path / "cache")
    cached_dataset("tiny", 8, seed=11, root=cache, progress=False)  # rendered once, read by both ranks
    mp.spawn(_worker, args=(_free_port(), str(tmp_path / "ddp"), cache, str(tmp_path)), nprocs=2, join=True)
    w0 = torch.load(tmp_path / "rank0.pt", weights_only=True)
    w1 = torch.load(tmp_path / "rank1.pt", weights_only=True)
    params = [k for k in w0 if "running" not in k and "num_batches" not in k]
    assert params
    for k in params:
        assert torch.equal(w0[k], w1[k]), k
    ckpt = torch.load(tmp_path / "ddp" / "checkpoint.pt", weights_only=True)
    assert ckpt["step"] == 3 and ckpt["options"]["world_size"] == 2
    # the weights moved away from the (shared) initialization
    torch.manual_seed(11)
    from bidrn_hw.model.configs import get_config
    from bidrn_hw.model.network import WholeBodyNet

    init = WholeBodyNet(get_config("tiny"), "bidrn", None).state_dict()
    assert any(not torch.allclose(init[k], w0[k]) for k in params)
