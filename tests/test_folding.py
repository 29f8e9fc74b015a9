"""Folding: FINN-format folding JSON (validated, round trip), automatic folding for a target FPS under a
device budget, data-width converters where folding changes stream widths; the folded graph stays bit-exact.

One tiny BiDRN export and one lowering of its body partition (module fixtures) feed every test.
"""
from __future__ import annotations

import json

import numpy as np
import pytest

pytest.importorskip("finn")

from qonnx.core.modelwrapper import ModelWrapper  # noqa: E402
from qonnx.custom_op.registry import getCustomOp  # noqa: E402

from bidrn_hw.cli import main as cli_main  # noqa: E402
from bidrn_hw.errors import UsageError  # noqa: E402
from bidrn_hw.flow.build import fold, folding_config  # noqa: E402
from bidrn_hw.devices import device_budget, known_devices  # noqa: E402
from bidrn_hw.flow.folding import ApplyFoldingConfig, auto_fold, tied_pairs  # noqa: E402
from bidrn_hw.layers import base_op, fold_limits, layer_cycles_of  # noqa: E402
from bidrn_hw.flow.lower import execute, lower_to_hw  # noqa: E402

PART = "body_encoder"


@pytest.fixture(scope="module")
def tiny_export(tmp_path_factory):
    out = tmp_path_factory.mktemp("tiny") / "exp"
    assert cli_main(["export", "--config", "tiny", "--out", str(out), "--frames", "2"]) == 0
    return out


@pytest.fixture(scope="module")
def lowered(tiny_export):
    return lower_to_hw(ModelWrapper(str(tiny_export / PART / "model.onnx")))


def copy(model: ModelWrapper) -> ModelWrapper:
    return ModelWrapper(model.model.__deepcopy__())


def attrs(model: ModelWrapper) -> dict:
    out = {}
    for node in model.graph.node:
        inst = getCustomOp(node)
        out[node.name] = {a: inst.get_nodeattr(a) for a in ("PE", "SIMD", "depth")
                          if a in {x.name for x in node.attribute}}
    return out


def node_of(model, op):
    return next(n for n in model.graph.node if base_op(n) == op)


# ------------------------------------------------------------------------------------------ auto folding
def test_auto_folding_is_bit_exact_and_meets_its_target(tiny_export, lowered):
    """Auto-folded (DWCs inserted) and pixel-folded graphs give the same integers as QONNX execution."""
    pixel, info_p = fold(copy(lowered))
    fastest = max(layer_cycles_of(pixel, n) for n in pixel.graph.node)
    target_cycles = 4 * fastest  # a quarter of the pixel-folded throughput: most layers fold
    fps = 200e6 / target_cycles
    auto, info = fold(copy(lowered), target_fps=fps, fclk_mhz=200, part="xczu7ev")
    assert info["mode"] == "auto" and info["target_met"] and info["fits"]
    cycles = {n.name: layer_cycles_of(auto, n) for n in auto.graph.node}
    assert max(cycles.values()) <= target_cycles
    assert info["fps"] >= fps
    # Folded for real: every MVAU at least as folded as in pixel folding, most of them more; converters
    # where widths changed.
    pa, aa = attrs(pixel), attrs(auto)
    mvaus = [n.name for n in lowered.graph.node if base_op(n) == "MVAU"]
    assert sum(aa[m]["PE"] * aa[m]["SIMD"] < pa[m]["PE"] * pa[m]["SIMD"] for m in mvaus) >= len(mvaus) // 2
    dwcs = [n for n in auto.graph.node if base_op(n) == "StreamingDataWidthConverter"]
    assert dwcs and all(n.name.startswith("DWC_") for n in dwcs)
    for swg, consumer, attr in tied_pairs(auto):
        s_inst, c_inst = getCustomOp(swg), getCustomOp(consumer)
        if s_inst.get_nodeattr("parallel_window"):  # a whole window per beat (chosen where it costs less)
            assert s_inst.get_nodeattr("SIMD") == s_inst.get_nodeattr("IFMChannels")
            assert c_inst.get_nodeattr(attr) == c_inst.get_nodeattr("MW")
        else:
            assert s_inst.get_nodeattr("SIMD") == c_inst.get_nodeattr(attr)
    inputs = np.load(tiny_export / PART / "inputs.npy").astype(np.float32)
    expected = np.load(tiny_export / PART / "outputs.npy")
    for x, y in zip(inputs, expected):
        out_auto, out_pixel = execute(auto, x), execute(pixel, x)
        assert np.array_equal(out_auto, out_pixel)
        assert np.array_equal(out_auto, y)


def test_auto_folding_balances_and_relaxes_to_the_fastest_layer(lowered):
    """An unreachable target relaxes to the bottleneck's fully parallel cycles (FINN's two-pass
    relaxation); the rest folds down to it, so the pipeline is balanced."""
    folded, info = auto_fold(lowered, target_fps=1e7, fclk_mhz=200, part="xcu250")
    assert not info["target_met"] and "even fully parallel" in info["limited_by"]
    assert info["cycles_per_frame"] == info["fastest_cycles"]
    assert info["balance"] <= 1.5, info
    assert info["fps"] == pytest.approx(200e6 / info["cycles_per_frame"], rel=1e-3)


def test_auto_folding_respects_the_budget(lowered):
    """With a budget too small for the target, the target relaxes until the design fits."""
    calls = []

    def estimate(model):  # resources grow with parallelism: sum of PE*SIMD of the MVAUs
        lut = sum(getCustomOp(n).get_nodeattr("PE") * getCustomOp(n).get_nodeattr("SIMD")
                  for n in model.graph.node if base_op(n) == "MVAU")
        calls.append(lut)
        return {"LUT": lut, "FF": 0, "BRAM_18K": 0, "URAM": 0, "DSP": 0}

    unconstrained, info0 = auto_fold(lowered, 20000, 200, "xc7z020", estimate=lambda m: dict.fromkeys(
        ("LUT", "FF", "BRAM_18K", "URAM", "DSP"), 0))
    need = estimate(unconstrained)["LUT"]
    budget = dict(device_budget("xc7z020"), LUT=need // 3)
    import bidrn_hw.flow.folding as folding

    orig = folding.device_budget
    folding.device_budget = lambda part: budget
    try:
        folded, info = auto_fold(lowered, 20000, 200, "xc7z020", estimate=estimate)
    finally:
        folding.device_budget = orig
    assert info0["target_met"]
    assert info["fits"] and estimate(folded)["LUT"] <= need // 3
    assert not info["target_met"] and info["fps"] < info0["fps"] and "budget" in info["limited_by"]


def test_a_resource_over_budget_at_any_folding_does_not_hold_the_rate_down(lowered):
    """Block RAM beyond the device even at PE = SIMD = 1 (edge's threshold tables on the ZCU104): folding slower
    cannot help it, so the target stands, and the summary names the resource."""
    def estimate(model):
        return {"LUT": 0, "FF": 0, "BRAM_18K": 10 ** 9, "URAM": 0, "DSP": 0}

    folded, info = auto_fold(lowered, 20000, 200, "xc7z020", estimate=estimate)
    assert info["target_met"] and not info["fits"]
    assert info["never_fits"] == {"BRAM_18K": {"least_need": 10 ** 9, "have": device_budget("xc7z020")["BRAM_18K"]}}
    assert any(getCustomOp(n).get_nodeattr("PE") * getCustomOp(n).get_nodeattr("SIMD") > 1
               for n in folded.graph.node if base_op(n) == "MVAU")


# ------------------------------------------------------------------------------------------ folding JSON
def test_folding_json_round_trip(lowered):
    """folding.json written for an auto-folded graph, applied again, gives the same folding and FIFOs."""
    auto, _ = fold(copy(lowered), target_fps=2000, fclk_mhz=100, part="xc7z020")
    config = folding_config(auto)
    fifo = next(k for k in config if k.startswith("FIFO_"))
    config[fifo]["depth"] += 7  # a FIFO depth from the file overrides the analytical one
    again, info = fold(copy(lowered), folding=config)
    assert info["mode"] == "file"
    want = attrs(auto)
    want[fifo]["depth"] += 7
    assert attrs(again) == want


def test_folding_json_defaults_and_specialized_names(lowered):
    mvau = node_of(lowered, "MVAU").name
    thr = [n.name for n in lowered.graph.node if base_op(n) == "Thresholding"]
    specialized_name = mvau.replace("MVAU_", "MVAU_hls_")  # FINN's build names
    model = copy(lowered).transform(ApplyFoldingConfig({"Defaults": {"PE": [1, ["Thresholding_rtl"]]},
                                                        specialized_name: {"PE": 1}}))
    assert all(getCustomOp(model.get_node_from_name(t)).get_nodeattr("PE") == 1 for t in thr)
    assert getCustomOp(model.get_node_from_name(mvau)).get_nodeattr("PE") == 1
    # A FINN build's folding file: specialized names, backend-only attributes and FINN's own FIFOs are
    # accepted; the attributes our RTL has no use for are listed as ignored.
    applier = ApplyFoldingConfig({specialized_name: {"PE": 1, "resType": "lut", "mem_mode": "internal_decoupled"},
                                  "StreamingFIFO_rtl_0": {"depth": 32}})
    applied = copy(lowered).transform(applier)
    assert sorted(applier.ignored) == sorted([f"{specialized_name}.mem_mode", "StreamingFIFO_rtl_0"])
    assert getCustomOp(applied.get_node_from_name(mvau)).get_nodeattr("resType") == "lut"  # honoured (RES_TYPE)
    # The generator feeding an MVAU follows an explicitly set SIMD (our RTL needs them equal).
    swg, consumer, _ = tied_pairs(lowered)[0]
    model = copy(lowered).transform(ApplyFoldingConfig({consumer.name: {"SIMD": 1}}))
    assert getCustomOp(model.get_node_from_name(swg.name)).get_nodeattr("SIMD") == 1


def _mvau_not_after_swg(model):
    for n in model.graph.node:
        if base_op(n) == "MVAU":
            return n
    raise AssertionError("no MVAU")


@pytest.mark.parametrize("case", ["unknown_node", "simd_mw", "pe_mh", "swg_channels", "no_such_attr", "tied",
                                  "not_int", "ram_style", "unknown_fifo", "parallel_simd", "parallel_mvau",
                                  "parallel_value"])
def test_folding_json_errors_name_node_attribute_and_values(lowered, case):
    mvau = _mvau_not_after_swg(lowered)
    inst = getCustomOp(mvau)
    mw, mh = inst.get_nodeattr("MW"), inst.get_nodeattr("MH")
    limit_simd = fold_limits(lowered, mvau)["SIMD"]
    bad_simd = next(v for v in range(2, 4 * mw) if mw % v and limit_simd % v)
    bad_pe = next(v for v in range(2, 4 * mh) if mh % v)
    swg, consumer, _ = tied_pairs(lowered)[0]
    ch = getCustomOp(swg).get_nodeattr("IFMChannels")
    thr = node_of(lowered, "Thresholding").name
    configs = {
        "unknown_node": ({"MVAU_999": {"PE": 1}}, ["MVAU_999", "not in the HW graph"]),
        "simd_mw": ({mvau.name: {"SIMD": bad_simd}}, [mvau.name, f"SIMD={bad_simd}", str(limit_simd)]),
        "pe_mh": ({mvau.name: {"PE": bad_pe}}, [mvau.name, f"PE={bad_pe}", f"MH={mh}"]),
        "swg_channels": ({consumer.name: {"SIMD": 2 * ch}}, [consumer.name, f"SIMD={2 * ch}", "IFMChannels"]),
        "no_such_attr": ({thr: {"SIMD": 1}}, [thr, "no attribute 'SIMD'"]),
        "tied": ({swg.name: {"SIMD": 1}, consumer.name: {"SIMD": ch}} if ch > 1 else None,
                 [consumer.name, swg.name, "differs"]),
        "not_int": ({thr: {"PE": "4"}}, [thr, "PE='4'", "positive integer"]),
        "ram_style": ({mvau.name: {"ram_style": "magic"}}, [mvau.name, "ram_style='magic'"]),
        "unknown_fifo": ({"FIFO_nowhere_0": {"depth": 4}}, ["FIFO_nowhere_0", "its FIFOs"]),
        "parallel_simd": ({swg.name: {"parallel_window": 1, "SIMD": 1}} if ch > 1 else None,
                          [swg.name, "parallel_window=1", f"IFMChannels = {ch}"]),
        "parallel_mvau": ({swg.name: {"parallel_window": 1}, consumer.name: {"SIMD": ch}},
                          [consumer.name, f"SIMD={ch}", "must be MW", swg.name]),
        "parallel_value": ({swg.name: {"parallel_window": 2}}, [swg.name, "parallel_window=2", "0 or 1"]),
    }
    config, words = configs[case]
    if config is None:
        pytest.skip("first generator has one channel")
    with pytest.raises(UsageError) as err:
        fold(copy(lowered), folding=config)
    for w in words:
        assert w in str(err.value), (w, str(err.value))


def test_parallel_window_from_the_folding_file_and_from_auto_folding(tiny_export, lowered):
    """``parallel_window=1`` on a generator (FINN's attribute) gives it SIMD = IFMChannels and its MVAU SIMD =
    MW, in either order of the file's entries; the folding stays bit-exact and round-trips. Auto folding
    picks it only where SIMD up to IFMChannels cannot meet the target: for the fastest folding, at the stem."""
    swg, consumer, _ = tied_pairs(lowered)[0]
    mw = getCustomOp(consumer).get_nodeattr("MW")
    for config in ({consumer.name: {"PE": 2}, swg.name: {"parallel_window": 1}},
                   {consumer.name: {"SIMD": mw}, swg.name: {"SIMD": getCustomOp(swg).get_nodeattr("IFMChannels"),
                                                            "parallel_window": 1}}):
        folded, _ = fold(copy(lowered), folding=config)
        s_inst, c_inst = getCustomOp(folded.get_node_from_name(swg.name)), getCustomOp(
            folded.get_node_from_name(consumer.name))
        assert s_inst.get_nodeattr("parallel_window") == 1 and c_inst.get_nodeattr("SIMD") == mw
        assert folding_config(folded)[swg.name]["parallel_window"] == 1
        again, _ = fold(copy(lowered), folding=folding_config(folded))
        assert attrs(again) == attrs(folded)
    x = np.load(tiny_export / PART / "inputs.npy").astype(np.float32)[0]
    assert np.array_equal(execute(folded, x), np.load(tiny_export / PART / "outputs.npy")[0])
    slow, _ = auto_fold(lowered, target_fps=100, fclk_mhz=200, part="xcu250")
    fast, info = auto_fold(lowered, target_fps=1e7, fclk_mhz=200, part="xcu250")
    windows = {n.name: getCustomOp(n).get_nodeattr("parallel_window") for n in fast.graph.node
               if base_op(n) == "ConvolutionInputGenerator"}
    assert windows[swg.name] == 1 and not all(windows.values())
    assert not any(getCustomOp(n).get_nodeattr("parallel_window") for n in slow.graph.node
                   if base_op(n) == "ConvolutionInputGenerator")
    assert info["fastest_cycles"] < layer_cycles_of(lowered, swg)  # faster than one kernel position per cycle


# ------------------------------------------------------------------------------------------ devices, CLI
def test_devices_and_unknown_part():
    devs = known_devices()
    assert {"xc7z020", "xczu7ev", "xcu250", "ecp5-85k"} <= set(devs)
    assert device_budget("xczu7ev")["LUT"] == 230400 and device_budget("ZCU104")["BRAM_18K"] == 2 * 312
    assert device_budget("xcu250")["URAM"] == 1280 and device_budget("xcu250")["DSP"] == 12288
    assert device_budget("ecp5-85k")["BRAM_18K"] == 208 and device_budget("xc7z020")["DSP"] == 220
    with pytest.raises(UsageError, match="unknown part 'xc9000'.*xc7z020.*xczu7ev.*xcu250.*ecp5-85k"):
        device_budget("xc9000")


def test_cli_bad_folding_and_part_leave_no_dir(tiny_export, tmp_path, capsys):
    model = tiny_export / PART / "model.onnx"
    out = tmp_path / "build"
    assert cli_main(["compile", str(model), "--out", str(out), "--part", "xc9000", "--json"]) == 2
    assert "unknown part" in json.loads(capsys.readouterr().out)["error"]
    bad = tmp_path / "bad.json"
    mvau = "MVAU_1"
    bad.write_text(json.dumps({mvau: {"SIMD": 7}}))
    assert cli_main(["compile", str(model), "--out", str(out), "--folding", str(bad), "--no-check", "--json"]) == 2
    err = json.loads(capsys.readouterr().out)["error"]
    assert mvau in err and "SIMD=7" in err
    assert cli_main(["compile", str(model), "--out", str(out), "--folding", str(bad), "--target-fps", "10",
                     "--json"]) == 2
    assert not out.exists() and not [p for p in tmp_path.iterdir() if p.name.startswith(".build")]


@pytest.mark.slow
def test_auto_folded_accelerator_simulates_bit_exact_at_the_estimated_rate(tiny_export, tmp_path, capsys):
    """Stitched RTL of an auto-folded partition (data-width converters, generator input FIFOs) in Verilator:
    integer-equal to the reference under stalls, and without stalls within 5% of the estimated cycles
    (measured: 3468 of 3468 on the hand encoder at 50,000 FPS on xc7z020; 3825 before the generator FIFOs)."""
    build = tmp_path / "build"
    model = tiny_export / "hand_encoder" / "model.onnx"
    assert cli_main(["compile", str(model), "--out", str(build), "--target-fps", "50000", "--part", "xc7z020",
                     "--no-check", "--json"]) == 0
    capsys.readouterr()
    est = json.loads((build / "estimates.json").read_text())
    assert any(ly["op_type"] == "StreamingDataWidthConverter" for ly in est["layers"])
    for stall, frames in [(0.3, 2), (0.0, 3)]:
        assert cli_main(["simulate", str(build), "--frames", str(frames), "--stall", str(stall), "--json"]) == 0
        sim = json.loads(capsys.readouterr().out)
        assert sim["bit_exact"] and sim["mismatches"] == 0
    assert abs(sim["cycles_per_frame"] - est["cycles_per_frame"]) <= 0.05 * est["cycles_per_frame"], sim


def test_ram_style_from_the_folding_file_reaches_the_rtl_and_auto_is_resolved(lowered):
    """FINN's ram_style: a folding file's value is kept; "auto" becomes the style Yosys would pick on Xilinx
    parts (the estimate then follows the build) and stays "auto" on ECP5; an MVAU's "distributed" weight
    ROM is RAM_STYLE "logic" in the RTL (a ROM cannot be a LUT-RAM); "ultra" weights are loaded after reset
    (W_LOAD), on parts that have UltraRAM."""
    from bidrn_hw.layers import memory_shape, rtl_params
    from bidrn_hw.layers.base import ram_style
    from bidrn_hw.layers.memory import yosys_block_ram

    swg = node_of(lowered, "ConvolutionInputGenerator").name
    mvau = node_of(lowered, "MVAU").name
    config = {swg: {"ram_style": "block"}, mvau: {"ram_style": "distributed"}}
    for part in ("xc7z020", "ecp5-85k"):
        model, _ = fold(copy(lowered), folding=config, part=part)
        assert rtl_params(model, model.get_node_from_name(swg))[1]["RAM_STYLE"] == "block"
        assert rtl_params(model, model.get_node_from_name(mvau))[1]["RAM_STYLE"] == "logic"
        assert folding_config(model)[swg]["ram_style"] == "block"
        others = [n for n in model.graph.node if base_op(n) in ("MVAU", "ConvolutionInputGenerator", "StreamingFIFO")
                  and n.name not in (swg, mvau)]
        assert others
        for node in others:
            module, p = rtl_params(model, node)
            shape = memory_shape(module, p)
            if part == "ecp5-85k" or shape is None:
                assert ram_style(node) == "auto", node.name
            else:
                assert ram_style(node) == ("block" if yosys_block_ram(*shape) else "distributed"), node.name
    with pytest.raises(UsageError, match=f"{mvau}.*ultra.*xc7z020 has no UltraRAM"):
        fold(copy(lowered), folding={mvau: {"ram_style": "ultra"}})
    model, _ = fold(copy(lowered), folding={mvau: {"ram_style": "ultra"}}, part="xczu7ev")
    p = rtl_params(model, model.get_node_from_name(mvau))[1]
    assert (p["RAM_STYLE"], p["W_LOAD"]) == ("ultra", 1)


def test_weights_move_to_ultraram_where_block_ram_is_short(lowered):
    """On a part with UltraRAM, block RAM over the budget moves MVAU weights there (ram_style "ultra", loaded
    after reset): most RAMB18 saved per URAM first, until block RAM fits, within the URAM budget; the
    resources estimated afterwards show exactly the changes the candidates announced."""
    from bidrn_hw.flow.estimates import total_resources
    from bidrn_hw.flow.memory_styles import choose_uram_weights, move_weights_to_uram, uram_candidates
    from bidrn_hw.layers.base import is_mvau, ram_style

    model, _ = fold(copy(lowered), target_fps=100, fclk_mhz=200, part="xczu7ev")  # deep weight memories
    for node in model.graph.node:  # leave the memory choice to the flow again (fused residual MVAUs too)
        if is_mvau(node):
            getCustomOp(node).set_nodeattr("ram_style", "auto")
    real = device_budget("xczu7ev")
    before = total_resources(model, real)
    candidates = uram_candidates(model, real)
    assert candidates and all(c[3]["BRAM_18K"] == -c[0] and c[3]["URAM"] == c[1] for c in candidates)
    short = dict(real, BRAM_18K=before["BRAM_18K"] - 1)  # one RAMB18 too few
    tagged = [(model, c) for c in candidates]
    picked = choose_uram_weights(tagged, short, before["BRAM_18K"], before["URAM"])
    chosen = [c for _, c in picked]
    assert len(chosen) == 1 and picked[0][0] is model
    assert chosen[0][0] / chosen[0][1] == max(c[0] / c[1] for c in candidates)
    assert choose_uram_weights(tagged, dict(short, URAM=0), before["BRAM_18K"], 0) == []
    assert choose_uram_weights(tagged, real, before["BRAM_18K"], 0) == []  # fits already: nothing moves
    moved = move_weights_to_uram([model], short, before["BRAM_18K"], before["URAM"])
    assert moved == [chosen[0][2]] and ram_style(model.get_node_from_name(moved[0])) == "ultra"
    after = total_resources(model, real)
    assert after == {k: before[k] + chosen[0][3][k] for k in before}
    assert after["BRAM_18K"] <= short["BRAM_18K"] and after["URAM"] >= 1


def test_lut_held_memories_move_to_free_block_ram_most_luts_saved_first(lowered):
    """compile_time's joint folding places memories LUTs-first (memory_style_moves, lut_first): every memory
    Yosys would keep in LUTs is a candidate for block RAM when that saves LUTs, none moves the other way;
    the moves made are the best LUTs saved per RAMB18 that fit the block RAM left, and the estimate afterwards
    shows exactly the changes announced."""
    from bidrn_hw.flow.estimates import total_resources
    from bidrn_hw.flow.memory_styles import MEMORY_OPS, choose_block_moves, memory_style_moves

    model, _ = fold(copy(lowered), target_fps=100, fclk_mhz=200, part="xczu7ev")
    for node in model.graph.node:  # leave the memory choice to the flow again
        if base_op(node) in MEMORY_OPS:
            getCustomOp(node).set_nodeattr("ram_style", "auto")
    real = device_budget("xczu7ev")
    before = total_resources(model, real)
    moves = memory_style_moves(model, real, lut_first=True)
    to_block, bram = moves["to_block"], moves["total"]["BRAM_18K"]
    assert moves["to_lut"] == [] and moves["total"] == before
    assert all(m[3]["LUT"] < 0 and m[3]["URAM"] == m[1] >= 1 for m in moves["to_uram"])
    assert len(to_block) >= 2
    assert all(m[3]["LUT"] < 0 and m[3]["BRAM_18K"] == m[1] >= 1 for m in to_block)
    room = sorted(to_block, key=lambda m: -m[0])[0][1]  # room for the best move only
    tagged = [(model, m) for m in to_block]
    picked = choose_block_moves(tagged, dict(real, BRAM_18K=bram + room), bram)
    assert picked and picked[0][1][0] == max(m[0] for m in to_block)
    assert sum(m[1] for _, m in picked) <= room
    assert choose_block_moves(tagged, dict(real, BRAM_18K=bram), bram) == []  # no room: nothing moves
    for _, (_, _, name, _) in picked:
        getCustomOp(model.get_node_from_name(name)).set_nodeattr("ram_style", "block")
    after = total_resources(model, real)
    assert after == {k: before[k] + sum(m[3][k] for _, m in picked) for k in before}
    assert after["LUT"] < before["LUT"]


def test_idle_block_ram_is_spent_on_luts_where_the_design_is_lut_bound(lowered):
    """balance_memory_styles: on a part whose LUTs the design takes at least FILL_LUT_SHARE of, the memories
    left in LUTs move to block RAM while it lasts (fewer LUTs, block RAM within the budget); on a part where it
    takes fewer, nothing beyond the share-weighted choice moves."""
    from bidrn_hw.flow.estimates import total_resources
    from bidrn_hw.flow.memory_styles import FILL_LUT_SHARE, MEMORY_OPS, balance_memory_styles

    model, _ = fold(copy(lowered), target_fps=2000, fclk_mhz=100, part="xc7z020")

    def reset(m):
        for node in m.graph.node:
            if base_op(node) in MEMORY_OPS:
                getCustomOp(node).set_nodeattr("ram_style", "auto")
        return m

    real = device_budget("xc7z020")
    need = total_resources(reset(model), real)
    roomy = dict(real, LUT=int(need["LUT"] / FILL_LUT_SHARE) * 4, BRAM_18K=need["BRAM_18K"] + 400)
    tight = dict(roomy, LUT=int(need["LUT"] / FILL_LUT_SHARE) - 1)
    balanced = reset(copy(model))
    balance_memory_styles(balanced, roomy)
    filled = reset(copy(model))
    balance_memory_styles(filled, tight)
    a, b = total_resources(balanced, real), total_resources(filled, real)
    assert b["LUT"] < a["LUT"] and a["BRAM_18K"] < b["BRAM_18K"] <= tight["BRAM_18K"], (a, b)
    capped = reset(copy(model))
    balance_memory_styles(capped, dict(tight, BRAM_18K=a["BRAM_18K"]))  # no block RAM left to spend
    assert total_resources(capped, real)["BRAM_18K"] <= a["BRAM_18K"]
