// The port declarations every streaming module of this library shares, written once (FINN's names):
// `AP_CTRL is the clock and the active-low reset, `AXIS_IN(name, bits) / `AXIS_OUT(name, bits) a slave / master
// AXI-Stream: name_tdata (bits wide), name_tvalid, name_tready. Each module includes this file unless an earlier
// file defined it (a stitched build lists it first in rtl/filelist.f).
`ifndef BIDRN_AXIS_SVH
`define BIDRN_AXIS_SVH
`define AP_CTRL input logic ap_clk, input logic ap_rst_n
`define AXIS_IN(name, bits) input logic [(bits)-1:0] name``_tdata, input logic name``_tvalid, output logic name``_tready
`define AXIS_OUT(name, bits) output logic [(bits)-1:0] name``_tdata, output logic name``_tvalid, input logic name``_tready
`endif
