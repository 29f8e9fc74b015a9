"""Simulate a compiled design in Verilator + cocotb and compare every output with FINN's execution of the
same compiled graph (DIR/hw.onnx), integer for integer."""
from __future__ import annotations

from pathlib import Path


def add_arguments(parser):
    parser.add_argument("dir", help="build directory from `bidrn-hw compile`")
    parser.add_argument("--inputs", help=".npy of input frames in the model's own layout (N, C, H, W) "
                                         "(default: random frames)")
    parser.add_argument("--outputs", help="save what the RTL produced here (.npy, the model's layout)")
    parser.add_argument("--frames", type=int, default=2, help="random frames when no --inputs (default 2)")
    parser.add_argument("--stall", type=float, default=0.0,
                        help="probability of a tvalid gap / tready stall per cycle (default 0)")
    parser.add_argument("--seed", type=int, default=0)


def _to_stream(x, stream):
    """Model-layout frames ((N, C, H, W), or (N, 1, C, H, W)) -> stream frames: the input's host op from
    accel.json (a transpose or a flatten), else NCHW -> NHWC when the shapes say so."""
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


def run(args) -> dict:
    import numpy as np
    from qonnx.core.modelwrapper import ModelWrapper

    from ..errors import InputFileError, MismatchError, UsageError
    from ..rtl_sim import accelerator

    build = Path(args.dir)
    accel = accelerator.load_design(build)
    if not 0.0 <= args.stall < 1.0:
        raise UsageError(f"--stall must be in [0, 1), got {args.stall}")
    stream = accel["inputs"][0]
    shape = stream["shape"]
    if args.inputs:
        try:
            x = np.load(args.inputs, allow_pickle=False)
        except (OSError, ValueError) as exc:
            raise InputFileError(f"{args.inputs}: cannot read as .npy ({exc})") from None
        frames = _to_stream(x, stream)
    else:
        if args.frames < 1:
            raise UsageError(f"--frames must be >= 1, got {args.frames}")
        lo = -(1 << (stream["elem_bits"] - 1)) if stream["elem_signed"] else 0
        hi = (1 << (stream["elem_bits"] - (1 if stream["elem_signed"] else 0))) - 1
        frames = np.random.default_rng(args.seed).integers(lo, hi + 1, size=(args.frames, *shape[1:]))
    accelerator.check_frames(accel, [frames])
    result = accelerator.simulate(build, [frames], stall=args.stall, seed=args.seed)

    from finn.core.onnx_exec import execute_onnx

    hw = ModelWrapper(str(build / "hw.onnx"))
    iname, oname = hw.graph.input[0].name, hw.graph.output[0].name
    expected = np.stack([execute_onnx(hw, {iname: f[None].astype(np.float32)})[oname][0] for f in frames])
    produced = result["outputs"][0]
    mismatches = int((produced != expected).sum())
    if args.outputs:
        from ..flow import host_ops

        # the model's own values: host float ops the lowering moved off the FPGA (e.g. TensorNorm's final
        # scale/bias), recorded in hw.onnx's metadata
        out = host_ops.from_stream(host_ops.get(hw), produced)
        out = out.transpose(0, 3, 1, 2) if out.ndim == 4 else out
        np.save(args.outputs, out)
    summary = {"bit_exact": mismatches == 0, "frames": int(frames.shape[0]), "mismatches": mismatches,
               "cycles_per_frame": result["cycles_per_frame"],
               "estimated_cycles_per_frame": accel.get("estimated_cycles_per_frame"),
               "total_cycles": result["cycles"], "stall": args.stall}
    if mismatches:
        raise MismatchError(f"{mismatches} output values differ from FINN's execution of {build / 'hw.onnx'} "
                            f"({summary})")
    return summary
