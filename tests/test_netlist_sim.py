"""Post-synthesis simulation (`bidrn-hw simulate B --netlist`): the Yosys netlist of a build, simulated with
the cell models by the same stream driver, equals FINN's execution integer for integer; a broken cell model
makes the comparison fail (so the check can fail), and the netlist is cached."""
import json

import numpy as np
import pytest

from bidrn_hw.cli import main as cli_main
from bidrn_hw.flow.bnn_pynq import export_bnn_pynq


@pytest.fixture(scope="module")
def tfc_ecp5(tmp_path_factory):
    """TFC-w1a1 (random weights) folded for 1000 FPS on the ECP5-85F: a few hundred LUT4s, six DP16KD block
    RAMs (read 1 and 9 bits wide, written 18), LUT RAMs, carry chains."""
    from bidrn_hw.flow.build import compile_partition

    root = tmp_path_factory.mktemp("netlist")
    export_bnn_pynq("tfc-w1a1", root / "tfc.onnx", seed=3)
    compile_partition(root / "tfc.onnx", root / "tfc", target_fps=1000, part="ecp5-85k")
    return root / "tfc"


def _frames(build, n=2, seed=5):
    accel = json.loads((build / "accel.json").read_text())
    s = accel["inputs"][0]
    return np.random.default_rng(seed).integers(0, 256, size=(n, *s["shape"][1:]))


def test_netlist_bit_exact_and_broken_lut_fails(tfc_ecp5, capsys):
    from bidrn_hw.commands.simulate import reference_outputs
    from bidrn_hw.errors import MismatchError
    from bidrn_hw.fpga import netlist
    from bidrn_hw.rtl_sim import accelerator

    assert cli_main(["simulate", str(tfc_ecp5), "--netlist", "--frames", "2", "--stall", "0.3", "--seed", "2",
                     "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["bit_exact"] and summary["mismatches"] == 0 and summary["frames"] == 2
    net = summary["netlist"]
    assert net["family"] == "ecp5" and net["part"] == "ecp5-85k"
    assert net["cells"].get("LUT4", 0) > 100 and net["cells"].get("DP16KD", 0) > 0  # a mapped netlist, not RTL

    again = netlist.synthesize(tfc_ecp5)  # cached: same file, no Yosys run
    assert again.cached and str(again.netlist) == net["file"] and again.synth_s == 0.0

    # the same netlist with one INIT bit of every LUT4 inverted (bit 0: the output for inputs 0000)
    models = again.models.read_text()
    good = "    wire [7:0] s3 = D ?     INIT[15:8] :     INIT[7:0];"
    assert models.count(good) == 1
    broken = netlist.write_models(models.replace(
        good, "    wire [15:0] I = INIT ^ 16'h0001;\n    wire [7:0] s3 = D ?     I[15:8] :     I[7:0];"), "ecp5")
    frames = _frames(tfc_ecp5)
    expected, _, _ = reference_outputs(tfc_ecp5, frames)
    try:
        result = accelerator.simulate(tfc_ecp5, [frames], stall=0.3, seed=2, netlist_sources=[broken, again.netlist])
    except MismatchError:  # a broken control path may deadlock or send extra beats: the driver says so
        pass
    else:
        assert not np.array_equal(result["outputs"][0].reshape(expected.shape), expected)
    # and the good models on the same frames agree (the comparison above is the one `simulate` makes)
    ok = accelerator.simulate(tfc_ecp5, [frames], stall=0.3, seed=2, netlist_sources=again.sources)
    assert np.array_equal(ok["outputs"][0].reshape(expected.shape), expected)


def test_netlist_needs_compiled_engine_and_known_part(tfc_ecp5, capsys):
    assert cli_main(["simulate", str(tfc_ecp5), "--netlist", "--engine", "cocotb", "--json"]) != 0
    assert "compiled engine" in capsys.readouterr().out
    assert cli_main(["simulate", str(tfc_ecp5), "--netlist", "--part", "nosuchpart", "--json"]) != 0
    assert "nosuchpart" in capsys.readouterr().out
    assert cli_main(["simulate", str(tfc_ecp5), "--part", "ecp5-85k", "--json"]) != 0
    assert "--netlist" in capsys.readouterr().out


def test_dp16kd_model_replaces_the_black_box():
    from bidrn_hw.fpga import netlist

    text = netlist.cell_models_text("ecp5")
    assert text.count("module DP16KD(") == 1 and "(* blackbox *)\nmodule DP16KD" not in text
    assert text.count("module MULT18X18D(") == 1 and "`include" not in text


def test_stub_models_are_named():
    """Yosys' Xilinx block-RAM models are timing stubs: a netlist using them is refused (UnsupportedError in
    synthesize), never simulated with undriven outputs; the ECP5 library with our models has none in use."""
    from bidrn_hw.fpga import cell_models, netlist

    xilinx = cell_models.behaviourless(netlist.cell_models_text("xilinx"))
    assert {"RAMB18E1", "RAMB36E1"} <= xilinx and "LUT6" not in xilinx and "FDRE" not in xilinx
    ecp5 = cell_models.behaviourless(netlist.cell_models_text("ecp5"))
    assert not ecp5 & {"DP16KD", "MULT18X18D", "LUT4", "TRELLIS_FF", "CCU2C", "TRELLIS_DPR16X4", "PFUMX", "L6MUX21"}
    yosys_only = cell_models.inline_includes(netlist.share_dir() / "ecp5" / "cells_sim.v")
    assert "DP16KD" in cell_models.behaviourless(yosys_only)  # why cell_models.py exists


@pytest.mark.slow
def test_tiny_body_netlist_bit_exact(tmp_path, capsys):
    """The tiny body encoder folded for the ECP5-85F (the bitstream's build: 500 FPS at 50 MHz), its synth_ecp5
    netlist simulated over 4 frames with --stall 0.3: bit-exact."""
    exp, build = tmp_path / "exp", tmp_path / "body"
    assert cli_main(["export", "--config", "tiny", "--out", str(exp), "--frames", "4"]) == 0
    assert cli_main(["compile", str(exp / "body_encoder" / "model.onnx"), "--out", str(build), "--no-check",
                     "--target-fps", "500", "--fclk-mhz", "50", "--part", "ecp5-85k"]) == 0
    capsys.readouterr()
    assert cli_main(["simulate", str(build), "--netlist", "--frames", "4", "--stall", "0.3", "--json"]) == 0
    text = capsys.readouterr().out
    summary = json.loads(text[text.index("{"):])
    assert summary["bit_exact"] and summary["frames"] == 4 and summary["netlist"]["cells"].get("DP16KD", 0) > 0
