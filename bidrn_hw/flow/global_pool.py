"""Global average pooling as FINN's GlobalAccPool HW layer.

``flow.layout.ConvertToNHWC`` turns a ``GlobalAveragePool`` or a ``ReduceMean`` over the spatial axes into
``ReduceSum(axes=[1, 2], keepdims=1)`` on the NHWC stream times ``1/(H*W)``; streamlining absorbs that scale
into the quantizer after it (a Brevitas network quantizes the mean: ``TruncAvgPool2d`` or a ``QuantIdentity``),
so what is left is an integer sum over the feature map: :class:`InferGlobalAccPool` makes it a GlobalAccPool
node (``layers/globalaccpool.py``: the RTL adds each channel's H*W values; FINN's execution is the reference).
"""
from __future__ import annotations

import numpy as np
from onnx import helper
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.transformation.base import Transformation
from qonnx.transformation.infer_datatypes import InferDataTypes
from qonnx.transformation.infer_shapes import InferShapes

HW_DOMAIN = "finn.custom_op.fpgadataflow"


class InferGlobalAccPool(Transformation):
    """ReduceSum over axes 1 and 2 (NHWC), keepdims, of an integer stream -> GlobalAccPool."""

    def apply(self, model: ModelWrapper):
        changed = False
        for node in list(model.graph.node):
            if node.op_type != "ReduceSum" or len(node.input) < 2:
                continue
            axes = model.get_initializer(node.input[1])
            keep = next((a.i for a in node.attribute if a.name == "keepdims"), 1)
            shape = model.get_tensor_shape(node.input[0])
            idt = model.get_tensor_datatype(node.input[0])
            if axes is None or sorted(int(a) for a in np.asarray(axes).ravel()) != [1, 2] or not keep \
                    or len(shape) != 4 or not idt.is_integer():
                continue
            idx = list(model.graph.node).index(node)
            pool = helper.make_node("GlobalAccPool", [node.input[0]], [node.output[0]], domain=HW_DOMAIN,
                                    backend="fpgadataflow", NumChannels=int(shape[3]), PE=1,
                                    inputDataType=idt.name, numInputVectors=[int(v) for v in shape[:3]],
                                    name="GlobalAccPool_" + node.name)
            model.graph.node.insert(idx, pool)
            model.graph.node.remove(node)
            changed = True
        if changed:
            model = model.transform(InferShapes()).transform(InferDataTypes())
        return model, False
