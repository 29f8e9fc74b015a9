"""Residual adds of operands quantized separately (each with its own quantizer and scale), made integer exactly.

After streamlining and the conversion to HW layers such a join is ``ElementwiseAdd(Mul(x, s1), Mul(y, s2))``
feeding a ``Thresholding`` (the quantizer after the add): ``x`` and ``y`` are integer streams, ``s1 != s2``
float scales (one shared quantizer would give ``(x + y)*s``, which ``lower.FactorScalesOutOfJoins`` handles).
:class:`ScaleJoinOperands` replaces it by ``ElementwiseAdd(x, y)`` with integer operand weights
``x*m1 + y*m2`` (``layers/addstreams.py``: ``lhs_mul``/``rhs_mul``) and the Thresholding's thresholds by
integers on that sum, where that is exact.

Why it is exact, and when: the thresholds after the add see only the float sum ``f(x, y) = s1*x + s2*y``
(computed in float32 as the graph executes it) and output, per channel, the number of thresholds ``T_k`` it
reaches. ``x`` and ``y`` take the finitely many values of their integer types, so for each candidate pair of
weights every pair ``(x, y)`` is enumerated: the pair is taken when, for every channel and threshold, the
points with ``f >= T_k`` are exactly those with ``m1*x + m2*y >= t_k`` for one integer ``t_k`` (the smallest
weighted sum among them). The new graph then outputs, for every input the old one can receive, what the old
one output. The smallest weights that pass are used (searched up to :data:`MAX_MUL`); when none does (a point
of the grid lies too close to a threshold for any small integer ratio to separate), or the grid is too large
to enumerate (:data:`MAX_POINTS`), or the sum feeds anything but one Thresholding, the join is refused in one
line naming the add.
"""
from __future__ import annotations

import numpy as np
from qonnx.core.datatype import DataType
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.custom_op.registry import getCustomOp
from qonnx.transformation.base import Transformation

from ..errors import UnsupportedError

MAX_MUL = 1 << 12        # largest operand weight tried
MAX_POINTS = 1 << 18     # largest grid of operand values enumerated (two 9-bit operands)


def _operand(model: ModelWrapper, tensor: str):
    """(integer tensor, its float scale, the Mul node or None) of one add operand, or None."""
    dt = model.get_tensor_datatype(tensor)
    if dt.is_integer() and dt != DataType["BIPOLAR"]:
        return tensor, 1.0, None
    prod = model.find_producer(tensor)
    if prod is None or prod.op_type != "Mul" or len(prod.input) != 2:
        return None
    c = model.get_initializer(prod.input[1])
    xdt = model.get_tensor_datatype(prod.input[0])
    if c is None or c.size != 1 or not float(c.reshape(-1)[0]) > 0 or not xdt.is_integer() \
            or xdt == DataType["BIPOLAR"] or len(model.find_consumers(tensor) or []) != 1:
        return None
    return prod.input[0], float(c.reshape(-1)[0]), prod


def integer_thresholds(thr: np.ndarray, xs: np.ndarray, ys: np.ndarray, s1: float, s2: float,
                       m1: int, m2: int) -> np.ndarray | None:
    """Integer thresholds on ``m1*x + m2*y`` giving, for every (x, y) of the grid ``xs`` x ``ys``, every row
    and threshold, the same decision as the float thresholds ``thr`` on ``float32(s1*x) + float32(s2*y)``
    (as the graph computes it); None where no integer threshold does."""
    x, y = np.meshgrid(xs, ys, indexing="ij")
    f = (np.float32(s1) * x.astype(np.float32)) + (np.float32(s2) * y.astype(np.float32))
    f = f.astype(np.float32).reshape(-1)
    v = (m1 * x.astype(np.int64) + m2 * y.astype(np.int64)).reshape(-1)
    order = np.argsort(f, kind="stable")
    fs, vs = f[order], v[order]
    below_max = np.maximum.accumulate(vs)                      # max weighted sum among the i+1 smallest f
    above_min = np.minimum.accumulate(vs[::-1])[::-1]          # min weighted sum from i on
    idx = np.searchsorted(fs, thr.astype(np.float32), side="left")  # first point with f >= T
    n = fs.size
    lo_ok = np.where(idx > 0, below_max[np.maximum(idx - 1, 0)], np.iinfo(np.int64).min)
    hi = np.where(idx < n, above_min[np.minimum(idx, n - 1)], int(v.max()) + 1)
    if np.any(lo_ok >= hi):
        return None
    return hi.astype(np.int64)


def _candidates(s1: float, s2: float):
    """Weight pairs (m1, m2) with m1/m2 near s1/s2, smallest first."""
    r = s1 / s2
    seen = set()
    for d in range(1, MAX_MUL + 1):
        for pair in ((d, int(np.floor(d / r))), (d, int(np.ceil(d / r))),
                     (int(np.floor(d * r)), d), (int(np.ceil(d * r)), d)):
            if min(pair) >= 1 and max(pair) <= MAX_MUL and pair not in seen:
                seen.add(pair)
                yield pair


def weights_for(thr: np.ndarray, xdt: DataType, ydt: DataType, s1: float, s2: float):
    """((m1, m2), integer thresholds) for the join, or (None, why not)."""
    xs = np.arange(int(xdt.min()), int(xdt.max()) + 1)
    ys = np.arange(int(ydt.min()), int(ydt.max()) + 1)
    if xs.size * ys.size > MAX_POINTS:
        return None, f"its operands ({xdt.name}, {ydt.name}) have too many value pairs to check exactly"
    tried = 0
    for m1, m2 in _candidates(s1, s2):
        tried += 1
        t = integer_thresholds(thr, xs, ys, s1, s2, m1, m2)
        if t is not None:
            return (m1, m2), t
    return None, (f"no integer weights up to {MAX_MUL} for its operand scales {s1:.6g} and {s2:.6g} keep every "
                  f"decision of the thresholds after it ({tried} ratios tried)")


class ScaleJoinOperands(Transformation):
    """``Thresholding(ElementwiseAdd(Mul(x, s1), Mul(y, s2)))`` -> ``Thresholding'(ElementwiseAdd(x*m1 + y*m2))``
    where exact (module doc); any other add of non-integer streams is refused in one line."""

    def apply(self, model: ModelWrapper):
        for node in list(model.graph.node):
            if node.op_type != "ElementwiseAdd":
                continue
            inst = getCustomOp(node)
            dts = [DataType[inst.get_nodeattr(a)] for a in ("lhs_dtype", "rhs_dtype")]
            if all(d.is_integer() for d in dts):
                continue
            name = f"node {node.name or node.output[0]} (Add)"
            ops = [_operand(model, t) for t in node.input]
            if any(o is None for o in ops):
                raise UnsupportedError(f"{name}: joins a {dts[0].name} and a {dts[1].name} stream, and an operand "
                                       f"is not an integer stream times one positive scale; a residual add maps "
                                       f"to hardware when each operand is a quantizer's output")
            users = model.find_consumers(node.output[0]) or []
            if len(users) != 1 or users[0].op_type != "Thresholding" or \
                    model.get_initializer(users[0].input[1]) is None:
                raise UnsupportedError(f"{name}: adds operands at different scales (separate quantizers) and the "
                                       f"sum is not requantized by one quantizer after it; the exact integer "
                                       f"form needs that quantizer (or one shared quantizer on both operands)")
            thr_node = users[0]
            thr = np.asarray(model.get_initializer(thr_node.input[1]), dtype=np.float32)
            (x, s1, mul1), (y, s2, mul2) = ops
            xdt, ydt = model.get_tensor_datatype(x), model.get_tensor_datatype(y)
            found, t = weights_for(thr, xdt, ydt, s1, s2)
            if found is None:
                raise UnsupportedError(f"{name}: adds operands at different scales (separate quantizers): {t}")
            m1, m2 = found
            node.input[0], node.input[1] = x, y
            for mul in (mul1, mul2):
                if mul is not None:
                    model.graph.node.remove(mul)
            inst.set_nodeattr("lhs_dtype", xdt.name)
            inst.set_nodeattr("rhs_dtype", ydt.name)
            inst.set_nodeattr("lhs_mul", int(m1))
            inst.set_nodeattr("rhs_mul", int(m2))
            lo, hi = int(xdt.min()) * m1 + int(ydt.min()) * m2, int(xdt.max()) * m1 + int(ydt.max()) * m2
            bits = max(2, int(max(-lo, hi + 1) - 1).bit_length() + 1)
            inst.set_nodeattr("out_dtype", f"INT{bits}")
            model.set_tensor_datatype(node.output[0], DataType[f"INT{bits}"])
            model.set_initializer(thr_node.input[1], t.astype(np.float32))
            getCustomOp(thr_node).set_nodeattr("inputDataType", f"INT{bits}")
        return model, False
