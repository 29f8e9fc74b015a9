"""FINN dataflow (non-MAC) layers -> our RTL modules: module name, parameters, expected cycles.

Each ``*_params`` function takes a qonnx ``getCustomOp`` instance of a FINN HW node (the abstraction-layer
op or a specialized ``_rtl``/``_hls`` one) and returns ``(module, parameters)`` for the SystemVerilog
library in ``bidrn_hw/hls``; :func:`rtl_module` dispatches on the op type. Unsupported attribute values
raise :class:`~bidrn_hw.errors.UnsupportedError` naming the node.

Which FINN ops finn-plus 1.6.1 emits (its ``convert_to_hw`` passes):

* Conv (lowered to Im2Col) -> ``FMPadding`` (zero padding only) + ``ConvolutionInputGenerator``
  (finn-plus has only the RTL backend for it) -> module ``swg`` (one kernel position of SIMD channels per
  beat), or with ``parallel_window=1`` (SIMD = channels) module ``swg_parallel`` (one whole window per beat).
* MaxPool -> ``Im2Col(depthwise=1)`` + ``Pool(Function=MaxPool)``, i.e. ``swg`` with DEPTHWISE=1 followed
  by module ``pool``; there is no StreamingMaxPool in finn-plus. ReduceMax/ReduceSum over an Im2Col reshape
  become ``Pool`` (MaxPool/AccPool) the same way; QuantAvgPool2d becomes ``Pool(QuantAvgPool)``.
* GlobalAveragePool -> ``GlobalAccPool`` + a float ``Mul`` by 1/(H*W) (left to the host or a later
  requantization) -> module ``globalaccpool``.
* Add -> ``ElementwiseAdd`` (there is no AddStreams op any more); two streamed inputs of equal shape map to
  module ``addstreams``.
* Upsample/Resize(nearest) -> ``UpsampleNearestNeighbour`` -> module ``upsampler``.
* ConvTranspose (separate pass InferPixelPaddingDeconv) -> ``FMPadding_Pixel`` (zero insertion) + Im2Col
  with padding (-> FMPadding + ConvolutionInputGenerator) + MatMul; FMPadding_Pixel maps to ``fmpadding``
  with STRIDE_H/STRIDE_W.
* DuplicateStreams -> module ``duplicatestreams``.

Cycle estimates (:func:`estimate_cycles`) are steady-state cycles per frame of *our* modules. They equal
FINN's ``get_exp_cycles`` where FINN's formula describes a streaming implementation; where it does not, the
function says why (see each ``_cycles_*``).
"""
from __future__ import annotations

from qonnx.core.datatype import DataType

from ..errors import UnsupportedError
from ..flow.memory_styles import ram_style

MAX_DUPLICATE_OUTPUTS = 3


def _base_op_type(op) -> str:
    op_type = op.onnx_node.op_type
    for suffix in ("_rtl", "_hls"):
        if op_type.endswith(suffix):
            return op_type[: -len(suffix)]
    return op_type


def _name(op) -> str:
    return op.onnx_node.name or op.onnx_node.op_type


def _int_dtype(op, dt: DataType, what: str, allow_bipolar: bool = True) -> DataType:
    if not dt.is_integer():
        raise UnsupportedError(f"node {_name(op)}: {what} datatype {dt.name} is not an integer type")
    if dt == DataType["BIPOLAR"] and not allow_bipolar:
        raise UnsupportedError(f"node {_name(op)}: {what} datatype BIPOLAR is not supported by arithmetic here "
                               "(its stream encoding is 0 for -1)")
    return dt


def _signed_bits(lo: int, hi: int) -> int:
    """Smallest two's-complement width holding every integer in [lo, hi]."""
    bits = 1
    while not (-(1 << (bits - 1)) <= lo and hi <= (1 << (bits - 1)) - 1):
        bits += 1
    return bits


def _check_divides(op, total: int, fold: int, what: str) -> None:
    if fold < 1 or total % fold:
        raise UnsupportedError(f"node {_name(op)}: {what}={fold} must divide {total}")


# ---------------------------------------------------------------- ConvolutionInputGenerator
def swg_params(op) -> tuple[str, dict]:
    k_h, k_w = op.get_nodeattr("ConvKernelDim")
    h, w = op.get_nodeattr("IFMDim")
    s_h, s_w = op.get_nodeattr("Stride")
    d_h, d_w = op.get_nodeattr("Dilation")
    ch = op.get_nodeattr("IFMChannels")
    simd = op.get_nodeattr("SIMD")
    _check_divides(op, ch, simd, "SIMD")
    parallel = bool(op.get_nodeattr("parallel_window"))
    if parallel and simd != ch:
        raise UnsupportedError(f"node {_name(op)}: parallel_window=1 needs SIMD = IFMChannels ({ch}), not {simd}")
    if op.get_nodeattr("dynamic_mode"):
        raise UnsupportedError(f"node {_name(op)}: dynamic_mode=1 is not supported")
    if (k_h - 1) * d_h + 1 > h or (k_w - 1) * d_w + 1 > w:
        raise UnsupportedError(f"node {_name(op)}: kernel {k_h}x{k_w} (dilation {d_h}x{d_w}) exceeds "
                               f"the {h}x{w} input")
    dt = _int_dtype(op, op.get_input_datatype(), "input")
    ofm = list(op.get_nodeattr("OFMDim"))
    expect = [(h - (k_h - 1) * d_h - 1) // s_h + 1, (w - (k_w - 1) * d_w - 1) // s_w + 1]
    if ofm != expect:
        raise UnsupportedError(f"node {_name(op)}: OFMDim {ofm} does not match a valid convolution ({expect})")
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
    (that would need about two windows' span); :func:`estimate_cycles` accounts for them.
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
        if _cycles_swg({**p, "BUF_DEPTH": deeper}) < _cycles_swg({**p, "BUF_DEPTH": depth}):
            depth = deeper
    return depth


def _cycles_swg(p: dict) -> int:
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


def swg_parallel_geometry(p: dict) -> dict:
    """:func:`swg_geometry` of swg_parallel.sv's parameters: a beat holds all channels (SIMD = CH, CF = 1)."""
    return swg_geometry({**p, "SIMD": p["CH"], "DEPTHWISE": 0})


def _cycles_swg_parallel(p: dict) -> int:
    """swg_parallel.sv takes one pixel per cycle and never waits on itself: a frame is its input pixels."""
    return p["IFM_H"] * p["IFM_W"]


# ---------------------------------------------------------------- FMPadding
def fmpadding_params(op) -> tuple[str, dict]:
    h, w = op.get_nodeattr("ImgDim")
    top, left, bottom, right = op.get_nodeattr("Padding")
    ch = op.get_nodeattr("NumChannels")
    simd = op.get_nodeattr("SIMD")
    _check_divides(op, ch, simd, "SIMD")
    if op.get_nodeattr("numInputVectors") != 1:
        raise UnsupportedError(f"node {_name(op)}: numInputVectors != 1 (batching) is not supported; "
                               "stream frames one after another instead")
    dt = _int_dtype(op, op.get_input_datatype(), "input", allow_bipolar=False)
    return "fmpadding", dict(IMG_H=h, IMG_W=w, PAD_TOP=top, PAD_LEFT=left, PAD_BOTTOM=bottom, PAD_RIGHT=right,
                             CH=ch, SIMD=simd, ELEM_BITS=dt.bitwidth(), PAD_VAL=0, STRIDE_H=1, STRIDE_W=1)


def fmpadding_pixel_params(op) -> tuple[str, dict]:
    """FMPadding_Pixel (zero insertion for ConvTranspose, from InferPixelPaddingDeconv) -> fmpadding.sv
    with strides and no border padding."""
    h, w = op.get_nodeattr("ImgDim")
    s_h, s_w = op.get_nodeattr("Stride")
    ch = op.get_nodeattr("NumChannels")
    simd = op.get_nodeattr("SIMD")
    _check_divides(op, ch, simd, "SIMD")
    if op.get_nodeattr("numInputVectors") != 1:
        raise UnsupportedError(f"node {_name(op)}: numInputVectors != 1 (batching) is not supported")
    dt = _int_dtype(op, op.get_input_datatype(), "input", allow_bipolar=False)
    return "fmpadding", dict(IMG_H=h, IMG_W=w, PAD_TOP=0, PAD_LEFT=0, PAD_BOTTOM=0, PAD_RIGHT=0, CH=ch,
                             SIMD=simd, ELEM_BITS=dt.bitwidth(), PAD_VAL=0, STRIDE_H=s_h, STRIDE_W=s_w)


def _cycles_fmpadding(op) -> int:
    return int(op.get_exp_cycles())  # output beats: FINN's formula is exact for a streaming pad


# ---------------------------------------------------------------- ElementwiseAdd (two streams)
def addstreams_params(op) -> tuple[str, dict]:
    if _base_op_type(op) != "ElementwiseAdd":
        raise UnsupportedError(f"node {_name(op)}: {op.onnx_node.op_type} is not an elementwise add")
    if op.get_nodeattr("lhs_style") != "input" or op.get_nodeattr("rhs_style") != "input":
        raise UnsupportedError(f"node {_name(op)}: an add with a constant operand is not a two-stream add")
    lhs, rhs, out = list(op.get_nodeattr("lhs_shape")), list(op.get_nodeattr("rhs_shape")), \
        list(op.get_nodeattr("out_shape"))
    if not lhs == rhs == out:
        raise UnsupportedError(f"node {_name(op)}: broadcasting add ({lhs} + {rhs}) is not supported")
    pe = op.get_nodeattr("PE")
    _check_divides(op, lhs[-1], pe, "PE")
    a = _int_dtype(op, op.get_input_datatype(0), "lhs", allow_bipolar=False)
    b = _int_dtype(op, op.get_input_datatype(1), "rhs", allow_bipolar=False)
    o = _int_dtype(op, op.get_output_datatype(), "output", allow_bipolar=False)
    lo, hi = a.min() + b.min(), a.max() + b.max()
    if lo < o.min() or hi > o.max():
        raise UnsupportedError(f"node {_name(op)}: output datatype {o.name} cannot hold {a.name} + {b.name} "
                               f"([{lo}, {hi}]); run MinimizeAccumulatorWidth or widen out_dtype")
    return "addstreams", dict(PE=pe, A_BITS=a.bitwidth(), A_SIGNED=int(a.signed()), B_BITS=b.bitwidth(),
                              B_SIGNED=int(b.signed()), OUT_BITS=o.bitwidth())


def _cycles_elementwise(op) -> int:
    return int(op.get_exp_cycles())  # one beat per output fold


# ---------------------------------------------------------------- DuplicateStreams
def duplicatestreams_params(op) -> tuple[str, dict]:
    n_out = op.get_nodeattr("NumOutputStreams")
    if not 1 <= n_out <= MAX_DUPLICATE_OUTPUTS:
        raise UnsupportedError(f"node {_name(op)}: NumOutputStreams={n_out}; duplicatestreams.sv has "
                               f"1..{MAX_DUPLICATE_OUTPUTS} outputs")
    ch, pe = op.get_nodeattr("NumChannels"), op.get_nodeattr("PE")
    _check_divides(op, ch, pe, "PE")
    dt = _int_dtype(op, op.get_input_datatype(), "input")
    return "duplicatestreams", dict(N_OUT=n_out, DATA_BITS=pe * dt.bitwidth())


# ---------------------------------------------------------------- Pool
POOL_FUNCTIONS = {"MaxPool": 0, "AccPool": 1, "QuantAvgPool": 2}


def pool_params(op) -> tuple[str, dict]:
    fxn = op.get_nodeattr("Function")
    if fxn not in POOL_FUNCTIONS:
        raise UnsupportedError(f"node {_name(op)}: Pool Function={fxn} is not supported (AvgPool's "
                               "python semantics is a float mean; use QuantAvgPool)")
    ch, pe = op.get_nodeattr("Channels"), op.get_nodeattr("PE")
    _check_divides(op, ch, pe, "PE")
    k_h, k_w = op.get_nodeattr("KernelSize")
    idt = _int_dtype(op, op.get_input_datatype(), "input", allow_bipolar=False)
    odt = _int_dtype(op, op.get_output_datatype(), "output", allow_bipolar=False)
    k2 = k_h * k_w
    acc_bits = _signed_bits(min(k2 * idt.min(), idt.min()), max(k2 * idt.max(), idt.max()))
    shift = 0
    if fxn == "QuantAvgPool":
        # FINN's python semantics (pool.py): shift by bits(k2 * (2**ibits - 1)) - obits, floor (arithmetic).
        max_bit_width = int((2 ** idt.bitwidth() - 1) * k2).bit_length()
        shift = max(0, max_bit_width - odt.bitwidth())
    acc_bits = max(acc_bits, odt.bitwidth() + shift)
    return "pool", dict(PE=pe, K2=k2, FUNC=POOL_FUNCTIONS[fxn], IN_BITS=idt.bitwidth(),
                        IN_SIGNED=int(idt.signed()), ACC_BITS=acc_bits, OUT_BITS=odt.bitwidth(), SHIFT=shift)


def _cycles_pool(op) -> int:
    return int(op.get_exp_cycles())  # input beats (K*K*CH/PE per output pixel)


# ---------------------------------------------------------------- GlobalAccPool
def globalaccpool_params(op) -> tuple[str, dict]:
    vecs = list(op.get_nodeattr("numInputVectors"))
    if len(vecs) != 3 or vecs[0] != 1:
        raise UnsupportedError(f"node {_name(op)}: numInputVectors={vecs}; expected [1, H, W]")
    ch, pe = op.get_nodeattr("NumChannels"), op.get_nodeattr("PE")
    _check_divides(op, ch, pe, "PE")
    idt = _int_dtype(op, op.get_input_datatype(), "input", allow_bipolar=False)
    odt = op.get_output_datatype()
    return "globalaccpool", dict(CH=ch, PE=pe, PIXELS=vecs[1] * vecs[2], IN_BITS=idt.bitwidth(),
                                 IN_SIGNED=int(idt.signed()), OUT_BITS=odt.bitwidth())


def _cycles_globalaccpool(op) -> int:
    """H*W*CH/PE: globalaccpool.sv emits each channel fold's sum while it adds the last pixel, so it has no
    separate output phase; FINN's formula adds CH/PE cycles for one (its HLS kernel reads, then writes)."""
    ch, pe = op.get_nodeattr("NumChannels"), op.get_nodeattr("PE")
    vecs = list(op.get_nodeattr("numInputVectors"))
    return int(vecs[1] * vecs[2] * (ch // pe))


# ---------------------------------------------------------------- UpsampleNearestNeighbour
def upsampler_params(op) -> tuple[str, dict]:
    hi, wi, ho, wo = (op.get_nodeattr(a) for a in ("HI", "WI", "HO", "WO"))
    if ho % hi or wo % wi:
        raise UnsupportedError(f"node {_name(op)}: non-integer upsampling {hi}x{wi} -> {ho}x{wo} is not "
                               "supported (FINN's python execution rounds the scale and fails too)")
    if op.get_nodeattr("batchSize") != 1:
        raise UnsupportedError(f"node {_name(op)}: batchSize != 1 is not supported")
    ch, simd = op.get_nodeattr("NumChannels"), op.get_nodeattr("SIMD")
    _check_divides(op, ch, simd, "SIMD")
    dt = _int_dtype(op, op.get_input_datatype(), "input")
    return "upsampler", dict(HI=hi, WI=wi, SCALE_H=ho // hi, SCALE_W=wo // wi, CH=ch, SIMD=simd,
                             ELEM_BITS=dt.bitwidth())


def _cycles_upsampler(op) -> int:
    return int(op.get_exp_cycles())  # output beats


# ---------------------------------------------------------------- dispatch
_PARAMS = {
    "ConvolutionInputGenerator": swg_params,
    "FMPadding": fmpadding_params,
    "FMPadding_Pixel": fmpadding_pixel_params,
    "ElementwiseAdd": addstreams_params,
    "DuplicateStreams": duplicatestreams_params,
    "Pool": pool_params,
    "GlobalAccPool": globalaccpool_params,
    "UpsampleNearestNeighbour": upsampler_params,
}


def supported_op_types() -> list[str]:
    return sorted(_PARAMS)


def rtl_module(op) -> tuple[str, dict]:
    """(module name, parameter dict) of the RTL module implementing FINN node ``op``."""
    base = _base_op_type(op)
    if base not in _PARAMS:
        raise UnsupportedError(f"node {_name(op)}: op {op.onnx_node.op_type} is not a dataflow layer this "
                               f"library implements ({', '.join(supported_op_types())})")
    return _PARAMS[base](op)


def estimate_cycles(op) -> int:
    """Steady-state cycles per frame of the RTL module for ``op`` (see the module docstring)."""
    base = _base_op_type(op)
    module, params = rtl_module(op)
    if module == "swg_parallel":
        return _cycles_swg_parallel(params)
    if module == "swg":
        return _cycles_swg(params)
    if base in ("FMPadding", "FMPadding_Pixel"):
        return _cycles_fmpadding(op)
    if base in ("ElementwiseAdd", "DuplicateStreams"):
        return _cycles_elementwise(op)
    if base == "Pool":
        return _cycles_pool(op)
    if base == "GlobalAccPool":
        return _cycles_globalaccpool(op)
    return _cycles_upsampler(op)
