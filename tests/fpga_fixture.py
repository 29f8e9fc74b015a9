"""A small stand-alone accelerator build directory for the FPGA back-end tests.

It mirrors what the RTL generator writes (``rtl/*.sv``, ``rtl/filelist.f``, ``accel.json`` with ``layers``,
``estimates.json``) without depending on it: a two-layer AXI-Stream pipeline

* ``fx_mac``: ``LANES`` int8 elements per beat times int8 weights read from a ROM (``$readmemh`` of a file
  named relative to ``rtl/``, as the stitcher writes memory files), summed by an adder tree -> one signed
  word per beat;
* ``fx_bias``: a registered adder that adds a constant.

Both follow the port convention (``ap_clk``, ``ap_rst_n``, ``s_axis_0_*``, ``m_axis_0_*``) with a
global-stall pipeline (``ce = !out_valid || out_ready``). ``lanes`` sets the number of multipliers, which is
how the tests make a design that does not fit a small ECP5 (28 multipliers on the 25k).
"""
from __future__ import annotations

import json
import math
import random
from pathlib import Path

from bidrn_hw.builddir import seal


def _stream_ports(in_bits: str, out_bits: str) -> str:
    """The ports every fixture module has (the port convention): clock, reset, one AXI-Stream in, one out."""
    ports = ("input  logic ap_clk", "input  logic ap_rst_n", f"input  logic [{in_bits}-1:0] s_axis_0_tdata",
             "input  logic s_axis_0_tvalid", "output logic s_axis_0_tready",
             f"output logic [{out_bits}-1:0] m_axis_0_tdata", "output logic m_axis_0_tvalid",
             "input  logic m_axis_0_tready")
    return ",\n".join(f"  {p}" for p in ports) + "\n"


FX_MAC = r"""
module fx_mac #(
  parameter int LANES = 4,
  parameter int DEPTH = 512,
  parameter WEIGHT_FILE = "weights.mem",
  parameter int OUT_BITS = 24
) (
""" + _stream_ports("LANES*8", "OUT_BITS") + r""");
  localparam int AW = $clog2(DEPTH);
  logic [LANES*8-1:0] rom [0:DEPTH-1];
  initial $readmemh(WEIGHT_FILE, rom);

  logic ce;
  logic [AW-1:0] addr;
  logic [LANES*8-1:0] x1, w1;
  logic v1, v2;
  logic signed [15:0] p2 [LANES];
  logic signed [OUT_BITS-1:0] acc;

  assign ce = !m_axis_0_tvalid || m_axis_0_tready;
  assign s_axis_0_tready = ce;

  always_ff @(posedge ap_clk) begin
    if (ce) begin
      x1 <= s_axis_0_tdata;
      w1 <= rom[addr];
    end
  end

  always_ff @(posedge ap_clk) begin
    if (!ap_rst_n) begin
      addr <= '0;
      v1 <= 1'b0;
      v2 <= 1'b0;
      m_axis_0_tvalid <= 1'b0;
    end else if (ce) begin
      if (s_axis_0_tvalid) addr <= (addr == AW'(DEPTH - 1)) ? '0 : addr + 1'b1;
      v1 <= s_axis_0_tvalid;
      v2 <= v1;
      m_axis_0_tvalid <= v2;
    end
  end

  always_ff @(posedge ap_clk) begin
    if (ce) begin
      for (int i = 0; i < LANES; i++)
        p2[i] <= $signed(x1[i*8 +: 8]) * $signed(w1[i*8 +: 8]);
    end
  end

  always_comb begin
    acc = '0;
    for (int i = 0; i < LANES; i++) acc = acc + OUT_BITS'(p2[i]);
  end

  always_ff @(posedge ap_clk) begin
    if (ce) m_axis_0_tdata <= acc;
  end
endmodule
"""

FX_BIAS = r"""
module fx_bias #(
  parameter int BITS = 24,
  parameter int BIAS = 5
) (
""" + _stream_ports("BITS", "BITS") + r""");
  logic ce;
  assign ce = !m_axis_0_tvalid || m_axis_0_tready;
  assign s_axis_0_tready = ce;
  always_ff @(posedge ap_clk) begin
    if (!ap_rst_n) m_axis_0_tvalid <= 1'b0;
    else if (ce) m_axis_0_tvalid <= s_axis_0_tvalid;
  end
  always_ff @(posedge ap_clk) begin
    if (ce) m_axis_0_tdata <= s_axis_0_tdata + BITS'(BIAS);
  end
endmodule
"""

TOP = r"""
module {top} (
""" + _stream_ports("{in_bits}", "{out_bits}") + r""");
  logic [{out_bits}-1:0] w_tdata;
  logic w_tvalid, w_tready;
  fx_mac #(.LANES({lanes}), .DEPTH({depth}), .WEIGHT_FILE("{weights}"), .OUT_BITS({out_bits})) u_mac0 (
    .ap_clk(ap_clk), .ap_rst_n(ap_rst_n),
    .s_axis_0_tdata(s_axis_0_tdata), .s_axis_0_tvalid(s_axis_0_tvalid), .s_axis_0_tready(s_axis_0_tready),
    .m_axis_0_tdata(w_tdata), .m_axis_0_tvalid(w_tvalid), .m_axis_0_tready(w_tready));
  fx_bias #(.BITS({out_bits}), .BIAS({bias})) u_bias0 (
    .ap_clk(ap_clk), .ap_rst_n(ap_rst_n),
    .s_axis_0_tdata(w_tdata), .s_axis_0_tvalid(w_tvalid), .s_axis_0_tready(w_tready),
    .m_axis_0_tdata(m_axis_0_tdata), .m_axis_0_tvalid(m_axis_0_tvalid), .m_axis_0_tready(m_axis_0_tready));
endmodule
"""


def out_bits(lanes: int) -> int:
    """Accumulator width: 16-bit products plus growth, rounded up to whole bytes (the bus is padded to 8)."""
    return 8 * math.ceil((16 + math.ceil(math.log2(max(lanes, 2)))) / 8)


def write_design(build_dir: Path | str, lanes: int = 4, depth: int = 512, bias: int = 5, top: str = "fx_top",
                 seed: int = 0) -> Path:
    """Write the fixture build directory and return it."""
    d = Path(build_dir)
    rtl = d / "rtl"
    rtl.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    weights = rtl / "mac0_weights.mem"
    weights.write_text("".join(f"{rng.getrandbits(lanes * 8):0{lanes * 2}x}\n" for _ in range(depth)))
    ob = out_bits(lanes)
    (rtl / "fx_mac.sv").write_text(FX_MAC)
    (rtl / "fx_bias.sv").write_text(FX_BIAS)
    (rtl / f"{top}.sv").write_text(TOP.format(top=top, in_bits=lanes * 8, out_bits=ob, lanes=lanes, depth=depth,
                                              weights=weights.name, bias=bias))
    (rtl / "filelist.f").write_text(f"fx_mac.sv\nfx_bias.sv\n{top}.sv\n")
    accel = {
        "top": top, "clock": "ap_clk", "reset": "ap_rst_n", "reset_active_low": True,
        "inputs": [{"name": "s_axis_0", "tdata_bits": lanes * 8, "elem_bits": 8, "elem_signed": True,
                    "elems_per_beat": lanes, "beats_per_frame": depth, "shape": [1, depth, lanes]}],
        "outputs": [{"name": "m_axis_0", "tdata_bits": ob, "elem_bits": ob, "elem_signed": True,
                     "elems_per_beat": 1, "beats_per_frame": depth, "shape": [1, depth, 1]}],
        "layers": [
            {"name": "MAC_0", "op_type": "FxMac", "module": "fx_mac", "instance": "u_mac0",
             "parameters": {"LANES": lanes, "DEPTH": depth, "WEIGHT_FILE": weights.name, "OUT_BITS": ob}},
            {"name": "Bias_0", "op_type": "FxBias", "module": "fx_bias", "instance": "u_bias0",
             "parameters": {"BITS": ob, "BIAS": bias}},
        ],
    }
    (d / "accel.json").write_text(json.dumps(accel, indent=2))
    estimates = {"fclk_mhz": 100.0, "layers": [
        {"name": "MAC_0", "LUT": 60 * lanes, "FF": 40 * lanes, "BRAM_18K": math.ceil(depth * lanes * 8 / 18432),
         "URAM": 0, "DSP": lanes, "cycles": depth},
        {"name": "Bias_0", "LUT": ob, "FF": ob + 1, "BRAM_18K": 0, "URAM": 0, "DSP": 0, "cycles": depth},
    ]}
    (d / "estimates.json").write_text(json.dumps(estimates, indent=2))
    seal(d)  # format and the sha256 of every file, as a compile writes them
    return d
