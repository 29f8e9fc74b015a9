"""Thresholds computed from lines (layers/threshold_lines.py): exact fits, counts equal to the table's."""
import numpy as np
import pytest

from bidrn_hw.layers.threshold_lines import fit_lines, line_words, lines_for, verify, word_bits


def line_thresholds(rng, channels, steps, lo, hi, segments):
    """Ceiled samples of a monotone function with one or two affine pieces per channel, clipped like the
    generator's tables (some thresholds fall outside [lo, hi])."""
    rows = []
    for _ in range(channels):
        span = (hi - lo) * rng.uniform(0.3, 1.6)
        start = lo + (hi - lo) * rng.uniform(-0.4, 0.6)
        slopes = rng.uniform(0.2, 3.0, segments) * span / steps
        knee = int(rng.integers(steps // 4, 3 * steps // 4)) if segments == 2 else steps
        k = np.arange(steps)
        t = start + np.where(k < knee, k * slopes[0], knee * slopes[0] + (k - knee) * slopes[-1])
        rows.append(t)
    t = np.ceil(np.array(rows) + rng.uniform(0, 1e-3))
    return np.clip(t, lo, hi + 1).astype(np.int64)


def table_counts(t, x):
    return (x[:, None, :] >= t.T[None, :, :]).sum(axis=1)


@pytest.mark.parametrize("seed", range(8))
def test_fits_reproduce_the_table_for_every_value(seed):
    rng = np.random.default_rng(seed)
    segments = 1 + seed % 2
    lo, hi = (0, int(rng.integers(20, 3000))) if seed % 4 < 2 else (-int(rng.integers(100, 5000)), int(rng.integers(100, 5000)))
    steps = int(rng.choice([16, 31, 127, 255]))
    t = line_thresholds(rng, int(rng.integers(1, 9)), steps, lo, hi, segments)
    lines = fit_lines(t, lo, hi)
    assert lines is not None, (seed, lo, hi, steps)
    assert lines.lines <= segments
    assert verify(lines, t, lo, hi)
    x = np.arange(lo, hi + 1)[:, None].repeat(t.shape[0], axis=1)
    assert np.array_equal(lines.counts(x), table_counts(t, x))  # every value of the range, exhaustively


def test_unrelated_thresholds_keep_the_table():
    rng = np.random.default_rng(5)
    t = np.sort(rng.integers(0, 1000, (4, 64)), axis=1)
    lines = fit_lines(t, 0, 999)
    if lines is not None:  # a fit is only ever returned exact
        x = np.arange(0, 1000)[:, None].repeat(4, axis=1)
        assert np.array_equal(lines.counts(x), table_counts(t, x))
    assert fit_lines(np.array([[5, 7, 8, 30, 31, 90, 91, 92, 200, 201, 202, 500, 900, 901, 902, 990]]), 0, 999) is None


def test_policy_and_words():
    rng = np.random.default_rng(1)
    t = line_thresholds(rng, 4, 32, -500, 500, 2)
    assert lines_for(t[:1], -500, 500) is None          # one row shared by every channel: the table stays
    assert lines_for(t[:, :8], -500, 500) is None       # few thresholds: the search is cheaper
    assert lines_for(np.tile(t, (1, 40)), -500, 500) is None  # 1,280 steps: more than the RTL's count holds
    lines = lines_for(t, -500, 500)
    assert lines is not None and lines_for(t, -500, 500) is lines  # remembered by contents
    words = line_words(lines, 2)
    assert sorted(words) == [0, 1] and len(words[0]) == 2
    assert all(0 <= w < (1 << word_bits(lines)) for ws in words.values() for w in ws)
    mb = lines.m_bits
    assert words[1][0] & ((1 << mb) - 1) == lines.m1[1]  # channel 1 is lane 1's first word, M1 in the low bits


def test_equal_rows_are_fitted_once_and_expanded():
    rng = np.random.default_rng(9)
    base = line_thresholds(rng, 3, 40, -300, 300, 2)
    t = base[[0, 1, 0, 2, 1, 2, 0]]
    lines = fit_lines(t, -300, 300)
    assert lines is not None and lines.m1.shape == (7,)
    x = np.arange(-300, 301)[:, None].repeat(7, axis=1)
    assert np.array_equal(lines.counts(x), table_counts(t, x))
    assert verify(lines, t, -300, 300)
