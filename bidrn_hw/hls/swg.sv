// Sliding window generator: FINN's ConvolutionInputGenerator (NHWC input, any kernel, stride, dilation,
// SIMD folding), valid convolution (padding is a separate fmpadding stage, as in FINN).
//
// Stream order (one beat = SIMD channels of one input pixel):
//   in : (IFM_H, IFM_W, CH/SIMD, SIMD)
//   out: DEPTHWISE=0: (OFM_H, OFM_W, K_H, K_W, CH/SIMD, SIMD)   -- im2col order, what MVAU expects
//        DEPTHWISE=1: (OFM_H, OFM_W, CH/SIMD, K_H, K_W, SIMD)   -- what VVAU/Pool expect
//
// Structure: one cyclic buffer of BUF elements (frame_buffer.sv: inferred simple dual-port RAM with
// registered read).
// The writer is a plain cyclic writer; the reader walks the window loop nest and computes each element's
// address from the window's base address plus its offset in the window (kept in a register). Everything is
// relative: no counter holds a frame-absolute index of the reader. Both sides meet in one signed counter,
// lead = elements written minus the index of the current window's first (lowest) element (it goes up by
// one per element written and down by the jump to the next window, row or frame when the reader finishes a
// window; it lies in (-N, N]):
//   - the reader may read the element at offset off of its window once off < lead (it is in the RAM);
//   - the writer may write while lead < BUF: everything below the window start is never read again, so
//     its slot may be overwritten;
//   - elements after the frame's last used one (rows/columns that strides leave out) are accepted at any
//     time and not stored, so the writer never waits on them and can move on to the next frame while the
//     reader still works on the last windows; the writer's frame-local position (wcnt, wrapping at N) says
//     when it is in that tail.
// Frames follow each other without a bubble in the controller.
//
// BUF_DEPTH: 0 picks the minimal window span. A larger buffer lets the writer pre-load the rows that a
// strided window jumps over; bidrn_hw.layers.swg.swg_buffer_depth picks the depth that hides
// those jumps and passes it explicitly (it must lie in [span, frame size]).
`include "axis.svh"
module swg #(
    `IMAGE_PARAMS(8, 8, 4),
    `KERNEL_PARAMS(3),
    `ELEM_PARAMS(2, 4),
    parameter int DEPTHWISE = 0,
    parameter int BUF_DEPTH = 0,
    parameter RAM_STYLE = "auto",   // the window buffer: "auto" (the synthesis tool picks), "block", "distributed"
    `ELEM_BUS
) (
    `AXIS_PIPE(BUS_BITS, BUS_BITS)
);
    localparam int CF = CH / SIMD;
    localparam int KEXT_H = (K_H - 1) * DIL_H + 1;
    localparam int KEXT_W = (K_W - 1) * DIL_W + 1;
    localparam int OFM_H = (IFM_H - KEXT_H) / STRIDE_H + 1;
    localparam int OFM_W = (IFM_W - KEXT_W) / STRIDE_W + 1;
    localparam int N = IFM_H * IFM_W * CF;
    localparam int SPAN = ((K_H - 1) * DIL_H * IFM_W + (K_W - 1) * DIL_W + 1) * CF;
    localparam int BUF = BUF_DEPTH > 0 ? BUF_DEPTH : SPAN;
    // Frame-local index of the first element of the last window and of the last element any window reads;
    // later ones are dropped.
    localparam int IDX0_LAST = ((OFM_H - 1) * STRIDE_H * IFM_W + (OFM_W - 1) * STRIDE_W) * CF;
    localparam int LAST_NEED = IDX0_LAST + SPAN - 1;

    // Widths; every counter is at least one bit wide.
    localparam int AW = BUF > 1 ? $clog2(BUF) : 1;
    localparam int OW = SPAN > 1 ? $clog2(SPAN) : 1;   // an element's offset in its window, < SPAN
    localparam int WW = N > 1 ? $clog2(N) : 1;          // the writer's frame-local position, < N
    localparam int DW = $clog2(N + 1) + 1;              // signed lead, in (-N, N]
    localparam int CW_C = CF > 1 ? $clog2(CF) : 1;
    localparam int CW_KX = K_W > 1 ? $clog2(K_W) : 1;
    localparam int CW_KY = K_H > 1 ? $clog2(K_H) : 1;
    localparam int CW_OX = OFM_W > 1 ? $clog2(OFM_W) : 1;
    localparam int CW_OY = OFM_H > 1 ? $clog2(OFM_H) : 1;

    // In-window offset steps; the window start's jumps to the next window, row and frame (elements) and
    // their residues modulo BUF (for the cyclic base address).
    localparam int KX_STEP = DIL_W * CF;
    localparam int KY_STEP = DIL_H * IFM_W * CF;
    localparam int J_X = STRIDE_W * CF;
    localparam int J_ROW = (STRIDE_H * IFM_W - (OFM_W - 1) * STRIDE_W) * CF;
    localparam int J_FRAME = N - IDX0_LAST;

    initial begin
        if (CH % SIMD != 0) $error("swg: SIMD must divide CH");
        if (KEXT_H > IFM_H || KEXT_W > IFM_W) $error("swg: kernel larger than the feature map");
        if (BUF < SPAN || BUF > N) $error("swg: BUF_DEPTH must lie in [window span, frame size]");
    end

    function automatic logic [AW-1:0] add_mod(input logic [AW-1:0] a, input int inc);
        // a < BUF and inc < BUF, so one conditional subtraction wraps the sum.
        int s;
        s = 32'(a) + inc;
        if (s >= BUF) s = s - BUF;
        add_mod = AW'(s);
    endfunction

    // ---------------- reader state ----------------
    logic [CW_C-1:0]  c;
    logic [CW_KX-1:0] kx;
    logic [CW_KY-1:0] ky;
    logic [CW_OX-1:0] ox;
    logic [CW_OY-1:0] oy;
    logic [OW-1:0] kx_off, ky_off;        // kx*DIL_W*CF, ky*DIL_H*IFM_W*CF
    logic [AW-1:0] base_addr;             // buffer address of the window's first element
    logic signed [DW-1:0] lead;
    logic [WW-1:0] wcnt;
    logic [AW-1:0] waddr;

    logic c_last, kx_last, ky_last, ox_last, oy_last, win_end;
    logic inc_c, inc_kx, inc_ky;
    logic [AW-1:0] raddr;
    logic rd_ok, rd_fire, wr_fire, wr_tail;

    assign c_last = c == CW_C'(CF - 1);
    assign kx_last = kx == CW_KX'(K_W - 1);
    assign ky_last = ky == CW_KY'(K_H - 1);
    assign ox_last = ox == CW_OX'(OFM_W - 1);
    assign oy_last = oy == CW_OY'(OFM_H - 1);
    assign win_end = c_last && kx_last && ky_last;

    generate
        if (DEPTHWISE != 0) begin : g_dw_order
            assign inc_kx = 1'b1;
            assign inc_ky = kx_last;
            assign inc_c = kx_last && ky_last;
        end else begin : g_im2col_order
            assign inc_c = 1'b1;
            assign inc_kx = c_last;
            assign inc_ky = c_last && kx_last;
        end
    endgenerate

    // The element's offset in its window, kept in a register (next value summed when the counters step)
    // so that the read address and the read-enable comparison start from a register, not from an adder.
    logic [OW-1:0] off_q;
    logic [CW_C-1:0] c_next;
    logic [OW-1:0] kx_off_next, ky_off_next;
    assign c_next = inc_c ? (c_last ? '0 : c + 1'b1) : c;
    assign kx_off_next = inc_kx ? (kx_last ? '0 : kx_off + OW'(KX_STEP)) : kx_off;
    assign ky_off_next = inc_ky ? (ky_last ? '0 : ky_off + OW'(KY_STEP)) : ky_off;
    assign raddr = add_mod(base_addr, int'(off_q));

    assign rd_ok = lead > $signed(DW'(off_q));
    assign rd_fire = rd_ok && (!m_axis_0_tvalid || m_axis_0_tready);
    // The writer is past the frame's last used element (of the reader's frame or, where the reader has moved
    // on, of the previous one).
    generate
        if (LAST_NEED < N - 1) begin : g_tail
            assign wr_tail = wcnt > WW'(LAST_NEED);
        end else begin : g_no_tail
            assign wr_tail = 1'b0;
        end
    endgenerate
    assign s_axis_0_tready = (lead < DW'(BUF)) || wr_tail;
    assign wr_fire = s_axis_0_tvalid && s_axis_0_tready;

    // The lead's step: +1 per element written, minus the window start's jump when the reader finishes a
    // window (one adder over a choice of constants).
    logic signed [DW-1:0] lead_step;
    logic [AW-1:0] base_step;
    always_comb begin
        if (!(rd_fire && win_end)) lead_step = wr_fire ? DW'(1) : DW'(0);
        else if (!ox_last) lead_step = wr_fire ? DW'(1 - J_X) : DW'(-J_X);
        else if (!oy_last) lead_step = wr_fire ? DW'(1 - J_ROW) : DW'(-J_ROW);
        else lead_step = wr_fire ? DW'(1 - J_FRAME) : DW'(-J_FRAME);
        if (!ox_last) base_step = AW'(J_X % BUF);
        else if (!oy_last) base_step = AW'(J_ROW % BUF);
        else base_step = AW'(J_FRAME % BUF);
    end

    always_ff @(posedge ap_clk) begin
        if (!ap_rst_n) begin
            c <= '0; kx <= '0; ky <= '0; ox <= '0; oy <= '0;
            kx_off <= '0; ky_off <= '0; base_addr <= '0; off_q <= '0; lead <= '0; wcnt <= '0; waddr <= '0;
        end else begin
            if (rd_fire) begin
                off_q <= ky_off_next + kx_off_next + OW'(c_next);
                c <= c_next;
                kx_off <= kx_off_next;
                ky_off <= ky_off_next;
                if (inc_kx) kx <= kx_last ? '0 : kx + 1'b1;
                if (inc_ky) ky <= ky_last ? '0 : ky + 1'b1;
                if (win_end) begin
                    base_addr <= add_mod(base_addr, int'(base_step));
                    if (!ox_last) ox <= ox + 1'b1;
                    else begin
                        ox <= '0;
                        oy <= oy_last ? '0 : oy + 1'b1;
                    end
                end
            end
            lead <= lead + lead_step;
            if (wr_fire) begin
                wcnt <= (wcnt == WW'(N - 1)) ? '0 : wcnt + 1'b1;
                waddr <= (waddr == AW'(BUF - 1)) ? '0 : waddr + 1'b1;
            end
        end
    end

    // The window buffer and the output register (RAM_STYLE is the buffer's synthesis attribute, as FINN's
    // ram_style).
    frame_buffer #(.DATA_BITS(DATA_BITS), .DEPTH(BUF), .RAM_STYLE(RAM_STYLE)) u_buf (
        .ap_clk, .ap_rst_n, .wr_store(wr_fire && !wr_tail), .waddr, .wr_data(s_axis_0_tdata[DATA_BITS-1:0]),
        .rd_fire, .raddr, .m_axis_0_tdata, .m_axis_0_tvalid, .m_axis_0_tready
    );

    // Bus padding bits above DATA_BITS carry no data.
    /* verilator lint_off UNUSEDSIGNAL */
    wire unused_pad = ^s_axis_0_tdata;
    /* verilator lint_on UNUSEDSIGNAL */
endmodule
