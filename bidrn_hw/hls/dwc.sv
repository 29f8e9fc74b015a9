// Stream data-width converter: FINN's StreamingDataWidthConverter. Beats of IN_ELEMS elements in, beats of
// OUT_ELEMS elements out, in stream order (element 0 of a beat in its low bits, both buses padded to whole
// bytes). Up-conversion, down-conversion and non-integer ratios alike (e.g. 2 -> 3 elements): the elements
// of a frame are one continuous sequence, so no per-frame state is needed as long as a frame holds a
// multiple of lcm(IN_ELEMS, OUT_ELEMS) elements (FINN's converter requires that too).
//
// Three implementations, one per kind of ratio; in all of them tready depends only on registered state and
// the throughput is one input beat and one output beat per cycle, i.e. max(input beats, output beats)
// cycles per frame:
// - down by an integer K = IN_ELEMS / OUT_ELEMS: a word register that shifts OUT_ELEMS elements out per
//   beat, and one input word waiting behind it (2 * IN_ELEMS elements of registers, about two LUTs per bit
//   of the shifting word: it takes its shifted self, the waiting word or the input);
// - up by an integer K = OUT_ELEMS / IN_ELEMS: K slots filled in turn, then moved whole to an output
//   register so that the next word can fill while it waits (2 * OUT_ELEMS elements, no data multiplexers);
// - any other ratio: a shift buffer of CAP = 2*IN_ELEMS + OUT_ELEMS - 1 elements. An output beat is the
//   first OUT_ELEMS elements (valid while COUNT >= OUT_ELEMS); an input beat is appended behind what remains
//   after this cycle's output, taken whenever COUNT + IN_ELEMS <= CAP: CAP is large enough that an input
//   beat is taken every cycle an output could leave. Every slot can receive from several input elements,
//   so this costs several LUTs per buffered bit: FINN's foldings mostly need the two integer kinds.
`include "axis.svh"
module dwc #(
    parameter int IN_ELEMS = 4,
    parameter int OUT_ELEMS = 3,
    parameter int ELEM_BITS = 2,
    localparam int IN_BUS = (IN_ELEMS * ELEM_BITS + 7) / 8 * 8,
    localparam int OUT_BUS = (OUT_ELEMS * ELEM_BITS + 7) / 8 * 8,
    localparam bit DOWN = IN_ELEMS > OUT_ELEMS && IN_ELEMS % OUT_ELEMS == 0,
    localparam bit UP = OUT_ELEMS > IN_ELEMS && OUT_ELEMS % IN_ELEMS == 0,
    localparam int CAP = 2 * IN_ELEMS + OUT_ELEMS - 1,
    localparam int CB = $clog2(CAP + 1)
) (
    `AXIS_PIPE(IN_BUS, OUT_BUS)
);
    localparam int IN_W = IN_ELEMS * ELEM_BITS;
    localparam int OUT_W = OUT_ELEMS * ELEM_BITS;

    if (DOWN) begin : g_down
        wire [IN_W-1:0] in_data = s_axis_0_tdata[IN_W-1:0];
        localparam int K = IN_ELEMS / OUT_ELEMS;
        localparam int KB = $clog2(K);
        logic [IN_W-1:0] hold, waiting;          // the word going out, and the next one
        logic hold_full, waiting_full;
        logic [KB-1:0] slice;                    // slices of HOLD already sent

        assign s_axis_0_tready = !waiting_full || !hold_full;
        assign m_axis_0_tvalid = hold_full;
        assign m_axis_0_tdata = OUT_BUS'(hold[OUT_W-1:0]);
        wire in_fire = s_axis_0_tvalid && s_axis_0_tready;
        wire out_fire = m_axis_0_tvalid && m_axis_0_tready;
        wire last = slice == KB'(K - 1);
        wire frees = !hold_full || (out_fire && last);   // HOLD takes a new word at this edge

        always_ff @(posedge ap_clk) begin
            if (!ap_rst_n) begin
                hold_full <= 1'b0;
                waiting_full <= 1'b0;
                slice <= '0;
            end else begin
                if (out_fire) slice <= last ? '0 : slice + 1'b1;
                if (frees) begin
                    hold_full <= waiting_full || in_fire;
                    // the waiting word moves on; an incoming one waits only if HOLD takes the waiting one
                    waiting_full <= waiting_full && in_fire;
                end else if (in_fire) begin
                    waiting_full <= 1'b1;
                end
            end
        end
        always_ff @(posedge ap_clk) begin
            if (frees) hold <= waiting_full ? waiting : in_data;
            else if (out_fire) hold <= hold >> OUT_W;
            if (in_fire && (waiting_full || !frees)) waiting <= in_data;
        end
    end else if (UP) begin : g_up
        wire [IN_W-1:0] in_data = s_axis_0_tdata[IN_W-1:0];
        localparam int K = OUT_ELEMS / IN_ELEMS;
        localparam int KB = $clog2(K);
        logic [IN_W-1:0] slots [K];              // the word being filled, one input beat per slot
        logic [KB-1:0] fill;                     // the next slot to fill
        logic slots_full;
        logic [OUT_W-1:0] out_word;
        logic out_full;

        assign s_axis_0_tready = !slots_full || !out_full;
        assign m_axis_0_tvalid = out_full;
        assign m_axis_0_tdata = OUT_BUS'(out_word);
        wire in_fire = s_axis_0_tvalid && s_axis_0_tready;
        wire out_fire = m_axis_0_tvalid && m_axis_0_tready;
        wire move = slots_full && (!out_full || out_fire);  // the filled word goes to the output register

        always_ff @(posedge ap_clk) begin
            if (!ap_rst_n) begin
                fill <= '0;
                slots_full <= 1'b0;
                out_full <= 1'b0;
            end else begin
                if (in_fire) fill <= fill == KB'(K - 1) ? '0 : fill + 1'b1;
                if (in_fire && fill == KB'(K - 1)) slots_full <= 1'b1;
                else if (move) slots_full <= 1'b0;
                if (move) out_full <= 1'b1;
                else if (out_fire) out_full <= 1'b0;
            end
        end
        always_ff @(posedge ap_clk) begin
            if (in_fire) slots[fill] <= in_data;
            if (move) begin
                for (int i = 0; i < K; i++) out_word[i*IN_W +: IN_W] <= slots[i];
            end
        end
    end else begin : g_any
        logic [ELEM_BITS-1:0] elems [CAP];
        logic [CB-1:0] count;

        assign m_axis_0_tvalid = 32'(count) >= OUT_ELEMS;
        assign s_axis_0_tready = 32'(count) + IN_ELEMS <= CAP;
        wire out_fire = m_axis_0_tvalid && m_axis_0_tready;
        wire in_fire = s_axis_0_tvalid && s_axis_0_tready;
        // Elements left after this cycle's output: where an incoming beat's element 0 lands.
        wire [CB-1:0] base = out_fire ? count - CB'(OUT_ELEMS) : count;

        logic [OUT_ELEMS*ELEM_BITS-1:0] out_flat;
        always_comb begin
            for (int i = 0; i < OUT_ELEMS; i++) out_flat[i*ELEM_BITS +: ELEM_BITS] = elems[i];
        end
        assign m_axis_0_tdata = OUT_BUS'(out_flat);

        always_ff @(posedge ap_clk) begin
            if (!ap_rst_n) count <= '0;
            else count <= base + (in_fire ? CB'(IN_ELEMS) : CB'(0));
        end

        // Slot i takes element (i - base) of an incoming beat, else slot i + OUT_ELEMS when a beat leaves
        // (slots past the end keep stale data; COUNT says they are empty). For timing, both choices of base are
        // decoded from the registered COUNT by comparisons (no variable part-select: that is a multiplier and a
        // barrel shifter), and the handshakes, which arrive late through the neighbours' combinational
        // valid/ready, only select among them at the end.
        for (genvar i = 0; i < CAP; i++) begin : g_slot
            localparam int SRC = (i + OUT_ELEMS < CAP) ? i + OUT_ELEMS : i;
            logic take_keep, take_shift;             // an incoming element lands here without / with an output
            logic [ELEM_BITS-1:0] val_keep, val_shift;
            always_comb begin
                take_keep = 1'b0;
                take_shift = 1'b0;
                val_keep = '0;
                val_shift = '0;
                for (int j = 0; j < IN_ELEMS; j++) begin
                    if (32'(count) + j == i) begin
                        take_keep = 1'b1;
                        val_keep = s_axis_0_tdata[j*ELEM_BITS +: ELEM_BITS];
                    end
                    if (32'(count) + j == i + OUT_ELEMS) begin
                        take_shift = 1'b1;
                        val_shift = s_axis_0_tdata[j*ELEM_BITS +: ELEM_BITS];
                    end
                end
            end
            always_ff @(posedge ap_clk) begin
                if (out_fire)
                    elems[i] <= (in_fire && take_shift) ? val_shift : elems[SRC];
                else if (in_fire && take_keep)
                    elems[i] <= val_keep;
            end
        end
    end

    if (IN_BUS > IN_ELEMS * ELEM_BITS) begin : g_unused_pad
        // The input bus is padded to whole bytes; the padding bits carry nothing.
        /* verilator lint_off UNUSEDSIGNAL */
        wire unused_pad = ^s_axis_0_tdata[IN_BUS-1:IN_ELEMS*ELEM_BITS];
        /* verilator lint_on UNUSEDSIGNAL */
    end
endmodule
