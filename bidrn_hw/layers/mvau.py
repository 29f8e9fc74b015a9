"""MVAU (matrix-vector-activation unit) -> ``hls/mvau.sv``: XNOR-popcount or integer dot products of SIMD
inputs by PE output channels, weights in a ROM (or UltraRAM loaded after reset: ``hls/weight_loader.sv``),
thresholds searched (``threshold_search.sv``) or computed from lines (``threshold_lines.sv``).

Folding: SIMD divides MW (or, fed by a sliding window generator without parallel windows, its IFMChannels),
PE divides MH. Cycles: FINN's ``get_exp_cycles`` (MH/PE * MW/SIMD per input vector). On UltraScale+ parts
two PE lanes' integer products share one DSP48E2 multiplier (PACK, Xilinx WP486).
"""
from __future__ import annotations

import numpy as np
from onnx import helper
from qonnx.core.datatype import DataType
from qonnx.custom_op.registry import getCustomOp

from ..errors import UnsupportedError
from . import thresholds as thr
from .base import RESOURCE_KEYS, LayerKind, LayerRTL, add, base_op, rtl_ram_style
from .memory import clog2, lutram_luts, memory_cost, styled, weight_rom_terms, yosys_block_ram
from .threshold_lines import line_files, line_params

# The width of the top's weight stream words (W_LOAD layers): weights.bin holds words of it (little-endian
# 32-bit, "<u4"); rtlgen.stitch names the port.
WEIGHT_WORD_BITS = 32

# The compile's target family, kept in the model's metadata (set by bidrn_hw.flow.build.fold and the whole-frame
# estimate before folding) so that the generator and the estimator see the same target.
TARGET_FAMILY = "bidrn_hw_target_family"
DSP48E2_FAMILIES = ("zynq_us+", "alveo")  # UltraScale+: 27 x 18-bit multipliers

# LUTs per bit of the packed products' borrow corrections (mvau.sv PACK = 1), outside the fit (no calibration
# design packs). Measured with Yosys synth_xilinx -family xcup, same layer unpacked and packed: INT8 x INT8,
# MW 64, SIMD 16, PE 4: 1,885 -> 2,233 LUT (0.64 per bit), DSP48E2 64 -> 32; UINT8 x INT8, MW 27, SIMD 27, PE 4:
# 2,090 -> 2,231 LUT (0.15 per bit), DSP 108 -> 54. The larger figure is used.
PACK_LUT_PER_BIT = 0.65


def set_target_family(model, family: str) -> None:
    model.set_metadata_prop(TARGET_FAMILY, family)


def pack_products(model, inst, wd: dict | None = None) -> int:
    """1 where mvau.sv should compute two PE lanes' products per multiplier (its PACK parameter): integer
    products that Yosys maps to DSPs (both operands 2 bits or more), a DSP48E2 target, and operands that fit
    it: the input in the 18-bit port, the packed weight (IN_BITS + 2 * W_BITS + 2 bits) in the 27-bit one."""
    wd = wd or thr.mvau_widths(inst)
    if model.get_metadata_prop(TARGET_FAMILY) not in DSP48E2_FAMILIES or wd["XNOR"] or inst.get_nodeattr("PE") < 2 \
            or res_type(inst, wd) == "lut":
        return 0
    in_bits, w_bits = wd["IN_BITS"], wd["W_BITS"]
    if wd["W_BIPOLAR"]:  # mvau.sv packs stored weight values, not bipolar codes
        return 0
    return int(in_bits >= 2 and w_bits >= 2 and in_bits + 1 <= 18 and in_bits + 2 * w_bits + 2 <= 27)


def res_type(inst, wd: dict | None = None) -> str:
    """How mvau.sv computes integer products (its RES_TYPE): "lut" (shift and add: LUTs and carry chains) where
    FINN's ``resType`` says "lut", else "dsp" (a multiplication, which Yosys maps to a DSP block where both
    operands are 2 bits or wider), except that an unset or "auto" resType gives "lut" to products narrower
    than DSP_MIN_PRODUCT_BITS. XNOR lanes have no products: "dsp", i.e. the parameter is left out.
    ``resType`` "auto" keeps the multiplication; auto folding sets "lut" where the part's DSPs run short
    (:func:`bidrn_hw.flow.folding.move_products_to_luts`)."""
    wd = wd or thr.mvau_widths(inst)
    if wd["XNOR"]:
        return "dsp"
    # only where set on the node: FINN's MVAU_hls (the specialized graph the RTL is generated from) reads an
    # unset resType as "lut", the abstraction layer's MVAU as "auto"
    unset = "resType" not in {a.name for a in inst.onnx_node.attribute}
    if not unset and inst.get_nodeattr("resType") == "lut":
        return "lut"
    # bipolar weights: Yosys builds x * (+-1) as logic whatever the style (CNV-w1a1's first layer, 48 such
    # products of 8 bits, measured 3 DSP48 in the whole design), so the modelled shift-and-add form it is
    if wd["W_BIPOLAR"]:
        return "lut"
    # unset or "auto": a product narrower than a DSP block takes is LUT logic in Yosys either way; the
    # shift-and-add form is the one the estimate models
    if (unset or inst.get_nodeattr("resType") == "auto") and product_bits(wd) < DSP_MIN_PRODUCT_BITS:
        return "lut"
    return "dsp"


# Yosys synth_xilinx maps a multiplication to a DSP48 only where its product is at least this wide (mul2dsp's
# DSP_Y_MINWIDTH for xc7 and xcup): mvau.sv's 2-bit x 2-bit products (5 bits) measured 0 DSP48 in RES_TYPE
# dsp, 8 x 2 bits (11) one each.
DSP_MIN_PRODUCT_BITS = 9


def product_bits(p: dict) -> int:
    """Width of one of mvau.sv's integer products (its PROD_BITS)."""
    return p["IN_BITS"] + p["W_BITS"] + 1


def dsp_products(p: dict) -> bool:
    """Whether Yosys maps an MVAU's products to DSP blocks: integer products written as multiplications
    (RES_TYPE dsp) of operands 2 bits or wider (even 8 x 2 bits: CNV's first layer) and products of at least
    DSP_MIN_PRODUCT_BITS; never bipolar weights (res_type gives them RES_TYPE lut)."""
    return not p["XNOR"] and not p.get("W_BIPOLAR") and p.get("RES_TYPE", "dsp") == "dsp" and p["IN_BITS"] >= 2 \
        and p["W_BITS"] >= 2 and product_bits(p) >= DSP_MIN_PRODUCT_BITS


def lut_dot_bits(p: dict) -> int:
    """Adder bits of the dot products of an MVAU with RES_TYPE lut (mvau.sv ``lut_dot``): per lane and weight
    bit, a tree summing SIMD inputs of IN_BITS bits (each level's adders one bit wider than their inputs), then
    W_BITS - 1 shifted adds of the dot width. 0 for XNOR lanes and multiplications."""
    if p["XNOR"] or p.get("RES_TYPE", "dsp") != "lut":
        return 0
    dot = min(p["IN_BITS"] + p["W_BITS"] + 1 + clog2(p["SIMD"]), p["ACC_BITS"])
    tree, n, width = 0, p["SIMD"], p["IN_BITS"]
    while n > 1:
        width = min(width + 1, dot)
        tree += (n // 2) * width
        n -= n // 2
    if p.get("W_BIPOLAR"):  # 2 * (the gated tree) - (the inputs' tree, shared by the lanes): one subtract a lane
        return p["PE"] * (tree + dot) + tree
    return p["PE"] * (p["W_BITS"] * tree + (p["W_BITS"] - 1) * dot)


# LUTs per adder bit of lut_dot_bits, outside the MVAU fit (no calibration design has RES_TYPE lut): Yosys
# synth_xilinx -family xc7 of mvau.sv with INT2 inputs and weights, MW 576, MH 16, SIMD 32, PE 4, RES_TYPE lut,
# weights in block RAM, no thresholds: 1,125 LUT, of which the fitted terms give 267; 858 / 992 adder bits.
# (The earlier form, one shift-and-add product per element then the tree, measured 1,245.)
LUT_PER_DOT_BIT = 0.87


def _bits(dt: DataType) -> int:
    return 1 if dt == DataType["BIPOLAR"] else dt.bitwidth()


def mvau_params(model, node, inst) -> dict:
    """The parameters :meth:`MVAU.rtl` gives mvau.sv, without building its memory files."""
    wd = thr.mvau_widths(inst)
    style = rtl_ram_style(node)
    if inst.get_nodeattr("noActivation") == 0:
        search = thr.estimate_params(model, node, inst)
    else:
        search = dict(N_STEPS=0, THR_BITS=wd["ACC_BITS"] + 1, SHARED=0, BASE_BITS=0)
    return dict(**{k: inst.get_nodeattr(k) for k in ("MW", "MH", "SIMD", "PE")},
                **{k: wd[k] for k in ("XNOR", "IN_BITS", "W_BITS", "ACC_BITS")},
                OUT_BITS=_bits(inst.get_output_datatype(0)), **search, RAM_STYLE=style,
                **({"PACK": 1} if pack_products(model, inst, wd) else {}),
                **({"RES_TYPE": "lut"} if res_type(inst, wd) == "lut" else {}),
                **({"W_BIPOLAR": 1} if wd["W_BIPOLAR"] else {}),
                **({"W_LOAD": 1, "W_WORD_BITS": WEIGHT_WORD_BITS} if style == "ultra" else {}))


def weight_loader_cost(p: dict) -> dict:
    """weight_loader.sv of a W_LOAD MVAU (outside the fit): the line being assembled and the pass-through
    word in registers, its counters; its LUTs are the counters' logic and the pass-through handshake."""
    line_bits = p["PE"] * p["SIMD"] * p["W_BITS"]
    word = p.get("W_WORD_BITS", 32)
    beats = -(-line_bits // word)
    counters = clog2(beats) + 2 * clog2((p["MW"] // p["SIMD"]) * (p["MH"] // p["PE"]))
    cost = dict.fromkeys(RESOURCE_KEYS, 0)
    cost["FF"] = beats * word + word + counters + 3
    cost["LUT"] = 2 * counters + 6
    return cost


def mvau_outside_fit(p: dict) -> dict:
    """What an MVAU costs beyond the calibrated model and FINN's formula: the packed products' corrections
    (PACK) and the weight loader (W_LOAD); zero for neither."""
    cost = weight_loader_cost(p) if p.get("W_LOAD") else dict.fromkeys(RESOURCE_KEYS, 0)
    cost["LUT"] += PACK_LUT_PER_BIT * packed_correction_bits(p)
    return cost


def mvau_multipliers(p: dict) -> int:
    """Multipliers of an integer MVAU: one per product, or one per two lanes' products where PACK = 1."""
    lanes = p["PE"] // 2 + p["PE"] % 2 if p.get("PACK") else p["PE"]
    return lanes * p["SIMD"]


def packed_correction_bits(p: dict) -> int:
    """Adder bits of the packed products' corrections: one PROD_BITS adder per pair and input element."""
    return (p["PE"] // 2) * p["SIMD"] * (p["IN_BITS"] + p["W_BITS"] + 1) if p.get("PACK") else 0


def finn_compute_copy(node):
    """FINN's MVAU_hls op on a copy of the MVAU ``node`` with block weight memories and no activation: the op
    whose ``lut_estimation``/``dsp_estimation`` give the compute part of the cost (memories and thresholds are
    costed by us)."""
    copy = helper.make_node("MVAU_hls", list(node.input), list(node.output), name=node.name,
                            domain="finn.custom_op.fpgadataflow.hls", backend="fpgadataflow")
    copy.attribute.extend(a for a in node.attribute if a.name not in ("ram_style", "noActivation"))
    finn = getCustomOp(copy)
    finn.set_nodeattr("ram_style", "block")
    finn.set_nodeattr("noActivation", 1)
    return finn


def _window_feeder(model, node):
    """The sliding window generator without parallel windows that feeds ``node``, or None."""
    producer = model.find_producer(node.input[0])
    if producer is not None and base_op(producer) == "ConvolutionInputGenerator" \
            and not getCustomOp(producer).get_nodeattr("parallel_window"):
        return producer
    return None


class MVAU(LayerKind):
    op_types = ("MVAU",)
    window_fold_attr = "SIMD"
    modules = ("mvau",)
    limit_names = {"SIMD": "MW", "PE": "MH"}

    def fold_limits(self, model, node, inst):
        limits = {"SIMD": inst.get_nodeattr("MW"), "PE": inst.get_nodeattr("MH")}
        feeder = _window_feeder(model, node)
        if feeder is not None:
            limits["SIMD"] = getCustomOp(feeder).get_nodeattr("IFMChannels")
        return limits

    def limit_name(self, model, node, attr):
        feeder = _window_feeder(model, node)
        if attr == "SIMD" and feeder is not None:
            return (f"IFMChannels of {feeder.name} (or set parallel_window=1 there for SIMD = MW: one whole "
                    f"window per beat)")
        return self.limit_names[attr]

    def pixel_fold(self, model, node, inst):
        mw, mh = inst.get_nodeattr("MW"), inst.get_nodeattr("MH")
        producer = model.find_producer(node.input[0])
        simd = getCustomOp(producer).get_nodeattr("SIMD") if producer is not None and \
            base_op(producer) == "ConvolutionInputGenerator" else mw
        inst.set_nodeattr("SIMD", simd)
        inst.set_nodeattr("PE", mh)

    def rtl_params(self, model, node, inst):
        return "mvau", mvau_params(model, node, inst)

    def rtl(self, model, node, inst):
        mw, mh, simd, pe = (inst.get_nodeattr(k) for k in ("MW", "MH", "SIMD", "PE"))
        if mw % simd or mh % pe:
            raise UnsupportedError(f"node {node.name}: SIMD {simd} must divide MW {mw} and PE {pe} must divide MH {mh}")
        wd = thr.mvau_widths(inst)
        xnor, in_bits, w_bits, acc_bits = wd["XNOR"], wd["IN_BITS"], wd["W_BITS"], wd["ACC_BITS"]
        w = np.asarray(model.get_initializer(node.input[1]), dtype=np.float64)
        if inst.get_nodeattr("weightDataType") == "BIPOLAR":  # XNOR or W_BIPOLAR
            w = (w + 1) / 2  # {0,1} codes
        w_int = np.round(w).astype(np.int64)
        sf, nf = mw // simd, mh // pe
        words = [[w_int[s * simd + j, n * pe + p] for p in range(pe) for j in range(simd)]
                 for n in range(nf) for s in range(sf)]
        name = node.name
        memfiles = {"weights.mem": thr.hex_lines(words, w_bits)}
        params = dict(MW=mw, MH=mh, SIMD=simd, PE=pe, IN_BITS=in_bits, IN_SIGNED=wd["IN_SIGNED"], W_BITS=w_bits,
                      W_SIGNED=wd["W_SIGNED"], XNOR=xnor, ACC_BITS=acc_bits, WEIGHT_FILE="weights.mem",
                      RAM_STYLE=rtl_ram_style(node))
        if pack_products(model, inst, wd):
            params["PACK"] = 1
        if res_type(inst, wd) == "lut":
            params["RES_TYPE"] = "lut"
        if wd["W_BIPOLAR"]:
            params["W_BIPOLAR"] = 1
        sources = ["mvau"]
        if params["RAM_STYLE"] == "ultra":  # no initial contents: loaded after reset from the weight stream
            family = model.get_metadata_prop(TARGET_FAMILY)
            if family not in DSP48E2_FAMILIES:
                raise UnsupportedError(f"node {name}: ram_style='ultra' (UltraRAM weights, loaded after reset) needs "
                                       f"an UltraScale+ part (xczu7ev, xcu250), not the {family or 'default'} target")
            params.update(W_LOAD=1, W_WORD_BITS=WEIGHT_WORD_BITS)
            sources.append("weight_loader")
        odt = inst.get_output_datatype(0)
        if inst.get_nodeattr("noActivation") == 0:
            lines = thr.node_threshold_lines(model, node, inst)
            if lines is not None:
                memfiles.update(line_files(lines, pe))
                params.update(OUT_BITS=thr.dtype_bits(odt)[0], THR_BITS=acc_bits + 1,
                              **line_params(lines, thr.act_val(inst, odt)))
                return LayerRTL("mvau", params, memfiles, sources + ["threshold_lines"])
            table = thr.node_threshold_table(model, node, inst)
            memfiles.update(thr.threshold_files(table, pe))
            params.update(OUT_BITS=thr.dtype_bits(odt)[0], **thr.search_params(table, thr.act_val(inst, odt)))
        else:
            params.update(N_STEPS=0, THR_BITS=acc_bits + 1, OUT_BITS=thr.dtype_bits(odt)[0], ACT_VAL=0, SHARED=0,
                          BASE_BITS=0)
            if params["OUT_BITS"] < acc_bits:
                raise UnsupportedError(f"node {name}: output type {odt.name} narrower than the accumulator "
                                       f"({acc_bits} bits)")
        return LayerRTL("mvau", params, memfiles, sources + (["threshold_search"] if params["N_STEPS"] else []))

    def formula(self, model, node, inst, family, part):
        p = mvau_params(model, node, inst)
        sf, nf = p["MW"] // p["SIMD"], p["MH"] // p["PE"]
        dsp_style = not p["XNOR"] and p["W_BITS"] >= 4 and p["IN_BITS"] >= 4
        # FINN's compute formula on an MVAU_hls copy of the node, memories and thresholds left to us.
        finn = finn_compute_copy(node)
        finn.set_nodeattr("resType", "dsp" if dsp_style and p.get("RES_TYPE", "dsp") == "dsp" else "lut")
        cost = dict.fromkeys(RESOURCE_KEYS, 0)
        cost["LUT"] = int(finn.lut_estimation(part))
        cost["DSP"] = int(finn.dsp_estimation(part))
        if p.get("PACK"):  # FINN's formula counts one DSP per product
            cost["DSP"] = mvau_multipliers(p)
        cost = add(cost, mvau_outside_fit(p))
        style = inst.get_nodeattr("ram_style")
        cost = add(cost, memory_cost(p["PE"] * p["SIMD"] * p["W_BITS"], nf * sf, style, family, rom=True))
        in_width = p["SIMD"] * p["IN_BITS"]
        cost = add(cost, memory_cost(in_width, sf, "distributed", family) if sf > 2 else {"FF": in_width * sf})
        cost = add(cost, thr.formula(p, nf, p["ACC_BITS"], family))
        cost["FF"] += (p["PE"] * (p["ACC_BITS"] + p["OUT_BITS"]) + clog2(sf) + clog2(nf) + 1
                       + p["PE"] * p["SIMD"] * p["W_BITS"] + in_width)  # + the operand register
        return cost, "finn (compute, DSP) + own (memories, threshold search, FF)"

    def memory_shape(self, module, p):
        return p["PE"] * p["SIMD"] * p["W_BITS"], (p["MW"] // p["SIMD"]) * (p["MH"] // p["PE"]), True

    def content(self, model, node, module, p):
        return thr.content(model, node, p)

    def terms(self, module, p, content):
        t: dict = {"one": 1}
        sf, nf = p["MW"] // p["SIMD"], p["MH"] // p["PE"]
        lanes = p["PE"] * p["SIMD"]
        t["xnor"] = lanes if p["XNOR"] else 0
        # products in DSP48s: the adder tree is LUTs (RES_TYPE lut: the trees are outside the fit, lut_dot_bits)
        t["mul"] = 0 if p["XNOR"] or p.get("RES_TYPE", "dsp") == "lut" else lanes * p["ACC_BITS"]
        t["acc"] = p["PE"] * p["ACC_BITS"]
        # read synchronously (registered): block RAM where Yosys finds it cheaper, else logic. (A separate term
        # for ROMs past 1,024 words had no fit data since the reads became synchronous, so it estimated them
        # at 0 LUTs; a 4,096 x 1 logic ROM measures 316 LUTs in all, the shared term gives 294.)
        w_line = lanes * p["W_BITS"]
        rom, brams = weight_rom_terms(w_line, nf * sf, styled(self.memory_shape(module, p), p.get("RAM_STYLE", "auto")))
        t.update(rom)
        in_width = p["SIMD"] * p["IN_BITS"]
        t["ibuf"] = 0
        if sf > 1 and yosys_block_ram(in_width, sf):
            brams.append((in_width, sf))
        elif sf > 1:
            t["ibuf"] = lutram_luts(in_width, sf) + in_width
        search, more = thr.terms(p, nf, p["ACC_BITS"], content)
        brams += more
        t.update(search)
        t["regs"] = (2 * p["PE"] * p["ACC_BITS"] + clog2(sf) + clog2(nf) + w_line + in_width  # + operand register
                     + (0 if p["N_STEPS"] else p["PE"] * p["OUT_BITS"]))
        return t, brams

    def calibrated_extra(self, module, p, cost):
        if dsp_products(p):
            # Yosys maps every product of the integer dot product to a DSP48 (even 8 x 2 bits: CNV's first layer)
            cost["DSP"] = mvau_multipliers(p)
        # RES_TYPE lut: the dot products' adder trees in LUTs, outside the fit (see LUT_PER_DOT_BIT)
        cost["LUT"] += LUT_PER_DOT_BIT * lut_dot_bits(p)
        cost = add(cost, mvau_outside_fit(p))
        return thr.lines_dsp_cost(p, p["ACC_BITS"], cost)

    def report_extra(self, module, p):
        return thr.report_extra(p)


KIND = MVAU()
