"""Generic cocotb testbench: drive input AXI-Streams, collect output AXI-Streams, with random stalls.

Driven by a JSON spec (path in ``BIDRN_TB_SPEC``) written by :func:`bidrn_hw.rtl_sim.streams.simulate`.
Sources and sinks are cocotbext-axi's; pause generators give random ``tvalid`` gaps on inputs and
``tready`` stalls on outputs. A watchdog fails the run, naming the stalled streams, when no beat moves on
any stream for ``watchdog_cycles`` cycles.
"""
import json
import os
import random

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, RisingEdge
from cocotbext.axi import AxiStreamBus, AxiStreamFrame, AxiStreamSink, AxiStreamSource


def _pauses(rng: random.Random, p: float):
    while True:
        yield rng.random() < p


class _Counter:
    """Counts handshakes on one stream, cycle by cycle (needed for the watchdog and timing)."""

    def __init__(self, dut, prefix):
        self.valid = getattr(dut, f"{prefix}_tvalid")
        self.ready = getattr(dut, f"{prefix}_tready")
        self.count = 0


@cocotb.test()
async def run_streams(dut):
    spec = json.loads(open(os.environ["BIDRN_TB_SPEC"]).read())
    rng = random.Random(spec["seed"])
    cocotb.start_soon(Clock(dut.ap_clk, 10, unit="ns").start())
    dut.ap_rst_n.value = 0

    counters = {}

    def attach(kind, s):
        """A source or sink on stream ``s``, with random pauses at the spec's stall rate, and its counter."""
        end = kind(AxiStreamBus.from_prefix(dut, s["prefix"]), dut.ap_clk, dut.ap_rst_n, reset_active_level=False)
        if spec["stall"] > 0:
            end.set_pause_generator(_pauses(random.Random(rng.random()), spec["stall"]))
        end.log.setLevel("WARNING")
        counters[s["prefix"]] = _Counter(dut, s["prefix"])
        return s, end

    sources = [attach(AxiStreamSource, s) for s in spec["inputs"]]
    sinks = [attach(AxiStreamSink, s) for s in spec["outputs"]]

    await ClockCycles(dut.ap_clk, 4)
    dut.ap_rst_n.value = 1
    await RisingEdge(dut.ap_clk)

    cycle = 0
    frame_done = {s["prefix"]: [] for s, _ in sinks}
    beats_per_frame = {s["prefix"]: max(1, s["n_beats"] // max(1, s["frames"])) for s, _ in sinks}

    async def count_cycles():
        nonlocal cycle
        while True:
            await RisingEdge(dut.ap_clk)
            cycle += 1
            for prefix, c in counters.items():
                if c.valid.value == 1 and c.ready.value == 1:
                    c.count += 1
                    if prefix in frame_done and c.count % beats_per_frame[prefix] == 0:
                        frame_done[prefix].append(cycle)

    cocotb.start_soon(count_cycles())
    for s, src in sources:
        nbytes = s["tdata_bits"] // 8
        data = b"".join(int(b, 16).to_bytes(nbytes, "little") for b in s["beats"])
        if data:
            src.send_nowait(AxiStreamFrame(data))

    results = {}
    error = None

    async def collect(s, snk):
        nbytes = s["tdata_bits"] // 8
        beats = []
        while len(beats) < s["n_beats"]:
            frame = await snk.recv()
            raw = bytes(frame.tdata)
            beats.extend(raw[i:i + nbytes] for i in range(0, len(raw), nbytes))
        results[s["prefix"]] = [hex(int.from_bytes(b, "little")) for b in beats[: s["n_beats"]]]

    tasks = [cocotb.start_soon(collect(s, snk)) for s, snk in sinks]
    last_total, idle = -1, 0
    while not all(t.done() for t in tasks):
        await ClockCycles(dut.ap_clk, 64)
        total = sum(c.count for c in counters.values())
        idle = idle + 64 if total == last_total else 0
        last_total = total
        if idle >= spec["watchdog_cycles"]:
            stalled = [f"{p} ({c.count} beats moved, tvalid={c.valid.value}, tready={c.ready.value})"
                       for p, c in counters.items()]
            pending_in = [s["prefix"] for s, _ in sources if counters[s["prefix"]].count < len(s["beats"])]
            pending_out = [s["prefix"] for s, _ in sinks if counters[s["prefix"]].count < s["n_beats"]]
            error = (f"deadlock: no beat moved for {idle} cycles; inputs still waiting: {pending_in or 'none'}; "
                     f"outputs still expected: {pending_out or 'none'}; streams: {'; '.join(stalled)}")
            break
    # Extra beats beyond what was expected are an error too.
    if error is None:
        await ClockCycles(dut.ap_clk, 32)
        extra = [s["prefix"] for s, snk in sinks if not snk.empty()]
        if extra:
            error = f"output streams produced more beats than expected: {extra}"

    # the run's cycles: up to the last expected output beat (as the compiled driver counts them; the watchdog's
    # 64-cycle polling and the 32 cycles of the extra-beat check are not the design's time)
    last = max((d[-1] for d in frame_done.values() if d), default=cycle)
    with open(spec["result_file"], "w") as f:
        json.dump({"outputs": results, "cycles": last, "frame_done_cycles": frame_done, "error": error}, f)
    assert error is None, error
