// Multi-threshold activation: FINN's Thresholding. One beat of PE channels in, one beat out.
// out[c] = #{k : x[c] >= T[c][k]} + ACT_VAL. Channels are folded: NF = CH/PE beats per pixel, beat nf
// holds channels nf*PE .. nf*PE+PE-1. The thresholds T[c][k] (sorted ascending in k) are searched by
// threshold_search.sv, whose header gives the memory files' layout (one file per search stage), or
// computed by threshold_lines.sv (LINES > 0): threshold_unit.sv. A BIPOLAR
// output is streamed as its {0,1} code: ACT_VAL = 0. Latency 3*clog2(N_STEPS+1) + 1 cycles, one beat a cycle.
`include "axis.svh"
module thresholding #(
    parameter int CH = 4,
    `LANE_PARAMS(2, 8, 1, 2),
    `THRESHOLD_PARAMS(3, 9),
    localparam int NF = CH / PE,
    `LANE_BUSES
) (
    `AXIS_PIPE(IN_BUS, OUT_BUS)
);
    localparam int NFB = NF > 1 ? $clog2(NF) : 1;
    localparam int VAL_BITS = IN_BITS + 1;  // the input as a signed value

    logic [NFB-1:0] nf;
    logic search_valid;
    logic [PE*OUT_BITS-1:0] search_data;
    logic [PE*VAL_BITS-1:0] in_val;
    wire en = !search_valid || m_axis_0_tready;
    assign s_axis_0_tready = en;

    always_comb
        for (int p = 0; p < PE; p++)
            in_val[p*VAL_BITS +: VAL_BITS] = (IN_SIGNED != 0) ? VAL_BITS'($signed(s_axis_0_tdata[p*IN_BITS +: IN_BITS]))
                                                             : VAL_BITS'(s_axis_0_tdata[p*IN_BITS +: IN_BITS]);

    always_ff @(posedge ap_clk) begin
        if (!ap_rst_n) nf <= '0;
        else if (en && s_axis_0_tvalid) nf <= (32'(nf) == NF - 1) ? '0 : nf + 1'b1;
    end

    threshold_unit #(.PE(PE), .NF(NF), .VAL_BITS(VAL_BITS), .OUT_BITS(OUT_BITS), `THRESHOLD_ARGS) u_thresholds (
        .ap_clk, .ap_rst_n, .en, .in_valid(s_axis_0_tvalid), .in_nf(nf), .in_val,
        .out_valid(search_valid), .out_data(search_data)
    );

    assign m_axis_0_tvalid = search_valid;
    assign m_axis_0_tdata = OUT_BUS'(search_data);
endmodule
