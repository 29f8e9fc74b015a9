"""Default folding: every layer moves one pixel (all channels) per beat; MVAUs take k*k cycles per pixel.

With SIMD = input channels and PE = output channels, an MVAU consumes one kernel position of one pixel per
cycle (exactly what a sliding window generator with SIMD = channels emits), and every stream between layers
carries one pixel per beat, so no data-width converter is needed anywhere. Each layer then costs about
``k*k * pixels`` cycles: the pipeline is balanced up to the kernel sizes and strides.
"""
from __future__ import annotations

from qonnx.core.modelwrapper import ModelWrapper
from qonnx.custom_op.registry import getCustomOp
from qonnx.transformation.base import Transformation


def _base(node) -> str:
    op = node.op_type
    return op[:-4] if op.endswith(("_hls", "_rtl")) else op


class ApplyPixelFolding(Transformation):
    def apply(self, model: ModelWrapper):
        for node in model.graph.node:
            inst = getCustomOp(node)
            op = _base(node)
            if op == "MVAU":
                mw, mh = inst.get_nodeattr("MW"), inst.get_nodeattr("MH")
                producer = model.find_producer(node.input[0])
                simd = getCustomOp(producer).get_nodeattr("SIMD") if producer is not None and \
                    _base(producer) == "ConvolutionInputGenerator" else mw
                inst.set_nodeattr("SIMD", simd)
                inst.set_nodeattr("PE", mh)
            elif op in ("Thresholding", "DuplicateStreams"):
                inst.set_nodeattr("PE", inst.get_nodeattr("NumChannels"))
            elif op == "ElementwiseAdd":
                inst.set_nodeattr("PE", int(model.get_tensor_shape(node.input[0])[-1]))
            elif op in ("FMPadding", "ConvolutionInputGenerator"):
                channels = inst.get_nodeattr("NumChannels" if op == "FMPadding" else "IFMChannels")
                inst.set_nodeattr("SIMD", channels)
            elif op == "Pool":
                inst.set_nodeattr("PE", inst.get_nodeattr("Channels"))
        return model, False
