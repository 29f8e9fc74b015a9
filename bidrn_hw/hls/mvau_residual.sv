// Fused residual MVAU: an MVAU (mvau.sv, binary XNOR or integer, with its thresholds) whose output is added to a
// second input stream, the skip, and saturated: the MVAU, the ElementwiseAdd and the add's requantizing
// MultiThreshold of a residual join in one unit.
//
//   y   = mvau(x)                    (its own thresholds: the stored conv's rounding and saturation, Y_BITS)
//   out = clamp(y + skip + OFFSET, SAT_LO, SAT_HI)   per element, written with OUT_BITS
//
// This is exactly what the unfused graph computes where the add's MultiThreshold is a saturation of the sum
// (count of thresholds t_k = SAT_LO - OFFSET + k + 1, k < SAT_HI - SAT_LO, at ActVal SAT_LO): the flow checks
// that over every value the sum can take (bidrn_hw.flow.fuse_residual) and leaves the join unfused otherwise.
// The skip is added after the MVAU's own thresholds, not to the accumulator: the stored graph rounds and
// saturates the convolution's output to the residual type before the add, and adding the skip before that
// would not reproduce the saturation (clamp(y) + s differs from clamp(y + s) where y saturates).
//
// Streams: s_axis_0 the MVAU's input (SIMD elements per beat), s_axis_1 the skip (PE elements per beat, in
// the output's order: (..., MH/PE, PE)), m_axis_0 the output (PE elements). A beat leaves when the MVAU's
// result and a skip beat are both there and the output register is free or being emptied: one beat per
// cycle, so the unit keeps the MVAU's NF * SF cycles per vector. The skip waits in a FIFO in front of
// s_axis_1 sized by the flow (the rows of the convolution's window it must wait for). The join is addstreams.sv
// with the offset and the saturation.
`include "axis.svh"
module mvau_residual #(
    `MVAU_PARAMS,
    `THRESHOLD_PARAMS(0, 17),
    parameter int Y_BITS = 16,      // the MVAU's output (its OUT_BITS)
    parameter int Y_SIGNED = 1,
    parameter int SKIP_BITS = 8,
    parameter int SKIP_SIGNED = 1,
    parameter int OFFSET = 0,
    parameter int SAT_LO = -128,
    parameter int SAT_HI = 127,
    parameter int OUT_BITS = 8,
    localparam int IN_BUS = `BUS(SIMD * IN_BITS),
    localparam int Y_BUS = `BUS(PE * Y_BITS),
    localparam int SKIP_BUS = `BUS(PE * SKIP_BITS),
    localparam int OUT_BUS = `BUS(PE * OUT_BITS)
) (
    `AP_CTRL,
    `AXIS_IN(s_axis_0, IN_BUS),
    `AXIS_IN(s_axis_1, SKIP_BUS),
    `AXIS_OUT(m_axis_0, OUT_BUS),
    `AXIS_IN(s_axis_w, W_WORD_BITS),
    `AXIS_OUT(m_axis_w, W_WORD_BITS)
);
    logic [Y_BUS-1:0] y_data;
    logic y_valid, y_ready;

    mvau #(`MVAU_ARGS, .OUT_BITS(Y_BITS), `THRESHOLD_ARGS) u_mvau (
        .ap_clk, .ap_rst_n,
        .s_axis_0_tdata, .s_axis_0_tvalid, .s_axis_0_tready,
        .m_axis_0_tdata(y_data), .m_axis_0_tvalid(y_valid), .m_axis_0_tready(y_ready),
        .s_axis_w_tdata, .s_axis_w_tvalid, .s_axis_w_tready,
        .m_axis_w_tdata, .m_axis_w_tvalid, .m_axis_w_tready
    );

    addstreams #(
        .PE(PE), .A_BITS(Y_BITS), .A_SIGNED(Y_SIGNED), .B_BITS(SKIP_BITS), .B_SIGNED(SKIP_SIGNED),
        .OUT_BITS(OUT_BITS), .OFFSET(OFFSET), .SATURATE(1), .SAT_LO(SAT_LO), .SAT_HI(SAT_HI)
    ) u_join (
        .ap_clk, .ap_rst_n,
        .s_axis_0_tdata(y_data), .s_axis_0_tvalid(y_valid), .s_axis_0_tready(y_ready),
        .s_axis_1_tdata, .s_axis_1_tvalid, .s_axis_1_tready,
        .m_axis_0_tdata, .m_axis_0_tvalid, .m_axis_0_tready
    );
endmodule
