"""How compact the threshold tables of a config's partitions are; prints one JSON object.

    .venv/bin/python benchmarks/threshold_tables.py [--config edge] [--work /tmp/thr_tables]

Exports the config, lowers each encoder partition (``bidrn-hw compile --no-rtl --no-check``, default pixel
folding: the tables do not depend on the folding) and reads every MVAU's and Thresholding's table as the RTL
generator stores it (``layers.thresholds.threshold_table``). Per layer kind (integer MVAU, XNOR MVAU,
Thresholding): channels, threshold steps per channel in the model, steps reachable (the searched window),
shared rows, channels with a per-channel base, and the bits stored against the full rows. ``slopes`` counts the
channels whose window rises in steps of d or d + 1 (one slope: an affine function's thresholds) or has two such
runs (two slopes: BN followed by RPReLU): the necessary condition for computing the thresholds instead of
storing them. ``computed_layers`` and ``bits_generated`` say what the generator does now: layers whose
thresholds it computes from lines (``layers.thresholds.node_threshold_lines``: one word per channel,
exact), and the bits of all the layers' memories as generated (line words, or the stored table).
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import numpy as np


def _slopes(row: np.ndarray) -> int:
    """1 or 2 where the sorted ``row`` rises in steps of d or d + 1 (in one or two runs), else 0."""
    if len(row) < 3:
        return 1
    d = np.diff(row)
    if d.max() - d.min() <= 1:
        return 1
    for s in range(1, len(d)):
        a, b = d[:s], d[s:]
        if a.max() - a.min() <= 1 and b.max() - b.min() <= 1:
            return 2
    return 0


def tables(hw_onnx: Path) -> dict:
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.custom_op.registry import getCustomOp

    from bidrn_hw.layers import base_op
    from bidrn_hw.layers.threshold_lines import word_bits
    from bidrn_hw.layers.thresholds import node_threshold_lines, node_threshold_table, threshold_range

    model = ModelWrapper(str(hw_onnx))
    out: dict = {}
    for node in model.graph.node:
        op = base_op(node)
        if op not in ("MVAU", "Thresholding"):
            continue
        inst = getCustomOp(node)
        if op == "MVAU" and inst.get_nodeattr("noActivation"):
            continue
        kind = "thresholding" if op == "Thresholding" else ("xnor_mvau" if inst.get_nodeattr("binaryXnorMode")
                                                             else "int_mvau")
        channels, _, hi, _ = threshold_range(inst, node)
        full_steps = int(model.get_initializer(node.input[-1]).shape[1])
        table = node_threshold_table(model, node, inst)
        reach = (table.rows <= hi).sum(axis=1)
        k = out.setdefault(kind, {"layers": 0, "channels": 0, "steps": set(), "reachable_min": None,
                                  "reachable_max": 0, "shared_layers": 0, "based_layers": 0,
                                  "bits_full": 0, "bits_stored": 0, "one_slope": 0, "two_slopes": 0,
                                  "rows": 0, "computed_layers": 0, "computed_two_lines": 0, "bits_generated": 0})
        k["layers"] += 1
        k["channels"] += channels
        k["steps"].add(full_steps)
        k["reachable_min"] = int(reach.min()) if k["reachable_min"] is None else min(k["reachable_min"], int(reach.min()))
        k["reachable_max"] = max(k["reachable_max"], int(reach.max()))
        k["shared_layers"] += int(table.shared)
        k["based_layers"] += int(table.base_bits > 0)
        # the search stores 2^S - 1 words per row (S = log2(steps + 1), rounded up), each bits + 1 wide
        words = lambda n: (1 << int(n).bit_length()) - 1  # noqa: E731
        k["bits_full"] += channels * words(full_steps) * (table.bits + 1)
        stored = table.rows.shape[0] * words(table.steps) * (table.bits + 1) + channels * table.base_bits
        k["bits_stored"] += stored
        lines = node_threshold_lines(model, node, inst)
        k["computed_layers"] += int(lines is not None)
        k["computed_two_lines"] += int(lines is not None and lines.lines == 2)
        k["bits_generated"] += channels * word_bits(lines) if lines is not None else stored
        for r in range(table.rows.shape[0]):
            s = _slopes(table.rows[r][table.rows[r] <= hi])
            k["rows"] += 1
            k["one_slope"] += int(s == 1)
            k["two_slopes"] += int(s == 2)
    for k in out.values():
        k["steps"] = sorted(k["steps"])
    return out


def main(argv=None) -> dict:
    from bidrn_hw.cli import main as cli

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", default="edge")
    ap.add_argument("--work", type=Path, default=None)
    args = ap.parse_args(argv)
    work = args.work or Path(tempfile.mkdtemp(prefix="thr_tables_"))
    exp = work / "export"
    if cli(["export", "--config", args.config, "--out", str(exp), "--frames", "1", "--json"]) != 0:
        sys.exit("export failed")
    result = {"config": args.config, "partitions": {}}
    for part in sorted(p.name for p in exp.iterdir() if (p / "model.onnx").is_file()):
        out = work / part
        if cli(["compile", str(exp / part / "model.onnx"), "--out", str(out), "--no-rtl", "--no-check",
                "--json"]) != 0:
            sys.exit(f"compile of {part} failed")
        result["partitions"][part] = tables(out / "hw.onnx")
    print(json.dumps(result, indent=1))
    return result


if __name__ == "__main__":
    main()
