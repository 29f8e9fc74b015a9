"""Thresholds computed from one or two lines per channel instead of stored (``hls/threshold_lines.sv``).

A channel's sorted thresholds t_0..t_{N-1} over integer values in [lo, hi] define the count
#{k : x >= t_k}. BiDRN's requantizations make them samples of a monotone function that is affine (BN
and a weight scale) or two affine pieces (RPReLU after them), so the count is, exactly,

    line:  c(x) = floor((x * M + C) / 2^SH)          (M > 0; integers; one shift per node)
    count = clamp(c1(x), 0, N)                        one line
    count = clamp(max(c1(x), c2(x)), 0, N)            two lines, concave thresholds (SEL = 1)
    count = clamp(min(c1(x), c2(x)), 0, N)            two lines, convex thresholds (SEL = 0)

Level k of a line is passed from x >= L_k = ceil(((k+1) 2^SH - C) / M); max(c1, c2) passes it from
min(L1_k, L2_k), min(c1, c2) from max(L1_k, L2_k). :func:`fit_lines` finds M, C (and the split between the
lines) such that these equal t_k for every threshold inside [lo, hi] and stay on the right side of lo and
hi for the clipped ones. Each condition bounds C by an interval whose ends are linear in M; intervals
meet exactly when the largest lower end is at most the least upper end, a convex function of M that a
binary search minimizes. Every fit is verified level by level, so it is exact, not approximate: a layer
whose thresholds are not of this form keeps its stored table.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np

_BIG = np.int64(1) << 62
_MAX_SHIFT = 46   # with M <= 2^34: (k+1) 2^SH and M * x stay well inside int64 for values of up to 26 bits
_MAX_M = 1 << 34
MIN_STEPS = 16    # fewer thresholds per channel: the search's few LUTs beat the multipliers
MAX_STEPS = 1023  # threshold_lines.sv's count is 11 bits


@dataclass(frozen=True)
class ThresholdLines:
    """Per-channel line coefficients (channels,) int64, the shared shift, and which lines exist."""
    m1: np.ndarray
    c1: np.ndarray
    m2: np.ndarray | None
    c2: np.ndarray | None
    sel: np.ndarray | None  # 1: count = max(c1, c2) (concave thresholds); 0: min
    shift: int
    n_steps: int            # N: the count's clamp (thresholds per channel)

    @property
    def lines(self) -> int:
        return 1 if self.m2 is None else 2

    @property
    def m_bits(self) -> int:
        """Unsigned width of the slopes."""
        ms = [self.m1] + ([self.m2] if self.m2 is not None else [])
        return max(1, int(max(int(m.max()) for m in ms)).bit_length())

    @property
    def c_bits(self) -> int:
        """Two's complement width of the offsets."""
        cs = [self.c1] + ([self.c2] if self.c2 is not None else [])
        lo, hi = min(int(c.min()) for c in cs), max(int(c.max()) for c in cs)
        bits = 1
        while not (-(1 << (bits - 1)) <= lo and hi < (1 << (bits - 1))):
            bits += 1
        return bits

    def counts(self, x: np.ndarray) -> np.ndarray:
        """The count for values ``x`` (..., channels) as the RTL computes it (a test oracle)."""
        x = np.asarray(x, dtype=object)
        c = (x * self.m1.astype(object) + self.c1.astype(object)) >> self.shift
        if self.m2 is not None:
            c2 = (x * self.m2.astype(object) + self.c2.astype(object)) >> self.shift
            c = np.where(self.sel.astype(bool), np.maximum(c, c2), np.minimum(c, c2))
        return np.clip(c, 0, self.n_steps).astype(np.int64)


def _bounds(t: np.ndarray, lo: int, hi: int) -> tuple[np.ndarray, np.ndarray]:
    """Per level k: alpha (C >= (k+1)D - M alpha: the level is passed at alpha) and beta (C <= (k+1)D -
    M beta - 1: it is not passed at beta), +-_BIG where that side is free. A threshold at or below lo is
    always passed (no beta), one above hi never (no alpha)."""
    alpha = np.where(t <= lo, lo, np.where(t > hi, _BIG, t)).astype(np.int64)
    beta = np.where(t > hi, hi, np.where(t <= lo, -_BIG, t - 1)).astype(np.int64)
    return alpha, beta


def _pair_bracket(alpha, beta, d) -> tuple[np.ndarray, np.ndarray]:
    """Per row, a range of M that contains every feasible one: the pairwise conditions M (beta_j - alpha_i)
    <= (j - i) D - 1 of a few levels (each row's first and last bounded ones and some in between) are
    necessary. Their span is narrow, so the search in :func:`_best_m` takes few steps."""
    rows, n = alpha.shape
    idx = np.arange(n)[None, :]
    has_a, has_b = alpha < _BIG, beta > -_BIG
    pick = [np.where(has, idx, n).min(axis=1) for has in (has_a, has_b)]
    pick += [np.where(has, idx, -1).max(axis=1) for has in (has_a, has_b)]
    pick = np.stack([np.clip(q, 0, n - 1) for q in pick] + [np.full(rows, q) for q in (n // 4, n // 2, 3 * n // 4)], 1)
    a, b = np.take_along_axis(alpha, pick, 1), np.take_along_axis(beta, pick, 1)
    k = pick.astype(np.int64)
    used = (a < _BIG)[:, :, None] & (b > -_BIG)[:, None, :]
    den = np.where(used, b[:, None, :] - a[:, :, None], 0)
    r = (k[:, None, :] - k[:, :, None]) * d.reshape(-1, 1, 1) - 1
    upper = np.where(used & (den > 0), r // np.where(den > 0, den, 1), _BIG).min(axis=(1, 2))
    lower = np.where(used & (den < 0), -((-r) // np.where(den < 0, den, -1)), 1).max(axis=(1, 2))
    impossible = (used & (den == 0) & (r < 0)).any(axis=(1, 2))
    return np.maximum(lower, 1), np.where(impossible, 0, upper)


def _best_m(alpha, beta, d) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per row, the M in [1, min(2^34, D (N+1) 2)] where the gap low(M) - high(M) between the largest lower
    and the least upper bound of C (convex: a max of lines less a min of lines) is least, that gap (<= 0:
    feasible; _BIG where the bracket is empty) and the least C there (0, or the upper bound if negative,
    where no level bounds C from below)."""
    rows_n, n = alpha.shape
    d = np.broadcast_to(np.asarray(d, dtype=np.int64), (rows_n,))
    k1 = np.arange(1, n + 1, dtype=np.int64)[None, :] * d[:, None]
    has_a, has_b = alpha < _BIG, beta > -_BIG
    a0, b0 = np.where(has_a, alpha, 0), np.where(has_b, beta, 0)
    # a missing bound: a large penalty instead of a mask (|k1 - M x| stays below 2^61)
    base_low = k1 + np.where(has_a, 0, -_BIG)
    base_high = k1 - 1 + np.where(has_b, 0, _BIG)

    def bounds(m, rows):
        """Per level, C's lower (C >= (k+1)D - M alpha) and upper (C <= (k+1)D - M beta - 1) bound."""
        return base_low[rows] - m[:, None] * a0[rows], base_high[rows] - m[:, None] * b0[rows]

    def gap(low, high):
        return np.clip(low.max(1), -_BIG // 4, _BIG // 4) - np.clip(high.min(1), -_BIG // 4, _BIG // 4)

    lo, hi = _pair_bracket(alpha, beta, d)
    hi = np.minimum(hi, np.minimum(d * 2 * (n + 1), _MAX_M))
    empty = lo > hi
    hi = np.where(empty, lo, hi)
    while np.any(lo < hi):  # least m with gap(m + 1) >= gap(m)
        rows = np.flatnonzero(lo < hi)
        mid = (lo[rows] + hi[rows]) // 2
        low, high = bounds(mid, rows)
        rising = gap(low - a0[rows], high - b0[rows]) >= gap(low, high)  # bounds at mid + 1
        hi[rows], lo[rows] = np.where(rising, mid, hi[rows]), np.where(rising, lo[rows], mid + 1)
    low, high = bounds(lo, np.arange(rows_n))
    g = np.where(empty, _BIG, gap(low, high))
    c = np.where(has_a.any(axis=1), low.max(1), np.minimum(0, high.min(1)))
    return lo, g, c


def _fit(alpha, beta, max_shift: int = _MAX_SHIFT) -> np.ndarray:
    """Per row, the least shift with a feasible M (feasibility only grows with the shift: M and C may
    double), or max_shift + 1 where none is."""
    rows = alpha.shape[0]
    lo, hi = np.zeros(rows, dtype=np.int64), np.full(rows, max_shift + 1, dtype=np.int64)
    while np.any(lo < hi):
        mid = (lo + hi) // 2
        _, g, _ = _best_m(alpha, beta, np.int64(1) << np.minimum(mid, max_shift))
        ok = (g <= 0) & (mid <= max_shift)
        hi, lo = np.where(ok, mid, hi), np.where(ok, lo, mid + 1)
    return lo


def _at_shift(alpha, beta, shift: int) -> tuple[np.ndarray, np.ndarray]:
    """Each row's M and C at a common shift (feasible there: the shift is at least each row's least)."""
    m, _, c = _best_m(alpha, beta, np.int64(1) << np.int64(shift))
    return m, c


def _first_pass(m, c, shift: int, levels: int) -> np.ndarray:
    """Per channel and level k, the least value passing it: ceil(((k+1) 2^SH - C) / M), exactly."""
    k1 = np.arange(1, levels + 1, dtype=object)[None, :] << shift
    return -((c.astype(object)[:, None] - k1) // m.astype(object)[:, None])


def verify(lines: ThresholdLines, thresholds: np.ndarray, lo: int, hi: int) -> bool:
    """Exactly: each level's first passing value equals its threshold inside [lo, hi], and clipped ones stay
    on their side (at or below lo: passed by every value; above hi: by none)."""
    t = np.asarray(thresholds, dtype=np.int64)
    first = _first_pass(lines.m1, lines.c1, lines.shift, t.shape[1])
    if lines.lines == 2:
        other = _first_pass(lines.m2, lines.c2, lines.shift, t.shape[1])
        first = np.where(lines.sel.astype(bool)[:, None], np.minimum(first, other), np.maximum(first, other))
    ok = np.where(t <= lo, first <= lo, np.where(t > hi, first > hi, first == t))
    return bool(np.all(ok))


def _knees(t: np.ndarray, lo: int, hi: int, width: int = 8) -> np.ndarray:
    """Per channel, the level where the slope of the thresholds inside (lo, hi] changes most (the RPReLU's
    knee): where the second line starts. Slopes are taken over ``width`` levels on either side, since the
    ceiling makes single steps jitter by one."""
    n = t.shape[1]
    if n < 2 * width + 1:
        width = max(1, (n - 1) // 2)
    inside = (t > lo) & (t <= hi)
    f = t.astype(np.float64)
    k = np.arange(width, n - width)
    change = np.abs((f[:, k + width] - f[:, k]) - (f[:, k] - f[:, k - width]))
    usable = inside[:, k - width] & inside[:, k + width]
    if not k.size:
        return np.zeros(t.shape[0], dtype=np.int64)
    return k[np.where(usable, change, -1).argmax(axis=1)]


def _concave(t: np.ndarray, lo: int, hi: int) -> np.ndarray:
    """Per channel: do the thresholds inside (lo, hi] rise faster first (concave: count = max of lines)?"""
    inside = (t > lo) & (t <= hi)
    idx = np.arange(t.shape[1])[None, :]
    first = np.where(inside, idx, t.shape[1]).min(axis=1)
    last = np.where(inside, idx, -1).max(axis=1)
    mid = (first + last) // 2
    rows = np.arange(t.shape[0])
    take = lambda i: t[rows, np.clip(i, 0, t.shape[1] - 1)].astype(np.float64)
    early = (take(mid) - take(first)) / np.maximum(mid - first, 1)
    late = (take(last) - take(mid)) / np.maximum(last - mid, 1)
    return early >= late


def fit_lines(thresholds: np.ndarray, lo: int, hi: int) -> ThresholdLines | None:
    """Lines that reproduce ``thresholds`` ((channels, N) integers, sorted per row, clipped or not) exactly for
    integer values in [lo, hi]: one line where every channel allows it, else two per channel; None where two
    do not either (the caller then stores the table). Channels with equal rows are fitted once."""
    t = np.asarray(thresholds, dtype=np.int64)
    rows, inverse = np.unique(t, axis=0, return_inverse=True)
    if rows.shape[0] < t.shape[0]:
        lines = fit_lines(rows, lo, hi)
        if lines is None:
            return None
        inverse = inverse.reshape(-1)
        pick = (lambda a: None if a is None else a[inverse])
        return ThresholdLines(lines.m1[inverse], lines.c1[inverse], pick(lines.m2), pick(lines.c2), pick(lines.sel),
                              lines.shift, lines.n_steps)
    channels, n = t.shape
    alpha, beta = _bounds(t, lo, hi)
    shifts = _fit(alpha, beta)
    if np.all(shifts <= _MAX_SHIFT):
        shift = int(shifts.max())
        m, c = _at_shift(alpha, beta, shift)
        lines = ThresholdLines(m, c, None, None, None, shift, n)
        return lines if verify(lines, t, lo, hi) else None
    # Two lines. The line covering a level takes both its bounds; the other only the side that keeps the
    # combination right: under max it must not pass the level earlier (beta), under min not later (alpha).
    knees, concave = _knees(t, lo, hi), _concave(t, lo, hi)
    levels = np.arange(n)[None, :]
    chosen = np.full(channels, _MAX_SHIFT + 1, dtype=np.int64)
    pick_sel, pick_split = np.zeros(channels, dtype=np.int64), np.zeros(channels, dtype=np.int64)
    for flip in (False, True):
        sel = np.where(concave != flip, 1, 0)
        for delta in (0, 1, -1, 2, -2, 3, -3, 4, -4):
            todo = chosen > _MAX_SHIFT
            if not todo.any():
                break
            split = np.clip(knees + delta, 0, n)
            worst = np.zeros(channels, dtype=np.int64)
            for a, b in _line_bounds(alpha, beta, levels < split[:, None], sel):
                worst[todo] = np.maximum(worst[todo], _fit(a[todo], b[todo]))
            newly = todo & (worst <= _MAX_SHIFT)
            chosen[newly], pick_sel[newly], pick_split[newly] = worst[newly], sel[newly], split[newly]
    if np.any(chosen > _MAX_SHIFT):
        return None
    shift = int(chosen.max())
    (a1, b1), (a2, b2) = _line_bounds(alpha, beta, levels < pick_split[:, None], pick_sel)
    m1, c1 = _at_shift(a1, b1, shift)
    m2, c2 = _at_shift(a2, b2, shift)
    lines = ThresholdLines(m1, c1, m2, c2, pick_sel, shift, n)
    return lines if verify(lines, t, lo, hi) else None


def _line_bounds(alpha, beta, first: np.ndarray, sel: np.ndarray):
    """(alpha, beta) of line 1 (covering the levels in ``first``) and of line 2 (the others)."""
    concave = sel.astype(bool)[:, None]
    other_alpha = np.where(concave, _BIG, alpha)   # max: the other line keeps only beta
    other_beta = np.where(concave, beta, -_BIG)    # min: only alpha
    return ((np.where(first, alpha, other_alpha), np.where(first, beta, other_beta)),
            (np.where(first, other_alpha, alpha), np.where(first, other_beta, beta)))


_memo: dict = {}


def lines_for(thresholds: np.ndarray, lo: int, hi: int) -> ThresholdLines | None:
    """:func:`fit_lines` for a node's clipped integer thresholds, remembered by their contents (the generator
    and the estimator ask for the same node many times while folding). None where the table is kept: a row
    shared by all channels, fewer than :data:`MIN_STEPS` thresholds or more than the RTL's count holds,
    values of 29 bits or more (the search's arithmetic stays in int64), or no exact fit."""
    t = np.asarray(thresholds, dtype=np.int64)
    if t.shape[0] == 1 or not MIN_STEPS <= t.shape[1] <= MAX_STEPS or max(-lo, hi) >= 1 << 28:
        return None
    key = (hashlib.sha1(t.tobytes()).hexdigest(), t.shape, lo, hi)
    if key not in _memo:
        _memo[key] = fit_lines(t, lo, hi)
    return _memo[key]


def line_words(lines: ThresholdLines, pe: int) -> dict[int, list[int]]:
    """threshold_lines.sv's memory words per lane p: word nf is channel nf*PE + p, {SEL, C2, M2, C1, M1}."""
    mb, cb = lines.m_bits, lines.c_bits
    cmask = (1 << cb) - 1

    def word(c: int) -> int:
        w = int(lines.m1[c]) | (int(lines.c1[c]) & cmask) << mb
        if lines.lines == 2:
            lw = mb + cb
            w |= (int(lines.m2[c]) | (int(lines.c2[c]) & cmask) << mb) << lw
            w |= int(lines.sel[c]) << (2 * lw)
        return w

    channels = lines.m1.shape[0]
    return {p: [word(c) for c in range(p, channels, pe)] for p in range(pe)}


def word_bits(lines: ThresholdLines) -> int:
    lw = lines.m_bits + lines.c_bits
    return 2 * lw + 1 if lines.lines == 2 else lw


def line_files(lines: ThresholdLines, pe: int, name: str = "thresholds.mem") -> dict[str, str]:
    """The memory files, one word per line in hex: ``name`` for lane 0, ``name.lPPP`` for lane p."""
    if pe > 999:
        raise ValueError(f"PE {pe}: threshold memories are named with 3-digit lane numbers (PE <= 999)")
    digits = -(-word_bits(lines) // 4)
    return {name if p == 0 else f"{name}.l{p:03d}": "".join(f"{w:0{digits}x}\n" for w in words)
            for p, words in line_words(lines, pe).items()}


def line_params(lines: ThresholdLines, act_val: int) -> dict:
    """threshold_lines.sv's parameters (through mvau.sv / thresholding.sv)."""
    return dict(N_STEPS=lines.n_steps, LINES=lines.lines, M_BITS=lines.m_bits, C_BITS=lines.c_bits,
                SHIFT=lines.shift, ACT_VAL=act_val, SHARED=0, BASE_BITS=0, THRESH_FILE="thresholds.mem")
