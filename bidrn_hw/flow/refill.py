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
estimate takes the producer's own cycles: measured cycles per frame (zoo, compiled engine, 3 frames, no
stalls) resnet 4,881 against 4,831 (+1.0%), depthwise 5,024 against 4,876 (+3.0%). It does not chain
through the producer: with the depthwise block's second padding made SIMD 4 by hand (one beat per cycle)
the measured 4,938 is +5.4% over the 4,686 estimated, because the MVAU feeding the padding (9 cycles a
pixel) then holds the refill. Chaining through padding to that MVAU (:func:`stream_cycles`) gives an upper
bound instead (-3.2%, -1.2%, -2.9% on those three builds) but is too pessimistic to fold by: ResNet folded
by it for 20,000 frames/s took 130 DSPs instead of 90 and ran at the same 4,881 cycles. So auto folding
uses :func:`stream_cycles` only to keep out of that gap: it speeds a padding up only where the padding, not
the layer before it, sets the stream's rate (``flow.layer_folding``).
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


# layers a stream's rate passes through (padding forwards its input; its output cannot run ahead of it for long)
_RATE_PASSING = _PASS_THROUGH + ("FMPadding", "FMPadding_Pixel")


def stream_cycles(model: ModelWrapper, swg, cycles_of) -> int | None:
    """Cycles per frame of the stream a window generator reads, chained through padding: the largest
    ``cycles_of`` of its producer (:func:`generator_input`) and, where that is a padding, of the layer that
    feeds it (None for the graph input). An upper bound of the rate the refill waits on (module doc)."""
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


def mvau_reuse(mh: int, mw: int, simd: int, pe: int) -> int:
    """An MVAU's cycles on an input vector it has already read: its neuron folds after the first."""
    return (mh // pe - 1) * (mw // simd)


def reuse_cycles(node) -> int:
    """Cycles a consumer spends on a window it has already read (:func:`mvau_reuse`; none for others)."""
    if not is_mvau(node):  # MVAU or the fused residual MVAU
        return 0
    inst = getCustomOp(node)
    return mvau_reuse(inst.get_nodeattr("MH"), inst.get_nodeattr("MW"), inst.get_nodeattr("SIMD"),
                      inst.get_nodeattr("PE"))


def producer_cycles(model: ModelWrapper, swg, cycles_of) -> int | None:
    """``cycles_of`` the generator's producer (:func:`generator_input`); None for the graph input."""
    prod = generator_input(model, swg)
    return None if prod is None else cycles_of(prod)


def window_refill(swg, producer_cycles: int | None, params: tuple[str, dict] | None = None) -> tuple[int, int]:
    """(cycles the next frame's first window waits at the producer's beat interval (``producer_cycles``: its
    cycles per frame, :func:`producer_cycles`), the beats of that wait
    :func:`..layers.swg.cycles_swg` already counts at one a cycle) of a window generator as folded now;
    (0, 0) for a parallel-window generator, one fed by the graph input (``producer_cycles`` None) or one
    with no frame refill. ``params``: ``swg_params`` of ``swg`` when the caller has them."""
    module, p = params or swg_params(getCustomOp(swg))
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
    refill, beats = window_refill(swg, producer_cycles(model, swg, cycles_of))
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
