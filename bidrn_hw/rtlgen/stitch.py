"""Stitch a compiled FINN HW graph into one AXI-Stream top module.

Every node of the graph is a HW layer (FIFOs and data-width converters included, as the flow inserted
them); every tensor between two nodes is one AXI-Stream with exactly one producer and one consumer (forks are
DuplicateStreams nodes). The per-layer mapping from FINN node attributes to our RTL modules lives in the
layer kinds (``bidrn_hw/layers/<kind>.py``, :func:`bidrn_hw.layers.layer_rtl`); this module only checks the
stream widths, writes memory files, instantiates and wires, and writes ``rtl/filelist.f`` and ``accel.json``
(docs/architecture.md, "Build directory").
"""
from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.custom_op.registry import getCustomOp

from .. import __version__
from ..errors import UnsupportedError
from ..layers import layer_rtl
from ..layers.base import HLS_DIR, HLS_HEADERS
from ..layers.mvau import WEIGHT_WORD_BITS

from ..builddir import ACCEL_FORMAT_VERSION, seal  # noqa: F401  (accel.json's format: builddir reads it)


def _sv_value(v) -> str:
    if isinstance(v, bool):
        return str(int(v))
    if isinstance(v, (int,)):
        return str(v)
    if isinstance(v, str):
        return f'"{v}"'
    raise TypeError(f"unsupported parameter value {v!r}")


def _stream_info(model: ModelWrapper, tensor: str, node, index: int, is_input: bool) -> dict:
    inst = getCustomOp(node)
    dt = inst.get_input_datatype(index) if is_input else inst.get_output_datatype(index)
    folded = inst.get_folded_input_shape(index) if is_input else inst.get_folded_output_shape(index)
    width = inst.get_instream_width_padded(index) if is_input else inst.get_outstream_width_padded(index)
    elems = int(folded[-1])
    beats = 1
    for d in folded[:-1]:
        beats *= int(d)
    shape = model.get_tensor_shape(tensor)
    return {"tensor": tensor, "tdata_bits": int(width), "elem_bits": int(dt.bitwidth()), "elem_signed": bool(dt.signed()),
            "datatype": dt.name, "elems_per_beat": elems, "beats_per_frame": beats, "shape": [int(s) for s in shape]}


# The top's weight stream (W_LOAD layers, named like FINN's streams); its word width is the MVAU kind's
# WEIGHT_WORD_BITS (the generator gives W_LOAD MVAUs that W_WORD_BITS; weights.bin holds words of it).
WEIGHT_PORT = "s_axis_w"


def _weight_ports(params: dict, index: int) -> list[str]:
    """An MVAU's weight-stream ports: the loader chain's link ``index - 1`` in (the top's port for the first)
    and ``wl_<index>`` out, or tied off where the weights are a ROM."""
    if not params.get("W_LOAD"):
        return ["    .s_axis_w_tdata('0)", "    .s_axis_w_tvalid(1'b0)", "    .s_axis_w_tready()",
                "    .m_axis_w_tdata()", "    .m_axis_w_tvalid()", "    .m_axis_w_tready(1'b1)"]
    k = index - 1  # this layer is already in the chain list
    link_in = WEIGHT_PORT if k == 0 else f"wl_{k}"
    return [f"    .s_axis_w_{sig}({link_in}_{sig})" for sig in ("tdata", "tvalid", "tready")] + \
           [f"    .m_axis_w_{sig}(wl_{k + 1}_{sig})" for sig in ("tdata", "tvalid", "tready")]


def _weight_stream(loaders: list, out_dir: Path) -> dict:
    """Write ``weights.bin`` (the W_LOAD layers' weight lines as little-endian 32-bit words, chain order, each
    line least significant word first) and describe it for accel.json."""
    words, chain = [], []
    for name, text, params in loaders:
        line_bits = params["PE"] * params["SIMD"] * params["W_BITS"]
        per_line = -(-line_bits // WEIGHT_WORD_BITS)
        lines = text.split()
        for line in lines:
            value = int(line, 16)
            words.extend((value >> (WEIGHT_WORD_BITS * k)) & ((1 << WEIGHT_WORD_BITS) - 1) for k in range(per_line))
        chain.append({"layer": name, "lines": len(lines), "line_bits": line_bits, "words_per_line": per_line})
    np.asarray(words, dtype="<u4").tofile(out_dir / "weights.bin")
    return {"name": WEIGHT_PORT, "word_bits": WEIGHT_WORD_BITS, "words": len(words), "file": "weights.bin",
            "chain": chain}


# The op types (without _hls/_rtl) whose output streams `register_slices="chain"` registers: the start of the
# combinational ready/valid chain the README names (a FIFO's count -> padding's position compare -> an add's
# and an MVAU's valid -> a window generator).
CHAIN_PRODUCERS = ("StreamingFIFO", "FMPadding")


def _wants_slice(register_slices, node) -> bool:
    if not register_slices:
        return False
    if register_slices == "all":
        return True
    kinds = CHAIN_PRODUCERS if register_slices == "chain" else tuple(register_slices)
    return node.op_type.removesuffix("_hls").removesuffix("_rtl") in kinds


def generate(model: ModelWrapper, out_dir: Path | str, top: str = "accel_top", host_ops: dict | None = None,
             final_dir: Path | str | None = None, register_slices=None, file_prefix: str = "") -> dict:
    """Write ``out_dir/rtl/`` (top, library modules, memory files, filelist.f) and ``out_dir/accel.json``.

    Memory files are named relative to ``rtl/`` (the build directory is self-contained: it can be moved or
    copied); :func:`bidrn_hw.builddir.stage_sources` resolves them for each tool. ``final_dir`` is unused
    (kept for callers). ``register_slices``: None (default: none), "all" (every stream between two layers),
    "chain" (the outputs of :data:`CHAIN_PRODUCERS`) or op types whose output streams get a register slice
    (``hls/axis_register.sv``: every handshake registered, one cycle more latency, full throughput); they are
    listed in accel.json ``register_slices``. ``file_prefix``: put before every memory file's name (a partition's
    name in a multi-partition build, whose ``rtl/`` holds every partition's files side by side)."""
    out_dir = Path(out_dir)
    rtl = out_dir / "rtl"
    rtl.mkdir(parents=True, exist_ok=True)
    producers, consumers = {}, {}
    for node in model.graph.node:
        for i, t in enumerate(node.output):
            producers[t] = (node, i)
        for i, t in enumerate(node.input):
            if model.get_initializer(t) is None:
                consumers.setdefault(t, []).append((node, i))
    for t, users in consumers.items():
        if len(users) > 1:
            raise UnsupportedError(f"tensor {t} feeds {len(users)} nodes ({', '.join(n.name for n, _ in users)}); "
                                   f"forks must be DuplicateStreams layers")

    graph_inputs = [i.name for i in model.graph.input]
    graph_outputs = [o.name for o in model.graph.output]
    wires, instances, layers, sources = [], [], [], set()
    stream_name, consumer_name, slices = {}, {}, []
    for k, name in enumerate(graph_inputs):
        stream_name[name] = f"s_axis_{k}"
    for k, name in enumerate(graph_outputs):
        stream_name[name] = f"m_axis_{k}"

    for t, (node, i) in producers.items():
        if t in graph_outputs:
            continue
        if t not in consumers:
            raise UnsupportedError(f"output {i} of node {node.name} is not consumed")
        cnode, ci = consumers[t][0]
        w_out = getCustomOp(node).get_outstream_width_padded(i)
        w_in = getCustomOp(cnode).get_instream_width_padded(ci)
        if w_out != w_in:
            raise UnsupportedError(f"stream {t}: {node.name} produces {w_out}-bit beats but {cnode.name} takes "
                                   f"{w_in}-bit beats; the flow must insert a data-width converter")
        stream_name[t] = f"w_{len(stream_name)}"
        wires.append(f"  logic [{w_out - 1}:0] {stream_name[t]}_tdata;\n  logic {stream_name[t]}_tvalid, {stream_name[t]}_tready;")
        if _wants_slice(register_slices, node):  # producer -> slice -> consumer: the consumer's side is <name>_r
            r = consumer_name[t] = f"{stream_name[t]}_r"
            wires.append(f"  logic [{w_out - 1}:0] {r}_tdata;\n  logic {r}_tvalid, {r}_tready;")
            ports = ",\n".join([f"    .s_axis_0_{sig}({stream_name[t]}_{sig})" for sig in ("tdata", "tvalid", "tready")]
                               + [f"    .m_axis_0_{sig}({r}_{sig})" for sig in ("tdata", "tvalid", "tready")])
            instances.append(f"  axis_register #(.BITS({w_out})) u_slice_{len(slices)} (\n    .ap_clk(ap_clk),\n"
                             f"    .ap_rst_n(ap_rst_n),\n{ports}\n  );")
            slices.append({"stream": t, "producer": node.name, "consumer": cnode.name, "bits": int(w_out),
                           "instance": f"u_slice_{len(slices)}"})
            sources.add("axis_register")

    loaders = []  # (node name, weight memory text, parameters) of the W_LOAD layers, in chain order
    for node in model.graph.node:
        rtl_layer = layer_rtl(model, node)
        params = dict(rtl_layer.parameters)
        if params.get("W_LOAD"):
            loaders.append((node.name, rtl_layer.memfiles["weights.mem"], params))
        for fname, text in rtl_layer.memfiles.items():
            # One file per instance, named relative to rtl/ in the parameters; each tool gets the sources with
            # the names resolved for it (builddir.stage_sources).
            (rtl / f"{file_prefix}{node.name}_{fname}").write_text(text)
            params = {k: (f"{file_prefix}{node.name}_{fname}" if v == fname else v) for k, v in params.items()}
        sources.update(rtl_layer.sources or [rtl_layer.module])
        ports = ["    .ap_clk(ap_clk)", "    .ap_rst_n(ap_rst_n)"]
        stream_inputs = [t for t in node.input if model.get_initializer(t) is None]
        for k, t in enumerate(stream_inputs):
            for sig in ("tdata", "tvalid", "tready"):
                ports.append(f"    .s_axis_{k}_{sig}({consumer_name.get(t, stream_name[t])}_{sig})")
        for k, t in enumerate(node.output):
            for sig in ("tdata", "tvalid", "tready"):
                ports.append(f"    .m_axis_{k}_{sig}({stream_name[t]}_{sig})")
        if rtl_layer.module in ("mvau", "mvau_residual"):  # the weight stream ports
            ports += _weight_ports(params, len(loaders))
            if params.get("W_LOAD"):
                n = len(loaders)
                wires.append(f"  logic [{WEIGHT_WORD_BITS - 1}:0] wl_{n}_tdata;\n  logic wl_{n}_tvalid, wl_{n}_tready;")
        plist = ",\n".join(f"    .{k}({_sv_value(v)})" for k, v in params.items())
        inst_name = f"u_{node.name}"
        instances.append(f"  {rtl_layer.module} #(\n{plist}\n  ) {inst_name} (\n" + ",\n".join(ports) + "\n  );")
        layers.append({"name": node.name, "op_type": node.op_type, "module": rtl_layer.module, "instance": inst_name,
                       "parameters": params})

    inputs = [dict(name=stream_name[t], **_stream_info(model, t, consumers[t][0][0], consumers[t][0][1], True))
              for t in graph_inputs]
    outputs = [dict(name=stream_name[t], **_stream_info(model, t, producers[t][0], producers[t][1], False))
               for t in graph_outputs]
    for o in outputs:
        o["host_ops"] = (host_ops or {}).get(o["tensor"], {"scale": 1.0, "bias": 0.0})

    weights = None
    if loaders:  # the chain's ends: the top's weight stream in, the last pass-through tied off
        wires.append(f"  assign wl_{len(loaders)}_tready = 1'b1;  // nothing follows the last loader")
        weights = _weight_stream(loaders, out_dir)
    port_lines = ["  input  logic ap_clk", "  input  logic ap_rst_n"]
    for s in inputs:
        port_lines += [f"  input  logic [{s['tdata_bits'] - 1}:0] {s['name']}_tdata", f"  input  logic {s['name']}_tvalid",
                       f"  output logic {s['name']}_tready"]
    for s in outputs:
        port_lines += [f"  output logic [{s['tdata_bits'] - 1}:0] {s['name']}_tdata", f"  output logic {s['name']}_tvalid",
                       f"  input  logic {s['name']}_tready"]
    if weights:
        port_lines += [f"  input  logic [{WEIGHT_WORD_BITS - 1}:0] {WEIGHT_PORT}_tdata",
                       f"  input  logic {WEIGHT_PORT}_tvalid", f"  output logic {WEIGHT_PORT}_tready"]
    body = "\n".join(wires) + "\n\n" + "\n\n".join(instances)
    header = f"// Generated by bidrn-hw from {model.model.graph.name or 'the compiled HW graph'}; do not edit.\n"
    (rtl / f"{top}.sv").write_text(f"{header}module {top} (\n" + ",\n".join(port_lines) + "\n);\n\n" + body + "\n\nendmodule\n")

    files = []
    for header in HLS_HEADERS:  # first: what it defines (the port macros) every library module uses
        shutil.copy(HLS_DIR / header, rtl / header)
        files.append(header)
    for stem in sorted(sources):
        src = HLS_DIR / f"{stem}.sv"
        if not src.exists():
            raise UnsupportedError(f"RTL library module {stem} is missing ({src})")
        shutil.copy(src, rtl / src.name)
        files.append(src.name)
    files.append(f"{top}.sv")
    (rtl / "filelist.f").write_text("\n".join(files) + "\n")

    accel = {"format": ACCEL_FORMAT_VERSION, "bidrn_hw_version": __version__, "top": top, "clock": "ap_clk",
             "reset": "ap_rst_n", "reset_active_low": True, "inputs": inputs, "outputs": outputs, "layers": layers}
    if weights:
        accel["weights"] = weights
    if slices:
        accel["register_slices"] = slices
    return seal(out_dir, accel)  # accel.json with the sha256 of every file in out_dir
