// Multi-threshold activation: FINN's Thresholding. One beat of PE channels in, one beat out.
// out[c] = #{k : x[c] >= T[c][k]} + ACT_VAL. Channels are folded: NF = CH/PE beats per pixel, beat nf
// holds channels nf*PE .. nf*PE+PE-1. THRESH_FILE has one threshold a line, THR_BITS signed: line
// c*N_STEPS + k = T[c][k], sorted ascending in k. A BIPOLAR output is streamed as its {0,1} code: ACT_VAL = 0.
module thresholding #(
    parameter int CH = 4,
    parameter int PE = 2,
    parameter int IN_BITS = 8,
    parameter int IN_SIGNED = 1,
    parameter int N_STEPS = 3,
    parameter int THR_BITS = 9,
    parameter int OUT_BITS = 2,
    parameter int ACT_VAL = 0,
    parameter THRESH_FILE = "",
    localparam int NF = CH / PE,
    localparam int IN_BUS = (PE * IN_BITS + 7) / 8 * 8,
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
    localparam int NFB = NF > 1 ? $clog2(NF) : 1;
    logic [THR_BITS-1:0] tmem [NF*PE*N_STEPS];  // one threshold per entry: direct indexing, no wide words
    initial $readmemh(THRESH_FILE, tmem);

    logic [NFB-1:0] nf;
    logic out_valid;
    logic [PE*OUT_BITS-1:0] out_data;
    wire take = s_axis_0_tvalid && (!out_valid || m_axis_0_tready);
    assign s_axis_0_tready = !out_valid || m_axis_0_tready;

    // Thresholds are sorted ascending per channel (the generator checks), so the count is found by a
    // binary search: SEARCH_STEPS probes instead of N_STEPS comparators; a probe past the last threshold
    // reads as +infinity. It runs in the clocked process (a simulator evaluates it once per clock edge).
    localparam int SEARCH_STEPS = $clog2(N_STEPS + 1);
    function automatic logic [OUT_BITS-1:0] activate(input logic [IN_BITS-1:0] raw, input int c);
        logic signed [THR_BITS:0] x;
        logic [31:0] count, probe;
        x = (IN_SIGNED != 0) ? (THR_BITS+1)'($signed(raw)) : (THR_BITS+1)'($unsigned(raw));
        count = 0;
        for (int j = SEARCH_STEPS - 1; j >= 0; j--) begin
            probe = count + (32'd1 << j) - 32'd1;
            if (probe < 32'(N_STEPS) && x >= (THR_BITS+1)'($signed(tmem[32'(c) * N_STEPS + probe])))
                count = count + (32'd1 << j);
        end
        activate = OUT_BITS'(count + 32'(ACT_VAL));
    endfunction

    always_ff @(posedge ap_clk) begin
        if (!ap_rst_n) begin
            nf <= '0;
            out_valid <= 1'b0;
        end else begin
            if (m_axis_0_tready && out_valid) out_valid <= 1'b0;
            if (take) begin
                out_valid <= 1'b1;
                for (int p = 0; p < PE; p++)
                    out_data[p*OUT_BITS +: OUT_BITS] <= activate(s_axis_0_tdata[p*IN_BITS +: IN_BITS],
                                                                 32'(nf) * PE + p);
                nf <= (32'(nf) == NF - 1) ? '0 : nf + 1'b1;
            end
        end
    end
    assign m_axis_0_tvalid = out_valid;
    assign m_axis_0_tdata = OUT_BUS'(out_data);
endmodule
