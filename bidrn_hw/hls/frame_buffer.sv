// The buffer between a frame's writer and its reader (swg.sv, upsampler.sv): DEPTH slots of DATA_BITS (an
// inferred simple dual-port RAM, RAM_STYLE its synthesis attribute) written at waddr where wr_store, read at
// raddr into the output register where rd_fire; the register drives m_axis_0 (valid from the read until the
// consumer takes it). The callers keep the cyclic write address and the position that says when a slot may
// be read or overwritten.
`include "axis.svh"
module frame_buffer #(
    parameter int DATA_BITS = 8,
    parameter int DEPTH = 16,
    parameter RAM_STYLE = "auto",
    localparam int AW = DEPTH > 1 ? $clog2(DEPTH) : 1,
    localparam int BUS_BITS = `BUS(DATA_BITS)
) (
    `AP_CTRL,
    input  logic                 wr_store,
    input  logic [AW-1:0]        waddr,
    input  logic [DATA_BITS-1:0] wr_data,
    input  logic                 rd_fire,
    input  logic [AW-1:0]        raddr,
    `AXIS_OUT(m_axis_0, BUS_BITS)
);
    initial begin
        /* verilator lint_off WIDTHEXPAND */  // string literals of different lengths
        if (RAM_STYLE != "auto" && RAM_STYLE != "block" && RAM_STYLE != "distributed" && RAM_STYLE != "ultra")
            $error("frame_buffer (swg, upsampler): RAM_STYLE must be auto, block, distributed or ultra");
        /* verilator lint_on WIDTHEXPAND */
    end

    logic out_valid;
    always_ff @(posedge ap_clk) begin
        if (!ap_rst_n) out_valid <= 1'b0;
        else if (rd_fire) out_valid <= 1'b1;
        else if (m_axis_0_tready) out_valid <= 1'b0;
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
