"""Hypothesis strategies and seeded format pools, in one place."""

from __future__ import annotations

import os
import random

from hypothesis import strategies as st

from fixsim.fixed.format import (MAX_INT_BITS, MIN_INT_BITS, FixedType, Overflow,
                                 Quantization)

QS = list(Quantization)
OS = list(Overflow)


@st.composite
def formats(draw, max_width: int = 64, min_width: int = 1, int_spread: int = 12):
    """Any valid format; I concentrated around [-spread, W + spread], sometimes extreme."""
    w = draw(st.integers(min_width, max_width))
    i = draw(st.one_of(st.integers(-int_spread, w + int_spread),
                       st.integers(MIN_INT_BITS, MAX_INT_BITS)))
    s = draw(st.booleans())
    q = draw(st.sampled_from(QS))
    o = draw(st.sampled_from([m for m in OS if s or m != Overflow.AP_WRAP_SM]))
    n = draw(st.integers(0, min(w, 4)) | st.integers(0, w))
    return FixedType(w, i, s, q, o, n)


def raw_values(fmt: FixedType, d: int | None = None):
    """Mantissas of ``fmt``: boundaries, ties for dropping ``d`` bits, and uniform."""
    lo, hi = fmt.raw_min, fmt.raw_max
    edges = sorted({lo, lo + 1, hi - 1, hi, 0, 1, -1, lo // 2, hi // 2} & set(range(lo, hi + 1))
                   if hi - lo < 64 else {v for v in (lo, lo + 1, hi - 1, hi, 0, 1, -1, lo // 2, hi // 2)
                                         if lo <= v <= hi})
    parts = [st.integers(lo, hi), st.sampled_from(edges)]
    if d is not None and 0 < d < 63:
        half = 1 << (d - 1)

        def tie(k):
            return max(lo, min(hi, (k << d) + half))
        parts.append(st.integers(lo >> d, hi >> d).map(tie))
    return st.one_of(*parts)


def _rng_format(rng: random.Random, max_width=64) -> FixedType:
    w = rng.choice([rng.randint(1, max_width), rng.randint(1, 10), max_width, 1, 2])
    i = rng.choice([rng.randint(-8, w + 8), rng.randint(-40, 70), w, 0, 1, -1, w + 1,
                    rng.randint(MIN_INT_BITS, MAX_INT_BITS)])
    s = rng.random() < 0.6
    q = rng.choice(QS)
    o = rng.choice([m for m in OS if s or m != Overflow.AP_WRAP_SM])
    n = rng.choice([0, 0, 1, 2, 3, rng.randint(0, w)])
    return FixedType(w, i, s, q, o, min(n, w))


def pool_seed() -> int:
    return int(os.environ.get("FIXSIM_POOL_SEED", "20261121"))


def pool_size(default: int) -> int:
    if os.environ.get("FIXSIM_HYPOTHESIS_PROFILE") == "long":
        return default * 8
    return default


def format_pool(n: int, seed: int, max_width: int = 64) -> list[FixedType]:
    """A seeded pool of formats (the oracle is compiled once for the whole pool)."""
    rng = random.Random(seed)
    return [_rng_format(rng, max_width) for _ in range(n)]
