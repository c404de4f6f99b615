"""The simulator's bookkeeping kernels equal the numpy expressions they replace, bit for bit.

The physics kernels are checked against naive references in test_physics.py and against
recorded bits in test_sim_reference.py; these are the ones whose only job is to give the
numpy result faster, so they are compared for exact equality on hostile data.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from fixsim.data import SimConfig
from fixsim.data.kernels import (SEQUENTIAL_BIN_MAX, _binned_intensity, _column_runs,
                                 _noisy_frame, _pairwise_sum, _phase_factor)
from fixsim.data.preprocess import standardize


def _hostile(rng, size):
    """Non-negative values over 60 binades, with exact zeros: every order rounds apart."""
    v = np.abs(rng.standard_normal(size)) * np.exp2(rng.integers(-30, 30, size))
    v[rng.random(size) < 0.05] = 0.0
    return v


@pytest.mark.parametrize("s", range(1, SEQUENTIAL_BIN_MAX))
@pytest.mark.parametrize("n", [2, 7, 65])
def test_binned_intensity_is_numpys_block_sum(n, s):
    rng = np.random.default_rng(100 * n + s)
    size = (n * s) ** 2
    weight, a, b = _hostile(rng, size), _hostile(rng, size), _hostile(rng, size)
    scale = float(rng.uniform(0.5, 2.0))
    want = (scale * weight * a * b).reshape(n, s, n, s).sum(axis=(1, 3))
    got = np.empty((n, n))
    _binned_intensity(scale, weight, a, b, n, s, got)
    assert got.tobytes() == want.tobytes(), (
        f"n={n} s={s}: {int((got != want).sum())} of {n * n} sums differ from numpy's")


def test_simulator_falls_back_where_numpy_order_differs():
    """s >= 8: numpy sums pairwise; n = 1: numpy merges the two summed axes into one."""
    from fixsim.data.simulate import FrameSimulator

    for det in ({"crop_px": 16, "bin_px": 8, "oversample": 8}, {"crop_px": 8, "bin_px": 8, "oversample": 4}):
        sim = FrameSimulator(SimConfig.from_dict({"detector": {**det, "amplitude_step": 1,
                                                                "droplet_oversample": 1}}))
        g = sim.grid
        rng = np.random.default_rng(3)
        a = _hostile(rng, g.weight.size)
        want = sim._bin_sum(2.5 * g.weight * a * a, g)
        assert sim._expected(2.5, g, a, a).tobytes() == want.tobytes(), det


@given(st.integers(1, 9), st.integers(1, 9), st.integers(1, 9), st.floats(0.0, 1.0),
       st.integers(0, 2**32 - 1))
def test_column_runs_match_numpy(nz, ny, nx, density, seed):
    rng = np.random.default_rng(seed)
    w = np.where(rng.random((nz, ny, nx)) < density, rng.integers(1, 9, (nz, ny, nx)), 0.0)
    w[rng.random(w.shape) < 0.02] = -0.0                      # -0.0 is empty, as w != 0
    occupied = w != 0
    col_k, col_j = np.nonzero(occupied.any(axis=2))
    first = occupied.argmax(axis=2)[col_k, col_j]
    stop = nx - occupied[:, :, ::-1].argmax(axis=2)[col_k, col_j]
    got = _column_runs(np.ascontiguousarray(w, dtype=np.float64))
    for name, g, want in zip(("j", "k", "first", "stop"), got, (col_j, col_k, first, stop),
                             strict=True):
        np.testing.assert_array_equal(g, want, err_msg=name)


def _signed_hostile(rng, size):
    v = rng.standard_normal(size) * np.exp2(rng.integers(-40, 40, size))
    v[rng.random(size) < 0.03] = -0.0
    return v


@pytest.mark.parametrize("n", [1, 7, 8, 9, 15, 16, 127, 128, 129, 257, 1000, 4225, 38025])
def test_pairwise_sum_is_numpys_sum(n):
    rng = np.random.default_rng(n)
    for _ in range(5):
        x = _signed_hostile(rng, n)
        assert (0.0 + _pairwise_sum(x, 0, n)) == x.sum(), n


@pytest.mark.parametrize("shape", [(65, 65), (30, 30), (3, 5), (1, 1), (130, 130)])
@pytest.mark.parametrize("standardized", [True, False])
def test_noisy_frame_is_the_numpy_expression(shape, standardized):
    """What frame() computed with numpy before: noise, common mode, bin mean, standardize."""
    rng = np.random.default_rng(sum(shape))
    for trial in range(6):
        counts = rng.poisson(rng.uniform(0, 50 * trial + 1e-3, shape))
        normals = rng.standard_normal(shape)
        sigma = rng.uniform(0, 0.5, shape)
        nvalid = rng.integers(0, 37, shape).astype(np.float64)
        common = float(rng.normal() * 0.01) if trial else 0.0
        if trial == 5:                                        # a constant frame: std 0
            counts[:], normals[:], common = 3, 0.0, 0.0
        binned = (counts + normals * sigma + common * nvalid) / 36
        want = standardize(binned) if standardized else binned.astype(np.float32)
        got = np.empty(shape, np.float32)
        _noisy_frame(counts.reshape(-1), normals.reshape(-1), sigma.reshape(-1), common,
                     nvalid.reshape(-1), 36.0, standardized, got.reshape(-1))
        assert got.tobytes() == want.tobytes(), (shape, trial, int((got != want).sum()))


def test_phase_factor_is_numpys_complex_exp():
    rng = np.random.default_rng(11)
    special = np.array([0.0, -0.0, 1e-310, -1e-310, 5e-324, 1e-300, np.pi, -np.pi / 2,
                        1e6, -1e6, 1e22, 2.0 ** 60])
    for trial in range(40):
        q = rng.normal(size=(3, 4225)) * 0.1
        d = rng.normal(size=3) * np.exp(rng.uniform(0, 8))
        if trial == 0:     # with -0.0 terms: x = -0.0 exactly where special is -0.0
            minus0 = np.full_like(special, -0.0)
            q, d = np.stack([special, minus0, minus0]), np.ones(3)
        want = np.exp(1j * (q[0] * d[0] + q[1] * d[1] + q[2] * d[2]))
        got = _phase_factor(q[0], q[1], q[2], *map(float, d))
        assert got.tobytes() == want.tobytes(), (trial, int((got != want).sum()))
