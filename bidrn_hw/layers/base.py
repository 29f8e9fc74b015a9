"""What every layer kind shares: the interface (:class:`LayerKind`), the RTL instance it describes
(:class:`LayerRTL`), op-type and memory-style helpers, and the checks of node attributes.

A layer kind is one FINN HW op type (or a few that one RTL module implements) and everything the flow needs
to know about it: the folding attributes it has and what they must divide, its cycles per frame, the RTL
module and parameters it becomes (with memory files), its resources by formula and, where the module is
calibrated, the structural terms the calibrated model weights. ``bidrn_hw.layers`` maps op types to kinds;
``flow.folding``, ``flow.estimates`` and ``rtlgen.stitch`` loop over nodes and ask their kinds.
See docs/architecture.md ("How to add a layer kind").
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from qonnx.core.datatype import DataType

from ..errors import UnsupportedError

RESOURCE_KEYS = ("LUT", "FF", "BRAM_18K", "URAM", "DSP")
HLS_DIR = Path(__file__).resolve().parent.parent / "hls"  # the RTL library: hls/<module>.sv, one module a file
HLS_HEADERS = ("axis.svh",)  # its `include files (the stream port macros), copied into every build
# The library modules a library module instantiates whatever its parameters (hls/<module>.sv -> theirs): a
# build of it lists them too (a stitched rtl/ and its filelist.f, accel.json's hashes, the Verilator cache
# key, Yosys, the Vivado export). What the parameters choose (threshold_search.sv or threshold_lines.sv under
# threshold_unit.sv, weight_loader.sv) the layer kind lists itself.
HLS_USES = {"mvau": ("mac_pipeline",), "vvau": ("mac_pipeline",), "mac_pipeline": ("threshold_unit",),
            "thresholding": ("threshold_unit",), "mvau_residual": ("mvau", "addstreams"),
            "swg": ("frame_buffer",), "upsampler": ("frame_buffer",)}


def hls_closure(stems) -> list[str]:
    """``stems`` (library module names) and, after each, what it instantiates (:data:`HLS_USES`,
    transitively), each once."""
    out: list[str] = []

    def add(stem: str) -> None:
        if stem not in out:
            out.append(stem)
            for used in HLS_USES.get(stem, ()):
                add(used)

    for stem in stems:
        add(stem)
    return out


def base_op(node) -> str:
    """A node's op type without FINN's backend suffix (``MVAU_hls`` -> ``MVAU``)."""
    op = node.op_type
    return op[:-4] if op.endswith(("_hls", "_rtl")) else op


# Op types the flow treats as an MVAU (folding, input FIFOs, weight memories): the MVAU and the fused residual
# MVAU (layers/mvau_residual.py: an MVAU with a skip input added after its thresholds).
MVAU_OPS = ("MVAU", "MVAUResidual")


def is_mvau(node) -> bool:
    return base_op(node) in MVAU_OPS


def zero() -> dict:
    return dict.fromkeys(RESOURCE_KEYS, 0)


def add(a: dict, b: dict) -> dict:
    return {k: a.get(k, 0) + b.get(k, 0) for k in RESOURCE_KEYS}


@dataclass
class LayerRTL:
    """One instance: module name, parameters, memory files (name -> text) and the library files it needs."""

    module: str
    parameters: dict
    memfiles: dict[str, str] = field(default_factory=dict)
    sources: list[str] = field(default_factory=list)

    def __post_init__(self):
        # the module's file first, then every file it needs (hls_closure)
        self.sources = hls_closure(self.sources or [self.module])


class LayerKind:
    """The interface of a layer kind. ``model`` is the qonnx ModelWrapper, ``node`` the ONNX node, ``inst``
    its ``getCustomOp`` instance (the callers make it once). Only :meth:`rtl_params` and :meth:`formula`
    have no default."""

    op_types: tuple[str, ...] = ()  # FINN op types, without the _hls/_rtl suffix
    modules: tuple[str, ...] = ()   # RTL modules it instantiates (hls/<module>.sv; the calibration's keys)
    calibration_module: str | None = None  # whose fitted coefficients weight its terms (None: its own module's)
    limit_names: dict[str, str] = {}  # folding attribute -> the attribute it must divide (for messages)
    # The folding attribute that must equal the SIMD of a sliding window generator feeding it (our generator
    # emits one kernel position of SIMD channels a beat): "SIMD" for an MVAU, "PE" for a depthwise consumer
    # (Pool, VVAU); None for a kind that never consumes windows.
    window_fold_attr: str | None = None

    # -- folding
    def fold_limits(self, model, node, inst) -> dict[str, int]:
        """{folding attribute: the value it must divide}; {} for a layer that does not fold."""
        return {}

    def limit_name(self, model, node, attr: str) -> str:
        return self.limit_names.get(attr, "NumChannels")

    def pixel_fold(self, model, node, inst) -> None:
        """Set the default (pixel) folding: one pixel, all channels, per beat. Default: leave it."""

    def elems_per_beat(self, inst, index: int, is_input: bool) -> int:
        """Elements per stream beat of input/output ``index`` (FINN's folded shape, last dim)."""
        shape = inst.get_folded_input_shape(index) if is_input else inst.get_folded_output_shape(index)
        return int(shape[-1])

    # -- performance
    def cycles(self, model, node, inst) -> int:
        """Steady-state cycles per frame of our RTL (default: FINN's ``get_exp_cycles``)."""
        return int(inst.get_exp_cycles())

    # -- RTL
    def rtl_params(self, model, node, inst) -> tuple[str, dict]:
        """(module, parameters) as ``accel.json`` lists them, without building memory files."""
        raise NotImplementedError

    def rtl(self, model, node, inst) -> LayerRTL:
        """The RTL instance with its memory files and library sources."""
        module, params = self.rtl_params(model, node, inst)
        return LayerRTL(module, params)

    # -- resources
    def formula(self, model, node, inst, family: str, part: str) -> tuple[dict, str]:
        """(resources, whose formula) by the uncalibrated formulas."""
        raise NotImplementedError

    def memory_shape(self, module: str, p: dict) -> tuple[int, int, bool] | None:
        """(width, depth, is a ROM) of the memory its RAM_STYLE applies to; None without one."""
        return None

    def terms(self, module: str, p: dict, content: dict | None) -> tuple[dict, list]:
        """(structural terms, block RAMs as (width, depth)) the calibrated LUT and FF models weight."""
        return {}, []

    def content(self, model, node, module: str, p: dict) -> dict:
        """What the calibrated model reads from the memory contents rather than the parameters."""
        return {}

    def calibrated_extra(self, module: str, p: dict, cost: dict) -> dict:
        """The calibrated cost with what lies outside the fit added (DSPs, ...)."""
        return cost

    def report_extra(self, module: str, p: dict) -> dict:
        """Extra columns of the layer's row in estimates.json."""
        return {}


class NodeParamsKind(LayerKind):
    """A kind whose RTL parameters come from the node's attributes alone (:meth:`params`, which also checks
    them), folded by one attribute (``fold_attr``) that must divide the node attribute ``fold_of`` (set to it
    by pixel folding where ``pixel_folds``); its cycles are FINN's ``get_exp_cycles`` once the parameters
    are checked (an unsupported attribute is an error there too)."""

    fold_attr = "PE"
    fold_of = "NumChannels"
    pixel_folds = True

    def params(self, inst) -> tuple[str, dict]:
        raise NotImplementedError

    def fold_limits(self, model, node, inst):
        return {self.fold_attr: inst.get_nodeattr(self.fold_of)}

    def pixel_fold(self, model, node, inst):
        if self.pixel_folds:
            inst.set_nodeattr(self.fold_attr, inst.get_nodeattr(self.fold_of))

    def rtl_params(self, model, node, inst):
        return self.params(inst)

    def cycles(self, model, node, inst):
        self.params(inst)
        return int(inst.get_exp_cycles())


# ------------------------------------------------------------------------------------------ memory styles
def ram_style(node) -> str:
    """The node's ``ram_style`` as set on it (by a folding file or ``flow.memory_styles``), else auto."""
    for attr in node.attribute:
        if attr.name == "ram_style":
            return attr.s.decode()
    return "auto"


def rtl_ram_style(node) -> str:
    """The RTL's RAM_STYLE for a node: its ``ram_style``, with an MVAU's ROM ``"distributed"`` mapped to
    ``"logic"`` (a ROM cannot be a LUT-RAM in Yosys). An MVAU's ``"ultra"`` weights have no initial contents
    (URAM has none): the generator gives it W_LOAD = 1, weights streamed in after reset."""
    style = ram_style(node)
    if is_mvau(node):
        return "logic" if style == "distributed" else style
    return style


# ------------------------------------------------------------------------------------------ attribute checks
def node_name(op) -> str:
    return op.onnx_node.name or op.onnx_node.op_type


def int_dtype(op, dt: DataType, what: str, allow_bipolar: bool = True) -> DataType:
    if not dt.is_integer():
        raise UnsupportedError(f"node {node_name(op)}: {what} datatype {dt.name} is not an integer type")
    if dt == DataType["BIPOLAR"] and not allow_bipolar:
        raise UnsupportedError(f"node {node_name(op)}: {what} datatype BIPOLAR is not supported by arithmetic here "
                               "(its stream encoding is 0 for -1)")
    return dt


def check_divides(op, total: int, fold: int, what: str) -> None:
    if fold < 1 or total % fold:
        raise UnsupportedError(f"node {node_name(op)}: {what}={fold} must divide {total}")


def signed_bits(lo: int, hi: int) -> int:
    """Smallest two's-complement width holding every integer in [lo, hi]."""
    bits = 1
    while not (-(1 << (bits - 1)) <= lo and hi <= (1 << (bits - 1)) - 1):
        bits += 1
    return bits
