"""Stitching HW layers into one AXI-Stream top, simulated against FINN execution of the same graph."""
import json

import numpy as np
import pytest
from onnx import TensorProto, helper
from qonnx.core.datatype import DataType
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.util.basic import qonnx_make_model

from bidrn_hw.errors import InputFileError, UnsupportedError, UsageError
from bidrn_hw.rtl_sim import accelerator
from bidrn_hw.rtlgen.stitch import generate

SHAPE = (1, 4, 3, 6)
HW = dict(domain="finn.custom_op.fpgadataflow", backend="fpgadataflow")


def residual_graph(pe_dup=3, pe_add=3, idt="INT4"):
    """x -> DuplicateStreams -> ElementwiseAdd(x, x): the fork/join skeleton of a residual block."""
    tensors = {n: helper.make_tensor_value_info(n, TensorProto.FLOAT, SHAPE) for n in ("x", "a", "b", "y")}
    dup = helper.make_node("DuplicateStreams", ["x"], ["a", "b"], name="Dup_0", NumChannels=SHAPE[-1], PE=pe_dup,
                           NumOutputStreams=2, inputDataType=idt, numInputVectors=list(SHAPE[:-1]), **HW)
    add = helper.make_node("ElementwiseAdd", ["a", "b"], ["y"], name="Add_0", lhs_shape=list(SHAPE),
                           rhs_shape=list(SHAPE), out_shape=list(SHAPE), lhs_dtype=idt, rhs_dtype=idt,
                           out_dtype="INT5", lhs_style="input", rhs_style="input", PE=pe_add, **HW)
    graph = helper.make_graph([dup, add], "residual", [tensors["x"]], [tensors["y"]],
                              value_info=[tensors["a"], tensors["b"]])
    model = ModelWrapper(qonnx_make_model(graph, producer_name="bidrn-hw"))
    for t in ("x", "a", "b"):
        model.set_tensor_datatype(t, DataType[idt])
    model.set_tensor_datatype("y", DataType["INT5"])
    return model


def finn_exec(model, x):
    from finn.core.onnx_exec import execute_onnx

    return execute_onnx(model, {"x": x.astype(np.float32)})["y"]


@pytest.fixture(scope="module")
def design(tmp_path_factory):
    out = tmp_path_factory.mktemp("stitch")
    model = residual_graph()
    accel = generate(model, out)
    return out, model, accel


def test_accel_json_describes_the_streams(design):
    out, _, accel = design
    assert accel["top"] == "accel_top" and accel["clock"] == "ap_clk" and accel["reset"] == "ap_rst_n"
    (i,), (o,) = accel["inputs"], accel["outputs"]
    assert i["name"] == "s_axis_0" and o["name"] == "m_axis_0"
    assert (i["elem_bits"], i["elem_signed"], i["elems_per_beat"], i["tdata_bits"]) == (4, True, 3, 16)
    assert (o["elem_bits"], o["elems_per_beat"], o["beats_per_frame"]) == (5, 3, 4 * 3 * 2)
    assert o["shape"] == list(SHAPE)
    files = (out / "rtl" / "filelist.f").read_text().split()
    assert files[-1] == "accel_top.sv" and "duplicatestreams.sv" in files and "addstreams.sv" in files
    top = (out / "rtl" / "accel_top.sv").read_text()
    for port in ("ap_clk", "ap_rst_n", "s_axis_0_tdata", "s_axis_0_tready", "m_axis_0_tvalid"):
        assert port in top


@pytest.mark.parametrize("stall", [0.0, 0.3])
def test_stitched_design_is_bit_exact(design, stall):
    out, model, _ = design
    rng = np.random.default_rng(7)
    frames = rng.integers(-8, 8, size=(4, *SHAPE[1:]))
    result = accelerator.simulate(out, [frames], stall=stall, seed=3)
    expected = np.stack([finn_exec(model, f[None])[0] for f in frames])
    assert np.array_equal(result["outputs"][0], expected)
    if stall == 0.0:  # 24 beats per frame at PE=3: one beat per cycle once the pipeline is full
        assert abs(result["cycles_per_frame"] - 24) <= 1


def test_width_mismatch_needs_a_converter(tmp_path):
    with pytest.raises(UnsupportedError, match="data-width converter"):
        generate(residual_graph(pe_dup=3, pe_add=2), tmp_path)


def test_bad_build_directories_and_inputs(design, tmp_path):
    out, _, accel = design
    with pytest.raises(InputFileError, match="accel.json not found"):
        accelerator.load_design(tmp_path)
    old = tmp_path / "old"
    (old / "rtl").mkdir(parents=True)
    (old / "accel.json").write_text(json.dumps({**accel, "format": 0, "bidrn_hw_version": "0.0.1"}))
    with pytest.raises(InputFileError, match="format 0"):
        accelerator.load_design(old)
    with pytest.raises(UsageError, match=r"expected frames of shape \(N, 4, 3, 6\)"):
        accelerator.simulate(out, [np.zeros((2, 3, 4, 6), dtype=np.int64)])
    with pytest.raises(UsageError, match="outside INT4"):
        accelerator.simulate(out, [np.full((1, 4, 3, 6), 9)])
    with pytest.raises(UsageError, match="values must be integers"):
        accelerator.simulate(out, [np.full((1, 4, 3, 6), 0.5)])
    nolist = tmp_path / "nolist"
    (nolist / "rtl").mkdir(parents=True)
    (nolist / "accel.json").write_text(json.dumps(accel))
    with pytest.raises(InputFileError, match=r"accel_top.sv is missing \(accel.json lists it\)"):
        accelerator.load_design(nolist)
