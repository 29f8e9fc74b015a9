"""Quantization-aware training of a WholeBodyNet variant (Adam, step LR schedule, Hand4Whole's losses).

* Data order is a function of ``(seed, epoch)``: a permutation per epoch, split across DDP ranks. The run
  is therefore reproducible, and a resumed run sees exactly the batches the uninterrupted run would have.
* ``OUT/checkpoint.pt`` is rewritten atomically at the end of every epoch (and every ``checkpoint_every``
  steps), so an interruption loses at most the unfinished epoch; ``resume`` continues from it.
* CPU by default, CUDA when present (``device="auto"``). Under ``torchrun`` (``WORLD_SIZE`` > 1) the
  network is wrapped in DistributedDataParallel (gloo on CPU, nccl on CUDA); the global batch is split
  across ranks and only rank 0 writes checkpoints and shows progress.
* The SMPL-X layer runs outside the wrapped network (it has no trainable parameters, and DDP would
  otherwise broadcast its ~60 MB of buffers every step).
"""
from __future__ import annotations

import math
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from torch.utils.data import default_collate

from ..errors import InputFileError, UsageError
from ..model.configs import check_variant, get_config
from ..model.network import WholeBodyNet
from .checkpoint import check_identity, load_state, read_checkpoint, save_checkpoint
from .data import camera
from .evaluation import body_forward, evaluate
from .losses import compute_losses
from .progress import progress_bar

CHECKPOINT_NAME = "checkpoint.pt"


@dataclass
class TrainOptions:
    config: str = "tiny"
    variant: str = "bidrn"
    out: str = "runs/train"
    steps: int = 200
    batch_size: int = 16           # global batch (split across DDP ranks)
    lr: float = 1e-4                # Hand4Whole's
    seed: int = 0
    resume: bool = False
    data: str = "synthetic"        # synthetic | agora:PATH | ehf:PATH
    train_size: int = 1024         # synthetic training samples (one epoch)
    eval_frames: int = 64          # synthetic validation samples evaluated at the end (0: none)
    lr_milestones: tuple[float, ...] = (0.7, 0.9)  # fractions of ``steps`` where the LR drops
    lr_gamma: float = 0.1
    weight_decay: float = 0.0
    checkpoint_every: int = 0      # steps; 0: at every epoch end only
    device: str = "auto"
    progress: bool = True
    cache_dir: str | None = None
    pose_repr: str = "6d"
    init_heads: bool = True        # start the regressors at the mean target (see init_output_heads)
    extra: dict = field(default_factory=dict)


def pick_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def training_data(opts: TrainOptions, generator=None, split: str = "train", size: int | None = None):
    """The data set named by ``opts.data``."""
    kind, _, path = opts.data.partition(":")
    if kind == "synthetic":
        from .data import cached_dataset

        return cached_dataset(opts.config, size or opts.train_size, opts.seed, split, root=opts.cache_dir,
                              progress=opts.progress, generator=generator)
    if kind in ("agora", "ehf"):
        if not path:
            raise UsageError(f"--data {kind}:PATH needs a path")
        from .datasets import open_dataset

        return open_dataset(kind, path, get_config(opts.config))
    raise UsageError(f"unknown --data {opts.data!r}; use synthetic, agora:PATH or ehf:PATH")


IDENTITY_6D = (1.0, 0.0, 0.0, 0.0, 1.0, 0.0)
FACING_CAMERA_6D = (1.0, 0.0, 0.0, 0.0, -1.0, 0.0)  # rotation by pi about x: upright, facing the camera


@torch.no_grad()
def init_output_heads(net: WholeBodyNet, mean_depth: float | None = None, weight_scale: float = 0.1) -> None:
    """Start the regressors at the mean target: rotations at rest (the root facing the camera), the camera at
    the data's mean depth, their weights scaled down.

    From PyTorch's default init a 6D head outputs a random rotation, and Adam moves a bias by about ``lr`` per
    step, so a short run (hundreds of steps, not Hand4Whole's 13 epochs) ends with poses worse than the rest
    pose. This is a training-recipe choice, the same for every variant; the architecture is unchanged.
    """
    heads = ((net.body_rotation_net.root_pose_out, FACING_CAMERA_6D),
             (net.body_rotation_net.body_pose_out, IDENTITY_6D),
             (net.hand_rotation_net.hand_pose_out, IDENTITY_6D), (net.face_regressor.jaw_pose_out, IDENTITY_6D))
    for layer, rot6d in heads:
        layer.weight.mul_(weight_scale)
        layer.bias.copy_(torch.tensor(rot6d).repeat(layer.out_features // 6))
    for layer in (net.body_rotation_net.shape_out, net.face_regressor.expr_out, net.body_rotation_net.cam_out):
        layer.weight.mul_(weight_scale)
        layer.bias.zero_()
    if mean_depth is not None:
        k = float(net.camera_translation(torch.tensor([[0.0, 0.0, 50.0]]))[0, 2])  # the depth at sigmoid = 1
        ratio = min(max(mean_depth / k, 0.01), 0.99)
        net.body_rotation_net.cam_out.bias[2] = math.log(ratio / (1 - ratio))


def _mean_depth(dataset, n: int = 256) -> float | None:
    items = dataset.__getitems__(range(min(n, len(dataset))))
    depths = [float(it["cam_trans"][2]) for it in items if "cam_trans" in it]
    return sum(depths) / len(depths) if depths else None


def _distributed() -> tuple[int, int, bool]:
    """(rank, world size, whether this call initialized the process group)."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size(), False
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world > 1:
        backend = "nccl" if torch.cuda.is_available() else "gloo"
        dist.init_process_group(backend)
        return dist.get_rank(), world, True
    return 0, 1, False


def epoch_order(seed: int, epoch: int, n: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed * 1_000_003 + epoch)
    return torch.randperm(n, generator=g)


def train(opts: TrainOptions, *, return_net: bool = False):
    """Train (or resume) and return a summary; the network ends in ``OUT/checkpoint.pt``. With
    ``return_net``, returns ``(summary, network)`` (each DDP rank its own copy)."""
    config = get_config(opts.config)
    check_variant(opts.variant)
    if opts.steps < 1 or opts.batch_size < 1:
        raise UsageError("--steps and --batch-size must be positive")
    rank, world, owns_group = _distributed()
    if opts.batch_size % world:
        raise UsageError(f"--batch-size {opts.batch_size} is not divisible by the {world} DDP processes")
    local_batch = opts.batch_size // world
    device = pick_device(opts.device)
    if device.type == "cuda" and world > 1:
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", rank)) % torch.cuda.device_count())
    out_dir = Path(opts.out)
    ckpt_path = out_dir / CHECKPOINT_NAME
    if ckpt_path.exists() and not opts.resume:
        raise UsageError(f"{ckpt_path} exists; pass --resume to continue it or choose another --out")
    show = opts.progress and rank == 0

    from ..body.smplx_layer import BodyModel
    from .data import SyntheticGenerator

    body = BodyModel()
    generator = SyntheticGenerator(config, body) if opts.data == "synthetic" else None
    dataset = training_data(opts, generator)
    steps_per_epoch = len(dataset) // opts.batch_size
    if steps_per_epoch < 1:
        raise UsageError(f"the training set has {len(dataset)} samples, fewer than one batch of "
                         f"{opts.batch_size}")

    torch.manual_seed(opts.seed)
    net = WholeBodyNet(config, opts.variant, None)
    if opts.init_heads:
        init_output_heads(net, _mean_depth(dataset))
    net = net.to(device)
    optimizer = torch.optim.Adam(net.parameters(), lr=opts.lr, weight_decay=opts.weight_decay)
    milestones = sorted({max(1, int(round(f * opts.steps))) for f in opts.lr_milestones})
    scheduler = torch.optim.lr_scheduler.MultiStepLR(optimizer, milestones, gamma=opts.lr_gamma)
    start, history, metrics, finished = 0, [], {}, False
    if opts.resume and ckpt_path.exists():
        ckpt = read_checkpoint(ckpt_path)
        check_identity(ckpt, ckpt_path, opts.config, opts.variant)
        load_state(net, ckpt, ckpt_path)
        if ckpt.get("optimizer") is None or ckpt.get("scheduler") is None:
            raise InputFileError(f"{ckpt_path} has no optimizer state to resume from")
        optimizer.load_state_dict(ckpt["optimizer"])
        scheduler.load_state_dict(ckpt["scheduler"])
        start, history, metrics = int(ckpt["step"]), list(ckpt.get("history", [])), dict(ckpt.get("metrics", {}))
        finished = bool(ckpt.get("finished")) and start >= opts.steps
    model = net
    if world > 1:
        from torch.nn.parallel import DistributedDataParallel

        model = DistributedDataParallel(net, device_ids=[device.index] if device.type == "cuda" else None)
    body = body.to(device)
    focal = camera(config)[0]
    options = {k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(opts).items()}
    options["world_size"] = world

    def save(step: int, finished: bool = False) -> None:
        if rank == 0:
            save_checkpoint(ckpt_path, net, step=step, epoch=step // steps_per_epoch, metrics=metrics,
                            optimizer=optimizer, scheduler=scheduler, options=options, finished=finished,
                            history=history)

    model.train()
    t0, done, loss_value = time.perf_counter(), 0, float("nan")
    with progress_bar(show, with_info=True) as bar:
        task = bar.add_task(f"train {opts.config}/{opts.variant}", total=opts.steps, completed=start, info="")
        order, order_epoch = None, -1
        for step in range(start, opts.steps):
            epoch, pos = divmod(step, steps_per_epoch)
            if epoch != order_epoch:
                order, order_epoch = epoch_order(opts.seed, epoch, len(dataset)), epoch
            first = pos * opts.batch_size + rank * local_batch
            idx = order[first:first + local_batch].tolist()
            batch = default_collate(dataset.__getitems__(idx))
            batch = {k: v.to(device) for k, v in batch.items()}
            out = model(batch["image"])
            out["vertices"], out["joints"] = body_forward(body, out)
            losses = compute_losses(out, batch, config, focal, pose_repr=opts.pose_repr)
            optimizer.zero_grad(set_to_none=True)
            losses["total"].backward()
            optimizer.step()
            scheduler.step()
            loss_value = float(losses["total"].detach())
            if not math.isfinite(loss_value):
                raise UsageError(f"the loss became {loss_value} at step {step + 1}; lower --lr")
            history.append({"step": step + 1, **{k: round(float(v.detach()), 6) for k, v in losses.items()}})
            done += 1
            bar.update(task, advance=1, info=f"loss {loss_value:.4f} lr {scheduler.get_last_lr()[0]:.1e}")
            if (step + 1) % steps_per_epoch == 0 or (opts.checkpoint_every and (step + 1) % opts.checkpoint_every == 0):
                save(step + 1)
    train_time = time.perf_counter() - t0
    if not finished:  # (a resumed run that had already finished keeps its checkpoint as it is)
        if rank == 0 and opts.eval_frames > 0 and opts.data == "synthetic":
            val = training_data(opts, generator, split="val", size=opts.eval_frames)
            metrics = {k: round(v, 3) for k, v in evaluate(net, body, val, device=device).items()}
        save(max(opts.steps, start), finished=True)
    if owns_group:
        import torch.distributed as dist

        dist.destroy_process_group()
    summary = {
        "checkpoint": str(ckpt_path), "config": opts.config, "variant": opts.variant, "steps": opts.steps,
        "resumed_from": start, "steps_run": done, "world_size": world, "rank": rank, "device": str(device),
        "final_loss": loss_value if done else (history[-1]["total"] if history else None),
        "steps_per_s": round(done / train_time, 3) if done and train_time > 0 else None,
        "metrics": metrics, **metrics,
    }
    return (summary, net) if return_net else summary
