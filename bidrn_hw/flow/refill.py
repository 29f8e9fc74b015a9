"""Pipeline composition of the window generator's frame refill (issue 21): the one cycle rule the estimate
(:func:`pipeline_cycles`) and auto folding (``flow.folding``, through :func:`pair_cycles`) both use.

swg.sv's own cycle model (:func:`..layers.swg.cycles_swg`) takes the beats the next frame's first window
needs at one beat per cycle. Between frames nothing else can be emitted, and the reader cannot run ahead:
the writer is held to the last window's start + the buffer depth until the consumer has taken that window.
So the refill is paid at the *producer's* beat interval (a padding layer at SIMD 1 behind a width converter
delivers one SWG beat per SIMD cycles), and the consumer after the generator, when it is the bottleneck,
starves for that time less what it still has to do with the last window: an MVAU reuses its input vector
over its neuron fold, (NF - 1) * SF cycles, while a VVAU or pool reads on throughout.

The producer is found through FIFOs and data-width converters: a converter takes one beat and gives one a
cycle, so it is never slower than the larger of its producer's cycles and the generator's input beats, and
the interval is the same with it (the estimate's graph) or without it (the graph auto folding sees). The
stream's interval chains on through padding (which only forwards its input, with the pad elements between):
the slower of the padding and the layer before it sets it (:func:`stream_cycles`). That layer may have run
ahead into the FIFOs and converters between, so this bounds the refill from above. Measured cycles per
frame (zoo, compiled engine, 3 frames, no stalls) against the estimate with the padding alone as the
producer / chained (the zoo2 builds of 716f617): resnet 4,881 against 4,831 (+1.0%) / 5,042 (-3.2%);
depthwise 5,024 against 4,876 (+3.0%) / 5,084 (-1.2%); depthwise with its second padding at SIMD 4 (one
beat per cycle, measured 4,938 in README's zoo notes) 4,686 (+5.4%: the MVAU before the padding, 9 cycles a
pixel, held the refill) / 5,084 (-2.9%).
"""
from __future__ import annotations

from qonnx.core.modelwrapper import ModelWrapper
from qonnx.custom_op.registry import getCustomOp

from ..layers import base_op, is_mvau
from ..layers.swg import swg_frame_refill, swg_geometry, swg_params

_PASS_THROUGH = ("StreamingFIFO", "StreamingDataWidthConverter")


def generator_input(model: ModelWrapper, swg):
    """The node whose output a window generator reads (through FIFOs and width converters); None for the
    graph input."""
    prod = model.find_producer(swg.input[0])
    while prod is not None and base_op(prod) in _PASS_THROUGH:
        prod = model.find_producer(prod.input[0])
    return prod


# layers a stream's rate passes through (padding forwards its input; its output cannot run ahead of it)
_RATE_PASSING = _PASS_THROUGH + ("FMPadding", "FMPadding_Pixel")


def stream_cycles(model: ModelWrapper, swg, cycles_of) -> int | None:
    """Cycles per frame of the stream a window generator reads: the largest ``cycles_of`` of its producer
    (:func:`generator_input`) and, back from it through padding, of the layer that feeds the padding (None
    for the graph input)."""
    prod = generator_input(model, swg)
    if prod is None:
        return None
    most = cycles_of(prod)
    while base_op(prod) in _RATE_PASSING:
        prod = model.find_producer(prod.input[0])
        if prod is None:
            break
        most = max(most, cycles_of(prod))
    return most


def generator_output(model: ModelWrapper, swg):
    """The one node that reads a window generator's windows (through FIFOs), or None."""
    cons = model.find_consumers(swg.output[0]) or []
    while len(cons) == 1 and base_op(cons[0]) == "StreamingFIFO":
        cons = model.find_consumers(cons[0].output[0]) or []
    return cons[0] if len(cons) == 1 else None


def reuse_cycles(node, simd: int | None = None, pe: int | None = None) -> int:
    """Cycles a consumer spends on a window it has already read (an MVAU's neuron folds after the first), at
    its folding now or at ``simd``/``pe`` (auto folding's candidates)."""
    if not is_mvau(node):  # MVAU or the fused residual MVAU
        return 0
    inst = getCustomOp(node)
    nf = inst.get_nodeattr("MH") // (pe or inst.get_nodeattr("PE"))
    sf = inst.get_nodeattr("MW") // (simd or inst.get_nodeattr("SIMD"))
    return (nf - 1) * sf


def window_refill(swg, producer_cycles: int | None) -> tuple[int, int]:
    """(cycles the next frame's first window waits at the producer's beat interval (``producer_cycles``, its
    stream's cycles per frame: :func:`stream_cycles`), the beats of that wait
    :func:`..layers.swg.cycles_swg` already counts at one a cycle) of a window generator as folded now;
    (0, 0) for a parallel-window generator, one fed by the graph input (``producer_cycles`` None) or one
    with no frame refill."""
    module, p = swg_params(getCustomOp(swg))
    if module != "swg" or producer_cycles is None:
        return 0, 0
    beats = swg_frame_refill(p)
    if not beats:
        return 0, 0
    interval = max(1.0, producer_cycles / swg_geometry(p)["n_in"])
    return round(beats * interval), beats


def refilled(swg_own: int, refill: int, beats: int, consumer_own: int | None = None,
             reuse: int = 0) -> tuple[int, int | None]:
    """(generator, consumer) cycles per frame from each one's own model with the frame refill
    (:func:`window_refill`) paid by both: the generator waits ``refill`` where its own model counts
    ``beats``; the consumer starves for ``refill`` less the ``reuse`` (:func:`reuse_cycles`) it still has
    to do with the last window. The rule the estimate and auto folding both apply."""
    if not refill:
        return swg_own, consumer_own
    swg_cycles = max(swg_own, swg_own + refill - beats)
    if consumer_own is None:
        return swg_cycles, None
    return swg_cycles, max(consumer_own, consumer_own + refill - reuse)


def pair_cycles(model: ModelWrapper, swg, consumer, cycles_of) -> tuple[int, int | None]:
    """(generator, consumer) cycles with the refill (:func:`refilled`); ``cycles_of(node)``: a node's own
    cycles; ``consumer`` None: the generator's alone."""
    refill, beats = window_refill(swg, stream_cycles(model, swg, cycles_of))
    if consumer is None:
        return refilled(cycles_of(swg), refill, beats)
    return refilled(cycles_of(swg), refill, beats, cycles_of(consumer), reuse_cycles(consumer))


def _feeding_generators(model: ModelWrapper, node) -> list:
    """The window generators whose windows only ``node`` reads (through FIFOs)."""
    found = []
    for tensor in node.input:
        prod = model.find_producer(tensor)
        while prod is not None and base_op(prod) == "StreamingFIFO":
            prod = model.find_producer(prod.input[0])
        if prod is not None and base_op(prod) == "ConvolutionInputGenerator":
            reader = generator_output(model, prod)
            if reader is not None and reader.name == node.name:
                found.append(prod)
    return found


def node_cycles(model: ModelWrapper, node, cycles_of) -> int:
    """One node's cycles per frame as the pipeline runs it: its own (``cycles_of(node)``), with the frame
    refill where it is a window generator or reads one's windows."""
    if base_op(node) == "ConvolutionInputGenerator":
        return pair_cycles(model, node, None, cycles_of)[0]
    return max([cycles_of(node)] + [pair_cycles(model, swg, node, cycles_of)[1]
                                    for swg in _feeding_generators(model, node)])


def pipeline_cycles(model: ModelWrapper, cycles: dict[str, int]) -> dict[str, int]:
    """``cycles`` (each layer's own model) with every window generator's frame refill paid at its producer's
    beat interval, by the generator and by its consumer (:func:`node_cycles` of every node)."""
    return {n.name: node_cycles(model, n, lambda m: cycles[m.name]) for n in model.graph.node}
