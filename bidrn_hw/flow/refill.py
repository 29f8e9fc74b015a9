"""Pipeline composition of the window generator's frame refill (issue 21).

swg.sv's own cycle model (:func:`..layers.swg.cycles_swg`) takes the beats the next frame's first window
needs at one beat per cycle. Between frames nothing else can be emitted, and the reader cannot run ahead:
the writer is held to the last window's start + the buffer depth until the consumer has taken that window.
So the refill is paid at the *producer's* beat interval (a padding layer at SIMD 1 behind a width converter
delivers one SWG beat per SIMD cycles), and the consumer after the generator, when it is the bottleneck,
starves for that time less what it still has to do with the last window: an MVAU reuses its input vector
over its neuron fold, (NF - 1) * SF cycles, while a VVAU or pool reads on throughout.

Measured (zoo, compiled engine, 3 frames, no stalls): resnet 4,881 cycles per frame (layer model 4,608,
composed 4,840), depthwise 5,024 (4,675; composed 4,876).
"""
from __future__ import annotations

from qonnx.core.modelwrapper import ModelWrapper
from qonnx.custom_op.registry import getCustomOp

from ..layers import base_op, is_mvau
from ..layers.swg import swg_frame_refill, swg_geometry, swg_params

_PASS_THROUGH = ("StreamingFIFO",)


def _producer(model: ModelWrapper, node):
    prod = model.find_producer(node.input[0])
    while prod is not None and base_op(prod) in _PASS_THROUGH:
        prod = model.find_producer(prod.input[0])
    return prod


def _consumer(model: ModelWrapper, node):
    cons = model.find_consumers(node.output[0]) or []
    while len(cons) == 1 and base_op(cons[0]) in _PASS_THROUGH:
        cons = model.find_consumers(cons[0].output[0]) or []
    return cons[0] if len(cons) == 1 else None


def _reuse_cycles(node) -> int:
    """Cycles a consumer spends on a window it has already read (an MVAU's neuron folds after the first)."""
    if not is_mvau(node):  # MVAU or the fused residual MVAU
        return 0
    inst = getCustomOp(node)
    nf = inst.get_nodeattr("MH") // inst.get_nodeattr("PE")
    sf = inst.get_nodeattr("MW") // inst.get_nodeattr("SIMD")
    return (nf - 1) * sf


def pipeline_cycles(model: ModelWrapper, cycles: dict[str, int]) -> dict[str, int]:
    """``cycles`` (each layer's own model) with every window generator's frame refill paid at its producer's
    beat interval, by the generator and by its consumer."""
    out = dict(cycles)
    for node in model.graph.node:
        if base_op(node) != "ConvolutionInputGenerator":
            continue
        module, p = swg_params(getCustomOp(node))
        if module != "swg":
            continue
        beats = swg_frame_refill(p)
        prod = _producer(model, node)
        if not beats or prod is None:
            continue  # fed by the graph input: one beat per cycle, as cycles_swg has it
        interval = max(1.0, cycles[prod.name] / swg_geometry(p)["n_in"])
        refill = round(beats * interval)
        out[node.name] = max(out[node.name], cycles[node.name] + refill - beats)
        cons = _consumer(model, node)
        if cons is not None:
            out[cons.name] = max(out[cons.name], cycles[cons.name] + refill - _reuse_cycles(cons))
    return out
