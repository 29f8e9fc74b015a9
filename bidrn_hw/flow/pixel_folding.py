"""Default folding: every layer moves one pixel (all channels) per beat; MVAUs take k*k cycles per pixel.

With SIMD = input channels and PE = output channels, an MVAU consumes one kernel position of one pixel per
cycle (exactly what a sliding window generator with SIMD = channels emits), and every stream between layers
carries one pixel per beat, so no data-width converter is needed anywhere. Each layer then costs about
``k*k * pixels`` cycles: the pipeline is balanced up to the kernel sizes and strides. Each layer kind sets
its own (``pixel_fold`` in ``bidrn_hw/layers/<kind>.py``).
"""
from __future__ import annotations

from qonnx.core.modelwrapper import ModelWrapper
from qonnx.custom_op.registry import getCustomOp
from qonnx.transformation.base import Transformation

from ..layers import kind_of


class ApplyPixelFolding(Transformation):
    def apply(self, model: ModelWrapper):
        for node in model.graph.node:
            kind = kind_of(node)
            if kind is not None:
                kind.pixel_fold(model, node, getCustomOp(node))
        return model, False
