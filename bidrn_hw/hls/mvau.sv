// Matrix-vector activation unit: FINN's MVAU (binaryXnorMode or integer) with optional thresholds.
//
// One input vector of MW elements arrives as SF = MW/SIMD beats of SIMD elements (element j of beat sf is
// vector index sf*SIMD + j). The unit computes MH outputs in NF = MH/PE folds of PE; during fold 0 it
// consumes the input beats and keeps them in a buffer that folds 1..NF-1 reuse. One fold step per cycle:
// NF * SF cycles per vector (FINN's exp_cycles). Each fold ends with one output beat of PE elements.
//
// Arithmetic: XNOR=1: inputs and weights are 1-bit {0,1} codes of bipolar {-1,+1}, each product is
// (x == w) and the accumulator is the popcount (FINN's xnorpopcount). XNOR=0: signed/unsigned integer
// products. N_STEPS > 0: the output is the number of thresholds T[o][k] <= acc plus ACT_VAL (FINN's
// MultiThreshold semantics); N_STEPS = 0: the output is the accumulator.
//
// Memories: WEIGHT_FILE has NF*SF lines, line nf*SF+sf holds the PE*SIMD weights of that fold step
// (element p*SIMD+j = W[sf*SIMD+j][nf*PE+p], W_BITS each, element 0 in the low bits). The thresholds
// T[o][k] (sorted ascending in k) are searched by threshold_search.sv (its header: file layout, latency), or
// where LINES > 0 computed by threshold_lines.sv from one or two lines per channel (threshold_unit.sv).
//
// W_BIPOLAR = 1 (integer products, W_BITS = 1): the weights are 1-bit codes of bipolar -1/+1 (FINN's BIPOLAR
// weightDataType beside a non-bipolar input: CNV-w1a2), half the memory of their 2-bit signed values. RES_TYPE
// "lut" (what the flow sets) sums the dot product as 2 * sum_j (c_j ? x_j : 0) - sum_j x_j, the second sum
// shared by all PE lanes; RES_TYPE "dsp" multiplies by the -1/+1 value (which Yosys builds as logic too).
// RES_TYPE "lut" (integer products only): no multiplications; the dot product is summed by weight bits
// (lut_dot below), so Yosys builds it of LUTs and carry chains instead of DSP blocks (FINN's resType "lut").
// PACK = 1 (integer products only): lanes 2q and 2q+1 share each input element, so one multiplication
// x * (w_2q * 2^PROD_BITS + w_2q+1) gives both products (Xilinx WP486: one DSP48E2, 27 x 18 bits, for two
// int8 products). The low product is the low PROD_BITS bits, signed; the high one is the rest shifted down,
// plus 1 where the low product is negative (its borrow). Exact for any operand values, so the packing is
// a matter of the multiplier's width only: the flow sets PACK where x fits 18 bits and the packed weight
// 27 (bidrn_hw.layers.mvau.pack_products). An odd last lane multiplies alone.
//
// W_LOAD = 1: the weight memory has no initial contents (UltraRAM cannot have any on UltraScale+). After
// reset, weight_loader.sv fills it from s_axis_w (WEIGHT_FILE's lines in order, each as W_WORD_BITS-bit words,
// least significant first) and passes the rest of that stream on at m_axis_w (the next loading layer);
// the unit takes no input before its weights are in. WEIGHT_FILE is then not read.
//
// Pipeline (one fold step per cycle, for timing; mac_pipeline.sv, shared with vvau.sv): issue (counters; the
// weight line index is a counter, not nf*SF+sf) -> operands (synchronous weight and input-buffer reads: block
// RAM) -> operand register (the block RAM's output register) -> dot product (an adder tree per PE lane) ->
// accumulate; a finished fold's accumulators wait in a result register for the search (or the output). The
// whole pipeline holds while the step about to finish a fold finds the result register full, so a blocked
// output stops it exactly where the unpipelined unit would stop.
`include "axis.svh"
module mvau #(
    `MVAU_PARAMS,                   // (axis.svh: RAM_STYLE the weight ROM's synthesis attribute, PACK, W_LOAD)
    parameter int OUT_BITS = 16,
    `THRESHOLD_PARAMS(0, 17),
    localparam int SF = MW / SIMD,
    localparam int NF = MH / PE,
    localparam int IN_BUS = `BUS(SIMD * IN_BITS),
    localparam int OUT_BUS = `BUS(PE * OUT_BITS)
) (
    `AP_CTRL,
    `AXIS_IN(s_axis_0, IN_BUS),
    `AXIS_OUT(m_axis_0, OUT_BUS),
    // W_LOAD = 1: the weight stream (weight_loader.sv) and its pass-through to the next loading layer
    `AXIS_IN(s_axis_w, W_WORD_BITS),
    `AXIS_OUT(m_axis_w, W_WORD_BITS)
);
    localparam int WL = PE * SIMD * W_BITS;
    localparam int XL = SIMD * IN_BITS;
    localparam int SFB = SF > 1 ? $clog2(SF) : 1;
    localparam int NFB = NF > 1 ? $clog2(NF) : 1;
    localparam int WIB = NF * SF > 1 ? $clog2(NF * SF) : 1;
    localparam int LEVELS = SIMD > 1 ? $clog2(SIMD) : 0;
    // Width of one fold step's dot product (signed): a popcount, or SIMD products summed; never wider
    // than the accumulator, which holds the whole vector's sum.
    localparam int PROD_BITS = IN_BITS + W_BITS + 1;
    localparam int DOT_FULL = XNOR != 0 ? $clog2(SIMD + 1) + 1 : PROD_BITS + LEVELS;
    localparam int DOT_BITS = DOT_FULL < ACC_BITS ? DOT_FULL : ACC_BITS;

    (* ram_style = RAM_STYLE *) logic [WL-1:0] wmem [NF*SF];
    logic [XL-1:0] ibuf [SF];
    logic loaded;                          // the weights are in wmem
    generate
        if (W_LOAD != 0) begin : g_load
            logic [WL-1:0] line_data;
            logic [WIB-1:0] line_addr;
            logic line_valid;
            weight_loader #(.WORD_BITS(W_WORD_BITS), .LINE_BITS(WL), .LINES(NF * SF)) loader (
                .ap_clk, .ap_rst_n,
                .s_axis_0_tdata(s_axis_w_tdata), .s_axis_0_tvalid(s_axis_w_tvalid), .s_axis_0_tready(s_axis_w_tready),
                .m_axis_0_tdata(m_axis_w_tdata), .m_axis_0_tvalid(m_axis_w_tvalid), .m_axis_0_tready(m_axis_w_tready),
                .line_data, .line_addr, .line_valid, .done(loaded));
            always_ff @(posedge ap_clk)
                if (line_valid) wmem[line_addr] <= line_data;
            initial begin
                /* verilator lint_off WIDTHEXPAND */
                if (RAM_STYLE != "auto" && RAM_STYLE != "block" && RAM_STYLE != "ultra")
                    $error("mvau: RAM_STYLE of loaded weights must be auto, block or ultra");
                /* verilator lint_on WIDTHEXPAND */
            end
        end else begin : g_rom
            assign loaded = 1'b1;
            assign s_axis_w_tready = 1'b0;
            assign m_axis_w_tvalid = 1'b0;
            assign m_axis_w_tdata = '0;
            initial begin
                /* verilator lint_off WIDTHEXPAND */  // string literals of different lengths
                if (RAM_STYLE != "auto" && RAM_STYLE != "block" && RAM_STYLE != "logic")
                    $error("mvau: RAM_STYLE (the weight ROM) must be auto, block or logic");
                /* verilator lint_on WIDTHEXPAND */
                $readmemh(WEIGHT_FILE, wmem);
            end
            // No weight stream without W_LOAD.
            /* verilator lint_off UNUSEDSIGNAL */
            wire unused_w = ^{s_axis_w_tdata, s_axis_w_tvalid, m_axis_w_tready};
            /* verilator lint_on UNUSEDSIGNAL */
        end
    endgenerate

    initial begin
        /* verilator lint_off WIDTHEXPAND */
        if (RES_TYPE != "dsp" && RES_TYPE != "lut") $error("mvau: RES_TYPE must be dsp or lut");
        if (RES_TYPE == "lut" && PACK != 0) $error("mvau: PACK needs RES_TYPE dsp (packed multiplications)");
        if (W_BIPOLAR != 0 && (XNOR != 0 || W_BITS != 1 || PACK != 0))
            $error("mvau: W_BIPOLAR needs integer products (XNOR = 0), W_BITS = 1 and PACK = 0");
        /* verilator lint_on WIDTHEXPAND */
    end

    // ---- issue, accumulate, activation: the shared pipeline; fold 0 takes the input beats
    logic [SFB-1:0] sf;
    logic [NFB-1:0] nf;
    logic [WIB-1:0] widx;                  // nf*SF + sf
    logic issue, en;
    logic [PE*DOT_BITS-1:0] dots;
    assign s_axis_0_tready = (nf == 0) && en && loaded;
    mac_pipeline #(
        .PE(PE), .SF(SF), .NF(NF), .DOT_BITS(DOT_BITS), .ACC_BITS(ACC_BITS), .OUT_BITS(OUT_BITS), `THRESHOLD_ARGS
    ) u_mac (
        .ap_clk, .ap_rst_n, .step_ok(((nf != 0) || s_axis_0_tvalid) && loaded), .issue, .en, .sf, .nf, .widx,
        .dot(dots), .m_axis_0_tdata, .m_axis_0_tvalid, .m_axis_0_tready
    );

    // ---- operands: registered reads of the weight line and the input buffer, the live beat beside them;
    // then the operand register (the block RAM's output register)
    logic live1;
    logic [WL-1:0] w1, wo;
    logic [XL-1:0] xin1, xbuf1, xo;
    always_ff @(posedge ap_clk) begin
        if (issue) begin
            w1 <= wmem[widx];
            xbuf1 <= ibuf[sf];
            xin1 <= s_axis_0_tdata[XL-1:0];
            live1 <= (nf == 0);
        end
    end
    always_ff @(posedge ap_clk)
        if (issue && nf == 0) ibuf[sf] <= s_axis_0_tdata[XL-1:0];
    always_ff @(posedge ap_clk) begin
        if (en) begin
            wo <= w1;
            xo <= live1 ? xin1 : xbuf1;
        end
    end

    // Packed products (PACK = 1): element j of lane p at (p*SIMD + j)*PROD_BITS of pprod.
    localparam int PAIRS = (PACK != 0 && XNOR == 0) ? PE / 2 : 0;
    localparam int PK_BITS = PROD_BITS + W_BITS + 1;   // w_hi * 2^PROD_BITS + w_lo, signed

    // Products of lanes 2q (high) and 2q+1 (low) for every element: one multiplier per element.
    function automatic logic [2*SIMD*PROD_BITS-1:0] pair_products(input logic [XL-1:0] x, input logic [WL-1:0] w,
                                                                  input int q);
        logic [2*SIMD*PROD_BITS-1:0] r;
        for (int j = 0; j < SIMD; j++) begin
            logic [IN_BITS-1:0] xr;
            logic [W_BITS-1:0] wh, wl;
            logic signed [IN_BITS:0] xv;
            logic signed [PK_BITS-1:0] whv, wlv, packed_w;
            logic signed [IN_BITS+PK_BITS:0] prod;
            logic signed [PROD_BITS-1:0] lo;
            xr = x[j*IN_BITS +: IN_BITS];
            wh = w[(2*q*SIMD + j)*W_BITS +: W_BITS];
            wl = w[((2*q + 1)*SIMD + j)*W_BITS +: W_BITS];
            xv = (IN_SIGNED != 0) ? (IN_BITS+1)'($signed(xr)) : (IN_BITS+1)'($unsigned(xr));
            whv = (W_SIGNED != 0) ? PK_BITS'($signed(wh)) : PK_BITS'($unsigned(wh));
            wlv = (W_SIGNED != 0) ? PK_BITS'($signed(wl)) : PK_BITS'($unsigned(wl));
            packed_w = (whv <<< PROD_BITS) + wlv;
            prod = xv * packed_w;
            lo = prod[PROD_BITS-1:0];
            r[(SIMD + j)*PROD_BITS +: PROD_BITS] = lo;
            r[j*PROD_BITS +: PROD_BITS] = PROD_BITS'(prod >>> PROD_BITS) + PROD_BITS'(lo[PROD_BITS-1]);
        end
        pair_products = r;
    endfunction

    logic [PE*SIMD*PROD_BITS-1:0] pprod;
    for (genvar q = 0; q < PAIRS; q++) begin : pair
        assign pprod[2*q*SIMD*PROD_BITS +: 2*SIMD*PROD_BITS] = pair_products(xo, wo, q);
    end
    if (PAIRS * 2 < PE) begin : unpaired
        assign pprod[PE*SIMD*PROD_BITS-1:PAIRS*2*SIMD*PROD_BITS] = '0;   // lanes with their own products
        /* verilator lint_off UNUSEDSIGNAL */
        wire unused_pprod = ^pprod[PE*SIMD*PROD_BITS-1:PAIRS*2*SIMD*PROD_BITS];
        /* verilator lint_on UNUSEDSIGNAL */
    end

    // Dot product of one fold step for PE p: SIMD terms (XNOR bits, products, or where lane p is packed its
    // products from pp) summed by a balanced adder tree.
    function automatic logic signed [DOT_BITS-1:0] dot(input logic [XL-1:0] x, input logic [WL-1:0] w,
                                                      input logic [PE*SIMD*PROD_BITS-1:0] pp, input int p);
        logic signed [DOT_BITS-1:0] t [SIMD];
        for (int j = 0; j < SIMD; j++) begin
            logic [IN_BITS-1:0] xr;
            logic [W_BITS-1:0] wr;
            logic signed [PROD_BITS-1:0] xv, wv;
            xr = x[j*IN_BITS +: IN_BITS];
            wr = w[(p*SIMD + j)*W_BITS +: W_BITS];
            xv = (IN_SIGNED != 0) ? PROD_BITS'($signed(xr)) : PROD_BITS'($unsigned(xr));
            wv = (W_SIGNED != 0) ? PROD_BITS'($signed(wr)) : PROD_BITS'($unsigned(wr));
            if (W_BIPOLAR != 0) wv = wr[0] ? PROD_BITS'(1) : -PROD_BITS'(1);
            if (p < 2 * PAIRS) t[j] = DOT_BITS'($signed(pp[(p*SIMD + j)*PROD_BITS +: PROD_BITS]));
            else if (XNOR != 0) t[j] = (xr[0] == wr[0]) ? DOT_BITS'(1) : DOT_BITS'(0);
            else t[j] = DOT_BITS'(PROD_BITS'(xv * wv));
        end
        `ADDER_TREE(t, SIMD)
        dot = t[0];
    endfunction

    // RES_TYPE "lut": the dot product by weight bits, sum_j x_j w_j = sum_b (+-2^b) sum_j (w_j[b] ? x_j : 0) (the
    // top bit of a signed weight weighs negative): W_BITS adder trees of the inputs themselves (IN_BITS wide,
    // gated by one weight bit each) and W_BITS - 1 shifted adds per lane; no multiplier, no DSP block.
    // Exact: every sum is taken modulo 2^DOT_BITS, and the whole dot product fits DOT_BITS.
    function automatic logic signed [DOT_BITS-1:0] lut_dot(input logic [XL-1:0] x, input logic [WL-1:0] w,
                                                          input int p);
        logic signed [DOT_BITS-1:0] sum;
        sum = '0;
        for (int b = 0; b < W_BITS; b++) begin
            logic signed [DOT_BITS-1:0] t [SIMD];
            for (int j = 0; j < SIMD; j++) begin
                logic [IN_BITS-1:0] xr;
                xr = x[j*IN_BITS +: IN_BITS];
                if (!w[(p*SIMD + j)*W_BITS + b]) t[j] = '0;
                else t[j] = (IN_SIGNED != 0) ? DOT_BITS'($signed(xr)) : DOT_BITS'($unsigned(xr));
            end
            `ADDER_TREE(t, SIMD)
            if (W_SIGNED != 0 && b == W_BITS - 1) sum = sum - (t[0] <<< b);
            else sum = sum + (t[0] <<< b);
        end
        lut_dot = sum;
    endfunction

    // W_BIPOLAR with RES_TYPE "lut": sum_j x_j, the same for every PE lane (one adder tree).
    function automatic logic signed [DOT_BITS-1:0] input_sum(input logic [XL-1:0] x);
        logic signed [DOT_BITS-1:0] t [SIMD];
        for (int j = 0; j < SIMD; j++) begin
            logic [IN_BITS-1:0] xr;
            xr = x[j*IN_BITS +: IN_BITS];
            t[j] = (IN_SIGNED != 0) ? DOT_BITS'($signed(xr)) : DOT_BITS'($unsigned(xr));
        end
        `ADDER_TREE(t, SIMD)
        input_sum = t[0];
    endfunction
    /* verilator lint_off UNUSEDSIGNAL */  // used by W_BIPOLAR lanes with RES_TYPE "lut" only
    logic signed [DOT_BITS-1:0] xsum;
    /* verilator lint_on UNUSEDSIGNAL */
    if (W_BIPOLAR != 0) begin : g_xsum
        assign xsum = input_sum(xo);
    end else begin : g_no_xsum
        assign xsum = '0;
    end

    // The operand register's dot product per lane, registered (one process per lane: Yosys' proc pass is slow
    // on one process holding them all).
    for (genvar p = 0; p < PE; p++) begin : lane
        /* verilator lint_off WIDTHEXPAND */  // string literals of different lengths
        if (p >= 2 * PAIRS && XNOR == 0 && RES_TYPE == "lut") begin : g_lut
        /* verilator lint_on WIDTHEXPAND */
            always_ff @(posedge ap_clk)
                if (en) dots[p*DOT_BITS +: DOT_BITS] <= (W_BIPOLAR != 0) ? (lut_dot(xo, wo, p) <<< 1) - xsum
                                                                        : lut_dot(xo, wo, p);
        end else begin : g_dot
            always_ff @(posedge ap_clk)
                if (en) dots[p*DOT_BITS +: DOT_BITS] <= dot(xo, wo, pprod, p);
        end
    end
endmodule
