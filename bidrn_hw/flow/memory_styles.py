"""FINN's ``ram_style`` for the three memories our RTL infers: an MVAU's weight ROM, a window generator's
buffer and a FIFO's buffer. The RTL takes it as its ``RAM_STYLE`` parameter, the synthesis attribute
``(* ram_style *)`` on the memory, which Yosys and Vivado both obey.

``"auto"`` lets the synthesis tool choose. On Xilinx parts :class:`ResolveMemoryStyles` replaces it with the
choice Yosys makes by its library costs (:func:`~bidrn_hw.layers.memory.yosys_block_ram`), the way FINN's
``StreamingFIFO.resolve_ram_style`` does: the estimate, ``folding.json`` and the synthesized design then say
the same thing. Without it, Yosys' choice near a cost tie could go either way, and the estimate went
with it (a window buffer of 101 x 24 bits: 128 against 129). ECP5 keeps ``"auto"``, because its
estimates are not calibrated against Yosys' choices.
A node without the attribute counts as ``"auto"``. FINN's default for ConvolutionInputGenerator is
``"distributed"``, but we apply that only where a folding file asks for it.
"""
from __future__ import annotations

import math

from qonnx.custom_op.registry import getCustomOp
from qonnx.transformation.base import Transformation

from ..layers import base_op, is_mvau, memory_shape, rtl_params, styled_memory
from ..layers.base import ram_style
from ..layers.memory import CALIBRATED_FAMILIES, bram18, yosys_block_ram
from .estimates import layer_resources

MEMORY_OPS = ("MVAU", "MVAUResidual", "ConvolutionInputGenerator", "StreamingFIFO")


class ResolveMemoryStyles(Transformation):
    """Make every ``"auto"`` memory style explicit on Xilinx parts (see the module doc). On other families,
    write ``"auto"`` where the attribute is missing."""

    def __init__(self, family: str):
        super().__init__()
        self.family = family

    def apply(self, model):
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


def uram_candidates(model, device: dict) -> list[tuple[int, int, str, dict]]:
    """The MVAUs whose weights could move to UltraRAM: in block RAM, style left to the flow (no ``ram_style``
    or ``"auto"``). Per node: (RAMB18 saved, URAMs used, name, the whole change of its resources: block RAM
    out, URAM and the weight loader in)."""
    out = []
    for node in model.graph.node:
        if not is_mvau(node) or ram_style(node) != "auto":
            continue
        module, p = rtl_params(model, node)
        if styled_memory(module, p) != "block":
            continue
        width, depth, _ = memory_shape(module, p)
        before = layer_resources(model, node, device)[0]
        inst = getCustomOp(node)
        inst.set_nodeattr("ram_style", "ultra")
        after = layer_resources(model, node, device)[0]
        inst.set_nodeattr("ram_style", "auto")
        out.append((bram18(width, depth), math.ceil(width / 72) * math.ceil(depth / 4096), node.name,
                    {k: after[k] - before[k] for k in after}))
    return out


def choose_uram_weights(tagged: list, device: dict, bram: int, uram: int) -> list:
    """Of ``tagged`` candidates ((owner, candidate) pairs; the owner names the graph a candidate is from, as node
    names repeat across partitions; candidates from :func:`uram_candidates`), the pairs to move so that the
    block RAM need ``bram`` fits ``device``'s budget: best block RAMs saved per URAM first, while the URAM need
    ``uram`` stays within its budget."""
    if not device.get("URAM") or bram <= device["BRAM_18K"]:
        return []
    chosen = []
    for owner, (saved, cost, name, delta) in sorted(tagged, key=lambda t: (-t[1][0] / t[1][1], t[1][2])):
        if bram <= device["BRAM_18K"]:
            break
        if uram + cost > device["URAM"]:
            continue
        bram, uram = bram - saved, uram + cost
        chosen.append((owner, (saved, cost, name, delta)))
    return chosen


def move_weights_to_uram(models: list, device: dict, bram: int, uram: int) -> list[str]:
    """Put MVAU weights into UltraRAM (``ram_style="ultra"``: loaded after reset) until the block RAM need
    ``bram`` fits ``device``'s budget (:func:`choose_uram_weights`). Returns the moved nodes' names; the
    caller estimates again."""
    if not device.get("URAM") or bram <= device["BRAM_18K"]:
        return []  # (before the candidates: each costs two layer estimates)
    tagged = [(model, cand) for model in models for cand in uram_candidates(model, device)]
    moved = []
    for model, (_, _, name, _) in choose_uram_weights(tagged, device, bram, uram):
        getCustomOp(model.get_node_from_name(name)).set_nodeattr("ram_style", "ultra")
        moved.append(name)
    return moved
