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
// T[o][k] (sorted ascending in k) are searched by threshold_search.sv (its header: file layout, latency).
// The accumulators of a finished fold wait in a result register for the search (or the output).
module mvau #(
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
    parameter int OUT_BITS = 16,
    parameter int ACT_VAL = 0,
    parameter WEIGHT_FILE = "",
    parameter THRESH_FILE = "",
    localparam int SF = MW / SIMD,
    localparam int NF = MH / PE,
    localparam int IN_BUS = (SIMD * IN_BITS + 7) / 8 * 8,
    localparam int OUT_BUS = (PE * OUT_BITS + 7) / 8 * 8
) (
    input  logic               ap_clk,
    input  logic               ap_rst_n,
    input  logic [IN_BUS-1:0]  s_axis_0_tdata,
    input  logic               s_axis_0_tvalid,
    output logic               s_axis_0_tready,
    output logic [OUT_BUS-1:0] m_axis_0_tdata,
    output logic               m_axis_0_tvalid,
    input  logic               m_axis_0_tready
);
    localparam int WL = PE * SIMD * W_BITS;
    localparam int SFB = SF > 1 ? $clog2(SF) : 1;
    localparam int NFB = NF > 1 ? $clog2(NF) : 1;

    logic [WL-1:0] wmem [NF*SF];
    logic [SIMD*IN_BITS-1:0] ibuf [SF];
    initial $readmemh(WEIGHT_FILE, wmem);

    logic [SFB-1:0] sf;
    logic [NFB-1:0] nf;
    logic res_valid;                       // result register: the accumulators of the last finished fold
    logic [NFB-1:0] res_nf;
    logic [PE*ACC_BITS-1:0] res_acc;
    wire res_ready;

    wire last_sf = (32'(sf) == SF - 1);
    wire in_ok = (nf != 0) || s_axis_0_tvalid;
    wire out_ok = !last_sf || !res_valid || res_ready;
    wire step = in_ok && out_ok;
    assign s_axis_0_tready = (nf == 0) && out_ok;

    wire [SIMD*IN_BITS-1:0] x_now = (nf == 0) ? s_axis_0_tdata[SIMD*IN_BITS-1:0] : ibuf[sf];
    wire [WL-1:0] w_now = wmem[32'(nf) * SF + 32'(sf)];

    // The arithmetic runs in the clocked process (functions of the current beat and state), so a simulator
    // evaluates it once per clock edge rather than on every input change.

    // Dot product of this fold step for PE p.
    function automatic logic signed [ACC_BITS-1:0] dot(input logic [SIMD*IN_BITS-1:0] x, input logic [WL-1:0] w,
                                                      input int p);
        logic signed [ACC_BITS-1:0] sum;
        sum = '0;
        for (int j = 0; j < SIMD; j++) begin
            logic [IN_BITS-1:0] xr;
            logic [W_BITS-1:0] wr;
            logic signed [ACC_BITS-1:0] xv, wv;
            xr = x[j*IN_BITS +: IN_BITS];
            wr = w[(p*SIMD + j)*W_BITS +: W_BITS];
            xv = (IN_SIGNED != 0) ? ACC_BITS'($signed(xr)) : ACC_BITS'($unsigned(xr));
            wv = (W_SIGNED != 0) ? ACC_BITS'($signed(wr)) : ACC_BITS'($unsigned(wr));
            if (XNOR != 0) sum = sum + ((xr[0] == wr[0]) ? ACC_BITS'(1) : ACC_BITS'(0));
            else sum = sum + ACC_BITS'(xv * wv);
        end
        dot = sum;
    endfunction

    always_ff @(posedge ap_clk) begin
        if (!ap_rst_n) begin
            sf <= '0;
            nf <= '0;
            res_valid <= 1'b0;
        end else begin
            if (res_ready && res_valid) res_valid <= 1'b0;
            if (step) begin
                if (last_sf) begin
                    res_valid <= 1'b1;
                    res_nf <= nf;
                    sf <= '0;
                    nf <= (32'(nf) == NF - 1) ? '0 : nf + 1'b1;
                end else begin
                    sf <= sf + 1'b1;
                end
            end
        end
    end

    always_ff @(posedge ap_clk)
        if (step && nf == 0) ibuf[sf] <= s_axis_0_tdata[SIMD*IN_BITS-1:0];

    // One process per PE lane (small processes: Yosys' proc pass is slow on one process holding them all).
    for (genvar p = 0; p < PE; p++) begin : lane
        logic signed [ACC_BITS-1:0] acc, res;
        always_ff @(posedge ap_clk) begin
            if (step) begin
                logic signed [ACC_BITS-1:0] acc_next;
                acc_next = ((sf == 0) ? ACC_BITS'(0) : acc) + dot(x_now, w_now, p);
                acc <= acc_next;
                if (last_sf) res <= acc_next;
            end
        end
        assign res_acc[p*ACC_BITS +: ACC_BITS] = res;
    end

    if (N_STEPS == 0) begin : no_activation
        logic [PE*OUT_BITS-1:0] out_data;
        always_comb
            for (int p = 0; p < PE; p++) out_data[p*OUT_BITS +: OUT_BITS] = OUT_BITS'($signed(res_acc[p*ACC_BITS +: ACC_BITS]));
        assign res_ready = m_axis_0_tready;
        // Waiver: the fold index of a result only selects thresholds, and there are none here.
        /* verilator lint_off UNUSEDSIGNAL */
        wire unused_nf = ^res_nf;
        /* verilator lint_on UNUSEDSIGNAL */
        assign m_axis_0_tvalid = res_valid;
        assign m_axis_0_tdata = OUT_BUS'(out_data);
    end else begin : activation
        logic search_valid;
        logic [PE*OUT_BITS-1:0] search_data;
        assign res_ready = !search_valid || m_axis_0_tready;
        threshold_search #(
            .PE(PE), .NF(NF), .N_STEPS(N_STEPS), .VAL_BITS(ACC_BITS), .THR_BITS(THR_BITS), .OUT_BITS(OUT_BITS),
            .ACT_VAL(ACT_VAL), .THRESH_FILE(THRESH_FILE)
        ) search (
            .ap_clk, .ap_rst_n, .en(res_ready), .in_valid(res_valid), .in_nf(res_nf), .in_val(res_acc),
            .out_valid(search_valid), .out_data(search_data)
        );
        assign m_axis_0_tvalid = search_valid;
        assign m_axis_0_tdata = OUT_BUS'(search_data);
    end
endmodule
