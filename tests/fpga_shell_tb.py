"""cocotb testbench of the ECP5 board top (byte-serial shell + fixture accelerator), run by test_fpga_shell.py.

Drives bytes (or PW-bit transfers: spec "pw") on the input pins with random valid gaps, takes output transfers
with random ready stalls, and writes the output beats it assembled to the JSON file named by FPGA_SHELL_RESULT.
"""
import json
import os
import random

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, ReadOnly, RisingEdge


@cocotb.test()
async def shell_roundtrip(dut):
    spec = json.loads(open(os.environ["FPGA_SHELL_SPEC"]).read())
    rng = random.Random(spec["seed"])
    in_bytes, out_nbytes, n_out = spec["in_bytes"], spec["out_nbytes"], spec["n_out"]
    cocotb.start_soon(Clock(dut.clk_25mhz, 40, unit="ns").start())
    dut.btn_pwr_n.value = 0
    dut.s_axis_0_v.value = 0
    dut.s_axis_0_d.value = 0
    dut.m_axis_0_r.value = 0
    await ClockCycles(dut.clk_25mhz, 5)
    dut.btn_pwr_n.value = 1
    await ClockCycles(dut.clk_25mhz, 5)
    assert int(dut.led.value) & 1 == 1, "reset not released"

    received = []
    pos = 0
    for _ in range(200 * (len(in_bytes) + n_out * out_nbytes) + 1000):
        # drive this cycle's inputs
        if pos < len(in_bytes) and rng.random() < 0.7:
            dut.s_axis_0_v.value = 1
            dut.s_axis_0_d.value = in_bytes[pos]
        else:
            dut.s_axis_0_v.value = 0
        dut.m_axis_0_r.value = 1 if rng.random() < 0.6 else 0
        await ReadOnly()
        if int(dut.s_axis_0_v.value) and int(dut.s_axis_0_r.value):
            pos += 1
        if int(dut.m_axis_0_v.value) and int(dut.m_axis_0_r.value):
            received.append(int(dut.m_axis_0_d.value))
        await RisingEdge(dut.clk_25mhz)
        if len(received) >= n_out * out_nbytes and pos == len(in_bytes):
            break
    await ClockCycles(dut.clk_25mhz, 50)  # anything extra would show up as more bytes
    pw = spec.get("pw", 8)  # bits a transfer: bytes, or fewer pins (shell_axis_* PW); lowest transfer first
    beats = [sum(u << (pw * k) for k, u in enumerate(received[i:i + out_nbytes]))
             for i in range(0, len(received), out_nbytes)]
    with open(os.environ["FPGA_SHELL_RESULT"], "w") as fh:
        json.dump({"beats": beats, "bytes_in": pos, "bytes_out": len(received)}, fh)
