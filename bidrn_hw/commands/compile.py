"""Compile a QONNX model (an exported BiDRN partition) into a build directory: FINN HW graph, folding,
FIFOs, stitched RTL, accel.json and estimates."""
from __future__ import annotations

from pathlib import Path


def add_arguments(parser):
    parser.add_argument("model", help="QONNX model (.onnx), e.g. DIR/body_encoder/model.onnx from `export`")
    parser.add_argument("--out", required=True, help="build directory")
    parser.add_argument("--no-check", action="store_true",
                        help="skip the pass-by-pass exactness check on one reference frame")


def run(args) -> dict:
    import numpy as np
    from qonnx.core.modelwrapper import ModelWrapper

    from ..errors import InputFileError, UsageError
    from ..flow.build import compile_partition

    path = Path(args.model)
    if not path.exists():
        raise InputFileError(f"{path} not found")
    try:
        model = ModelWrapper(str(path))
    except Exception as exc:
        raise InputFileError(f"{path} is not an ONNX model: {exc}") from None
    inp = model.graph.input[0].name
    dt = model.get_tensor_datatype(inp)
    if not dt.is_integer():
        raise UsageError(f"{path}: graph input '{inp}' has datatype {dt.name}; annotate its integer type, e.g. "
                         f"model.set_tensor_datatype('{inp}', DataType['UINT8']) for an 8-bit image "
                         f"(FINN's convention), then save the model again")
    check = None
    if not args.no_check:
        shape = model.get_tensor_shape(inp)
        rng = np.random.default_rng(0)
        check = [rng.integers(int(dt.min()), int(dt.max()) + 1, size=shape).astype(np.float32)]
    result = compile_partition(path, Path(args.out), check_inputs=check)
    return {"top": result["top"], "layers": result["layers"], "estimates": result["estimates"], "out": result["dir"]}
