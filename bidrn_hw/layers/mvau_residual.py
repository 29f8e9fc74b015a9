"""Fused residual MVAU (``MVAUResidual``, made by ``flow.fuse_residual``) -> ``hls/mvau_residual.sv``: an MVAU with
its thresholds, plus a skip stream added to its output and saturated (the ElementwiseAdd and the add's
requantizing Thresholding of a residual join).

Everything about the MVAU part (folding, cycles, weights, thresholds, PACK, UltraRAM) is the MVAU's: the node
is viewed as the plain MVAU it was (:func:`mvau_view`). The join adds one input stream (the skip, PE elements
per beat, in the output's order) and per lane an adder, a clamp and the output register.
"""
from __future__ import annotations

import numpy as np
from onnx import helper
from qonnx.core.datatype import DataType
from qonnx.custom_op.registry import getCustomOp

from ..errors import UnsupportedError
from .base import LayerRTL, add, zero
from .mvau import MVAU, mvau_params

RESIDUAL_ATTRS = ("skipDataType", "residualDataType", "residualOffset", "residualLo", "residualHi")
OP_TYPE = "MVAUResidual"
SKIP_INPUT = 3           # node inputs: x, weights, thresholds, skip


# ------------------------------------------------------------------------------------------ the custom op
def _op_class():
    # lazy: FINN: layers do not import it (docs/architecture.md); only to build or register the fused op
    from finn.custom_op.fpgadataflow.matrixvectoractivation import MVAU

    class MVAUResidual(MVAU):
        """FINN's MVAU (with thresholds) plus the skip input: ``clamp(y + skip + residualOffset, residualLo,
        residualHi)`` where ``y`` is the MVAU's thresholded output (``outputDataType``); the node's output type
        is ``residualDataType``. Input 3 is the skip stream, in the output's shape and folding (PE per beat)."""

        def get_nodeattr_types(self):
            attrs = super().get_nodeattr_types()
            attrs.update(skipDataType=("s", True, ""), residualDataType=("s", True, ""),
                         residualOffset=("i", False, 0), residualLo=("i", True, 0), residualHi=("i", True, 0))
            return attrs

        def mvau_output_datatype(self):
            return DataType[self.get_nodeattr("outputDataType")]

        def get_input_datatype(self, ind=0):
            if ind == SKIP_INPUT:
                return DataType[self.get_nodeattr("skipDataType")]
            return super().get_input_datatype(ind)

        def get_output_datatype(self, ind=0):
            return DataType[self.get_nodeattr("residualDataType")]

        def get_instream_width(self, ind=0):
            if ind == SKIP_INPUT:
                return self.get_input_datatype(SKIP_INPUT).bitwidth() * self.get_nodeattr("PE")
            return super().get_instream_width(ind)

        def get_folded_input_shape(self, ind=0):
            if ind == SKIP_INPUT:
                return self.get_folded_output_shape()
            return super().get_folded_input_shape(ind)

        def get_normal_input_shape(self, ind=0):
            if ind == SKIP_INPUT:
                return self.get_normal_output_shape()
            return super().get_normal_input_shape(ind)

        def infer_node_datatype(self, model):
            super().infer_node_datatype(model)
            sdt = model.get_tensor_datatype(self.onnx_node.input[SKIP_INPUT])
            if sdt != self.get_input_datatype(SKIP_INPUT):
                self.set_nodeattr("skipDataType", sdt.name)

        def execute_node(self, context, graph):
            node = self.onnx_node
            super().execute_node(context, graph)  # y, in the output's place
            y = context[node.output[0]]
            skip = context[node.input[SKIP_INPUT]].reshape(y.shape)
            out = np.clip(y + skip + self.get_nodeattr("residualOffset"), self.get_nodeattr("residualLo"),
                          self.get_nodeattr("residualHi"))
            context[node.output[0]] = out.astype(y.dtype)

        def verify_node(self):
            info = super().verify_node()
            if self.get_nodeattr("noActivation"):
                info.append("MVAUResidual needs the MVAU's thresholds (noActivation=0)")
            return info

    return MVAUResidual


def register() -> None:
    """Make ``MVAUResidual`` known to qonnx's getCustomOp in FINN's HW domain (and its ``_hls`` name, which
    FINN's SpecializeLayers gives it; our RTL generator maps either to mvau_residual.sv). Done on import."""
    # lazy: FINN: layers do not import it (docs/architecture.md); only to build or register the fused op
    import finn.custom_op.fpgadataflow as hw
    import finn.custom_op.fpgadataflow.hls as hls

    if OP_TYPE in hw.custom_op:
        return
    cls = _op_class()
    hw.custom_op[OP_TYPE] = cls
    hls.custom_op[OP_TYPE + "_hls"] = cls


register()


# ------------------------------------------------------------------------------------------ the RTL


def mvau_view(node):
    """The plain MVAU node the fused node was made from (inputs x, weights, thresholds; its own output type
    ``outputDataType``), for the MVAU's generator and estimates."""
    attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute if a.name not in RESIDUAL_ATTRS}
    attrs = {k: (v.decode() if isinstance(v, bytes) else v) for k, v in attrs.items()}
    op = "MVAU" + node.op_type[len("MVAUResidual"):]  # keeps FINN's _hls/_rtl suffix
    return helper.make_node(op, list(node.input[:3]), list(node.output), name=node.name, domain=node.domain,
                            **attrs)


def _bits(dt: DataType) -> tuple[int, int]:
    if dt == DataType["BIPOLAR"]:
        raise UnsupportedError(f"a bipolar stream ({dt.name}) cannot be added to")
    return dt.bitwidth(), int(dt.signed())


def residual_params(inst) -> dict:
    """mvau_residual.sv's join parameters (the MVAU's OUT_BITS becomes its Y_BITS)."""
    ydt = DataType[inst.get_nodeattr("outputDataType")]
    sdt = DataType[inst.get_nodeattr("skipDataType")]
    odt = DataType[inst.get_nodeattr("residualDataType")]
    (y_bits, y_signed), (s_bits, s_signed), (o_bits, _) = _bits(ydt), _bits(sdt), _bits(odt)
    lo, hi = inst.get_nodeattr("residualLo"), inst.get_nodeattr("residualHi")
    if not (odt.min() <= lo <= hi <= odt.max()):
        raise UnsupportedError(f"node {inst.onnx_node.name}: saturation [{lo}, {hi}] outside its output type "
                               f"{odt.name}")
    offset = int(inst.get_nodeattr("residualOffset"))
    if abs(offset) >= 1 << (max(y_bits, s_bits, o_bits) + 1):  # mvau_residual.sv's sum width
        raise UnsupportedError(f"node {inst.onnx_node.name}: offset {offset} too large for the join's adder")
    return dict(Y_BITS=y_bits, Y_SIGNED=y_signed, SKIP_BITS=s_bits, SKIP_SIGNED=s_signed,
                OFFSET=offset, SAT_LO=int(lo), SAT_HI=int(hi), OUT_BITS=o_bits)


def join_cost(p: dict) -> dict:
    """Resources mvau_residual.sv adds to its mvau.sv (LUT6): per lane the sum y + skip + OFFSET (a carry chain
    of SUM_W bits), its clamp (two comparisons against constants and a select of OUT_BITS) and the output
    register; the handshake. Fitted to Yosys synth_xilinx (benchmarks/residual_join.py)."""
    sum_w = max(p["Y_BITS"], p["SKIP_BITS"], p["OUT_BITS"]) + 3
    cost = zero()
    cost["LUT"] = p["PE"] * (JOIN_LUT_PER_SUM_BIT * sum_w + JOIN_LUT_PER_OUT_BIT * p["OUT_BITS"]) + JOIN_LUT_ONE
    cost["FF"] = p["PE"] * p["OUT_BITS"] + 1
    return cost


# Yosys synth_xilinx -family xc7 (benchmarks/residual_join.py, XNOR MVAU of MW 64, INT8 + INT8 -> INT8):
# the join measured 39 LUT / 17 FF at PE 2 and 142 LUT / 65 FF at PE 8 (estimated 39 / 17 and 142 / 65).
JOIN_LUT_PER_SUM_BIT = 0.9
JOIN_LUT_PER_OUT_BIT = 0.9
JOIN_LUT_ONE = 5


def _as_mvau(p: dict) -> dict:
    """mvau_residual.sv's parameters as its inner mvau.sv's (OUT_BITS = Y_BITS, no join parameters)."""
    q = {k: v for k, v in p.items() if k not in ("Y_BITS", "Y_SIGNED", "SKIP_BITS", "SKIP_SIGNED", "OFFSET",
                                                  "SAT_LO", "SAT_HI", "OUT_BITS")}
    q["OUT_BITS"] = p["Y_BITS"]
    return q


class MVAUResidual(MVAU):
    """The fused residual MVAU. Folding, limits, pixel folding and cycles are the MVAU's (the skip is one beat
    of PE elements per output beat: it never slows the unit); the RTL is the MVAU's inside mvau_residual.sv;
    resources are the MVAU's (its terms weighted by the calibrated mvau model, ``calibration_module``, or the
    MVAU's formula) plus :func:`join_cost` (fitted to Yosys separately)."""

    op_types = ("MVAUResidual",)
    modules = ("mvau_residual",)
    calibration_module = "mvau"

    @staticmethod
    def _view(node):
        view = mvau_view(node)
        return view, getCustomOp(view)

    def rtl_params(self, model, node, inst):
        view, vinst = self._view(node)
        p = mvau_params(model, view, vinst)
        p.pop("OUT_BITS")
        return "mvau_residual", {**p, **residual_params(inst)}

    def rtl(self, model, node, inst):
        if inst.get_nodeattr("noActivation"):
            raise UnsupportedError(f"node {node.name}: a fused residual MVAU needs its thresholds")
        view, vinst = self._view(node)
        layer = super().rtl(model, view, vinst)
        params = dict(layer.parameters)
        params.pop("OUT_BITS")
        params.update(residual_params(inst))
        return LayerRTL("mvau_residual", params, layer.memfiles, ["mvau_residual", *layer.sources])

    def formula(self, model, node, inst, family, part):
        view, vinst = self._view(node)
        cost, how = super().formula(model, view, vinst, family, part)
        return add(cost, join_cost(self.rtl_params(model, node, inst)[1])), how + " + join (layers/mvau_residual.py)"

    def content(self, model, node, module, p):
        return super().content(model, mvau_view(node), "mvau", _as_mvau(p))

    def terms(self, module, p, content):
        return super().terms("mvau", _as_mvau(p), content)

    def calibrated_extra(self, module, p, cost):
        return add(super().calibrated_extra("mvau", _as_mvau(p), cost), join_cost(p))

    def report_extra(self, module, p):
        return super().report_extra("mvau", _as_mvau(p))


KIND = MVAUResidual()
