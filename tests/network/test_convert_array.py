"""``fixsim.layers._kernels.convert_array``: the vector conversion of the elementwise layers
(batchnorm, the pools' terms) equals the headers' conversion element by element.

The reference is :func:`fixsim.fixed.convert` (the port of the headers' ``operator=``,
itself checked against programs compiled from the ap_types headers in tests/fixed) and the
per-element kernel ``_cvt``.  Format pairs are drawn over every quantization and overflow
mode (WRAP with N > 0 and WRAP_SM included: they take the per-element path), signed and
unsigned, shifts left and right, with values at both ends of the source range.
"""

from __future__ import annotations

import numpy as np
import pytest
from numba import njit

from fixsim.errors import UndefinedInHeaders
from fixsim.fixed import FixedType, convert
from fixsim.fixed.format import Overflow, Quantization
from fixsim.layers import _kernels as K
from fixsim.layers.convert import FAST, descriptor


@njit(cache=True)
def _per_element(v, c, out):
    for k in range(v.shape[0]):
        out[k] = K._cvt(v[k], c)


def _draw(rng):
    while True:
        sw = int(rng.integers(1, 48))
        src = FixedType(sw, int(rng.integers(-6, sw + 6)), bool(rng.random() < 0.8))
        dw = int(rng.integers(1, 40))
        o = list(Overflow)[rng.integers(len(Overflow))]
        n = int(rng.integers(1, 3)) if o in (Overflow.AP_WRAP, Overflow.AP_WRAP_SM) and \
            rng.random() < 0.3 else 0
        try:
            dst = FixedType(dw, int(rng.integers(-6, dw + 6)), bool(rng.random() < 0.8),
                            list(Quantization)[rng.integers(len(Quantization))], o, min(n, dw))
        except Exception:  # N > W or a 1-bit signed SAT_SYM the format refuses: draw again
            continue
        return src, dst


@pytest.mark.parametrize("seed", range(4))
def test_equal_to_the_headers_conversion(seed):
    rng = np.random.default_rng(seed)
    fast = 0
    for _ in range(400):
        src, dst = _draw(rng)
        c = descriptor(src, dst)
        fast += int(c[FAST])
        v = rng.integers(src.raw_min, src.raw_max, 64, dtype=np.int64, endpoint=True)
        v[:3] = src.raw_min, src.raw_max, 0
        try:
            want = convert(v, src, dst, warn=False).astype(np.int64)
        except UndefinedInHeaders:  # the headers assert (a spec refuses such a pair)
            continue
        got = v.copy()
        K.convert_array(got, c, got)  # in place, as the layers call it
        per = np.empty_like(v)
        _per_element(v, c, per)
        assert np.array_equal(got, want), f"{src} -> {dst}"
        assert np.array_equal(per, want), f"{src} -> {dst} (per element)"
    assert fast > 200  # the vector form itself was exercised
