// FINN's UpsampleNearestNeighbour for integer scales: out[y][x] = in[y / SCALE_H][x / SCALE_W] (what
// FINN's python execution, an ONNX nearest Resize, gives for integer scales).
//
// Stream order: in (IFM_H, IFM_W, CH/SIMD, SIMD), out (IFM_H*SCALE_H, IFM_W*SCALE_W, CH/SIMD, SIMD).
// One input row (IFM_W*CH/SIMD beats) in a cyclic buffer (frame_buffer.sv, as swg.sv's); the reader walks
// row, row repeat, pixel, pixel repeat, channel fold. As in swg.sv, wpos counts elements written relative
// to the reader's frame start: the reader may read index i once i < wpos, and the writer may overwrite a
// slot once its element will not be read again -- during the row's last repeat, every pixel left of the
// reader's; so the next row streams in behind the reader and rows and frames follow without a bubble.
`include "axis.svh"
module upsampler #(
    `IMAGE_PARAMS(4, 4, 2),
    parameter int SCALE_H = 2,
    parameter int SCALE_W = 2,
    `ELEM_PARAMS(1, 4),
    `ELEM_BUS
) (
    `AXIS_PIPE(BUS_BITS, BUS_BITS)
);
    localparam int CF = CH / SIMD;
    localparam int ROW = IFM_W * CF;                      // buffer depth: one input row
    localparam int N = IFM_H * ROW;                       // input elements per frame
    localparam int AW = ROW > 1 ? $clog2(ROW) : 1;
    localparam int IW = $clog2(N + 1);
    localparam int PW = $clog2(2 * N + ROW + 1) + 1;   // signed wpos
    localparam int CW_F = CF > 1 ? $clog2(CF) : 1;
    localparam int CW_RW = SCALE_W > 1 ? $clog2(SCALE_W) : 1;
    localparam int CW_X = IFM_W > 1 ? $clog2(IFM_W) : 1;
    localparam int CW_RH = SCALE_H > 1 ? $clog2(SCALE_H) : 1;
    localparam int CW_Y = IFM_H > 1 ? $clog2(IFM_H) : 1;

    initial begin
        if (CH % SIMD != 0) $error("upsampler: SIMD must divide CH");
        if (SCALE_H < 1 || SCALE_W < 1) $error("upsampler: scales must be >= 1");
    end

    logic [CW_F-1:0] f;
    logic [CW_RW-1:0] rw;
    logic [CW_X-1:0] x;
    logic [CW_RH-1:0] rh;
    logic [CW_Y-1:0] y;
    logic [AW-1:0] px_off;            // x * CF: the pixel's slot; a row is exactly the buffer
    logic [IW-1:0] row_start;         // y * ROW
    logic signed [PW-1:0] wpos;
    logic [AW-1:0] waddr;
    logic f_last, rw_last, x_last, rh_last, y_last, frame_end;
    logic signed [PW-1:0] need, lowest;
    logic rd_fire, wr_fire;
    logic [AW-1:0] raddr;

    assign f_last = f == CW_F'(CF - 1);
    assign rw_last = rw == CW_RW'(SCALE_W - 1);
    assign x_last = x == CW_X'(IFM_W - 1);
    assign rh_last = rh == CW_RH'(SCALE_H - 1);
    assign y_last = y == CW_Y'(IFM_H - 1);
    assign frame_end = f_last && rw_last && x_last && rh_last && y_last;

    assign raddr = px_off + AW'(f);
    assign need = PW'(row_start) + PW'(raddr);
    assign lowest = PW'(row_start) + (rh_last ? PW'(px_off) : PW'(0));
    assign rd_fire = (need < wpos) && (!m_axis_0_tvalid || m_axis_0_tready);
    assign s_axis_0_tready = wpos < lowest + PW'(ROW);
    assign wr_fire = s_axis_0_tvalid && s_axis_0_tready;

    always_ff @(posedge ap_clk) begin
        if (!ap_rst_n) begin
            f <= '0; rw <= '0; x <= '0; rh <= '0; y <= '0;
            px_off <= '0; row_start <= '0; wpos <= '0; waddr <= '0;
        end else begin
            if (rd_fire) begin
                f <= f_last ? '0 : f + 1'b1;
                if (f_last) begin
                    rw <= rw_last ? '0 : rw + 1'b1;
                    if (rw_last) begin
                        x <= x_last ? '0 : x + 1'b1;
                        px_off <= x_last ? '0 : px_off + AW'(CF);
                        if (x_last) begin
                            rh <= rh_last ? '0 : rh + 1'b1;
                            if (rh_last) begin
                                y <= y_last ? '0 : y + 1'b1;
                                row_start <= y_last ? '0 : row_start + IW'(ROW);
                            end
                        end
                    end
                end
            end
            wpos <= wpos + (wr_fire ? PW'(1) : PW'(0)) - ((rd_fire && frame_end) ? PW'(N) : PW'(0));
            if (wr_fire) waddr <= (waddr == AW'(ROW - 1)) ? '0 : waddr + 1'b1;
        end
    end

    frame_buffer #(.DATA_BITS(DATA_BITS), .DEPTH(ROW)) u_buf (
        .ap_clk, .ap_rst_n, .wr_store(wr_fire), .waddr, .wr_data(s_axis_0_tdata[DATA_BITS-1:0]), .rd_fire, .raddr,
        .m_axis_0_tdata, .m_axis_0_tvalid, .m_axis_0_tready
    );

    // Bus padding bits above DATA_BITS carry no data.
    /* verilator lint_off UNUSEDSIGNAL */
    wire unused_pad = ^s_axis_0_tdata;
    /* verilator lint_on UNUSEDSIGNAL */
endmodule
