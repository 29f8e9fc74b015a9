"""Lower an exported QONNX model to FINN HW layers, exactly.

Two pass lists, picked by the graph's structure (:func:`passes`):

* residual graphs (BiDRN's partitions: an ``Add`` of two computed tensors): ConvertQONNXtoFINN ->
  Streamline -> LowerConvsToMatMul -> ConvertToNHWC -> AbsorbPadIntoIm2Col ->
  ConvertBipolarMatMulToXnorPopcount + RemapXnorPadValue -> Streamline -> convert_to_hw (MVAU, Thresholding,
  Pool, ConvolutionInputGenerator/FMPadding, ElementwiseAdd, DuplicateStreams) -> MinimizeAddWidth ->
  MinimizeWeightWidth.
* feed-forward graphs (the BNN-PYNQ networks TFC/CNV and the like): FINN's BNN-PYNQ end-to-end steps:
  ConvertQONNXtoFINN -> AbsorbSignBiasIntoMultiThreshold -> Streamline -> LowerConvsToMatMul ->
  MakeMaxPoolNHWC / AbsorbTransposeIntoMultiThreshold / AbsorbConsecutiveTransposes ->
  ConvertBipolarMatMulToXnorPopcount -> Streamline -> convert_to_hw (binary and quantized MVAU,
  Thresholding, ConvolutionInputGenerator, Pool) -> RemoveCNVtoFCFlatten -> MinimizeOutputWidth ->
  MinimizeWeightWidth.

Both end with :class:`~bidrn_hw.flow.host_ops.ExtractHostOps`: the input's layout op and the float ops after
the last quantizer go to the host (recorded in the model's metadata, applied by :func:`execute`).
Each pass is checked by :func:`lower_to_hw` when reference inputs are given: integer outputs must stay
equal; float outputs (a host scale/bias after the last integer layer) must stay equal up to float rounding
of the folded constants (relative 1e-5), which is far below one step of the integer they are computed from.
"""
from __future__ import annotations

import contextlib
import heapq
import sys
import time

import finn.transformation.streamline.absorb as absorb
import numpy as np
from finn.core.onnx_exec import execute_onnx
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
from finn.transformation.fpgadataflow.convert_to_hw.vector_vector_activation import InferVectorVectorActivation
from finn.transformation.move_reshape import RemoveCNVtoFCFlatten
from finn.transformation.qonnx.convert_qonnx_to_finn import ConvertQONNXtoFINN
from finn.transformation.streamline import Streamline, collapse_repeated, reorder
from finn.transformation.streamline.reorder import MakeMaxPoolNHWC, MoveLinearPastEltwiseAdd
from finn.transformation.streamline.sign_to_thres import ConvertSignToThres
from qonnx.core.datatype import DataType
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.custom_op.registry import getCustomOp
from qonnx.transformation.base import Transformation
from qonnx.transformation.batchnorm_to_affine import BatchNormToAffine
from qonnx.transformation.bipolar_to_xnor import ConvertBipolarMatMulToXnorPopcount
from qonnx.transformation.general import (ConvertDivToMul, ConvertSubToAdd, GiveUniqueNodeNames, RemoveUnusedTensors,
                                          SortCommutativeInputsInitializerLast)
from qonnx.transformation.infer_data_layouts import InferDataLayouts
from qonnx.transformation.infer_datatypes import InferDataTypes
from qonnx.transformation.infer_shapes import InferShapes
from qonnx.transformation.lower_convs_to_matmul import LowerConvsToMatMul
from qonnx.transformation.remove import RemoveIdentityOps

from ..errors import BidrnError, MismatchError, UnsupportedError
from ..layers import BY_OP
from ..layers.addstreams import operand_muls, sum_range
from . import fuse_residual, host_ops, prepare, scaled_join
from .fast_qonnx import fast_qonnx, readable_tensor_names, unique_parameters
from .global_pool import InferGlobalAccPool
from .layout import AbsorbPadIntoIm2Col, ConvertToNHWC, RemapXnorPadValue
from .supported import check_supported

HW_DOMAIN = "finn.custom_op.fpgadataflow"


class MinimizeAddWidth(Transformation):
    """ElementwiseAdd of two integer streams: the smallest signed type holding every possible sum (with a scaled
    join's operand weights, flow/scaled_join.py)."""

    def apply(self, model: ModelWrapper):
        for node in model.graph.node:
            if node.op_type != "ElementwiseAdd":
                continue
            inst = getCustomOp(node)
            a, b = DataType[inst.get_nodeattr("lhs_dtype")], DataType[inst.get_nodeattr("rhs_dtype")]
            if not (a.is_integer() and b.is_integer()):
                raise UnsupportedError(f"node {node.name or node.output[0]} (Add): joins a {a.name} and a {b.name} "
                                       f"stream (operands at different scales: separate quantizers); a "
                                       f"residual add maps to hardware when both operands are integers at one "
                                       f"scale (quantize both with one shared quantizer)")
            lo, hi = sum_range(a, b, *operand_muls(node))
            bits = 2
            while not (-(1 << (bits - 1)) <= lo and hi <= (1 << (bits - 1)) - 1):
                bits += 1
            inst.set_nodeattr("out_dtype", f"INT{bits}")
            model.set_tensor_datatype(node.output[0], DataType[f"INT{bits}"])
        return model.transform(InferDataTypes()), False


class FactorScalesOutOfJoins(Transformation):
    """A residual add of two streams quantized by one shared quantizer is ``x*s + y*s`` after FINN's
    conversion: FINN's MoveLinearPastEltwiseAdd makes it ``(x + y)*s``, so the add joins two integer streams
    (ElementwiseAdd) and streamlining then absorbs ``s`` into the next quantizer. Only when it moved
    something does streamlining run again (BiDRN's joins are integer already)."""

    def apply(self, model: ModelWrapper):
        for node in model.graph.node:  # FINN compares the scales with np.array_equal: () vs (1,) differ
            if node.op_type != "Add" or any(model.get_initializer(t) is not None for t in node.input):
                continue
            prods = [model.find_producer(t) for t in node.input]
            if all(p is not None and p.op_type == "Mul" and len(p.input) == 2 for p in prods):
                consts = [model.get_initializer(p.input[1]) for p in prods]
                if all(c is not None and c.size == 1 for c in consts) and consts[0].item() == consts[1].item():
                    for p, c in zip(prods, consts):
                        model.set_initializer(p.input[1], np.asarray(c, dtype=np.float32).reshape(()))
        before = len(model.graph.node)
        model = model.transform(MoveLinearPastEltwiseAdd())
        if len(model.graph.node) != before:
            model = model.transform(FastStreamline())
        return model, False


class MinimizeWeightWidth(Transformation):
    """FINN's MinimizeWeightBitWidth (its builder's step_minimize_bit_width) on integer-mode MVAUs: the
    narrowest type holding a node's actual weights, e.g. INT2 weights that are all 0 or 1 become BINARY
    (1-bit products, no multiplier). XNOR nodes and BIPOLAR weights keep their type: FINN's execution reads
    it (BIPOLAR inputs times BIPOLAR weights means XNOR-popcount), and the weights are 1 bit already."""

    def apply(self, model: ModelWrapper):
        for node in model.graph.node:
            if node.op_type != "MVAU":
                continue
            inst = getCustomOp(node)
            if inst.get_nodeattr("binaryXnorMode") or inst.get_nodeattr("weightDataType") == "BIPOLAR":
                continue
            inst.minimize_weight_bit_width(model)
        return model, False


class MinimizeOutputWidth(Transformation):
    """The output type of an MVAU without activation (the last layer, whose integer goes to the host): the
    smallest signed type holding every reachable accumulator value. In XNOR mode that is the popcount [0, MW];
    FINN's MinimizeAccumulatorWidth derives it from the bipolar dot product's range with {0,1} inputs
    (e.g. INT7 for MW = 64, which cannot hold a popcount of 64), so it is not used here."""

    def apply(self, model: ModelWrapper):
        for node in model.graph.node:
            if not node.op_type.startswith("MVAU") or node.domain != HW_DOMAIN:
                continue
            inst = getCustomOp(node)
            if inst.get_nodeattr("noActivation") != 1:
                continue
            mw = inst.get_nodeattr("MW")
            if inst.get_nodeattr("binaryXnorMode"):
                lo, hi = 0, mw
            else:
                w = model.get_initializer(node.input[1])
                idt = inst.get_input_datatype(0)
                pos, neg = np.clip(w, 0, None), np.clip(w, None, 0)
                lo = int((pos * idt.min() + neg * idt.max()).sum(axis=0).min())
                hi = int((pos * idt.max() + neg * idt.min()).sum(axis=0).max())
            bits = 2  # signed, like the RTL's accumulator (its output is the accumulator's low bits)
            while not (-(1 << (bits - 1)) <= lo and hi <= (1 << (bits - 1)) - 1):
                bits += 1
            dt = DataType[f"INT{bits}"]
            inst.set_nodeattr("accDataType", dt.name)
            inst.set_nodeattr("outputDataType", dt.name)
            model.set_tensor_datatype(node.output[0], dt)
        return model, False


class XnorPopcountWithPadRemap(Transformation):
    """qonnx's ConvertBipolarMatMulToXnorPopcount, then the pad-value fix it needs to stay exact."""

    def apply(self, model: ModelWrapper):
        return model.transform(ConvertBipolarMatMulToXnorPopcount()).transform(RemapXnorPadValue()), False


def _streamline_transformations():
    """FINN's Streamline list (finn.transformation.streamline.Streamline.apply, finn-plus 1.6.1), in order."""
    return [ConvertSubToAdd(), ConvertDivToMul(), BatchNormToAffine(), ConvertSignToThres(),
            reorder.MoveMulPastMaxPool(), absorb.AbsorbScalarBiasIntoMultiThreshold(), reorder.MoveScalesPastIm2Col(),
            reorder.MoveScalarLinearPastInvariants(), reorder.MoveAddPastMul(), reorder.MoveScalarAddPastMatMul(),
            reorder.MoveAddPastConv(), reorder.MoveScalarMulPastMatMul(), reorder.MoveScalarMulPastConv(),
            reorder.MoveAddPastMul(), collapse_repeated.CollapseRepeatedAdd(), collapse_repeated.CollapseRepeatedMul(),
            reorder.MoveMulPastMaxPool(), absorb.AbsorbAddIntoMultiThreshold(), absorb.FactorOutMulSignMagnitude(),
            absorb.AbsorbMulIntoMultiThreshold(), absorb.Absorb1BitMulIntoMatMul(), absorb.Absorb1BitMulIntoConv()]


def _sort_graph(model: ModelWrapper) -> None:
    """Topological order, keeping the given order where it is already valid (qonnx's SortGraph in linear time)."""
    nodes = list(model.graph.node)
    producer = {t: i for i, n in enumerate(nodes) for t in n.output}
    deps = [{producer[t] for t in n.input if t in producer and producer[t] != i} for i, n in enumerate(nodes)]
    users: list[list[int]] = [[] for _ in nodes]
    for i, d in enumerate(deps):
        for j in d:
            users[j].append(i)
    waiting = [len(d) for d in deps]
    ready = [i for i, w in enumerate(waiting) if w == 0]
    heapq.heapify(ready)
    order = []
    while ready:
        i = heapq.heappop(ready)
        order.append(i)
        for u in users[i]:
            waiting[u] -= 1
            if waiting[u] == 0:
                heapq.heappush(ready, u)
    if len(order) != len(nodes):
        raise UnsupportedError("the graph has a cycle after streamlining")
    if order != list(range(len(nodes))):
        del model.graph.node[:]
        model.graph.node.extend(nodes[i] for i in order)


def _light_cleanup(model: ModelWrapper) -> ModelWrapper:
    """ModelWrapper.cleanup's passes (unused tensors, topological order, initializers last in commutative ops,
    unique parameters) without its quadratic lookups."""
    model = model.transform(RemoveUnusedTensors(), make_deepcopy=False, cleanup=False)
    _sort_graph(model)
    model = model.transform(SortCommutativeInputsInitializerLast(), make_deepcopy=False, cleanup=False)
    unique_parameters(model)
    return model


class FastStreamline(Transformation):
    """FINN's Streamline: the same transformations in the same order, each followed by RemoveIdentityOps and
    InferDataTypes as there. FINN also runs ModelWrapper.cleanup, GiveUniqueNodeNames,
    GiveReadableTensorNames and InferDataLayouts after every one of its 22 steps (each transform call
    cleans up too), with lookups that scan the whole graph per tensor: on BiDRN's partitions that
    bookkeeping was over 90% of the lowering time (edge body encoder: 84 s of 112 s). Here the cleanup runs
    in linear time after each step and the naming and layouts once at the end. Exactness is checked like any
    other pass (:func:`lower_to_hw` with reference inputs; tests on tiny and edge)."""

    def apply(self, model: ModelWrapper):
        model = _light_cleanup(model)
        for trn in _streamline_transformations():
            model = model.transform(trn, make_deepcopy=False, cleanup=False)
            model = _light_cleanup(model)
            model = model.transform(RemoveIdentityOps(), make_deepcopy=False, cleanup=False)
            model = _light_cleanup(model)
            model = model.transform(InferDataTypes(), make_deepcopy=False, cleanup=False)
        model = model.transform(GiveUniqueNodeNames(), make_deepcopy=False, cleanup=False)
        readable_tensor_names(model)
        model = model.transform(InferDataLayouts(), make_deepcopy=False, cleanup=False)
        return model, False


def _depthwise_passes():
    """FINN's InferVectorVectorActivation (depthwise convolutions -> VVAU) where the build has the VVAU layer
    kind (bidrn_hw/layers); without it flow.supported refuses depthwise convolutions before any pass."""
    if "VVAU" not in BY_OP:
        return []

    return [InferVectorVectorActivation()]


def _convert_to_hw_passes():
    # InferPool emits an Im2Col that InferConvInpGen then turns into a sliding window generator.
    return [*_depthwise_passes(), InferBinaryMatrixVectorActivation(), InferQuantizedMatrixVectorActivation(),
            InferThresholdingLayer(),
            InferPool(), InferConvInpGen(), InferElementwiseBinaryOperation(_joins_two_streams),
            InferDuplicateStreamsLayer(), InferGlobalAccPool()]


def _joins_two_streams(model: ModelWrapper, node) -> bool:
    """ElementwiseAdd only for a residual join; an Add of a constant (a float bias after the last integer
    layer) stays for the host ops."""
    return all(model.get_initializer(t) is None for t in node.input)


def is_residual(model: ModelWrapper) -> bool:
    """An Add/Sub/Mul joining two computed tensors (a residual join), or a grouped (depthwise) convolution:
    BiDRN's pass list applies. Depthwise networks take it for its NHWC conversion (flow/layout.py) and
    prepare.MoveChannelScalesPastDepthwise: MobileNet's per-channel activation scales keep FINN's transpose
    passes of the feed-forward list from running it in NHWC (Transpose/Im2Col/MatMul were left)."""
    for node in model.graph.node:
        if node.op_type == "Conv" and any(a.name == "group" and a.i > 1 for a in node.attribute):
            return True
        if node.op_type in ("Add", "Sub", "Mul") and len(node.input) == 2 and \
                all(model.get_initializer(t) is None and model.find_producer(t) is not None for t in node.input):
            return True
    return False


def feedforward_passes():
    """FINN's BNN-PYNQ end-to-end steps (tfc/cnv), (name, transformation) in order."""
    steps = [prepare.FoldBiasQuant(), ConvertQONNXtoFINN(), absorb.AbsorbSignBiasIntoMultiThreshold(), Streamline(), LowerConvsToMatMul(),
             MakeMaxPoolNHWC(), absorb.AbsorbTransposeIntoMultiThreshold(), MakeMaxPoolNHWC(),
             absorb.AbsorbConsecutiveTransposes(), ConvertBipolarMatMulToXnorPopcount(), Streamline(),
             *_depthwise_passes(), InferBinaryMatrixVectorActivation(), InferQuantizedMatrixVectorActivation(),
             InferThresholdingLayer(),
             # InferPool turns MaxPoolNHWC into a depthwise Im2Col + Pool; the second InferConvInpGen maps
             # that Im2Col to a sliding window generator.
             InferConvInpGen(), InferPool(), InferConvInpGen(), RemoveCNVtoFCFlatten(),
             absorb.AbsorbConsecutiveTransposes(), MinimizeOutputWidth(), MinimizeWeightWidth()]
    base = [type(t).__name__ for t in steps]
    # repeated passes get a count, so a failing one is named unambiguously
    names = [f"{n} ({base[:i + 1].count(n)})" if base.count(n) > 1 else n for i, n in enumerate(base)]
    return [*zip(names, steps), ("ExtractHostOps", host_ops.ExtractHostOps()),
            ("GiveUniqueNodeNames", GiveUniqueNodeNames())]


def passes(model: ModelWrapper | None = None):
    """(name, transformation) in order: BiDRN's residual list (also when no model is given) or FINN's
    feed-forward list, see the module docstring."""
    if model is not None and not is_residual(model):
        return feedforward_passes()
    return residual_passes()


def residual_passes():
    return [("FoldBiasQuant", prepare.FoldBiasQuant()),
            ("ConvertQONNXtoFINN", ConvertQONNXtoFINN()), ("Streamline", FastStreamline()),
            ("FactorScalesOutOfJoins", FactorScalesOutOfJoins()),
            ("LowerConvsToMatMul", LowerConvsToMatMul()), ("ConvertToNHWC", ConvertToNHWC()),
            ("AbsorbPadIntoIm2Col", AbsorbPadIntoIm2Col()),
            ("MoveChannelScalesPastDepthwise", prepare.MoveChannelScalesPastDepthwise()),
            ("XnorPopcount (+RemapXnorPadValue)", XnorPopcountWithPadRemap()),
            ("DuplicateForkedScales", prepare.DuplicateForkedScales()),
            ("Streamline (after XNOR)", FastStreamline()),
            *[(type(t).__name__, t) for t in _convert_to_hw_passes()],
            ("ScaleJoinOperands", scaled_join.ScaleJoinOperands()),  # flow/scaled_join.py
            ("MinimizeAddWidth", MinimizeAddWidth()), ("MinimizeOutputWidth", MinimizeOutputWidth()),
            ("MinimizeWeightWidth", MinimizeWeightWidth()),
            ("FuseResidualMVAU", fuse_residual.FuseResidualMVAU()),  # flow/fuse_residual.py
            ("ExtractHostOps", host_ops.ExtractHostOps()),
            ("GiveUniqueNodeNames", GiveUniqueNodeNames())]


def execute(model: ModelWrapper, x_nchw: np.ndarray, host: bool = True) -> np.ndarray:
    """Execute ``model`` (QONNX or FINN, NCHW or NHWC I/O) on an input in the model's own layout (NCHW);
    returns the output in the model's own layout. A lowered model's host ops (input layout, output
    scale/bias) are applied, so the result compares with the exported model's; ``host=False`` returns the
    accelerator's integer output instead (still in the model's layout)."""
    ops = host_ops.get(model)
    in_shape = tuple(model.get_tensor_shape(model.graph.input[0].name))
    x = host_ops.to_stream(ops, x_nchw) if ops.get("input") else x_nchw
    nhwc = tuple(x.shape) != in_shape and x.ndim == 4
    if nhwc:
        x = x.transpose(0, 2, 3, 1)
    out = execute_onnx(model, {model.graph.input[0].name: x.astype(np.float32)})[model.graph.output[0].name]
    if host:
        out = host_ops.from_stream(ops, out)
    nhwc_out = out.ndim == 4 and (nhwc or (ops.get("input") or {}).get("perm") == [0, 2, 3, 1])
    return out.transpose(0, 3, 1, 2) if nhwc_out else out


def _same(out: np.ndarray, ref: np.ndarray) -> bool:
    """Integer references: equal. Float references (host float ops): equal up to float rounding."""
    if out.shape != ref.shape:
        return False
    if np.array_equal(ref, np.round(ref)):
        return np.array_equal(out, ref)
    return bool(np.all(np.abs(out - ref) <= 1e-5 * max(1.0, float(np.abs(ref).max()))))


QUANTIZERS = ("Quant", "BipolarQuant", "Trunc", "MultiThreshold")


def _require_quantizers(model: ModelWrapper) -> None:
    """A model with no quantizer has no integer layer FINN could map: say so, naming its first compute node."""
    if any(n.op_type in QUANTIZERS for n in model.graph.node):
        return
    first = next((n for n in model.graph.node if n.op_type not in ("Transpose", "Reshape", "Flatten")),
                 model.graph.node[0] if len(model.graph.node) else None)
    where = f"; its first node {first.name} ({first.op_type}) has no hardware layer" if first is not None else ""
    raise UnsupportedError(f"the model has no quantizers (none of {', '.join(QUANTIZERS)}): FINN maps only "
                           f"quantized layers; export it with Brevitas quantized layers (e.g. QuantConv2d, "
                           f"QuantReLU) to QONNX{where}")


def lower_to_hw(model: ModelWrapper, check_inputs: list[np.ndarray] | None = None, log=None) -> ModelWrapper:
    """Run :func:`passes`; with ``check_inputs`` (NCHW frames), stop at the first pass that changes any
    output (integer equality) with the pass name and the maximum error. qonnx's bookkeeping passes run in
    their linear versions meanwhile (:mod:`~bidrn_hw.flow.fast_qonnx`). FINN's passes print notes (e.g.
    "Bias not constant ..., skipping"); they go to stderr, so that stdout keeps only the CLI's output (JSON)."""
    with fast_qonnx(), contextlib.redirect_stdout(sys.stderr):
        return _lower_to_hw(model, check_inputs, log)


def _lower_to_hw(model: ModelWrapper, check_inputs: list[np.ndarray] | None, log) -> ModelWrapper:
    _require_quantizers(model)
    model = model.transform(prepare.DropConstantOutputs())
    check_supported(model)  # one line naming the first node the flow cannot lower, before any pass runs
    try:
        model = model.transform(InferShapes())
    except Exception as exc:  # noqa: BLE001 - ONNX shape inference refuses the graph: say so in one line
        raise UnsupportedError(f"ONNX shape inference fails on the model ({type(exc).__name__}: "
                               f"{' '.join(str(exc).split())[:300]})") from None
    try:
        refs = [execute(model, x) for x in check_inputs] if check_inputs else []
    except Exception as exc:  # the model itself does not execute: no reference to check the passes against
        raise UnsupportedError(f"the model does not execute on its check input ({type(exc).__name__}: "
                               f"{' '.join(str(exc).split())})") from None
    pass_list = passes() if is_residual(model) else feedforward_passes()
    for name, transform in pass_list:
        start = time.time()
        try:
            model = model.transform(transform)
            model = model.transform(InferShapes())
        except BidrnError:
            raise
        except Exception as exc:  # noqa: BLE001 - a FINN/qonnx pass gave up on this graph: one line, no traceback
            raise UnsupportedError(f"pass {name} cannot lower this graph ({type(exc).__name__}: "
                                   f"{' '.join(str(exc).split())[:300]})") from None
        for x, ref in zip(check_inputs or [], refs):
            try:
                out = execute(model, x)
            except Exception as exc:  # an invalid graph is a broken pass too
                raise MismatchError(f"pass {name} left a graph that does not execute: {exc}") from None
            if not _same(out, ref):
                err = np.abs(out - ref).max() if out.shape == ref.shape else f"shape {out.shape} vs {ref.shape}"
                raise MismatchError(f"pass {name} changed the model's output (max error {err})")
        if log:
            log(f"{name}: {time.time() - start:.2f} s, {len(model.graph.node)} nodes")
    leftover = [n for n in model.graph.node if n.domain != HW_DOMAIN]
    if leftover:
        # Name the op that is neither a HW layer nor a host op first (a Mul/Add left over is usually stuck
        # behind it: host ops are only taken from the graph's ends).
        affine = ("Mul", "Add", "Sub", "Div")
        leftover.sort(key=lambda n: n.op_type in affine)
        n = leftover[0]
        why = ("a float op between integer layers (host ops are taken only after the last integer layer)"
               if n.op_type in affine else "no FINN HW layer converts it, and it is not a host op (only "
               "Mul/Add/Sub/Div by constants after the last integer layer, or the input's layout change, are)")
        others = ", ".join(f"{m.name} ({m.op_type})" for m in leftover[1:6])
        raise UnsupportedError(f"node {n.name} ({n.op_type}) has no hardware layer after lowering: {why}"
                               + (f"; also left: {others}" if others else ""))
    return model
