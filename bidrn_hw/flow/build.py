"""Compile one exported partition (QONNX) into a build directory: HW graph, folding, FIFOs, RTL, estimates.

DIR/hw.onnx       the folded FINN HW graph with FIFOs (executable by FINN's Python execution: the reference)
DIR/folding.json  the folding used, in FINN's format
DIR/rtl/, DIR/accel.json   the stitched RTL (bidrn_hw.rtlgen)
DIR/estimates.json         per-layer cycles and the pipeline's cycles per frame
The directory is built under a temporary name and renamed at the end: a failed compile leaves no DIR that
looks complete and keeps an earlier DIR untouched.
"""
from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

import numpy as np
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.custom_op.registry import getCustomOp

from ..errors import InputFileError
from .fifos import InsertBranchFIFOs
from .lower import lower_to_hw
from .pixel_folding import ApplyPixelFolding

SPECIALIZE_PART = "xc7z020clg400-1"  # only picks FINN's backend classes (widths, shapes); no synthesis


def folding_config(model: ModelWrapper) -> dict:
    keys = ("PE", "SIMD", "depth", "ram_style")
    config = {"Defaults": {}}
    for node in model.graph.node:
        inst = getCustomOp(node)
        attrs = {a.name for a in node.attribute}
        entry = {k: inst.get_nodeattr(k) for k in keys if k in attrs}
        if entry:
            config[node.name] = entry
    return config


def layer_cycles(model: ModelWrapper) -> dict[str, int]:
    from ..rtlgen import layers_dataflow

    cycles = {}
    for node in model.graph.node:
        inst = getCustomOp(node)
        base = node.op_type[:-4] if node.op_type.endswith(("_hls", "_rtl")) else node.op_type
        if base in layers_dataflow.supported_op_types():
            cycles[node.name] = int(layers_dataflow.estimate_cycles(inst))
        elif base == "StreamingFIFO":
            cycles[node.name] = 0
        else:
            cycles[node.name] = int(inst.get_exp_cycles())
    return cycles


def accel_host_ops(model: ModelWrapper, hw: ModelWrapper) -> dict:
    """accel.json's host ops per stream tensor: what the host does to the model's input before streaming it
    (layout) and to each output stream to get the model's output (``scale``, ``bias``: scalars or one per
    channel of the last axis). From the lowering's :mod:`~bidrn_hw.flow.host_ops` (the float ops after the
    last quantizer); for BiDRN partitions, whose output is the integer residual, the residual scale."""
    from . import host_ops as host

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
                      log=None) -> dict:
    from finn.transformation.fpgadataflow.specialize_layers import SpecializeLayers

    from ..rtlgen.stitch import generate

    qonnx_path, out_dir = Path(qonnx_path), Path(out_dir)
    if not qonnx_path.exists():
        raise InputFileError(f"{qonnx_path} not found")
    model = ModelWrapper(str(qonnx_path))
    hw = lower_to_hw(model, check_inputs=check_inputs, log=log)
    hw = hw.transform(ApplyPixelFolding()).transform(InsertBranchFIFOs())
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", dir=out_dir.parent))
    try:
        hw.save(str(tmp / "hw.onnx"))
        (tmp / "folding.json").write_text(json.dumps(folding_config(hw), indent=2))
        specialized = hw.transform(SpecializeLayers(SPECIALIZE_PART))
        cycles = layer_cycles(specialized)
        host_ops = accel_host_ops(model, hw)
        accel = generate(specialized, tmp, host_ops=host_ops, final_dir=out_dir)
        for stream in accel["inputs"]:  # the host's layout op before streaming (e.g. NCHW -> NHWC, flatten)
            if stream["tensor"] in host_ops:
                stream["host_ops"] = host_ops[stream["tensor"]]
        slowest = max(cycles.values())
        accel["estimated_cycles_per_frame"] = slowest
        (tmp / "accel.json").write_text(json.dumps(accel, indent=2))
        busy = [c for c in cycles.values() if c > 0]
        estimates = {"layers": [{"name": k, "cycles": v} for k, v in cycles.items()],
                     "cycles_per_frame": slowest, "balance": round(slowest / (sum(busy) / len(busy)), 3)}
        (tmp / "estimates.json").write_text(json.dumps(estimates, indent=2))
        if out_dir.exists():
            shutil.rmtree(out_dir)
        tmp.rename(out_dir)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return {"top": accel["top"], "layers": len(accel["layers"]), "estimates": estimates, "dir": str(out_dir)}
