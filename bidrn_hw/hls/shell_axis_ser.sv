// Byte-serial AXI-Stream shell, output side (see shell_axis_deser.sv and docs/fpga.md).
// One W-bit beat -> PW-bit transfers (bytes by default), lowest first. Takes a new beat only when the previous one is fully sent.
module shell_axis_ser #(
  parameter int W = 32,
  parameter int PW = 8  // pins per transfer (8: bytes)
) (
  input  logic         clk,
  input  logic         rst_n,
  input  logic [W-1:0] s_tdata,
  input  logic         s_tvalid,
  output logic         s_tready,
  output logic [PW-1:0] m_tdata,
  output logic         m_tvalid,
  input  logic         m_tready
);
  localparam int NB = (W + PW - 1) / PW;
  localparam int CW = $clog2(NB + 1);
  logic [NB*PW-1:0] shreg, padded;
  logic [CW-1:0] left;

  assign padded = s_tdata;  // zero-extended to whole transfers

  assign s_tready = (left == '0);
  assign m_tvalid = (left != '0);
  assign m_tdata = shreg[PW-1:0];

  always_ff @(posedge clk) begin
    if (left == '0) begin
      if (s_tvalid) shreg <= padded;
    end else if (m_tready) begin
      shreg <= shreg >> PW;
    end
  end

  always_ff @(posedge clk) begin
    if (!rst_n) left <= '0;
    else if (left == '0) begin
      if (s_tvalid) left <= CW'(NB);
    end else if (m_tready) begin
      left <= left - 1'b1;
    end
  end
endmodule
