// The fold-step pipeline of the matrix-vector units (mvau.sv, vvau.sv): the issue counters, the control of
// the operand stages, the accumulators, the result register and the activation (threshold_unit.sv, or none
// where N_STEPS = 0). A vector is NF output beats of PE lanes; each lane sums the dot products of SF fold
// steps (acc over steps sf = 0 .. SF-1 of fold nf), one fold step per cycle: NF * SF cycles per vector.
//
// The caller owns the operands and the products. It raises step_ok while it has the next fold step's
// operands; that step is issued at an edge where issue is high (sf, nf and widx = nf*SF + sf name it: the
// weight line to read). The caller registers the step's operands at that edge (stage 1: a synchronous weight
// read, the input beat), registers them again at the next edge where en is high (the operand register: the
// block RAM's output is slow, ECP5 EBR: 5.8 ns clock-to-out), computes each lane's dot product of the step
// from that register and registers it at the next edge where en is high: `dot` (lane p at p*DOT_BITS,
// signed). The products, their adder tree and that register stay in the caller's module: Yosys synthesizes
// each module on its own, and only so does it map them into DSP blocks as before.
//
// Pipeline: issue -> operands -> operand register -> dot product per lane (registered) -> accumulate; a
// finished fold's accumulators wait in a result register for the activation (or the output). The whole
// pipeline holds (en low) while the step about to finish a fold finds the result register full, so a
// blocked output stops it exactly where an unpipelined unit would stop.
`include "axis.svh"
module mac_pipeline #(
    parameter int PE = 2,
    parameter int SF = 4,           // fold steps per output beat
    parameter int NF = 2,           // output beats per vector
    parameter int DOT_BITS = 8,     // one step's dot product (signed)
    parameter int ACC_BITS = 16,
    parameter int OUT_BITS = 16,
    `THRESHOLD_PARAMS(0, 17),
    localparam int SFB = SF > 1 ? $clog2(SF) : 1,
    localparam int NFB = NF > 1 ? $clog2(NF) : 1,
    localparam int WIB = NF * SF > 1 ? $clog2(NF * SF) : 1,
    localparam int OUT_BUS = `BUS(PE * OUT_BITS)
) (
    `AP_CTRL,
    input  logic                   step_ok,   // the caller has the next step's operands
    output logic                   issue,     // the step sf, nf (weight line widx) is issued at this edge
    output logic                   en,        // the pipeline advances at this edge
    output logic [SFB-1:0]         sf,
    output logic [NFB-1:0]         nf,
    output logic [WIB-1:0]         widx,      // nf*SF + sf
    input  logic [PE*DOT_BITS-1:0] dot,       // the dot product register, per lane
    `AXIS_OUT(m_axis_0, OUT_BUS)
);
    // ---- issue
    wire last_sf = (32'(sf) == SF - 1);
    assign issue = en && step_ok;

    always_ff @(posedge ap_clk) begin
        if (!ap_rst_n) begin
            sf <= '0;
            nf <= '0;
            widx <= '0;
        end else if (issue) begin
            widx <= (32'(widx) == NF * SF - 1) ? '0 : widx + 1'b1;
            if (last_sf) begin
                sf <= '0;
                nf <= (32'(nf) == NF - 1) ? '0 : nf + 1'b1;
            end else begin
                sf <= sf + 1'b1;
            end
        end
    end

    // ---- what travels beside the operands: valid, first and last step of a fold, the fold; position 0 the
    // operands (loaded with them at issue), 1 the operand register, 2 the dot product
    localparam int D = 3;
    logic [D-1:0] v, first, last;
    logic [NFB-1:0] nfs [D];
    always_ff @(posedge ap_clk) begin
        if (!ap_rst_n) v <= '0;
        else if (en) v <= {v[D-2:0], issue};
    end
    always_ff @(posedge ap_clk) begin
        if (issue) begin
            first[0] <= (sf == '0);
            last[0] <= last_sf;
            nfs[0] <= nf;
        end
        if (en) begin
            first[D-1:1] <= first[D-2:0];
            last[D-1:1] <= last[D-2:0];
            for (int i = 1; i < D; i++) nfs[i] <= nfs[i-1];
        end
    end
    wire v2 = v[D-1], first2 = first[D-1], last2 = last[D-1];

    // ---- result register: the accumulators of the last finished fold
    logic res_valid;
    logic [NFB-1:0] res_nf;
    logic [PE*ACC_BITS-1:0] res_acc;
    wire res_ready;
    wire finish = v2 && last2;             // the accumulate stage finishes a fold at this edge if en
    assign en = !(finish && res_valid && !res_ready);

    always_ff @(posedge ap_clk) begin
        if (!ap_rst_n) begin
            res_valid <= 1'b0;
        end else begin
            if (res_ready && res_valid) res_valid <= 1'b0;
            if (en && finish) res_valid <= 1'b1;
        end
    end
    always_ff @(posedge ap_clk)
        if (en && finish) res_nf <= nfs[D-1];

    // One process per PE lane (small processes: Yosys' proc pass is slow on one process holding them all).
    for (genvar p = 0; p < PE; p++) begin : lane
        wire signed [DOT_BITS-1:0] d2 = dot[p*DOT_BITS +: DOT_BITS];
        logic signed [ACC_BITS-1:0] acc, res;
        always_ff @(posedge ap_clk) begin
            if (en && v2) begin
                logic signed [ACC_BITS-1:0] acc_next;
                acc_next = (first2 ? ACC_BITS'(0) : acc) + ACC_BITS'(d2);
                acc <= acc_next;
                if (last2) res <= acc_next;
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
        logic act_valid;
        logic [PE*OUT_BITS-1:0] act_data;
        assign res_ready = !act_valid || m_axis_0_tready;
        threshold_unit #(.PE(PE), .NF(NF), .VAL_BITS(ACC_BITS), .OUT_BITS(OUT_BITS), `THRESHOLD_ARGS) u_thresholds (
            .ap_clk, .ap_rst_n, .en(res_ready), .in_valid(res_valid), .in_nf(res_nf), .in_val(res_acc),
            .out_valid(act_valid), .out_data(act_data)
        );
        assign m_axis_0_tvalid = act_valid;
        assign m_axis_0_tdata = OUT_BUS'(act_data);
    end
endmodule
