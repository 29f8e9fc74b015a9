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

import numpy as np
import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import default_collate

from ..body.smplx_layer import BodyModel
from ..errors import InputFileError, UsageError
from ..model.configs import check_variant, get_config
from ..model.network import WholeBodyNet
from .checkpoint import check_identity, load_state, read_checkpoint, save_checkpoint
from .data import SyntheticGenerator, cached_dataset, camera, photometric
from .datasets import open_dataset
from .evaluation import body_forward, evaluate
from .losses import LOSS_WEIGHTS, compute_losses
from .progress import progress_bar

CHECKPOINT_NAME = "checkpoint.pt"
CURVE_NAME = "learning_curve.png"


@dataclass
class TrainOptions:
    config: str = "tiny"
    variant: str = "bidrn"
    out: str = "runs/train"
    steps: int = 200
    batch_size: int = 16           # global batch (split across DDP ranks)
    lr: float = 1e-3                # peak LR (after warm-up); benchmarks/accuracy.py sweeps it per variant
    seed: int = 0
    resume: bool = False
    data: str = "synthetic"        # synthetic | agora:PATH | ehf:PATH
    train_size: int = 1024         # synthetic training samples (one epoch)
    eval_frames: int = 64          # synthetic validation samples evaluated at the end (0: none)
    schedule: str = "cosine"       # "cosine": linear warm-up, cosine decay to lr * final_lr; "step": drops
    warmup: float = 0.03           # fraction of ``steps`` of linear warm-up from lr / 100
    final_lr: float = 0.01         # cosine: the last step's LR as a fraction of ``lr``
    lr_milestones: tuple[float, ...] = (0.7, 0.9)  # "step" schedule: fractions of ``steps`` where the LR drops
    lr_gamma: float = 0.1
    clip_grad: float = 5.0         # max global gradient norm (0: off)
    loss_weights: dict | None = None  # None: losses.LOSS_WEIGHTS
    augment: bool = True           # photometric augmentation of synthetic training images (labels unchanged)
    binarize_weights_at: float = 0.0  # two-stage binarization: weights stay real until this fraction of steps
    eval_every: int = 0            # steps; validation metrics for the learning curve (0: at the end only)
    curve_frames: int = 32         # validation frames per learning-curve point
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
        return cached_dataset(opts.config, size or opts.train_size, opts.seed, split, root=opts.cache_dir,
                              progress=opts.progress, generator=generator)
    if kind in ("agora", "ehf"):
        if not path:
            raise UsageError(f"--data {kind}:PATH needs a path")
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


def make_scheduler(optimizer, opts: TrainOptions):
    """The LR schedule, a LambdaLR (its state is the step count, so a resumed run continues it exactly):
    ``cosine``: linear warm-up from lr/100 over ``warmup * steps``, then a half cosine down to
    ``lr * final_lr`` at the last step; ``step``: constant, times ``lr_gamma`` at each milestone."""
    total, warm = opts.steps, max(int(round(opts.warmup * opts.steps)), 0)
    if opts.schedule == "cosine":
        def factor(step: int) -> float:
            if step < warm:
                return 0.01 + 0.99 * step / warm
            t = min((step - warm) / max(total - warm, 1), 1.0)
            return opts.final_lr + (1 - opts.final_lr) * 0.5 * (1 + math.cos(math.pi * t))
    elif opts.schedule == "step":
        milestones = sorted({max(1, int(round(f * opts.steps))) for f in opts.lr_milestones})

        def factor(step: int) -> float:
            return opts.lr_gamma ** sum(step >= m for m in milestones)
    else:
        raise UsageError(f"unknown schedule {opts.schedule!r}; use cosine or step")
    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


def set_weight_binarization(net, enabled: bool) -> None:
    """Two-stage binarization: with ``enabled`` false, every binarized layer computes with its real-valued
    weights (activations stay binary); true restores 1-bit weights. A no-op for ``fp``."""
    for module in net.modules():
        proxy = getattr(module, "weight_quant", None)
        if getattr(module, "is_binary", False) and proxy is not None and hasattr(proxy, "disable_quant"):
            proxy.disable_quant = not enabled


def augment_items(items: list[dict], seed: int, epoch: int, indices) -> list[dict]:
    """Photometric augmentation of each sample, a function of (seed, epoch, sample index): a sample seen in
    another epoch is seen under other colours and noise."""
    out = []
    for item, i in zip(items, indices):
        rng = np.random.default_rng([seed, epoch, int(i), 7])
        out.append({**item, "image": photometric(item["image"], rng)})
    return out


def write_learning_curve(history: list[dict], path: Path, title: str, final: dict | None = None) -> Path:
    """PNG: training loss (per step and smoothed) and validation MPVPE / PA-MPJPE at the evaluated steps."""
    # lazy: matplotlib (~1.2 s), only when a learning curve is written
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # lazy: as matplotlib, after choosing the Agg backend

    steps = [h["step"] for h in history]
    loss = [h["total"] for h in history]
    k = max(1, len(loss) // 50)
    smooth = [sum(loss[max(0, i - k + 1):i + 1]) / len(loss[max(0, i - k + 1):i + 1]) for i in range(len(loss))]
    fig, ax = plt.subplots(1, 2, figsize=(10, 3.6))
    ax[0].plot(steps, loss, color="0.8", lw=0.6, label="train loss")
    ax[0].plot(steps, smooth, color="C0", label=f"mean of {k}")
    ax[0].set_yscale("log")
    ax[0].set_xlabel("step")
    ax[0].legend()
    ax[0].set_title(f"{title}: training loss")
    val = [(h["step"], h["val"]) for h in history if "val" in h]
    if val:
        for key, c in (("mpvpe_mm", "C1"), ("pa_mpjpe_mm", "C2")):
            ax[1].plot([s for s, _ in val], [v[key] for _, v in val], "o-", color=c, ms=3, label=key)
    if final:
        ax[1].axhline(final.get("mpvpe_mm", float("nan")), color="C1", ls=":", lw=1, label="final mpvpe_mm")
    ax[1].set_xlabel("step")
    ax[1].set_ylabel("mm")
    ax[1].set_title("validation")
    if val or final:
        ax[1].legend()
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}.png")
    fig.savefig(tmp, dpi=80)
    plt.close(fig)
    os.replace(tmp, path)
    return path


def _distributed() -> tuple[int, int, bool]:
    """(rank, world size, whether this call initialized the process group)."""
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
    scheduler = make_scheduler(optimizer, opts)
    weights = dict(LOSS_WEIGHTS if opts.loss_weights is None else opts.loss_weights)
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

    val_curve = None
    if rank == 0 and opts.eval_every > 0 and opts.data == "synthetic" and opts.curve_frames > 0:
        val_curve = training_data(opts, generator, split="val", size=opts.curve_frames)

    model.train()
    t0, done, loss_value = time.perf_counter(), 0, float("nan")
    prior_s = float(history[-1].get("time_s", 0.0)) if history else 0.0  # training time of earlier sessions
    with progress_bar(show, with_info=True) as bar:
        task = bar.add_task(f"train {opts.config}/{opts.variant}", total=opts.steps, completed=start, info="")
        order, order_epoch = None, -1
        for step in range(start, opts.steps):
            set_weight_binarization(net, step >= opts.binarize_weights_at * opts.steps)
            epoch, pos = divmod(step, steps_per_epoch)
            if epoch != order_epoch:
                order, order_epoch = epoch_order(opts.seed, epoch, len(dataset)), epoch
            first = pos * opts.batch_size + rank * local_batch
            idx = order[first:first + local_batch].tolist()
            items = dataset.__getitems__(idx)
            if opts.augment and opts.data == "synthetic":
                items = augment_items(items, opts.seed, epoch, idx)
            batch = default_collate(items)
            batch = {k: v.to(device) for k, v in batch.items()}
            if weights.get("vertex", 0) > 0 and "vertices" not in batch and "root_pose" in batch:
                with torch.no_grad():
                    batch["vertices_gt"] = body_forward(body, batch)[0]
            out = model(batch["image"])
            out["vertices"], out["joints"] = body_forward(body, out)
            losses = compute_losses(out, batch, config, focal, weights=weights, pose_repr=opts.pose_repr)
            optimizer.zero_grad(set_to_none=True)
            losses["total"].backward()
            grad_norm = None
            if opts.clip_grad > 0:
                grad_norm = float(torch.nn.utils.clip_grad_norm_(net.parameters(), opts.clip_grad))
            optimizer.step()
            scheduler.step()
            loss_value = float(losses["total"].detach())
            if not math.isfinite(loss_value):
                raise UsageError(f"the loss became {loss_value} at step {step + 1}; lower --lr")
            record = {"step": step + 1, **{k: round(float(v.detach()), 6) for k, v in losses.items()},
                      "lr": scheduler.get_last_lr()[0]}
            if grad_norm is not None:
                record["grad_norm"] = round(grad_norm, 4)
            record["time_s"] = round(prior_s + time.perf_counter() - t0, 2)  # cumulative over sessions
            if val_curve is not None and ((step + 1) % opts.eval_every == 0 or step + 1 == opts.steps):
                vm = evaluate(net, body, val_curve, device=device)
                record["val"] = {k: round(v, 3) for k, v in vm.items()}
                model.train()
            history.append(record)
            done += 1
            rate = done / max(time.perf_counter() - t0, 1e-9)
            bar.update(task, advance=1, info=f"loss {loss_value:.4f} lr {scheduler.get_last_lr()[0]:.1e} "
                                             f"{rate:.2f} steps/s")
            if (step + 1) % steps_per_epoch == 0 or (opts.checkpoint_every and (step + 1) % opts.checkpoint_every == 0):
                save(step + 1)
                if rank == 0 and history:
                    write_learning_curve(history, out_dir / CURVE_NAME, f"{opts.config}/{opts.variant}")
    train_time = time.perf_counter() - t0
    if not finished:  # (a resumed run that had already finished keeps its checkpoint as it is)
        if rank == 0 and opts.eval_frames > 0 and opts.data == "synthetic":
            val = training_data(opts, generator, split="val", size=opts.eval_frames)
            metrics = {k: round(v, 3) for k, v in evaluate(net, body, val, device=device).items()}
        save(max(opts.steps, start), finished=True)
        if rank == 0 and history:
            write_learning_curve(history, out_dir / CURVE_NAME, f"{opts.config}/{opts.variant}",
                                 final=metrics or None)
    if owns_group:
        dist.destroy_process_group()
    summary = {
        "checkpoint": str(ckpt_path), "config": opts.config, "variant": opts.variant, "steps": opts.steps,
        "resumed_from": start, "steps_run": done, "world_size": world, "rank": rank, "device": str(device),
        "final_loss": loss_value if done else (history[-1]["total"] if history else None),
        "steps_per_s": round(done / train_time, 3) if done and train_time > 0 else None,
        "metrics": metrics, **metrics,
    }
    return (summary, net) if return_net else summary
