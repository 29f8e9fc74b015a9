"""DIR/report.html of the demo: one self-contained page (figures inlined as base64 PNG data URIs, inline CSS,
one inline script that records whether every image decoded; no external resources)."""
from __future__ import annotations

import base64
import html
import json
import os
from pathlib import Path

import numpy as np

from ..layers.base import RESOURCE_KEYS
from ..model.configs import get_config
from ..partition import FPGA_PARTITIONS as PARTITIONS
from ..train.data import camera
from . import figures


CSS = """
body { font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; margin: 24px auto; max-width: 1240px;
       color: #1d1d1f; line-height: 1.4; padding: 0 16px; }
h1 { font-size: 24px; margin-bottom: 4px; } h2 { font-size: 18px; margin-top: 28px; border-bottom: 1px solid #ddd; }
.sub { color: #555; margin-top: 0; }
.badge { display: inline-block; white-space: nowrap; padding: 2px 10px; border-radius: 10px; font-weight: 600;
         font-size: 14px; }
.ok { background: #d7f5dd; color: #0a6b1f; } .bad { background: #fde0e0; color: #9b1111; }
.row { display: flex; flex-wrap: wrap; gap: 16px; align-items: flex-start; }
.card { border: 1px solid #e3e3e3; border-radius: 6px; padding: 8px 12px; }
img { max-width: 100%; height: auto; }
table { border-collapse: collapse; font-size: 13px; margin: 8px 0; }
th, td { border: 1px solid #ddd; padding: 3px 8px; text-align: right; }
th { background: #f4f4f6; } td.l, th.l { text-align: left; }
pre { background: #f4f4f6; padding: 8px; font-size: 12px; overflow-x: auto; }
code { background: #f4f4f6; padding: 1px 4px; border-radius: 3px; }
.charts { display: grid; grid-template-columns: 1fr; gap: 8px; }
.facts { flex: 1 1 320px; font-size: 14px; } .facts li { margin-bottom: 4px; }
.note { color: #555; font-size: 13px; }
"""

# After load: did every <img> decode? The browser test reads data-images from the dumped DOM.
SCRIPT = """
window.addEventListener('load', function () {
  var imgs = Array.prototype.slice.call(document.images);
  var ok = imgs.filter(function (im) { return im.complete && im.naturalWidth > 0; }).length;
  document.documentElement.setAttribute('data-images', ok + '/' + imgs.length);
});
"""


def _e(value) -> str:
    return html.escape(str(value))


def _img(png: bytes, alt: str) -> str:
    return f'<img alt="{_e(alt)}" src="data:image/png;base64,{base64.b64encode(png).decode("ascii")}">'


def _num(v, digits: int = 0) -> str:
    if v is None:
        return "–"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, (int, np.integer)):
        return f"{int(v):,}"
    if isinstance(v, float):
        return f"{v:,.{digits}f}"
    return _e(v)


def _table(header: list[str], rows: list[list], left: int = 1) -> str:
    """``left``: how many leading columns are text (left-aligned)."""
    th = "".join(f'<th class="{"l" if i < left else ""}">{_e(h)}</th>' for i, h in enumerate(header))
    body = "".join("<tr>" + "".join(f'<td class="{"l" if i < left else ""}">{c}</td>' for i, c in enumerate(r))
                   + "</tr>" for r in rows)
    return f"<table><tr>{th}</tr>{body}</table>"


def _badge(ok: bool, yes: str, no: str) -> str:
    return f'<span class="badge {"ok" if ok else "bad"}">{_e(yes if ok else no)}</span>'


def _util(util) -> str:
    """Utilization as 'LUT 12.3%, BRAM_18K 4.0%, ...' from {key: percent} or {key: {percent: p}}."""
    if not util:
        return "–"
    parts = []
    for k, v in util.items():
        p = v.get("percent") if isinstance(v, dict) else v
        if isinstance(p, (int, float)):
            parts.append(f"{_e(k)} {p:.1f}%")
    return ", ".join(parts) or "–"


# ---------------------------------------------------------------------------------------------------------
def _section_overview(out: Path, s: dict) -> str:
    sample = np.load(out / "sample.npz")
    pred = dict(np.load(out / "prediction.npz"))
    gt = {k: sample[k] for k in ("vertices", "boxes") if k in sample} if "vertices" in sample else None
    fig = figures.overview(sample["image"], pred, camera(get_config("tiny")), gt)
    host = s["host"]
    src = s["input"]["source"]
    what = (f"synthetic validation frame #{src['index']} (seed {src['seed']}), with ground truth"
            if src["kind"] == "synthetic" else f"image file {_e(src['path'])}")
    facts = [f"<li>input: {what}, {s['input']['width']}x{s['input']['height']} pixels</li>",
             f"<li>mesh: {host['vertices']:,} vertices, {host['faces']:,} faces ({_e(host['body_model'])} body model), "
             f"<code>{_e(Path(host['mesh']).name)}</code></li>",
             "<li>the host part ran on the RTL's outputs; its mesh equals the Brevitas hardware variant's: "
             + _badge(host["mesh_equals_brevitas_hardware_variant"], "identical", "differs") + "</li>"]
    if host.get("metrics_rtl_mm"):
        m, f = host["metrics_rtl_mm"], host["metrics_float_mm"]
        facts.append(f"<li>this frame, vs ground truth: MPVPE {m['mpvpe_mm']:.1f} mm, "
                     f"PA-MPVPE {m['pa_mpvpe_mm']:.1f} mm "
                     f"(float model: {f['mpvpe_mm']:.1f} / {f['pa_mpvpe_mm']:.1f} mm). The tiny model is trained for "
                     f"a few hundred steps on synthetic data: it shows the flow, not accuracy.</li>")
    return (f'<div class="row"><div>{_img(fig, "input image with the predicted mesh and boxes")}</div>'
            f'<div class="card facts"><ul>{"".join(facts)}</ul></div></div>')


def _section_frames(out: Path) -> str:
    frames = {p: np.load(out / "partitions" / p / "inputs.npy") for p in PARTITIONS}
    return ("<p class='note'>The frames streamed into each accelerator: the image resized for the body encoder, "
            "the hand and face crops the host cut at the boxes BoxNet predicted from the body accelerator's output "
            "(uint8, as they enter the AXI stream).</p>" + _img(figures.streamed_frames(frames), "streamed frames"))


def _section_exactness(s: dict) -> str:
    folding = s["compile"][PARTITIONS[0]].get("folding", "pixel")
    rows = []
    for p in PARTITIONS:
        sim, comp, q = s["simulate"][p], s["compile"][p], s["qonnx"]["partitions"][p]
        est, meas = sim["estimated_cycles_per_frame"], sim["cycles_per_frame"]
        delta = f"{100.0 * (meas - est) / est:+.1f}%" if est and meas else "–"
        r = comp["resources"]
        rows.append([_e(p), _num(sim["distinct_frames"]) + f" x{sim['repeat']}",
                     _num(q["mismatches"]), _num(sim["mismatches_vs_finn"]), _num(sim["mismatches_vs_brevitas"]),
                     _badge(sim["bit_exact"] and q["bit_exact"], "bit-exact", "MISMATCH"),
                     _num(meas, 1), _num(est), delta, _num(sim["first_frame_cycles"]), _num(comp["layers"]),
                     ", ".join(f"{k} {r[k]:,}" for k in RESOURCE_KEYS if r.get(k)),
                     _badge(comp["fits"], f"fits {comp['part']}", f"over {comp['part']}")])
    table = _table(["partition", "frames", "QONNX vs Brevitas", "RTL vs FINN hw.onnx", "RTL vs Brevitas", "",
                    "cycles/frame measured", "estimated", "Δ", "first frame (cycles)", "HW nodes",
                    "estimated resources", f"one partition alone, {folding} folding"], rows)
    stall = s["simulate"][PARTITIONS[0]]["stall"]
    return (table + f"<p class='note'>Mismatches count integer output values that differ. Measured: Verilator + "
            f"cocotb, steady state between the last output frames (tvalid/tready stall probability {stall}); "
            f"estimated: the slowest layer's cycles (FINN's formulas, bidrn_hw/flow/estimates.py).</p>")


def _section_layers(out: Path, s: dict) -> str:
    charts = []
    for p in PARTITIONS:
        est = json.loads((out / "build" / p / "estimates.json").read_text())
        png = figures.layer_chart(est, p, s["simulate"][p]["cycles_per_frame"])
        charts.append(f'<div class="card">{_img(png, f"per-layer cycles and resources of {p}")}</div>')
    return f'<div class="charts">{"".join(charts)}</div>'


def _section_estimates(s: dict) -> str:
    est = s.get("estimates") or {}
    if not est:
        return "<p class='note'>No whole-frame estimates in this run (<code>--estimates none</code>).</p>"
    rows = []
    for config, e in est.items():
        parts = e.get("partitions") or {}
        per = "<br>".join(f"{_e(n.replace('_encoder', ''))} {_num(v.get('cycles_per_frame'))}"
                          + (f" x{v['runs_per_frame']}" if v.get("runs_per_frame", 1) > 1 else "")
                          for n, v in parts.items())
        res, budget, util = e.get("resources") or {}, e.get("budget") or {}, e.get("utilization") or {}
        used = "<br>".join(f"{k} {int(res[k]):,} / {int(budget[k]):,} ({100 * util[k]:.0f}%)"
                           for k in RESOURCE_KEYS if budget.get(k) and util.get(k) is not None)
        goal = e.get("goal_fps")
        rows.append([_e(config), _e(e.get("part")), _num(e.get("fclk_mhz"), 0), _num(e.get("frame_fps"), 1),
                     f"{_num(goal, 0)} {_badge(bool(e.get('goal_met')), 'met', 'not met')}" if goal else "–",
                     _num(e.get("balance"), 2), used or "–", _badge(bool(e.get("fits")), "fits", "over budget"),
                     per or "–", _num((e.get("seconds") or {}).get("total"), 0), _e(e.get("source", ""))])
    missing = [c for c in ("tiny", "edge", "paper") if c not in est]
    note = (f"<p class='note'>Not estimated in this run: {', '.join(missing)} (<code>bidrn-hw demo --estimates "
            "tiny,edge,paper</code>; paper's export and lowering take longer than the demo's time budget on a 2-core "
            "machine, see benchmarks/compile_time.py).</p>") if missing else ""
    return note + (_table(["config", "device", "MHz", "frames/s", "goal (frames/s)", "balance", "resources / budget",
                    "", "cycles/frame per partition", "estimated in (s)", "model"], rows, left=2)
            + "<p class='note'>One frame: the body and face encoders once and the hand encoder twice (both hands). "
              "The three pipelines share the device: folded jointly for the fastest common frame rate whose summed "
              "estimated resources fit the budget (bidrn_hw/flow/frame_estimate.py). Balance: slowest over mean "
              "layer cycles.</p>")


def _section_bitstream(s: dict) -> str:
    bits = s.get("bitstreams") or {}
    if not bits:
        return ("<p class='note'>Not built in this run: <code>bidrn-hw demo --bitstream</code> runs Yosys, "
                "nextpnr-ecp5 and ecppack for each partition.</p>")
    rows = []
    for p, b in bits.items():
        if "error" in b:
            rows.append([_e(p), _e(b.get("device", "")), f'<span class="badge bad">{_e(b["error"][:300])}</span>',
                         "", "", "", ""])
            continue
        rows.append([_e(p), _e(f"{b['device']} ({b.get('part', '')})"), _num(b.get("fmax_mhz"), 1),
                     _num(b.get("clock_mhz"), 1), _badge(bool(b.get("timing_met")), "met", "not met"),
                     _util(b.get("utilization")), _num((b.get("seconds") or {}).get("total"), 0)])
    return _table(["partition", "device", "Fmax (MHz)", "clock (MHz)", "timing", "utilization", "build (s)"],
                  rows, left=2)


def _section_stages(s: dict) -> str:
    rows = [[_e(name), _num(float(sec), 1)] for name, sec in s["stage_seconds"].items()]
    rows.append(["<b>total</b>", f"<b>{s['seconds_total_stages']:,.1f}</b>"])
    return _table(["stage", "seconds"], rows) + (
        "<p class='note'>Seconds each stage took when it last ran (a rerun skips finished stages).</p>")


def _section_commands(s: dict) -> str:
    d = s["out"]
    lines = [f"bidrn-hw compile {d}/partitions/body_encoder/model.onnx --out {d}/build/body_encoder",
             f"bidrn-hw simulate {d}/build/body_encoder --inputs {d}/partitions/body_encoder/inputs.npy --stall 0.3",
             f"bidrn-hw estimate {d}/build/body_encoder",
             f"bidrn-hw bitstream {d}/build/body_encoder --device ecp5-85k --freq-mhz 50",
             f"bidrn-hw demo --out {d} --bitstream    # reruns only what is missing"]
    return ("<p class='note'>The demo's steps are CLI commands of their own (<code>--json</code> for one JSON "
            "object); the partitions' QONNX models and the frames of this image are under "
            f"<code>{_e(d)}/partitions/</code>.</p><pre>" + _e("\n".join(lines)) + "</pre>")


def _intro(s: dict) -> str:
    sims = s["simulate"]
    cycles = "; ".join(f"{p.replace('_encoder', '')} {_num(v['cycles_per_frame'], 0)} "
                       f"(est. {_num(v['estimated_cycles_per_frame'])})" for p, v in sims.items())
    frames = sum(v["frames"] for v in sims.values())
    return ("<p>The trained <code>tiny</code> BiDRN (binarized encoders built from BiDRB blocks) on one image. Its "
            "three FPGA partitions (the body, hand and face encoders, integer) were exported to QONNX, compiled by "
            "FINN's passes and ours into stitched RTL, and simulated in Verilator + cocotb on the crops of this "
            "image; the host part (BoxNet, cropping, the heads, SMPL-X) ran on the RTL's outputs.</p>"
            f"<p><b>{frames} frames</b> through the RTL, every output value equal to FINN's execution of the "
            "compiled graph and to the Brevitas hardware variant: "
            f"{_badge(s['bit_exact'], 'bit_exact: true', 'bit_exact: false')}"
            f" &nbsp; cycles/frame measured: {cycles}.</p>")


def render(out: Path, summary: dict) -> str:
    s = summary
    ok = s["bit_exact"]
    sections = [
        ("Input, boxes and predicted mesh", _section_overview(out, s)),
        ("Bit-exactness and cycles", _section_exactness(s)),
        ("Per-layer cycles and resources", _section_layers(out, s)),
        ("Whole-frame estimates: tiny, edge, paper", _section_estimates(s)),
        ("ECP5 bitstream", _section_bitstream(s)),
        ("Frames fed to the accelerators", _section_frames(out)),
        ("Stages", _section_stages(s)),
        ("Each step by hand", _section_commands(s)),
    ]
    body = "".join(f"<h2>{_e(title)}</h2>{content}" for title, content in sections)
    return ("<!doctype html>\n<html lang='en'><head><meta charset='utf-8'>"
            "<meta name='viewport' content='width=device-width, initial-scale=1'>"
            f"<title>bidrn-hw demo report</title><style>{CSS}</style></head><body>"
            f"<h1>BiDRN on an FPGA: demo report {_badge(ok, 'bit_exact: true', 'bit_exact: false')}</h1>"
            f"<p class='sub'>bidrn-hw demo, output directory <code>{_e(s['out'])}</code></p>"
            f"{_intro(s)}{body}<script>{SCRIPT}</script></body></html>\n")


def write_report(out: Path | str, summary: dict) -> Path:
    """Render DIR/report.html from ``summary`` (the demo's DIR/summary.json) and the files under DIR."""
    out = Path(out)
    path = out / "report.html"
    tmp = path.with_name(f".report.html.tmp{os.getpid()}")
    tmp.write_text(render(out, summary), encoding="utf-8")
    os.replace(tmp, path)
    return path
