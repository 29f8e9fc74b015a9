// Vector-vector activation unit: FINN's VVAU (VectorVectorActivation), the depthwise convolution: each
// output channel c is the dot product of channel c's K2 = K_H*K_W window elements with its own K2 weights,
// optionally followed by thresholds.
//
// Folding (FINN's VVAU): PE channels in parallel, SIMD kernel elements in parallel. One output pixel arrives
// as NF*SF beats, NF = CH/PE channel folds (outer) by SF = K2/SIMD kernel folds (inner); a beat holds
// SIMD*PE elements, element s*PE + p (s < SIMD, p < PE) being kernel element sf*SIMD + s of channel
// nf*PE + p. This is FINN's folded input order (Channels/PE, K2, PE) cut into beats of SIMD*PE: what the
// depthwise sliding window generator (swg.sv DEPTHWISE=1, SIMD = PE) produces one kernel position a beat,
// and, through a data-width converter, SIMD positions a beat. Every input element is used once: one fold
// step per cycle, NF*SF cycles per pixel (FINN's get_exp_cycles). Each channel fold ends with one output
// beat of PE elements (channel nf*PE + p at p).
//
// Arithmetic: XNOR=1: inputs and weights are 1-bit {0,1} codes of bipolar {-1,+1}; each product is
// (x == w) and the accumulator is the popcount (FINN's (x.w + K2)/2 for BIPOLAR x BIPOLAR). XNOR=0:
// integer products; IN_BIPOLAR / W_BIPOLAR = 1 read a 1-bit code as -1 (0) or +1 (1) (a BIPOLAR operand
// times an integer one), otherwise values are IN_BITS / W_BITS wide, signed where IN_SIGNED / W_SIGNED.
// RES_TYPE: "dsp" writes each product as a multiplication (Yosys maps it to a DSP block where both operands
// are 2 bits or wider), "lut" as the sum of the weight's shifted partial products (adders and gates only:
// FINN's resType "lut"). N_STEPS > 0: the output is the number of thresholds T[c][k] <= acc plus ACT_VAL
// (threshold_search.sv, or threshold_lines.sv where LINES > 0, as mvau.sv); N_STEPS = 0: the accumulator.
//
// Weight memory: WEIGHT_FILE has NF*SF lines, line nf*SF + sf holds the PE*SIMD weights of that fold step
// (element p*SIMD + s = W[nf*PE + p][sf*SIMD + s], W_BITS each, element 0 in the low bits); read
// synchronously (block RAM where deep), its RAM_STYLE synthesis attribute being FINN's ram_style.
//
// Pipeline (mvau.sv's, mac_pipeline.sv, without its input buffer): issue (counters, weight line index) ->
// operands (weight read, input beat registered) -> operand register -> dot product per lane (registered) ->
// accumulate; a finished fold's accumulators wait in a result register for the activation (or the output).
// The whole pipeline holds while the step about to finish a fold finds the result register full.
`include "axis.svh"
module vvau #(
    parameter int CH = 4,
    parameter int K2 = 9,           // kernel elements, K_H * K_W
    parameter int SIMD = 1,
    parameter int PE = 2,
    parameter int IN_BITS = 4,
    parameter int IN_SIGNED = 1,
    parameter int IN_BIPOLAR = 0,   // 1: the 1-bit input code is -1/+1 (integer mode)
    parameter int W_BITS = 4,
    parameter int W_SIGNED = 1,
    parameter int W_BIPOLAR = 0,    // 1: the 1-bit weight code is -1/+1 (integer mode)
    parameter int XNOR = 0,
    parameter int ACC_BITS = 16,
    parameter int OUT_BITS = 16,
    `THRESHOLD_PARAMS(0, 17),
    parameter WEIGHT_FILE = "",
    parameter RAM_STYLE = "auto",   // the weight ROM's synthesis attribute: "auto", "block" or "logic" (LUTs)
    parameter RES_TYPE = "dsp",     // the products: "dsp" (multiplications) or "lut" (shift and add)
    localparam int SF = K2 / SIMD,
    localparam int NF = CH / PE,
    localparam int IN_BUS = `BUS(SIMD * PE * IN_BITS),
    localparam int OUT_BUS = `BUS(PE * OUT_BITS)
) (
    `AXIS_PIPE(IN_BUS, OUT_BUS)
);
    localparam int WL = PE * SIMD * W_BITS;
    localparam int XL = SIMD * PE * IN_BITS;
    localparam int WIB = NF * SF > 1 ? $clog2(NF * SF) : 1;
    localparam int LEVELS = SIMD > 1 ? $clog2(SIMD) : 0;
    localparam int XV_BITS = IN_BIPOLAR != 0 ? 2 : IN_BITS + 1;   // an input's value, signed
    localparam int WV_BITS = W_BIPOLAR != 0 ? 2 : W_BITS + 1;     // a weight's value, signed
    localparam int PROD_BITS = XV_BITS + WV_BITS;
    localparam int DOT_FULL = XNOR != 0 ? $clog2(SIMD + 1) + 1 : PROD_BITS + LEVELS;
    localparam int DOT_BITS = DOT_FULL < ACC_BITS ? DOT_FULL : ACC_BITS;

    initial begin
        /* verilator lint_off WIDTHEXPAND */  // string literals of different lengths
        if (RAM_STYLE != "auto" && RAM_STYLE != "block" && RAM_STYLE != "logic" && RAM_STYLE != "distributed")
            $error("vvau: RAM_STYLE (the weight ROM) must be auto, block, distributed or logic");
        if (RES_TYPE != "dsp" && RES_TYPE != "lut")
            $error("vvau: RES_TYPE must be dsp or lut");
        /* verilator lint_on WIDTHEXPAND */
        if (K2 % SIMD != 0 || CH % PE != 0)
            $error("vvau: SIMD must divide K2 and PE must divide CH");
    end

    (* ram_style = RAM_STYLE *) logic [WL-1:0] wmem [NF*SF];
    initial $readmemh(WEIGHT_FILE, wmem);

    // ---- issue, accumulate, activation: the shared pipeline; every beat is one fold step
    logic [WIB-1:0] widx;                  // nf*SF + sf
    logic issue, en;
    logic [PE*DOT_BITS-1:0] dots;
    assign s_axis_0_tready = en;
    mac_pipeline #(
        .PE(PE), .SF(SF), .NF(NF), .DOT_BITS(DOT_BITS), .ACC_BITS(ACC_BITS), .OUT_BITS(OUT_BITS), `THRESHOLD_ARGS
    ) u_mac (
        .ap_clk, .ap_rst_n, .step_ok(s_axis_0_tvalid), .issue, .en,
        /* verilator lint_off PINCONNECTEMPTY */
        .sf(), .nf(),                      // (the weight line alone names a step here)
        /* verilator lint_on PINCONNECTEMPTY */
        .widx, .dot(dots), .m_axis_0_tdata, .m_axis_0_tvalid, .m_axis_0_tready
    );
    if (IN_BUS > XL) begin : in_pad
        /* verilator lint_off UNUSEDSIGNAL */
        wire unused_pad = ^s_axis_0_tdata[IN_BUS-1:XL];   // the bus's padding to whole bytes
        /* verilator lint_on UNUSEDSIGNAL */
    end

    // ---- operands: the registered weight read (block RAM) and the input beat beside it; then the operand
    // register (the block RAM's output register)
    logic [WL-1:0] w1, wo;
    logic [XL-1:0] x1, xo;
    always_ff @(posedge ap_clk) begin
        if (issue) begin
            w1 <= wmem[widx];
            x1 <= s_axis_0_tdata[XL-1:0];
        end
    end
    always_ff @(posedge ap_clk) begin
        if (en) begin
            wo <= w1;
            xo <= x1;
        end
    end

    // One product: x * w as a multiplication (RES_TYPE "dsp") or as the weight's shifted partial products
    // summed (RES_TYPE "lut"; the top bit of the signed weight value weighs negative).
    function automatic logic signed [PROD_BITS-1:0] product(input logic [IN_BITS-1:0] xr, input logic [W_BITS-1:0] wr);
        logic signed [XV_BITS-1:0] xv;
        logic signed [WV_BITS-1:0] wv;
        logic signed [PROD_BITS-1:0] xe, sum;
        if (IN_BIPOLAR != 0) xv = xr[0] ? XV_BITS'(1) : -XV_BITS'(1);
        else xv = (IN_SIGNED != 0) ? XV_BITS'($signed(xr)) : XV_BITS'($unsigned(xr));
        if (W_BIPOLAR != 0) wv = wr[0] ? WV_BITS'(1) : -WV_BITS'(1);
        else wv = (W_SIGNED != 0) ? WV_BITS'($signed(wr)) : WV_BITS'($unsigned(wr));
        /* verilator lint_off WIDTHEXPAND */
        if (RES_TYPE == "lut") begin
        /* verilator lint_on WIDTHEXPAND */
            xe = PROD_BITS'(xv);
            sum = '0;
            for (int b = 0; b < WV_BITS; b++) begin
                if (b == WV_BITS - 1) sum = sum - ((xe <<< b) & {PROD_BITS{wv[b]}});
                else sum = sum + ((xe <<< b) & {PROD_BITS{wv[b]}});
            end
            product = sum;
        end else begin
            product = PROD_BITS'(xv * wv);
        end
    endfunction

    // Dot product of one fold step for lane p: SIMD terms summed by a balanced adder tree.
    function automatic logic signed [DOT_BITS-1:0] dot(input logic [XL-1:0] x, input logic [WL-1:0] w, input int p);
        logic signed [DOT_BITS-1:0] t [SIMD];
        for (int s = 0; s < SIMD; s++) begin
            logic [IN_BITS-1:0] xr;
            logic [W_BITS-1:0] wr;
            xr = x[(s*PE + p)*IN_BITS +: IN_BITS];
            wr = w[(p*SIMD + s)*W_BITS +: W_BITS];
            if (XNOR != 0) t[s] = (xr[0] == wr[0]) ? DOT_BITS'(1) : DOT_BITS'(0);
            else t[s] = DOT_BITS'(product(xr, wr));
        end
        `ADDER_TREE(t, SIMD)
        dot = t[0];
    endfunction

    // The operand register's dot product per lane, registered (one process per lane: Yosys' proc pass is slow
    // on one process holding them all).
    for (genvar p = 0; p < PE; p++) begin : lane
        always_ff @(posedge ap_clk)
            if (en) dots[p*DOT_BITS +: DOT_BITS] <= dot(xo, wo, p);
    end
endmodule
