"""Folding of the HW graph: a FINN-format folding JSON, or automatic folding for a target frame rate under a
device's resource budget; the data-width converters that folding makes necessary; device budgets.

Folding attributes per op (the abstraction-layer names ``convert_to_hw`` emits; FINN's specialized names
such as ``MVAU_hls`` are accepted too):

=========================  =====================  ==============================================
op                         attributes             must divide
=========================  =====================  ==============================================
MVAU                       SIMD, PE               MW, MH
ConvolutionInputGenerator  SIMD, parallel_window  IFMChannels; parallel_window 0 or 1
FMPadding(_Pixel)          SIMD                   NumChannels
Thresholding, Duplicate-   PE                     NumChannels
Streams, GlobalAccPool
ElementwiseAdd             PE                     the channel count (last dim)
Pool                       PE                     Channels
UpsampleNearestNeighbour   SIMD                   NumChannels
StreamingFIFO              depth                  -
=========================  =====================  ==============================================

Constraints of our RTL: an MVAU fed by a sliding window generator (``hls/swg.sv``) takes one kernel
position of SIMD channels per beat, so its SIMD equals the generator's SIMD and divides IFMChannels; a
depthwise generator's SIMD equals its Pool consumer's PE. With ``parallel_window=1`` the generator
(``hls/swg_parallel.sv``) takes all channels per beat (SIMD = IFMChannels) and emits a whole window per beat,
and the MVAU it feeds takes it whole (SIMD = MW): one output pixel per cycle at most, for a stem whose few
channels would otherwise leave its generator at K*K cycles per pixel. Every other stream may
change width: :class:`InsertDataWidthConverters` puts FINN's StreamingDataWidthConverter (``hls/dwc.sv``)
wherever the producer's and the consumer's elements per beat differ.

FINN JSON format (as FINN's ApplyConfig reads it)::

    {"Defaults": {"ram_style": ["distributed", ["MVAU"]], "PE": [1, "all"]},
     "MVAU_0": {"PE": 16, "SIMD": 3, "ram_style": "auto"}, "FIFO_ElementwiseAdd_0_1": {"depth": 64}}

Nodes the JSON does not name keep the default pixel folding. Entries for StreamingFIFO nodes that the flow
inserts (the branch FIFOs, named ``FIFO_<join>_<input>``) override the analytical depth; every other
unknown name, an attribute the node does not have, or a value that does not divide is a
:class:`~bidrn_hw.errors.UsageError` naming the node, the attribute and the values.

Automatic folding (:func:`auto_fold`), like FINN's SetFolding: target cycles per frame = fclk / fps; every
layer gets the smallest parallelism (product PE*SIMD for an MVAU, with its generator) whose cycles meet the
target (the cycles the estimate composes, :mod:`~bidrn_hw.flow.refill`: a window generator's frame refill at
its input stream's interval, so a target folding meets the estimate meets; where a padding sets that
interval, it is made faster rather than the consumer wider; :mod:`~bidrn_hw.flow.layer_folding`); an MVAU whose generator cannot meet it at SIMD = IFMChannels gets a parallel-window generator. If
some layer cannot meet it even fully parallel, the target relaxes to that layer's cycles (FINN's
two-pass relaxation) so the rest is not needlessly wide. If the design's estimated resources exceed the
device's budget, the target is relaxed (cycles grow by a factor 1.25 per step) until it fits or nothing
more can be folded; the result says whether the target was met and whether the design fits. Before relaxing,
weights block RAM cannot hold go to UltraRAM where the part has it, and products the DSP blocks cannot hold go
to LUTs (``resType`` "lut", :func:`~bidrn_hw.flow.memory_styles.move_products_to_luts`); after folding,
``flow.build.fold`` places the memories by the part's shares of LUTs and block RAM
(:func:`~bidrn_hw.flow.memory_styles.balance_memory_styles`).
"""
from __future__ import annotations

import json
from pathlib import Path

from onnx import helper
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.custom_op.registry import getCustomOp
from qonnx.transformation.base import Transformation

from ..devices import device_budget
from ..errors import UsageError
from ..layers import RESOURCE_KEYS, base_op, fold_limits, is_mvau, kind_of, layer_cycles_of
from ..layers.base import LayerKind
from .estimates import total_resources
from .fast_qonnx import copy_model
from .layer_folding import composed_cycles, fold_node, fold_window_pair
from .memory_styles import logic_share, move_products_to_luts, move_weights_to_uram
from .pixel_folding import ApplyPixelFolding
from .refill import generator_input, pipeline_cycles

FOLD_ATTRS = ("PE", "SIMD")
CONFIG_ATTRS = ("PE", "SIMD", "ram_style", "depth", "parallel_window", "resType")
# Attributes of FINN's HLS/RTL backends that FINN's folding files carry but our RTL has no use for: accepted
# and ignored (``ApplyFoldingConfig.ignored``), so a FINN build's folding file applies as it is.
FINN_ONLY_ATTRS = {"mem_mode", "runtime_writeable_weights", "ram_style_thresholds", "impl_style",
                   "inFIFODepths", "outFIFODepths", "preferred_impl_style", "depth_trigger_uram",
                   "depth_trigger_bram"}
RAM_STYLES = {"auto", "block", "distributed", "ultra"}
RES_TYPES = {"auto", "lut", "dsp"}


def _swg_consumer(model: ModelWrapper, swg):
    consumers = model.find_consumers(swg.output[0]) or []
    return consumers[0] if len(consumers) == 1 else None


def tied_pairs(model: ModelWrapper) -> list[tuple[object, object, str]]:
    """(generator, consumer, consumer attribute) pairs whose SIMD must be equal (our RTL's constraint)."""
    pairs = []
    for node in model.graph.node:
        if base_op(node) != "ConvolutionInputGenerator":
            continue
        consumer = _swg_consumer(model, node)
        if consumer is None:
            continue
        kind = kind_of(consumer)
        if kind is not None and kind.window_fold_attr is not None:
            pairs.append((node, consumer, kind.window_fold_attr))
    return pairs


def check_folding(model: ModelWrapper) -> None:
    """Every folding attribute divides its limit and tied pairs agree; else UsageError naming the node."""
    for node in model.graph.node:
        inst = getCustomOp(node)
        for attr, limit in fold_limits(model, node).items():
            value = inst.get_nodeattr(attr)
            if value < 1 or limit % value:
                what = _limit_name(node, attr)
                if is_mvau(node) and attr == "SIMD" and limit != inst.get_nodeattr("MW"):
                    what = "IFMChannels of the sliding window generator feeding it (parallel_window=0)"
                raise UsageError(f"node {node.name}: {attr}={value} does not divide {what}={limit}")
    for swg, consumer, attr in tied_pairs(model):
        s_inst, c_inst = getCustomOp(swg), getCustomOp(consumer)
        a, b = s_inst.get_nodeattr("SIMD"), c_inst.get_nodeattr(attr)
        if s_inst.get_nodeattr("parallel_window"):
            _check_parallel_window(swg, consumer)
            continue
        if a != b:
            raise UsageError(f"node {consumer.name}: {attr}={b} differs from SIMD={a} of {swg.name} that feeds it; "
                             f"our sliding window generator emits one kernel position per beat, so they must be equal")


def _check_parallel_window(swg, consumer) -> None:
    """A parallel-window generator (one whole window per beat) takes all channels per beat and feeds an
    MVAU that takes the whole window per beat: SIMD = IFMChannels there, SIMD = MW here."""
    s_inst, c_inst = getCustomOp(swg), getCustomOp(consumer)
    channels = s_inst.get_nodeattr("IFMChannels")
    if s_inst.get_nodeattr("SIMD") != channels:
        raise UsageError(f"node {swg.name}: parallel_window=1 needs SIMD = IFMChannels = {channels}, "
                         f"not {s_inst.get_nodeattr('SIMD')}")
    if not is_mvau(consumer):
        raise UsageError(f"node {swg.name}: parallel_window=1 is supported only where an MVAU consumes the "
                         f"windows, not {consumer.op_type} {consumer.name}")
    mw = c_inst.get_nodeattr("MW")
    if c_inst.get_nodeattr("SIMD") != mw:
        raise UsageError(f"node {consumer.name}: SIMD={c_inst.get_nodeattr('SIMD')} must be MW={mw}: "
                         f"{swg.name} feeding it has parallel_window=1 (one whole window per beat)")


def _limit_name(node, attr) -> str:
    """What a folding attribute must divide, by name (for messages)."""
    kind = kind_of(node)
    return kind.limit_names.get(attr, "NumChannels") if kind is not None else "NumChannels"


# ------------------------------------------------------------------------------------------ FINN JSON
def _resolve_name(names: set[str], key: str) -> str | None:
    if key in names:
        return key
    for suffix in ("_hls_", "_rtl_"):  # FINN's specialized names: MVAU_hls_0 -> MVAU_0
        if suffix in key:
            alt = key.replace(suffix, "_", 1)
            if alt in names:
                return alt
    return None


def load_folding(path: Path | str) -> dict:
    path = Path(path)
    if not path.is_file():
        raise UsageError(f"folding file {path} not found")
    try:
        config = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise UsageError(f"folding file {path} is not valid JSON: {exc}") from None
    if not isinstance(config, dict) or not all(isinstance(v, dict) for v in config.values()):
        raise UsageError(f"folding file {path}: expected an object of node name -> {{attribute: value}}")
    return config


def _set_attr(model: ModelWrapper, node, attr: str, value, source: str) -> bool:
    """Set one folding attribute after checking it; False when it is a FINN-only attribute (ignored)."""
    inst = getCustomOp(node)
    if attr == "parallel_window" and value not in (0, 1):
        raise UsageError(f"{source}: node {node.name}: parallel_window={value!r} must be 0 or 1")
    if attr in FINN_ONLY_ATTRS:
        return False
    if attr not in CONFIG_ATTRS:
        raise UsageError(f"{source}: node {node.name}: attribute '{attr}' is not a folding attribute "
                         f"({', '.join(CONFIG_ATTRS)})")
    try:
        inst.get_nodeattr(attr)
    except AttributeError:
        raise UsageError(f"{source}: node {node.name} ({node.op_type}) has no attribute '{attr}'") from None
    if attr in ("PE", "SIMD", "depth"):
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise UsageError(f"{source}: node {node.name}: {attr}={value!r} must be a positive integer")
        limit = fold_limits(model, node).get(attr)
        if limit is not None and limit % value:
            raise UsageError(f"{source}: node {node.name}: {attr}={value} does not divide "
                             f"{_limit_label(model, node, attr)}={limit}")
    if attr == "ram_style" and value not in RAM_STYLES:
        raise UsageError(f"{source}: node {node.name}: ram_style={value!r} is not one of {sorted(RAM_STYLES)}")
    if attr == "resType" and value not in RES_TYPES:
        raise UsageError(f"{source}: node {node.name}: resType={value!r} is not one of {sorted(RES_TYPES)}")
    inst.set_nodeattr(attr, value)
    return True


def _limit_label(model, node, attr) -> str:
    return kind_of(node).limit_name(model, node, attr)


class ApplyFoldingConfig(Transformation):
    """Pixel folding, then a FINN-format folding config over it (validated). Entries that name no node of
    the graph are kept in ``self.pending`` (FIFO depths for nodes the flow inserts later, see
    :func:`apply_fifo_depths`)."""

    def __init__(self, config: dict, source: str = "folding"):
        super().__init__()
        self.config = config
        self.source = source
        self.pending: dict[str, dict] = {}
        self.ignored: list[str] = []

    def apply(self, model: ModelWrapper):
        model = model.transform(ApplyPixelFolding())
        nodes = {n.name: n for n in model.graph.node}
        explicit: dict[str, set] = {}
        for attr, spec in (self.config.get("Defaults") or {}).items():
            if not isinstance(spec, list) or len(spec) % 2:
                raise UsageError(f"{self.source}: Defaults.{attr} must be a list [value, [op types] | \"all\", ...]")
            for value, ops in zip(spec[::2], spec[1::2]):
                wanted = {o[:-4] if o.endswith(("_hls", "_rtl")) else o for o in ops} if isinstance(ops, list) \
                    else set()
                for node in model.graph.node:
                    if ops == "all" or base_op(node) in wanted:
                        try:
                            getCustomOp(node).get_nodeattr(attr)
                        except AttributeError:
                            continue
                        if _set_attr(model, node, attr, value, f"{self.source} Defaults"):
                            explicit.setdefault(node.name, set()).add(attr)
        # Window modes first: they decide what an MVAU's SIMD must divide.
        entries = sorted((kv for kv in self.config.items() if kv[0] != "Defaults"),
                         key=lambda kv: "parallel_window" not in kv[1])
        for key, entry in entries:
            name = _resolve_name(set(nodes), key)
            if name is None:
                if key.startswith("FIFO_"):  # ours: inserted after folding
                    self.pending[key] = entry
                    continue
                if key.startswith(("StreamingFIFO", "StreamingDataWidthConverter")):
                    self.ignored.append(key)  # FINN's own insertions; we size and place ours
                    continue
                raise UsageError(f"{self.source}: node '{key}' is not in the HW graph (its nodes: "
                                 f"{', '.join(list(nodes)[:12])}{', ...' if len(nodes) > 12 else ''})")
            for attr, value in entry.items():
                if _set_attr(model, nodes[name], attr, value, self.source):
                    explicit.setdefault(name, set()).add(attr)
                else:
                    self.ignored.append(f"{key}.{attr}")
        # Tie generators to their consumers: the one given explicitly wins; both given and different: error.
        for swg, consumer, attr in tied_pairs(model):
            s_inst, c_inst = getCustomOp(swg), getCustomOp(consumer)
            s_set = "SIMD" in explicit.get(swg.name, set())
            c_set = attr in explicit.get(consumer.name, set())
            if s_inst.get_nodeattr("parallel_window"):  # whole windows: all channels in, the whole MW out
                if not s_set:
                    s_inst.set_nodeattr("SIMD", s_inst.get_nodeattr("IFMChannels"))
                if not c_set and is_mvau(consumer):
                    c_inst.set_nodeattr("SIMD", c_inst.get_nodeattr("MW"))
            elif c_set and not s_set:
                s_inst.set_nodeattr("SIMD", c_inst.get_nodeattr(attr))
            elif s_set and not c_set:
                c_inst.set_nodeattr(attr, s_inst.get_nodeattr("SIMD"))
        check_folding(model)
        return model, False


def apply_fifo_depths(model: ModelWrapper, pending: dict, source: str = "folding") -> None:
    """Set the depth of flow-inserted FIFOs from config entries; an entry naming no FIFO is an error."""
    names = {n.name: n for n in model.graph.node}
    for key, entry in pending.items():
        if key not in names or base_op(names[key]) != "StreamingFIFO":
            fifos = [n for n, node in names.items() if base_op(node) == "StreamingFIFO"]
            raise UsageError(f"{source}: node '{key}' is not in the HW graph (its FIFOs: {', '.join(fifos) or 'none'})")
        for attr, value in entry.items():
            if attr not in ("depth", "ram_style"):
                raise UsageError(f"{source}: node {key}: only depth and ram_style can be set on a FIFO, not '{attr}'")
            _set_attr(model, names[key], attr, value, source)


# ------------------------------------------------------------------------------------------ DWCs
class InsertDataWidthConverters(Transformation):
    """FINN's InsertDWC (the same StreamingDataWidthConverter nodes, attributes and shapes) on the
    abstraction-layer graph, named ``DWC_<producer>_<output index>`` so that reports can refer to them.
    FINN's pass needs specialized sliding window generators (it asks them about parallel windows); here
    :func:`elems_per_beat` answers for ours."""

    def apply(self, model: ModelWrapper):
        graph = model.graph
        changed = False
        users: dict[str, list] = {}  # tensor -> consuming nodes, built once (find_consumers scans the graph)
        for node in graph.node:
            for t in node.input:
                users.setdefault(t, []).append(node)
        for n in list(graph.node):
            if not _is_hw(n) or base_op(n) == "StreamingDataWidthConverter":
                continue
            for out_idx, tensor in enumerate(n.output):
                consumers = users.get(tensor, [])
                if len(consumers) != 1 or not _is_hw(consumers[0]):
                    continue
                consumer = consumers[0]
                if base_op(consumer) == "StreamingDataWidthConverter":
                    continue
                in_idx = list(consumer.input).index(tensor)
                p_inst, c_inst = getCustomOp(n), getCustomOp(consumer)
                a, b = elems_per_beat(p_inst, out_idx, False), elems_per_beat(c_inst, in_idx, True)
                if a == b:
                    continue
                dt = p_inst.get_output_datatype(out_idx)
                new = model.make_new_valueinfo_name()
                out_shape = list(c_inst.get_normal_input_shape(in_idx))
                model.set_tensor_shape(new, out_shape)
                model.set_tensor_datatype(new, dt)
                dwc = helper.make_node("StreamingDataWidthConverter", [tensor], [new], name=f"DWC_{n.name}_{out_idx}",
                                       domain="finn.custom_op.fpgadataflow", backend="fpgadataflow",
                                       inShape=list(p_inst.get_normal_output_shape(out_idx)), outShape=out_shape,
                                       inWidth=a * dt.bitwidth(), outWidth=b * dt.bitwidth(), dataType=dt.name)
                graph.node.insert(list(graph.node).index(consumer), dwc)
                consumer.input[in_idx] = new
                users[tensor], users[new] = [dwc], [consumer]
                changed = True
        return model, False


def _is_hw(node) -> bool:
    return node.domain.startswith("finn.custom_op.fpgadataflow")


_ANY_KIND = LayerKind()


def elems_per_beat(inst, index: int, is_input: bool) -> int:
    """Elements per stream beat of a node's input/output ``index`` (its kind's ``elems_per_beat``: FINN's
    folded shape, last dim, or a parallel-window generator's whole window)."""
    return (kind_of(inst.onnx_node) or _ANY_KIND).elems_per_beat(inst, index, is_input)


# ------------------------------------------------------------------------------------------ auto folding
def fold_for_target(model: ModelWrapper, target: int, cost=None) -> dict:
    """Set every node's folding for ``target`` cycles per frame (in place). Returns {node: (cycles, met)}:
    each node's cycles as the estimate composes them (:func:`composed_cycles`). ``cost``: how an MVAU's
    foldings that meet the target are compared (``layer_folding._fold_mvau``)."""
    result = {}
    pairs = tied_pairs(model)
    tied = {swg.name: consumer for swg, consumer, _ in pairs}
    feeder = {consumer.name: swg for swg, consumer, _ in pairs}
    tied_attr = {consumer.name: attr for _, consumer, attr in pairs}
    for node in model.graph.node:
        op = base_op(node)
        if op == "ConvolutionInputGenerator" and node.name in tied:
            continue  # folded with its consumer
        if is_mvau(node) or tied_attr.get(node.name) == "PE":  # or a depthwise consumer (Pool, VVAU)
            swg = feeder.get(node.name)
            result[node.name] = fold_window_pair(model, node, swg, target, cost)
            if swg is not None:
                result[swg.name] = (composed_cycles(model, swg), result[node.name][1])
                prod = generator_input(model, swg)  # it and the layer before it may have been made faster
                for before in (prod, model.find_producer(prod.input[0]) if prod is not None else None):
                    if before is not None and before.name in result:
                        c = composed_cycles(model, before)
                        result[before.name] = (c, result[before.name][1] or c <= target)
        else:
            result[node.name] = fold_node(model, node, target)
    return result


def min_cycles(model: ModelWrapper) -> int:
    """The bottleneck's cycles with everything fully parallel (the fastest this design can go)."""
    probe = copy_model(model)
    res = fold_for_target(probe, 1)
    return max(c for c, _ in res.values())


def _cycles(model: ModelWrapper) -> dict[str, int]:
    """Every node's cycles per frame as the estimate has them (:func:`~bidrn_hw.flow.refill.pipeline_cycles`)."""
    return pipeline_cycles(model, {n.name: layer_cycles_of(model, n) for n in model.graph.node})


def balance(cycles: dict[str, int]) -> float:
    busy = [c for c in cycles.values() if c > 0]
    return round(max(busy) / (sum(busy) / len(busy)), 3) if busy else 1.0


def fold_slowest(model: ModelWrapper) -> list[str]:
    """Fold every layer as far as it goes (in place): no parallel windows, every folding attribute 1.
    Returns the names of the nodes that were parallel (an attribute above 1 or a parallel window)."""
    parallel = []
    for node in model.graph.node:
        inst = getCustomOp(node)
        if base_op(node) == "ConvolutionInputGenerator" and inst.get_nodeattr("parallel_window"):
            inst.set_nodeattr("parallel_window", 0)
            parallel.append(node.name)
    for node in model.graph.node:
        inst = getCustomOp(node)
        for attr in fold_limits(model, node):
            if inst.get_nodeattr(attr) > 1 and node.name not in parallel:
                parallel.append(node.name)
            inst.set_nodeattr(attr, 1)
    return parallel


def balance_report(model: ModelWrapper) -> dict:
    """Pipeline balance of a folded graph: ``balance`` (the slowest layer's cycles over the mean of all
    layers, FIFOs left out), ``best_possible`` (the same ratio if every layer were folded to exactly the
    bottleneck's cycles, or left at PE = SIMD = 1 where it is faster than that even then: the floor folding
    can reach), and ``parallel`` (the bottleneck over the mean of the layers folding made parallel, any PE
    or SIMD > 1: how evenly the parallelism that costs resources is spent), with the layer counts."""
    cycles = _cycles(model)
    busy = {k: c for k, c in cycles.items() if c > 0}
    if not busy:
        return {"balance": 1.0, "best_possible": 1.0, "parallel": 1.0, "layers": 0, "parallel_layers": 0}
    bottleneck = max(busy.values())
    probe = copy_model(model)
    parallel = fold_slowest(probe)
    slowest = {k: c for k, c in _cycles(probe).items() if k in busy}
    floor = [min(slowest[k], bottleneck) for k in busy]
    par = [busy[k] for k in parallel if k in busy]
    return {"balance": round(bottleneck / (sum(busy.values()) / len(busy)), 3),
            "best_possible": round(bottleneck / (sum(floor) / len(floor)), 3),
            "parallel": round(bottleneck / (sum(par) / len(par)), 3) if par else 1.0,
            "layers": len(busy), "parallel_layers": len(par)}


def auto_fold(model: ModelWrapper, target_fps: float, fclk_mhz: float, part: str = "xczu7ev",
              estimate=None, log=None, bounds: tuple[int, int] | None = None) -> tuple[ModelWrapper, dict]:
    """Fold ``model`` (a copy is returned) for ``target_fps`` at ``fclk_mhz`` under ``part``'s budget.

    ``estimate(model) -> {LUT, FF, BRAM_18K, URAM, DSP}`` gives the resources of a folded graph (default:
    :func:`bidrn_hw.flow.estimates.total_resources`). ``bounds``: :func:`cycle_bounds` of ``model`` when
    the caller already has them (they do not depend on the target). Returns (folded model, summary).
    """
    if target_fps <= 0 or fclk_mhz <= 0:
        raise UsageError(f"--target-fps ({target_fps}) and --fclk-mhz ({fclk_mhz}) must be positive")
    device = device_budget(part)
    if estimate is None:
        def estimate(m):
            return total_resources(m, device)
    requested = max(1, int(fclk_mhz * 1e6 / target_fps))
    fastest, slowest_possible = bounds or cycle_bounds(model)
    target = max(requested, fastest)  # FINN's two-pass relaxation
    never = None  # resources over the budget even at PE = SIMD = 1: folding slower cannot help them
    while True:
        folded = copy_model(model)
        fold_for_target(folded, target, logic_share(device) if device.get("LUT") else None)
        res = estimate(folded)
        # weights block RAM cannot hold go to UltraRAM where the part has it (loaded after reset); products
        # the DSP blocks cannot hold go to LUTs
        if move_weights_to_uram([folded], device, res["BRAM_18K"], res["URAM"]):
            res = estimate(folded)
        if move_products_to_luts([folded], device, res["DSP"]):
            res = estimate(folded)
        over = {k: (res[k], device[k]) for k in RESOURCE_KEYS if res[k] > device[k]}
        cycles = _cycles(folded)
        slowest = max(cycles.values())
        if over and never is None:
            never = least_resources_over_budget(model, estimate, device)
            if never and log:
                log(f"auto folding: {never} needed on {device['name']} even with PE = SIMD = 1; "
                    f"folding for the other resources")
        if not {k for k in over if k not in (never or {})} or target >= slowest_possible:
            break
        if log:
            log(f"auto folding: {target} cycles/frame needs {over} on {device['name']}; relaxing")
        target = max(int(target * 1.25), slowest + 1)
    check_folding(folded)
    summary = {"target_fps": target_fps, "fclk_mhz": fclk_mhz, "part": device["name"],
               "requested_cycles": requested, "target_cycles": target, "fastest_cycles": fastest,
               "cycles_per_frame": slowest, "fps": round(fclk_mhz * 1e6 / slowest, 2),
               "slowest_possible_cycles": slowest_possible, "target_met": slowest <= requested, "fits": not over,
               "over_budget": {k: {"need": v[0], "have": v[1]} for k, v in over.items()},
               "never_fits": {k: {"least_need": v, "have": device[k]} for k, v in (never or {}).items() if k in over},
               "balance": balance(cycles)}
    if slowest > requested:
        bottleneck = max(cycles, key=cycles.get)
        summary["limited_by"] = (f"layer {bottleneck}: {fastest} cycles/frame even fully parallel"
                                 if target == max(requested, fastest) else f"the resource budget of {device['name']}")
    return folded, summary


def least_resources_over_budget(model: ModelWrapper, estimate, device: dict) -> dict[str, int]:
    """{resource: need} for the resources ``model`` needs beyond ``device`` even folded as far as it goes."""
    probe = copy_model(model)
    fold_slowest(probe)
    res = estimate(probe)
    if move_weights_to_uram([probe], device, res["BRAM_18K"], res["URAM"]):
        res = estimate(probe)
    if move_products_to_luts([probe], device, res["DSP"]):
        res = estimate(probe)
    return {k: res[k] for k in RESOURCE_KEYS if res[k] > device[k]}


def cycle_bounds(model: ModelWrapper) -> tuple[int, int]:
    """(bottleneck cycles fully parallel, bottleneck cycles with PE = SIMD = 1): the range auto folding spans."""
    return min_cycles(model), _max_cycles(model)


def _max_cycles(model: ModelWrapper) -> int:
    probe = copy_model(model)
    fold_slowest(probe)
    return max(_cycles(probe).values())
