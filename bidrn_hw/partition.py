"""The FPGA/host partition of BiDRN.

FPGA (dataflow, one accelerator per partition): the body, hand and face encoders in their hardware variant
(uint8 image in, R-bit residual levels out). Host (PyTorch on the CPU): resizing and cropping (the crops
depend on BoxNet's boxes, which depend on the body encoder's output), BoxNet, PositionNet with 3D
soft-argmax, RotationNet, FaceRegressor, 6D-to-axis-angle and the SMPL-X layer. BoxNet's binarized
transposed convolutions stay on the host for now: FINN's deconvolution lowering is not part of this flow.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
from torch.nn import functional as F

from .builddir import OutputDir
from .model.configs import ModelConfig, get_config
from .model.export import export_hardware_encoder
from .model.hardware import ENCODER_NAMES, HardwareEncoder, to_hardware
from .model.network import WholeBodyNet

FPGA_PARTITIONS = ENCODER_NAMES  # the hardware variant's encoders, in this order everywhere
RUNS_PER_FRAME = {"body_encoder": 1, "hand_encoder": 2, "face_encoder": 1}  # the hand encoder runs for both hands
assert tuple(RUNS_PER_FRAME) == FPGA_PARTITIONS


def partition_input_hw(config: ModelConfig, name: str) -> tuple[int, int]:
    return {"body_encoder": config.body_input, "hand_encoder": config.hand_input,
            "face_encoder": config.face_input}[name]


def hardware_encoders(model: WholeBodyNet, calibration_images: torch.Tensor, bits: int = 8) -> dict[str, HardwareEncoder]:
    """Hardware variants of the three encoders, each calibrated on crops of ``calibration_images``.

    ``calibration_images``: (N, 3, H, W) in [0, 1] at the config's full image size. The body encoder is
    calibrated on resized images, hands and face on centre crops resized to their input sizes.
    """
    cfg = model.config
    out = {}
    for name in FPGA_PARTITIONS:
        size = partition_input_hw(cfg, name)
        images = F.interpolate(calibration_images, size=size, mode="bilinear", align_corners=False)
        out[name] = to_hardware(getattr(model, name), images, bits)
    return out


def export_partitions(model: WholeBodyNet, out_dir: Path, frames: int = 16, bits: int = 8, seed: int = 0,
                      calibration_images: torch.Tensor | None = None) -> dict:
    """Write ``out_dir/<partition>/{model.onnx, inputs.npy, outputs.npy, partition.json}`` for each FPGA
    partition; reference outputs come from the Brevitas hardware variant."""
    gen = torch.Generator().manual_seed(seed)
    cfg = model.config
    if calibration_images is None:
        calibration_images = torch.rand(8, 3, *cfg.image_input, generator=gen)
    encoders = hardware_encoders(model, calibration_images, bits)
    summary = {"config": cfg.name, "variant": model.variant, "residual_bits": bits, "partitions": {}}
    for name, enc in encoders.items():
        pdir = out_dir / name
        pdir.mkdir(parents=True, exist_ok=True)
        size = partition_input_hw(cfg, name)
        qonnx = export_hardware_encoder(enc, size, pdir / "model.onnx")
        inputs = torch.randint(0, 256, (frames, 1, 3, *size), generator=gen).float()
        with torch.no_grad():
            outputs = torch.stack([enc(x) for x in inputs])
        np.save(pdir / "inputs.npy", inputs.numpy().astype(np.uint8))
        np.save(pdir / "outputs.npy", outputs.numpy().astype(np.int64))
        info = {"qonnx": str(pdir / "model.onnx"), "nodes": len(qonnx.graph.node), "input_shape": list(inputs.shape[1:]),
                "output_shape": list(outputs.shape[1:]), "output_scale": enc.scale, "residual_bits": bits,
                "channels_flipped": enc.report.channels_flipped,
                "negative_slopes_clamped": enc.report.negative_slopes_clamped}
        (pdir / "partition.json").write_text(json.dumps(info, indent=2))
        summary["partitions"][name] = info
    (out_dir / "partitions.json").write_text(json.dumps(summary, indent=2))
    return summary


def export_config(config: str, out_dir: Path | str, frames: int = 16, bits: int = 8, seed: int = 0) -> dict:
    """``bidrn-hw export --config CONFIG --out OUT_DIR`` without a checkpoint: the randomly initialized
    (``torch.manual_seed(seed)``) BiDRN of ``config`` exported into a build folder of ours (builddir.OutputDir:
    written beside it and swapped in on success)."""
    command = (f"bidrn-hw export --config {config} --out {out_dir} --frames {frames} --residual-bits {bits} "
               f"--seed {seed}")
    output = OutputDir(out_dir, "export", command=command, expected=(*FPGA_PARTITIONS, "partitions.json"))
    torch.manual_seed(seed)
    model = WholeBodyNet(get_config(config), "bidrn")
    model.eval()
    with output as tmp:
        return export_partitions(model, tmp, frames=frames, bits=bits, seed=seed)
