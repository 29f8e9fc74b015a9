"""hls/axis_register.sv (the register slice / skid buffer): every beat passes unchanged and in order under
random tvalid gaps and tready stalls, at one beat a cycle without stalls."""
from __future__ import annotations

import numpy as np
import pytest

from bidrn_hw.rtl_sim.streams import Stream, simulate
from bidrn_hw.rtl_sim.verilator import hls_sources


@pytest.mark.parametrize("bits", [8, 72])  # stream buses are padded to bytes
def test_register_slice_passes_every_beat_under_stalls(bits):
    rng = np.random.default_rng(bits)
    n = 400
    beats = [int.from_bytes(rng.bytes(16), "little") & ((1 << bits) - 1) for _ in range(n)]
    for stall in (0.3, 0.6, 0.0):
        res = simulate(hls_sources("axis_register"), "axis_register", [Stream("s_axis_0", bits, beats)],
                       [Stream("m_axis_0", bits, n_beats=n, frames=4)], parameters={"BITS": bits}, stall=stall,
                       seed=7 + bits)
        assert res.outputs["m_axis_0"] == beats, f"stall {stall}"
    # without stalls: one beat a cycle (the frames of 100 beats complete 100 cycles apart)
    assert res.cycles_per_frame("m_axis_0") == 100.0



def test_stitched_register_slices_bit_exact(tmp_path):
    """compile --register-slices all: a slice on every stream between two layers of TFC-w1a1 (listed in
    accel.json, instantiated in the top); the RTL stays bit-exact with FINN under stalls, and the steady-state
    cycles per frame equal the build without slices (full throughput)."""
    import json

    from bidrn_hw.flow.bnn_pynq import export_bnn_pynq, random_frames
    from bidrn_hw.flow.build import compile_partition
    from bidrn_hw.flow import host_ops
    from bidrn_hw.flow.lower import execute
    from bidrn_hw.rtl_sim import accelerator
    from qonnx.core.modelwrapper import ModelWrapper

    export_bnn_pynq("tfc-w1a1", tmp_path / "tfc.onnx", seed=3)
    cpf = {}
    for slices in (None, "all"):
        build = tmp_path / f"tfc_{slices}"
        compile_partition(tmp_path / "tfc.onnx", build, target_fps=1000, register_slices=slices)
        accel = json.loads((build / "accel.json").read_text())
        top = (build / "rtl" / "accel_top.sv").read_text()
        if slices:
            n = len(accel["register_slices"])
            assert n == len(accel["layers"]) - 1 and top.count("axis_register #(") == n
            assert "axis_register.sv" in (build / "rtl" / "filelist.f").read_text()
        else:
            assert "register_slices" not in accel and "axis_register" not in top
        hw = ModelWrapper(str(build / "hw.onnx"))
        x = random_frames("tfc-w1a1", 3, seed=7)
        stream = host_ops.to_stream(host_ops.get(hw), x).astype(np.int64)
        expected = np.concatenate([execute(hw, f[None], host=False) for f in x])
        for stall in (0.3, 0.0):
            result = accelerator.simulate(build, [stream], stall=stall, seed=1)
            assert np.array_equal(result["outputs"][0].reshape(expected.shape), expected), (slices, stall)
        cpf[slices] = result["cycles_per_frame"]
    assert cpf["all"] == cpf[None], cpf
