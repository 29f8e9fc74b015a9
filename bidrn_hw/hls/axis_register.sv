// AXI-Stream register slice (skid buffer): cuts every combinational path between its two sides. tdata and
// tvalid towards the consumer come from registers, and so does tready towards the producer (!skid_valid), so
// a ready/valid chain through several modules ends here; full throughput (one beat a cycle, no stalls), one
// cycle of latency, 2*BITS + 2 flip-flops. The design of verilog-axis's axis_register (REG_TYPE = 2):
// - output register free (empty, or its beat taken this cycle): it loads the skid beat if there is one, else
//   the input beat (s_axis_0_tready is high then, the skid being empty);
// - output stalled: an input beat goes into the skid register, which drops s_axis_0_tready until it drains.
`include "axis.svh"

module axis_register #(
    parameter int BITS = 8
) (
    `AXIS_PIPE(BITS, BITS)
);
    logic [BITS-1:0] out_data, skid_data;
    logic out_valid, skid_valid;

    assign s_axis_0_tready = !skid_valid;
    assign m_axis_0_tvalid = out_valid;
    assign m_axis_0_tdata = out_data;

    always_ff @(posedge ap_clk) begin
        if (!ap_rst_n) begin
            out_valid <= 1'b0;
            skid_valid <= 1'b0;
        end else if (m_axis_0_tready || !out_valid) begin
            if (skid_valid) begin
                out_data <= skid_data;
                out_valid <= 1'b1;
                skid_valid <= 1'b0;
            end else begin
                out_data <= s_axis_0_tdata;
                out_valid <= s_axis_0_tvalid;
            end
        end else if (s_axis_0_tvalid && !skid_valid) begin
            skid_data <= s_axis_0_tdata;
            skid_valid <= 1'b1;
        end
    end
endmodule
