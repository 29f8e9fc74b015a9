"""Fused residual MVAU (hls/mvau_residual.sv) against a Python reference of the fused arithmetic and FINN's
execution of the unfused graph (MVAU -> ElementwiseAdd -> Thresholding), random stalls on all three streams."""
import numpy as np
import pytest
from onnx import TensorProto, helper
from qonnx.core.datatype import DataType
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.custom_op.registry import getCustomOp
from qonnx.util.basic import qonnx_make_model

from bidrn_hw.flow import fuse_residual
from bidrn_hw.layers.mvau_residual import KIND as RESIDUAL
from bidrn_hw.rtl_sim import streams, verilator

HW = dict(domain="finn.custom_op.fpgadataflow", backend="fpgadataflow")
VECS = [1, 2, 3]


def signed_type(lo: int, hi: int) -> DataType:
    bits = 2
    while not (-(1 << (bits - 1)) <= lo and hi <= (1 << (bits - 1)) - 1):
        bits += 1
    return DataType[f"INT{bits}"]


def unfused_graph(rng, xnor, mw, mh, simd, pe, idt, wdt, ydt, steps, sdt, offset, odt):
    """MVAU(x) with ``steps`` random thresholds to ``ydt``, + skip, requantized by a saturation
    clamp(sum + offset) to ``odt``'s range (255 shared thresholds for INT8, as BiDRN's adds have)."""
    ydt, sdt, odt, i_dt, w_dt = (DataType[t] for t in (ydt, sdt, odt, idt, wdt))
    sum_dt = signed_type(int(ydt.min() + sdt.min()), int(ydt.max() + sdt.max()))
    lo, hi = int(odt.min()), int(odt.max())
    vi = lambda name, n: helper.make_tensor_value_info(name, TensorProto.FLOAT, (*VECS, n))  # noqa: E731
    mvau = helper.make_node("MVAU", ["x", "w", "t"], ["y"], name="MVAU_0", MW=mw, MH=mh, SIMD=simd, PE=pe,
                            inputDataType=i_dt.name, weightDataType=w_dt.name, outputDataType=ydt.name,
                            ActVal=int(ydt.min()), binaryXnorMode=int(xnor), noActivation=0,
                            numInputVectors=VECS, **HW)
    shape = [*VECS, mh]
    add = helper.make_node("ElementwiseAdd", ["y", "s"], ["z"], name="ElementwiseAdd_0", lhs_shape=shape,
                           rhs_shape=shape, out_shape=shape, lhs_dtype=ydt.name, rhs_dtype=sdt.name,
                           out_dtype=sum_dt.name, lhs_style="input", rhs_style="input", PE=pe, **HW)
    req = helper.make_node("Thresholding", ["z", "t2"], ["out"], name="Thresholding_0", NumChannels=mh, PE=pe,
                           numSteps=hi - lo, inputDataType=sum_dt.name, weightDataType="INT32",
                           outputDataType=odt.name, ActVal=lo, numInputVectors=VECS, **HW)
    graph = helper.make_graph([mvau, add, req], "g", [vi("x", mw), vi("s", mh)], [vi("out", mh)],
                              value_info=[vi("y", mh), vi("z", mh)])
    model = ModelWrapper(qonnx_make_model(graph, producer_name="t"))
    for t, dt in (("x", i_dt), ("s", sdt), ("y", ydt), ("z", sum_dt), ("out", odt)):
        model.set_tensor_datatype(t, dt)
    weights = rng.integers(w_dt.min(), w_dt.max() + 1, (mw, mh))
    model.set_initializer("w", weights.astype(np.float32))
    acc_lo, acc_hi = (0, mw) if xnor else (-4 * mw, 4 * mw)
    thr = np.sort(rng.integers(acc_lo, acc_hi, (mh, steps)), 1)
    model.set_initializer("t", thr.astype(np.float32))
    # clamp(v + offset, lo, hi) as thresholds: the output passes lo + k + 1 where v >= lo + k + 1 - offset
    model.set_initializer("t2", (lo - offset + 1 + np.arange(hi - lo))[None, :].astype(np.float32))
    return model, weights, thr, (offset, lo, hi)


def reference(x, s, weights, thr, xnor, ydt, sat):
    """The fused arithmetic, written out: dot product (XNOR: popcount of agreements), thresholds, then
    clamp(y + skip + offset)."""
    acc = (x[..., :, None] == weights).sum(axis=-2) if xnor else np.einsum("...i,ij->...j", x.astype(np.int64), weights)
    y = int(DataType[ydt].min()) + (acc[..., :, None] >= thr).sum(axis=-1)
    offset, lo, hi = sat
    return np.clip(y + s + offset, lo, hi)


CASES = [  # (xnor, MW, MH, SIMD, PE, idt, wdt, ydt, steps, sdt, offset, odt)
    (True, 36, 8, 12, 2, "BINARY", "BINARY", "INT8", 255, "INT8", 0, "INT8"),     # BiDRN's binarized conv + add
    (True, 16, 6, 16, 3, "BINARY", "BINARY", "INT4", 15, "UINT3", -2, "INT4"),    # NF 2, unsigned skip, offset
    (False, 12, 4, 3, 2, "UINT8", "INT8", "UINT3", 7, "INT8", 3, "INT5"),         # stem-like integer MVAU, y unsigned
    (False, 8, 8, 2, 8, "INT4", "BINARY", "INT8", 255, "INT8", 0, "INT8"),        # 0/1 weights (down-sample), PE = MH
]


@pytest.mark.parametrize("case", [CASES[0], pytest.param(CASES[1], marks=pytest.mark.slow), CASES[2],
                                  pytest.param(CASES[3], marks=pytest.mark.slow)],
                         ids=["xnor-int8", "xnor-nf2-uskip", "int-uint-y", "int-pe8"])
def test_mvau_residual_bit_exact(case, tmp_path):
    xnor, mw, mh, simd, pe, idt, wdt, ydt, steps, sdt, offset, odt = case
    rng = np.random.default_rng(mw * mh + steps)
    model, weights, thr, sat = unfused_graph(rng, xnor, mw, mh, simd, pe, idt, wdt, ydt, steps, sdt, offset, odt)
    fused = model.transform(fuse_residual.FuseResidualMVAU(enable=True))
    report = fuse_residual.fusion_report(fused)
    assert [n.op_type for n in fused.graph.node] == ["MVAUResidual"], report
    assert report[0]["offset"] == offset and (report[0]["lo"], report[0]["hi"]) == sat[1:]
    node = fused.graph.node[0]
    layer = RESIDUAL.rtl(fused, node, getCustomOp(node))
    p = layer.parameters
    params = dict(p)
    for name, text in layer.memfiles.items():
        (tmp_path / name).write_text(text)
        params = {k: (str(tmp_path / name) if v == name else v) for k, v in params.items()}
    srcs = [verilator.HLS_DIR / f"{m}.sv" for m in layer.sources]
    n_vec = int(np.prod(VECS))
    i_dt, s_dt = DataType[idt], DataType[sdt]
    from finn.core.onnx_exec import execute_onnx

    for stall, seed in ((0.0, 1), (0.3, 2)):
        x = rng.integers(i_dt.min(), i_dt.max() + 1, (*VECS, mw)).astype(np.float32)
        s = rng.integers(s_dt.min(), s_dt.max() + 1, (*VECS, mh)).astype(np.float32)
        ref = reference(x, s, weights, thr, xnor, ydt, sat)
        unfused_out = execute_onnx(model, {"x": x, "s": s})["out"]
        fused_out = execute_onnx(fused, {"x": x, "s": s})["out"]
        assert np.array_equal(unfused_out, ref) and np.array_equal(fused_out, ref), case
        # the saturation matters on this data: some sums are clamped at each end (except the tiny range case)
        if odt == "INT8":
            y = reference(x, np.zeros_like(s), weights, thr, xnor, ydt, (0, -10**6, 10**6))
            assert ((y + s) > sat[2]).any() or ((y + s) < sat[1]).any()
        result = streams.simulate(
            srcs, "mvau_residual",
            [streams.Stream("s_axis_0", streams.bus_bits(p["IN_BITS"], simd), streams.pack(x, p["IN_BITS"], simd)),
             streams.Stream("s_axis_1", streams.bus_bits(p["SKIP_BITS"], pe), streams.pack(s, p["SKIP_BITS"], pe))],
            [streams.Stream("m_axis_0", streams.bus_bits(p["OUT_BITS"], pe), n_beats=ref.size // pe, frames=n_vec)],
            parameters=params, stall=stall, seed=seed)
        out = streams.unpack(result.outputs["m_axis_0"], p["OUT_BITS"], pe, True)
        assert np.array_equal(out.reshape(ref.shape), ref), (case, stall)
        if stall == 0.0:  # the join keeps the MVAU's rate: a vector every NF * SF cycles
            assert result.cycles_per_frame() == (mh // pe) * (mw // simd), (case, result.frame_done_cycles)
