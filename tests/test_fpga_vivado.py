"""Vivado export: the folder's content, and build.tcl / constraints.xdc checked with tclsh.

Vivado cannot run here. The check parses every command of the script (``info complete``) and runs it in a
safe Tcl interpreter where each Vivado command is a stub that checks its option form (known flags, flags
that need a value, the number of positional arguments) and records the call; an unknown command, a wrong
option, or a Tcl error fails the test. ``file`` is limited to path arithmetic (and a recorded mkdir), ``puts``
is recorded.
"""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from bidrn_hw.cli import main
from fpga_fixture import write_design

TCLSH = shutil.which("tclsh")

# command: (flags taking a value, boolean flags, min positional, max positional or -1, return value)
# Option forms as in Vivado's Tcl command reference (UG835).
STUBS = {
    "create_project": ("-part", "-force -in_memory -ip -rtl_kernel -quiet -verbose", 0, 2, "project"),
    "current_project": ("", "-quiet -verbose", 0, 1, "project"),
    "current_fileset": ("", "-constrset -simset -quiet -verbose", 0, 1, "sources_1"),
    "set_property": ("-dict -name -value -objects", "-quiet -verbose", 0, -1, ""),
    "get_property": ("", "-min -max -quiet -verbose", 2, 2, "100%"),
    "add_files": ("-fileset -of_objects -copy_to", "-norecurse -force -scan_for_includes -quiet -verbose", 0, -1, ""),
    "get_files": ("-filter -of_objects -compile_order -used_in", "-regexp -nocase -all -quiet -verbose", 0, -1, "files"),
    "update_compile_order": ("-fileset", "-quiet -verbose", 0, 0, ""),
    "get_runs": ("-filter -of_objects", "-regexp -nocase -quiet -verbose", 0, -1, "run"),
    "launch_runs": ("-jobs -to_step -host -remote_cmd -email_to -pre_launch_script -post_launch_script",
                    "-next_step -scripts_only -lsf -force -quiet -verbose", 1, -1, ""),
    "wait_on_run": ("-timeout", "-quiet -verbose", 1, 1, ""),
    "open_run": ("-name -pr_config", "-quiet -verbose", 1, 1, "design"),
    "report_utilization": ("-file -hierarchical_depth -hierarchical_percentages -name -cells -pblocks",
                           "-append -hierarchical -spreadsheet_table -quiet -verbose", 0, 0, ""),
    "report_timing_summary": ("-file -max_paths -nworst -delay_type -name -rpx",
                              "-report_unconstrained -warn_on_violation -quiet -verbose", 0, 0, ""),
    "ipx::package_project": ("-root_dir -vendor -library -name -version -taxonomy -set_current -module",
                             "-import_files -force -generated_files -force_update_compile_order -quiet -verbose", 0, 1, ""),
    "ipx::current_core": ("", "-quiet -verbose", 0, 1, "core"),
    "ipx::infer_bus_interfaces": ("", "-quiet -verbose", 2, 2, ""),
    "ipx::associate_bus_interfaces": ("-busif -clock -reset", "-remove -clear -quiet -verbose", 1, 1, ""),
    "ipx::get_bus_interfaces": ("-of_objects -filter", "-regexp -nocase -quiet -verbose", 0, 1, "busif"),
    "ipx::get_bus_parameters": ("-of_objects -filter", "-regexp -nocase -quiet -verbose", 0, 1, ""),
    "ipx::add_bus_parameter": ("", "-quiet -verbose", 2, 2, "busparam"),
    "ipx::create_xgui_files": ("", "-quiet -verbose", 1, 1, ""),
    "ipx::update_checksums": ("", "-quiet -verbose", 1, 1, ""),
    "ipx::check_integrity": ("", "-xrt -kernel -quiet -verbose", 1, 1, ""),
    "ipx::save_core": ("", "-quiet -verbose", 0, 1, ""),
    # XDC
    "create_clock": ("-period -name -waveform", "-add -quiet -verbose", 0, -1, "clock"),
    "get_ports": ("-filter -of_objects", "-regexp -nocase -quiet -verbose", 0, -1, "port"),
}

HARNESS = r"""
set stubs [lindex $argv 0]
set script_path [lindex $argv 1]
set fh [open $script_path]
set text [read $fh]
close $fh

# 1. every command is complete (balanced braces/brackets/quotes)
set cmd ""
set lineno 0
foreach line [split $text "\n"] {
    incr lineno
    append cmd $line "\n"
    if {[info complete $cmd]} {set cmd ""}
}
if {[string trim $cmd] ne ""} {
    puts "INCOMPLETE\x1f$lineno"
    exit 1
}

# 2. run it in a safe interpreter with the Vivado commands stubbed
proc record {name spec args} {
    lassign $spec valued flags minpos maxpos ret
    set pos {}
    for {set i 0} {$i < [llength $args]} {incr i} {
        set a [lindex $args $i]
        if {[string index $a 0] eq "-" && ![string is double -strict $a]} {
            if {$a in $valued} {
                if {$i + 1 >= [llength $args]} {error "$name: option $a needs a value"}
                incr i
            } elseif {$a ni $flags} {
                error "$name: unknown option $a"
            }
        } else {
            lappend pos $a
        }
    }
    if {[llength $pos] < $minpos || ($maxpos >= 0 && [llength $pos] > $maxpos)} {
        error "$name: [llength $pos] positional arguments ($pos), expected $minpos..$maxpos"
    }
    puts [join [list CALL $name {*}$args] "\x1f"]
    if {$ret eq "project" || $ret eq "core" || $ret eq "run" || $ret eq "busif"} {
        return "$ret:[lindex $pos 0]"
    }
    return $ret
}
proc safe_file {sub args} {
    switch -- $sub {
        join - dirname - tail - normalize - extension - rootname {return [file $sub {*}$args]}
        mkdir {puts [join [list CALL file_mkdir {*}$args] "\x1f"]; return ""}
        default {error "file $sub is not allowed in the checked script"}
    }
}
proc safe_puts {args} {
    puts [join [list PUTS [lindex $args end]] "\x1f"]
}
set child [interp create -safe]
foreach {name spec} $stubs {
    $child alias $name record $name $spec
}
$child alias file safe_file
$child alias puts safe_puts
$child eval [list set argc 0]
$child eval [list set argv {}]
$child eval [list info script $script_path]
if {[catch {$child eval $text} err]} {
    puts "ERROR\x1f$err"
    exit 1
}
puts "DONE"
"""


def run_tcl(script: Path, tmp_path: Path) -> list[list[str]]:
    """Check ``script`` with the harness; return the recorded calls [name, args...]."""
    stubs = " ".join(f"{name} {{{{{v}}} {{{f}}} {lo} {hi} {ret}}}" for name, (v, f, lo, hi, ret) in STUBS.items())
    harness = tmp_path / "harness.tcl"
    harness.write_text(HARNESS)
    proc = subprocess.run([TCLSH, str(harness), stubs, str(script)], capture_output=True, text=True, timeout=60)
    lines = proc.stdout.splitlines()
    assert proc.returncode == 0 and lines and lines[-1] == "DONE", (proc.stdout[-2000:], proc.stderr[-2000:])
    return [ln.split("\x1f")[1:] for ln in lines if ln.startswith("CALL\x1f")]


def _opt(call: list[str], flag: str) -> str | None:
    return call[call.index(flag) + 1] if flag in call else None


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    d = write_design(tmp_path_factory.mktemp("viv") / "build")
    out = d / "vivado_out"
    assert main(["vivado", str(d), "--part", "xczu7ev", "--out", str(out), "--freq-mhz", "250", "--json"]) == 0
    return d, out


def test_export_folder(exported):
    d, out = exported
    assert (out / "build.tcl").is_file() and (out / "constraints.xdc").is_file()
    for name in ("fx_mac.sv", "fx_bias.sv", "fx_top.sv", "mac0_weights.mem"):
        assert (out / "rtl" / name).is_file(), name
    top = (out / "rtl" / "fx_top.sv").read_text()
    # the absolute memory-file path of the build is rewritten to the copied file's name
    assert '"mac0_weights.mem"' in top and str(d) not in top


@pytest.mark.skipif(TCLSH is None, reason="tclsh not installed")
def test_build_tcl_parses_and_runs_with_stubbed_vivado(exported, tmp_path):
    d, out = exported
    calls = run_tcl(out / "build.tcl", tmp_path)
    names = [c[0] for c in calls]
    create = calls[names.index("create_project")]
    assert _opt(create, "-part") == "xczu7ev-ffvc1156-2-e"
    added = [Path(p) for c in calls if c[0] == "add_files" and "-fileset" not in c for p in " ".join(c[1:]).split()
             if not p.startswith("-")]
    assert {p.name for p in added} == {"fx_mac.sv", "fx_bias.sv", "fx_top.sv", "mac0_weights.mem"}
    assert all(p.is_file() for p in added), added
    xdc = [c for c in calls if c[0] == "add_files" and _opt(c, "-fileset") == "constrs_1"]
    assert xdc and Path(xdc[0][-1]).name == "constraints.xdc" and Path(xdc[0][-1]).is_file()
    assert ["set_property", "top", "fx_top", "sources_1"] in calls
    assert ["ipx::infer_bus_interfaces", "xilinx.com:interface:axis_rtl:1.0", "core:"] in calls
    assoc = {(_opt(c, "-busif"), _opt(c, "-clock"), _opt(c, "-reset")) for c in calls if c[0] == "ipx::associate_bus_interfaces"}
    assert {("s_axis_0", "ap_clk", None), ("m_axis_0", "ap_clk", None), (None, "ap_clk", "ap_rst_n")} <= assoc
    assert ["set_property", "value", "250000000", "busparam"] in calls
    assert ["set_property", "value", "ACTIVE_LOW", "busparam"] in calls
    assert [c[1] for c in calls if c[0] == "launch_runs"] == ["synth_1", "impl_1"]
    ooc = [c for c in calls if c[0] == "set_property" and _opt(c, "-name") == "STEPS.SYNTH_DESIGN.ARGS.MORE OPTIONS"]
    assert ooc and _opt(ooc[0], "-value") == "-mode out_of_context"
    assert names.index("ipx::save_core") < names.index("launch_runs")
    reports = [_opt(c, "-file") for c in calls if c[0].startswith("report_")]
    assert any(r.endswith("timing_summary.rpt") for r in reports) and any(r.endswith("impl_utilization.rpt") for r in reports)


@pytest.mark.skipif(TCLSH is None, reason="tclsh not installed")
def test_xdc_clock_constraint(exported, tmp_path):
    _, out = exported
    calls = run_tcl(out / "constraints.xdc", tmp_path)
    clock = [c for c in calls if c[0] == "create_clock"]
    assert len(clock) == 1
    assert float(_opt(clock[0], "-period")) == pytest.approx(4.0)
    assert _opt(clock[0], "-name") == "ap_clk" and clock[0][-1] == "port"
    assert ["get_ports", "ap_clk"] in calls


@pytest.mark.skipif(TCLSH is None, reason="tclsh not installed")
def test_harness_catches_bad_scripts(exported, tmp_path):
    """The check is not vacuous: a wrong option, an unknown command and a broken brace all fail."""
    _, out = exported
    good = (out / "build.tcl").read_text()
    for bad in (good.replace("-import_files", "-import_file"), good.replace("wait_on_run synth_1", "wait_for_run synth_1"),
                good.replace("if {$argc > 0} {", "if {$argc > 0} ")):
        script = tmp_path / "bad.tcl"
        script.write_text(bad)
        with pytest.raises(AssertionError):
            run_tcl(script, tmp_path)


def test_unknown_part(tmp_path, capsys):
    d = write_design(tmp_path / "b")
    assert main(["vivado", str(d), "--part", "xc9z999", "--json"]) == 2
    err = capsys.readouterr().out
    assert "unknown part 'xc9z999'" in err and "xczu7ev" in err


def test_missing_accel_json(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    assert main(["vivado", str(tmp_path / "empty"), "--part", "xc7z020", "--json"]) == 3
    assert "accel.json" in capsys.readouterr().out
