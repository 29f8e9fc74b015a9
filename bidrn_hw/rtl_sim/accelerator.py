"""Simulate a stitched accelerator (a build directory with ``accel.json`` and ``rtl/filelist.f``).

Frames are integer tensors in the stream's own layout (``accel.json`` ``shape``, NHWC), packed as
docs/architecture.md ("Accelerator interface") says; all frames of a run go through one simulation back to
back, so the measured steady-state cycles per frame include the pipeline's overlap between frames.
"""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from .. import builddir
from ..errors import InputFileError, UsageError
from . import compiled, streams


def load_design(build_dir: Path | str) -> dict:
    """accel.json of ``build_dir``, checked by the one build-directory reader (:func:`bidrn_hw.builddir.load_design`:
    format, every listed file present and unchanged, names, filelist)."""
    return builddir.load_design(build_dir).accel


def weight_words(build_dir: Path | str, accel: dict) -> np.ndarray:
    """The weight stream of a design with loaded (UltraRAM) weights: ``accel.json`` "weights" names the file
    of little-endian 32-bit words, in the order the loader chain takes them."""
    spec = accel["weights"]
    path = Path(build_dir) / spec["file"]
    if not path.is_file():
        raise InputFileError(f"{path} not found: the design loads its weights from it (recompile the design)")
    words = np.fromfile(path, dtype="<u4")
    if words.size != spec["words"]:
        raise InputFileError(f"{path} holds {words.size} words, accel.json says {spec['words']}: recompile the design")
    return words


def sources(build_dir: Path | str) -> list[Path]:
    """Sources ready for the simulator: copies with the memory files resolved where the build now lives."""
    return builddir.simulation_sources(build_dir)


def check_frames(accel: dict, frames: list[np.ndarray]) -> None:
    """Each input's frames: shape (N, *shape), integers in the stream's datatype range."""
    if len(frames) != len(accel["inputs"]):
        raise UsageError(f"the design has {len(accel['inputs'])} input streams, got {len(frames)} input arrays")
    n = None
    for s, x in zip(accel["inputs"], frames):
        if tuple(x.shape[1:]) != tuple(s["shape"][1:]) or x.ndim != len(s["shape"]):
            raise UsageError(f"input {s['name']}: expected frames of shape (N, {', '.join(map(str, s['shape'][1:]))}) "
                             f"({s['datatype']}, NHWC), got {tuple(x.shape)}")
        if not np.issubdtype(x.dtype, np.integer) and not np.array_equal(x, np.round(x)):
            raise UsageError(f"input {s['name']}: values must be integers ({s['datatype']}), got dtype {x.dtype}")
        lo = -(1 << (s["elem_bits"] - 1)) if s["elem_signed"] else 0
        hi = (1 << (s["elem_bits"] - (1 if s["elem_signed"] else 0))) - 1
        if s["datatype"] == "BIPOLAR":
            lo, hi = -1, 1
        if x.size and (x.min() < lo or x.max() > hi):
            raise UsageError(f"input {s['name']}: values outside {s['datatype']} range [{lo}, {hi}]: "
                             f"[{x.min()}, {x.max()}]")
        if n is not None and x.shape[0] != n:
            raise UsageError("all inputs need the same number of frames")
        n = x.shape[0]


def _encode(values: np.ndarray, stream: dict) -> np.ndarray:
    """FINN streams BIPOLAR -1/+1 as the bits 0/1."""
    v = np.asarray(values).astype(np.int64)
    return (v + 1) // 2 if stream["datatype"] == "BIPOLAR" else v


def _decode(values: np.ndarray, stream: dict) -> np.ndarray:
    return 2 * values - 1 if stream["datatype"] == "BIPOLAR" else values


ENGINES = ("compiled", "cocotb")


def _watchdog(accel: dict, loading: int, watchdog_cycles: int | None) -> int:
    est = accel.get("estimated_cycles_per_frame") or 0
    return watchdog_cycles or max(20000, 4 * int(est)) + 4 * loading


def simulate(build_dir: Path | str, frames: list[np.ndarray], stall: float = 0.0, seed: int = 0,
             run_dir: Path | str | None = None, watchdog_cycles: int | None = None, engine: str = "compiled",
             jobs: int = 1, netlist_sources: list[Path] | None = None) -> dict:
    """Run ``frames`` (one array (N, *shape) per input stream) through the RTL; returns the output frames
    (one array per output stream, same layout) and measured cycles.

    ``engine``: "compiled" (the C++ stream driver of :mod:`.compiled`, no VPI) or "cocotb" (:mod:`.tb_stream`).
    ``jobs`` > 1 (compiled engine) splits the frames into that many batches of consecutive frames, each run by
    its own simulator process from reset; ``frame_done_cycles`` and ``cycles`` are then per batch (lists), and
    ``cycles_per_frame`` the steady state over all batches (the sum of each batch's span between its first and
    last frame over the sum of its frame intervals).
    ``netlist_sources`` (compiled engine): simulate these instead of the build's RTL, e.g. a synthesized
    netlist of the same top and its cell models (:mod:`bidrn_hw.fpga.netlist`)."""
    if engine not in ENGINES:
        raise UsageError(f"unknown simulation engine {engine!r} (one of {', '.join(ENGINES)})")
    build = builddir.load_design(build_dir)
    accel = build.accel
    check_frames(accel, frames)
    if engine == "cocotb":
        if netlist_sources is not None:
            raise UsageError("netlist simulation needs the compiled engine")
        if jobs != 1:
            raise UsageError("--jobs needs the compiled engine")
        return _simulate_cocotb(build_dir, accel, frames, stall, seed, run_dir, watchdog_cycles)

    n = frames[0].shape[0]
    if jobs < 1:
        raise UsageError(f"--jobs must be >= 1, got {jobs}")
    jobs = min(jobs, n)
    weights = weight_words(build_dir, accel) if accel.get("weights") else None
    exe = compiled.build(netlist_sources or sources(build_dir), accel)
    words = [compiled.pack_words(_encode(x, s), s["elem_bits"], s["elems_per_beat"], s["tdata_bits"])
             .reshape(n, -1, compiled.words_per_beat(s["tdata_bits"]))
             for s, x in zip(accel["inputs"], frames)]
    bounds = np.linspace(0, n, jobs + 1).round().astype(int)
    batches = [(int(b - a), [w[a:b].reshape(-1, w.shape[2]) for w in words]) for a, b in zip(bounds, bounds[1:])]
    watchdog = _watchdog(accel, 0 if weights is None else weights.size, watchdog_cycles)
    t0 = time.perf_counter()
    results = compiled.simulate_jobs(exe, accel, batches, stall=stall, seed=seed, watchdog=watchdog,
                                     weights=weights, run_dir=run_dir)
    sim_s = time.perf_counter() - t0
    outputs = []
    for s in accel["outputs"]:
        flat = np.concatenate([compiled.unpack_words(r["outputs"][s["name"]], s["elem_bits"], s["elems_per_beat"],
                                                     s["elem_signed"]) for r in results])
        outputs.append(_decode(flat, s).reshape(n, *s["shape"][1:]))
    first = accel["outputs"][0]["name"]
    done = [r["frame_done_cycles"][first] for r in results]
    by_stream = {s["name"]: _steady_state([r["frame_done_cycles"][s["name"]] for r in results])
                 for s in accel["outputs"]}
    common = {"outputs": outputs, "cycles_per_frame": by_stream[first], "cycles_per_frame_by_stream": by_stream,
              "engine": engine, "simulation_s": sim_s}
    if jobs == 1:
        return {**common, "cycles": results[0]["cycles"], "frame_done_cycles": done[0]}
    return {**common, "cycles": [r["cycles"] for r in results], "frame_done_cycles": done, "jobs": jobs}


def _steady_state(done: list[list[int]]) -> float | None:
    """Cycles per frame of one output stream: each batch's span between its first and last frame over the
    frame intervals in it, summed over the batches."""
    spans = [(d[-1] - d[0], len(d) - 1) for d in done if len(d) >= 2]
    return sum(s for s, _ in spans) / sum(k for _, k in spans) if spans else None


def _simulate_cocotb(build_dir, accel, frames, stall, seed, run_dir, watchdog_cycles) -> dict:
    n = frames[0].shape[0]
    ins = [streams.Stream(s["name"], s["tdata_bits"], streams.pack(_encode(x, s), s["elem_bits"], s["elems_per_beat"]))
           for s, x in zip(accel["inputs"], frames)]
    outs = [streams.Stream(s["name"], s["tdata_bits"], n_beats=s["beats_per_frame"] * n, frames=n)
            for s in accel["outputs"]]
    loading = 0
    if accel.get("weights"):  # UltraRAM weights: the host streams them in after reset, beside the frames
        words = weight_words(build_dir, accel)
        ins.append(streams.Stream(accel["weights"]["name"], accel["weights"]["word_bits"], [int(w) for w in words]))
        loading = len(words)
    srcs = sources(build_dir)
    t0 = time.perf_counter()
    result = streams.simulate(srcs, accel["top"], ins, outs, stall=stall, seed=seed,
                              watchdog_cycles=_watchdog(accel, loading, watchdog_cycles), run_dir=run_dir)
    sim_s = time.perf_counter() - t0  # with the build cache check and cocotb's start-up
    outputs = []
    for s in accel["outputs"]:
        flat = streams.unpack(result.outputs[s["name"]], s["elem_bits"], s["elems_per_beat"], s["elem_signed"])
        outputs.append(_decode(flat, s).reshape(n, *s["shape"][1:]))
    first = accel["outputs"][0]["name"]
    return {"outputs": outputs, "cycles": result.cycles, "frame_done_cycles": result.frame_done_cycles[first],
            "cycles_per_frame": result.cycles_per_frame(first), "engine": "cocotb", "simulation_s": sim_s,
            "cycles_per_frame_by_stream": {s["name"]: result.cycles_per_frame(s["name"]) for s in accel["outputs"]}}
