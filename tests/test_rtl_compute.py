"""MVAU (integer and XNOR, with and without thresholds) and Thresholding RTL vs FINN execution, with stalls."""
import numpy as np
import pytest
from onnx import TensorProto, helper
from qonnx.core.datatype import DataType
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.util.basic import qonnx_make_model

from bidrn_hw.rtl_sim import streams, verilator
from bidrn_hw.layers import layer_rtl
from bidrn_hw.layers.thresholds import threshold_table

HW = dict(domain="finn.custom_op.fpgadataflow", backend="fpgadataflow")
VECS = [1, 2, 3]


def finn_out(model, x):
    from finn.core.onnx_exec import execute_onnx

    return execute_onnx(model, {"x": x})["y"]


def simulate_layer(layer, tmp_path, x, in_bits, in_per_beat, out_bits, out_per_beat, n_out, stall, seed,
                   out_signed=True, frames=1, with_result=False):
    params = dict(layer.parameters)
    for name, text in layer.memfiles.items():
        (tmp_path / name).write_text(text)
        params = {k: (str(tmp_path / name) if v == name else v) for k, v in params.items()}
    srcs = [verilator.HLS_DIR / f"{m}.sv" for m in (layer.sources or [layer.module])]
    result = streams.simulate(srcs, layer.module,
                              [streams.Stream("s_axis_0", streams.bus_bits(in_bits, in_per_beat),
                                              streams.pack(x, in_bits, in_per_beat))],
                              [streams.Stream("m_axis_0", streams.bus_bits(out_bits, out_per_beat),
                                              n_beats=n_out // out_per_beat, frames=frames)],
                              parameters=params, stall=stall, seed=seed)
    out = streams.unpack(result.outputs["m_axis_0"], out_bits, out_per_beat, out_signed)
    return (out, result) if with_result else out


MVAU_CASES = [  # (xnor, thresholds, MW, MH, SIMD, PE, idt, wdt, odt, steps); steps < 0: one row of -steps shared
    (False, True, 12, 4, 3, 2, "INT4", "INT4", "INT3", 7),
    (True, True, 12, 4, 4, 4, "BINARY", "BINARY", "INT3", 7),
    (False, False, 12, 4, 3, 2, "UINT8", "INT8", None, 0),
    (True, False, 16, 6, 8, 3, "BINARY", "BINARY", None, 0),
    (True, True, 18, 12, 6, 3, "BINARY", "BINARY", "INT4", 10),  # NF 4, steps not 2^S - 1
    (False, True, 8, 6, 8, 2, "INT2", "INT2", "UINT1", 1),        # one threshold: a single search stage
    (True, True, 24, 8, 6, 2, "BINARY", "BINARY", "UINT5", 31),  # thresholds past the accumulator: windows, bases
    (False, True, 12, 4, 3, 2, "INT4", "INT4", "INT4", -15),      # one shared row
    (False, True, 12, 4, 3, 2, "INT8", "BINARY", "INT3", 7),      # 0/1 weights (MinimizeWeightWidth's BINARY)
    (False, False, 12, 4, 3, 2, "UINT8", "BIPOLAR", None, 0),     # W_BIPOLAR, shift and add (CNV's first layer)
]


@pytest.mark.parametrize("case", MVAU_CASES, ids=["int-thr", "xnor-thr", "int-acc", "xnor-acc", "xnor-thr-nf4", "int-1step",
                                                  "xnor-window", "int-shared", "int-binary-w", "uint8-bipolar-w"])
def test_mvau_bit_exact(case, tmp_path):
    check_mvau(case, tmp_path)


# Two lanes' products per multiplier (PACK = 1, chosen for DSP48E2 targets): odd PE (one lane alone), signed and
# unsigned inputs and weights, with and without thresholds, operands at their extremes.
PACKED_CASES = [
    (False, True, 12, 6, 3, 3, "INT8", "INT8", "INT3", 7),
    (False, False, 12, 4, 6, 4, "UINT8", "INT8", None, 0),
    (False, False, 8, 4, 4, 2, "INT4", "UINT4", None, 0),
    (False, True, 6, 8, 2, 8, "UINT7", "INT8", "UINT4", 15),
]


@pytest.mark.parametrize("case", PACKED_CASES, ids=["int8-thr-pe3", "uint8-int8-acc", "int4-uint4", "uint7-int8-pe8"])
def test_mvau_packed_products_bit_exact(case, tmp_path):
    check_mvau(case, tmp_path, family="alveo")


# Products as shift and add (resType "lut": mvau.sv RES_TYPE "lut", no DSP blocks): signed and unsigned inputs,
# BIPOLAR weights (1-bit codes, W_BIPOLAR: 2 * the gated sum - the inputs' sum), with and without thresholds.
LUT_CASES = [
    (False, True, 12, 4, 3, 2, "INT4", "INT4", "INT3", 7),
    (False, False, 16, 6, 4, 3, "INT2", "BIPOLAR", None, 0),
    (False, True, 12, 6, 3, 3, "UINT8", "INT2", "UINT2", 3),
    (False, True, 24, 8, 8, 4, "INT2", "BIPOLAR", "INT2", 3),    # CNV-w1a2's layers: signed 2-bit inputs
    (False, False, 9, 4, 9, 1, "UINT3", "BIPOLAR", None, 0),     # odd SIMD: the shared input sum's tree
]


@pytest.mark.parametrize("case", LUT_CASES, ids=["int4-thr", "int2-bipolar-acc", "uint8-int2-thr", "int2-bipolar-thr",
                                                 "uint3-bipolar-simd9"])
def test_mvau_lut_products_bit_exact(case, tmp_path):
    check_mvau(case, tmp_path, res_type="lut")


def check_mvau(case, tmp_path, family=None, res_type=None):
    from bidrn_hw.layers.mvau import set_target_family

    xnor, act, mw, mh, simd, pe, idt, wdt, odt, steps = case
    rng = np.random.default_rng(mw * mh + steps)
    out_dt = odt if act else "INT32"
    x_vi = helper.make_tensor_value_info("x", TensorProto.FLOAT, (*VECS, mw))
    y_vi = helper.make_tensor_value_info("y", TensorProto.FLOAT, (*VECS, mh))
    node = helper.make_node("MVAU", ["x", "w"] + (["t"] if act else []), ["y"], name="M0", MW=mw, MH=mh, SIMD=simd,
                            PE=pe, inputDataType=idt, weightDataType=wdt, outputDataType=out_dt,
                            ActVal=int(DataType[odt].min()) if act else 0, binaryXnorMode=int(xnor),
                            noActivation=0 if act else 1, numInputVectors=VECS, **HW,
                            **({"resType": res_type} if res_type else {}))
    model = ModelWrapper(qonnx_make_model(helper.make_graph([node], "g", [x_vi], [y_vi]), producer_name="t"))
    model.set_tensor_datatype("x", DataType[idt])
    model.set_tensor_datatype("y", DataType[out_dt])
    i_dt, w_dt = DataType[idt], DataType[wdt]
    weights = rng.integers(w_dt.min(), w_dt.max() + 1, (mw, mh))
    if w_dt == DataType["BIPOLAR"]:
        weights = 2 * rng.integers(0, 2, (mw, mh)) - 1
    if family:  # every pair of lanes sees the extremes: the packed borrow is exact at the edges too
        weights[0], weights[1] = w_dt.min(), w_dt.max()
        weights[2, ::2], weights[2, 1::2] = w_dt.min(), w_dt.max()
        set_target_family(model, family)
    model.set_initializer("w", weights.astype(np.float32))
    if act:
        lo, hi = (0, mw) if xnor else (-20, 20)
        if steps < 0:
            thr = np.sort(rng.integers(lo, hi, (1, -steps)), 1)
        elif steps == 31:  # most of each row below or above the reachable accumulator, by a different amount per row
            thr = np.sort(rng.integers(lo - 3 * mw, hi + 3 * mw, (mh, steps)), 1)
        else:
            thr = np.sort(rng.integers(lo, hi, (mh, steps)), 1)
        model.set_initializer("t", thr.astype(np.float32))
    layer = layer_rtl(model, model.graph.node[0])
    p = layer.parameters
    assert p.get("PACK", 0) == int(family is not None), p
    narrow = not xnor and (p["IN_BITS"] + p["W_BITS"] + 1 < 9 or wdt == "BIPOLAR")  # no DSP block: shift and add
    assert p.get("RES_TYPE", "dsp") == (res_type or ("lut" if narrow else "dsp")), p
    assert p.get("W_BIPOLAR", 0) == int(not xnor and wdt == "BIPOLAR"), p
    if steps == 31:
        assert p["N_STEPS"] < 31 and p["BASE_BITS"] > 0, p
    if steps < 0:
        assert p["SHARED"] == 1, p
    n_vec = int(np.prod(VECS))
    for stall, seed in ((0.0, 1), (0.3, 2)):
        x = rng.integers(i_dt.min(), i_dt.max() + 1, (*VECS, mw)).astype(np.float32)
        if family:
            x[0, 0, :] = i_dt.min()
            x[0, 1, :] = i_dt.max()
        expected = finn_out(model, x)
        out, result = simulate_layer(layer, tmp_path, x, p["IN_BITS"], simd, p["OUT_BITS"], pe, expected.size, stall,
                                     seed, out_signed=DataType[out_dt].signed(), frames=n_vec, with_result=True)
        assert np.array_equal(out.reshape(expected.shape), expected), (case, stall)
        if stall == 0.0:  # the pipeline takes one fold step per cycle: a vector every NF * SF cycles
            assert result.cycles_per_frame() == (mh // pe) * (mw // simd), (case, result.frame_done_cycles)


def thresholding_model(channels, pe, steps, in_dt, w_dt, out_dt, act, thresholds):
    """One FINN Thresholding node over VECS x ``channels`` with ``thresholds`` as its initializer."""
    shape = (*VECS, channels)
    x_vi = helper.make_tensor_value_info("x", TensorProto.FLOAT, shape)
    y_vi = helper.make_tensor_value_info("y", TensorProto.FLOAT, shape)
    node = helper.make_node("Thresholding", ["x", "t"], ["y"], name="T0", NumChannels=channels, PE=pe, numSteps=steps,
                            inputDataType=in_dt, weightDataType=w_dt, outputDataType=out_dt, ActVal=act,
                            numInputVectors=VECS, **HW)
    model = ModelWrapper(qonnx_make_model(helper.make_graph([node], "g", [x_vi], [y_vi]), producer_name="t"))
    model.set_tensor_datatype("x", DataType[in_dt])
    model.set_tensor_datatype("y", DataType[out_dt])
    model.set_initializer("t", thresholds.astype(np.float32))
    return model


@pytest.mark.parametrize("channels, pe, steps, rows", [(4, 2, 3, "full"), (6, 6, 255, "shared"), (8, 2, 40, "window")])
def test_thresholding_bit_exact(channels, pe, steps, rows, tmp_path):
    rng = np.random.default_rng(channels + steps)
    shape = (*VECS, channels)
    out_dt = "INT2" if steps == 3 else "INT8"
    if rows == "shared":  # saturation to INT8: identity thresholds -127..127 shared by every channel
        thr = np.arange(-127, 128, dtype=np.float32)[None, :]
    elif rows == "window":  # each channel's thresholds start below the INT9 range by a different amount
        thr = np.sort(rng.integers(-200, 200, (channels, steps)), 1) - 80 * np.arange(channels)[:, None]
    else:
        thr = np.sort(rng.integers(-200, 200, (channels, steps)), 1).astype(np.float32)
    model = thresholding_model(channels, pe, steps, "INT9", "INT10", out_dt, int(DataType[out_dt].min()), thr)
    layer = layer_rtl(model, model.graph.node[0])
    assert (layer.parameters["BASE_BITS"] > 0) == (rows == "window")
    x = rng.integers(-256, 256, shape).astype(np.float32)
    expected = finn_out(model, x)
    for stall, seed in ((0.0, 4), (0.3, 5)):  # without stalls: one beat a cycle, so every pipeline position counts
        out = simulate_layer(layer, tmp_path, x, 9, pe, layer.parameters["OUT_BITS"], pe, expected.size, stall, seed)
        assert np.array_equal(out.reshape(expected.shape), expected), stall


@pytest.mark.parametrize("seed", range(6))
def test_thresholding_random_shapes(seed, tmp_path):
    """Random channels, folding, step counts (padded searches), signedness and stalls."""
    rng = np.random.default_rng(100 + seed)
    pe = int(rng.choice([1, 2, 3, 4]))
    channels = pe * int(rng.integers(1, 5))
    steps = int(rng.choice([1, 2, 3, 5, 8, 15, 31, 40]))
    idt = str(rng.choice(["INT6", "UINT5", "INT9"]))
    out_bits = max(1, int(steps).bit_length())
    out_dt = f"UINT{out_bits}"
    lo, hi = int(DataType[idt].min()), int(DataType[idt].max())
    shape = (*VECS, channels)
    rows = 1 if rng.random() < 0.3 else channels
    spread = int(rng.choice([2, hi - lo]))  # a few thresholds out of range, or about half of them
    thr = np.sort(rng.integers(lo - spread, hi + 1 + spread, (rows, steps)), 1).astype(np.float32)
    model = thresholding_model(channels, pe, steps, idt, "INT11", out_dt, 0, thr)
    layer = layer_rtl(model, model.graph.node[0])
    in_bits = layer.parameters["IN_BITS"]
    assert layer.parameters["SHARED"] == int(rows == 1)
    x = rng.integers(lo, hi + 1, shape).astype(np.float32)
    expected = finn_out(model, x)
    out = simulate_layer(layer, tmp_path, x, in_bits, pe, out_bits, pe, expected.size, float(rng.choice([0.0, 0.4])),
                         seed, out_signed=False)
    assert np.array_equal(out.reshape(expected.shape), expected), (pe, channels, steps, idt)


@pytest.mark.parametrize("seed", range(4))
def test_threshold_table_counts_like_the_full_rows(seed):
    """base + (window thresholds passed) equals the full row's count for every value in range."""
    rng = np.random.default_rng(seed)
    channels, steps = int(rng.integers(1, 9)), int(rng.integers(1, 80))
    lo, hi = -int(rng.integers(0, 40)), int(rng.integers(1, 40))
    rows = 1 if seed == 0 else channels
    thr = np.sort(rng.normal(0, 40, (rows, steps)), 1)
    node = helper.make_node("Thresholding", ["x", "t"], ["y"], name="T0")
    model = ModelWrapper(qonnx_make_model(helper.make_graph([node], "g", [], []), producer_name="t"))
    model.set_initializer("t", thr.astype(np.float32))
    table = threshold_table(model, node, channels, lo, hi)
    assert table.shared == (rows == 1) and table.steps <= steps
    values = np.arange(lo, hi + 1)
    full = (values[None, :, None] >= np.broadcast_to(thr.astype(np.float32), (channels, steps))[:, None, :]).sum(2)
    rows_c = np.broadcast_to(table.rows, (channels, table.steps))
    window = (values[None, :, None] >= rows_c[:, None, :]).sum(2)
    assert np.array_equal(table.base[:, None] + window, full)
    assert table.base_bits == (int(table.base.max() - table.base.min())).bit_length()


def test_threshold_table_rejects_bad_shapes():
    node = helper.make_node("Thresholding", ["x", "t"], ["y"], name="T7")
    model = ModelWrapper(qonnx_make_model(helper.make_graph([node], "g", [], []), producer_name="t"))
    model.set_initializer("t", np.zeros((3, 4), dtype=np.float32))
    with pytest.raises(Exception, match="T7.*shape"):
        threshold_table(model, node, 5, -8, 7)
    model.set_initializer("t", np.array([[2.0, 1.0]], dtype=np.float32))
    with pytest.raises(Exception, match="T7.*sorted"):
        threshold_table(model, node, 5, -8, 7)


@pytest.mark.parametrize("seed", range(4))
def test_mvau_threshold_lines_bit_exact(seed, tmp_path):
    """Thresholds on one or two lines per channel (BN, RPReLU): computed by threshold_lines.sv, bit-exact
    with FINN's execution of the table; random shapes, folding, integer and XNOR, stalls on both streams."""
    from test_threshold_lines import line_thresholds

    rng = np.random.default_rng(200 + seed)
    xnor = seed % 2 == 1
    simd, pe = int(rng.choice([1, 2, 4])), int(rng.choice([1, 2, 3]))
    mw, mh = simd * int(rng.integers(2, 6)), pe * int(rng.integers(1, 4))
    idt, wdt = ("BINARY", "BINARY") if xnor else (str(rng.choice(["INT4", "UINT4"])), "INT4")
    steps = int(rng.choice([16, 31, 63]))
    odt = f"UINT{steps.bit_length()}"
    x_vi = helper.make_tensor_value_info("x", TensorProto.FLOAT, (*VECS, mw))
    y_vi = helper.make_tensor_value_info("y", TensorProto.FLOAT, (*VECS, mh))
    node = helper.make_node("MVAU", ["x", "w", "t"], ["y"], name="M0", MW=mw, MH=mh, SIMD=simd, PE=pe,
                            inputDataType=idt, weightDataType=wdt, outputDataType=odt, ActVal=0,
                            binaryXnorMode=int(xnor), noActivation=0, numInputVectors=VECS, **HW)
    model = ModelWrapper(qonnx_make_model(helper.make_graph([node], "g", [x_vi], [y_vi]), producer_name="t"))
    model.set_tensor_datatype("x", DataType[idt])
    model.set_tensor_datatype("y", DataType[odt])
    i_dt, w_dt = DataType[idt], DataType[wdt]
    model.set_initializer("w", rng.integers(w_dt.min(), w_dt.max() + 1, (mw, mh)).astype(np.float32))
    lo, hi = (0, mw) if xnor else (int(min(i_dt.min() * w_dt.max(), i_dt.max() * w_dt.min()) * mw),
                                   int(max(i_dt.min() * w_dt.min(), i_dt.max() * w_dt.max()) * mw))
    segments = 1 + seed // 2
    model.set_initializer("t", line_thresholds(rng, mh, steps, lo, hi, segments).astype(np.float32))
    layer = layer_rtl(model, model.graph.node[0])
    p = layer.parameters
    assert layer.sources == ["mvau", "mac_pipeline", "threshold_unit", "threshold_lines"] and 1 <= p["LINES"] <= segments, p
    for stall, sd in ((0.0, 1), (0.35, 2)):
        x = rng.integers(i_dt.min(), i_dt.max() + 1, (*VECS, mw)).astype(np.float32)
        expected = finn_out(model, x)
        out, result = simulate_layer(layer, tmp_path, x, p["IN_BITS"], simd, p["OUT_BITS"], pe, expected.size,
                                     stall, sd, out_signed=False, frames=int(np.prod(VECS)), with_result=True)
        assert np.array_equal(out.reshape(expected.shape), expected), (seed, stall, p)
        if stall == 0.0:
            assert result.cycles_per_frame() == (mh // pe) * (mw // simd)


@pytest.mark.parametrize("pe, segments", [(1, 1), (3, 2)])
def test_thresholding_lines_bit_exact(pe, segments, tmp_path):
    from test_threshold_lines import line_thresholds

    rng = np.random.default_rng(300 + pe)
    channels, steps = 2 * pe, 31
    shape = (*VECS, channels)
    model = thresholding_model(channels, pe, steps, "INT9", "INT10", "INT6", -16,
                               line_thresholds(rng, channels, steps, -256, 255, segments))
    layer = layer_rtl(model, model.graph.node[0])
    assert layer.parameters["LINES"] in (1, segments) and layer.sources == ["thresholding", "threshold_unit",
                                                                                 "threshold_lines"]
    x = rng.integers(-256, 256, shape).astype(np.float32)
    expected = finn_out(model, x)
    for stall, sd in ((0.0, 4), (0.4, 5)):
        out = simulate_layer(layer, tmp_path, x, 9, pe, 6, pe, expected.size, stall, sd)
        assert np.array_equal(out.reshape(expected.shape), expected), stall


@pytest.mark.parametrize("segments", [1, 2])
def test_thresholding_wide_lines_bit_exact(segments, tmp_path):
    """Values over 18 bits and slopes over 17 (the requantization after a BiDRN residual): threshold_lines.sv
    splits the product into 18x18 partial products (two digits of each operand here), bit-exact with FINN."""
    from test_threshold_lines import line_thresholds

    rng = np.random.default_rng(400 + segments)
    pe, channels, steps = 2, 4, 255
    shape = (*VECS, channels)
    model = thresholding_model(channels, pe, steps, "INT21", "INT22", "INT9", -128,
                               line_thresholds(rng, channels, steps, -2**20, 2**20 - 1, segments))
    layer = layer_rtl(model, model.graph.node[0])
    p = layer.parameters
    assert p["LINES"] in (1, segments) and p["M_BITS"] > 17 and layer.sources[-1] == "threshold_lines", p
    x = rng.integers(-2**20, 2**20, shape).astype(np.float32)
    x.reshape(-1)[:4] = [-2**20, 2**20 - 1, -1, 0]        # the sign digit's extremes
    expected = finn_out(model, x)
    for stall, sd in ((0.0, 6), (0.4, 7)):
        out = simulate_layer(layer, tmp_path, x, 21, pe, 9, pe, expected.size, stall, sd)
        assert np.array_equal(out.reshape(expected.shape), expected), (stall, p)


@pytest.mark.parametrize("xnor, pe, simd", [(False, 3, 4), (True, 2, 40)])
def test_mvau_loaded_weights_bit_exact(xnor, pe, simd, tmp_path):
    """ram_style "ultra" (UltraRAM, no initial contents): the weights arrive on s_axis_w after reset (32-bit
    words, a line's words least significant first), words after the layer's own leave on m_axis_w for the
    next loading layer; the outputs equal FINN's execution, with stalls on all four streams."""
    from bidrn_hw.rtl_sim.streams import Stream, bus_bits, pack, simulate, unpack
    from bidrn_hw.layers.mvau import set_target_family

    rng = np.random.default_rng(pe * simd)
    mw, mh = 2 * simd, 2 * pe
    idt, wdt, odt = ("BINARY", "BINARY", "INT3") if xnor else ("INT8", "INT8", "INT4")
    x_vi = helper.make_tensor_value_info("x", TensorProto.FLOAT, (*VECS, mw))
    y_vi = helper.make_tensor_value_info("y", TensorProto.FLOAT, (*VECS, mh))
    node = helper.make_node("MVAU", ["x", "w", "t"], ["y"], name="M0", MW=mw, MH=mh, SIMD=simd, PE=pe,
                            inputDataType=idt, weightDataType=wdt, outputDataType=odt, ActVal=int(DataType[odt].min()),
                            binaryXnorMode=int(xnor), noActivation=0, numInputVectors=VECS, ram_style="ultra", **HW)
    model = ModelWrapper(qonnx_make_model(helper.make_graph([node], "g", [x_vi], [y_vi]), producer_name="t"))
    model.set_tensor_datatype("x", DataType[idt])
    model.set_tensor_datatype("y", DataType[odt])
    w_dt = DataType[wdt]
    model.set_initializer("w", rng.integers(w_dt.min(), w_dt.max() + 1, (mw, mh)).astype(np.float32))
    lo, hi = (0, mw) if xnor else (-200, 200)
    steps = int(DataType[odt].max() - DataType[odt].min())
    model.set_initializer("t", np.sort(rng.integers(lo, hi, (mh, steps)), 1).astype(np.float32))
    set_target_family(model, "zynq_us+")
    layer = layer_rtl(model, model.graph.node[0])
    p = layer.parameters
    assert (p["W_LOAD"], p["RAM_STYLE"]) == (1, "ultra") and "weight_loader" in layer.sources, p
    line_bits = pe * simd * p["W_BITS"]
    per_line = -(-line_bits // 32)
    words = [(int(line, 16) >> (32 * k)) & 0xFFFFFFFF for line in layer.memfiles["weights.mem"].split()
             for k in range(per_line)]
    extra = [int(v) for v in rng.integers(0, 1 << 32, 5, dtype=np.uint64)]
    i_dt = DataType[idt]
    x = rng.integers(i_dt.min(), i_dt.max() + 1, (*VECS, mw)).astype(np.float32)
    expected = finn_out(model, x)
    params = {k: v for k, v in p.items() if k != "WEIGHT_FILE"}  # not read with W_LOAD: the stream is the source
    for name, text in layer.memfiles.items():  # the thresholds
        (tmp_path / name).write_text(text)
        params = {k: (str(tmp_path / name) if v == name else v) for k, v in params.items()}
    srcs = [verilator.HLS_DIR / f"{m}.sv" for m in layer.sources]
    n_vec = int(np.prod(VECS))
    res = simulate(srcs, "mvau",
                   [Stream("s_axis_0", bus_bits(p["IN_BITS"], simd), pack(x, p["IN_BITS"], simd)),
                    Stream("s_axis_w", 32, words + extra)],
                   [Stream("m_axis_0", bus_bits(p["OUT_BITS"], pe), n_beats=expected.size // pe, frames=n_vec),
                    Stream("m_axis_w", 32, n_beats=len(extra))],
                   parameters=params, stall=0.3, seed=7)
    out = unpack(res.outputs["m_axis_0"], p["OUT_BITS"], pe, DataType[odt].signed())
    assert np.array_equal(out.reshape(expected.shape), expected)
    assert res.outputs["m_axis_w"] == extra
