"""The estimates of a multi-partition build: its partitions' ``estimates.json`` combined into one.

The partitions run side by side, each on its own stream pair, so their resources add up. One network frame
needs every partition ``runs_per_frame`` times (BiDRN: the hand encoder twice, :data:`bidrn_hw.partition.
RUNS_PER_FRAME`): its cycles are the largest of a partition's cycles per run times its runs, the frame rate
follows from that, and the latency is the longest partition's latency plus its further runs. Layers and FIFOs
keep their rows, named ``<partition>_<name>`` (the layer names of the stitched ``accel.json``), with their
``partition``; ``partitions`` keeps each partition's own figures. The result has the format of a single
build's ``estimates.json`` (``bidrn-hw estimate`` and ``synth`` read it the same way).
"""
from __future__ import annotations

import json
from pathlib import Path

from ..layers import RESOURCE_KEYS
from .estimates import ESTIMATES_FORMAT


def _prefixed(rows: list[dict], name: str, keys=("name",)) -> list[dict]:
    return [{**r, **{k: f"{name}_{r[k]}" for k in keys if isinstance(r.get(k), str)}, "partition": name}
            for r in rows]


def combine_estimates(parts: list[dict]) -> dict:
    """``parts``: [{"name", "runs_per_frame", "estimates": the partition's estimates.json}] in stream order."""
    first = parts[0]["estimates"]
    fclk = first["fclk_mhz"]
    per_frame = {p["name"]: p["estimates"]["cycles_per_frame"] * p["runs_per_frame"] for p in parts}
    latency = {p["name"]: p["estimates"]["latency_cycles"] + (p["runs_per_frame"] - 1) * p["estimates"]["cycles_per_frame"]
               for p in parts}
    rate_part = max(per_frame, key=per_frame.get)
    slow_part = max(latency, key=latency.get)
    by_name = {p["name"]: p["estimates"] for p in parts}
    cycles = per_frame[rate_part]
    resources = {k: sum(p["estimates"]["resources"][k] for p in parts) for k in RESOURCE_KEYS}
    budget = first["budget"]
    layers, fifos = [], []
    for p in parts:
        layers += _prefixed(p["estimates"]["layers"], p["name"], ("name", "node"))
        fifos += _prefixed(p["estimates"].get("fifos", []), p["name"], ("name", "to"))
    partitions = {}
    for p in parts:
        e = p["estimates"]
        partitions[p["name"]] = {"runs_per_frame": p["runs_per_frame"], "cycles_per_run": e["cycles_per_frame"],
                                 "cycles_per_frame": per_frame[p["name"]], "runs_per_s": e["fps"],
                                 "latency_cycles": latency[p["name"]], "bottleneck": e["bottleneck"],
                                 "balance": e["balance"], "resources": e["resources"], "fits": e["fits"]}
    return {"format": ESTIMATES_FORMAT, "part": first["part"], "fpga_part": first["fpga_part"], "fclk_mhz": fclk,
            "cycles_per_frame": cycles, "fps": round(fclk * 1e6 / cycles, 3) if cycles else None,
            "latency_cycles": latency[slow_part], "latency_ms": round(latency[slow_part] / (fclk * 1e3), 4),
            "critical_path": [f"{slow_part}_{n}" for n in by_name[slow_part].get("critical_path", [])],
            "bottleneck": f"{rate_part}_{by_name[rate_part]['bottleneck']}",
            "balance": max(p["estimates"]["balance"] for p in parts), "resources": resources, "budget": budget,
            "utilization": {k: round(resources[k] / budget[k], 4) if budget[k] else None for k in RESOURCE_KEYS},
            "fits": all(resources[k] <= budget[k] for k in RESOURCE_KEYS), "fifos": fifos,
            "folding": {"mode": "partitions", "partitions": {p["name"]: p["estimates"].get("folding", {})
                                                             for p in parts}},
            "partitions": partitions, "layers": layers}


def report_markdown(est: dict) -> str:
    """report.md of a multi-partition build: the partitions' rates and resources and the total against the part
    (each partition's own report.md has its layers)."""
    keys = RESOURCE_KEYS
    lines = [f"# Estimates, {len(est['partitions'])} partitions ({est['part']}, {est['fclk_mhz']} MHz)", "",
             f"- throughput: **{est['fps']} network frames/s** ({est['cycles_per_frame']:,} cycles/frame, "
             f"bottleneck {est['bottleneck']})",
             f"- latency (longest partition, its runs one after another): {est['latency_cycles']:,} cycles = "
             f"{est['latency_ms']} ms",
             "- resources: " + ", ".join(f"{k} {est['resources'][k]:,} / {est['budget'][k]:,}" for k in keys),
             f"- fits: {'yes' if est['fits'] else 'NO'}", "",
             "| partition | runs/frame | cycles/run | cycles/frame | runs/s | bottleneck | " + " | ".join(keys) + " |",
             "| --- " * (6 + len(keys)) + "|"]
    for name, p in est["partitions"].items():
        lines.append(f"| {name} | {p['runs_per_frame']} | {p['cycles_per_run']:,} | {p['cycles_per_frame']:,} | "
                     f"{p['runs_per_s']} | {p['bottleneck']} | " + " | ".join(f"{p['resources'][k]:,}" for k in keys)
                     + " |")
    lines += ["", "Each partition's layers: `<partition>/report.md`.", ""]
    return "\n".join(lines)


def write_report(est: dict, out_dir: Path) -> None:
    out_dir = Path(out_dir)
    (out_dir / "estimates.json").write_text(json.dumps(est, indent=2))
    (out_dir / "report.md").write_text(report_markdown(est))
