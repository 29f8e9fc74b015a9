"""The board top: the accelerator behind byte-serial AXI-Stream pins, and its LPF constraints.

Accelerator buses are wider than a board's header (a 3x3x64 binary beat is 576 bits), so the board top
(``bidrn_board_top``) puts ``shell_axis_deser`` / ``shell_axis_ser`` (``hls/shell_axis_deser.sv``, ``hls/shell_axis_ser.sv``) on every
stream: 8 data pins + valid + ready per stream, beats sent little-endian as ``ceil(tdata_bits/8)`` bytes (where
the header is too small for 10 pins a stream, e.g. the six streams of a multi-partition build on the ULX3S, 4
data pins a stream and nibbles: :func:`pin_width`).
Every accelerator output bit reaches a pin, so synthesis keeps the whole design. The clock is the board's
oscillator, or an ECP5 PLL (``ecppll``) output when another frequency is asked for; the reset is the board's
button through a synchronizer (held while the PLL is unlocked). LEDs: 0 = out of reset, 1 = PLL locked,
2/3 toggle on every accepted input/output byte of stream 0.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from ..errors import UsageError
from .design import Design

BOARD_TOP = "bidrn_board_top"
PLATFORM_DIR = Path(__file__).resolve().parent.parent / "platforms"
SHELL_SV = [Path(__file__).resolve().parent.parent / "hls" / f"{m}.sv" for m in ("shell_axis_deser", "shell_axis_ser", "shell_reset_sync")]
PIN_WIDTHS = (8, 4, 2, 1)  # data pins per stream, the widest the board's header holds for every stream


@dataclass
class Pin:
    port: str       # port (bit) name in the board top, e.g. s_axis_0_d[3]
    site: str       # package ball
    board_name: str  # the board's own name for it, e.g. gp[3]


def _is_ecp5_board(path: Path) -> bool:
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return False
    return isinstance(data, dict) and data.get("family") == "ecp5" and "gpio" in data


def known_boards() -> list[str]:
    """Board files of ``platforms/`` (other JSON files there, e.g. device budgets, are skipped)."""
    return sorted(p.stem for p in PLATFORM_DIR.glob("*.json") if _is_ecp5_board(p))


def load_board(name: str) -> dict:
    path = PLATFORM_DIR / f"{name}.json"
    if not path.is_file() or not _is_ecp5_board(path):
        raise UsageError(f"unknown board '{name}'; known boards: {', '.join(known_boards())}")
    return json.loads(path.read_text())


def pin_width(design: Design, board: dict) -> int:
    """Data pins per stream: 8 (bytes) where the board's header has 8 + valid + ready for every stream, else
    the widest of 4, 2, 1 that fits (a multi-partition build has a stream pair per partition: the tiny
    BiDRN's six streams need 60 pins at 8, the ULX3S has 56)."""
    n, gpio = len(design.inputs) + len(design.outputs), len(board["gpio"])
    for width in PIN_WIDTHS:
        if (width + 2) * n <= gpio:
            return width
    raise UsageError(f"{design.dir}: {len(design.inputs)} input and {len(design.outputs)} output streams need "
                     f"{3 * n} pins even one data pin each, but board {board['name']} has {gpio} GPIO pins")


def assign_pins(design: Design, board: dict) -> list[Pin]:
    """:func:`pin_width` data + valid + ready pins per stream, inputs first, in the board's GPIO order."""
    width = pin_width(design, board)
    pins, it = [], iter(board["gpio"])
    for s in [*design.inputs, *design.outputs]:
        for port in [f"{s.name}_d[{b}]" for b in range(width)] + [f"{s.name}_v", f"{s.name}_r"]:
            board_name, site = next(it)
            pins.append(Pin(port=port, site=site, board_name=board_name))
    return pins


def board_top_sv(design: Design, board: dict, pll_module: str | None) -> str:
    """SystemVerilog of ``bidrn_board_top`` for this design and board."""
    clk, rst = board["clock"]["port"], board["reset"]["port"]
    pw = pin_width(design, board)
    pw_arg = "" if pw == 8 else f", .PW({pw})"  # bytes: the modules' default
    n_led = min(4, len(board.get("leds", [])))
    ports = [f"  input  logic {clk}", f"  input  logic {rst}"]
    if n_led:
        ports.append(f"  output logic [{n_led - 1}:0] led")
    for s in design.inputs:
        ports += [f"  input  logic [{pw - 1}:0] {s.name}_d", f"  input  logic {s.name}_v", f"  output logic {s.name}_r"]
    for s in design.outputs:
        ports += [f"  output logic [{pw - 1}:0] {s.name}_d", f"  output logic {s.name}_v", f"  input  logic {s.name}_r"]
    body = ["  logic ap_clk, ap_rst_n, locked;"]
    if pll_module:
        body.append(f"  {pll_module} u_pll (.clkin({clk}), .clkout0(ap_clk), .locked(locked));")
    else:
        body += [f"  assign ap_clk = {clk};", "  assign locked = 1'b1;"]
    active_low = board["reset"].get("active_low", True)
    button = rst if active_low else f"!{rst}"
    body.append(f"  shell_reset_sync u_rst (.clk(ap_clk), .arst_n({button} & locked), .rst_n(ap_rst_n));")
    conn = [f"    .{design.clock}(ap_clk)", f"    .{design.reset}(ap_rst_n)"]
    for streams, module, suffix, inbound in ((design.inputs, "shell_axis_deser", "deser", True),
                                             (design.outputs, "shell_axis_ser", "ser", False)):
        for s in streams:  # the pin bus <-> the accelerator's AXI-Stream, through a (de)serializer
            w = f"{s.name}_w"
            pins, wide = (f"{s.name}_d", f"{s.name}_v", f"{s.name}_r"), (f"{w}_tdata", f"{w}_tvalid", f"{w}_tready")
            s_side, m_side = (pins, wide) if inbound else (wide, pins)
            body += [f"  logic [{s.tdata_bits - 1}:0] {w}_tdata;", f"  logic {w}_tvalid, {w}_tready;",
                     f"  {module} #(.W({s.tdata_bits}){pw_arg}) u_{s.name}_{suffix} (.clk(ap_clk), .rst_n(ap_rst_n),",
                     "    .s_tdata({}), .s_tvalid({}), .s_tready({}),".format(*s_side),
                     "    .m_tdata({}), .m_tvalid({}), .m_tready({}));".format(*m_side)]
            conn += [f"    .{s.name}_{sig}({w}_{sig})" for sig in ("tdata", "tvalid", "tready")]
    body.append(f"  {design.top} u_accel (\n" + ",\n".join(conn) + "\n  );")
    if n_led:
        i0, o0 = design.inputs[0].name, design.outputs[0].name
        body += ["  logic in_act, out_act;",
                 "  always_ff @(posedge ap_clk) begin",
                 "    if (!ap_rst_n) begin in_act <= 1'b0; out_act <= 1'b0; end",
                 "    else begin",
                 f"      if ({i0}_v && {i0}_r) in_act <= !in_act;",
                 f"      if ({o0}_v && {o0}_r) out_act <= !out_act;",
                 "    end",
                 "  end"]
        leds = ["ap_rst_n", "locked", "in_act", "out_act"][:n_led]
        body.append(f"  assign led = {{{', '.join(reversed(leds))}}};")
    return (f"// Generated by bidrn-hw for {design.top} on board {board['name']}; see docs/fpga.md.\n"
            f"module {BOARD_TOP} (\n" + ",\n".join(ports) + "\n);\n" + "\n".join(body) + "\nendmodule\n")


def lpf_text(design: Design, board: dict, pins: list[Pin]) -> str:
    """LPF: clock site and frequency, reset, LEDs and the stream pins."""
    io = board.get("io_type", "LVCMOS33")
    clk, rst = board["clock"], board["reset"]
    lines = [f"# Generated by bidrn-hw: {design.top} on {board['title']}",
             f"# {board.get('reference', '')}",
             "BLOCK RESETPATHS;", "BLOCK ASYNCPATHS;",
             f'LOCATE COMP "{clk["port"]}" SITE "{clk["site"]}";',
             f'IOBUF PORT "{clk["port"]}" PULLMODE=NONE IO_TYPE={io};',
             f'FREQUENCY PORT "{clk["port"]}" {clk["mhz"]} MHZ;',
             f'LOCATE COMP "{rst["port"]}" SITE "{rst["site"]}";',
             f'IOBUF PORT "{rst["port"]}" PULLMODE={rst.get("pull", "UP")} IO_TYPE={io};']
    for i, site in enumerate(board.get("leds", [])[:4]):
        lines += [f'LOCATE COMP "led[{i}]" SITE "{site}";', f'IOBUF PORT "led[{i}]" IO_TYPE={io} DRIVE=4;']
    for p in pins:
        lines += [f'LOCATE COMP "{p.port}" SITE "{p.site}"; # {p.board_name}',
                  f'IOBUF PORT "{p.port}" IO_TYPE={io} DRIVE=4;']
    return "\n".join(lines) + "\n"
