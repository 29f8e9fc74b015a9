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
// s_axis_1 sized by the flow (the rows of the convolution's window it must wait for).
module mvau_residual #(
    parameter int MW = 8,
    parameter int MH = 4,
    parameter int SIMD = 2,
    parameter int PE = 2,
    parameter int IN_BITS = 4,
    parameter int IN_SIGNED = 1,
    parameter int W_BITS = 4,
    parameter int W_SIGNED = 1,
    parameter int XNOR = 0,
    parameter int ACC_BITS = 16,
    parameter int N_STEPS = 0,
    parameter int THR_BITS = 17,
    parameter int Y_BITS = 16,      // the MVAU's output (its OUT_BITS)
    parameter int Y_SIGNED = 1,
    parameter int ACT_VAL = 0,
    parameter int SHARED = 0,
    parameter int BASE_BITS = 0,
    parameter int LINES = 0,
    parameter int M_BITS = 1,
    parameter int C_BITS = 1,
    parameter int SHIFT = 0,
    parameter WEIGHT_FILE = "",
    parameter THRESH_FILE = "",
    parameter RAM_STYLE = "auto",
    parameter int PACK = 0,
    parameter RES_TYPE = "dsp",     // mvau.sv: integer products as multiplications (dsp) or adder trees (lut)
    parameter int W_LOAD = 0,
    parameter int W_WORD_BITS = 32,
    parameter int SKIP_BITS = 8,
    parameter int SKIP_SIGNED = 1,
    parameter int OFFSET = 0,
    parameter int SAT_LO = -128,
    parameter int SAT_HI = 127,
    parameter int OUT_BITS = 8,
    localparam int IN_BUS = (SIMD * IN_BITS + 7) / 8 * 8,
    localparam int Y_BUS = (PE * Y_BITS + 7) / 8 * 8,
    localparam int SKIP_BUS = (PE * SKIP_BITS + 7) / 8 * 8,
    localparam int OUT_BUS = (PE * OUT_BITS + 7) / 8 * 8
) (
    input  logic                ap_clk,
    input  logic                ap_rst_n,
    input  logic [IN_BUS-1:0]   s_axis_0_tdata,
    input  logic                s_axis_0_tvalid,
    output logic                s_axis_0_tready,
    input  logic [SKIP_BUS-1:0] s_axis_1_tdata,
    input  logic                s_axis_1_tvalid,
    output logic                s_axis_1_tready,
    output logic [OUT_BUS-1:0]  m_axis_0_tdata,
    output logic                m_axis_0_tvalid,
    input  logic                m_axis_0_tready,
    input  logic [W_WORD_BITS-1:0] s_axis_w_tdata,
    input  logic                   s_axis_w_tvalid,
    output logic                   s_axis_w_tready,
    output logic [W_WORD_BITS-1:0] m_axis_w_tdata,
    output logic                   m_axis_w_tvalid,
    input  logic                   m_axis_w_tready
);
    logic [Y_BUS-1:0] y_data;
    logic y_valid, y_ready;

    mvau #(
        .MW(MW), .MH(MH), .SIMD(SIMD), .PE(PE), .IN_BITS(IN_BITS), .IN_SIGNED(IN_SIGNED), .W_BITS(W_BITS),
        .W_SIGNED(W_SIGNED), .XNOR(XNOR), .ACC_BITS(ACC_BITS), .N_STEPS(N_STEPS), .THR_BITS(THR_BITS),
        .OUT_BITS(Y_BITS), .ACT_VAL(ACT_VAL), .SHARED(SHARED), .BASE_BITS(BASE_BITS), .LINES(LINES),
        .M_BITS(M_BITS), .C_BITS(C_BITS), .SHIFT(SHIFT), .WEIGHT_FILE(WEIGHT_FILE), .THRESH_FILE(THRESH_FILE),
        .RAM_STYLE(RAM_STYLE), .PACK(PACK), .RES_TYPE(RES_TYPE), .W_LOAD(W_LOAD), .W_WORD_BITS(W_WORD_BITS)
    ) u_mvau (
        .ap_clk, .ap_rst_n,
        .s_axis_0_tdata, .s_axis_0_tvalid, .s_axis_0_tready,
        .m_axis_0_tdata(y_data), .m_axis_0_tvalid(y_valid), .m_axis_0_tready(y_ready),
        .s_axis_w_tdata, .s_axis_w_tvalid, .s_axis_w_tready,
        .m_axis_w_tdata, .m_axis_w_tvalid, .m_axis_w_tready
    );

    // Wide enough for any sum of y, the skip and the offset (|OFFSET| < 2^(W0 - 2), checked by the generator)
    // and for the saturation bounds (values of the OUT_BITS output type).
    localparam int IN_MAX = Y_BITS > SKIP_BITS ? Y_BITS : SKIP_BITS;
    localparam int W0 = IN_MAX > OUT_BITS ? IN_MAX : OUT_BITS;
    localparam int SUM_W = W0 + 3;

    logic slot_free, fire, out_valid;
    logic [PE*OUT_BITS-1:0] sat, out_data;
    assign slot_free = !out_valid || m_axis_0_tready;
    assign fire = y_valid && s_axis_1_tvalid && slot_free;
    assign y_ready = s_axis_1_tvalid && slot_free;
    assign s_axis_1_tready = y_valid && slot_free;

    for (genvar i = 0; i < PE; i++) begin : g_lane
        logic [Y_BITS-1:0] a;
        logic [SKIP_BITS-1:0] b;
        logic signed [SUM_W-1:0] a_ext, b_ext, s, c;
        assign a = y_data[i*Y_BITS +: Y_BITS];
        assign b = s_axis_1_tdata[i*SKIP_BITS +: SKIP_BITS];
        assign a_ext = Y_SIGNED != 0 ? SUM_W'($signed(a)) : SUM_W'($signed({1'b0, a}));
        assign b_ext = SKIP_SIGNED != 0 ? SUM_W'($signed(b)) : SUM_W'($signed({1'b0, b}));
        assign s = a_ext + b_ext + SUM_W'(OFFSET);
        assign c = s < SUM_W'(SAT_LO) ? SUM_W'(SAT_LO) : (s > SUM_W'(SAT_HI) ? SUM_W'(SAT_HI) : s);
        assign sat[i*OUT_BITS +: OUT_BITS] = c[OUT_BITS-1:0];
        // The bits above OUT_BITS are the sign extension of the clamped value.
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
        if (fire) out_data <= sat;

    assign m_axis_0_tvalid = out_valid;
    assign m_axis_0_tdata = OUT_BUS'(out_data);

    // Bus padding bits carry no data.
    /* verilator lint_off UNUSEDSIGNAL */
    wire unused_pad = ^{y_data, s_axis_1_tdata};
    /* verilator lint_on UNUSEDSIGNAL */
endmodule
