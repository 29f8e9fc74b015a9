"""Simulate a compiled design in Verilator and compare every output with FINN's execution of the same
compiled graph (DIR/hw.onnx), integer for integer.

The default engine is the compiled C++ stream driver (:mod:`bidrn_hw.rtl_sim.compiled`); ``--engine cocotb``
runs the cocotb testbench instead. FINN's outputs for a build and its inputs are computed once and cached by a
hash of ``hw.onnx`` and the frames (``$BIDRN_HW_CACHE/reference``), so a repeated call imports neither qonnx
nor FINN. Imports are made where they are needed: a cached call loads numpy and the simulator driver only.
"""
from __future__ import annotations

import hashlib
import json
import os
import tempfile
import time
from pathlib import Path

from ..errors import InputFileError, MismatchError, UsageError


def add_arguments(parser):
    parser.add_argument("dir", help="build directory from `bidrn-hw compile` (a multi-partition build: every stream "
                                    "pair driven at once, each partition checked against its own hw.onnx)")
    parser.add_argument("--inputs", help=".npy of input frames in the model's own layout (N, C, H, W) "
                                         "(default: random frames); a multi-partition build: a folder with "
                                         "<partition>/inputs.npy (the export directory)")
    parser.add_argument("--outputs", help="save what the RTL produced here (.npy, the model's layout); a "
                                          "multi-partition build: a folder, one <partition>.npy each")
    parser.add_argument("--frames", type=int, default=2, help="random frames when no --inputs (default 2)")
    parser.add_argument("--stall", type=float, default=0.0,
                        help="probability of a tvalid gap / tready stall per cycle (default 0)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--engine", choices=["compiled", "cocotb"], default="compiled",
                        help="compiled: C++ Verilator stream driver (default, fast); cocotb: the cocotb testbench")
    parser.add_argument("--jobs", type=int, default=1,
                        help="split the frames into N batches simulated by parallel processes, each from reset "
                             "(compiled engine; default 1)")
    parser.add_argument("--netlist", action="store_true",
                        help="simulate the post-synthesis netlist instead of the RTL: Yosys synth_ecp5 / synth_xilinx "
                             "for the build's part (or --part) with Yosys' cell models (compiled engine; cached)")
    parser.add_argument("--part", help="with --netlist: the part to synthesize for (default: the build's part)")


def _to_stream(x, stream):
    """Model-layout frames ((N, C, H, W), or (N, 1, C, H, W)) -> stream frames: the input's host op from
    accel.json (a transpose or a flatten), else NCHW -> NHWC when the shapes say so."""
    # lazy: numpy, kept off the CLI's startup
    import numpy as np

    shape = stream["shape"]
    if x.ndim == 5 and x.shape[1] == 1:
        x = x[:, 0]
    ops = stream.get("host_ops") or {}
    if ops.get("op") and tuple(x.shape[1:]) == tuple(ops["from_shape"][1:]):
        if ops["op"] == "transpose":
            return np.ascontiguousarray(x.transpose(ops["perm"]))
        return x.reshape(x.shape[0], *shape[1:])
    if x.ndim == 4 and len(shape) == 4 and tuple(x.shape[1:]) == (shape[3], shape[1], shape[2]):
        return np.ascontiguousarray(x.transpose(0, 2, 3, 1))
    return x


def reference_cache_dir() -> Path:
    """Where FINN's reference outputs are cached: ``$BIDRN_HW_CACHE/reference`` (default ~/.cache/bidrn-hw)."""
    # lazy: numpy, filelock and layers (qonnx) of the simulator, kept off the CLI's startup
    from ..rtl_sim import verilator

    return verilator.cache_root().parent / "reference"


def reference_outputs(build: Path, frames):
    """FINN's execution of ``build/hw.onnx`` on ``frames`` (stream layout) and the graph's host ops (its
    metadata), cached by a hash of the graph and the frames: (outputs, host ops, whether from the cache)."""
    # lazy: numpy, kept off the CLI's startup
    import numpy as np

    frames = np.ascontiguousarray(frames)
    h = hashlib.sha256(b"finn-execute-onnx|1|")
    h.update((build / "hw.onnx").read_bytes())
    h.update(f"{frames.dtype.str}|{frames.shape}|".encode())
    h.update(frames.tobytes())
    path = reference_cache_dir() / f"{h.hexdigest()[:32]}.npz"
    try:
        with np.load(path, allow_pickle=False) as cached:
            return cached["expected"], json.loads(str(cached["host_ops"])), True
    except (OSError, ValueError, KeyError):
        pass
    # lazy: qonnx and FINN, only on a cache miss
    from finn.core.onnx_exec import execute_onnx
    from qonnx.core.modelwrapper import ModelWrapper

    from ..flow import host_ops

    hw = ModelWrapper(str(build / "hw.onnx"))
    iname, oname = hw.graph.input[0].name, hw.graph.output[0].name
    expected = np.stack([execute_onnx(hw, {iname: f[None].astype(np.float32)})[oname][0] for f in frames])
    ops = host_ops.get(hw)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    with os.fdopen(fd, "wb") as fh:
        np.savez(fh, expected=expected, host_ops=np.array(json.dumps(ops)))
    os.replace(tmp, path)  # whole or not at all: a concurrent reader never sees half a file
    return expected, ops, False


def _random_frames(stream, n: int, rng):
    lo = -(1 << (stream["elem_bits"] - 1)) if stream["elem_signed"] else 0
    hi = (1 << (stream["elem_bits"] - (1 if stream["elem_signed"] else 0))) - 1
    return rng.integers(lo, hi + 1, size=(n, *stream["shape"][1:]))


def _mismatches(produced, expected) -> int:
    return int((produced != expected.reshape(produced.shape)).sum()) if expected.size == produced.size \
        else int(max(expected.size, produced.size))


def _model_values(produced, ops):
    """The model's own values: host float ops the lowering moved off the FPGA (e.g. TensorNorm's final
    scale/bias), recorded in hw.onnx's metadata; NHWC -> NCHW."""
    out = produced
    if ops.get("output"):
        # lazy: qonnx, only when the output has host ops
        from ..flow import host_ops

        out = host_ops.from_stream(ops, produced)
    return out.transpose(0, 3, 1, 2) if out.ndim == 4 else out


def _input_frames(args, accel: dict) -> list:
    """One array of frames per input stream: from --inputs (a .npy; for a multi-partition build a folder with
    <partition>/inputs.npy, e.g. the export directory) or random (--frames, --seed)."""
    # lazy: numpy, kept off the CLI's startup
    import numpy as np

    parts = accel.get("partitions")
    if not args.inputs:
        if args.frames < 1:
            raise UsageError(f"--frames must be >= 1, got {args.frames}")
        rng = np.random.default_rng(args.seed)
        return [_random_frames(s, args.frames, rng) for s in accel["inputs"]]
    if parts is None:
        files = [(Path(args.inputs), accel["inputs"][0])]
    else:
        root = Path(args.inputs)
        if not root.is_dir():
            raise UsageError(f"--inputs {root}: a multi-partition build takes a folder holding <partition>/inputs.npy "
                             f"for each of {', '.join(p['name'] for p in parts)} (an export directory)")
        streams = {s["name"]: s for s in accel["inputs"]}
        files = []
        for p in parts:
            if len(p["inputs"]) != 1:
                raise UsageError(f"partition {p['name']} has {len(p['inputs'])} input streams; --inputs gives one")
            files.append((root / p["name"] / "inputs.npy", streams[p["inputs"][0]]))
    frames = []
    for path, stream in files:
        if not path.is_file():
            raise InputFileError(f"{path} not found" + ("" if parts is None else
                                 " (--inputs of a multi-partition build: a folder with <partition>/inputs.npy)"))
        try:
            x = np.load(path, allow_pickle=False)
        except (OSError, ValueError) as exc:
            raise InputFileError(f"{path}: cannot read as .npy ({exc})") from None
        frames.append(_to_stream(x, stream))
    return frames


def run(args) -> dict:
    # lazy: numpy and the simulator driver (qonnx), kept off the CLI's startup
    import numpy as np

    from ..rtl_sim import accelerator

    build = Path(args.dir)
    accel = accelerator.load_design(build)
    if not 0.0 <= args.stall < 1.0:
        raise UsageError(f"--stall must be in [0, 1), got {args.stall}")
    if args.jobs < 1:
        raise UsageError(f"--jobs must be >= 1, got {args.jobs}")
    if args.jobs > 1 and args.engine != "compiled":
        raise UsageError("--jobs needs the compiled engine (--engine compiled)")
    frames = _input_frames(args, accel)
    accelerator.check_frames(accel, frames)
    net = None
    if getattr(args, "netlist", False):
        if args.engine != "compiled":
            raise UsageError("--netlist needs the compiled engine (--engine compiled)")
        from ..fpga import netlist  # lazy: Yosys, only for --netlist

        net = netlist.synthesize(build, getattr(args, "part", None))
    elif getattr(args, "part", None):
        raise UsageError("--part is for --netlist")
    result = accelerator.simulate(build, frames, stall=args.stall, seed=args.seed, engine=args.engine,
                                  jobs=args.jobs, netlist_sources=net.sources if net else None)

    # one reference per partition: FINN's execution of its hw.onnx on its stream's frames
    parts = accel.get("partitions") or [{"name": None, "dir": ".", "inputs": [accel["inputs"][0]["name"]],
                                         "outputs": [accel["outputs"][0]["name"]],
                                         "estimated_cycles_per_frame": accel.get("estimated_cycles_per_frame")}]
    in_index = {s["name"]: k for k, s in enumerate(accel["inputs"])}
    out_index = {s["name"]: k for k, s in enumerate(accel["outputs"])}
    t0 = time.perf_counter()
    checked, cached_all = {}, True
    for p in parts:
        x = frames[in_index[p["inputs"][0]]]
        expected, ops, cached = reference_outputs(build / p["dir"], x)
        produced = result["outputs"][out_index[p["outputs"][0]]]
        checked[p["name"]] = (p, expected, ops, produced, _mismatches(produced, expected))
        cached_all = cached_all and cached
    reference_s = time.perf_counter() - t0
    mismatches = sum(c[4] for c in checked.values())
    if args.outputs:  # the model's own values (a multi-partition build: OUT/<partition>.npy)
        if accel.get("partitions"):
            Path(args.outputs).mkdir(parents=True, exist_ok=True)
            for name, (_, _, ops, produced, _) in checked.items():
                np.save(Path(args.outputs) / f"{name}.npy", _model_values(produced, ops))
        else:
            (_, _, ops, produced, _), = checked.values()
            np.save(args.outputs, _model_values(produced, ops))
    cycles = result["cycles"]
    total = sum(cycles) if isinstance(cycles, list) else cycles
    summary = {"bit_exact": mismatches == 0, "frames": int(frames[0].shape[0]), "mismatches": mismatches,
               "cycles_per_frame": result["cycles_per_frame"],
               "estimated_cycles_per_frame": accel.get("estimated_cycles_per_frame"),
               "total_cycles": cycles, "stall": args.stall, "engine": args.engine, "jobs": result.get("jobs", 1),
               "simulation_s": round(result["simulation_s"], 3),
               "cycles_per_s": round(total / result["simulation_s"]) if result["simulation_s"] > 0 else None,
               "reference_cached": cached_all, "reference_s": round(reference_s, 3)}
    if accel.get("partitions"):  # each stream pair on its own: its exactness and its pace
        summary["cycles_per_frame"] = None  # no one stream's figure stands for the build
        summary["partitions"] = {
            name: {"input": p["inputs"][0], "output": p["outputs"][0], "bit_exact": m == 0, "mismatches": m,
                   "cycles_per_frame": result["cycles_per_frame_by_stream"][p["outputs"][0]],
                   "estimated_cycles_per_frame": p.get("estimated_cycles_per_frame")}
            for name, (p, _, _, _, m) in checked.items()}
    if net is not None:
        summary["netlist"] = {"part": net.part, "family": net.family, "file": str(net.netlist), "cached": net.cached,
                              "synth_s": net.synth_s, "cells": net.cells}
    if mismatches:
        where = ", ".join(f"{name}: {c[4]}" for name, c in checked.items() if c[4])
        if not accel.get("partitions"):
            raise MismatchError(f"{mismatches} output values differ from FINN's execution of {build / 'hw.onnx'} "
                                f"({summary})")
        raise MismatchError(f"{mismatches} output values differ from FINN's execution of the partitions' hw.onnx "
                            f"({where}) ({summary})")
    return summary
