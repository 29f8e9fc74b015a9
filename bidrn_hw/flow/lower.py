"""Lower an exported convolutional QONNX model (BiDRN's partitions) to FINN HW layers, exactly.

Pass order (each checked for exactness by :func:`lower_to_hw` when reference inputs are given):
ConvertQONNXtoFINN -> Streamline -> LowerConvsToMatMul -> ConvertToNHWC -> AbsorbPadIntoIm2Col ->
ConvertBipolarMatMulToXnorPopcount + RemapXnorPadValue -> Streamline -> convert_to_hw (MVAU, Thresholding,
Pool, ConvolutionInputGenerator/FMPadding, ElementwiseAdd, DuplicateStreams) -> MinimizeAddWidth.
"""
from __future__ import annotations

import time

import numpy as np
from qonnx.core.datatype import DataType
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.custom_op.registry import getCustomOp
from qonnx.transformation.base import Transformation
from qonnx.transformation.bipolar_to_xnor import ConvertBipolarMatMulToXnorPopcount
from qonnx.transformation.general import GiveUniqueNodeNames
from qonnx.transformation.infer_datatypes import InferDataTypes
from qonnx.transformation.infer_shapes import InferShapes
from qonnx.transformation.lower_convs_to_matmul import LowerConvsToMatMul

from ..errors import MismatchError, UnsupportedError
from .layout import AbsorbPadIntoIm2Col, ConvertToNHWC, RemapXnorPadValue

HW_DOMAIN = "finn.custom_op.fpgadataflow"


class MinimizeAddWidth(Transformation):
    """ElementwiseAdd of two integer streams: the smallest signed type holding every possible sum."""

    def apply(self, model: ModelWrapper):
        for node in model.graph.node:
            if node.op_type != "ElementwiseAdd":
                continue
            inst = getCustomOp(node)
            a, b = DataType[inst.get_nodeattr("lhs_dtype")], DataType[inst.get_nodeattr("rhs_dtype")]
            lo, hi = a.min() + b.min(), a.max() + b.max()
            bits = 2
            while not (-(1 << (bits - 1)) <= lo and hi <= (1 << (bits - 1)) - 1):
                bits += 1
            inst.set_nodeattr("out_dtype", f"INT{bits}")
            model.set_tensor_datatype(node.output[0], DataType[f"INT{bits}"])
        return model.transform(InferDataTypes()), False


class XnorPopcountWithPadRemap(Transformation):
    """qonnx's ConvertBipolarMatMulToXnorPopcount, then the pad-value fix it needs to stay exact."""

    def apply(self, model: ModelWrapper):
        return model.transform(ConvertBipolarMatMulToXnorPopcount()).transform(RemapXnorPadValue()), False


def _convert_to_hw_passes():
    from finn.transformation.fpgadataflow.convert_to_hw.binary_matrix_vector_activation import (
        InferBinaryMatrixVectorActivation)
    from finn.transformation.fpgadataflow.convert_to_hw.conv_inp_gen import InferConvInpGen
    from finn.transformation.fpgadataflow.convert_to_hw.duplicate_streams import InferDuplicateStreamsLayer
    from finn.transformation.fpgadataflow.convert_to_hw.elementwise_binary_operation import (
        InferElementwiseBinaryOperation)
    from finn.transformation.fpgadataflow.convert_to_hw.pool import InferPool
    from finn.transformation.fpgadataflow.convert_to_hw.quantized_matrix_vector_activation import (
        InferQuantizedMatrixVectorActivation)
    from finn.transformation.fpgadataflow.convert_to_hw.thresholding import InferThresholdingLayer

    # InferPool emits an Im2Col that InferConvInpGen then turns into a sliding window generator.
    return [InferBinaryMatrixVectorActivation(), InferQuantizedMatrixVectorActivation(), InferThresholdingLayer(),
            InferPool(), InferConvInpGen(), InferElementwiseBinaryOperation(), InferDuplicateStreamsLayer()]


def passes():
    """(name, transformation) in order."""
    from finn.transformation.qonnx.convert_qonnx_to_finn import ConvertQONNXtoFINN
    from finn.transformation.streamline import Streamline

    return [("ConvertQONNXtoFINN", ConvertQONNXtoFINN()), ("Streamline", Streamline()),
            ("LowerConvsToMatMul", LowerConvsToMatMul()), ("ConvertToNHWC", ConvertToNHWC()),
            ("AbsorbPadIntoIm2Col", AbsorbPadIntoIm2Col()),
            ("XnorPopcount (+RemapXnorPadValue)", XnorPopcountWithPadRemap()), ("Streamline (after XNOR)", Streamline()),
            *[(type(t).__name__, t) for t in _convert_to_hw_passes()],
            ("MinimizeAddWidth", MinimizeAddWidth()), ("GiveUniqueNodeNames", GiveUniqueNodeNames())]


def execute(model: ModelWrapper, x_nchw: np.ndarray) -> np.ndarray:
    """Execute ``model`` (QONNX or FINN, NCHW or NHWC I/O) on an NCHW input; returns an NCHW output."""
    from finn.core.onnx_exec import execute_onnx

    nhwc = tuple(model.get_tensor_shape(model.graph.input[0].name)) != tuple(x_nchw.shape)
    x = x_nchw.transpose(0, 2, 3, 1) if nhwc else x_nchw
    out = execute_onnx(model, {model.graph.input[0].name: x.astype(np.float32)})[model.graph.output[0].name]
    return out.transpose(0, 3, 1, 2) if nhwc else out


def lower_to_hw(model: ModelWrapper, check_inputs: list[np.ndarray] | None = None, log=None) -> ModelWrapper:
    """Run :func:`passes`; with ``check_inputs`` (NCHW frames), stop at the first pass that changes any
    output (integer equality) with the pass name and the maximum error."""
    refs = [execute(model, x) for x in check_inputs] if check_inputs else []
    for name, transform in passes():
        start = time.time()
        model = model.transform(transform)
        model = model.transform(InferShapes())
        for x, ref in zip(check_inputs or [], refs):
            try:
                out = execute(model, x)
            except Exception as exc:  # an invalid graph is a broken pass too
                raise MismatchError(f"pass {name} left a graph that does not execute: {exc}") from None
            if out.shape != ref.shape or not np.array_equal(out, ref):
                err = np.abs(out - ref).max() if out.shape == ref.shape else f"shape {out.shape} vs {ref.shape}"
                raise MismatchError(f"pass {name} changed the model's output (max error {err})")
        if log:
            log(f"{name}: {time.time() - start:.2f} s, {len(model.graph.node)} nodes")
    leftover = [n for n in model.graph.node if n.domain != HW_DOMAIN]
    if leftover:
        n = leftover[0]
        raise UnsupportedError(f"node {n.name} ({n.op_type}) has no hardware layer after lowering "
                               f"({len(leftover)} such nodes); it would have to run on the host")
    return model
