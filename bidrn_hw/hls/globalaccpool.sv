// FINN's GlobalAccPool (what finn-plus emits for GlobalAveragePool, followed by a float Mul by 1/(H*W)):
// per channel, the sum over all PIXELS = H*W pixels of a frame, written with OUT_BITS (FINN's output
// datatype, which holds PIXELS times the input's extreme value).
//
// Stream order: in (H, W, CH/PE, PE), out (CH/PE, PE) per frame. One accumulator word (PE sums) per
// channel fold in a small RAM with asynchronous read (LUT RAM). The last pixel's beats do not update the
// RAM: their sum goes straight to the output register, so there is no separate output phase and the next
// frame follows without a gap (the first pixel overwrites instead of adding).
`include "axis.svh"
module globalaccpool #(
    parameter int CH = 4,
    parameter int PIXELS = 16,
    `LANE_PARAMS(2, 4, 1, 8),
    `LANE_BUSES
) (
    `AXIS_PIPE(IN_BUS, OUT_BUS)
);
    localparam int CF = CH / PE;
    localparam int CW_F = CF > 1 ? $clog2(CF) : 1;
    localparam int CW_P = PIXELS > 1 ? $clog2(PIXELS) : 1;

    initial begin
        if (CH % PE != 0) $error("globalaccpool: PE must divide CH");
        if (OUT_BITS < IN_BITS) $error("globalaccpool: OUT_BITS narrower than the input");
    end

    logic [CW_F-1:0] f;
    logic [CW_P-1:0] pix;
    logic f_last, p_first, p_last, slot_free, fire, out_valid;
    logic [PE*OUT_BITS-1:0] sums, stored, out_data;
    logic [PE*OUT_BITS-1:0] mem [CF];

    assign f_last = f == CW_F'(CF - 1);
    assign p_first = pix == '0;
    assign p_last = pix == CW_P'(PIXELS - 1);
    assign slot_free = !out_valid || m_axis_0_tready;
    assign s_axis_0_tready = !p_last || slot_free;
    assign fire = s_axis_0_tvalid && s_axis_0_tready;
    assign stored = mem[f];

    for (genvar i = 0; i < PE; i++) begin : g_lane
        logic [IN_BITS-1:0] x;
        logic [OUT_BITS-1:0] x_ext;
        assign x = s_axis_0_tdata[i*IN_BITS +: IN_BITS];
        assign x_ext = IN_SIGNED != 0 ? OUT_BITS'($signed(x)) : OUT_BITS'(x);
        // Modulo-2**OUT_BITS adds: exact, as every partial sum lies in the output datatype's range.
        assign sums[i*OUT_BITS +: OUT_BITS] = p_first ? x_ext : stored[i*OUT_BITS +: OUT_BITS] + x_ext;
    end

    always_ff @(posedge ap_clk) begin
        if (!ap_rst_n) begin
            f <= '0; pix <= '0; out_valid <= 1'b0;
        end else begin
            if (fire) begin
                f <= f_last ? '0 : f + 1'b1;
                if (f_last) pix <= p_last ? '0 : pix + 1'b1;
            end
            if (fire && p_last) out_valid <= 1'b1;
            else if (m_axis_0_tready) out_valid <= 1'b0;
        end
    end
    always_ff @(posedge ap_clk) begin
        if (fire && !p_last) mem[f] <= sums;
        if (fire && p_last) out_data <= sums;
    end

    assign m_axis_0_tvalid = out_valid;
    assign m_axis_0_tdata = OUT_BUS'(out_data);

    // Bus padding bits above PE*IN_BITS carry no data.
    /* verilator lint_off UNUSEDSIGNAL */
    wire unused_pad = ^s_axis_0_tdata;
    /* verilator lint_on UNUSEDSIGNAL */
endmodule
