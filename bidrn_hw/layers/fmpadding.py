"""FMPadding (zero padding of a convolution's input) and FMPadding_Pixel (zero insertion for ConvTranspose,
from InferPixelPaddingDeconv) -> ``hls/fmpadding.sv`` (FMPadding_Pixel with STRIDE_H/STRIDE_W and no
border). Folding: SIMD divides NumChannels. Cycles: output beats (FINN's formula is exact for a streaming
pad)."""
from __future__ import annotations

from ..errors import UnsupportedError
from .base import LayerKind, base_op, check_divides, int_dtype, node_name, zero
from .memory import clog2


def fmpadding_params(op) -> tuple[str, dict]:
    h, w = op.get_nodeattr("ImgDim")
    top, left, bottom, right = op.get_nodeattr("Padding")
    ch = op.get_nodeattr("NumChannels")
    simd = op.get_nodeattr("SIMD")
    check_divides(op, ch, simd, "SIMD")
    if op.get_nodeattr("numInputVectors") != 1:
        raise UnsupportedError(f"node {node_name(op)}: numInputVectors != 1 (batching) is not supported; "
                               "stream frames one after another instead")
    dt = int_dtype(op, op.get_input_datatype(), "input", allow_bipolar=False)
    return "fmpadding", dict(IFM_H=h, IFM_W=w, PAD_TOP=top, PAD_LEFT=left, PAD_BOTTOM=bottom, PAD_RIGHT=right,
                             CH=ch, SIMD=simd, ELEM_BITS=dt.bitwidth(), PAD_VAL=0, STRIDE_H=1, STRIDE_W=1)


def fmpadding_pixel_params(op) -> tuple[str, dict]:
    """FMPadding_Pixel -> fmpadding.sv with strides and no border padding."""
    h, w = op.get_nodeattr("ImgDim")
    s_h, s_w = op.get_nodeattr("Stride")
    ch = op.get_nodeattr("NumChannels")
    simd = op.get_nodeattr("SIMD")
    check_divides(op, ch, simd, "SIMD")
    if op.get_nodeattr("numInputVectors") != 1:
        raise UnsupportedError(f"node {node_name(op)}: numInputVectors != 1 (batching) is not supported")
    dt = int_dtype(op, op.get_input_datatype(), "input", allow_bipolar=False)
    return "fmpadding", dict(IFM_H=h, IFM_W=w, PAD_TOP=0, PAD_LEFT=0, PAD_BOTTOM=0, PAD_RIGHT=0, CH=ch,
                             SIMD=simd, ELEM_BITS=dt.bitwidth(), PAD_VAL=0, STRIDE_H=s_h, STRIDE_W=s_w)


class FMPadding(LayerKind):
    op_types = ("FMPadding", "FMPadding_Pixel")
    modules = ("fmpadding",)

    def fold_limits(self, model, node, inst):
        return {"SIMD": inst.get_nodeattr("NumChannels")}

    def pixel_fold(self, model, node, inst):
        if base_op(node) == "FMPadding":  # (FMPadding_Pixel keeps its SIMD)
            inst.set_nodeattr("SIMD", inst.get_nodeattr("NumChannels"))

    def rtl_params(self, model, node, inst):
        return fmpadding_params(inst) if base_op(node) == "FMPadding" else fmpadding_pixel_params(inst)

    def cycles(self, model, node, inst):
        self.rtl_params(model, node, inst)  # (unsupported attributes are an error here too)
        return int(inst.get_exp_cycles())

    def formula(self, model, node, inst, family, part):
        _, p = self.rtl_params(model, node, inst)
        cost = zero()
        width = p["SIMD"] * p["ELEM_BITS"]
        counters = 3 * clog2(max(p["IFM_H"], p["IFM_W"]) * 4) + clog2(p["CH"] // p["SIMD"])
        cost["LUT"] = width + 2 * counters + 10
        cost["FF"] = width + counters + 1
        return cost, "own"

    def terms(self, module, p, content):
        width = p["SIMD"] * p["ELEM_BITS"]
        return {"one": 1, "mux": width,
                "counters": 3 * clog2(max(p["IFM_H"], p["IFM_W"]) * 4) + clog2(p["CH"] // p["SIMD"]),
                "regs": width}, []


KIND = FMPadding()
