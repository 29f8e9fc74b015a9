// The declarations the modules of this library share, written once (FINN's names):
// `AP_CTRL is the clock and the active-low reset, `AXIS_IN(name, bits) / `AXIS_OUT(name, bits) a slave / master
// AXI-Stream: name_tdata (bits wide), name_tvalid, name_tready. `BUS(bits) is a stream's tdata width for
// `bits` bits of data: whole bytes, as FINN pads its streams. Each module includes this file; every tool
// that reads the library is given its folder as an include path (Verilator and Yosys -I, Vivado include_dirs),
// and its own guard keeps one definition where a build reads it first (rtl/filelist.f lists it first).
//
// The activation after an accumulator or a stream of values (threshold_unit.sv: threshold_search.sv, or
// threshold_lines.sv where LINES > 0): `THRESHOLD_PARAMS(n_steps, thr_bits) declares the parameters that
// only pass through to it (mvau.sv, mvau_residual.sv, vvau.sv, thresholding.sv, mac_pipeline.sv, with
// defaults N_STEPS = n_steps, THR_BITS = thr_bits), `THRESHOLD_ARGS passes them on to an instance.
// `THRESHOLD_UNIT_PARAMS: what both units take (PE values of VAL_BITS, signed, a beat, of NF channel folds,
// N_STEPS thresholds, OUT_BITS out; NFB: in_nf's width); each adds its own.
// `THRESHOLD_PORTS(pe, nf_bits, val_bits, out_bits) is the units' interface: the pipeline advances when
// en is high; in_valid marks a beat of pe values of channel fold in_nf entering it, out_valid / out_data a
// beat of pe results leaving it.
//
// `AXIS_PIPE(in_bits, out_bits) is the port list of a module with one input and one output stream (most of
// this library): `AP_CTRL, s_axis_0 and m_axis_0.
//
// Parameter groups that several modules share, each name with one meaning throughout the library:
// `LANE_PARAMS(pe, in_bits, in_signed, out_bits): PE values a beat, of IN_BITS (signed if IN_SIGNED) in and
// OUT_BITS out (thresholding.sv, pool.sv, globalaccpool.sv); `LANE_BUSES: their tdata widths IN_BUS, OUT_BUS.
// `ELEM_PARAMS(simd, elem_bits): SIMD elements of ELEM_BITS a beat, passed through unchanged (fmpadding.sv,
// upsampler.sv, swg.sv); `ELEM_BUS: DATA_BITS = SIMD * ELEM_BITS and its tdata width BUS_BITS.
// `IMAGE_PARAMS(h, w, ch): an input feature map of IFM_H x IFM_W pixels of CH channels (FINN's IFMDim,
// IFMChannels: swg.sv, swg_parallel.sv, fmpadding.sv, upsampler.sv). `KERNEL_PARAMS(k): a sliding window of
// K_H x K_W (default k x k), strides STRIDE_H/W and dilations DIL_H/W (default 1) (swg.sv, swg_parallel.sv).
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
`define AXIS_PIPE(in_bits, out_bits) `AP_CTRL, `AXIS_IN(s_axis_0, in_bits), `AXIS_OUT(m_axis_0, out_bits)

`define LANE_PARAMS(pe, in_bits, in_signed, out_bits) parameter int PE = pe, parameter int IN_BITS = in_bits, \
    parameter int IN_SIGNED = in_signed, parameter int OUT_BITS = out_bits
`define LANE_BUSES localparam int IN_BUS = `BUS(PE * IN_BITS), localparam int OUT_BUS = `BUS(PE * OUT_BITS)
`define ELEM_PARAMS(simd, elem_bits) parameter int SIMD = simd, parameter int ELEM_BITS = elem_bits
`define ELEM_BUS localparam int DATA_BITS = SIMD * ELEM_BITS, localparam int BUS_BITS = `BUS(DATA_BITS)
`define IMAGE_PARAMS(h, w, ch) parameter int IFM_H = h, parameter int IFM_W = w, parameter int CH = ch
`define KERNEL_PARAMS(k) parameter int K_H = k, parameter int K_W = k, parameter int STRIDE_H = 1, \
    parameter int STRIDE_W = 1, parameter int DIL_H = 1, parameter int DIL_W = 1

// N_STEPS: thresholds per channel (0: no activation where the module allows it); THR_BITS
// (threshold_search.sv): a threshold's width; ACT_VAL: added to every count; SHARED (threshold_search.sv):
// one threshold row for all channels; BASE_BITS (threshold_search.sv): per-channel base counts; LINES > 0:
// thresholds computed by threshold_lines.sv from LINES lines per channel, M_BITS / C_BITS / SHIFT its slope
// and offset widths and fraction bits; THRESH_FILE: the memory files' name (their layout: the units' headers).
`define THRESHOLD_PARAMS(n_steps, thr_bits) parameter int N_STEPS = n_steps, parameter int THR_BITS = thr_bits, \
    parameter int ACT_VAL = 0, parameter int SHARED = 0, parameter int BASE_BITS = 0, parameter int LINES = 0, \
    parameter int M_BITS = 1, parameter int C_BITS = 1, parameter int SHIFT = 0, parameter THRESH_FILE = ""
`define THRESHOLD_UNIT_PARAMS parameter int PE = 1, parameter int NF = 1, parameter int N_STEPS = 1, \
    parameter int VAL_BITS = 8, parameter int OUT_BITS = 1, parameter int ACT_VAL = 0, parameter THRESH_FILE = "", \
    localparam int NFB = NF > 1 ? $clog2(NF) : 1
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
