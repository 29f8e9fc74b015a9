// Byte-serial AXI-Stream shell around an accelerator for a board with few pins (see docs/fpga.md).
//
// A board top (generated per build by bidrn_hw/fpga/shell.py) puts one shell_axis_deser in front of every
// accelerator input stream and one shell_axis_ser behind every output stream, so each stream needs only
// PW data pins (8: bytes; fewer where a board has too few pins for all streams) + valid + ready on the board,
// and every accelerator output bit reaches a pin (nothing is optimized away). Transfers travel little-endian:
// transfer 0 of a beat holds tdata[PW-1:0], matching the packing of docs/architecture.md (element 0 in the low
// bits). A beat of W bits takes ceil(W/PW) transfers.

// PW-bit transfers -> one W-bit beat. Accepts transfers while not holding a full beat; presents the beat until taken.
module shell_axis_deser #(
  parameter int W = 32,
  parameter int PW = 8  // pins per transfer (8: bytes)
) (
  input  logic         clk,
  input  logic         rst_n,
  input  logic [PW-1:0] s_tdata,
  input  logic         s_tvalid,
  output logic         s_tready,
  output logic [W-1:0] m_tdata,
  output logic         m_tvalid,
  input  logic         m_tready
);
  localparam int NB = (W + PW - 1) / PW;
  localparam int CW = $clog2(NB + 1);
  logic [NB*PW-1:0] shreg;
  logic [CW-1:0] count;

  assign s_tready = !m_tvalid;
  assign m_tdata = shreg[W-1:0];

  // shift in from the top: after NB bytes, the first byte sits in the low bits
  generate
    if (NB == 1) begin : g_one
      always_ff @(posedge clk) if (!m_tvalid && s_tvalid) shreg <= s_tdata;
    end else begin : g_many
      always_ff @(posedge clk) if (!m_tvalid && s_tvalid) shreg <= {s_tdata, shreg[NB*PW-1:PW]};
    end
  endgenerate

  always_ff @(posedge clk) begin
    if (!rst_n) begin
      count <= '0;
      m_tvalid <= 1'b0;
    end else if (m_tvalid) begin
      if (m_tready) m_tvalid <= 1'b0;
    end else if (s_tvalid) begin
      if (count == CW'(NB - 1)) begin
        count <= '0;
        m_tvalid <= 1'b1;
      end else begin
        count <= count + 1'b1;
      end
    end
  end
endmodule
