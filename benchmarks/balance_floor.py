"""How balanced a config's partitions can be folded at all; prints one JSON object.

    .venv/bin/python benchmarks/balance_floor.py [--config edge] [--part xczu7ev] [--work /tmp/balance] [--fps F]

Exports the config (or reuses ``WORK/<config>_export``), lowers each encoder partition and folds it for its own
fastest rate with no resource budget (``auto_fold`` with a zero estimate: resources never relax it), FIFOs
and data-width converters inserted as a build has them. Per partition: the cycles per frame of that fastest
folding and its ``balance_report``: ``balance`` (slowest layer's cycles over the mean), ``best_possible``
(the same if every layer were folded to exactly the bottleneck, or left at PE = SIMD = 1 where it is faster
even then: the floor no folding can go below at this rate) and ``parallel``. The fastest rate gives the
lowest floor (a slower bottleneck leaves more layers below it at PE = 1). The data-width converters exist
because of this folding's widths, so ``best_possible_without_converters`` leaves them out: the floor of any
folding of the graph (with ``--fps``: of any folding for that rate). ``bound_for_any_folding``, the worst
partition's, bounds the config's balance (issue 3's goal: 1.25). ``below_half`` counts, per op type, the
layers at under half the bottleneck's cycles: what keeps the floor up.

``network_layers``: the same ratio over the network's layers instead of FINN's HW layers, each layer's
cycles the slowest of its HW layers (a convolution is its padding, window generator, MVAU and the converters
between them; a residual add is the add, its requantization, the fork and the sign thresholds behind it),
and ``adds_in_convs``: the same if each residual add were part of the convolution that feeds it (a fused
layer this flow does not have). ``--fps F`` folds every partition for F frames/s (the hand encoder for 2F:
it runs twice per frame) instead of its fastest rate, e.g. the rate ``compile_time.py`` chose.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
from collections import Counter
from pathlib import Path


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", default="edge")
    ap.add_argument("--part", default=None, help="the config's target part by default (edge: xczu7ev)")
    ap.add_argument("--work", default=None, help="work directory (default: a temporary one)")
    ap.add_argument("--fps", type=float, default=None,
                    help="fold for this frame rate (default: each partition's fastest)")
    args = ap.parse_args(argv)

    from qonnx.core.modelwrapper import ModelWrapper

    from bidrn_hw.flow.fast_qonnx import copy_model, fast_qonnx
    from bidrn_hw.flow.fifos import InsertBranchFIFOs
    from bidrn_hw.devices import device_budget
    from bidrn_hw.flow.folding import InsertDataWidthConverters, auto_fold, balance_report, fold_slowest
    from bidrn_hw.layers import RESOURCE_KEYS, base_op, layer_cycles_of
    from bidrn_hw.flow.frame_estimate import PARTS, TARGETS, _export
    from bidrn_hw.flow.lower import lower_to_hw
    from bidrn_hw.layers.mvau import set_target_family

    if args.config not in TARGETS:
        print(json.dumps({"error": f"unknown config {args.config}; known: {', '.join(TARGETS)}"}))
        return 2
    part, fclk, _ = TARGETS[args.config]
    part = args.part or part
    work = Path(args.work or tempfile.mkdtemp(prefix="balance_"))
    exp = work / f"{args.config}_export"
    _export(args.config, exp)
    zero = dict.fromkeys(RESOURCE_KEYS, 0)
    out = {"config": args.config, "part": part, "fclk_mhz": fclk, "fps": args.fps or "each partition's fastest",
           "partitions": {}}
    for name in PARTS:
        hw = lower_to_hw(ModelWrapper(str(exp / name / "model.onnx")))
        set_target_family(hw, device_budget(part)["family"])
        with fast_qonnx():
            target = args.fps * PARTS[name] if args.fps else 1e12
            folded, info = auto_fold(hw, target, fclk, part, estimate=lambda m: zero)
            folded = folded.transform(InsertBranchFIFOs()).transform(InsertDataWidthConverters())
            report = balance_report(folded)
        cycles = {n.name: layer_cycles_of(folded, n) for n in folded.graph.node}
        bottleneck = max(cycles.values())
        below = Counter(base_op(folded.get_node_from_name(n)) for n, c in cycles.items() if 0 < c < bottleneck / 2)
        # The converters exist because of this folding's widths: the floor without them (a folding whose
        # neighbours' widths all match) is the bound for any folding of the graph.
        probe = copy_model(folded)
        fold_slowest(probe)
        floor = [min(layer_cycles_of(probe, n), bottleneck) for n in probe.graph.node
                 if cycles[n.name] > 0 and base_op(n) != "StreamingDataWidthConverter"]
        out["partitions"][name] = {"cycles_per_frame": bottleneck,
                                   "runs_per_s": round(fclk * 1e6 / bottleneck, 1), **report,
                                   "best_possible_without_converters": round(bottleneck / (sum(floor) / len(floor)), 3),
                                   "network_layers": _grouped_balance(folded, cycles, fuse_adds=False),
                                   "adds_in_convs": _grouped_balance(folded, cycles, fuse_adds=True),
                                   "below_half": dict(sorted(below.items()))}
    # the config's balance is its worst partition's
    out["bound_for_any_folding"] = max(p["best_possible_without_converters"] for p in out["partitions"].values())
    print(json.dumps(out, indent=2))
    return 0


PASS = ("StreamingFIFO", "StreamingDataWidthConverter")


def _grouped_balance(model, cycles: dict, fuse_adds: bool) -> dict:
    """Slowest over mean cycles of the network's layers (see the module doc), each the slowest of its HW
    layers; with ``fuse_adds`` each residual add joins the convolution that feeds it."""
    from bidrn_hw.layers import base_op

    parent = {n.name: n.name for n in model.graph.node}

    def find(x):
        while parent[x] != x:
            x = parent[x]
        return x

    def union(a, b):
        parent[find(a)] = find(b)

    def upstream(tensor):  # the producer of a tensor, through FIFOs and converters
        q = model.find_producer(tensor)
        while q is not None and base_op(q) in PASS:
            q = model.find_producer(q.input[0])
        return q

    for n in model.graph.node:
        op, p = base_op(n), (model.find_producer(n.input[0]) if n.input else None)
        if p is None:
            continue
        if op in PASS or (op in ("Thresholding", "DuplicateStreams")
                          and base_op(p) in ("ElementwiseAdd", "Thresholding", "DuplicateStreams") + PASS):
            union(n.name, p.name)
        if op in ("ConvolutionInputGenerator", "MVAU"):
            q = upstream(n.input[0])
            if q is not None and base_op(q) in ("FMPadding", "ConvolutionInputGenerator") \
                    and len(model.find_consumers(q.output[0])) == 1:
                union(q.name, n.name)  # (the converters in between are in q's layer already: rule above)
        if fuse_adds and op == "ElementwiseAdd":
            for tensor in n.input:
                q = upstream(tensor)
                if q is not None and base_op(q) == "MVAU":
                    union(n.name, q.name)
    groups: dict = {}
    for name, c in cycles.items():
        if c > 0:
            groups.setdefault(find(name), []).append(c)
    layer_cycles = [max(cs) for cs in groups.values()]
    return {"balance": round(max(layer_cycles) / (sum(layer_cycles) / len(layer_cycles)), 3),
            "layers": len(layer_cycles)}


if __name__ == "__main__":
    sys.exit(main())
