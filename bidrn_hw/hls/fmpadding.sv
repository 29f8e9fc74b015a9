// FINN's FMPadding and FMPadding_Pixel: pads an NHWC feature map with PAD_VAL (FINN: always 0) on each
// side separately (FMPadding) and/or inserts STRIDE-1 zero rows/columns between pixels (FMPadding_Pixel,
// the zero insertion of a transposed convolution); both at once give a deconvolution's whole input pad.
//
// Stream order: in (IFM_H, IFM_W, CH/SIMD, SIMD), out (OUT_H, OUT_W, CH/SIMD, SIMD) with
// OUT_H = PAD_TOP + (IFM_H-1)*STRIDE_H + 1 + PAD_BOTTOM (likewise OUT_W). The controller walks the output
// positions; on an image pixel it forwards an input beat, elsewhere it emits a pad beat without consuming
// input. One output register, one beat per cycle.
// A frame starts only once its first input beat is offered (tvalid, not consumed), so the module never
// runs ahead into the next frame's padding: each frame's output follows its own input.
`include "axis.svh"
module fmpadding #(
    `IMAGE_PARAMS(4, 4, 2),
    parameter int PAD_TOP = 1,
    parameter int PAD_LEFT = 1,
    parameter int PAD_BOTTOM = 1,
    parameter int PAD_RIGHT = 1,
    parameter int PAD_VAL = 0,
    parameter int STRIDE_H = 1,
    parameter int STRIDE_W = 1,
    `ELEM_PARAMS(1, 4),
    `ELEM_BUS
) (
    `AXIS_PIPE(BUS_BITS, BUS_BITS)
);
    localparam int CF = CH / SIMD;
    localparam int SPAN_H = (IFM_H - 1) * STRIDE_H + 1;   // rows from the first to the last image row
    localparam int SPAN_W = (IFM_W - 1) * STRIDE_W + 1;
    localparam int OUT_H = PAD_TOP + SPAN_H + PAD_BOTTOM;
    localparam int OUT_W = PAD_LEFT + SPAN_W + PAD_RIGHT;
    localparam int CW_SH = STRIDE_H > 1 ? $clog2(STRIDE_H) : 1;
    localparam int CW_SW = STRIDE_W > 1 ? $clog2(STRIDE_W) : 1;
    localparam int CW_F = CF > 1 ? $clog2(CF) : 1;
    localparam int CW_X = $clog2(OUT_W + 1);
    localparam int CW_Y = $clog2(OUT_H + 1);
    localparam logic [ELEM_BITS-1:0] PAD_ELEM = ELEM_BITS'(PAD_VAL);

    initial begin
        if (CH % SIMD != 0) $error("fmpadding: SIMD must divide CH");
    end

    logic [CW_F-1:0] f;
    logic [CW_X-1:0] x;
    logic [CW_Y-1:0] y;
    logic [CW_SH-1:0] py;             // row phase within the image span (image rows at phase 0)
    logic [CW_SW-1:0] px;
    logic in_span_y, in_span_x, in_image, slot_free, fire, f_last, x_last, y_last, started;
    logic [DATA_BITS-1:0] out_data;
    logic out_valid;

    // y - PAD_TOP wraps to a value >= SPAN_H above the image (2**CW_Y > OUT_H), so one compare per axis.
    assign in_span_y = CW_Y'(y - CW_Y'(PAD_TOP)) < CW_Y'(SPAN_H);
    assign in_span_x = CW_X'(x - CW_X'(PAD_LEFT)) < CW_X'(SPAN_W);
    assign in_image = in_span_y && in_span_x && py == '0 && px == '0;
    assign slot_free = !out_valid || m_axis_0_tready;
    assign fire = slot_free && (started || s_axis_0_tvalid) && (!in_image || s_axis_0_tvalid);
    assign s_axis_0_tready = slot_free && in_image;
    assign f_last = f == CW_F'(CF - 1);
    assign x_last = x == CW_X'(OUT_W - 1);
    assign y_last = y == CW_Y'(OUT_H - 1);

    always_ff @(posedge ap_clk) begin
        if (!ap_rst_n) begin
            f <= '0; x <= '0; y <= '0; py <= '0; px <= '0; out_valid <= 1'b0; started <= 1'b0;
        end else begin
            if (fire) begin
                started <= !(f_last && x_last && y_last);
                f <= f_last ? '0 : f + 1'b1;
                if (f_last) begin
                    x <= x_last ? '0 : x + 1'b1;
                    px <= (x_last || !in_span_x || px == CW_SW'(STRIDE_W - 1)) ? '0 : px + 1'b1;
                    if (x_last) begin
                        y <= y_last ? '0 : y + 1'b1;
                        py <= (y_last || !in_span_y || py == CW_SH'(STRIDE_H - 1)) ? '0 : py + 1'b1;
                    end
                end
                out_valid <= 1'b1;
            end else if (m_axis_0_tready) begin
                out_valid <= 1'b0;
            end
        end
    end

    always_ff @(posedge ap_clk) begin
        if (fire) out_data <= in_image ? s_axis_0_tdata[DATA_BITS-1:0] : {SIMD{PAD_ELEM}};
    end

    assign m_axis_0_tvalid = out_valid;
    assign m_axis_0_tdata = BUS_BITS'(out_data);

    // Bus padding bits above DATA_BITS carry no data.
    /* verilator lint_off UNUSEDSIGNAL */
    wire unused_pad = ^s_axis_0_tdata;
    /* verilator lint_on UNUSEDSIGNAL */
endmodule
