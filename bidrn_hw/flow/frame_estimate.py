"""Whole-frame estimate of BiDRN's FPGA partitions for one config: export, lower, fold jointly, estimate.

One frame needs the body and the face encoder once and the hand encoder twice (both hands), so the hand
partition is folded for twice the frame rate. The three pipelines share the device: the frame rate starts
at the fastest all three can reach (each fully parallel; FINN's two-pass relaxation) and drops until the
summed estimated resources (FIFOs and converters included) fit the budget; the fastest fitting rate is
found to within 5%. Where block RAM is short and the part has UltraRAM, the MVAU
weights that save the most block RAM per URAM move there (loaded from a weight stream after reset). Then
the memories Yosys would keep in LUTs (weight ROMs, window buffers, FIFOs left at ``ram_style`` "auto") move
into the block RAM the partitions leave free, most LUTs saved per RAMB18 first, and MVAU weights still in
LUTs into the UltraRAM left: LUTs are what limits the rate, and memory blocks left unused save nothing
(``memory_styles.memory_style_moves``, ``lut_first``).

:func:`estimate_config` is what ``benchmarks/compile_time.py`` reports per config and what the demo shows;
its result is JSON-serializable. Lowering is not checked pass by pass here (that is what the tests and
``bidrn-hw compile`` do on real frames): on ``paper``-scale tensors the per-pass execution would dominate.
"""
from __future__ import annotations

import math
import multiprocessing as mp
import os
import queue as queue_mod
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from qonnx.core.modelwrapper import ModelWrapper
from qonnx.custom_op.registry import getCustomOp

from ..devices import device_budget
from ..errors import UsageError
from ..layers import RESOURCE_KEYS
from ..layers.mvau import set_target_family
from ..partition import RUNS_PER_FRAME as PARTS  # encoder runs per frame
from ..partition import export_config
from .estimates import estimate, total_resources
from .fast_qonnx import fast_qonnx
from .fifos import InsertBranchFIFOs
from .folding import InsertDataWidthConverters, auto_fold, balance_report, cycle_bounds
from .fuse_residual import fusion_report
from .lower import lower_to_hw
from .lut_breakdown import lut_breakdown, merge_breakdowns
from .memory_styles import (balances_memories, choose_block_moves, choose_uram_weights, memory_style_moves,
                            uram_candidates)

# Default device and clock per config, and the whole-frame FPS goal (issue 3).
TARGETS = {"edge": ("xczu7ev", 200.0, 200.0), "paper": ("xcu250", 200.0, 1000.0), "tiny": ("ecp5-85k", 50.0, 100.0)}


def _export(config: str, exp: Path) -> bool:
    """Export ``config`` to ``exp`` unless a complete export is already there; True when it exported."""
    if all((exp / p / "model.onnx").is_file() for p in PARTS):
        return False  # an export is built beside its folder and swapped in: an existing one is complete
    export_config(config, exp, frames=1)
    return True


_messages = None  # a worker's queue to the parent (set by the pool's initializer)


def _set_queue(queue) -> None:
    global _messages
    _messages = queue


def _lower_one(name: str, path: str) -> tuple[str, bytes, dict, float]:
    """One partition's lowering in a worker: (name, serialized HW graph, seconds per pass, seconds)."""
    start, times = time.time(), {}

    def log(line):
        pass_name, rest = line.split(": ", 1)
        times[pass_name] = float(rest.split(" s")[0])
        _messages.put(f"lower {name}: after {line}")

    _messages.put(f"lower {name}")
    hw = lower_to_hw(ModelWrapper(path), log=log)
    return name, hw.model.SerializeToString(), times, round(time.time() - start, 2)


def lower_partitions(paths: dict, say, workers: int | None = None) -> tuple[dict, dict, dict]:
    """Lower each exported partition (name -> model.onnx), as many at a time as the machine has cores (at most
    two: the body and the hand encoder take nearly all of the time). Returns ({name: HW ModelWrapper},
    {name: seconds per pass}, {name: seconds}); progress messages reach ``say`` from the parent."""
    workers = workers or max(1, min(2, os.cpu_count() or 1, len(paths)))
    ctx = mp.get_context("fork")  # the workers need this process's imports, not a fresh interpreter
    messages = ctx.Queue()
    lowered, passes, seconds = {}, {}, {}
    # (a worker that dies, e.g. out of memory, fails its job with BrokenProcessPool instead of hanging)
    with ProcessPoolExecutor(workers, mp_context=ctx, initializer=_set_queue, initargs=(messages,)) as pool:
        jobs = [pool.submit(_lower_one, name, str(path)) for name, path in paths.items()]
        while True:
            try:
                say(messages.get(timeout=0.2))
                continue
            except queue_mod.Empty:
                pass
            if all(job.done() for job in jobs):
                break
        while not messages.empty():
            say(messages.get())
        for job in jobs:
            name, data, times, secs = job.result()  # a failed lowering raises its error here
            lowered[name], passes[name], seconds[name] = ModelWrapper(data), times, secs
    lowered = {name: lowered[name] for name in paths}
    return lowered, {name: passes[name] for name in paths}, {name: seconds[name] for name in paths}


def joint_fold(lowered: dict, fclk: float, part: str, progress=None, also_at: float | None = None) -> tuple:
    """Fold every lowered partition for a common frame rate under ``part``'s budget (see the module doc).

    The resources that decide it are those of the whole build: the branch FIFOs and data-width converters the
    folding needs count too. From the fastest rate, the search steps down (:func:`_next_rate`: 1.25x, then
    aimed by the need's slope) until a rate fits, then halves the bracket until the fastest fitting rate is
    known to within 5%. A resource that exceeds the budget even with every partition folded as far as it
    goes (PE = SIMD = 1) cannot be helped by folding: it does not hold the frame rate down (the design does
    not fit at any rate, and the result says so). Returns ({partition: (its estimate document, its
    :func:`~bidrn_hw.flow.folding.balance_report`)} of the chosen folding, auto_fold summaries, frame rate
    folded for, fastest frame rate, {resource: minimum need} for the resources that never fit).
    ``also_at``: a frame rate to fold for as well (e.g. a goal below the fastest that fits); then a sixth item
    is {"resources": its resources with its UltraRAM moves made, "seconds": the time that took}.
    """
    global _LOWERED
    device = device_budget(part)
    zero = dict.fromkeys(RESOURCE_KEYS, 0)
    _LOWERED = lowered
    workers = min(2, os.cpu_count() or 1, len(lowered))
    # Each folding runs a partition per worker (forked: they share the lowered graphs); only summaries,
    # resources, UltraRAM candidates and, for the chosen folding, the estimates come back.
    pool = ProcessPoolExecutor(workers, mp_context=mp.get_context("fork")) if workers > 1 else None

    def run(fn, *args):
        if pool is None:
            return {name: fn(name, *args) for name in lowered}
        jobs = {name: pool.submit(fn, name, *args) for name in lowered}
        return {name: job.result() for name, job in jobs.items()}

    def fold_all(fps, moves=None):
        results = run(_fold_partition, fps, fclk, part, bounds, moves)
        summaries = {name: r[0] for name, r in results.items()}
        total = dict(zero)
        for r in results.values():
            total = {k: total[k] + r[1][k] for k in RESOURCE_KEYS}
        if moves is not None:  # the chosen folding: its estimates, resources with the moves made
            return {name: r[3] for name, r in results.items()}, summaries, total
        # Weights that block RAM cannot hold go to UltraRAM where the part has it (loaded after reset).
        tagged = [(name, c) for name, r in results.items() for c in r[2]]
        chosen = {name: [] for name in lowered}
        for name, (_, _, node_name, delta) in choose_uram_weights(tagged, device, total["BRAM_18K"], total["URAM"]):
            total = {k: total[k] + delta[k] for k in RESOURCE_KEYS}
            chosen[name].append((node_name, "ultra"))
        # Then the memories Yosys would keep in LUTs (weight ROMs, window buffers, FIFOs left to the flow)
        # move to the block RAM the partitions leave free, most LUTs saved per RAMB18 first
        # (memory_styles.memory_style_moves, lut_first).
        taken = {(name, n) for name, moved in chosen.items() for n, _ in moved}
        to_block = [(name, m) for name, r in results.items() for m in r[4]["to_block"] if (name, m[2]) not in taken]
        for name, (_, _, node_name, delta) in choose_block_moves(to_block, device, total["BRAM_18K"]):
            total = {k: total[k] + delta[k] for k in RESOURCE_KEYS}
            chosen[name].append((node_name, "block"))
            taken.add((name, node_name))
        # weights still in LUTs: UltraRAM where the part has it left (streamed in after reset)
        to_uram = [(name, m) for name, r in results.items() for m in r[4]["to_uram"] if (name, m[2]) not in taken]
        for name, (_, _, node_name, delta) in choose_block_moves(to_uram, device, total["URAM"], key="URAM"):
            total = {k: total[k] + delta[k] for k in RESOURCE_KEYS}
            chosen[name].append((node_name, "ultra"))
        return chosen, summaries, total

    try:
        bounds = run(_bounds_of)
        found = _search(fold_all, lowered, bounds, device, fclk, progress)
        if also_at is None:
            return found
        if progress:
            progress(f"fold: {also_at:.1f} frames/s as well")
        t = time.time()
        chosen, _, total = fold_all(also_at)  # (its total counts the UltraRAM moves it chose, as the search's do)
        seconds = round(time.time() - t, 2)
        # where its LUTs go (the same folding with its moves made, estimated layer by layer; not timed)
        reports = fold_all(also_at, moves=chosen)[0]
        breakdown = {name: est["lut_breakdown"] for name, (est, _) in reports.items()}
        return (*found, {"resources": total, "seconds": seconds, "lut_breakdown": breakdown})
    finally:
        if pool is not None:
            pool.shutdown()
        _LOWERED = None


def _search(fold_all, lowered, bounds, device, fclk, progress):
    # The least any folding needs: every partition at its slowest (PE = SIMD = 1).
    _, summaries, least = fold_all(1e-9)
    never = {k: least[k] for k in RESOURCE_KEYS if least[k] > device[k]}
    if never and progress:
        progress(f"fold: {never} needed on {device['name']} even with PE = SIMD = 1 (budget "
                 f"{ {k: device[k] for k in never} }); folding for the other resources")

    def over_budget(total):
        return {k: total[k] for k in RESOURCE_KEYS if total[k] > device[k] and k not in never}

    def need(total):  # the largest need/budget ratio among the resources folding can help
        return max([total[k] / device[k] for k in RESOURCE_KEYS if device[k] and k not in never] or [0.0])

    def slowest_everywhere(summaries):
        return all(s["requested_cycles"] >= s["slowest_possible_cycles"] for s in summaries.values())

    fastest_fps = min(fclk * 1e6 / bounds[n][0] / PARTS[n] for n in lowered)
    fps = fastest_fps
    moves, summaries, total = fold_all(fps)  # moves: the UltraRAM moves of the folding for fps
    over = over_budget(total)
    fails: list[tuple[float, float]] = []  # (rate, need ratio) of rates over the budget, latest last
    while over and not slowest_everywhere(summaries):
        if progress:
            progress(f"fold: {fps:.1f} frames/s needs {over} on {device['name']}; relaxing")
        fails.append((fps, need(total)))
        fps = _next_rate(fails, fits=None)
        moves, summaries, total = fold_all(fps)
        over = over_budget(total)
    if fails and not over:
        fit = fps  # the fastest rate known to fit; the slowest known not to is fails[-1][0]
        while fails[-1][0] / fit > 1.05:
            trial_fps = _next_rate(fails, fits=fit)
            trial = fold_all(trial_fps)
            if over_budget(trial[2]):
                fails.append((trial_fps, need(trial[2])))
            else:
                fit, moves = trial_fps, trial[0]
        if progress:
            progress(f"fold: {fit:.1f} frames/s fits, {fails[-1][0]:.1f} does not")
        fps = fit
    # the chosen folding once more, with its moves made, for its estimates (the search keeps no graphs)
    reports, summaries, total = fold_all(fps, moves=moves)
    # With UltraRAM, block RAM need is not least at PE = SIMD = 1 (narrow deep weights fill URAM poorly): a
    # resource "never fits" only if the chosen folding does not fit it either.
    never = {k: v for k, v in never.items() if total[k] > device[k]}
    return reports, summaries, fps, fastest_fps, never


_LOWERED: dict | None = None  # joint_fold's partitions, for the forked workers


def _bounds_of(name: str) -> tuple[int, int]:
    return cycle_bounds(_LOWERED[name])


def _fold_partition(name: str, fps: float, fclk: float, part: str, bounds: dict, moves: dict | None):
    """Fold one of joint_fold's partitions for ``fps`` frames/s with its FIFOs and converters: (auto_fold
    summary, resources, UltraRAM candidates, None, the moves of
    :func:`~bidrn_hw.flow.memory_styles.memory_style_moves`, lut_first). With ``moves`` ({partition: [(node name,
    ram_style)]}, the chosen folding): those memories are placed so, and the fourth item is (estimate
    document, balance report)."""
    device = device_budget(part)
    zero = dict.fromkeys(RESOURCE_KEYS, 0)
    model, summary = auto_fold(_LOWERED[name], fps * PARTS[name], fclk, part, estimate=lambda m: zero,
                               bounds=bounds[name])
    # (in place: auto_fold returned a copy, and a paper partition's deep copy takes a second)
    model = model.transform(InsertBranchFIFOs(), make_deepcopy=False)
    model = model.transform(InsertDataWidthConverters(), make_deepcopy=False)
    if moves is not None:
        for node_name, style in moves[name]:
            getCustomOp(model.get_node_from_name(node_name)).set_nodeattr("ram_style", style)
        est = estimate(model, device, fclk, folding={"mode": "auto", **summary})
        est["lut_breakdown"] = lut_breakdown(model, device)
        return summary, est["resources"], [], (est, balance_report(model)), None
    candidates = uram_candidates(model, device) if device["URAM"] else []
    if not balances_memories(device):
        return summary, total_resources(model, device), candidates, None, {"to_block": [], "to_uram": []}
    styles = memory_style_moves(model, device, lut_first=True)  # (its total: the graph's resources)
    return summary, styles["total"], candidates, None, styles


def _next_rate(fails: list[tuple[float, float]], fits: float | None) -> float:
    """The next frame rate to try, from the rates found over the budget ((rate, need/budget), the slowest
    last) and the fastest rate known to fit (None: none yet). With a fitting rate: the geometric middle of
    the bracket. Without: the need grows about linearly with the rate, so the line through the last two
    failures is aimed 1% under the point where it crosses the budget, kept between 1.02x and 1.25x below the
    last failure (1.25x below it after the first)."""
    high = fails[-1][0]
    if fits is not None:
        return math.sqrt(fits * high)
    if len(fails) < 2:
        return high / 1.25
    (f0, r0), (f1, r1) = fails[-2], fails[-1]
    slope = (r0 - r1) / (f0 - f1) if f0 != f1 else 0.0
    guess = 0.99 * (f1 - (r1 - 1.0) / slope) if slope > 0 else high / 1.25
    return min(max(guess, high / 1.25), high / 1.02)


def estimate_config(config: str, work_dir: Path, part: str | None = None, fclk_mhz: float | None = None,
                    progress=None) -> dict:
    """Export (or reuse ``work_dir/<config>_export``), lower, jointly fold and estimate ``config``.

    ``part``/``fclk_mhz`` default to the config's target (edge: ZCU104, paper: Alveo U250, tiny: ECP5-85F).
    ``progress(message: str)`` is called at each stage. Returns a JSON-serializable dict: seconds per stage,
    per-pass lowering seconds, whole-frame FPS, resources against the budget, pipeline balance and a
    summary per partition.
    """
    if config not in TARGETS:
        raise UsageError(f"unknown config '{config}'; known: {', '.join(TARGETS)}")
    default_part, default_fclk, goal_fps = TARGETS[config]
    part = part or default_part
    fclk = float(fclk_mhz if fclk_mhz is not None else default_fclk)
    if fclk <= 0:
        raise UsageError(f"fclk_mhz must be positive, not {fclk}")
    device = device_budget(part)
    say = progress or (lambda message: None)
    work_dir = Path(work_dir)
    result = {"config": config, "part": device["name"], "fclk_mhz": fclk, "goal_fps": goal_fps, "seconds": {}}

    t0, cpu0 = time.time(), time.process_time()
    say("export")
    exp = work_dir / f"{config}_export"
    result["exported"] = _export(config, exp)
    result["seconds"]["export"] = round(time.time() - t0, 2)

    t = time.time()
    lowered, passes, seconds = lower_partitions({name: exp / name / "model.onnx" for name in PARTS}, say)
    result["seconds"].update({f"lower_{name}": s for name, s in seconds.items()})
    result["seconds"]["lower"] = round(time.time() - t, 2)
    result["slowest_pass"] = {n: dict(zip(("pass", "seconds"), max(p.items(), key=lambda kv: kv[1])))
                              for n, p in passes.items()}
    result["pass_seconds"] = passes

    # the residual adds left unfused, with the pass's reason (flow/fuse_residual.py)
    result["unfused_adds"] = {name: [e for e in fusion_report(model) if "reason" in e] for name, model in lowered.items()}
    for model in lowered.values():
        set_target_family(model, device["family"])
    t = time.time()
    say("fold")
    with fast_qonnx():
        reports, summaries, fps, fastest_fps, never, at_goal = joint_fold(lowered, fclk, part, progress=say,
                                                                          also_at=goal_fps)
    # (the goal's folding is a figure for the report, not a step of the compile: timed on its own)
    result["seconds"]["fold_at_goal"] = at_goal["seconds"]
    result["seconds"]["fold"] = round(time.time() - t - at_goal["seconds"], 2)

    t = time.time()
    say("estimate")  # (the workers estimated the chosen folding)
    parts_out, frame_fps, total = {}, None, dict.fromkeys(RESOURCE_KEYS, 0)
    for name, (est, balance_detail) in reports.items():
        total = {k: total[k] + est["resources"][k] for k in RESOURCE_KEYS}
        per_frame = est["fps"] / PARTS[name]
        frame_fps = per_frame if frame_fps is None else min(frame_fps, per_frame)
        parts_out[name] = {"runs_per_frame": PARTS[name], "fps": est["fps"],
                           "cycles_per_frame": est["cycles_per_frame"], "balance": est["balance"],
                           "balance_detail": balance_detail,
                           "latency_cycles": est["latency_cycles"], "bottleneck": est["bottleneck"],
                           "layers": len(est["layers"]), "resources": est["resources"],
                           "lut_breakdown": est["lut_breakdown"]}
    result["seconds"]["estimate"] = round(time.time() - t, 2)
    result["seconds"]["total"] = round(time.time() - t0 - at_goal["seconds"], 2)
    result["seconds"]["compile_without_export"] = round(result["seconds"]["total"] - result["seconds"]["export"], 2)
    # CPU time of this process (the export runs in it too): on a shared machine wall time also counts the
    # time other processes held the cores.
    result["seconds"]["cpu_total"] = round(time.process_time() - cpu0, 2)
    result.update({"frame_fps": round(frame_fps, 2), "folded_for_fps": round(fps, 2),
                   "fastest_frame_fps": round(fastest_fps, 2),
                   # the goal is a frame rate of a design that fits the device (weights on chip)
                   "goal_met": frame_fps >= goal_fps and all(total[k] <= device[k] for k in RESOURCE_KEYS),
                   "resources": total, "budget": {k: device[k] for k in RESOURCE_KEYS},
                   "utilization": {k: round(total[k] / device[k], 3) if device[k] else None for k in RESOURCE_KEYS},
                   "fits": all(total[k] <= device[k] for k in RESOURCE_KEYS),
                   "never_fits": {k: {"least_need": v, "budget": device[k]} for k, v in never.items()},
                   # what the goal's frame rate alone needs (the search above takes the fastest that fits)
                   "at_goal_fps": {"resources": at_goal["resources"],
                                   "fits": all(at_goal["resources"][k] <= device[k] for k in RESOURCE_KEYS),
                                   "utilization": {k: round(at_goal["resources"][k] / device[k], 3) if device[k]
                                                   else None for k in RESOURCE_KEYS},
                                   "lut_breakdown": merge_breakdowns(list(at_goal["lut_breakdown"].values())),
                                   "lut_breakdown_by_partition": at_goal["lut_breakdown"]},
                   "lut_breakdown": merge_breakdowns([p["lut_breakdown"] for p in parts_out.values()]),
                   "balance": max(p["balance"] for p in parts_out.values()),
                   "balance_best_possible": max(p["balance_detail"]["best_possible"] for p in parts_out.values()),
                   "balance_parallel": max(p["balance_detail"]["parallel"] for p in parts_out.values()),
                   "partitions": parts_out})
    return result
