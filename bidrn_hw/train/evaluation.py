"""Run a network over a data set and average the mesh metrics (:mod:`.metrics`)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch.utils.data import default_collate

from ..body.smplx_layer import PARAMETERS
from ..model.hardware import ENCODER_NAMES, to_hardware_network, to_uint8_levels
from .metrics import MeshMetrics, MetricAccumulator, rigid_align
from .skeleton import PELVIS


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
            items = _items(dataset, idx)
            batch = {k: v.to(device) for k, v in default_collate(items).items()}
            pred_v, _ = body_forward(body, net(batch["image"]))
            acc.update(metrics(pred_v.cpu(), ground_truth_vertices(body, batch).cpu()))
            if progress is not None:
                progress(len(idx))
    finally:
        body.to(body_device)
        net.train(was_training)
    return acc.result()


def _items(dataset, idx: list[int]) -> list:
    """The samples at ``idx``, fetched as one batch where the data set can (``__getitems__``)."""
    return dataset.__getitems__(idx) if hasattr(dataset, "__getitems__") else [dataset[i] for i in idx]


def stacked_images(dataset, frames: int) -> torch.Tensor:
    """The first ``frames`` images of ``dataset`` as one (N, 3, H, W) batch."""
    return torch.stack([it["image"] for it in _items(dataset, list(range(min(frames, len(dataset)))))])


def _calibrated_hardware_network(net, calibration_dataset, calibration_frames: int, bits: int):
    """The hardware variant of ``net``, built on the CPU from the first ``calibration_frames`` images of
    ``calibration_dataset`` (``net`` is returned to its device)."""
    device = next(net.parameters()).device
    cpu_net = net.to("cpu")
    try:
        return to_hardware_network(cpu_net, stacked_images(calibration_dataset, calibration_frames), bits)
    finally:
        net.to(device)


def evaluate_hardware_variant(net, body, calibration_dataset, dataset, calibration_frames: int = 8, bits: int = 8,
                              frames: int | None = None, batch_size: int = 16) -> dict:
    """Metrics of the hardware variant of ``net`` (a BiDRN WholeBodyNet; its three encoders integer, fed the
    uint8 crops, see :func:`bidrn_hw.model.hardware.to_hardware_network`), calibrated on the first
    ``calibration_frames`` images of ``calibration_dataset`` (training frames), evaluated like :func:`evaluate`.
    Returns the metrics plus ``residual_bits``, ``calibration_frames`` and the per-encoder residual scales."""
    hw_net = _calibrated_hardware_network(net, calibration_dataset, calibration_frames, bits)
    metrics = evaluate(hw_net, body, dataset, frames=frames, batch_size=batch_size)
    return {**{k: round(v, 3) for k, v in metrics.items()}, "residual_bits": bits,
            "calibration_frames": min(calibration_frames, len(calibration_dataset)),
            "residual_scales": {n: getattr(hw_net, n).scale for n in ENCODER_NAMES},
            "negative_slopes_clamped": sum(getattr(hw_net, n).hardware.report.negative_slopes_clamped
                                           for n in ENCODER_NAMES),
            "channels_flipped": sum(getattr(hw_net, n).hardware.report.channels_flipped for n in ENCODER_NAMES)}


def _pelvis_centred(body, vertices: torch.Tensor) -> torch.Tensor:
    j = torch.einsum("jv,bvc->bjc", body.smplx.J_regressor.to(vertices), vertices)
    return vertices - j[:, PELVIS:PELVIS + 1]


@torch.no_grad()
def training_meshes(body, dataset, frames: int, batch_size: int = 64) -> torch.Tensor:
    """(N, V, 3) pelvis-centred ground-truth meshes of the first ``frames`` samples of ``dataset``."""
    n = min(frames, len(dataset))
    out = []
    for start in range(0, n, batch_size):
        idx = list(range(start, min(start + batch_size, n)))
        items = _items(dataset, idx)
        batch = default_collate(items)
        out.append(_pelvis_centred(body, ground_truth_vertices(body, batch).float()))
    return torch.cat(out)


def mean_meshes(meshes: torch.Tensor, iterations: int = 5) -> dict[str, torch.Tensor]:
    """The two constant predictions of the baseline: ``mean`` (the mean of the pelvis-centred meshes) and
    ``procrustes_mean`` (generalized Procrustes: every mesh similarity-aligned to the current mean, averaged,
    repeated; started from the plain mean)."""
    mean = meshes.double().mean(0)
    pmean = mean.clone()
    for _ in range(iterations):
        aligned = torch.cat([rigid_align(meshes[i:i + 256], pmean.expand(len(meshes[i:i + 256]), -1, -1))
                             for i in range(0, len(meshes), 256)])
        pmean = aligned.mean(0)
    return {"mean": mean.float(), "procrustes_mean": pmean.float()}


@torch.no_grad()
def evaluate_constant(body, mesh: torch.Tensor, dataset, frames: int | None = None, batch_size: int = 16
                      ) -> dict[str, float]:
    """The metrics of predicting ``mesh`` (V, 3) for every frame of ``dataset`` (as :func:`evaluate`)."""
    metrics = MeshMetrics.for_body_model(body)
    acc = MetricAccumulator()
    n = len(dataset) if frames is None else min(frames, len(dataset))
    for start in range(0, n, batch_size):
        idx = list(range(start, min(start + batch_size, n)))
        items = _items(dataset, idx)
        gt = ground_truth_vertices(body, default_collate(items))
        acc.update(metrics(mesh.expand(len(idx), -1, -1), gt))
    return acc.result()


def mean_mesh_baseline(body, train_dataset, val_dataset, train_frames: int = 2048,
                       frames: int | None = None) -> dict:
    """The baseline every trained model must beat: constant predictions from the training set's meshes,
    scored on the validation frames. Returns both means' metrics and, per metric, the better of the two
    (``best``), which is the reference for the ratios."""
    means = mean_meshes(training_meshes(body, train_dataset, train_frames))
    result = {name: {k: round(v, 3) for k, v in evaluate_constant(body, m, val_dataset, frames).items()}
              for name, m in means.items()}
    result["best"] = {k: min(result["mean"][k], result["procrustes_mean"][k]) for k in result["mean"]}
    result["train_frames"] = min(train_frames, len(train_dataset))
    return result


class QonnxEncoder(torch.nn.Module):
    """Stands in for an encoder of the hardware network: each frame is rounded to its uint8 levels and run
    through the exported QONNX partition (qonnx execution of the integer graph); the output levels are scaled
    back by the partition's residual scale for the host heads."""

    def __init__(self, model, scale: float):
        super().__init__()
        self.model, self.scale = model, scale

    def forward(self, x):
        from ..model.export import run_qonnx  # lazy: qonnx, only when an encoder runs as its QONNX graph

        levels = to_uint8_levels(x).cpu().numpy().astype(np.float32)
        out = np.concatenate([run_qonnx(self.model, f[None]) for f in levels])
        return torch.from_numpy(out.astype(np.float32)).to(x.device) * self.scale


def evaluate_hardware_qonnx(net, body, calibration_dataset, dataset, export_dir, calibration_frames: int = 8,
                            bits: int = 8, frames: int | None = None, batch_size: int = 16) -> dict:
    """Like :func:`evaluate_hardware_variant`, but each encoder runs as its exported QONNX graph
    (``export_dir/<encoder>.onnx``, qonnx execution: what the FPGA partitions compute), the host part (BoxNet,
    crops, heads, SMPL-X layer) in PyTorch."""
    # lazy: qonnx and the partition export, needed only by this QONNX check, not by training's evaluation
    from ..model.export import export_hardware_encoder
    from ..partition import partition_input_hw

    hw_net = _calibrated_hardware_network(net, calibration_dataset, calibration_frames, bits)
    export_dir = Path(export_dir)
    scales = {}
    for name in ENCODER_NAMES:
        hardware = getattr(hw_net, name).hardware
        model = export_hardware_encoder(hardware, partition_input_hw(net.config, name), export_dir / f"{name}.onnx")
        scales[name] = hardware.scale
        setattr(hw_net, name, QonnxEncoder(model, hardware.scale))
    metrics = evaluate(hw_net, body, dataset, frames=frames, batch_size=batch_size)
    return {**{k: round(v, 3) for k, v in metrics.items()}, "residual_bits": bits, "executed_by": "qonnx",
            "calibration_frames": min(calibration_frames, len(calibration_dataset)), "residual_scales": scales}
