// Pipelined binary search of sorted per-channel thresholds: out[p] = #{k : val[p] >= T[c][k]} + ACT_VAL
// for channel c = nf*PE + p (FINN's MultiThreshold semantics), used by mvau.sv and thresholding.sv.
//
// S = clog2(N_STEPS+1) stages, one comparison each (FINN's RTL thresholding has the same structure): the
// thresholds are padded with +infinity to 2^S - 1 per channel; stage j compares with threshold index
// cnt + 2^(S-1-j) - 1, where cnt (a multiple of 2^(S-j)) is what the stages before found. So stage j only
// ever reads 2^j thresholds per channel, and each stage has its own memory with one synchronous read per
// PE: block RAM where it is deep (folded layers), a few LUTs of constants where it is not.
//
// Memory files: stage 0 reads THRESH_FILE, stage j >= 1 reads THRESH_FILE with the suffix ".sJJ" (two
// digits). Line (p*NF + nf)*2^j + k of stage j holds T[nf*PE+p][k*2^(S-j) + 2^(S-1-j) - 1] as THR_BITS
// signed, with bit THR_BITS set (and the value 0) where the index is past the last threshold (+infinity).
//
// Handshake: the whole pipeline advances when `en` is high (the caller drives en = !out_valid || ready);
// in_valid marks a beat entering it. Latency S + 1 cycles; one beat per cycle.
module threshold_search #(
    parameter int PE = 1,
    parameter int NF = 1,
    parameter int N_STEPS = 1,
    parameter int VAL_BITS = 8,     // signed width of the searched values
    parameter int THR_BITS = 9,
    parameter int OUT_BITS = 1,
    parameter int ACT_VAL = 0,
    parameter THRESH_FILE = "",
    localparam int NFB = NF > 1 ? $clog2(NF) : 1
) (
    input  logic                     ap_clk,
    input  logic                     ap_rst_n,
    input  logic                     en,
    input  logic                     in_valid,
    input  logic [NFB-1:0]           in_nf,
    input  logic [PE*VAL_BITS-1:0]   in_val,
    output logic                     out_valid,
    output logic [PE*OUT_BITS-1:0]   out_data
);
    localparam int S = $clog2(N_STEPS + 1);
    localparam int CB = S + 1;                                  // count bits (count <= 2^S - 1)
    localparam int CW = (VAL_BITS > THR_BITS ? VAL_BITS : THR_BITS) + 1;  // comparison width

    // Pipeline registers: position r holds a beat after r comparisons (r = 0: just entered).
    logic                       v   [S+1];
    logic [NFB-1:0]             nfr [S+1];
    logic signed [VAL_BITS-1:0] val [S+1][PE];
    logic [CB-1:0]              cnt [S+1][PE];
    logic [THR_BITS:0]          rd  [S][PE];                    // threshold read for the beat at position j

    // Count after the comparison at position j (combinational, feeds position j+1 and memory j+1).
    function automatic logic [CB-1:0] next_count(input int j, input logic signed [VAL_BITS-1:0] x,
                                                 input logic [CB-1:0] c, input logic [THR_BITS:0] t);
        logic ge;
        ge = !t[THR_BITS] && (CW'(x) >= CW'($signed(t[THR_BITS-1:0])));
        next_count = ge ? c + (CB'(1) << (S - 1 - j)) : c;
    endfunction

    for (genvar j = 0; j < S; j++) begin : stage
        localparam int DEPTH = PE * NF * (1 << j);
        logic [THR_BITS:0] mem [DEPTH];
        if (j == 0) begin : file0
            initial $readmemh(THRESH_FILE, mem);
        end else begin : filej
            initial $readmemh({THRESH_FILE, ".s", 8'(48 + j / 10), 8'(48 + j % 10)}, mem);
        end
        // The read for position j is issued as the beat moves into it: from the input (j = 0) or from
        // position j-1 with the count that comparison produced.
        always_ff @(posedge ap_clk) begin
            if (en) begin
                for (int p = 0; p < PE; p++) begin
                    logic [CB-1:0] c;
                    logic [NFB-1:0] n;
                    if (j == 0) begin
                        c = '0;
                        n = in_nf;
                    end else begin
                        c = next_count(j - 1, val[j-1][p], cnt[j-1][p], rd[j-1][p]);
                        n = nfr[j-1];
                    end
                    rd[j][p] <= mem[(32'(p) * NF + 32'(n)) * (1 << j) + 32'(c >> (S - j))];
                end
            end
        end
    end

    always_ff @(posedge ap_clk) begin
        if (!ap_rst_n) begin
            for (int r = 0; r <= S; r++) v[r] <= 1'b0;
        end else if (en) begin
            v[0] <= in_valid;
            for (int r = 1; r <= S; r++) v[r] <= v[r-1];
        end
    end

    always_ff @(posedge ap_clk) begin
        if (en) begin
            nfr[0] <= in_nf;
            for (int p = 0; p < PE; p++) begin
                val[0][p] <= in_val[p*VAL_BITS +: VAL_BITS];
                cnt[0][p] <= '0;
            end
            for (int r = 1; r <= S; r++) begin
                nfr[r] <= nfr[r-1];
                for (int p = 0; p < PE; p++) begin
                    val[r][p] <= val[r-1][p];
                    cnt[r][p] <= next_count(r - 1, val[r-1][p], cnt[r-1][p], rd[r-1][p]);
                end
            end
        end
    end

    assign out_valid = v[S];
    always_comb
        for (int p = 0; p < PE; p++) out_data[p*OUT_BITS +: OUT_BITS] = OUT_BITS'(32'(cnt[S][p]) + 32'(ACT_VAL));
endmodule
