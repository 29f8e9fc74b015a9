"""Export a hardware-variant encoder to QONNX (one FPGA partition) with FINN's input convention."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import qonnx.core.onnx_exec as oxe
import torch
from brevitas.export import export_qonnx
from qonnx.core.datatype import DataType
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.core.onnx_exec import execute_onnx
from qonnx.transformation.base import Transformation
from qonnx.transformation.fold_constants import FoldConstants
from qonnx.transformation.general import GiveReadableTensorNames, GiveUniqueNodeNames, RemoveUnusedTensors
from qonnx.transformation.infer_datatypes import InferDataTypes
from qonnx.transformation.infer_shapes import InferShapes

from ..flow.fast_qonnx import fast_qonnx, readable_tensor_names
from .hardware import HardwareEncoder


def export_hardware_encoder(encoder: HardwareEncoder, input_hw: tuple[int, int], path: str | Path) -> ModelWrapper:
    """Write ``encoder`` as QONNX to ``path``: input (1, 3, H, W) annotated UINT8, output INT<R> levels.

    The TorchScript exporter is used (``dynamo=False``) because it honours the ``symbolic`` of our
    MultiThreshold function; the dynamo exporter would trace its arithmetic instead.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    example = torch.randint(0, 256, (1, 3, *input_hw)).float()
    encoder.eval()
    with torch.no_grad():
        export_qonnx(encoder, example, str(path), dynamo=False, opset_version=13)
    with fast_qonnx():
        model = tidy_export(ModelWrapper(str(path)))
    model.set_metadata_prop("bidrn_hw.residual_scale", repr(float(encoder.scale)))
    model.set_metadata_prop("bidrn_hw.residual_bits", str(encoder.bits))
    model.save(str(path))
    return model


def tidy_export(model: ModelWrapper) -> ModelWrapper:
    """Shapes, constants folded, readable names, the UINT8 input annotation and the inferred datatypes."""
    model = model.transform(InferShapes()).transform(FastFoldConstants()).transform(RemoveUnusedTensors())
    model = model.transform(GiveUniqueNodeNames())
    if not readable_tensor_names(model):
        model = model.transform(GiveReadableTensorNames())
    model.set_tensor_datatype(model.graph.input[0].name, DataType["UINT8"])
    return model.transform(InferShapes()).transform(InferDataTypes())


class FastFoldConstants(Transformation):
    """qonnx's FoldConstants in one pass: every node whose inputs are all initializers, in graph order (a folded
    output is an initializer for the nodes after it), then one shape inference. qonnx's FoldConstants folds one
    node per application and the ModelWrapper repeats it with a shape inference and a cleanup each time
    (qonnx issue #104: shapes of folded Shape nodes), which is quadratic: 339 rounds and 460 s of the paper
    config's export. Shape nodes and multi-output nodes are left to qonnx's pass, run after this one."""

    def __init__(self, exclude_op_types=("Quant", "BipolarQuant")):
        super().__init__()
        self.exclude_op_types = tuple(exclude_op_types)

    def apply(self, model: ModelWrapper):
        opset = model.model.opset_import[0].version
        context = model.make_empty_exec_context()
        folded = []
        for node in model.graph.node:
            if (node.op_type in self.exclude_op_types or node.op_type == "Shape" or len(node.output) != 1
                    or not node.input or any(model.get_initializer(t) is None for t in node.input)):
                continue
            for t in node.input:
                model.get_tensor_shape(t, fix_missing_init_shape=True)
            oxe.execute_node(node, context, model.graph, opset_version=opset)
            model.set_initializer(node.output[0], context[node.output[0]])
            folded.append(node)
        for node in folded:
            model.graph.node.remove(node)
        if folded:
            model = model.transform(InferShapes())
        return model.transform(FoldConstants(list(self.exclude_op_types))), False


def run_qonnx(model: ModelWrapper, image_u8: np.ndarray) -> np.ndarray:
    """QONNX execution of an exported partition on one (1, 3, H, W) uint8 image."""
    inp = model.graph.input[0].name
    out = model.graph.output[0].name
    return execute_onnx(model, {inp: np.asarray(image_u8, dtype=np.float32)})[out]
