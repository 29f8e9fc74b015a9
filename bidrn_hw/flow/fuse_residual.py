"""Fuse a residual join into the MVAU that feeds it: ``Add(MVAU(x), skip)`` and the add's requantizing
``Thresholding`` become one ``MVAUResidual`` node (RTL: ``hls/mvau_residual.sv``), exactly.

How BiDRN's partitions are streamlined (``flow.lower``): a binarized convolution is an MVAU whose thresholds
(its BN, weight scale, RPReLU and the residual quantizer, absorbed by Streamline) give an integer ``y`` at the
residual scale (INT8, ActVal -128); ``MinimizeAddWidth`` makes the ``ElementwiseAdd`` of ``y`` and the skip an
INT9 stream, and the residual quantizer after the add becomes a ``Thresholding`` of 255 thresholds
(-127 .. 127, one row shared by every channel): ``clamp(y + skip, -128, 127)``, the hardware variant's
saturating add. The fused unit computes ``clamp(y + skip + OFFSET, LO, HI)`` after the MVAU's own thresholds,
so it is exact whenever the add's Thresholding is such a saturation, which :func:`saturation_of` checks over
every value the sum can take (not by looking at the thresholds' shape). Adding the skip to the accumulator
before the MVAU's thresholds instead would not be exact: the stored graph saturates ``y`` before the add
(``clamp(y) + skip`` differs from ``clamp(y + skip)`` where ``y`` saturates) and rounds ``y`` on its own
scale.

A join stays unfused, with its reason recorded in the model's metadata (``bidrn_hw.residual_fusion``, a
JSON list; :func:`fusion_report`), where neither input is an MVAU with thresholds used only by the add (e.g.
the block residual adding a finished residual sum), where the sum is not requantized by one Thresholding, or
where that Thresholding is not a saturation of the sum. Where both inputs are MVAUs, the one on the longer
path (the main convolution) takes the skip, so the skip FIFO sits on the short path as the branch FIFO did.

``BIDRN_HW_FUSE_RESIDUAL=0``/``1`` in the environment turns the pass off/on (off: the unfused graph, the
reference); without it, :data:`DEFAULT` holds.
"""
from __future__ import annotations

import json
import os

import numpy as np
from onnx import helper
from qonnx.core.datatype import DataType
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.custom_op.registry import getCustomOp
from qonnx.transformation.base import Transformation

from ..layers.addstreams import operand_muls
from ..layers.mvau_residual import OP_TYPE  # the fused node's kind; importing it registers the custom op
from .fifos import _fork_of, path_rows

METADATA = "bidrn_hw.residual_fusion"
ENV = "BIDRN_HW_FUSE_RESIDUAL"


DEFAULT = "1"  # on: stitched tiny (all partitions) equals QONNX of the unfused export (tests/test_accelerator_tiny.py)


def enabled() -> bool:
    """Whether the pass fuses: ``BIDRN_HW_FUSE_RESIDUAL`` (1/0), else :data:`DEFAULT`."""
    return os.environ.get(ENV, DEFAULT).strip().lower() not in ("0", "false", "off", "no")


# ------------------------------------------------------------------------------------------ exactness
def saturation_of(model: ModelWrapper, thr_node, sum_dt: DataType) -> tuple[tuple[int, int, int] | None, str]:
    """((OFFSET, LO, HI), "") where the Thresholding ``thr_node`` computes ``clamp(v + OFFSET, LO, HI)`` for
    every value ``v`` of ``sum_dt`` in every channel, else (None, why not)."""
    inst = getCustomOp(thr_node)
    odt = inst.get_output_datatype(0)
    if odt == DataType["BIPOLAR"] or not odt.is_integer():
        return None, f"its requantization {thr_node.name} outputs {odt.name}, not an integer type"
    thr = model.get_initializer(thr_node.input[1])
    if thr is None:
        return None, f"the thresholds of {thr_node.name} are not constant"
    if not sum_dt.is_integer() or sum_dt.bitwidth() > 20:
        return None, f"the sum's type {sum_dt.name} is not a narrow integer type"
    act = int(inst.get_nodeattr("ActVal"))
    thr = np.asarray(thr, dtype=np.float64)
    v = np.arange(int(sum_dt.min()), int(sum_dt.max()) + 1, dtype=np.float64)
    out = act + (v[None, :, None] >= thr[:, None, :]).sum(axis=-1)          # MultiThreshold per row
    lo, hi = act, act + thr.shape[1]
    # The offset from the first value that is not clamped, then every row and value checked.
    inner = np.nonzero((out[0] > lo) & (out[0] < hi))[0]
    if not inner.size:
        return None, f"{thr_node.name} is constant over the sum's range"
    offset = int(out[0, inner[0]] - v[inner[0]])
    if not np.array_equal(out, np.broadcast_to(np.clip(v + offset, lo, hi), out.shape)):
        return None, f"{thr_node.name} is not a saturation clamp(sum + c) of the sum (a general requantization)"
    if not (odt.min() <= lo and hi <= odt.max()):
        return None, f"{thr_node.name}'s range [{lo}, {hi}] exceeds its output type {odt.name}"
    return (offset, lo, hi), ""


def _mvau_candidate(model: ModelWrapper, add, idx: int) -> str:
    """'' where input ``idx`` of ``add`` is an MVAU with thresholds that only the add uses, else why not."""
    producer = model.find_producer(add.input[idx])
    if producer is None:
        return "a graph input"
    if producer.op_type != "MVAU":
        return f"{producer.op_type} {producer.name}"
    inst = getCustomOp(producer)
    if inst.get_nodeattr("noActivation"):
        return f"MVAU {producer.name} without thresholds"
    if inst.get_output_datatype(0) == DataType["BIPOLAR"]:
        return f"MVAU {producer.name} with a bipolar output"
    if len(model.find_consumers(add.input[idx]) or []) != 1 or \
            add.input[idx] in [o.name for o in model.graph.output]:
        return f"MVAU {producer.name} whose output has other consumers"
    return ""


def _path_rows(model: ModelWrapper, add, idx: int) -> float:
    try:
        return path_rows(model, add.input[idx], _fork_of(model, add), {})
    except Exception:  # no common fork (not a residual block): no preference
        return 0.0


class FuseResidualMVAU(Transformation):
    """Replace every exact ``Thresholding(ElementwiseAdd(MVAU(x), skip))`` by one ``MVAUResidual`` (see the
    module doc); records every join, fused or not, in the model's ``bidrn_hw.residual_fusion`` metadata."""

    def __init__(self, enable: bool | None = None):
        super().__init__()
        self.enable = enable

    def apply(self, model: ModelWrapper):
        enable = enabled() if self.enable is None else self.enable
        report = []
        for add in [n for n in model.graph.node if n.op_type == "ElementwiseAdd"]:
            entry = {"join": add.name}
            report.append(entry)
            if not enable:
                entry["reason"] = f"fusion off ({ENV}=0)"
                continue
            if len(add.input) != 2 or any(model.get_initializer(t) is not None for t in add.input):
                entry["reason"] = "not an add of two streams"
                continue
            if operand_muls(add) != (1, 1):
                entry["reason"] = "a scaled join (operands at different scales, flow/scaled_join.py)"
                continue
            consumers = model.find_consumers(add.output[0]) or []
            if len(consumers) != 1 or consumers[0].op_type != "Thresholding":
                entry["reason"] = "the sum is not requantized by one Thresholding"
                continue
            req = consumers[0]
            sum_dt = model.get_tensor_datatype(add.output[0])
            sat, why = saturation_of(model, req, sum_dt)
            if sat is None:
                entry["reason"] = why
                continue
            whys = [_mvau_candidate(model, add, i) for i in (0, 1)]
            ok = [i for i in (0, 1) if not whys[i]]
            if not ok:
                entry["reason"] = (f"neither input is an MVAU with thresholds used only by the add "
                                   f"({whys[0]}; {whys[1]})")
                continue
            if len(ok) == 2:  # the main convolution (longer path) takes the skip
                rows = [_path_rows(model, add, i) for i in (0, 1)]
                ok = [1] if rows[1] > rows[0] else [0]
            i = ok[0]
            mvau = model.find_producer(add.input[i])
            skip = add.input[1 - i]
            self._fuse(model, mvau, add, req, skip, sat)
            entry.update(fused_into=mvau.name, skip=skip, offset=sat[0], lo=sat[1], hi=sat[2])
        if report:
            model.set_metadata_prop(METADATA, json.dumps(report))
        return model, False

    @staticmethod
    def _fuse(model: ModelWrapper, mvau, add, req, skip: str, sat: tuple[int, int, int]) -> None:
        offset, lo, hi = sat
        out = req.output[0]
        odt = getCustomOp(req).get_output_datatype(0)
        attrs = {a.name: helper.get_attribute_value(a) for a in mvau.attribute}
        attrs = {k: (v.decode() if isinstance(v, bytes) else v) for k, v in attrs.items()}
        attrs.update(skipDataType=model.get_tensor_datatype(skip).name, residualDataType=odt.name,
                     residualOffset=int(offset), residualLo=int(lo), residualHi=int(hi))
        fused = helper.make_node(OP_TYPE, [*mvau.input[:3], skip], [out], name=f"{mvau.name}_residual",
                                 domain=mvau.domain, **attrs)
        # In the add's place: after the producers of both its inputs (a skip may come from a node after the
        # MVAU) and before every consumer of the requantized sum, so the graph stays topologically sorted.
        graph = model.graph
        nodes = list(graph.node)
        pos = nodes.index(add) - sum(nodes.index(n) < nodes.index(add) for n in (mvau, req))
        for n in (mvau, add, req):
            graph.node.remove(n)
        graph.node.insert(pos, fused)
        model.set_tensor_datatype(out, odt)


def fusion_report(model: ModelWrapper) -> list[dict]:
    """The joins the pass saw: ``{"join", "fused_into", "skip", ...}`` or ``{"join", "reason"}``."""
    text = model.get_metadata_prop(METADATA)
    return json.loads(text) if text else []
