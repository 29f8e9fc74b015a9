"""Compile a QONNX model (an exported BiDRN partition) into a build directory: FINN HW graph, folding,
FIFOs, stitched RTL, accel.json and estimates."""
from __future__ import annotations

import math
from pathlib import Path

from ..errors import InputFileError, UsageError


def add_arguments(parser):
    parser.add_argument("model", help="QONNX model (.onnx), e.g. DIR/body_encoder/model.onnx from `export`; or an "
                                      "export directory DIR: every FPGA partition in one accelerator, one AXI-Stream "
                                      "pair per partition (s_axis_<i>/m_axis_<i>, docs/fpga.md)")
    parser.add_argument("--out", required=True, help="build directory (new, empty, or an earlier build)")
    parser.add_argument("--force", action="store_true",
                        help="write into a non-empty folder that is not a build (nothing of yours is removed)")
    parser.add_argument("--no-check", action="store_true",
                        help="skip the pass-by-pass exactness check on one reference frame")
    parser.add_argument("--folding", default=None, metavar="F.json",
                        help="FINN-format folding config (e.g. DIR/folding.json of an earlier compile); nodes it "
                             "does not name keep the default pixel folding. For an export directory: {partition: "
                             "folding} (a multi-partition build's folding.json)")
    parser.add_argument("--target-fps", type=float, default=None, metavar="N",
                        help="fold automatically for N frames/s at --fclk-mhz under --part's resource budget (an "
                             "export directory: N network frames/s, the hand encoder folded for 2N runs/s)")
    parser.add_argument("--fclk-mhz", type=float, default=None, metavar="F", help="clock for FPS (default 200)")
    parser.add_argument("--part", default=None, metavar="P",
                        help="device budget: xc7z020 (default), xczu7ev, xcu250, ecp5-85k (or a part name/alias)")
    parser.add_argument("--no-rtl", action="store_true", help="stop after folding and estimates (no RTL)")
    parser.add_argument("--register-slices", choices=["chain", "all"], default=None,
                        help="AXI-Stream register slices (hls/axis_register.sv) on the outputs of FIFOs and padding "
                             "(chain) or on every stream between layers (all); default none")


def run(args) -> dict:
    # lazy: qonnx and FINN, kept off the CLI's startup
    from qonnx.core.modelwrapper import ModelWrapper

    from ..devices import device_budget
    from ..flow.build import check_frame, compile_export, compile_partition

    for option, value in (("--target-fps", args.target_fps), ("--fclk-mhz", args.fclk_mhz)):
        if value is not None and not (math.isfinite(value) and value > 0):
            raise UsageError(f"{option} must be a positive number, not {value}")
    if args.part is not None:
        device_budget(args.part)  # unknown part: fail before the (slow) lowering
    if args.folding and args.target_fps is not None:
        raise UsageError("give either --folding or --target-fps, not both")
    if args.folding and not Path(args.folding).is_file():
        raise UsageError(f"folding file {args.folding} not found")
    path = Path(args.model)
    if not path.exists():
        raise InputFileError(f"{path} not found")
    if path.is_dir():  # an export directory: every partition, one accelerator
        result = compile_export(path, Path(args.out), check=not args.no_check, folding=args.folding,
                                target_fps=args.target_fps, fclk_mhz=args.fclk_mhz, part=args.part,
                                register_slices=getattr(args, "register_slices", None), rtl=not args.no_rtl,
                                force=args.force)
        return {"top": result["top"], "layers": result["layers"], "estimates": result["estimates"],
                "out": result["dir"], "partitions": result["partitions"]}
    try:
        model = ModelWrapper(str(path))
    except Exception as exc:
        raise InputFileError(f"{path} is not an ONNX model: {exc}") from None
    if not model.graph.input or not model.graph.node:
        raise InputFileError(f"{path} is not an ONNX model: its graph has no {'input' if model.graph.node else 'node'}")
    inp = model.graph.input[0].name
    dt = model.get_tensor_datatype(inp)
    if not dt.is_integer():
        raise UsageError(f"{path}: graph input '{inp}' has datatype {dt.name}; annotate its integer type, e.g. "
                         f"model.set_tensor_datatype('{inp}', DataType['UINT8']) for an 8-bit image "
                         f"(FINN's convention), then save the model again")
    check = None if args.no_check else check_frame(model)
    result = compile_partition(path, Path(args.out), check_inputs=check, folding=args.folding,
                               target_fps=args.target_fps, fclk_mhz=args.fclk_mhz, part=args.part,
                               register_slices=getattr(args, "register_slices", None),
                               rtl=not args.no_rtl, force=args.force)
    return {"top": result["top"], "layers": result["layers"], "estimates": result["estimates"], "out": result["dir"]}
