// Thresholds computed instead of stored: out[p] = #{k : val[p] >= T[c][k]} + ACT_VAL for channel
// c = nf*PE + p (FINN's MultiThreshold semantics, as threshold_search.sv), for tables whose levels lie on one
// or two lines per channel (layers/threshold_lines.py finds them and checks every level exactly):
//
//     c_i = (val * M_i + C_i) >>> SHIFT                       (M_i > 0)
//     count = clamp(c_1, 0, N_STEPS)                          LINES = 1
//     count = clamp(SEL ? max(c_1, c_2) : min(c_1, c_2), 0, N_STEPS)  LINES = 2
//
// One word per channel instead of N_STEPS thresholds: a BiDRN requantization (BN, weight scale, RPReLU)
// needs 2 * (M_BITS + C_BITS) + 1 bits where the search stores 255 thresholds.
//
// Memory file per lane p: THRESH_FILE for p = 0, otherwise THRESH_FILE with the suffix ".lPPP" (decimal);
// line nf holds channel nf*PE + p as {SEL, C_2, M_2, C_1, M_1} (M_1 in the low bits; M unsigned, C two's complement; SEL, C_2 and M_2
// only where LINES = 2).
//
// Handshake as threshold_search.sv: the pipeline advances when `en` is high; in_valid marks a beat
// entering it. Positions: the read (address registered with the value), the memory's output register,
// the products (DSP), the sums shifted, the clamped count. Latency 6 cycles; one beat per cycle.
`include "axis.svh"
module threshold_lines #(
    `THRESHOLD_UNIT_PARAMS,
    parameter int LINES = 1,
    parameter int M_BITS = 8,
    parameter int C_BITS = 16,
    parameter int SHIFT = 0
) (
    `AP_CTRL,
    `THRESHOLD_PORTS(PE, NFB, VAL_BITS, OUT_BITS)
);
    localparam int LW = M_BITS + C_BITS;                      // one line's word
    localparam int WW = LINES == 2 ? 2 * LW + 1 : LW;         // a channel's word
    localparam int PW = VAL_BITS + M_BITS + 1;                // product
    localparam int SW0 = (PW > C_BITS ? PW : C_BITS) + 1;     // sum
    localparam int SW = SW0 > 12 ? SW0 : 12;                  // wide enough to compare with N_STEPS <= 2^10
    localparam int R = 6;                                     // positions: val0, read, read register, products, sums, count

    initial
        if (N_STEPS < 1 || N_STEPS > 1023 || (LINES != 1 && LINES != 2))
            $error("threshold_lines: N_STEPS must be 1..1023 (the count is 11 bits) and LINES 1 or 2");

    logic v [R];
    always_ff @(posedge ap_clk) begin
        if (!ap_rst_n) begin
            for (int r = 0; r < R; r++) v[r] <= 1'b0;
        end else if (en) begin
            v[0] <= in_valid;
            for (int r = 1; r < R; r++) v[r] <= v[r-1];
        end
    end
    assign out_valid = v[R-1];

    logic [NFB-1:0] nf0;
    always_ff @(posedge ap_clk)
        if (en) nf0 <= in_nf;

    function automatic logic [7:0] digit(input int d);
        digit = 8'(48 + d);
    endfunction

    function automatic logic signed [SW-1:0] line_count(input logic signed [PW-1:0] prod,
                                                       input logic [C_BITS-1:0] c);
        logic signed [SW-1:0] sum;
        sum = SW'(prod) + SW'($signed(c));
        line_count = sum >>> SHIFT;
    endfunction

    for (genvar p = 0; p < PE; p++) begin : lane
        logic [WW-1:0] mem [NF];
        if (p == 0) begin : file0
            initial $readmemh(THRESH_FILE, mem);
        end else begin : filep
            initial $readmemh({THRESH_FILE, ".l", digit(p / 100), digit(p / 10 % 10), digit(p % 10)}, mem);
        end

        logic signed [VAL_BITS-1:0] val0, val1, val2;
        logic [WW-1:0] rd, rd_q;
        logic signed [PW-1:0] prod1;
        logic [C_BITS-1:0] c1_3;
        logic signed [SW-1:0] cnt1, cnt;
        logic [OUT_BITS-1:0] out;

        always_ff @(posedge ap_clk) begin
            if (en) begin
                val0 <= in_val[p*VAL_BITS +: VAL_BITS];
                rd <= mem[nf0];
                val1 <= val0;
                rd_q <= rd;
                val2 <= val1;
                prod1 <= PW'(val2) * PW'($signed({1'b0, rd_q[M_BITS-1:0]}));  // 2 -> 3: the product
                c1_3 <= rd_q[M_BITS +: C_BITS];
                cnt1 <= line_count(prod1, c1_3);                              // 3 -> 4: offset, shift
                out <= OUT_BITS'(32'(clamp(cnt)) + ACT_VAL);                  // 4 -> 5: combine, clamp
            end
        end

        if (LINES == 2) begin : second_line
            logic signed [PW-1:0] prod2;
            logic [C_BITS-1:0] c2_3;
            logic sel3, sel4;
            logic signed [SW-1:0] cnt2;
            always_ff @(posedge ap_clk) begin
                if (en) begin
                    prod2 <= PW'(val2) * PW'($signed({1'b0, rd_q[LW +: M_BITS]}));
                    c2_3 <= rd_q[LW + M_BITS +: C_BITS];
                    sel3 <= rd_q[2 * LW];
                    cnt2 <= line_count(prod2, c2_3);
                    sel4 <= sel3;
                end
            end
            assign cnt = sel4 ? (cnt1 > cnt2 ? cnt1 : cnt2) : (cnt1 < cnt2 ? cnt1 : cnt2);
        end else begin : one_line
            assign cnt = cnt1;
        end
        assign out_data[p*OUT_BITS +: OUT_BITS] = out;
    end

    function automatic logic [10:0] clamp(input logic signed [SW-1:0] c);
        if (c < 0) clamp = '0;
        else if (c > SW'(N_STEPS)) clamp = 11'(N_STEPS);
        else clamp = 11'(c);
    endfunction
endmodule
