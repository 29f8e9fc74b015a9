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

from ..builddir import OutputDir, reject_output_inside_input, seal
from ..devices import device_budget
from ..errors import InputFileError, UsageError
from ..layers import base_op, is_mvau, layer_cycles_of
from ..layers.base import ram_style
from ..layers.mvau import set_target_family
from ..rtlgen.partitions import stitch_partitions
from ..rtlgen.stitch import generate
from . import combine
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
                      force: bool = False, register_slices: str | None = None, top: str = "accel_top",
                      file_prefix: str = "") -> dict:
    """Lower, fold, generate RTL (unless ``rtl=False``) and estimate into ``out_dir`` (see the module doc).
    ``register_slices`` ("chain", "all"): register slices between layers (:func:`bidrn_hw.rtlgen.stitch.generate`);
    ``top``, ``file_prefix``: the top module's name and a prefix of every memory file's (a partition of a
    multi-partition build, :func:`compile_export`)."""
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
            accel = generate(specialized, tmp, top=top, host_ops=host_ops, register_slices=register_slices,
                             file_prefix=file_prefix)
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


def check_frame(model: ModelWrapper) -> list[np.ndarray]:
    """One random frame in the range of the graph input's integer datatype (seed 0): what the lowering's
    pass-by-pass check runs (``bidrn-hw compile`` without ``--no-check``)."""
    inp = model.graph.input[0].name
    dt = model.get_tensor_datatype(inp)
    rng = np.random.default_rng(0)
    return [rng.integers(int(dt.min()), int(dt.max()) + 1, size=model.get_tensor_shape(inp)).astype(np.float32)]


def _partition_foldings(folding, partitions) -> dict:
    """A multi-partition folding: {partition: FINN-format folding} (a multi-partition build's folding.json), as a
    file or a dict; a partition it does not name keeps the default pixel folding."""
    if folding is None:
        return {}
    if not isinstance(folding, dict):
        try:
            folding = json.loads(Path(folding).read_text())
        except (OSError, ValueError) as exc:
            raise UsageError(f"folding file {folding}: cannot read it as JSON ({exc})") from None
    unknown = [k for k in folding if k not in partitions]
    if not isinstance(folding, dict) or unknown or not all(isinstance(v, dict) for v in folding.values()):
        raise UsageError(f"a multi-partition folding maps partition names ({', '.join(partitions)}) to FINN-format "
                         f"foldings (the folding.json of a multi-partition build)"
                         + (f"; {unknown[0]!r} is not a partition" if unknown else ""))
    return folding


MULTI_ENTRIES = ("rtl", "accel.json", "estimates.json", "report.md", "folding.json")


def compile_export(export_dir: Path | str, out_dir: Path | str, check: bool = True, log=None,
                   folding: Path | str | dict | None = None, target_fps: float | None = None,
                   fclk_mhz: float | None = None, part: str | None = None, rtl: bool = True, force: bool = False,
                   register_slices: str | None = None) -> dict:
    """Every FPGA partition of an export directory (``bidrn-hw export``) compiled into ``out_dir/<partition>/``
    (:func:`compile_partition`, top ``<partition>_top``) and stitched into one accelerator, ``out_dir/rtl/`` with
    one stream pair per partition (:mod:`bidrn_hw.rtlgen.partitions`), and combined estimates
    (:mod:`bidrn_hw.flow.combine`). ``target_fps`` is network frames per second: a partition that runs k times
    a frame (the hand encoder, twice) is folded for k times that rate. ``folding``: {partition: folding}."""
    from ..partition import FPGA_PARTITIONS, RUNS_PER_FRAME  # lazy: partition.py imports torch (~2 s)

    export_dir, out_dir = Path(export_dir), Path(out_dir)
    if not export_dir.is_dir():
        raise InputFileError(f"{export_dir}: export directory not found")
    missing = [p for p in FPGA_PARTITIONS if not (export_dir / p / "model.onnx").is_file()]
    if len(missing) == len(FPGA_PARTITIONS) and not (export_dir / "partitions.json").is_file():
        raise InputFileError(f"{export_dir} is a folder, neither a model (.onnx) nor an export directory of "
                             f"`bidrn-hw export` (no {FPGA_PARTITIONS[0]}/model.onnx, no partitions.json)")
    if missing:
        raise UsageError(f"{export_dir}: the export has no {', '.join(missing)} partition ("
                         f"{export_dir / missing[0] / 'model.onnx'} not found); a multi-partition compile needs "
                         f"every FPGA partition ({', '.join(FPGA_PARTITIONS)}): export them with `bidrn-hw export "
                         f"--out {export_dir}`, or compile one partition's model.onnx alone")
    foldings = _partition_foldings(folding, FPGA_PARTITIONS)
    if foldings and target_fps is not None:
        raise UsageError("give either a folding file (--folding) or a target frame rate (--target-fps), not both")
    reject_output_inside_input(out_dir, [export_dir])
    output = OutputDir(out_dir, "compile", force=force, expected=(*MULTI_ENTRIES, *FPGA_PARTITIONS))
    results, parts = {}, []
    with output as tmp:
        for name in FPGA_PARTITIONS:
            path = export_dir / name / "model.onnx"
            runs = RUNS_PER_FRAME[name]
            results[name] = compile_partition(
                path, tmp / name, check_inputs=check_frame(ModelWrapper(str(path))) if check else None, log=log,
                folding=foldings.get(name), target_fps=None if target_fps is None else target_fps * runs,
                fclk_mhz=fclk_mhz, part=part, rtl=rtl, register_slices=register_slices, top=f"{name}_top",
                file_prefix=f"{name}_")
            parts.append({"name": name, "dir": name, "runs_per_frame": runs,
                          "estimates": json.loads((tmp / name / "estimates.json").read_text())})
        est = combine.combine_estimates(parts)
        combine.write_report(est, tmp)
        (tmp / "folding.json").write_text(json.dumps(
            {name: json.loads((tmp / name / "folding.json").read_text()) for name in FPGA_PARTITIONS}, indent=2))
        top = None
        if rtl:
            accel = stitch_partitions(tmp, parts)
            top = accel["top"]
            seal(tmp, accel)  # last: the sha256 of every file, the partitions' included
    summary = {k: est[k] for k in ("part", "fclk_mhz", "cycles_per_frame", "fps", "latency_cycles", "balance",
                                   "resources", "fits")}
    return {"top": top, "layers": len(est["layers"]), "estimates": summary, "dir": str(out_dir),
            "partitions": {name: {"stream": k, "top": r["top"], "layers": r["layers"], "dir": str(out_dir / name),
                                  "runs_per_frame": RUNS_PER_FRAME[name],
                                  "cycles_per_run": r["estimates"]["cycles_per_frame"], "fps": r["estimates"]["fps"],
                                  "resources": r["estimates"]["resources"], "folding": r["estimates"]["folding"]}
                           for k, (name, r) in enumerate(results.items())}}
