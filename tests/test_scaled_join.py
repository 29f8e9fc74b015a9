"""flow/scaled_join.py: integer weights and thresholds for an add of operands at different scales, checked
against the float graph's decisions over every operand pair (the zoo's resnet-separate runs it end to end)."""
from __future__ import annotations

import numpy as np
import pytest
from qonnx.core.datatype import DataType

from bidrn_hw.flow import scaled_join


def _counts(thr, xs, ys, f):
    x, y = np.meshgrid(xs, ys, indexing="ij")
    v = f(x, y).reshape(-1)
    return (v[None, :, None] >= thr[:, None, :]).sum(-1)


def test_weights_keep_every_decision():
    s1, s2 = np.float32(5.6303086), np.float32(1.2032166)   # the zoo's resnet-separate, block 2
    rng = np.random.default_rng(0)
    thr = np.sort(rng.uniform(-40, 50, size=(4, 15)), axis=1).astype(np.float32)
    xdt, ydt = DataType["INT4"], DataType["UINT4"]
    (m1, m2), t = scaled_join.weights_for(thr, xdt, ydt, float(s1), float(s2))
    assert max(m1, m2) <= scaled_join.MAX_MUL and abs(m1 / m2 - s1 / s2) < 0.5
    xs, ys = np.arange(-8, 8), np.arange(0, 16)
    ref = _counts(thr, xs, ys, lambda x, y: (s1 * x.astype(np.float32)) + (s2 * y.astype(np.float32)))
    got = _counts(t.astype(np.float64), xs, ys, lambda x, y: m1 * x + m2 * y)
    assert np.array_equal(ref, got)
    # a wrong ratio changes decisions: the check is not vacuous
    assert scaled_join.integer_thresholds(thr, xs, ys, float(s1), float(s2), 1, 1) is None


def test_refused_where_not_exact(monkeypatch):
    thr = np.linspace(-40, 50, 15, dtype=np.float32)[None]
    found, why = scaled_join.weights_for(thr, DataType["INT16"], DataType["INT16"], 1.0, 0.3)
    assert found is None and "too many value pairs" in why
    monkeypatch.setattr(scaled_join, "MAX_MUL", 2)
    found, why = scaled_join.weights_for(thr, DataType["INT4"], DataType["INT4"], 5.6303086, 1.2032166)
    assert found is None and "no integer weights up to 2" in why
