"""The shared preprocessing steps, against naive loops (property-based)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from fixsim.data import bin_mean, crop_window, standardize
from fixsim.errors import InputError


@given(st.integers(1, 4), st.integers(1, 5), st.integers(1, 5), st.data())
def test_bin_mean_matches_loops(factor, bh, bw, data):
    a = data.draw(arrays(np.float64, (2, bh * factor, bw * factor),
                         elements=st.floats(-1e6, 1e6)))
    out = bin_mean(a, factor)
    ref = np.empty((2, bh, bw))
    for f in range(2):
        for r in range(bh):
            for c in range(bw):
                ref[f, r, c] = a[f, r * factor:(r + 1) * factor, c * factor:(c + 1) * factor].mean()
    np.testing.assert_allclose(out, ref, rtol=1e-12, atol=1e-9)


@given(arrays(np.float64, (3, 7, 7), elements=st.floats(-1e3, 1e3)))
def test_standardize_zero_mean_unit_std_or_zeros(a):
    out = standardize(a)
    assert out.dtype == np.float32 and out.shape == a.shape
    for x, y in zip(a, out):
        if x.std() > 1e-6 * max(1.0, np.abs(x).max()):
            assert abs(float(y.mean())) < 1e-4 and abs(float(y.std()) - 1) < 1e-3
        elif x.std() == 0:
            assert np.all(y == 0)


@given(st.integers(1, 60), st.integers(1, 60), st.integers(1, 60),
       st.floats(-10, 70), st.floats(-10, 70))
def test_crop_window_inside_or_clear_error(h, w, crop, cy, cx):
    try:
        r0, c0 = crop_window((h, w), (cy, cx), crop)
    except InputError as exc:
        assert "outside" in str(exc)
        return
    assert 0 <= r0 and r0 + crop <= h and 0 <= c0 and c0 + crop <= w
    # the window centre is the closest possible to the requested centre
    assert abs(r0 + (crop - 1) / 2 - cy) <= 0.5 + 1e-9
    assert abs(c0 + (crop - 1) / 2 - cx) <= 0.5 + 1e-9


def test_bin_mean_rejects_non_multiples():
    with pytest.raises(InputError, match="not a multiple"):
        bin_mean(np.zeros((5, 6)), 2)
