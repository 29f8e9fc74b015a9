// FINN's DuplicateStreams: every input beat goes to each of N_OUT (1..3) outputs.
//
// One shared data register and a pending bit per output: an output's tvalid is its pending bit, and the
// next input beat is taken once every output has taken the current one (or does so this cycle), so
// outputs may accept at different times while the throughput stays one beat per cycle when all are ready.
// Ports m_axis_<i> for i >= N_OUT exist (fixed port list) but never assert tvalid.
`include "axis.svh"
module duplicatestreams #(
    parameter int N_OUT = 2,
    parameter int DATA_BITS = 8,
    localparam int BUS_BITS = (DATA_BITS + 7) / 8 * 8
) (
    `AP_CTRL,
    `AXIS_IN(s_axis_0, BUS_BITS),
    `AXIS_OUT(m_axis_0, BUS_BITS),
    `AXIS_OUT(m_axis_1, BUS_BITS),
    `AXIS_OUT(m_axis_2, BUS_BITS)
);
    localparam int MAX_OUT = 3;
    localparam logic [MAX_OUT-1:0] USED = MAX_OUT'((1 << N_OUT) - 1);

    initial begin
        if (N_OUT < 1 || N_OUT > MAX_OUT) $error("duplicatestreams: N_OUT must be 1..3");
    end

    logic [MAX_OUT-1:0] pending, ready, still;
    logic [DATA_BITS-1:0] data;
    logic take;

    assign ready = {m_axis_2_tready, m_axis_1_tready, m_axis_0_tready} & USED;
    assign still = pending & ~ready;          // outputs that keep the current beat after this cycle
    assign take = still == '0;
    assign s_axis_0_tready = take;

    always_ff @(posedge ap_clk) begin
        if (!ap_rst_n) pending <= '0;
        else if (take && s_axis_0_tvalid) pending <= USED;
        else pending <= still;
    end
    always_ff @(posedge ap_clk) begin
        if (take && s_axis_0_tvalid) data <= s_axis_0_tdata[DATA_BITS-1:0];
    end

    assign m_axis_0_tvalid = pending[0];
    assign m_axis_1_tvalid = pending[1];
    assign m_axis_2_tvalid = pending[2];
    assign m_axis_0_tdata = BUS_BITS'(data);
    assign m_axis_1_tdata = BUS_BITS'(data);
    assign m_axis_2_tdata = BUS_BITS'(data);

    // Bus padding bits above DATA_BITS carry no data.
    /* verilator lint_off UNUSEDSIGNAL */
    wire unused_pad = ^s_axis_0_tdata;
    /* verilator lint_on UNUSEDSIGNAL */
endmodule
