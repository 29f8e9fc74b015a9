"""FINN's StreamingDataWidthConverter -> ``hls/dwc.sv`` (the flow inserts it where folding changes the
number of elements per beat between two layers: ``bidrn_hw.flow.folding.InsertDataWidthConverters``)."""
from __future__ import annotations

import math

from qonnx.custom_op.registry import getCustomOp

from ..errors import UnsupportedError
from .stitch import LayerRTL


def dwc_params(op) -> dict:
    name = op.onnx_node.name or op.onnx_node.op_type
    dt = op.get_input_datatype()
    bits = dt.bitwidth()
    in_w, out_w = op.get_nodeattr("inWidth"), op.get_nodeattr("outWidth")
    if in_w % bits or out_w % bits or in_w <= 0 or out_w <= 0:
        raise UnsupportedError(f"node {name}: widths {in_w} -> {out_w} bits are not whole {bits}-bit elements")
    a, b = in_w // bits, out_w // bits
    total = math.prod(int(s) for s in op.get_nodeattr("inShape"))
    if math.prod(int(s) for s in op.get_nodeattr("outShape")) != total:
        raise UnsupportedError(f"node {name}: inShape and outShape hold different numbers of elements")
    lcm = a * b // math.gcd(a, b)
    if total % lcm:
        raise UnsupportedError(f"node {name}: a frame of {total} elements is not a whole number of "
                               f"lcm({a}, {b}) = {lcm} elements; the converter would carry elements across frames")
    return dict(IN_ELEMS=a, OUT_ELEMS=b, ELEM_BITS=bits)


def dwc(model, node) -> LayerRTL:
    return LayerRTL("dwc", dwc_params(getCustomOp(node)))


MAPPERS = {"StreamingDataWidthConverter": dwc}
