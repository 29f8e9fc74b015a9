"""Auto folding's per-layer search (``flow.folding.fold_for_target`` runs it over the graph): the smallest
parallelism of one layer, or of a window generator with its consumer (and, where the generator's frame
refill binds, its producer), that meets a target number of cycles per frame. Cycles are those the estimate
composes (:func:`composed_cycles`, ``flow.refill``), so a folding met by this search is met by the
estimate.
"""
from __future__ import annotations

import math

from qonnx.core.modelwrapper import ModelWrapper
from qonnx.custom_op.registry import getCustomOp

from ..layers import base_op, fold_limits, is_mvau, layer_cycles_of
from ..layers.swg import swg_cycles, swg_params
from .refill import (generator_input, mvau_reuse, node_cycles, producer_cycles, refilled, stream_cycles,
                     window_refill)


def divisors(n: int) -> list[int]:
    return [d for d in range(1, n + 1) if n % d == 0]


def composed_cycles(model: ModelWrapper, node) -> int:
    """A node's cycles as the estimate has them (:func:`~bidrn_hw.flow.refill.node_cycles`: its own, with a
    window generator's frame refill at its producer's interval)."""
    return node_cycles(model, node, lambda n: layer_cycles_of(model, n))


def fold_node(model: ModelWrapper, node, target: int) -> tuple[int, bool]:
    """Smallest parallelism of a single-attribute node meeting ``target``; (cycles, met)."""
    inst = getCustomOp(node)
    limits = fold_limits(model, node)
    if not limits:
        return composed_cycles(model, node), True
    (attr, limit), = limits.items()
    best = None
    for value in divisors(limit):
        inst.set_nodeattr(attr, value)
        cycles = composed_cycles(model, node)
        if cycles <= target:
            return cycles, True
        best = (cycles, value) if best is None or cycles < best[0] else best
    inst.set_nodeattr(attr, best[1])
    return best[0], False


def _fold_mvau(model: ModelWrapper, node, swg, target: int, cost=None) -> tuple[int, bool]:
    """Smallest SIMD*PE (then larger SIMD) meeting ``target`` for the MVAU and the generator feeding it; a
    parallel-window generator (MVAU SIMD = MW) only where no SIMD up to IFMChannels meets it.

    With ``cost`` (``cost(model, node) -> float``, :func:`~bidrn_hw.flow.memory_styles.logic_share`): of the
    foldings that meet ``target`` (for each SIMD the smallest PE, and the parallel window), the one whose
    MVAU and generator cost least, lanes breaking ties. Lanes alone miss what each PE carries (its
    accumulator, its threshold search or lines, its output register): the integer stem (147 x 32, 8-bit, 127
    thresholds per channel) costs about 4,900 LUTs at SIMD 1 x PE 16 and about 1,450 (and 139 more DSPs) at
    one whole window x PE 1."""
    inst = getCustomOp(node)
    swg_inst = getCustomOp(swg) if swg is not None else None
    if swg_inst is not None:
        swg_inst.set_nodeattr("parallel_window", 0)
    limits = fold_limits(model, node)
    choices = [(simd, 0) for simd in divisors(limits["SIMD"])]
    best_met, best_any = None, None
    # FINN's MVAU get_exp_cycles, with the attributes read once (it is called for every candidate)
    mw, mh, th = inst.get_nodeattr("MW"), inst.get_nodeattr("MH"), inst.get_nodeattr("TH")
    vectors = math.prod(inst.get_nodeattr("numInputVectors"))
    # the generator's frame refill at its producer's interval (flow.refill), as the estimate composes it
    prod_cycles = producer_cycles(model, swg, lambda n: layer_cycles_of(model, n)) if swg is not None else None

    def try_choices(options):
        nonlocal best_met, best_any
        for simd, parallel in options:
            inst.set_nodeattr("SIMD", simd)
            swg_own, refill, beats = 0, 0, 0
            if swg_inst is not None:
                swg_inst.set_nodeattr("parallel_window", parallel)
                swg_inst.set_nodeattr("SIMD", swg_inst.get_nodeattr("IFMChannels") if parallel else simd)
                params = swg_params(swg_inst)
                swg_own = swg_cycles(*params)
                refill, beats = window_refill(swg, prod_cycles, params)
            for pe in divisors(limits["PE"]):
                own = int((mh / pe) * (mw / simd) * vectors * th)
                cycles = max(refilled(swg_own, refill, beats, own, mvau_reuse(mh, mw, simd, pe)))
                key_any = (cycles, simd * pe, -simd)
                if best_any is None or key_any < best_any[0]:
                    best_any = (key_any, simd, pe, parallel, cycles)
                if cycles <= target:
                    key = (simd * pe, -simd)
                    if cost is not None:
                        inst.set_nodeattr("PE", pe)
                        key = (cost(model, node) + (cost(model, swg) if swg_inst is not None else 0.0), *key)
                    if best_met is None or key < best_met[0]:
                        best_met = (key, simd, pe, parallel, cycles)
                    break  # larger PE only costs more for this SIMD

    try_choices(choices)
    k_h, k_w = swg_inst.get_nodeattr("ConvKernelDim") if swg_inst is not None else (1, 1)
    if (best_met is None or cost is not None) and swg_inst is not None and k_h * k_w > 1:
        try_choices([(mw, 1)])
    chosen, met = (best_met, True) if best_met is not None else (best_any, False)
    _, simd, pe, parallel, cycles = chosen
    inst.set_nodeattr("SIMD", simd)
    inst.set_nodeattr("PE", pe)
    if swg_inst is not None:
        swg_inst.set_nodeattr("parallel_window", parallel)
        swg_inst.set_nodeattr("SIMD", swg_inst.get_nodeattr("IFMChannels") if parallel else simd)
    return cycles, met


def _fold_window_pool(model: ModelWrapper, node, swg, target: int, cost=None) -> tuple[int, bool]:
    """Smallest PE meeting ``target`` for a Pool or VVAU and the depthwise generator feeding it (SIMD = PE)."""
    inst, s_inst = getCustomOp(node), getCustomOp(swg)
    best = None
    for pe in divisors(fold_limits(model, node)["PE"]):
        inst.set_nodeattr("PE", pe)
        s_inst.set_nodeattr("SIMD", pe)
        cycles = max(composed_cycles(model, node), composed_cycles(model, swg))
        best = (cycles, pe) if best is None or cycles < best[0] else best
        if cycles <= target:
            best = (cycles, pe)
            break
    inst.set_nodeattr("PE", best[1])
    s_inst.set_nodeattr("SIMD", best[1])
    return best[0], best[0] <= target


def _speedable(model: ModelWrapper, node) -> dict:
    """{attribute: limit} of a one-attribute layer auto folding may make faster for a refill (padding,
    thresholds, a fork: a few LUTs per lane); {} for others (MVAUs, generators, pools, VVAUs)."""
    limits = fold_limits(model, node) if node is not None else {}
    if len(limits) != 1 or is_mvau(node) or base_op(node) in ("ConvolutionInputGenerator", "Pool", "VVAU"):
        return {}
    return limits


def fold_window_pair(model: ModelWrapper, node, swg, target: int, cost=None) -> tuple[int, bool]:
    """Fold a window generator's consumer with it (:func:`_fold_mvau`, :func:`_fold_window_pool`); where the
    generator's frame refill is paid at its producer's interval (``flow.refill``) and that producer is a
    one-attribute layer (:func:`_speedable`), the producer is made faster where that lets the consumer meet
    ``target`` with less parallelism (or at all): the least producer parallelism that gives the least
    consumer parallelism. A padding is made faster only as far as the layer before it keeps up
    (:func:`_sets_stream_rate`; the estimate takes the padding's interval alone), and that layer, where it is
    one-attribute too, is made as fast as the padding for it. ``cost``: see :func:`_fold_mvau` (a Pool's or
    VVAU's search ignores it)."""
    fold = _fold_mvau if is_mvau(node) else _fold_window_pool
    cycles, met = fold(model, node, swg, target, cost)
    prod = generator_input(model, swg) if swg is not None else None
    limits = _speedable(model, prod)
    if not limits or window_refill(swg, layer_cycles_of(model, prod))[0] <= window_refill(swg, 1)[0]:
        return cycles, met  # no refill beyond one beat a cycle, or a producer this does not refold
    (attr, limit), = limits.items()
    p_inst = getCustomOp(prod)
    up = model.find_producer(prod.input[0]) if base_op(prod) in ("FMPadding", "FMPadding_Pixel") else None
    up_limits = _speedable(model, up)
    u_attr, u_inst = (next(iter(up_limits)), getCustomOp(up)) if up_limits else (None, None)
    u_start = u_inst.get_nodeattr(u_attr) if u_inst is not None else None

    def key(cycles, met):  # met first, then the consumer's parallelism; else the fastest
        return (0, math.prod(getCustomOp(node).get_nodeattr(a) for a in fold_limits(model, node))) if met \
            else (1, cycles)

    def set_values(value, u_value):
        p_inst.set_nodeattr(attr, value)
        if u_inst is not None:
            u_inst.set_nodeattr(u_attr, u_value)

    start = p_inst.get_nodeattr(attr)
    # faster values while the producer still sets the stream's rate (else the estimate credits too much),
    # each with the least value of the layer before a padding that keeps up with it
    values = []
    for value in (v for v in divisors(limit) if v > start):
        p_inst.set_nodeattr(attr, value)
        u_value = u_start
        if u_inst is not None:
            p_cycles = layer_cycles_of(model, prod)
            for u_value in (v for v in divisors(up_limits[u_attr]) if v >= u_start):
                u_inst.set_nodeattr(u_attr, u_value)
                if layer_cycles_of(model, up) <= p_cycles:
                    break
        if not _sets_stream_rate(model, swg, prod):
            break
        values.append((value, u_value))
    # a faster producer never needs a wider consumer: the fastest bounds what any can give, and the least
    # value that gives as much is found by halving
    best = (key(cycles, met), (start, u_start))
    if values:
        set_values(*values[-1])
        top = key(*fold(model, node, swg, target, cost))
        if top < best[0]:
            lo, hi = 0, len(values) - 1  # values[hi] gives top
            while lo < hi:
                mid = (lo + hi) // 2
                set_values(*values[mid])
                if key(*fold(model, node, swg, target, cost)) == top:
                    hi = mid
                else:
                    lo = mid + 1
            best = (top, values[hi])
    set_values(*best[1])
    return fold(model, node, swg, target, cost)


def _sets_stream_rate(model: ModelWrapper, swg, prod) -> bool:
    """Whether ``prod`` (the generator's producer) is the slowest of the stream chained through padding
    (``flow.refill.stream_cycles``): where the layer before a padding is slower, the refill waits on it
    and the estimate, which takes the producer's own interval, does not see that (``flow.refill``)."""
    return stream_cycles(model, swg, lambda n: layer_cycles_of(model, n)) == layer_cycles_of(model, prod)
