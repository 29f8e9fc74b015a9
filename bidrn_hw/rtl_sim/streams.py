"""AXI-Stream packing (docs/architecture.md, "Accelerator interface") and the host side of a stream simulation.

Packing: elements little-endian within ``tdata`` (element 0 in the low bits), each element ``bits`` wide,
two's complement when signed, the bus padded to a multiple of 8 bits; one folded chunk per beat.

:func:`simulate` runs the generic cocotb testbench ``tb_stream`` against any module whose ports follow
``ap_clk``, ``ap_rst_n`` and ``<prefix>_tdata/tvalid/tready`` for each stream: it writes the input beats and
a JSON spec to a run directory, runs the simulation (random ``tvalid`` gaps on inputs and ``tready`` stalls
on outputs with probability ``stall``), and returns the output beats and measured cycle counts.
"""
from __future__ import annotations

import json
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np

from ..errors import MismatchError
from . import verilator


def bus_bits(elem_bits: int, elems_per_beat: int) -> int:
    """tdata width: elements side by side, padded up to a multiple of 8 bits."""
    return -(-(elem_bits * elems_per_beat) // 8) * 8


def checked_flat(values: np.ndarray, elem_bits: int, elems_per_beat: int) -> np.ndarray:
    """Integers in stream order as a flat int64 array, checked to fill whole beats of ``elems_per_beat`` and to
    fit ``elem_bits`` bits (signed or unsigned); ValueError otherwise."""
    flat = np.asarray(values).astype(np.int64).reshape(-1)
    if flat.size % elems_per_beat:
        raise ValueError(f"{flat.size} elements do not fill whole beats of {elems_per_beat}")
    lo, hi = -(1 << (elem_bits - 1)), (1 << elem_bits) - 1
    if flat.size and (flat.min() < lo or flat.max() > hi):
        raise ValueError(f"values outside {elem_bits}-bit range: [{flat.min()}, {flat.max()}]")
    return flat


def pack(values: np.ndarray, elem_bits: int, elems_per_beat: int) -> list[int]:
    """Pack integers (in stream order) into beats of ``elems_per_beat`` elements each."""
    flat = checked_flat(values, elem_bits, elems_per_beat)
    mask = (1 << elem_bits) - 1
    beats = []
    for chunk in flat.reshape(-1, elems_per_beat):
        word = 0
        for i, v in enumerate(chunk.tolist()):
            word |= (int(v) & mask) << (i * elem_bits)
        beats.append(word)
    return beats


def unpack(beats: Sequence[int], elem_bits: int, elems_per_beat: int, signed: bool) -> np.ndarray:
    """Inverse of :func:`pack`: a flat int64 array in stream order."""
    mask = (1 << elem_bits) - 1
    out = np.empty(len(beats) * elems_per_beat, dtype=np.int64)
    k = 0
    for word in beats:
        for i in range(elems_per_beat):
            v = (int(word) >> (i * elem_bits)) & mask
            if signed and v >> (elem_bits - 1):
                v -= 1 << elem_bits
            out[k] = v
            k += 1
    return out


@dataclass
class Stream:
    """One AXI-Stream port: ``prefix`` (e.g. ``s_axis_0``), bus width, and beats (inputs) or beat count."""

    prefix: str
    tdata_bits: int
    beats: list[int] = field(default_factory=list)
    n_beats: int = 0
    frames: int = 1


@dataclass
class SimResult:
    outputs: dict[str, list[int]]
    cycles: int
    frame_done_cycles: dict[str, list[int]]

    def cycles_per_frame(self, prefix: str | None = None) -> float | None:
        """Steady-state cycles per frame from the completion times of the last output frames."""
        done = self.frame_done_cycles[prefix or next(iter(self.frame_done_cycles))]
        if len(done) < 2:
            return None
        return (done[-1] - done[0]) / (len(done) - 1)


def simulate(sources: Sequence[Path | str], toplevel: str, inputs: Sequence[Stream], outputs: Sequence[Stream],
             parameters: dict | None = None, stall: float = 0.0, seed: int = 0, watchdog_cycles: int = 20000,
             run_dir: Path | str | None = None, build_args: Sequence[str] = ()) -> SimResult:
    """Build (cached) and run ``toplevel`` on the given input beats; returns the output beats."""
    build_dir = verilator.build(sources, toplevel, parameters or {}, build_args=build_args)
    keep = run_dir is not None  # a temporary run directory is removed after a passing run, kept on failure
    run_dir = Path(run_dir) if run_dir else Path(tempfile.mkdtemp(prefix=f"sim-{toplevel}-"))
    run_dir.mkdir(parents=True, exist_ok=True)
    spec = {
        "inputs": [{"prefix": s.prefix, "tdata_bits": s.tdata_bits, "beats": [hex(b) for b in s.beats]}
                   for s in inputs],
        "outputs": [{"prefix": s.prefix, "tdata_bits": s.tdata_bits, "n_beats": s.n_beats, "frames": s.frames}
                    for s in outputs],
        "stall": stall, "seed": seed, "watchdog_cycles": watchdog_cycles,
        "result_file": str(run_dir / "result.json"),
    }
    spec_file = run_dir / "spec.json"
    spec_file.write_text(json.dumps(spec))
    try:
        verilator.run(build_dir, toplevel, "tb_stream", run_dir, extra_env={"BIDRN_TB_SPEC": str(spec_file)},
                      seed=seed)
    except AssertionError as exc:
        result_file = run_dir / "result.json"
        reason = json.loads(result_file.read_text()).get("error") if result_file.exists() else None
        raise MismatchError(f"simulation of {toplevel} failed: {reason or exc} (log: {run_dir})") from None
    result = json.loads((run_dir / "result.json").read_text())
    if not keep:
        shutil.rmtree(run_dir, ignore_errors=True)
    return SimResult(outputs={k: [int(b, 16) for b in v] for k, v in result["outputs"].items()},
                     cycles=result["cycles"], frame_done_cycles=result["frame_done_cycles"])
