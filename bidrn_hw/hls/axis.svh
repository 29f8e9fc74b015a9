// The declarations the modules of this library share, written once (FINN's names):
// `AP_CTRL is the clock and the active-low reset, `AXIS_IN(name, bits) / `AXIS_OUT(name, bits) a slave / master
// AXI-Stream: name_tdata (bits wide), name_tvalid, name_tready. `BUS(bits) is a stream's tdata width for
// `bits` bits of data: whole bytes, as FINN pads its streams. Each module includes this file unless an
// earlier file defined it (a stitched build lists it first in rtl/filelist.f).
//
// The activation after an accumulator or a stream of values (threshold_unit.sv: threshold_search.sv, or
// threshold_lines.sv where LINES > 0): `THRESHOLD_PARAMS(n_steps, thr_bits) declares the parameters that
// only pass through to it (mvau.sv, mvau_residual.sv, vvau.sv, thresholding.sv, mac_pipeline.sv, with
// defaults N_STEPS = n_steps, THR_BITS = thr_bits), `THRESHOLD_ARGS passes them on to an instance.
// `THRESHOLD_PORTS(pe, nf_bits, val_bits, out_bits) is the units' interface: the pipeline advances when
// en is high; in_valid marks a beat of pe values of channel fold in_nf entering it, out_valid / out_data a
// beat of pe results leaving it.
//
// `ADDER_TREE(t, n) sums the n terms of the unpacked array t (one width) in place into t[0], balanced: level
// l adds t[j + 2^l] into t[j] for every j that is a multiple of 2^(l+1) (a dot product's SIMD terms: mvau.sv,
// vvau.sv).
`ifndef BIDRN_AXIS_SVH
`define BIDRN_AXIS_SVH
`define AP_CTRL input logic ap_clk, input logic ap_rst_n
`define AXIS_IN(name, bits) input logic [(bits)-1:0] name``_tdata, input logic name``_tvalid, output logic name``_tready
`define AXIS_OUT(name, bits) output logic [(bits)-1:0] name``_tdata, output logic name``_tvalid, input logic name``_tready
`define BUS(bits) (((bits) + 7) / 8 * 8)

// N_STEPS: thresholds per channel (0: no activation where the module allows it); THR_BITS
// (threshold_search.sv): a threshold's width; ACT_VAL: added to every count; SHARED (threshold_search.sv):
// one threshold row for all channels; BASE_BITS (threshold_search.sv): per-channel base counts; LINES > 0:
// thresholds computed by threshold_lines.sv from LINES lines per channel, M_BITS / C_BITS / SHIFT its slope
// and offset widths and fraction bits; THRESH_FILE: the memory files' name (their layout: the units' headers).
`define THRESHOLD_PARAMS(n_steps, thr_bits) parameter int N_STEPS = n_steps, parameter int THR_BITS = thr_bits, \
    parameter int ACT_VAL = 0, parameter int SHARED = 0, parameter int BASE_BITS = 0, parameter int LINES = 0, \
    parameter int M_BITS = 1, parameter int C_BITS = 1, parameter int SHIFT = 0, parameter THRESH_FILE = ""
`define THRESHOLD_ARGS .N_STEPS(N_STEPS), .THR_BITS(THR_BITS), .ACT_VAL(ACT_VAL), .SHARED(SHARED), \
    .BASE_BITS(BASE_BITS), .LINES(LINES), .M_BITS(M_BITS), .C_BITS(C_BITS), .SHIFT(SHIFT), .THRESH_FILE(THRESH_FILE)
`define THRESHOLD_PORTS(pe, nf_bits, val_bits, out_bits) input logic en, input logic in_valid, \
    input logic [(nf_bits)-1:0] in_nf, input logic [(pe)*(val_bits)-1:0] in_val, \
    output logic out_valid, output logic [(pe)*(out_bits)-1:0] out_data

// An MVAU (mvau.sv; mvau_residual.sv passes them on to its mvau): MW x MH weights, SIMD inputs and PE lanes
// a cycle, input and weight widths and signedness, XNOR mode, the accumulator's width; the weight memory:
// WEIGHT_FILE, RAM_STYLE (its synthesis attribute: "auto", "block" or "logic" (LUTs); with W_LOAD "auto",
// "block" or "ultra"), PACK (1: two PE lanes' integer products per multiplier, one DSP48E2), W_LOAD (1:
// weights loaded from s_axis_w after reset, no initial contents: UltraRAM), W_WORD_BITS (the weight
// stream's word width), W_BIPOLAR (1, integer mode: W_BITS = 1 codes of bipolar weights, 0 for -1 and 1 for
// +1; each product is +x or -x, no multiplier).
`define MVAU_PARAMS parameter int MW = 8, parameter int MH = 4, parameter int SIMD = 2, parameter int PE = 2, \
    parameter int IN_BITS = 4, parameter int IN_SIGNED = 1, parameter int W_BITS = 4, parameter int W_SIGNED = 1, \
    parameter int XNOR = 0, parameter int ACC_BITS = 16, parameter WEIGHT_FILE = "", parameter RAM_STYLE = "auto", \
    parameter int PACK = 0, parameter RES_TYPE = "dsp", parameter int W_LOAD = 0, parameter int W_WORD_BITS = 32, \
    parameter int W_BIPOLAR = 0
`define MVAU_ARGS .MW(MW), .MH(MH), .SIMD(SIMD), .PE(PE), .IN_BITS(IN_BITS), .IN_SIGNED(IN_SIGNED), \
    .W_BITS(W_BITS), .W_SIGNED(W_SIGNED), .XNOR(XNOR), .ACC_BITS(ACC_BITS), .WEIGHT_FILE(WEIGHT_FILE), \
    .RAM_STYLE(RAM_STYLE), .PACK(PACK), .RES_TYPE(RES_TYPE), .W_LOAD(W_LOAD), .W_WORD_BITS(W_WORD_BITS), \
    .W_BIPOLAR(W_BIPOLAR)

`define ADDER_TREE(t, n) \
    for (int l_ = 0; (1 << l_) < (n); l_++) \
        for (int j_ = 0; j_ < (n); j_++) \
            if (j_ % (2 << l_) == 0 && j_ + (1 << l_) < (n)) t[j_] = t[j_] + t[j_ + (1 << l_)];
`endif
