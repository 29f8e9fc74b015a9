// Weight loader: fills a memory that has no initial contents (UltraRAM) from a narrow AXI-Stream after reset,
// then passes the rest of the stream on to the next loader of the chain.
//
// The stream carries the memory's LINES lines in address order, each as ceil(LINE_BITS / WORD_BITS) words,
// least significant word first (the last word's bits above LINE_BITS are ignored). After the last line,
// `done` stays high until reset and every further word goes out on m_axis_0 through one register stage (so
// a chain of loaders has no combinational path through it). The host streams all loaders' words back to
// back, in chain order, once after each reset.
//
// line_valid is high for one cycle with line_data = line `line_addr`, in address order.
`include "axis.svh"
module weight_loader #(
    parameter int WORD_BITS = 32,
    parameter int LINE_BITS = 8,
    parameter int LINES = 4,
    localparam int BEATS = (LINE_BITS + WORD_BITS - 1) / WORD_BITS,
    localparam int AW = LINES > 1 ? $clog2(LINES) : 1
) (
    `AP_CTRL,
    `AXIS_IN(s_axis_0, WORD_BITS),
    `AXIS_OUT(m_axis_0, WORD_BITS),
    output logic [LINE_BITS-1:0] line_data,
    output logic [AW-1:0]        line_addr,
    output logic                 line_valid,
    output logic                 done
);
    localparam int BW = BEATS > 1 ? $clog2(BEATS) : 1;

    logic [BEATS*WORD_BITS-1:0] shreg;   // the line being assembled, words shifted in from the top
    logic [BW-1:0] beat;
    logic [AW-1:0] line;
    logic fire, last_beat, last_line;

    assign s_axis_0_tready = done ? (!m_axis_0_tvalid || m_axis_0_tready) : 1'b1;
    assign fire = s_axis_0_tvalid && s_axis_0_tready;
    assign last_beat = beat == BW'(BEATS - 1);
    assign last_line = line == AW'(LINES - 1);

    always_ff @(posedge ap_clk) begin
        if (!ap_rst_n) begin
            beat <= '0;
            line <= '0;
            done <= 1'b0;
            line_valid <= 1'b0;
            line_addr <= '0;
            m_axis_0_tvalid <= 1'b0;
        end else begin
            line_valid <= 1'b0;
            if (fire && !done) begin
                if (last_beat) begin
                    beat <= '0;
                    line_valid <= 1'b1;
                    line_addr <= line;
                    if (last_line) done <= 1'b1;
                    else line <= line + 1'b1;
                end else begin
                    beat <= beat + 1'b1;
                end
            end
            if (done) begin
                if (fire) m_axis_0_tvalid <= 1'b1;
                else if (m_axis_0_tready) m_axis_0_tvalid <= 1'b0;
            end
        end
    end

    generate
        if (BEATS > 1) begin : g_shift
            always_ff @(posedge ap_clk)
                if (fire && !done) shreg <= {s_axis_0_tdata, shreg[BEATS*WORD_BITS-1:WORD_BITS]};
        end else begin : g_word
            always_ff @(posedge ap_clk)
                if (fire && !done) shreg <= s_axis_0_tdata;
        end
    endgenerate
    always_ff @(posedge ap_clk)
        if (fire && done) m_axis_0_tdata <= s_axis_0_tdata;
    assign line_data = shreg[LINE_BITS-1:0];

    // Bits of the last word above LINE_BITS carry no data.
    /* verilator lint_off UNUSEDSIGNAL */
    wire unused_pad = ^shreg;
    /* verilator lint_on UNUSEDSIGNAL */
endmodule
