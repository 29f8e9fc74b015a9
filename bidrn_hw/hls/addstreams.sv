// Elementwise add of two equally shaped streams (FINN's ElementwiseAdd with both operands streamed, the
// AddStreams of older FINN): out = a*A_MUL + b*B_MUL per element, PE elements per beat, computed exactly and
// written with OUT_BITS (FINN's out_dtype; layers/addstreams.py checks that it holds every sum). A_MUL = B_MUL
// = 1 is a plain add; other positive weights join operands quantized at different scales
// (flow/scaled_join.py). The residual join of a fused MVAU (mvau_residual.sv: its output plus the skip) adds
// an offset and saturates:
//   out = a*A_MUL + b*B_MUL + OFFSET                          SATURATE = 0 (OUT_BITS holds every such sum;
//                                                             FINN's op: OFFSET = 0)
//   out = clamp(a*A_MUL + b*B_MUL + OFFSET, SAT_LO, SAT_HI)   SATURATE = 1 (the bounds are values of OUT_BITS)
//
// Stream order: in 0 (lhs), in 1 (rhs), out: (..., CH/PE, PE), identical. A beat moves when both inputs
// have one and the output register is free or being emptied; one beat per cycle.
`include "axis.svh"
module addstreams #(
    parameter int PE = 2,
    parameter int A_BITS = 8,
    parameter int A_SIGNED = 1,
    parameter int B_BITS = 8,
    parameter int B_SIGNED = 1,
    parameter int OUT_BITS = 9,
    parameter int A_MUL = 1,
    parameter int B_MUL = 1,
    parameter int OFFSET = 0,       // |OFFSET| < 2^(max(A_BITS, B_BITS, OUT_BITS) + 1) (layers/mvau_residual.py)
    parameter int SATURATE = 0,
    parameter int SAT_LO = 0,
    parameter int SAT_HI = 0,
    localparam int A_BUS = `BUS(PE * A_BITS),
    localparam int B_BUS = `BUS(PE * B_BITS),
    localparam int OUT_BUS = `BUS(PE * OUT_BITS)
) (
    `AP_CTRL,
    `AXIS_IN(s_axis_0, A_BUS),
    `AXIS_IN(s_axis_1, B_BUS),
    `AXIS_OUT(m_axis_0, OUT_BUS)
);
    // Wide enough for any sum of the operands and the offset, and for the output (and its bounds).
    localparam int IN_MAX = A_BITS > B_BITS ? A_BITS : B_BITS;
    localparam int MUL_MAX = A_MUL > B_MUL ? A_MUL : B_MUL;
    localparam int MUL_W = MUL_MAX > 1 ? $clog2(MUL_MAX + 1) : 0;
    localparam int SUM_W = (IN_MAX + MUL_W > OUT_BITS ? IN_MAX + MUL_W : OUT_BITS) + 3;

    logic slot_free, fire, out_valid;
    logic [PE*OUT_BITS-1:0] sum, out_data;
    assign slot_free = !out_valid || m_axis_0_tready;
    assign fire = s_axis_0_tvalid && s_axis_1_tvalid && slot_free;
    assign s_axis_0_tready = s_axis_1_tvalid && slot_free;
    assign s_axis_1_tready = s_axis_0_tvalid && slot_free;

    for (genvar i = 0; i < PE; i++) begin : g_lane
        logic [A_BITS-1:0] a;
        logic [B_BITS-1:0] b;
        logic signed [SUM_W-1:0] a_ext, b_ext, s, c;
        assign a = s_axis_0_tdata[i*A_BITS +: A_BITS];
        assign b = s_axis_1_tdata[i*B_BITS +: B_BITS];
        assign a_ext = A_SIGNED != 0 ? SUM_W'($signed(a)) : SUM_W'($signed({1'b0, a}));
        assign b_ext = B_SIGNED != 0 ? SUM_W'($signed(b)) : SUM_W'($signed({1'b0, b}));
        if (A_MUL == 1 && B_MUL == 1) begin : g_add
            assign s = a_ext + b_ext + SUM_W'(OFFSET);
        end else begin : g_scaled
            assign s = a_ext * SUM_W'(A_MUL) + b_ext * SUM_W'(B_MUL) + SUM_W'(OFFSET);
        end
        if (SATURATE != 0) begin : g_clamp
            assign c = s < SUM_W'(SAT_LO) ? SUM_W'(SAT_LO) : (s > SUM_W'(SAT_HI) ? SUM_W'(SAT_HI) : s);
        end else begin : g_exact
            assign c = s;
        end
        assign sum[i*OUT_BITS +: OUT_BITS] = c[OUT_BITS-1:0];
        // The bits above OUT_BITS are the sign extension of an in-range (or clamped) value.
        /* verilator lint_off UNUSEDSIGNAL */
        wire unused_msbs = ^c[SUM_W-1:OUT_BITS];
        /* verilator lint_on UNUSEDSIGNAL */
    end

    always_ff @(posedge ap_clk) begin
        if (!ap_rst_n) out_valid <= 1'b0;
        else if (fire) out_valid <= 1'b1;
        else if (m_axis_0_tready) out_valid <= 1'b0;
    end
    always_ff @(posedge ap_clk)
        if (fire) out_data <= sum;

    assign m_axis_0_tvalid = out_valid;
    assign m_axis_0_tdata = OUT_BUS'(out_data);

    // Bus padding bits above PE*A_BITS / PE*B_BITS carry no data.
    /* verilator lint_off UNUSEDSIGNAL */
    wire unused_pad = ^{s_axis_0_tdata, s_axis_1_tdata};
    /* verilator lint_on UNUSEDSIGNAL */
endmodule
