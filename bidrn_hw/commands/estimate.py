"""Latency, throughput and resources of a compiled design (a build directory of `bidrn-hw compile`): reads
DIR/estimates.json; with --fclk-mhz, rescales FPS and latency to another clock; with --part, checks the
resources against another device's budget. A multi-partition build: FPS in network frames (every partition's
runs per frame), resources summed, each partition's figures under ``partitions``."""
from __future__ import annotations

from ..errors import UsageError


def add_arguments(parser):
    parser.add_argument("dir", help="build directory of `bidrn-hw compile`")
    parser.add_argument("--fclk-mhz", type=float, default=None, help="clock for FPS/latency (default: the compile's)")
    parser.add_argument("--part", default=None, help="device whose budget the resources are checked against")


def run(args) -> dict:
    # lazy: qonnx and onnx (estimates, devices), kept off the CLI's startup
    from ..devices import device_budget
    from ..flow.estimates import RESOURCE_KEYS, load_estimates

    est = load_estimates(args.dir)
    fclk = est["fclk_mhz"] if args.fclk_mhz is None else float(args.fclk_mhz)
    if not fclk > 0 or fclk == float("inf"):
        raise UsageError(f"--fclk-mhz must be positive, not {fclk}")
    budget, part = est["budget"], est["part"]
    if args.part:
        dev = device_budget(args.part)
        budget, part = {k: dev[k] for k in RESOURCE_KEYS}, dev["name"]
    cycles = est["cycles_per_frame"]
    res = est["resources"]
    out = {"dir": str(args.dir), "part": part, "fclk_mhz": fclk, "cycles_per_frame": cycles,
           "fps": round(fclk * 1e6 / cycles, 3) if cycles else None, "latency_cycles": est["latency_cycles"],
           "latency_ms": round(est["latency_cycles"] / (fclk * 1e3), 4), "resources": res, "budget": budget,
           "utilization": {k: round(res[k] / budget[k], 4) if budget[k] else None for k in RESOURCE_KEYS},
           "fits": all(res[k] <= budget[k] for k in RESOURCE_KEYS), "balance": est["balance"],
           "bottleneck": est["bottleneck"], "folding": est.get("folding", {}),
           "fifos": [{k: f[k] for k in ("name", "depth", "to", "input")} for f in est.get("fifos", [])]}
    if est.get("partitions"):  # a multi-partition build: each partition's runs per frame, pace and resources
        out["partitions"] = {name: {**p, "runs_per_s": round(fclk * 1e6 / p["cycles_per_run"], 3)}
                             for name, p in est["partitions"].items()}
    out["layers"] = [{k: ly.get(k) for k in ("name", "node", "op_type", "PE", "SIMD", "cycles", *RESOURCE_KEYS)}
                     for ly in est["layers"]]
    return out
