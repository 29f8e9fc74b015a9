"""One module per layer kind, and the registry that maps FINN op types to kinds.

Each kind (a :class:`~.base.LayerKind` in ``layers/<kind>.py``) holds everything the flow knows about one HW
op: its folding attributes and limits, its cycles per frame, its RTL module, parameters and memory files,
its resource formula and the calibrated model's terms. The flow's generic parts loop over nodes and ask the
kind: ``flow.folding`` (limits, pixel folding, elements per beat), ``flow.estimates`` (cycles, resources),
``rtlgen.stitch`` (RTL). Adding a kind: write ``layers/<kind>.py`` with a ``KIND``, add it to ``KINDS`` below,
test it (docs/architecture.md, "How to add a layer kind").

This package imports nothing from ``flow``, ``rtlgen`` or later stages.
"""
from __future__ import annotations

from qonnx.custom_op.registry import getCustomOp

from ..errors import UnsupportedError
from . import (addstreams, duplicatestreams, dwc, fifo, fmpadding, globalaccpool, mvau, mvau_residual, pool, swg,
               thresholding, upsampler, vvau)
from .base import RESOURCE_KEYS, LayerKind, LayerRTL, base_op, is_mvau
from .memory import styled

KINDS: tuple[LayerKind, ...] = (
    mvau.KIND, mvau_residual.KIND, thresholding.KIND, swg.KIND, fmpadding.KIND, addstreams.KIND,
    duplicatestreams.KIND, pool.KIND, globalaccpool.KIND, upsampler.KIND, dwc.KIND, fifo.KIND, vvau.KIND,
)

BY_OP: dict[str, LayerKind] = {op: kind for kind in KINDS for op in kind.op_types}
BY_MODULE: dict[str, LayerKind] = {module: kind for kind in KINDS for module in kind.modules}


def kind_of(node) -> LayerKind | None:
    """The kind of a HW node (its op type without the _hls/_rtl suffix), or None for an op no kind has."""
    return BY_OP.get(base_op(node))


def supported_op_types() -> list[str]:
    return sorted(BY_OP)


def layer_rtl(model, node) -> LayerRTL:
    """The RTL instance of one HW node (module, parameters, memory files, library sources)."""
    kind = kind_of(node)
    if kind is None:
        raise UnsupportedError(f"node {node.name} ({node.op_type}): no RTL module for this op type; "
                               f"supported: {', '.join(supported_op_types())}")
    return kind.rtl(model, node, getCustomOp(node))


def rtl_params(model, node) -> tuple[str, dict] | None:
    """(module, parameters) of the RTL a node becomes, as ``accel.json`` lists them (without memory files);
    None for an op no kind has."""
    kind = kind_of(node)
    return None if kind is None else kind.rtl_params(model, node, getCustomOp(node))


def layer_cycles_of(model, node) -> int:
    """Cycles per frame of one node as our RTL runs it (FINN's ``get_exp_cycles`` for an op no kind has)."""
    inst = getCustomOp(node)
    kind = kind_of(node)
    return int(inst.get_exp_cycles()) if kind is None else int(kind.cycles(model, node, inst))


def fold_limits(model, node) -> dict[str, int]:
    """{folding attribute: the value it must divide} of ``node``."""
    kind = kind_of(node)
    return {} if kind is None else kind.fold_limits(model, node, getCustomOp(node))


def memory_shape(module: str, p: dict) -> tuple[int, int, bool] | None:
    """(width, depth, is a ROM) of the memory an RTL module's RAM_STYLE applies to: mvau.sv's weight ROM,
    swg.sv's window buffer, swg_parallel.sv's line buffer, fifo.sv's buffer (none below three words)."""
    kind = BY_MODULE.get(module)
    return None if kind is None else kind.memory_shape(module, p)


def styled_memory(module: str, p: dict) -> str | None:
    """Where that memory goes: "block", "ultra" or "lut" (:func:`.memory.styled`)."""
    return styled(memory_shape(module, p), p.get("RAM_STYLE", "auto"))


__all__ = ["KINDS", "BY_OP", "BY_MODULE", "RESOURCE_KEYS", "LayerKind", "LayerRTL", "base_op", "is_mvau", "kind_of",
           "supported_op_types", "layer_rtl", "rtl_params", "layer_cycles_of", "fold_limits", "memory_shape",
           "styled_memory"]
