"""VVAU (FINN's VectorVectorActivation: depthwise convolution; op types VVAU, VVAU_hls, VVAU_rtl as
``InferVectorVectorActivation`` and ``SpecializeLayers`` make them) -> ``hls/vvau.sv``: each channel's K2 =
K_H*K_W window elements times its own K2 weights, PE channels and SIMD kernel elements per cycle, thresholds
searched (``threshold_search.sv``) or computed from lines (``threshold_lines.sv``), or none.

Arithmetic follows FINN's execution of the node (``VVAU.execute_node``, the reference the flow checks
against): XNOR-popcount where input and weights are both BIPOLAR ((x.w + K2) / 2), otherwise integer
products, a BIPOLAR operand being -1/+1 (its stream code 0/1). The accumulator's range is the one the actual
weights reach (as FINN's ``minimize_accumulator_width``). Products: FINN's ``resType`` ("lut": shift and
add; "dsp": multiplications, which Yosys maps to DSP blocks; "auto": :func:`res_type`).

Folding: PE divides Channels, SIMD divides K2. Fed by the sliding window generator (``swg.sv`` with
DEPTHWISE=1, one kernel position of SIMD channels a beat, channel folds outermost), the generator's SIMD
equals the VVAU's PE and the VVAU's SIMD is 1: the stream order (Channels/PE, K2, PE) is then the one the
VVAU reads. Cycles: FINN's ``get_exp_cycles`` (Channels/PE * K2/SIMD per output pixel), which the RTL meets
to the cycle without stalls (tests/test_rtl_vvau.py).

Resources: the formula is FINN's ``VVAU_hls.lut_estimation``/``dsp_estimation`` for the compute (called on
an HLS copy of the node, its memory and threshold terms left to ours) plus our weight ROM, thresholds and
registers; the calibrated model weights the terms of :meth:`VVAU.terms`, fitted to Yosys ``synth_xilinx``
on VVAU layers (``benchmarks/calibrate_vvau.py``; coefficients under "vvau" in ``flow/calibration.json``).
"""
from __future__ import annotations

import math

import numpy as np
from onnx import helper
from qonnx.core.datatype import DataType
from qonnx.custom_op.registry import getCustomOp

from ..errors import UnsupportedError
from . import thresholds as thr
from .base import RESOURCE_KEYS, LayerKind, LayerRTL, add, base_op, ram_style
from .memory import clog2, memory_cost, styled, weight_rom_terms
from .threshold_lines import line_files, line_params, lines_for


# ------------------------------------------------------------------------------------------ widths
def kernel_weights(model, node, inst) -> np.ndarray:
    """The node's weights as an integer (Channels, K2) array of values (BIPOLAR as -1/+1)."""
    ch = inst.get_nodeattr("Channels")
    k_h, k_w = inst.get_nodeattr("Kernel")
    w = model.get_initializer(node.input[1])
    if w is None:
        raise UnsupportedError(f"node {node.name}: VVAU weights are not a constant initializer")
    w = np.asarray(w, dtype=np.float64)
    if w.size != ch * k_h * k_w:
        raise UnsupportedError(f"node {node.name}: VVAU weights of shape {list(w.shape)}; expected "
                               f"[{ch}, 1, {k_h}, {k_w}]")
    w = w.reshape(ch, k_h * k_w)
    if np.any(w != np.round(w)):
        raise UnsupportedError(f"node {node.name}: VVAU weights are not integers")
    return np.round(w).astype(np.int64)


def vvau_widths(model, node, inst) -> dict:
    """What vvau.sv computes with: XNOR mode, operand widths, signedness and bipolar codes, and the
    accumulator's range (ACC_LO, ACC_HI, over every channel, from the actual weights) and width."""
    idt, wdt = inst.get_input_datatype(0), DataType[inst.get_nodeattr("weightDataType")]
    bipolar = DataType["BIPOLAR"]
    k2 = int(np.prod(inst.get_nodeattr("Kernel")))
    if not (idt.is_integer() and wdt.is_integer()):
        raise UnsupportedError(f"node {node.name}: VVAU of {idt.name} x {wdt.name}; integer types only")
    if int(inst.get_nodeattr("binaryXnorMode")) and not (idt == bipolar and wdt == bipolar):
        raise UnsupportedError(f"node {node.name}: binaryXnorMode=1 with {idt.name} x {wdt.name}: FINN's execution "
                               f"of a VVAU multiplies such values where its HLS XNORs them; use BIPOLAR types")
    xnor = idt == bipolar and wdt == bipolar
    w = kernel_weights(model, node, inst)
    if xnor:
        d = dict(IN_BITS=1, IN_SIGNED=0, IN_BIPOLAR=0, W_BITS=1, W_SIGNED=0, W_BIPOLAR=0)
        acc_lo, acc_hi = 0, k2
    else:
        in_bits, in_signed = thr.dtype_bits(idt)
        w_bits, w_signed = thr.dtype_bits(wdt)
        d = dict(IN_BITS=in_bits, IN_SIGNED=in_signed, IN_BIPOLAR=int(idt == bipolar), W_BITS=w_bits,
                 W_SIGNED=w_signed, W_BIPOLAR=int(wdt == bipolar))
        x_lo, x_hi = int(idt.min()), int(idt.max())
        acc_lo = int(np.minimum(w * x_lo, w * x_hi).sum(axis=1).min())
        acc_hi = int(np.maximum(w * x_lo, w * x_hi).sum(axis=1).max())
    return dict(XNOR=int(xnor), **d, ACC_LO=acc_lo, ACC_HI=acc_hi,
                ACC_BITS=thr.padded_signed_bits(min(acc_lo, 0), acc_hi))


AUTO_LUT_BITS = 8  # resType "auto": products of operands of at most this many bits together go to LUTs


def res_type(inst, wd: dict) -> str:
    """The products' implementation (RES_TYPE): FINN's resType where it says "lut" or "dsp" (XNOR lanes
    are always logic). For "auto", LUTs where the operands have at most AUTO_LUT_BITS bits together, DSPs
    above: a 4 x 4-bit product measures about 28 LUTs in shift-and-add form (Yosys synth_xilinx, MobileNet's
    depthwise layers, benchmarks/calibrate_vvau.py), where an xc7z020 has 240 LUTs per DSP block."""
    rt = inst.get_nodeattr("resType")
    if wd["XNOR"]:
        return "lut"
    if rt in ("lut", "dsp"):
        return rt
    return "lut" if wd["W_BITS"] + wd["IN_BITS"] <= AUTO_LUT_BITS else "dsp"


def rtl_ram_style(node) -> str:
    """The weight ROM's RAM_STYLE: FINN's ram_style, "distributed" as "logic" (a ROM is no LUT-RAM in Yosys)."""
    style = ram_style(node)
    if style == "ultra":
        raise UnsupportedError(f"node {node.name}: ram_style='ultra' is not supported for a VVAU (its weights "
                               f"are a ROM with initial contents, which UltraRAM cannot have); use auto, block or "
                               f"distributed")
    return "logic" if style == "distributed" else style


def window_feeder(model, node):
    """The sliding window generator feeding ``node``, or None."""
    producer = model.find_producer(node.input[0])
    if producer is not None and base_op(producer) == "ConvolutionInputGenerator":
        return producer
    return None


def check_folding(model, node, inst) -> None:
    ch, pe, simd = (inst.get_nodeattr(k) for k in ("Channels", "PE", "SIMD"))
    k2 = int(np.prod(inst.get_nodeattr("Kernel")))
    if pe < 1 or ch % pe or simd < 1 or k2 % simd:
        raise UnsupportedError(f"node {node.name}: VVAU PE={pe} must divide Channels={ch} and SIMD={simd} the "
                               f"kernel's {k2} elements")
    feeder = window_feeder(model, node) if model is not None else None
    if feeder is None:
        return
    f_inst = getCustomOp(feeder)
    if f_inst.get_nodeattr("parallel_window"):
        raise UnsupportedError(f"node {node.name}: a VVAU fed by a parallel-window generator ({feeder.name}) is not "
                               f"supported; set parallel_window=0 there")
    if simd != 1 or f_inst.get_nodeattr("SIMD") != pe:
        raise UnsupportedError(f"node {node.name}: fed by {feeder.name} (one kernel position of SIMD channels a "
                               f"beat), the VVAU needs SIMD=1 and PE = that generator's SIMD="
                               f"{f_inst.get_nodeattr('SIMD')}, not SIMD={simd}, PE={pe}")


def threshold_source(model, node, inst, wd: dict):
    """("lines", ThresholdLines) or ("table", ThresholdTable) of the node's thresholds over the accumulator's
    range."""
    ch = inst.get_nodeattr("Channels")
    lo, hi = wd["ACC_LO"], wd["ACC_HI"]
    lines = lines_for(thr.clipped_thresholds(model, node, ch, lo, hi), lo, hi)
    if lines is not None:
        return "lines", lines
    return "table", thr.threshold_table(model, node, ch, lo, hi, wd["ACC_BITS"] + 1)


def vvau_params(model, node, inst) -> tuple[dict, tuple | None]:
    """vvau.sv's parameters (memory files named, not built) and the threshold source (or None)."""
    check_folding(model, node, inst)
    wd = vvau_widths(model, node, inst)
    odt = inst.get_output_datatype(0)
    params = dict(CH=inst.get_nodeattr("Channels"), K2=int(np.prod(inst.get_nodeattr("Kernel"))),
                  SIMD=inst.get_nodeattr("SIMD"), PE=inst.get_nodeattr("PE"),
                  **{k: wd[k] for k in ("IN_BITS", "IN_SIGNED", "IN_BIPOLAR", "W_BITS", "W_SIGNED", "W_BIPOLAR",
                                        "XNOR", "ACC_BITS")},
                  WEIGHT_FILE="weights.mem", RAM_STYLE=rtl_ram_style(node), RES_TYPE=res_type(inst, wd),
                  OUT_BITS=thr.dtype_bits(odt)[0])
    if inst.get_nodeattr("noActivation") == 0:
        kind, src = threshold_source(model, node, inst, wd)
        if kind == "lines":
            params.update(THR_BITS=wd["ACC_BITS"] + 1, **line_params(src, thr.act_val(inst, odt)))
        else:
            params.update(thr.search_params(src, thr.act_val(inst, odt)))
        return params, (kind, src)
    if not (odt.allowed(wd["ACC_LO"]) and odt.allowed(wd["ACC_HI"])):
        raise UnsupportedError(f"node {node.name}: output type {odt.name} cannot hold the accumulator's range "
                               f"[{wd['ACC_LO']}, {wd['ACC_HI']}]")
    params.update(N_STEPS=0, THR_BITS=wd["ACC_BITS"] + 1, ACT_VAL=0, SHARED=0, BASE_BITS=0)
    return params, None


def weight_words(model, node, inst, p: dict) -> list[list[int]]:
    """weights.mem's lines: line nf*SF + sf, element q*SIMD + s = W[nf*PE + q][sf*SIMD + s] (the 0/1 codes of
    bipolar weights)."""
    w = kernel_weights(model, node, inst)
    if p["XNOR"] or p["W_BIPOLAR"]:
        w = (w + 1) // 2
    pe, simd = p["PE"], p["SIMD"]
    nf, sf = p["CH"] // pe, p["K2"] // simd
    return [[int(w[n * pe + q, s * simd + j]) for q in range(pe) for j in range(simd)]
            for n in range(nf) for s in range(sf)]


def product_bits(p: dict) -> tuple[int, int]:
    """(input value bits, weight value bits) of one product in vvau.sv (signed; a bipolar operand is 2)."""
    return (2 if p["IN_BIPOLAR"] else p["IN_BITS"] + 1), (2 if p["W_BIPOLAR"] else p["W_BITS"] + 1)


def dsp_products(p: dict) -> int:
    """DSP blocks of the products: one per product where RES_TYPE is "dsp" (both operands at least 2 bits,
    so Yosys maps every multiplication), none for "lut" or XNOR."""
    if p["XNOR"] or p["RES_TYPE"] != "dsp":
        return 0
    return p["PE"] * p["SIMD"]


# ------------------------------------------------------------------------------------------ the kind
class VVAU(LayerKind):
    op_types = ("VVAU",)
    window_fold_attr = "PE"
    modules = ("vvau",)
    limit_names = {"PE": "Channels", "SIMD": "the kernel's elements (Kernel[0] * Kernel[1])"}

    def fold_limits(self, model, node, inst):
        # SIMD stays as set (1 where a window generator feeds it; check_folding says why)
        return {"PE": inst.get_nodeattr("Channels")}

    def pixel_fold(self, model, node, inst):
        inst.set_nodeattr("PE", inst.get_nodeattr("Channels"))
        inst.set_nodeattr("SIMD", 1)

    def rtl_params(self, model, node, inst):
        return "vvau", vvau_params(model, node, inst)[0]

    def rtl(self, model, node, inst):
        params, src = vvau_params(model, node, inst)
        memfiles = {"weights.mem": thr.hex_lines(weight_words(model, node, inst, params), params["W_BITS"])}
        sources = ["vvau"]
        if src is not None:
            kind, s = src
            if kind == "lines":
                memfiles.update(line_files(s, params["PE"]))
                sources.append("threshold_lines")
            else:
                memfiles.update(thr.threshold_files(s, params["PE"]))
                sources.append("threshold_search")
        return LayerRTL("vvau", params, memfiles, sources)

    def formula(self, model, node, inst, family, part):
        p = vvau_params(model, node, inst)[0]
        sf, nf = p["K2"] // p["SIMD"], p["CH"] // p["PE"]
        # FINN's compute formula on a VVAU_hls copy of the node; memories and thresholds are ours.
        copy = helper.make_node("VVAU_hls", list(node.input[:2]), list(node.output), name=node.name,
                                domain="finn.custom_op.fpgadataflow.hls", backend="fpgadataflow")
        copy.attribute.extend(a for a in node.attribute if a.name not in ("ram_style", "noActivation", "resType",
                                                                           "accDataType"))
        finn = getCustomOp(copy)
        finn.set_nodeattr("ram_style", "block")
        finn.set_nodeattr("noActivation", 1)
        finn.set_nodeattr("resType", p["RES_TYPE"])
        finn.set_nodeattr("accDataType", f"INT{p['ACC_BITS']}")
        cost = dict.fromkeys(RESOURCE_KEYS, 0)
        cost["LUT"] = int(finn.lut_estimation(part))
        cost["DSP"] = dsp_products(p)  # FINN's VVAU formula counts one DSP per 48 operand bits a lane
        cost = add(cost, memory_cost(p["PE"] * p["SIMD"] * p["W_BITS"], nf * sf, inst.get_nodeattr("ram_style"),
                                     family, rom=True))
        cost = add(cost, thr.formula(p, nf, p["ACC_BITS"], family))
        cost["FF"] += (p["PE"] * (2 * p["ACC_BITS"] + p["OUT_BITS"]) + clog2(sf) + clog2(nf) + 1
                       + 2 * p["PE"] * p["SIMD"] * (p["W_BITS"] + p["IN_BITS"]))  # operands twice (read, register)
        return cost, "finn (compute) + own (memories, threshold search, DSP, FF)"

    def memory_shape(self, module, p):
        return p["PE"] * p["SIMD"] * p["W_BITS"], (p["K2"] // p["SIMD"]) * (p["CH"] // p["PE"]), True

    def content(self, model, node, module, p):
        if not p["N_STEPS"] or p.get("LINES"):
            return {}
        inst = getCustomOp(node)
        kind, table = threshold_source(model, node, inst, vvau_widths(model, node, inst))
        luts, brams = thr.threshold_rom_usage(table, p["PE"])
        return {"thr_rom": luts, "thr_brams": [list(b) for b in brams]}

    def terms(self, module, p, content):
        """The structure vvau.sv implies: ``xnor`` (XNOR lanes), ``lutmul`` (partial-product bits of the
        shift-and-add products: weight value bits x product bits per lane), ``tree`` (adder-tree bits:
        SIMD - 1 adders of the dot width per lane, and the products' sign extension into it), ``acc``
        (accumulator bits), the weight ROM in logic (``w_rom``, ``w_mux``) or block RAM, the thresholds
        (:func:`.thresholds.terms`) and the registers (``regs``)."""
        t: dict = {"one": 1}
        sf, nf = p["K2"] // p["SIMD"], p["CH"] // p["PE"]
        lanes = p["PE"] * p["SIMD"]
        xb, wb = product_bits(p)
        prod = xb + wb
        dot = min(math.ceil(math.log2(p["SIMD"] + 1)) + 1 if p["XNOR"] else prod + clog2(p["SIMD"]), p["ACC_BITS"])
        t["xnor"] = lanes if p["XNOR"] else 0
        t["lutmul"] = lanes * wb * prod if not p["XNOR"] and p["RES_TYPE"] == "lut" else 0
        t["tree"] = p["PE"] * (p["SIMD"] - 1) * dot
        t["acc"] = p["PE"] * p["ACC_BITS"]
        w_line = lanes * p["W_BITS"]
        rom, brams = weight_rom_terms(w_line, nf * sf, styled(self.memory_shape(module, p), p.get("RAM_STYLE", "auto")))
        t.update(rom)
        search, more = thr.terms(p, nf, p["ACC_BITS"], content)
        brams += more
        t.update(search)
        in_width = lanes * p["IN_BITS"]
        t["regs"] = (2 * p["PE"] * p["ACC_BITS"] + p["PE"] * dot + clog2(sf) + clog2(nf) + clog2(sf * nf)
                     + 2 * (w_line + in_width) + (0 if p["N_STEPS"] else p["PE"] * p["OUT_BITS"]))
        return t, brams

    def calibrated_extra(self, module, p, cost):
        cost["DSP"] = cost.get("DSP", 0) + dsp_products(p)
        return thr.lines_dsp_cost(p, p["ACC_BITS"], cost)

    def report_extra(self, module, p):
        return thr.report_extra(p)


KIND = VVAU()
