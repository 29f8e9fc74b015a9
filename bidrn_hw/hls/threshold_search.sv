// Pipelined binary search of sorted per-channel thresholds: out[p] = #{k : val[p] >= T[c][k]} + ACT_VAL
// for channel c = nf*PE + p (FINN's MultiThreshold semantics), used through threshold_unit.sv.
//
// S = clog2(N_STEPS+1) stages, one comparison each (FINN's RTL thresholding has the same structure): the
// thresholds are padded with +infinity to 2^S - 1 per channel; stage j compares with threshold index
// cnt + 2^(S-1-j) - 1, where cnt (a multiple of 2^(S-j)) is what the stages before found. So stage j only
// ever reads 2^j thresholds per channel, and each stage has its own memory with one synchronous read per
// PE: block RAM where it is deep (folded layers), a few LUTs of constants where it is not.
//
// Memory files, one per stage j and lane p: THRESH_FILE for j = p = 0, otherwise THRESH_FILE with the
// suffix ".sJJpPPP" (decimal). Line nf*2^j + k holds T[nf*PE+p][k*2^(S-j) + 2^(S-1-j) - 1] as THR_BITS
// signed, with bit THR_BITS set (and the value 0) where the index is past the last threshold (+infinity).
//
// Compact tables (the generator's job, layers/thresholds.threshold_table): SHARED = 1 stores one row
// for every channel (line k of lane 0's files, read by every lane). BASE_BITS > 0 adds a per-channel count
// B[c] of thresholds left out below the searched window (always passed), from THRESH_FILE".bPPP" (line nf
// of lane p), so that T above holds only the window of thresholds a value can actually fall between.
//
// Handshake: the whole pipeline advances when `en` is high (the caller drives en = !out_valid || ready);
// in_valid marks a beat entering it. Three cycles per stage, for timing: the read (address from registers),
// the block RAM's output register, the comparison (registered count). Latency 3*S + 1 cycles; one beat per
// cycle.
`include "axis.svh"
module threshold_search #(
    `THRESHOLD_UNIT_PARAMS,
    parameter int THR_BITS = 9,
    parameter int SHARED = 0,       // one threshold row for all channels
    parameter int BASE_BITS = 0     // > 0: per-channel base count from a memory file
) (
    `AP_CTRL,
    `THRESHOLD_PORTS(PE, NFB, VAL_BITS, OUT_BITS)
);
    localparam int S = $clog2(N_STEPS + 1);
    localparam int R = 3 * S;                                   // last position: the result
    localparam int CB = S + 1;                                  // count bits (count <= 2^S - 1)
    localparam int CW = (VAL_BITS > THR_BITS ? VAL_BITS : THR_BITS) + 1;  // comparison width

    // Position r of a beat (0: just entered; stage j reads at 3j -> 3j+1, registers the read at 3j+1 -> 3j+2,
    // compares at 3j+2 -> 3j+3): valid and fold index.
    logic           v   [R+1];
    logic [NFB-1:0] nfr [R+1];

    always_ff @(posedge ap_clk) begin
        if (!ap_rst_n) begin
            for (int r = 0; r <= R; r++) v[r] <= 1'b0;
        end else if (en) begin
            v[0] <= in_valid;
            for (int r = 1; r <= R; r++) v[r] <= v[r-1];
        end
    end

    always_ff @(posedge ap_clk) begin
        if (en) begin
            nfr[0] <= in_nf;
            for (int r = 1; r <= R; r++) nfr[r] <= nfr[r-1];
        end
    end

    // Count after the comparison with threshold t at stage j.
    function automatic logic [CB-1:0] next_count(input int j, input logic signed [VAL_BITS-1:0] x,
                                                 input logic [CB-1:0] c, input logic [THR_BITS:0] t);
        logic ge;
        ge = !t[THR_BITS] && (CW'(x) >= CW'($signed(t[THR_BITS-1:0])));
        next_count = ge ? c + (CB'(1) << (S - 1 - j)) : c;
    endfunction

    function automatic logic [7:0] digit(input int d);
        digit = 8'(48 + d);
    endfunction

    // One lane per PE, each with its own memory per stage (one read port: Yosys maps memories with many
    // read ports poorly), so the files are per stage and lane. Slice r of val and cnt: the beat at position r
    // (the count changes only at the comparisons).
    localparam int TW = THR_BITS + 1;
    localparam int ROWS = SHARED != 0 ? 1 : NF;
    for (genvar p = 0; p < PE; p++) begin : lane
        localparam int FP = SHARED != 0 ? 0 : p;  // the lane whose files this lane reads
        logic [R*VAL_BITS-1:0]     val;
        logic [(R+1)*CB-1:0]       cnt;

        assign cnt[CB-1:0] = '0;
        always_ff @(posedge ap_clk)
            if (en) val[VAL_BITS-1:0] <= in_val[p*VAL_BITS +: VAL_BITS];
        for (genvar r = 1; r < R; r++) begin : carry_value
            always_ff @(posedge ap_clk)
                if (en) val[r*VAL_BITS +: VAL_BITS] <= val[(r-1)*VAL_BITS +: VAL_BITS];
        end

        for (genvar j = 0; j < S; j++) begin : stage
            logic [TW-1:0] mem [ROWS << j];
            localparam int AW = (ROWS << j) > 1 ? $clog2(ROWS << j) : 1;
            localparam int A = 3 * j;  // the position whose registers address the read
            logic [TW-1:0] rd, rd_q;
            if (j == 0 && FP == 0) begin : file0
                initial $readmemh(THRESH_FILE, mem);
            end else begin : filejp
                initial $readmemh({THRESH_FILE, ".s", digit(j / 10), digit(j % 10), "p", digit(FP / 100),
                                   digit(FP / 10 % 10), digit(FP % 10)}, mem);
            end
            // stage j reads threshold row*2^j + (count's top j bits) (the count is a multiple of 2^(S-j) here)
            wire [31:0] row = SHARED != 0 ? 32'd0 : 32'(nfr[A]);
            wire [AW-1:0] addr = AW'((row << j) + 32'(cnt[A*CB +: CB] >> (S - j)));
            always_ff @(posedge ap_clk) begin
                if (en) begin
                    rd <= mem[addr];
                    rd_q <= rd;
                    cnt[(A+1)*CB +: CB] <= cnt[A*CB +: CB];
                    cnt[(A+2)*CB +: CB] <= cnt[(A+1)*CB +: CB];
                    cnt[(A+3)*CB +: CB] <= next_count(j, val[(A+2)*VAL_BITS +: VAL_BITS], cnt[(A+2)*CB +: CB], rd_q);
                end
            end
        end
        // The base count: read beside the last stage (same positions), registered with its comparison.
        logic [31:0] base;
        if (BASE_BITS > 0) begin : base_rom
            logic [BASE_BITS-1:0] bmem [NF];
            logic [BASE_BITS-1:0] b_rd, b_rd_q, b_q;
            initial $readmemh({THRESH_FILE, ".b", digit(p / 100), digit(p / 10 % 10), digit(p % 10)}, bmem);
            always_ff @(posedge ap_clk) begin
                if (en) begin
                    b_rd <= bmem[nfr[R-3]];
                    b_rd_q <= b_rd;
                    b_q <= b_rd_q;
                end
            end
            assign base = 32'(b_q);
        end else begin : no_base
            assign base = 32'd0;
        end
        assign out_data[p*OUT_BITS +: OUT_BITS] = OUT_BITS'(32'(cnt[R*CB +: CB]) + base + 32'(ACT_VAL));
    end

    assign out_valid = v[R];
endmodule
