// The activation of a stream of values: out[p] = #{k : val[p] >= T[c][k]} + ACT_VAL for channel c = nf*PE + p
// (FINN's MultiThreshold semantics), the thresholds searched in a table (threshold_search.sv: its header
// gives the memory files' layout and the latency) or, where LINES > 0, computed from one or two lines per
// channel (threshold_lines.sv). Used by thresholding.sv and, after the accumulators, by mac_pipeline.sv
// (mvau.sv, vvau.sv); the build lists the one of the two units its parameters select.
`include "axis.svh"
module threshold_unit #(
    parameter int PE = 1,
    parameter int NF = 1,
    parameter int VAL_BITS = 8,     // signed width of the values
    parameter int OUT_BITS = 1,
    `THRESHOLD_PARAMS(1, 9),
    localparam int NFB = NF > 1 ? $clog2(NF) : 1
) (
    `AP_CTRL,
    `THRESHOLD_PORTS(PE, NFB, VAL_BITS, OUT_BITS)
);
    if (LINES > 0) begin : lines
        threshold_lines #(
            .PE(PE), .NF(NF), .N_STEPS(N_STEPS), .VAL_BITS(VAL_BITS), .OUT_BITS(OUT_BITS), .ACT_VAL(ACT_VAL),
            .LINES(LINES), .M_BITS(M_BITS), .C_BITS(C_BITS), .SHIFT(SHIFT), .THRESH_FILE(THRESH_FILE)
        ) u_lines (.ap_clk, .ap_rst_n, .en, .in_valid, .in_nf, .in_val, .out_valid, .out_data);
    end else begin : table_search
        threshold_search #(
            .PE(PE), .NF(NF), .N_STEPS(N_STEPS), .VAL_BITS(VAL_BITS), .THR_BITS(THR_BITS), .OUT_BITS(OUT_BITS),
            .ACT_VAL(ACT_VAL), .SHARED(SHARED), .BASE_BITS(BASE_BITS), .THRESH_FILE(THRESH_FILE)
        ) u_search (.ap_clk, .ap_rst_n, .en, .in_valid, .in_nf, .in_val, .out_valid, .out_data);
    end
endmodule
