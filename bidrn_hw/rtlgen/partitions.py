"""Stitch the partitions of a multi-partition build into one accelerator top.

A multi-partition build (``bidrn-hw compile EXPORT_DIR --out DIR``, :func:`bidrn_hw.flow.build.compile_export`)
holds one complete build per partition, ``DIR/<partition>/`` (its own ``hw.onnx``, ``rtl/``, sealed
``accel.json``: it simulates and synthesizes alone), whose top is ``<partition>_top`` and whose memory files
carry the partition's name as a prefix. This module writes ``DIR/rtl/``: every partition's sources and memory
files side by side (a library module the partitions share once: the same file), and ``accel_top``, which
instantiates each partition's top (``u_<partition>``) and gives it its own AXI-Stream pair under FINN's names
with the next free index: the first partition's input is ``s_axis_0`` and its output ``m_axis_0``, the
second's ``s_axis_1`` / ``m_axis_1``, and so on; ``ap_clk`` and ``ap_rst_n`` are shared. The partitions do not
talk to each other: each stream pair runs at its own pace. It returns ``accel.json``'s contents: the streams
(each with its ``partition``), the layers (named ``<partition>_<layer>``, with their ``partition``) and
``partitions`` (name, folder, top, instance, stream names, runs per network frame, estimated cycles).
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path

from .. import __version__, names
from ..builddir import ACCEL, ACCEL_FORMAT_VERSION, SOURCE_SUFFIXES, read_filelist
from ..errors import InputFileError, UnsupportedError

SIGNALS = ("tdata", "tvalid", "tready")


def _copy_rtl(sub_rtl: Path, rtl: Path, owner: dict[str, str], partition: str) -> None:
    """Every file of a partition's ``rtl/`` but its file list into ``rtl``; a name two partitions share must be
    the same file (the library modules, ``axis.svh``)."""
    for f in sorted(sub_rtl.iterdir()):
        if f.name == "filelist.f" or not f.is_file():
            continue
        dest = rtl / f.name
        if dest.exists():
            if dest.read_bytes() != f.read_bytes():
                raise UnsupportedError(f"{f.name}: partitions {owner[f.name]} and {partition} hold different files "
                                       f"of that name; they cannot share one rtl/ folder")
            continue
        shutil.copyfile(f, dest)
        owner[f.name] = partition


def _port_lines(streams: list[dict], is_input: bool) -> list[str]:
    d_in, d_out = ("input ", "output") if is_input else ("output", "input ")
    lines = []
    for s in streams:
        lines += [f"  {d_in} logic [{s['tdata_bits'] - 1}:0] {s['name']}_tdata", f"  {d_in} logic {s['name']}_tvalid",
                  f"  {d_out} logic {s['name']}_tready"]
    return lines


def stitch_partitions(out_dir: Path | str, parts: list[dict], top: str = "accel_top") -> dict:
    """Write ``out_dir/rtl/`` (see the module doc) from the sealed partition builds ``out_dir/<part["dir"]>``;
    ``parts``: [{"name", "dir", "runs_per_frame"}] in stream order. Returns accel.json's contents (not sealed:
    the caller seals the whole folder last)."""
    out_dir = Path(out_dir)
    rtl = out_dir / "rtl"
    rtl.mkdir(parents=True, exist_ok=True)
    headers, library, tops, owner = [], [], [], {}
    inputs, outputs, layers, slices, described, instances = [], [], [], [], [], []
    for part in parts:
        name = names.identifier(part["name"], "partition name", UnsupportedError)
        sub = out_dir / part["dir"]
        accel = json.loads((sub / ACCEL).read_text())
        if accel.get("weights"):
            raise UnsupportedError(f"partition {name} loads its weights from a stream after reset (UltraRAM); a "
                                   f"multi-partition build does not chain weight streams yet: fold it without "
                                   f"UltraRAM (--folding with ram_style other than 'ultra')")
        _copy_rtl(sub / "rtl", rtl, owner, name)
        for src in read_filelist(sub / "rtl"):
            if src.suffix in (".svh", ".vh"):
                headers.append(src.name)
            elif src.stem == accel["top"]:
                tops.append(src.name)
            elif src.suffix in SOURCE_SUFFIXES:
                library.append(src.name)
        conn = ["    .ap_clk(ap_clk)", "    .ap_rst_n(ap_rst_n)"]
        own = {"inputs": [], "outputs": []}
        for key, streams, prefix in (("inputs", inputs, "s_axis"), ("outputs", outputs, "m_axis")):
            for s in accel[key]:
                g = f"{prefix}_{len(streams)}"
                streams.append({**s, "name": g, "partition": name, "partition_stream": s["name"]})
                conn += [f"    .{s['name']}_{sig}({g}_{sig})" for sig in SIGNALS]
                own[key].append(g)
        instances.append(f"  {accel['top']} u_{name} (\n" + ",\n".join(conn) + "\n  );")
        layers += [{**ly, "name": f"{name}_{ly['name']}", "partition": name} for ly in accel["layers"]]
        slices += [{**sl, "partition": name} for sl in accel.get("register_slices", [])]
        described.append({"name": name, "dir": part["dir"], "top": accel["top"], "instance": f"u_{name}", **own,
                          "runs_per_frame": part.get("runs_per_frame", 1),
                          "estimated_cycles_per_frame": accel.get("estimated_cycles_per_frame")})
    if f"{top}.sv" in owner:
        raise UnsupportedError(f"a partition already has a file {top}.sv; the multi-partition top needs that name")
    ports = ["  input  logic ap_clk", "  input  logic ap_rst_n", *_port_lines(inputs, True),
             *_port_lines(outputs, False)]
    listing = ", ".join(f"{p['name']} ({'/'.join(p['inputs'])} -> {'/'.join(p['outputs'])})" for p in described)
    (rtl / f"{top}.sv").write_text(
        f"// Generated by bidrn-hw: the partitions {listing}, side by side; do not edit.\n"
        f"module {top} (\n" + ",\n".join(ports) + "\n);\n\n" + "\n\n".join(instances) + "\n\nendmodule\n")
    files = [*dict.fromkeys(headers), *sorted(set(library)), *tops, f"{top}.sv"]
    if len(set(tops)) != len(tops):
        raise InputFileError(f"two partitions have the same top module ({', '.join(tops)})")
    (rtl / "filelist.f").write_text("\n".join(files) + "\n")
    cycles = [p["estimated_cycles_per_frame"] for p in described if p["estimated_cycles_per_frame"]]
    accel = {"format": ACCEL_FORMAT_VERSION, "bidrn_hw_version": __version__, "top": top, "clock": "ap_clk",
             "reset": "ap_rst_n", "reset_active_low": True, "inputs": inputs, "outputs": outputs, "layers": layers,
             "partitions": described}
    if cycles:  # the slowest stream's frame (the simulator's watchdog scales with it)
        accel["estimated_cycles_per_frame"] = max(cycles)
    if slices:
        accel["register_slices"] = slices
    return accel
