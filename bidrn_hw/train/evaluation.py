"""Run a network over a data set and average the mesh metrics (:mod:`.metrics`)."""
from __future__ import annotations

import torch
from torch.utils.data import default_collate

from ..body.smplx_layer import PARAMETERS
from .metrics import MeshMetrics, MetricAccumulator


def body_forward(body, params: dict, device=None) -> tuple[torch.Tensor, torch.Tensor]:
    """(vertices, joints) of the body model for a dict holding :data:`PARAMETERS`."""
    mesh = body(**{k: params[k] if device is None else params[k].to(device) for k in PARAMETERS})
    return mesh.vertices, mesh.joints


def ground_truth_vertices(body, batch: dict) -> torch.Tensor:
    """The batch's meshes: given (EHF, AGORA) or rebuilt from the ground-truth parameters (synthetic)."""
    if "vertices" in batch:
        return batch["vertices"]
    with torch.no_grad():
        return body_forward(body, batch)[0]


@torch.no_grad()
def evaluate(net, body, dataset, frames: int | None = None, batch_size: int = 16, progress=None,
             device: torch.device | str = "cpu") -> dict[str, float]:
    """Mean metrics (mm) of ``net`` (a WholeBodyNet, any body model attached is not used) over the first
    ``frames`` samples of ``dataset``."""
    metrics = MeshMetrics.for_body_model(body)
    acc = MetricAccumulator()
    n = len(dataset) if frames is None else min(frames, len(dataset))
    was_training = net.training
    net.eval()
    body_device = next(iter(body.buffers())).device
    body.to(device)
    try:
        for start in range(0, n, batch_size):
            idx = list(range(start, min(start + batch_size, n)))
            items = dataset.__getitems__(idx) if hasattr(dataset, "__getitems__") else [dataset[i] for i in idx]
            batch = {k: v.to(device) for k, v in default_collate(items).items()}
            pred_v, _ = body_forward(body, net(batch["image"]))
            acc.update(metrics(pred_v.cpu(), ground_truth_vertices(body, batch).cpu()))
            if progress is not None:
                progress(len(idx))
    finally:
        body.to(body_device)
        net.train(was_training)
    return acc.result()


def stacked_images(dataset, frames: int) -> torch.Tensor:
    """The first ``frames`` images of ``dataset`` as one (N, 3, H, W) batch."""
    n = min(frames, len(dataset))
    items = dataset.__getitems__(list(range(n))) if hasattr(dataset, "__getitems__") else [dataset[i] for i in range(n)]
    return torch.stack([it["image"] for it in items])


def evaluate_hardware_variant(net, body, calibration_dataset, dataset, calibration_frames: int = 8, bits: int = 8,
                              frames: int | None = None, batch_size: int = 16) -> dict:
    """Metrics of the hardware variant of ``net`` (a BiDRN WholeBodyNet; its three encoders integer, fed the
    uint8 crops, see :func:`bidrn_hw.model.hardware.to_hardware_network`), calibrated on the first
    ``calibration_frames`` images of ``calibration_dataset`` (training frames), evaluated like :func:`evaluate`.
    Returns the metrics plus ``residual_bits``, ``calibration_frames`` and the per-encoder residual scales."""
    from ..model.hardware import ENCODER_NAMES, to_hardware_network

    device = next(net.parameters()).device
    cpu_net = net.to("cpu")
    try:
        hw_net = to_hardware_network(cpu_net, stacked_images(calibration_dataset, calibration_frames), bits)
    finally:
        net.to(device)
    metrics = evaluate(hw_net, body, dataset, frames=frames, batch_size=batch_size)
    return {**{k: round(v, 3) for k, v in metrics.items()}, "residual_bits": bits,
            "calibration_frames": min(calibration_frames, len(calibration_dataset)),
            "residual_scales": {n: getattr(hw_net, n).scale for n in ENCODER_NAMES},
            "negative_slopes_clamped": sum(getattr(hw_net, n).hardware.report.negative_slopes_clamped
                                           for n in ENCODER_NAMES),
            "channels_flipped": sum(getattr(hw_net, n).hardware.report.channels_flipped for n in ENCODER_NAMES)}
