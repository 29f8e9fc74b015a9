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
// the partial products (one 18x18 multiplier each, registered), their sums along M's digits (one row
// per val digit), the product (the rows' sum), the sums shifted, the lines combined (max or min), the
// clamped count. Latency 9 cycles; one beat per cycle.
//
// Timing: a product wider than one ECP5 MULT18X18D / DSP48 port (val over 18 bits or M over 17) is split
// here into partial products of at most 18x18 bits (val in 17-bit digits, the top one signed; M in
// unsigned 17-bit digits), each registered straight out of its multiplier, and added over the next two
// cycles (one carry chain each for up to 2x2 digits); left to Yosys' mul2dsp the split multipliers and
// their carry-chain adders form one 13 ns path. The max/min of two lines and the clamp are a cycle each.
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
    localparam int R = 9;  // positions: val0, read, read register, partial products, rows, product, sums, combined, count
    localparam int D = 17;                                    // digit width of the split operands
    localparam int NA = VAL_BITS <= D + 1 ? 1 : (VAL_BITS - 2) / D + 1;  // val digits (the top one signed, <= 18 bits)
    localparam int NB = (M_BITS + D - 1) / D;                 // M digits (unsigned, <= 17 bits)
    localparam int PPW = 2 * D + 2;                           // a digit product (18 x 18 bits, signed)

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

    // digit i of val, as an 18-bit signed multiplier operand: the low digits zero-extended, the top one
    // sign-extended
    function automatic logic signed [D:0] val_digit(input logic signed [VAL_BITS-1:0] val, input int i);
        logic signed [NA*D+D:0] x;
        x = (NA*D+D+1)'(val);
        val_digit = i == NA - 1 ? (D+1)'(x >>> (i * D)) : {1'b0, D'(x >> (i * D))};
    endfunction

    // digit j of M (unsigned), zero-extended to an 18-bit signed operand
    function automatic logic signed [D:0] m_digit(input logic [M_BITS-1:0] m, input int j);
        logic [NB*D-1:0] x;
        x = (NB*D)'(m);
        m_digit = {1'b0, x[j*D +: D]};
    endfunction

    // row i of the product: val digit i * M, from the partial products (i, j) = val digit i * M digit j
    function automatic logic [PW-1:0] row_sum(input logic [NA*NB*PPW-1:0] pp, input int i);
        logic signed [PW-1:0] s;
        s = '0;
        for (int j = 0; j < NB; j++)
            s = s + (PW'($signed(pp[(i*NB+j)*PPW +: PPW])) <<< (j * D));
        row_sum = s;
    endfunction

    // the product val * M = sum of row i << i*D (mod 2^PW, where it fits)
    function automatic logic signed [PW-1:0] sum_rows(input logic [NA*PW-1:0] rows);
        logic signed [PW-1:0] s;
        s = '0;
        for (int i = 0; i < NA; i++)
            s = s + ($signed(rows[i*PW +: PW]) <<< (i * D));
        sum_rows = s;
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
        logic [NA*NB*PPW-1:0] pp1;          // digit product (i, j) at (i*NB+j)*PPW: val digit i * M digit j
        logic [NA*PW-1:0] row1;             // row i at i*PW
        logic signed [PW-1:0] prod1;
        logic [C_BITS-1:0] c1_3, c1_4, c1_5;
        logic signed [SW-1:0] cnt1, cnt, cnt_q;
        logic [OUT_BITS-1:0] out;

        always_ff @(posedge ap_clk) begin
            if (en) begin
                val0 <= in_val[p*VAL_BITS +: VAL_BITS];
                rd <= mem[nf0];
                val1 <= val0;
                rd_q <= rd;
                val2 <= val1;
                for (int i = 0; i < NA; i++)                                  // 2 -> 3: partial products
                    for (int j = 0; j < NB; j++)
                        pp1[(i*NB+j)*PPW +: PPW] <= val_digit(val2, i) * m_digit(rd_q[M_BITS-1:0], j);
                c1_3 <= rd_q[M_BITS +: C_BITS];
                for (int i = 0; i < NA; i++) row1[i*PW +: PW] <= row_sum(pp1, i);      // 3 -> 4: the rows
                c1_4 <= c1_3;
                prod1 <= sum_rows(row1);                                      // 4 -> 5: the product
                c1_5 <= c1_4;
                cnt1 <= line_count(prod1, c1_5);                              // 5 -> 6: offset, shift
                cnt_q <= cnt;                                                 // 6 -> 7: combine
                out <= OUT_BITS'(32'(clamp(cnt_q)) + ACT_VAL);                // 7 -> 8: clamp
            end
        end

        if (LINES == 2) begin : second_line
            logic [NA*NB*PPW-1:0] pp2;
            logic [NA*PW-1:0] row2;
            logic signed [PW-1:0] prod2;
            logic [C_BITS-1:0] c2_3, c2_4, c2_5;
            logic sel3, sel4, sel5, sel6;
            logic signed [SW-1:0] cnt2;
            always_ff @(posedge ap_clk) begin
                if (en) begin
                    for (int i = 0; i < NA; i++)
                        for (int j = 0; j < NB; j++)
                            pp2[(i*NB+j)*PPW +: PPW] <= val_digit(val2, i) * m_digit(rd_q[LW +: M_BITS], j);
                    c2_3 <= rd_q[LW + M_BITS +: C_BITS];
                    sel3 <= rd_q[2 * LW];
                    for (int i = 0; i < NA; i++) row2[i*PW +: PW] <= row_sum(pp2, i);
                    c2_4 <= c2_3;
                    sel4 <= sel3;
                    prod2 <= sum_rows(row2);
                    c2_5 <= c2_4;
                    sel5 <= sel4;
                    cnt2 <= line_count(prod2, c2_5);
                    sel6 <= sel5;
                end
            end
            assign cnt = sel6 ? (cnt1 > cnt2 ? cnt1 : cnt2) : (cnt1 < cnt2 ? cnt1 : cnt2);
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
