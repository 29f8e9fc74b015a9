// FINN's Pool (what finn-plus emits for MaxPool, ReduceMax/ReduceSum pooling and QuantAvgPool2d): reduces
// each group of K2 consecutive beats, lane by lane, into one output beat.
//
// Stream order: in (OFM_H, OFM_W, CH/PE, K_H*K_W, PE) -- the depthwise sliding-window order (swg with
// DEPTHWISE=1); out (OFM_H, OFM_W, CH/PE, PE). Since every group of K2 beats belongs to one pixel and one
// channel fold, the module needs neither the image size nor the channel count.
//   FUNC 0 MaxPool:      max over the window (OUT_BITS = IN_BITS)
//   FUNC 1 AccPool:      sum over the window
//   FUNC 2 QuantAvgPool: sum >>> SHIFT (arithmetic, i.e. floor), low OUT_BITS bits (FINN's python semantics)
// ACC_BITS: signed width holding every input and every window sum (chosen by layers/pool.py).
`include "axis.svh"
module pool #(
    `LANE_PARAMS(2, 4, 1, 4),
    parameter int K2 = 4,
    parameter int FUNC = 0,
    parameter int ACC_BITS = 7,
    parameter int SHIFT = 0,
    `LANE_BUSES
) (
    `AXIS_PIPE(IN_BUS, OUT_BUS)
);
    localparam int CW_K = K2 > 1 ? $clog2(K2) : 1;

    initial begin
        if (FUNC < 0 || FUNC > 2) $error("pool: FUNC must be 0 (max), 1 (acc) or 2 (quantized average)");
        if (ACC_BITS < IN_BITS + 1 || ACC_BITS < OUT_BITS + SHIFT) $error("pool: ACC_BITS too narrow");
    end

    logic [CW_K-1:0] k;
    logic k_first, k_last, slot_free, fire, out_valid;
    logic [PE*ACC_BITS-1:0] acc, acc_next;
    logic [PE*OUT_BITS-1:0] result, out_data;

    assign k_first = k == '0;
    assign k_last = k == CW_K'(K2 - 1);
    assign slot_free = !out_valid || m_axis_0_tready;
    // Only the group's last beat produces output, so only it waits for the output register.
    assign s_axis_0_tready = !k_last || slot_free;
    assign fire = s_axis_0_tvalid && s_axis_0_tready;

    for (genvar i = 0; i < PE; i++) begin : g_lane
        logic [IN_BITS-1:0] x;
        logic signed [ACC_BITS-1:0] x_ext, a, n;
        logic signed [ACC_BITS-1:0] shifted;
        assign x = s_axis_0_tdata[i*IN_BITS +: IN_BITS];
        assign x_ext = IN_SIGNED != 0 ? ACC_BITS'($signed(x)) : ACC_BITS'($signed({1'b0, x}));
        assign a = acc[i*ACC_BITS +: ACC_BITS];
        if (FUNC == 0) begin : g_max
            assign n = k_first ? x_ext : (x_ext > a ? x_ext : a);
        end else begin : g_sum
            assign n = k_first ? x_ext : a + x_ext;
        end
        assign acc_next[i*ACC_BITS +: ACC_BITS] = n;
        assign shifted = n >>> SHIFT;
        assign result[i*OUT_BITS +: OUT_BITS] = shifted[OUT_BITS-1:0];
        // Bits above OUT_BITS of the (in-range) result are its sign extension.
        if (ACC_BITS > OUT_BITS) begin : g_unused_msbs
            /* verilator lint_off UNUSEDSIGNAL */
            wire unused_msbs = ^shifted[ACC_BITS-1:OUT_BITS];
            /* verilator lint_on UNUSEDSIGNAL */
        end
    end

    always_ff @(posedge ap_clk) begin
        if (!ap_rst_n) begin
            k <= '0; out_valid <= 1'b0;
        end else begin
            if (fire) k <= k_last ? '0 : k + 1'b1;
            if (fire && k_last) out_valid <= 1'b1;
            else if (m_axis_0_tready) out_valid <= 1'b0;
        end
    end
    always_ff @(posedge ap_clk) begin
        if (fire) acc <= acc_next;
        if (fire && k_last) out_data <= result;
    end

    assign m_axis_0_tvalid = out_valid;
    assign m_axis_0_tdata = OUT_BUS'(out_data);

    // Bus padding bits above PE*IN_BITS carry no data.
    /* verilator lint_off UNUSEDSIGNAL */
    wire unused_pad = ^s_axis_0_tdata;
    /* verilator lint_on UNUSEDSIGNAL */
endmodule
