"""Compile one exported partition (QONNX) into a build directory: HW graph, folding, FIFOs, RTL, estimates.

DIR/hw.onnx       the folded FINN HW graph with FIFOs and data-width converters (executable by FINN's Python
                  execution: the reference)
DIR/folding.json  the folding used, in FINN's format (feeds ``--folding`` back unchanged)
DIR/rtl/, DIR/accel.json   the stitched RTL (bidrn_hw.rtlgen)
DIR/estimates.json, DIR/report.md, DIR/estimates.png   per-layer cycles and resources, FPS, latency, FIFO
                  depths (bidrn_hw.flow.estimates)

Folding: pixel folding by default (``pixel_folding``), a FINN-format JSON (``folding=``), or automatic for
``target_fps`` at ``fclk_mhz`` under ``part``'s budget (``bidrn_hw.flow.folding``).
The directory is written by :class:`bidrn_hw.builddir.OutputDir`: under a temporary name, swapped in only
when the compile succeeded (an interrupted or failed compile keeps an earlier DIR untouched), with a marker
saying it is ours; a DIR that is not ours and not empty is refused unless ``force``, which removes nothing
of the user's. ``accel.json`` records the sha256 of every file (:func:`bidrn_hw.builddir.seal`); every path
inside the directory is relative to it.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.custom_op.registry import getCustomOp

from ..builddir import OutputDir, seal
from ..devices import device_budget
from ..errors import InputFileError, UsageError
from ..layers import base_op, is_mvau, layer_cycles_of
from ..layers.base import ram_style
from ..layers.mvau import set_target_family
from ..rtlgen.stitch import generate
from . import host_ops as host
from .estimates import estimate, write_report
from .fast_qonnx import fast_qonnx
from .fifos import InsertBranchFIFOs
from .folding import ApplyFoldingConfig, InsertDataWidthConverters, apply_fifo_depths, auto_fold, load_folding
from .lower import lower_to_hw
from .memory_styles import ResolveMemoryStyles, balance_memory_styles
from .pixel_folding import ApplyPixelFolding
from .rate_fifos import InsertGeneratorInputFIFOs, InsertMVAUInputFIFOs

DEFAULT_PART = "xc7z020"
DEFAULT_FCLK_MHZ = 200.0

# what a compile writes into its folder (a user's file of one of these names in a --force folder is refused)
BUILD_ENTRIES = ("hw.onnx", "folding.json", "rtl", "accel.json", "weights.bin", "estimates.json", "report.md",
                 "estimates.png")

SPECIALIZE_PART = "xc7z020clg400-1"  # only picks FINN's backend classes (widths, shapes); no synthesis


def folding_config(model: ModelWrapper) -> dict:
    keys = ("PE", "SIMD", "depth", "ram_style", "resType")
    config = {"Defaults": {}}
    for node in model.graph.node:
        inst = getCustomOp(node)
        attrs = {a.name for a in node.attribute}
        entry = {k: inst.get_nodeattr(k) for k in keys if k in attrs}
        if base_op(node) == "ConvolutionInputGenerator" and inst.get_nodeattr("parallel_window"):
            entry["parallel_window"] = 1
        if entry:
            config[node.name] = entry
    return config


def layer_cycles(model: ModelWrapper) -> dict[str, int]:
    return {node.name: layer_cycles_of(model, node) for node in model.graph.node}


def fold(hw: ModelWrapper, folding: Path | str | dict | None = None, target_fps: float | None = None,
         fclk_mhz: float = DEFAULT_FCLK_MHZ, part: str = DEFAULT_PART, log=None) -> tuple[ModelWrapper, dict]:
    """Fold a lowered HW graph, insert the branch FIFOs and the data-width converters; (graph, folding info)."""
    if folding is not None and target_fps is not None:
        raise UsageError("give either a folding file (--folding) or a target frame rate (--target-fps), not both")
    set_target_family(hw, device_budget(part)["family"])  # an unknown part is an error whatever the folding
    pending = {}
    if target_fps is not None:
        hw, info = auto_fold(hw, target_fps, fclk_mhz, part, log=log)
        info = {"mode": "auto", **info}
    elif folding is not None:
        config = folding if isinstance(folding, dict) else load_folding(folding)
        applier = ApplyFoldingConfig(config, source="folding" if isinstance(folding, dict) else str(folding))
        hw = hw.transform(applier)
        pending = applier.pending
        info = {"mode": "file", "file": None if isinstance(folding, dict) else str(folding),
                "ignored": applier.ignored}
        if not device_budget(part)["URAM"]:
            for node in hw.graph.node:
                if is_mvau(node) and ram_style(node) == "ultra":
                    raise UsageError(f"{info['file'] or 'folding'}: node {node.name}: ram_style='ultra' puts its weights "
                                     f"in UltraRAM (loaded after reset), but {part} has no UltraRAM")
    else:
        hw = hw.transform(ApplyPixelFolding())
        info = {"mode": "pixel"}
    hw = hw.transform(InsertBranchFIFOs()).transform(InsertDataWidthConverters())
    hw = hw.transform(InsertGeneratorInputFIFOs()).transform(InsertMVAUInputFIFOs())
    apply_fifo_depths(hw, pending, info.get("file") or "folding")
    if target_fps is not None:  # a folding for the part: its memories placed by what the part has
        balance_memory_styles(hw, device_budget(part))
    hw = hw.transform(ResolveMemoryStyles(device_budget(part)["family"]))
    return hw, info


def accel_host_ops(model: ModelWrapper, hw: ModelWrapper) -> dict:
    """accel.json's host ops per stream tensor: what the host does to the model's input before streaming it
    (layout) and to each output stream to get the model's output (``scale``, ``bias``: scalars or one per
    channel of the last axis). From the lowering's :mod:`~bidrn_hw.flow.host_ops` (the float ops after the
    last quantizer); for BiDRN partitions, whose output is the integer residual, the residual scale."""
    ops = host.get(hw)
    out = ops.get("output")
    if out is None:
        scale = model.get_metadata_prop("bidrn_hw.residual_scale")
        out = {"scale": float(scale) if scale else 1.0, "bias": 0.0}
    out_name = hw.graph.output[0].name
    layout = "NHWC" if len(hw.get_tensor_shape(out_name)) == 4 else "NC"
    result = {out_name: {"scale": out["scale"], "bias": out["bias"], "layout": layout}}
    if ops.get("input"):
        result[hw.graph.input[0].name] = dict(ops["input"])
    return result


def compile_partition(qonnx_path: Path | str, out_dir: Path | str, check_inputs: list[np.ndarray] | None = None,
                      log=None, folding: Path | str | dict | None = None, target_fps: float | None = None,
                      fclk_mhz: float | None = None, part: str | None = None, rtl: bool = True,
                      force: bool = False, register_slices: str | None = None) -> dict:
    """Lower, fold, generate RTL (unless ``rtl=False``) and estimate into ``out_dir`` (see the module doc).
    ``register_slices`` ("chain", "all"): register slices between layers (:func:`bidrn_hw.rtlgen.stitch.generate`)."""
    from finn.transformation.fpgadataflow.specialize_layers import SpecializeLayers  # lazy: loads all of FINN's HW backends (~3 s)

    qonnx_path, out_dir = Path(qonnx_path), Path(out_dir)
    fclk_mhz = float(fclk_mhz if fclk_mhz is not None else DEFAULT_FCLK_MHZ)
    if fclk_mhz <= 0:
        raise UsageError(f"--fclk-mhz must be positive, not {fclk_mhz}")
    part = part or DEFAULT_PART
    device = device_budget(part)
    if not qonnx_path.exists():
        raise InputFileError(f"{qonnx_path} not found")
    output = OutputDir(out_dir, "compile", force=force, expected=BUILD_ENTRIES)  # refused before the slow work
    model = ModelWrapper(str(qonnx_path))
    hw = lower_to_hw(model, check_inputs=check_inputs, log=log)
    with fast_qonnx():
        hw, fold_info = fold(hw, folding, target_fps, fclk_mhz, part, log=log)
    with output as tmp:
        hw.save(str(tmp / "hw.onnx"))
        (tmp / "folding.json").write_text(json.dumps(folding_config(hw), indent=2))
        specialized = hw.transform(SpecializeLayers(SPECIALIZE_PART))
        rtl_names = {a.name: b.name for a, b in zip(hw.graph.node, specialized.graph.node)}
        estimates = estimate(hw, device, fclk_mhz, rtl_names=rtl_names, folding=fold_info)
        accel = {"top": None}
        if rtl:
            host_ops = accel_host_ops(model, hw)
            accel = generate(specialized, tmp, host_ops=host_ops, register_slices=register_slices)
            for stream in accel["inputs"]:  # the host's layout op before streaming (e.g. NCHW -> NHWC, flatten)
                if stream["tensor"] in host_ops:
                    stream["host_ops"] = host_ops[stream["tensor"]]
            accel["estimated_cycles_per_frame"] = estimates["cycles_per_frame"]
        write_report(estimates, tmp)
        if rtl:  # last: the sha256 of every file written above
            seal(tmp, accel)
    summary = {k: estimates[k] for k in ("part", "fclk_mhz", "cycles_per_frame", "fps", "latency_cycles", "balance",
                                         "resources", "fits")}
    summary["folding"] = fold_info
    return {"top": accel["top"], "layers": len(estimates["layers"]), "estimates": summary, "dir": str(out_dir)}
