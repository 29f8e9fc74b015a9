"""FINN's ``ram_style`` for the three memories our RTL infers: an MVAU's weight ROM, a window generator's
buffer and a FIFO's buffer. The RTL takes it as its ``RAM_STYLE`` parameter, the synthesis attribute
``(* ram_style *)`` on the memory, which Yosys and Vivado both obey.

``"auto"`` lets the synthesis tool choose. On Xilinx parts :class:`ResolveMemoryStyles` replaces it with the
choice Yosys makes by its library costs (:func:`~bidrn_hw.flow.estimates.yosys_block_ram`), the way FINN's
``StreamingFIFO.resolve_ram_style`` does: the estimate, ``folding.json`` and the synthesized design then say
the same thing. Without it, Yosys' choice near a cost tie could go either way, and the estimate went
with it (a window buffer of 101 x 24 bits: 128 against 129). ECP5 keeps ``"auto"``, because its
estimates are not calibrated against Yosys' choices.
A node without the attribute counts as ``"auto"``. FINN's default for ConvolutionInputGenerator is
``"distributed"``, but we apply that only where a folding file asks for it.
"""
from __future__ import annotations

from qonnx.custom_op.registry import getCustomOp
from qonnx.transformation.base import Transformation

from ..errors import UsageError
from .folding import base_op

MEMORY_OPS = ("MVAU", "ConvolutionInputGenerator", "StreamingFIFO")


def ram_style(node) -> str:
    """The node's ``ram_style`` as set on it (by a folding file or :class:`ResolveMemoryStyles`), else auto."""
    for attr in node.attribute:
        if attr.name == "ram_style":
            return attr.s.decode()
    return "auto"


def rtl_ram_style(node) -> str:
    """The RTL's RAM_STYLE for a node: its ``ram_style``, with an MVAU's ROM ``"distributed"`` mapped to
    ``"logic"``. A ROM cannot be a LUT-RAM in Yosys, and URAM has no initial contents."""
    style = ram_style(node)
    if base_op(node) == "MVAU":
        if style == "ultra":
            raise UsageError(f"node {node.name}: ram_style='ultra' cannot hold the weights (URAM has no initial "
                             f"contents); use 'block', 'distributed' or 'auto'")
        return "logic" if style == "distributed" else style
    return style


class ResolveMemoryStyles(Transformation):
    """Make every ``"auto"`` memory style explicit on Xilinx parts (see the module doc). On other families,
    write ``"auto"`` where the attribute is missing."""

    def __init__(self, family: str):
        super().__init__()
        self.family = family

    def apply(self, model):
        from .estimates import CALIBRATED_FAMILIES, memory_shape, rtl_params, yosys_block_ram

        for node in model.graph.node:
            if base_op(node) not in MEMORY_OPS or ram_style(node) != "auto":
                continue
            style = "auto"
            if self.family in CALIBRATED_FAMILIES:
                shape = memory_shape(*rtl_params(model, node))
                if shape is not None:
                    style = "block" if yosys_block_ram(*shape) else "distributed"
            getCustomOp(node).set_nodeattr("ram_style", style)
        return model, False
