"""The classic FINN BNN-PYNQ networks (Brevitas ``bnn_pynq`` TFC/SFC/LFC/CNV in every shipped bit width) as QONNX
models for our flow.

:func:`build_bnn_pynq` builds the network with seeded random weights and random BatchNorm statistics
(running mean/var, affine weight/bias, TensorNorm included), so that every threshold, sign flip and final
scale is exercised without downloading the trained checkpoints. :func:`export_bnn_pynq` exports it with
``export_qonnx`` and prepends FINN's pre-processing as the BNN-PYNQ end-to-end flow does (``ToTensor``
merged in front): the graph input is a UINT8 image, followed by a ``Mul`` by 1/255 before the network's own
``2x - 1`` and first quantizer, and the input tensor is annotated ``UINT8``.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import helper
from qonnx.core.datatype import DataType
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.transformation.fold_constants import FoldConstants
from qonnx.transformation.general import (GiveReadableTensorNames, GiveUniqueNodeNames, RemoveStaticGraphInputs,
                                          RemoveUnusedTensors)
from qonnx.transformation.infer_datatypes import InferDataTypes
from qonnx.transformation.infer_shapes import InferShapes

from ..errors import UsageError

# Every fully connected and convolutional network brevitas_examples.bnn_pynq ships a config for:
# name -> (its config name, input shape). TFC/SFC/LFC read MNIST (1x28x28), CNV CIFAR-10 (3x32x32).
NETWORKS = {f"{arch}-w{w}a{a}": (f"{arch}_{w}w{a}a", (1, 3, 32, 32) if arch == "cnv" else (1, 1, 28, 28))
            for arch, w, a in (("tfc", 1, 1), ("tfc", 1, 2), ("tfc", 2, 2), ("sfc", 1, 1), ("sfc", 1, 2),
                               ("sfc", 2, 2), ("lfc", 1, 1), ("lfc", 1, 2), ("cnv", 1, 1), ("cnv", 1, 2),
                               ("cnv", 2, 2))}


def _randomize(net, seed: int) -> None:
    import torch  # lazy: torch, only to build a network

    gen = torch.Generator().manual_seed(seed)
    fan = 1.0
    with torch.no_grad():
        for mod in net.modules():
            kind = type(mod).__name__
            if kind in ("QuantLinear", "QuantConv2d"):
                mod.weight.copy_(torch.rand(mod.weight.shape, generator=gen) * 2 - 1)
                fan = float(mod.weight[0].numel())
            elif kind in ("BatchNorm1d", "BatchNorm2d", "TensorNorm"):
                n = mod.running_mean.numel()
                # Pre-BN values are sums of `fan` +-1 products: spread ~ sqrt(fan). Means and spreads on that
                # scale put the thresholds inside the reachable range.
                mod.running_mean.copy_((torch.rand(n, generator=gen) * 2 - 1) * fan ** 0.5)
                mod.running_var.copy_((torch.rand(n, generator=gen) * 2 + 0.25) * fan)
                # Weights of both signs: a negative gamma flips the threshold direction (FINN factors the
                # sign out into the bipolar weights).
                mod.weight.copy_((torch.rand(n, generator=gen) * 2 - 1) * 2)
                mod.bias.copy_(torch.rand(n, generator=gen) * 2 - 1)


def build_bnn_pynq(network: str, seed: int = 0):
    """A Brevitas ``bnn_pynq`` network (a key of :data:`NETWORKS`, e.g. ``cnv-w2a2``) in eval mode with random
    parameters."""
    from brevitas_examples.bnn_pynq.models import model_with_cfg  # lazy: Brevitas, only to build a network

    if network not in NETWORKS:
        raise UsageError(f"unknown network {network!r}; known: {', '.join(NETWORKS)}")
    net, _ = model_with_cfg(NETWORKS[network][0], pretrained=False)
    _randomize(net, seed)
    return net.eval()


def input_shape(network: str) -> tuple[int, ...]:
    return NETWORKS[network][1]


def add_uint8_preprocessing(model: ModelWrapper) -> ModelWrapper:
    """Prepend ``Mul(1/255)`` to the graph input and annotate the new input ``UINT8`` (FINN's ToTensor)."""
    graph = model.graph
    old = graph.input[0]
    name = old.name
    scaled = name + "_scaled"
    for node in graph.node:
        for i, t in enumerate(node.input):
            if t == name:
                node.input[i] = scaled
    const = name + "_div255"
    model.set_initializer(const, np.asarray(1.0 / 255.0, dtype=np.float32))
    graph.node.insert(0, helper.make_node("Mul", [name, const], [scaled], name="Preproc_Mul_1_255"))
    model.set_tensor_datatype(name, DataType["UINT8"])
    return model


def export_uint8_qonnx(net, example, path: Path, metadata: dict[str, str] | None = None) -> ModelWrapper:
    """Export the Brevitas ``net`` (traced on ``example``) to QONNX at ``path``: constants folded, unused tensors
    dropped, FINN's UINT8 pre-processing in front (:func:`add_uint8_preprocessing`), readable unique names,
    shapes and data types inferred, ``metadata`` set as metadata props. Saved at ``path`` and returned."""
    # lazy: torch and Brevitas, needed only to export a network, not to read or transform a QONNX model
    import torch
    from brevitas.export import export_qonnx

    path.parent.mkdir(parents=True, exist_ok=True)
    with torch.no_grad():
        export_qonnx(net, example, str(path), dynamo=False, opset_version=13)
    model = ModelWrapper(str(path))
    model = model.transform(InferShapes()).transform(FoldConstants()).transform(RemoveStaticGraphInputs())
    model = model.transform(RemoveUnusedTensors())
    model = add_uint8_preprocessing(model)
    model = model.transform(GiveUniqueNodeNames()).transform(GiveReadableTensorNames())
    model = model.transform(InferShapes()).transform(InferDataTypes())
    for key, value in (metadata or {}).items():
        model.set_metadata_prop(key, value)
    model.save(str(path))
    return model


def export_bnn_pynq(network: str, path: str | Path, seed: int = 0) -> ModelWrapper:
    """Export ``build_bnn_pynq(network, seed)`` to QONNX at ``path`` with the UINT8 input (see module doc)."""
    import torch  # lazy: torch, only to export

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    net = build_bnn_pynq(network, seed)
    return export_uint8_qonnx(net, torch.rand(input_shape(network)), path, {"bidrn_hw.network": network})


def random_frames(network: str, n: int, seed: int = 0) -> np.ndarray:
    """``n`` random UINT8 frames (N, C, H, W) as float32 (what QONNX execution takes)."""
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, size=(n, *input_shape(network)[1:])).astype(np.float32)
