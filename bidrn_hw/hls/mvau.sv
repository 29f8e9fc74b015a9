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
// (element p*SIMD+j = W[sf*SIMD+j][nf*PE+p], W_BITS each, element 0 in the low bits). THRESH_FILE has one
// threshold a line, THR_BITS signed, line (nf*PE + p)*N_STEPS + k = T[nf*PE+p][k], sorted ascending in k.
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
    localparam int N_THR = N_STEPS > 0 ? N_STEPS : 1;  // N_STEPS = 0: no thresholds (the search is not built)
    localparam int SEARCH_STEPS = $clog2(N_THR + 1);

    logic [WL-1:0] wmem [NF*SF];
    logic [THR_BITS-1:0] tmem [NF*PE*N_THR];  // one threshold per entry: direct indexing, no wide words
    logic [SIMD*IN_BITS-1:0] ibuf [SF];
    initial begin
        $readmemh(WEIGHT_FILE, wmem);
        if (N_STEPS > 0) $readmemh(THRESH_FILE, tmem);
    end

    logic [SFB-1:0] sf;
    logic [NFB-1:0] nf;
    logic signed [ACC_BITS-1:0] acc [PE];
    logic out_valid;
    logic [PE*OUT_BITS-1:0] out_data;

    wire last_sf = (32'(sf) == SF - 1);
    wire in_ok = (nf != 0) || s_axis_0_tvalid;
    wire out_ok = !last_sf || !out_valid || m_axis_0_tready;
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

    // Output of channel c for accumulator a: the number of thresholds <= a (binary search over the sorted
    // thresholds, see thresholding.sv) plus ACT_VAL, or the accumulator itself without thresholds.
    function automatic logic [OUT_BITS-1:0] activate(input logic signed [ACC_BITS-1:0] a, input int c);
        logic [31:0] count, probe;
        logic signed [THR_BITS-1:0] aw;
        aw = THR_BITS'(a);
        count = 0;
        for (int j = SEARCH_STEPS - 1; j >= 0; j--) begin
            probe = count + (32'd1 << j) - 32'd1;
            if (probe < 32'(N_THR) && aw >= $signed(tmem[32'(c) * N_THR + probe])) count = count + (32'd1 << j);
        end
        if (N_STEPS == 0) activate = OUT_BITS'(a);
        else activate = OUT_BITS'(count + 32'(ACT_VAL));
    endfunction

    always_ff @(posedge ap_clk) begin
        if (!ap_rst_n) begin
            sf <= '0;
            nf <= '0;
            out_valid <= 1'b0;
        end else begin
            if (m_axis_0_tready && out_valid) out_valid <= 1'b0;
            if (step) begin
                if (nf == 0) ibuf[sf] <= s_axis_0_tdata[SIMD*IN_BITS-1:0];
                for (int p = 0; p < PE; p++) begin
                    logic signed [ACC_BITS-1:0] acc_next;
                    acc_next = ((sf == 0) ? ACC_BITS'(0) : acc[p]) + dot(x_now, w_now, p);
                    acc[p] <= acc_next;
                    if (last_sf) out_data[p*OUT_BITS +: OUT_BITS] <= activate(acc_next, 32'(nf) * PE + p);
                end
                if (last_sf) begin
                    out_valid <= 1'b1;
                    sf <= '0;
                    nf <= (32'(nf) == NF - 1) ? '0 : nf + 1'b1;
                end else begin
                    sf <= sf + 1'b1;
                end
            end
        end
    end

    assign m_axis_0_tvalid = out_valid;
    assign m_axis_0_tdata = OUT_BUS'(out_data);
endmodule
