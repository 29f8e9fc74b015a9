"""Which RTL module implements which FINN HW op: op type -> function(model, node) -> LayerRTL."""
from __future__ import annotations

from qonnx.custom_op.registry import getCustomOp

from . import layers_compute, layers_dataflow, layers_dwc
from .stitch import LayerRTL


def _dataflow(model, node) -> LayerRTL:
    module, params = layers_dataflow.rtl_module(getCustomOp(node))
    return LayerRTL(module, params)


MAPPERS = {op: _dataflow for op in layers_dataflow.supported_op_types()}
MAPPERS.update(layers_compute.MAPPERS)
MAPPERS.update(layers_dwc.MAPPERS)
