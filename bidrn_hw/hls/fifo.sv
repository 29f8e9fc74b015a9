// AXI-Stream FIFO: DEPTH entries of WIDTH bits, full throughput (one beat in and one out per cycle).
// RAM_STYLE is the buffer's synthesis attribute, as FINN's ram_style: "auto" (the tool picks), "block",
// "distributed" or "ultra".
`include "axis.svh"
module fifo #(
    parameter int WIDTH = 8,
    parameter int DEPTH = 16,
    parameter RAM_STYLE = "auto",
    localparam int AB = DEPTH > 1 ? $clog2(DEPTH) : 1
) (
    `AXIS_PIPE(WIDTH, WIDTH)
);
    initial begin
        /* verilator lint_off WIDTHEXPAND */  // string literals of different lengths
        if (RAM_STYLE != "auto" && RAM_STYLE != "block" && RAM_STYLE != "distributed" && RAM_STYLE != "ultra")
            $error("fifo: RAM_STYLE must be auto, block, distributed or ultra");
        /* verilator lint_on WIDTHEXPAND */
    end
    (* ram_style = RAM_STYLE *) logic [WIDTH-1:0] mem [DEPTH];
    logic [AB-1:0] rd, wr;
    logic [AB:0] count;
    wire push = s_axis_0_tvalid && s_axis_0_tready;
    wire pop = m_axis_0_tvalid && m_axis_0_tready;
    assign s_axis_0_tready = (32'(count) < DEPTH);
    assign m_axis_0_tvalid = (count != 0);
    assign m_axis_0_tdata = mem[rd];
    always_ff @(posedge ap_clk) begin
        if (!ap_rst_n) begin
            rd <= '0;
            wr <= '0;
            count <= '0;
        end else begin
            if (push) begin
                mem[wr] <= s_axis_0_tdata;
                wr <= (32'(wr) == DEPTH - 1) ? '0 : wr + 1'b1;
            end
            if (pop) rd <= (32'(rd) == DEPTH - 1) ? '0 : rd + 1'b1;
            count <= count + (AB+1)'(push) - (AB+1)'(pop);
        end
    end
endmodule
