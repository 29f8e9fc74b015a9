"""Yosys synth_xilinx resource measurement per layer and for the top, beside the estimates."""
from __future__ import annotations

import json

import pytest

from bidrn_hw.cli import main
from bidrn_hw.fpga.tools import error_reason
from bidrn_hw.fpga.xilinx import load_estimates, resources_from_cells
from fpga_fixture import write_design

LANES = 2  # differs from fx_mac's default LANES=4: the measured DSPs show the instance parameters were applied


@pytest.fixture(scope="module")
def synthesized(tmp_path_factory):
    d = write_design(tmp_path_factory.mktemp("synth") / "build", lanes=LANES, depth=1024)
    assert main(["synth", str(d), "--part", "xc7z020", "--json"]) == 0
    return d, json.loads((d / "synth" / "report.json").read_text())


def test_layers_measured_with_instance_parameters(synthesized):
    _, report = synthesized
    assert [r["name"] for r in report["layers"]] == ["MAC_0", "Bias_0"]
    mac, bias = report["layers"]
    assert mac["module"] == "fx_mac" and mac["measured"]["DSP"] == LANES
    # 1024 x 16-bit ROM = 16 kbit: one RAMB18
    assert mac["measured"]["BRAM_18K"] == 1 and "RAMB18E1" in mac["cells"]
    assert mac["measured"]["FF"] > 0
    assert bias["measured"]["FF"] >= 24 and bias["measured"]["LUT"] + bias["cells"].get("CARRY4", 0) > 0
    assert bias["measured"]["DSP"] == 0 and bias["measured"]["BRAM_18K"] == 0


def test_estimate_and_ratio(synthesized):
    d, report = synthesized
    est = json.loads((d / "estimates.json").read_text())["layers"]
    mac = report["layers"][0]
    assert mac["estimate"]["LUT"] == est[0]["LUT"]
    assert mac["ratio"]["DSP"] == pytest.approx(mac["measured"]["DSP"] / est[0]["DSP"], abs=1e-3)
    assert mac["ratio"]["LUT"] == pytest.approx(mac["measured"]["LUT"] / est[0]["LUT"], abs=1e-3)


def test_top_and_markdown(synthesized):
    d, report = synthesized
    top = report["top"]
    assert top["name"] == "fx_top"
    assert top["measured"]["DSP"] == LANES and top["measured"]["BRAM_18K"] == 1 and top["measured"]["FF"] > 24
    assert top["estimate"]["DSP"] == LANES  # the sum of the layer estimates
    assert report["fits"] and report["budget"]["DSP"] == 220
    md = (d / "synth" / "report.md").read_text()
    assert "| MAC_0 | fx_mac |" in md and "**top**" in md and "xc7z020clg400-1" in md


def test_ultrascale_top_only(tmp_path, capsys):
    d = write_design(tmp_path / "b", lanes=LANES, depth=64)
    assert main(["synth", str(d), "--part", "xczu7ev", "--top-only", "--json"]) == 0
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert out["layers"] == [] and out["family"] == "xcup"
    assert out["top"]["cells"].get("DSP48E2") == LANES and out["top"]["measured"]["DSP"] == LANES


def test_unknown_part(tmp_path, capsys):
    d = write_design(tmp_path / "b")
    assert main(["synth", str(d), "--part", "xc7k999", "--json"]) == 2
    out = json.loads(capsys.readouterr().out)
    assert "unknown part 'xc7k999'" in out["error"] and "xcu250" in out["error"]


def test_missing_accel_json(tmp_path, capsys):
    (tmp_path / "nothing").mkdir()
    assert main(["synth", str(tmp_path / "nothing"), "--part", "xcu250", "--json"]) == 3
    assert "accel.json" in json.loads(capsys.readouterr().out)["error"]


def test_missing_build_dir(tmp_path, capsys):
    assert main(["synth", str(tmp_path / "absent"), "--json"]) == 3
    assert "build directory not found" in json.loads(capsys.readouterr().out)["error"]


def test_cell_units_and_estimate_formats(tmp_path):
    cells = {"LUT6": 3, "LUT2": 1, "INV": 1, "RAM64M": 2, "SRLC32E": 1, "FDRE": 5, "FDCE": 1, "RAMB36E2": 2,
             "RAMB18E2": 1, "DSP48E2": 4, "URAM288": 1, "CARRY8": 9, "MUXF7": 2}
    assert resources_from_cells(cells) == {"LUT": 3 + 1 + 1 + 8 + 1, "FF": 6, "BRAM_18K": 5, "URAM": 1, "DSP": 4}
    p = tmp_path / "e.json"
    p.write_text(json.dumps([{"name": "a", "LUT": 5, "DSP": 1}]))
    assert load_estimates(p) == {"a": {"LUT": 5, "DSP": 1}}
    p.write_text(json.dumps({"a": {"resources": {"LUT": 7}}}))
    assert load_estimates(p) == {"a": {"LUT": 7}}


def test_error_reason_picks_error_lines():
    log = "# cwd: x\nInfo: fine\nfoo.sv:3: ERROR: syntax error\nmore\n"
    assert error_reason(log) == "foo.sv:3: ERROR: syntax error"
    assert error_reason("a\nb\n") == "a | b"


def test_negative_parameters_reach_yosys_as_32_bit_constants():
    """Yosys' chparam cannot decode '-128' (a thresholding layer's ACT_VAL): two's complement 32-bit constants."""
    from bidrn_hw.fpga.xilinx import _sv_param

    assert _sv_param(-128) == "32'shFFFFFF80" and _sv_param(-1) == "32'shFFFFFFFF"
    assert _sv_param(7) == "7" and _sv_param(True) == "1" and _sv_param("a.mem") == '"a.mem"'
