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

For a folding made for a part (auto folding): :func:`move_weights_to_uram` (weights block RAM cannot hold),
:func:`move_products_to_luts` (FINN's ``resType`` "lut" where the part's DSP blocks run short) and
:func:`balance_memory_styles` (each "auto" memory in block RAM or LUTs by the part's shares of both).
"""
from __future__ import annotations

import math

from qonnx.custom_op.registry import getCustomOp
from qonnx.transformation.base import Transformation

from ..layers import RESOURCE_KEYS, base_op, is_mvau, memory_shape, rtl_params, styled_memory
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


def logic_share(device: dict):
    """``cost(model, node)`` for :func:`~bidrn_hw.flow.folding.fold_for_target`: the share of ``device``'s LUTs plus the share of its
    DSPs a layer's estimate takes, with its memory in block RAM (``ram_style`` "block" for the estimate): where
    a memory goes is decided for the whole folding afterwards (``memory_styles``: block RAM, UltraRAM, or LUTs
    where those run short), so a folding is not charged for a ROM Yosys alone would put in logic."""
    def cost(model, node) -> float:
        inst = getCustomOp(node)
        style = inst.get_nodeattr("ram_style") if base_op(node) in ("MVAU", "MVAUResidual") else None
        if style == "auto":
            inst.set_nodeattr("ram_style", "block")
        try:
            res = layer_resources(model, node, device)[0]
        finally:
            if style == "auto":
                inst.set_nodeattr("ram_style", "auto")
        return res["LUT"] / device["LUT"] + (res["DSP"] / device["DSP"] if device.get("DSP") else 0.0)

    return cost


RES_TYPE_OPS = ("MVAU", "VVAU")  # the kinds whose products FINN's resType places (mvau.sv, vvau.sv RES_TYPE)


def lut_product_candidates(model, device: dict) -> list[tuple[float, int, str, dict]]:
    """The layers whose products could leave the DSP blocks for LUTs (``resType`` "lut": shift and add): an
    MVAU or VVAU with DSPs in its estimate and ``resType`` left to the flow ("auto"). Per node: (LUTs added per
    DSP saved, DSPs saved, name, the whole change of its resources)."""
    out = []
    for node in model.graph.node:
        if base_op(node) not in RES_TYPE_OPS:
            continue
        inst = getCustomOp(node)
        if inst.get_nodeattr("resType") != "auto":
            continue
        before = layer_resources(model, node, device)[0]
        if not before["DSP"]:
            continue
        inst.set_nodeattr("resType", "lut")
        after = layer_resources(model, node, device)[0]
        inst.set_nodeattr("resType", "auto")
        delta = {k: after[k] - before[k] for k in after}
        if delta["DSP"] < 0:
            out.append((delta["LUT"] / -delta["DSP"], -delta["DSP"], node.name, delta))
    return out


def move_products_to_luts(models: list, device: dict, dsp: int) -> list[str]:
    """Set ``resType`` "lut" on MVAUs/VVAUs (their products as shift-and-add logic) until the DSP need ``dsp``
    fits ``device``'s budget: the fewest LUTs per DSP saved first (narrow operands: a 2 x 2-bit product is a few
    LUTs, where a DSP block stands for about 240 LUTs of an xc7z020). Returns the moved nodes' names; the
    caller estimates again."""
    if dsp <= device["DSP"]:
        return []
    tagged = sorted(((m, c) for m in models for c in lut_product_candidates(m, device)), key=lambda t: (t[1][0], t[1][2]))
    moved = []
    for model, (_, saved, name, _) in tagged:
        if dsp <= device["DSP"]:
            break
        getCustomOp(model.get_node_from_name(name)).set_nodeattr("resType", "lut")
        dsp -= saved
        moved.append(name)
    return moved


def memory_style_moves(model, device: dict, lut_first: bool = False) -> dict:
    """The memory placements :func:`balance_memory_styles` weighs, for one graph: {"to_lut": [(name, the change
    of its resources)], "to_block": [(share saved per RAMB18 added, RAMB18 added, name, the change of its
    resources)], "to_uram": the same per URAM for weights ("ultra": streamed in after reset), "total": the
    graph's resources now}. A memory's cost in each style is weighed as the share of the part's LUTs plus the
    share of its block RAM it takes; only moves that lower it are listed. ``lut_first``: LUTs are what is
    short, block RAM and UltraRAM left over are free: every move of a LUT-held memory to block RAM (and of
    LUT-held MVAU weights to UltraRAM, where the part has it) that saves LUTs is listed, scored by the share
    of the LUTs saved per block, none to LUTs."""
    def share(c):
        if lut_first:
            return c["LUT"] / device["LUT"]
        return c["LUT"] / device["LUT"] + c["BRAM_18K"] / device["BRAM_18K"]

    total = dict.fromkeys(RESOURCE_KEYS, 0)
    moves: dict = {"to_lut": [], "to_block": [], "to_uram": []}
    for node in model.graph.node:
        now = layer_resources(model, node, device)[0]
        total = {k: total[k] + now[k] for k in RESOURCE_KEYS}
        if base_op(node) not in MEMORY_OPS or ram_style(node) != "auto":
            continue
        module, p = rtl_params(model, node)
        where = styled_memory(module, p)
        if where not in ("block", "lut"):
            continue
        others = ["distributed"] if where == "block" else ["block"]
        if lut_first and where == "block":
            continue
        if lut_first and device.get("URAM") and is_mvau(node):
            others.append("ultra")
        inst = getCustomOp(node)
        for other in others:
            inst.set_nodeattr("ram_style", other)
            alt = layer_resources(model, node, device)[0]
            inst.set_nodeattr("ram_style", "auto")
            saved = share(now) - share(alt)
            if saved <= 0:
                continue
            delta = {k: alt[k] - now[k] for k in now}
            if other == "distributed":
                moves["to_lut"].append((node.name, delta))
            else:
                key = "URAM" if other == "ultra" else "BRAM_18K"
                moves["to_block" if other == "block" else "to_uram"].append(
                    (saved / max(delta[key], 1), delta[key], node.name, delta))
    moves["total"] = total
    return moves


def choose_block_moves(tagged: list, device: dict, used: int, key: str = "BRAM_18K") -> list:
    """Of ``tagged`` moves to block RAM ((owner, move) pairs, moves from :func:`memory_style_moves`; the owner
    names the graph a move is from), those to make: most share saved per RAMB18 first, each only while the
    block RAM need ``used`` (the moves to LUTs already made) stays within ``device``'s budget. ``key``
    "URAM": the same for moves to UltraRAM."""
    chosen = []
    for owner, move in sorted(tagged, key=lambda t: (-t[1][0], t[1][2])):
        if used + move[1] > device[key]:
            continue
        used += move[1]
        chosen.append((owner, move))
    return chosen


def balance_memory_styles(model, device: dict) -> list[str]:
    """Where a folding was chosen for a part (auto folding), place each memory left at ``"auto"`` (MVAU and
    VVAU weight ROMs, window buffers, FIFOs) in block RAM or in LUTs by what the part has, not by Yosys'
    library costs alone: a memory's cost in each style is weighed as the share of the part's LUTs plus the
    share of its block RAM it takes, and the cheaper style is set (:func:`memory_style_moves`). Moves into
    block RAM go by share saved per RAMB18 and only while the whole design's block RAM stays within the budget
    (:func:`choose_block_moves`). On an xc7z020 a 1,024-bit x 192-word weight ROM costs about 10,500 LUTs in
    logic (20% of the part) or 29 RAMB18 (10%): block RAM, where Yosys' costs (129 per RAMB18 against one per
    64 bits of logic) choose logic. Xilinx parts only (the calibrated estimates); returns the names of the
    nodes whose style was set.

    Then, where the design takes at least FILL_LUT_SHARE of the part's LUTs, LUTs are what is short: the
    block RAM still left is spent on the memories left in LUTs (:func:`memory_style_moves`' ``lut_first``
    moves), most LUTs saved per RAMB18 first, as the whole-frame fold does (CNV-w2a2 auto-folded for 3,052 frames/s on an xc7z020: 59% of the LUTs, 46 RAMB18 idle; its window
    buffers and FIFOs in them save about 1,600 LUTs)."""
    if not balances_memories(device):
        return []
    moves = memory_style_moves(model, device)
    bram = moves["total"]["BRAM_18K"]
    changed = []
    for name, delta in moves["to_lut"]:
        getCustomOp(model.get_node_from_name(name)).set_nodeattr("ram_style", "distributed")
        bram += delta["BRAM_18K"]
        changed.append(name)
    for _, (_, _, name, _) in choose_block_moves([(None, m) for m in moves["to_block"]], device, bram):
        getCustomOp(model.get_node_from_name(name)).set_nodeattr("ram_style", "block")
        changed.append(name)
    fill = memory_style_moves(model, device, lut_first=True)
    if fill["total"]["LUT"] < FILL_LUT_SHARE * device["LUT"]:
        return changed
    for _, (_, _, name, _) in choose_block_moves([(None, m) for m in fill["to_block"]], device,
                                                 fill["total"]["BRAM_18K"]):
        getCustomOp(model.get_node_from_name(name)).set_nodeattr("ram_style", "block")
        changed.append(name)
    return changed


def balances_memories(device: dict) -> bool:
    """Whether :func:`balance_memory_styles` places memories on ``device`` (a calibrated Xilinx part with LUTs
    and block RAM)."""
    return device.get("family") in CALIBRATED_FAMILIES and bool(device.get("LUT")) and bool(device.get("BRAM_18K"))


FILL_LUT_SHARE = 0.5  # balance_memory_styles places memories LUTs first from this share of the part's LUTs
