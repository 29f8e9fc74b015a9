// Parallel-window sliding window generator: FINN's ConvolutionInputGenerator with parallel_window=1
// (SIMD = CH), valid convolution (padding is a separate fmpadding stage, as in FINN).
//
// Stream order:
//   in : (IFM_H, IFM_W, CH)                one beat = one pixel, all channels
//   out: (OFM_H, OFM_W, K_H, K_W, CH)      one beat = one whole window, im2col order (element 0 in the LSBs)
// With SIMD = CH the depthwise order (CH/SIMD, K_H, K_W, SIMD) is the same, so one module serves both.
//
// Structure: a line buffer holds, per input column, the KEXT_H-1 pixels above the current row (one word
// of KEXT_H-1 pixels per column: one RAM, read and written at the same column); KEXT_W-1 registers hold
// the columns left of the current one. An arriving pixel completes its column; when the column closes a
// window (the row and column are at a stride step inside the output), the window's taps are loaded into
// the output register. So the module takes one pixel per cycle, emits at most one window per pixel, and
// a frame costs IFM_H*IFM_W cycles however large the kernel: the generator a layer with few channels and a
// big kernel (a network's stem) needs to keep up with a fully parallel MVAU.
//
// The line buffer's read is registered: while the pixel of column x arrives, the RAM reads column x+1,
// the next one needed (a column is never read and written in the same cycle unless IFM_W = 1, where the
// buffer is a register). Input waits only when this pixel closes a window and the output register is
// full and not being taken.
`include "axis.svh"
module swg_parallel #(
    `IMAGE_PARAMS(8, 8, 2),
    `KERNEL_PARAMS(3),
    parameter int ELEM_BITS = 4,
    parameter RAM_STYLE = "auto",   // the line buffer: "auto", "block", "distributed" or "ultra"
    localparam int PIX_BITS = CH * ELEM_BITS,
    localparam int IN_BUS = `BUS(PIX_BITS),
    localparam int OUT_BITS = K_H * K_W * PIX_BITS,
    localparam int OUT_BUS = `BUS(OUT_BITS)
) (
    `AXIS_PIPE(IN_BUS, OUT_BUS)
);
    localparam int KEXT_H = (K_H - 1) * DIL_H + 1;
    localparam int KEXT_W = (K_W - 1) * DIL_W + 1;
    localparam int OFM_H = (IFM_H - KEXT_H) / STRIDE_H + 1;
    localparam int OFM_W = (IFM_W - KEXT_W) / STRIDE_W + 1;
    localparam int LB_ROWS = KEXT_H - 1;                       // pixels per line-buffer word
    localparam int LB_BITS = LB_ROWS > 0 ? LB_ROWS * PIX_BITS : 1;
    localparam int COL_BITS = KEXT_H * PIX_BITS;               // one window column, oldest row first
    localparam int WIN_COLS = KEXT_W > 1 ? KEXT_W - 1 : 1;     // columns kept left of the current one
    localparam int XW = IFM_W > 1 ? $clog2(IFM_W) : 1;
    localparam int YW = IFM_H > 1 ? $clog2(IFM_H) : 1;
    localparam int WAIT_W = $clog2((KEXT_W > KEXT_H ? KEXT_W : KEXT_H) + (STRIDE_W > STRIDE_H ? STRIDE_W : STRIDE_H) + 1);
    localparam int OXW = $clog2(OFM_W + 1);
    localparam int OYW = $clog2(OFM_H + 1);

    initial begin
        if (KEXT_H > IFM_H || KEXT_W > IFM_W) $error("swg_parallel: kernel larger than the feature map");
        /* verilator lint_off WIDTHEXPAND */  // string literals of different lengths
        if (RAM_STYLE != "auto" && RAM_STYLE != "block" && RAM_STYLE != "distributed" && RAM_STYLE != "ultra")
            $error("swg_parallel: RAM_STYLE must be auto, block, distributed or ultra");
        /* verilator lint_on WIDTHEXPAND */
    end

    // ---------------- position in the frame ----------------
    logic [XW-1:0] x;
    logic [YW-1:0] y;
    logic [WAIT_W-1:0] col_wait, row_wait;   // pixels/rows until the next window column/row
    logic [OXW-1:0] ox;                      // window columns (rows) closed so far in this row (frame)
    logic [OYW-1:0] oy;
    logic x_last, y_last, col_ok, row_ok, closes, fire, emit;

    assign x_last = x == XW'(IFM_W - 1);
    assign y_last = y == YW'(IFM_H - 1);
    assign col_ok = col_wait == '0 && ox != OXW'(OFM_W);
    assign row_ok = row_wait == '0 && oy != OYW'(OFM_H);
    assign closes = col_ok && row_ok;
    assign s_axis_0_tready = !closes || !m_axis_0_tvalid || m_axis_0_tready;
    assign fire = s_axis_0_tvalid && s_axis_0_tready;
    assign emit = fire && closes;

    always_ff @(posedge ap_clk) begin
        if (!ap_rst_n) begin
            x <= '0; y <= '0; ox <= '0; oy <= '0;
            col_wait <= WAIT_W'(KEXT_W - 1);
            row_wait <= WAIT_W'(KEXT_H - 1);
        end else if (fire) begin
            if (!x_last) begin
                x <= x + 1'b1;
                if (col_wait == '0) begin
                    col_wait <= WAIT_W'(STRIDE_W - 1);
                    if (col_ok) ox <= ox + 1'b1;
                end else begin
                    col_wait <= col_wait - 1'b1;
                end
            end else begin
                x <= '0;
                ox <= '0;
                col_wait <= WAIT_W'(KEXT_W - 1);
                if (y_last) begin
                    y <= '0;
                    oy <= '0;
                    row_wait <= WAIT_W'(KEXT_H - 1);
                end else begin
                    y <= y + 1'b1;
                    if (row_wait == '0) begin
                        row_wait <= WAIT_W'(STRIDE_H - 1);
                        if (row_ok) oy <= oy + 1'b1;
                    end else begin
                        row_wait <= row_wait - 1'b1;
                    end
                end
            end
        end
    end

    // ---------------- line buffer: the column's KEXT_H-1 upper pixels ----------------
    logic [PIX_BITS-1:0] pixel;
    logic [LB_BITS-1:0] above;     // rows y-KEXT_H+1 .. y-1 of column x (oldest in the low bits)
    logic [COL_BITS-1:0] column;   // that and the arriving pixel
    assign pixel = s_axis_0_tdata[PIX_BITS-1:0];

    generate
        if (LB_ROWS == 0) begin : g_no_lines
            assign column = pixel;
            assign above = '0;
        end else begin : g_lines
            logic [LB_BITS-1:0] shifted;   // the column without its oldest pixel: the word to write back
            assign column = {pixel, above};
            assign shifted = column[COL_BITS-1:PIX_BITS];
            if (IFM_W == 1) begin : g_reg
                logic [LB_BITS-1:0] word;
                always_ff @(posedge ap_clk) if (fire) word <= shifted;
                assign above = word;
            end else begin : g_ram
                (* ram_style = RAM_STYLE *) logic [LB_BITS-1:0] mem [IFM_W];
                logic [XW-1:0] raddr;
                logic [LB_BITS-1:0] rdata;
                // Read ahead: the next column on a fire, else the current one (kept, it is not written).
                assign raddr = fire ? (x_last ? '0 : x + 1'b1) : x;
                always_ff @(posedge ap_clk) if (fire) mem[x] <= shifted;
                always_ff @(posedge ap_clk) rdata <= mem[raddr];
                assign above = rdata;
            end
        end
    endgenerate

    // ---------------- window: KEXT_W-1 columns left of the current one ----------------
    logic [COL_BITS-1:0] win [WIN_COLS];
    generate
        if (KEXT_W > 1) begin : g_shift
            always_ff @(posedge ap_clk) begin
                if (fire) begin
                    for (int i = 0; i < KEXT_W - 2; i++) win[i] <= win[i + 1];
                    win[KEXT_W - 2] <= column;
                end
            end
        end else begin : g_no_shift
            assign win[0] = '0;
        end
    endgenerate

    // The window's taps in im2col order: tap (ky, kx) is extent column kx*DIL_W (the arriving column for
    // the last), extent row ky*DIL_H.
    logic [OUT_BITS-1:0] taps;
    always_comb begin
        for (int ky = 0; ky < K_H; ky++) begin
            for (int kx = 0; kx < K_W; kx++) begin
                if (kx * DIL_W == KEXT_W - 1)
                    taps[(ky * K_W + kx) * PIX_BITS +: PIX_BITS] = column[ky * DIL_H * PIX_BITS +: PIX_BITS];
                else
                    taps[(ky * K_W + kx) * PIX_BITS +: PIX_BITS] = win[kx * DIL_W][ky * DIL_H * PIX_BITS +: PIX_BITS];
            end
        end
    end

    logic [OUT_BITS-1:0] out_data;
    logic out_valid;
    always_ff @(posedge ap_clk) begin
        if (!ap_rst_n) out_valid <= 1'b0;
        else if (emit) out_valid <= 1'b1;
        else if (m_axis_0_tready) out_valid <= 1'b0;
    end
    always_ff @(posedge ap_clk) if (emit) out_data <= taps;

    assign m_axis_0_tvalid = out_valid;
    assign m_axis_0_tdata = OUT_BUS'(out_data);

    // Bus padding bits above PIX_BITS carry no data; with one kernel row the line buffer's width is a dummy.
    /* verilator lint_off UNUSEDSIGNAL */
    wire unused_pad = ^s_axis_0_tdata;
    wire unused_above = ^above;
    /* verilator lint_on UNUSEDSIGNAL */
endmodule
