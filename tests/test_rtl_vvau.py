"""VVAU (depthwise convolution, hls/vvau.sv) vs FINN's execution of the VVAU node: random shapes, PE/SIMD
folding, integer / XNOR / bipolar / 0-1 weights, LUT and DSP products, thresholds or none, random stalls on
both streams; every output integer-equal, cycles per pixel equal to FINN's get_exp_cycles without stalls."""
import numpy as np
import pytest
from onnx import TensorProto, helper
from qonnx.core.datatype import DataType
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.custom_op.registry import getCustomOp
from qonnx.util.basic import qonnx_make_model

from bidrn_hw.rtl_sim import streams, verilator
from bidrn_hw.layers.vvau import KIND

HW = dict(domain="finn.custom_op.fpgadataflow", backend="fpgadataflow")
KERNELS = [(3, 3), (1, 3), (2, 2), (3, 1), (1, 1), (5, 5)]
TYPES = {  # kind -> (input types, weight types)
    "int": (["INT4", "UINT4", "INT3", "UINT8"], ["INT4", "INT2", "UINT3", "INT8"]),
    "xnor": (["BIPOLAR"], ["BIPOLAR"]),
    "bipolar-w": (["INT4", "UINT3"], ["BIPOLAR"]),
    "bipolar-x": (["BIPOLAR"], ["INT3", "UINT2"]),
    "binary-w": (["UINT4", "INT5"], ["BINARY"]),
}


def random_case(seed: int) -> dict:
    rng = np.random.default_rng(1000 + seed)
    kind = list(TYPES)[seed % len(TYPES)]
    k_h, k_w = KERNELS[int(rng.integers(len(KERNELS)))]
    k2 = k_h * k_w
    pe = int(rng.choice([1, 2, 3, 4]))
    simd = int(rng.choice([d for d in range(1, k2 + 1) if k2 % d == 0]))
    return dict(kind=kind, k=(k_h, k_w), pe=pe, simd=simd, ch=pe * int(rng.integers(1, 4)),
                dim=(int(rng.integers(1, 4)), int(rng.integers(1, 4))), idt=str(rng.choice(TYPES[kind][0])),
                wdt=str(rng.choice(TYPES[kind][1])), act=bool(rng.random() < 0.6), shared=bool(rng.random() < 0.25),
                odt=str(rng.choice(["UINT2", "UINT4", "INT3", "INT4"])), res=str(rng.choice(["lut", "dsp", "auto"])),
                seed=seed)


def make_model(c: dict, rng) -> ModelWrapper:
    (k_h, k_w), ch, (h, w) = c["k"], c["ch"], c["dim"]
    i_dt, w_dt = DataType[c["idt"]], DataType[c["wdt"]]
    weights = rng.integers(w_dt.min(), w_dt.max() + 1, (ch, 1, k_h, k_w)).astype(np.float32)
    if w_dt == DataType["BIPOLAR"]:
        weights = 2 * rng.integers(0, 2, (ch, 1, k_h, k_w)).astype(np.float32) - 1
    # The accumulator's reach per channel, for thresholds that fall inside it.
    xnor = c["kind"] == "xnor"
    wk = weights.reshape(ch, -1).astype(np.int64)
    lo = 0 if xnor else int(np.minimum(wk * i_dt.min(), wk * i_dt.max()).sum(1).min())
    hi = k_h * k_w if xnor else int(np.maximum(wk * i_dt.min(), wk * i_dt.max()).sum(1).max())
    inputs = ["x", "w"]
    if c["act"]:
        o_dt = DataType[c["odt"]]
        steps = int(o_dt.max() - o_dt.min())
        act_val = int(o_dt.min())
        thr = np.sort(rng.integers(lo - 2, hi + 3, (1 if c["shared"] else ch, steps)), 1).astype(np.float32)
        inputs.append("t")
    else:
        bits = max(abs(lo), abs(hi) + 1).bit_length() + 1
        o_dt, act_val = DataType[f"INT{max(bits, 2)}"], 0
    x_vi = helper.make_tensor_value_info("x", TensorProto.FLOAT, (1, h, w, k_h * k_w * ch))
    y_vi = helper.make_tensor_value_info("y", TensorProto.FLOAT, (1, h, w, ch))
    node = helper.make_node("VVAU", inputs, ["y"], name="V0", PE=c["pe"], SIMD=c["simd"], Dim=[h, w], Channels=ch,
                            Kernel=[k_h, k_w], inputDataType=c["idt"], weightDataType=c["wdt"],
                            outputDataType=o_dt.name, ActVal=act_val, noActivation=0 if c["act"] else 1,
                            resType=c["res"], **HW)
    model = ModelWrapper(qonnx_make_model(helper.make_graph([node], "g", [x_vi], [y_vi]), producer_name="t"))
    model.set_tensor_datatype("x", i_dt)
    model.set_tensor_datatype("y", o_dt)
    model.set_initializer("w", weights)
    if c["act"]:
        model.set_initializer("t", thr)
    return model


def input_frames(c: dict, rng, n: int) -> list[np.ndarray]:
    (k_h, k_w), (h, w) = c["k"], c["dim"]
    i_dt = DataType[c["idt"]]
    shape = (1, h, w, k_h * k_w * c["ch"])
    if i_dt == DataType["BIPOLAR"]:
        return [2 * rng.integers(0, 2, shape).astype(np.float32) - 1 for _ in range(n)]
    return [rng.integers(i_dt.min(), i_dt.max() + 1, shape).astype(np.float32) for _ in range(n)]


def check_vvau(c: dict, tmp_path, stalls=((0.0, 1), (0.3, 2))) -> None:
    from finn.core.onnx_exec import execute_onnx

    rng = np.random.default_rng(c["seed"])
    model = make_model(c, rng)
    node = model.graph.node[0]
    inst = getCustomOp(node)
    layer = KIND.rtl(model, node, inst)
    p = layer.parameters
    srcs = [verilator.HLS_DIR / f"{m}.sv" for m in layer.sources]
    lanes = p["SIMD"] * p["PE"]
    o_dt = DataType[inst.get_nodeattr("outputDataType")]
    pixels = c["dim"][0] * c["dim"][1]
    for stall, seed in stalls:
        # The memory files by their plain names in the run directory (the simulator's working directory): the
        # Verilator build depends on the parameters only, so tests of one configuration share it.
        run_dir = tmp_path / f"run{seed}"
        run_dir.mkdir()
        for name, text in layer.memfiles.items():
            (run_dir / name).write_text(text)
        frames = input_frames(c, rng, 2)
        expected = np.concatenate([execute_onnx(model, {"x": x})["y"].reshape(-1) for x in frames])
        x = np.concatenate([f.reshape(-1) for f in frames])
        if DataType[c["idt"]] == DataType["BIPOLAR"]:
            x = (x + 1) / 2  # the stream carries the {0, 1} code
        result = streams.simulate(
            srcs, "vvau", [streams.Stream("s_axis_0", streams.bus_bits(p["IN_BITS"], lanes),
                                          streams.pack(x, p["IN_BITS"], lanes))],
            [streams.Stream("m_axis_0", streams.bus_bits(p["OUT_BITS"], p["PE"]), n_beats=expected.size // p["PE"],
                            frames=2 * pixels)],
            parameters=p, stall=stall, seed=seed, run_dir=run_dir)
        out = streams.unpack(result.outputs["m_axis_0"], p["OUT_BITS"], p["PE"], o_dt.signed())
        assert np.array_equal(out, expected.astype(np.int64)), (c, p, stall)
        if stall == 0.0 and 2 * pixels > 1:  # one fold step a cycle: FINN's get_exp_cycles per frame
            assert result.cycles_per_frame() * pixels == inst.get_exp_cycles(), (c, result.frame_done_cycles)


FIXED = [  # the shapes and modes every run covers (one Verilator build each)
    dict(kind="int", k=(3, 3), pe=2, simd=3, ch=4, dim=(2, 3), idt="UINT4", wdt="INT4", act=True, shared=False,
         odt="UINT4", res="lut", seed=1),
    dict(kind="xnor", k=(3, 3), pe=3, simd=1, ch=6, dim=(2, 2), idt="BIPOLAR", wdt="BIPOLAR", act=True,
         shared=False, odt="UINT2", res="auto", seed=2),
    dict(kind="int", k=(3, 3), pe=4, simd=9, ch=4, dim=(2, 2), idt="INT4", wdt="INT4", act=False, shared=False,
         odt="", res="dsp", seed=3),
]


@pytest.mark.parametrize("case", FIXED, ids=["uint4-int4-thr-lut", "xnor-thr", "int4-acc-dsp-full"])
def test_vvau_bit_exact(case, tmp_path):
    check_vvau(case, tmp_path)


@pytest.mark.parametrize("seed", range(1))
def test_vvau_random(seed, tmp_path):
    check_vvau(random_case(seed), tmp_path)


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(1, 20))
def test_vvau_random_slow(seed, tmp_path):
    check_vvau(random_case(seed), tmp_path)


LINT = [{}, {"N_STEPS": 7, "THR_BITS": 17, "OUT_BITS": 3}, {"XNOR": 1, "IN_BITS": 1, "W_BITS": 1, "SIMD": 3},
        {"RES_TYPE": '"lut"', "SIMD": 3, "IN_BIPOLAR": 1, "IN_BITS": 1, "W_BIPOLAR": 1, "W_BITS": 1},
        {"N_STEPS": 31, "OUT_BITS": 5, "LINES": 2, "M_BITS": 9, "C_BITS": 17, "SHIFT": 9}]


@pytest.mark.parametrize("params", LINT, ids=["default", "search", "xnor", "lut-bipolar", "lines"])
def test_vvau_lint_clean(params):
    """`verilator --lint-only -Wall` on vvau.sv in each of its modes (test_rtl_lint.py covers the defaults)."""
    import subprocess

    proc = subprocess.run(["verilator", "--lint-only", "-Wall", "-y", str(verilator.HLS_DIR), "--top-module", "vvau",
                           *[f"-G{k}={v}" for k, v in params.items()], str(verilator.HLS_DIR / "vvau.sv")],
                          env=verilator.verilator_env(), capture_output=True, text=True)
    warnings = [line for line in proc.stderr.splitlines() if line.startswith("%")]
    assert proc.returncode == 0 and not warnings, "\n".join(warnings)


def depthwise_block(ch=6, pe=3, dim=(5, 6), k=3, stride=2, idt="UINT4", seed=0) -> ModelWrapper:
    """x -> ConvolutionInputGenerator (depthwise, SIMD = PE) -> VVAU with thresholds: a depthwise convolution as
    InferConvInpGen and InferVectorVectorActivation leave it (valid padding; FMPadding is a separate layer)."""
    rng = np.random.default_rng(seed)
    i_dt = DataType[idt]
    out_h, out_w = (dim[0] - k) // stride + 1, (dim[1] - k) // stride + 1
    x_vi = helper.make_tensor_value_info("x", TensorProto.FLOAT, (1, *dim, ch))
    win = helper.make_tensor_value_info("win", TensorProto.FLOAT, (1, out_h, out_w, k * k * ch))
    y_vi = helper.make_tensor_value_info("y", TensorProto.FLOAT, (1, out_h, out_w, ch))
    swg = helper.make_node("ConvolutionInputGenerator", ["x"], ["win"], name="SWG_0", ConvKernelDim=[k, k],
                           IFMChannels=ch, IFMDim=list(dim), OFMDim=[out_h, out_w], SIMD=pe, Stride=[stride, stride],
                           Dilation=[1, 1], inputDataType=idt, outputDataType=idt, depthwise=1, **HW)
    vvau_node = helper.make_node("VVAU", ["win", "w", "t"], ["y"], name="VVAU_0", PE=pe, SIMD=1, Dim=[out_h, out_w],
                                 Channels=ch, Kernel=[k, k], inputDataType=idt, weightDataType="INT4",
                                 outputDataType="UINT4", ActVal=0, noActivation=0, **HW)
    graph = helper.make_graph([swg, vvau_node], "dw", [x_vi], [y_vi], value_info=[win])
    model = ModelWrapper(qonnx_make_model(graph, producer_name="t"))
    for t in ("x", "win"):
        model.set_tensor_datatype(t, i_dt)
    model.set_tensor_datatype("y", DataType["UINT4"])
    w = rng.integers(-8, 8, (ch, 1, k, k))
    model.set_initializer("w", w.astype(np.float32))
    wk = w.reshape(ch, -1)
    lo, hi = np.minimum(wk * i_dt.min(), wk * i_dt.max()).sum(1), np.maximum(wk * i_dt.min(), wk * i_dt.max()).sum(1)
    thr = np.sort(rng.integers(lo[:, None] // 2, hi[:, None] // 2 + 1, (ch, 15)), 1)
    model.set_initializer("t", thr.astype(np.float32))
    return model


@pytest.mark.parametrize("stall", [0.0, 0.3])
def test_stitched_depthwise_block_is_bit_exact(stall, tmp_path):
    """The depthwise sliding window generator feeds the VVAU directly (its SIMD = the VVAU's PE): the stitched
    top equals FINN's execution of the graph, and without stalls runs at the slower layer's estimate."""
    from finn.core.onnx_exec import execute_onnx

    from bidrn_hw.layers import layer_cycles_of
    from bidrn_hw.rtl_sim import accelerator
    from bidrn_hw.rtlgen.stitch import generate

    model = depthwise_block()
    generate(model, tmp_path / "b")
    frames = np.random.default_rng(5).integers(0, 16, size=(3, 5, 6, 6))
    result = accelerator.simulate(tmp_path / "b", [frames], stall=stall, seed=9)
    expected = np.stack([execute_onnx(model, {"x": f[None].astype(np.float32)})["y"][0] for f in frames])
    assert np.array_equal(result["outputs"][0], expected)
    if stall == 0.0:
        est = max(layer_cycles_of(model, n) for n in model.graph.node)
        assert abs(result["cycles_per_frame"] / est - 1) <= 0.05, (result["cycles_per_frame"], est)


def test_folding_mismatch_with_the_generator_is_refused():
    from bidrn_hw.errors import UnsupportedError
    from bidrn_hw.layers import layer_rtl

    model = depthwise_block()
    getCustomOp(model.graph.node[1]).set_nodeattr("PE", 2)  # the generator emits 3 channels a beat
    with pytest.raises(UnsupportedError, match="VVAU_0.*SIMD=1 and PE"):
        layer_rtl(model, model.graph.node[1])


@pytest.mark.parametrize("idt, wdt, ours", [("UINT4", "INT4", "lut"), ("INT8", "INT8", "dsp")])
def test_vvau_unset_res_type_reads_as_finn_auto(idt, wdt, ours):
    """An unset resType: FINN's VVAU and its specialised VVAU_hls both read "auto" (neither overrides the
    default, unlike MVAU_hls, which reads "lut"). FINN's estimate prices "auto" as LUT products and no DSP; its
    HLS leaves the binding to the tool (ap_resource_dflt). Ours (res_type) puts operands of at most 8 bits
    together in LUTs, where both agree (MobileNet's 4-bit layers), and wider ones in DSP blocks, which
    Yosys maps our multiplication to (benchmarks/calibrate_vvau.py int4_simd9_dsp)."""
    from bidrn_hw.layers.vvau import vvau_params

    c = dict(kind="int", k=(3, 3), pe=2, simd=1, ch=4, dim=(2, 2), idt=idt, wdt=wdt, act=False, shared=False,
             odt="", res="auto", seed=0)
    model = make_model(c, np.random.default_rng(0))
    node = model.graph.node[0]
    del node.attribute[[a.name for a in node.attribute].index("resType")]
    hls = helper.make_node("VVAU_hls", list(node.input), list(node.output), name="V0_hls",
                           domain="finn.custom_op.fpgadataflow.hls", backend="fpgadataflow")
    hls.attribute.extend(node.attribute)
    assert getCustomOp(node).get_nodeattr("resType") == getCustomOp(hls).get_nodeattr("resType") == "auto"
    finn = getCustomOp(hls)
    finn_auto = (finn.lut_estimation("xc7z020clg400-1"), finn.dsp_estimation("xc7z020clg400-1"))
    finn.set_nodeattr("resType", "lut")
    assert finn_auto == (finn.lut_estimation("xc7z020clg400-1"), 0)  # FINN: "auto" priced as "lut"
    p = vvau_params(model, node, getCustomOp(node))[0]
    assert p["RES_TYPE"] == ours
    cost, _ = KIND.formula(model, node, getCustomOp(node), "zynq7000", "xc7z020clg400-1")
    assert cost["DSP"] == (0 if ours == "lut" else c["pe"] * c["simd"])
