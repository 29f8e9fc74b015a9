// The cyclic buffer between a frame's writer and its reader (swg.sv, upsampler.sv): DEPTH slots of
// DATA_BITS (an inferred simple dual-port RAM, RAM_STYLE its synthesis attribute), written in order, read
// at any slot into the output register, which drives m_axis_0.
//
// wpos counts the elements written minus the start of the reader's frame: up by one for every element that
// arrives (wr_fire; it takes the next slot, and is stored there where wr_store, the caller dropping the
// elements no window reads), down by N (a frame's elements) when the reader reads its frame's last element
// (rd_fire with rd_frame_end). The caller decides from wpos when the reader may read (the element is in) and
// when the writer may write (its slot will not be read again). PW: wpos's signed width, the caller's.
`ifndef BIDRN_AXIS_SVH
`include "axis.svh"
`endif
module frame_buffer #(
    parameter int DATA_BITS = 8,
    parameter int DEPTH = 16,
    parameter int N = 64,
    parameter int PW = 8,
    parameter RAM_STYLE = "auto",
    localparam int AW = DEPTH > 1 ? $clog2(DEPTH) : 1,
    localparam int BUS_BITS = `BUS(DATA_BITS)
) (
    `AP_CTRL,
    input  logic                 wr_fire,
    input  logic                 wr_store,
    input  logic [DATA_BITS-1:0] wr_data,
    input  logic                 rd_fire,
    input  logic                 rd_frame_end,
    input  logic [AW-1:0]        raddr,
    output logic signed [PW-1:0] wpos,
    `AXIS_OUT(m_axis_0, BUS_BITS)
);
    initial begin
        /* verilator lint_off WIDTHEXPAND */  // string literals of different lengths
        if (RAM_STYLE != "auto" && RAM_STYLE != "block" && RAM_STYLE != "distributed" && RAM_STYLE != "ultra")
            $error("frame_buffer (swg, upsampler): RAM_STYLE must be auto, block, distributed or ultra");
        /* verilator lint_on WIDTHEXPAND */
    end

    logic [AW-1:0] waddr;
    logic out_valid;
    always_ff @(posedge ap_clk) begin
        if (!ap_rst_n) begin
            wpos <= '0; waddr <= '0; out_valid <= 1'b0;
        end else begin
            wpos <= wpos + (wr_fire ? PW'(1) : PW'(0)) - ((rd_fire && rd_frame_end) ? PW'(N) : PW'(0));
            if (wr_fire) waddr <= (waddr == AW'(DEPTH - 1)) ? '0 : waddr + 1'b1;
            if (rd_fire) out_valid <= 1'b1;
            else if (m_axis_0_tready) out_valid <= 1'b0;
        end
    end

    // Simple dual-port RAM, registered read (block RAM or LUT RAM inference).
    (* ram_style = RAM_STYLE *) logic [DATA_BITS-1:0] mem [DEPTH];
    logic [DATA_BITS-1:0] rdata;
    always_ff @(posedge ap_clk) begin
        if (wr_store) mem[waddr] <= wr_data;
    end
    always_ff @(posedge ap_clk) begin
        if (rd_fire) rdata <= mem[raddr];
    end

    assign m_axis_0_tvalid = out_valid;
    assign m_axis_0_tdata = BUS_BITS'(rdata);
endmodule
