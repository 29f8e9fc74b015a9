"""ConvolutionInputGenerator (sliding window generator) -> ``hls/swg.sv`` (one kernel position of SIMD
channels per beat) or, with ``parallel_window=1`` (SIMD = channels), ``hls/swg_parallel.sv`` (one whole
window per beat).

finn-plus lowers Conv (via Im2Col) to FMPadding + ConvolutionInputGenerator (it has only the RTL backend)
and MaxPool to a depthwise generator (DEPTHWISE=1) followed by Pool. Folding: SIMD divides IFMChannels; an
MVAU or Pool consuming the windows is tied to it (``flow.folding.tied_pairs``).

Cycles (:func:`cycles_swg`) are steady-state cycles per frame of our module; FINN's RTL SWG formula differs
(see there).
"""
from __future__ import annotations

import math

from ..errors import UnsupportedError
from .base import LayerKind, check_divides, int_dtype, node_name, ram_style, zero
from .memory import clog2, lutram_luts, memory_cost, styled


def swg_params(op) -> tuple[str, dict]:
    k_h, k_w = op.get_nodeattr("ConvKernelDim")
    h, w = op.get_nodeattr("IFMDim")
    s_h, s_w = op.get_nodeattr("Stride")
    d_h, d_w = op.get_nodeattr("Dilation")
    ch = op.get_nodeattr("IFMChannels")
    simd = op.get_nodeattr("SIMD")
    check_divides(op, ch, simd, "SIMD")
    parallel = bool(op.get_nodeattr("parallel_window"))
    if parallel and simd != ch:
        raise UnsupportedError(f"node {node_name(op)}: parallel_window=1 needs SIMD = IFMChannels ({ch}), not {simd}")
    if op.get_nodeattr("dynamic_mode"):
        raise UnsupportedError(f"node {node_name(op)}: dynamic_mode=1 is not supported")
    if (k_h - 1) * d_h + 1 > h or (k_w - 1) * d_w + 1 > w:
        raise UnsupportedError(f"node {node_name(op)}: kernel {k_h}x{k_w} (dilation {d_h}x{d_w}) exceeds "
                               f"the {h}x{w} input")
    dt = int_dtype(op, op.get_input_datatype(), "input")
    ofm = list(op.get_nodeattr("OFMDim"))
    expect = [(h - (k_h - 1) * d_h - 1) // s_h + 1, (w - (k_w - 1) * d_w - 1) // s_w + 1]
    if ofm != expect:
        raise UnsupportedError(f"node {node_name(op)}: OFMDim {ofm} does not match a valid convolution ({expect})")
    if parallel:  # one window per beat; with SIMD = CH the depthwise order is the im2col order
        return "swg_parallel", dict(IFM_H=h, IFM_W=w, CH=ch, K_H=k_h, K_W=k_w, STRIDE_H=s_h, STRIDE_W=s_w,
                                    DIL_H=d_h, DIL_W=d_w, ELEM_BITS=dt.bitwidth(), RAM_STYLE=ram_style(op.onnx_node))
    params = dict(IFM_H=h, IFM_W=w, CH=ch, SIMD=simd, K_H=k_h, K_W=k_w, STRIDE_H=s_h, STRIDE_W=s_w,
                  DIL_H=d_h, DIL_W=d_w, ELEM_BITS=dt.bitwidth(), DEPTHWISE=int(op.get_nodeattr("depthwise")))
    params["BUF_DEPTH"] = swg_buffer_depth(params)
    params["RAM_STYLE"] = ram_style(op.onnx_node)
    return "swg", params


def swg_geometry(p: dict) -> dict:
    """Derived sizes of swg.sv (frame-local element = one beat of SIMD channels)."""
    cf = p["CH"] // p["SIMD"]
    kk = p["K_H"] * p["K_W"]
    oh = (p["IFM_H"] - (p["K_H"] - 1) * p["DIL_H"] - 1) // p["STRIDE_H"] + 1
    ow = (p["IFM_W"] - (p["K_W"] - 1) * p["DIL_W"] - 1) // p["STRIDE_W"] + 1
    n_in = p["IFM_H"] * p["IFM_W"] * cf
    ky_step, kx_step = p["DIL_H"] * p["IFM_W"] * cf, p["DIL_W"] * cf
    span = (p["K_H"] - 1) * ky_step + (p["K_W"] - 1) * kx_step + cf
    # Largest lead (buffer index minus output position) of an element within one window: the reader's
    # position e of window element j falls behind j most at the window's last element (im2col order) or at
    # the last kernel position of channel fold 0 (depthwise order).
    if p["DEPTHWISE"]:
        lead = (p["K_H"] - 1) * (ky_step - p["K_W"]) + (p["K_W"] - 1) * (kx_step - 1)
    else:
        lead = span - kk * cf
    idx0_last = ((oh - 1) * p["STRIDE_H"] * p["IFM_W"] + (ow - 1) * p["STRIDE_W"]) * cf
    return dict(cf=cf, kk=kk, oh=oh, ow=ow, n_in=n_in, n_out=oh * ow * kk * cf, span=span, lead=lead,
                jump_x=p["STRIDE_W"] * cf, jump_row=(p["STRIDE_H"] * p["IFM_W"] - (ow - 1) * p["STRIDE_W"]) * cf,
                jump_frame=n_in - idx0_last)


def swg_buffer_depth(p: dict) -> int:
    """Buffer depth (elements) that hides the stride jumps between windows and rows.

    When the reader moves from one window to the next, the buffer index of the first window element jumps by
    ``J``; the writer has been allowed up to the old start + BUF, and writes on at one element per cycle, so
    the new window's element ``j`` (output position ``e``) arrives ``j - e + J - BUF + 1`` cycles too late
    unless BUF >= lead + J + 1; meanwhile the writer waits too. Window-to-window jumps are always covered
    (else a 1x1 stride-2 layer would lose a third of its input rate); row jumps only where that saves
    cycles (an input-bound layer such as 1x1 stride 2 has time to spare there). Frame jumps are not covered
    (that would need about two windows' span); :func:`cycles_swg` accounts for them.
    """
    g = swg_geometry(p)
    # Two spare slots cover the two cycles between the writer filling a window's last slot and the reader
    # releasing that window (read, then the window start moves); without them an input-bound layer loses
    # two cycles per window.
    depth = g["span"] + 2
    if g["ow"] > 1:
        depth = max(depth, g["lead"] + g["jump_x"] + 1)
    depth = min(g["n_in"], depth)
    if g["oh"] > 1:
        deeper = min(g["n_in"], max(depth, g["lead"] + g["jump_row"] + 1))
        if cycles_swg({**p, "BUF_DEPTH": deeper}) < cycles_swg({**p, "BUF_DEPTH": depth}):
            depth = deeper
    return depth


def cycles_swg(p: dict) -> int:
    """Steady-state cycles per frame of swg.sv.

    FINN's RTL SWG formula (``buffer_min_size + OFM_H * max(OFM_W*K*K*CF, STRIDE_W*IFM_W*CF)``) charges a
    full buffer fill per frame, takes the input rows per output row from STRIDE_W (not STRIDE_H), and its
    1-D branch ignores the input side, so it is off for strides larger than the kernel and for unequal
    strides. swg.sv reads and writes in parallel, so a frame costs the larger of its input beats and its
    output beats plus the reader's stalls: at every jump J (next window, next row, next frame) the new
    window waits max(0, lead + J - limit + 1) cycles, where the writer's lead over the old window start,
    limit, is BUF (see :func:`swg_buffer_depth`), or the rest of the frame at a frame jump when that is more
    (the unused tail of a frame is accepted without limit).

    Known gap: a layer that is input-bound over the frame but output-bound within its used rows (large
    dilation or a long unused tail, e.g. 7x8 input, 3x2 kernel, dilation 2, stride 3) makes the writer wait
    on windows the reader still emits; the model does not see that and was measured up to 5% low there.
    """
    g = swg_geometry(p)
    buf = p.get("BUF_DEPTH") or g["span"]

    def stall(jump: int, limit: int = buf) -> int:
        return max(0, g["lead"] + jump - limit + 1)

    stalls = (stall(g["jump_frame"], max(buf, g["jump_frame"])) + (g["oh"] - 1) * stall(g["jump_row"])
              + g["oh"] * (g["ow"] - 1) * stall(g["jump_x"]))
    return max(g["n_in"], g["n_out"] + stalls)


def swg_cycles(module: str, p: dict) -> int:
    """Cycles per frame of a generator's module and parameters (:func:`swg_params`)."""
    return int(cycles_swg_parallel(p) if module == "swg_parallel" else cycles_swg(p))


def swg_frame_refill(p: dict) -> int:
    """Input beats the next frame's first window waits for at a frame jump (the frame-jump term of
    :func:`cycles_swg`, which takes them at one beat per cycle). A producer that delivers one beat per ``I``
    cycles makes it ``I`` times as long; ``flow.refill`` composes that with the producer's and the consumer's
    rates."""
    g = swg_geometry(p)
    buf = p.get("BUF_DEPTH") or g["span"]
    return max(0, g["lead"] + g["jump_frame"] - max(buf, g["jump_frame"]) + 1)


def swg_parallel_geometry(p: dict) -> dict:
    """:func:`swg_geometry` of swg_parallel.sv's parameters: a beat holds all channels (SIMD = CH, CF = 1)."""
    return swg_geometry({**p, "SIMD": p["CH"], "DEPTHWISE": 0})


def cycles_swg_parallel(p: dict) -> int:
    """swg_parallel.sv takes one pixel per cycle and never waits on itself: a frame is its input pixels."""
    return p["IFM_H"] * p["IFM_W"]


def swg_counter_bits(p: dict) -> int:
    """Bits of swg.sv's counters and the logic they feed, with the widths swg.sv derives from its parameters:
    the loop counters (channel fold, kernel x/y where the kernel has them, output x/y); the in-window offsets
    (the element's offset, and the kernel x/y offsets where used; all below the window span); the buffer
    addresses (window base and write address registers, and the read address summed from them); the signed
    lead of the writer over the window start (its register and its comparison with the offset, twice); the
    writer's frame-local position. Everything is relative to the window or the frame: no frame-absolute index
    of the reader (the module before 2026-12-07 had two, a wider signed position and three bases)."""

    def bits(n: int) -> int:
        return clog2(n) if n > 1 else 1

    geo = swg_geometry(p)
    cf, n, buf = geo["cf"], geo["n_in"], p["BUF_DEPTH"]
    k_h, k_w = p["K_H"], p["K_W"]
    loops = (bits(cf) if cf > 1 else 0) + (bits(k_w) if k_w > 1 else 0) + (bits(k_h) if k_h > 1 else 0) \
        + bits(geo["ow"]) + bits(geo["oh"])
    offsets = bits(geo["span"]) * (1 + (k_w > 1) + (k_h > 1))
    address = 3 * bits(buf)
    lead = 2 * (clog2(n + 1) + 1)
    return loops + offsets + address + lead + bits(n)


def swg_parallel_counter_bits(p: dict) -> int:
    """Bits of swg_parallel.sv's position counters (x, y, the two stride waits, output x/y)."""
    g = swg_parallel_geometry(p)
    kext_h, kext_w = (p["K_H"] - 1) * p["DIL_H"] + 1, (p["K_W"] - 1) * p["DIL_W"] + 1
    wait = clog2(max(kext_w, kext_h) + max(p["STRIDE_W"], p["STRIDE_H"]) + 1)
    return (max(1, clog2(p["IFM_W"])) + max(1, clog2(p["IFM_H"])) + 2 * wait
            + clog2(g["ow"] + 1) + clog2(g["oh"] + 1))


def swg_parallel_registers(p: dict) -> int:
    """Flip-flops of swg_parallel.sv's data path: the KEXT_W-1 window columns of KEXT_H pixels, the output
    register of one window, and the line-buffer word itself where the row is one pixel wide."""
    pix = p["CH"] * p["ELEM_BITS"]
    kext_h, kext_w = (p["K_H"] - 1) * p["DIL_H"] + 1, (p["K_W"] - 1) * p["DIL_W"] + 1
    word = (kext_h - 1) * pix if p["IFM_W"] == 1 else 0
    return (kext_w - 1) * kext_h * pix + p["K_H"] * p["K_W"] * pix + word


class ConvolutionInputGenerator(LayerKind):
    op_types = ("ConvolutionInputGenerator",)
    modules = ("swg", "swg_parallel")
    limit_names = {"SIMD": "IFMChannels"}

    def fold_limits(self, model, node, inst):
        return {"SIMD": inst.get_nodeattr("IFMChannels")}

    def pixel_fold(self, model, node, inst):
        inst.set_nodeattr("SIMD", inst.get_nodeattr("IFMChannels"))

    def elems_per_beat(self, inst, index, is_input):
        simd = int(inst.get_nodeattr("SIMD"))
        k_h, k_w = inst.get_nodeattr("ConvKernelDim")
        return simd * k_h * k_w if inst.get_nodeattr("parallel_window") and not is_input else simd

    def cycles(self, model, node, inst):
        return swg_cycles(*swg_params(inst))

    def rtl_params(self, model, node, inst):
        return swg_params(inst)

    def formula(self, model, node, inst, family, part):
        module, p = swg_params(inst)
        if module == "swg":
            width = p["SIMD"] * p["ELEM_BITS"]
            cost = memory_cost(width, p["BUF_DEPTH"], p["RAM_STYLE"], family)
            counters = 8 * clog2(p["IFM_H"] * p["IFM_W"] * p["CH"] // p["SIMD"])
            cost["LUT"] += 2 * counters + 20
            cost["FF"] += counters + width + 2
            return cost, "own"
        # swg_parallel. Measured with Yosys synth_xilinx: the paper body stem (262x198, 7x7, stride 2, 3 x 8
        # bits; xcup) 2,225 FF (this formula: 2,225), 52 LUT (90), 2 RAMB36 (4 RAMB18); the tiny hand
        # encoder's three (LUT-RAM line buffers; xczu7ev): FF equal, LUT 104 and 71 (114 and 94).
        cost = zero()
        lines = self.memory_shape(module, p)
        if lines is not None:
            cost = memory_cost(lines[0], lines[1], p["RAM_STYLE"], family)
            if styled(lines, p.get("RAM_STYLE", "auto")) == "lut":
                cost["FF"] += lines[0]  # the registered read (inside the RAM when it is a block RAM)
        cost["LUT"] += 2 * swg_parallel_counter_bits(p) + 10
        cost["FF"] += swg_parallel_counter_bits(p) + swg_parallel_registers(p) + 1
        return cost, "own"

    def memory_shape(self, module, p):
        if module == "swg":
            return p["SIMD"] * p["ELEM_BITS"], p["BUF_DEPTH"], False
        if p["K_H"] > 1 and p["IFM_W"] > 1:  # swg_parallel's line buffer
            return ((p["K_H"] - 1) * p["DIL_H"]) * p["CH"] * p["ELEM_BITS"], p["IFM_W"], False
        return None

    def terms(self, module, p, content):
        if module != "swg":
            return {}, []
        t: dict = {"one": 1}
        width = p["SIMD"] * p["ELEM_BITS"]
        where = styled(self.memory_shape(module, p), p.get("RAM_STYLE", "auto"))
        t["buf"] = lutram_luts(width, p["BUF_DEPTH"]) if where == "lut" else 0
        # the read mux across 64-word LUT-RAM slices, as in the FIFO's model
        t["lutmux"] = width * (math.ceil(p["BUF_DEPTH"] / 64) - 1) if where == "lut" else 0
        brams = [(width, p["BUF_DEPTH"])] if where == "block" else []
        t["counters"] = swg_counter_bits(p)
        t["regs"] = width
        return t, brams


KIND = ConvolutionInputGenerator()
