"""Physics of the simulator: kernels against the direct sums, photon budgets, classes."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from fixsim.data import SimConfig, simulate
from fixsim.data.geometry import make_grid, physical_mask
from fixsim.data.particles import (Droplet, make_protein, quaternion_matrix,
                                   random_quaternion)
from fixsim.data.config import ParticleConfig
from fixsim.data.simulate import _contact_positions

from .spi_configs import PROTOTYPE_CONFIG
from .naive import protein_amplitude_naive, sphere_amplitude_naive


# --- kernels against the definitions -------------------------------------------------

@pytest.mark.parametrize("radius", [60.0, 100.0, 150.0])
def test_lattice_kernel_matches_direct_structure_factor(radius):
    cfg = SimConfig()
    grid = make_grid(cfg.detector, cfg.beam, 1)
    protein = make_protein(radius, cfg.particle, np.random.default_rng(int(radius)))
    q = grid.q[::7]
    fast = protein.amplitude(q)
    slow = protein_amplitude_naive(protein, q)
    np.testing.assert_allclose(fast, slow, rtol=0, atol=1e-9 * np.abs(slow).max())


def test_forward_amplitude_is_electron_count():
    protein = make_protein(80.0, ParticleConfig(), np.random.default_rng(0))
    f0 = protein.amplitude(np.zeros((1, 3)))[0]
    assert f0.imag == pytest.approx(0, abs=1e-6)
    assert f0.real == pytest.approx(protein.electrons.sum(), rel=1e-12)
    # about 0.058 atoms/A^3 * 7 e in a sphere of 80 A, within Poisson and voxel error
    expected = 0.058 * 7 * 4 / 3 * np.pi * 80.0 ** 3
    assert f0.real == pytest.approx(expected, rel=0.03)


def test_droplet_kernel_matches_sphere_form_factor():
    cfg = SimConfig()
    grid = make_grid(cfg.detector, cfg.beam, 1)
    drop = Droplet(axes_a=np.array([300.0, 300.0, 300.0]),
                   quaternion=random_quaternion(np.random.default_rng(1)),
                   electron_density_a3=0.334)
    np.testing.assert_allclose(drop.amplitude(grid.q),
                               sphere_amplitude_naive(grid.q, 300.0, drop.electrons),
                               rtol=1e-9, atol=1e-6 * drop.electrons)


def test_interpolated_amplitude_error_is_below_shot_noise():
    """amplitude_step=2 (default) vs the direct sum on every pixel, largest particle."""
    cfg = SimConfig()
    direct = make_grid(cfg.detector, cfg.beam, 1)
    coarse = make_grid(cfg.detector, cfg.beam, 1, amplitude_step=2)
    protein = make_protein(150.0, cfg.particle, np.random.default_rng(5))
    i_direct = np.abs(protein.amplitude(direct.q)) ** 2
    i_interp = np.abs(coarse.smooth_field(protein.amplitude(coarse.q_coarse))) ** 2
    w = direct.weight
    rel = np.sum(w * np.abs(i_direct - i_interp)) / np.sum(w * i_direct)
    assert rel < 0.02


@given(st.lists(st.floats(-1, 1), min_size=4, max_size=4).filter(
    lambda v: np.linalg.norm(v) > 1e-3))
def test_quaternion_matrix_is_a_rotation(v):
    q = np.asarray(v) / np.linalg.norm(v)
    m = quaternion_matrix(q)
    np.testing.assert_allclose(m @ m.T, np.eye(3), atol=1e-12)
    assert np.linalg.det(m) == pytest.approx(1.0)


def test_random_orientations_are_uniform():
    rng = np.random.default_rng(3)
    z = np.array([quaternion_matrix(random_quaternion(rng))[:, 2] for _ in range(4000)])
    # a uniform direction has each coordinate uniform on [-1, 1]: mean 0, variance 1/3
    assert np.abs(z.mean(axis=0)).max() < 0.05
    np.testing.assert_allclose(z.var(axis=0), 1 / 3, atol=0.03)


def test_contact_positions_touch_without_overlap():
    rng = np.random.default_rng(9)
    for _ in range(50):
        radii = rng.uniform(60, 150, size=int(rng.integers(2, 5)))
        pos = _contact_positions(radii, 0.2, rng)
        d = np.linalg.norm(pos[:, None] - pos[None], axis=2)
        sums = radii[:, None] + radii[None]
        off = ~np.eye(len(radii), dtype=bool)
        assert np.all(d[off] >= 0.999 * sums[off] - 1e-9)
        # every particle touches (within the gap) at least one other
        near = (d <= sums + 0.2 * radii.mean() + 1e-9) & off
        assert near.any(axis=1).all()
        np.testing.assert_allclose(pos.mean(axis=0), 0, atol=1e-9)


# --- photon budgets --------------------------------------------------------------------

def test_prototype_photon_counts():
    """The doc's prototype numbers: ~5.4e4 photons per single hit, ~1.05e5 per double."""
    _, labels, _, meta = simulate(8, 1, PROTOTYPE_CONFIG, classes="single_hit,multi_hit")
    sig = meta["params"]["signal_photons_expected"]
    single, double = sig[labels == 0], sig[labels == 1]
    assert np.all((single > 0.8 * 5.4e4) & (single < 1.2 * 5.4e4)), single
    # coherent sum of two touching spheres: about twice a single hit, with interference
    assert 0.75 * 1.05e5 < np.median(double) < 1.3 * 1.05e5, double


def test_photon_counts_are_poisson_around_expectation():
    _, _, _, meta = simulate(12, 4, PROTOTYPE_CONFIG, classes="single_hit")
    p = meta["params"]
    z = (p["photons"] - p["signal_photons_expected"]) / np.sqrt(p["signal_photons_expected"])
    assert np.abs(z).max() < 5


# --- masks and classes -----------------------------------------------------------------

def test_mask_is_applied(raw_set, std_set):
    cfg = SimConfig()
    det = cfg.detector
    mask = physical_mask(det)
    assert not mask[det.crop_px // 2, det.crop_px // 2]          # beamstop
    assert not mask[det.crop_px // 2, 5]                          # gap row at the edge
    valid = mask.reshape(65, 6, 65, 6).sum(axis=(1, 3))
    dead = valid == 0
    assert dead.sum() > 10
    # fully masked bins see no photons and no pixel noise: exactly 0 before
    # standardization, one common value (-mean/std) after
    raw = raw_set[0]
    assert np.all(raw[:, dead] == 0)
    for f in std_set[0]:
        assert np.all(f[dead] == f[dead][0])


def _radial_profile(frames):
    yy, xx = np.mgrid[:65, :65] - 32.0
    r = np.hypot(yy, xx).astype(int)
    return np.array([np.bincount(r.ravel(), f.ravel(), minlength=47)[:46] /
                     np.bincount(r.ravel(), minlength=47)[:46] for f in frames])


def test_class_photon_levels(raw_set):
    _, labels, names, meta = raw_set
    photons = meta["params"]["photons"]
    med = {n: np.median(photons[labels == k]) for k, n in enumerate(names)}
    assert med["no_hit"] < 60                      # a few to tens of background photons
    assert med["single_hit"] > 50 * med["no_hit"]
    assert med["multi_hit"] > 1.3 * med["single_hit"]
    assert photons[labels == 2].max() < photons[labels == 0].min()


def test_non_sample_rings_are_stronger_at_low_q(raw_set):
    frames, labels, _, meta = raw_set
    prof = _radial_profile(frames)
    low = slice(6, 12)     # just outside the beamstop shadow
    single = np.median(prof[labels == 0][:, low].mean(axis=1))
    droplet = np.median(prof[labels == 3][:, low].mean(axis=1))
    assert droplet > 3 * single
    # droplets: many fine rings -> more sign changes of the profile slope than a protein
    def minima(p):
        d = np.diff(p[6:40])
        return np.sum((d[:-1] < 0) & (d[1:] > 0))
    noiseless = simulate(16, 8, {"noise": {"read_noise": 0.0, "common_mode": 0.0,
                                           "background_min": 0.0, "background_max": 0.0},
                                 "beam": {"pulse_photons": 1e15}},
                         classes="single_hit,non_sample_hit", standardized=False)
    p2 = _radial_profile(noiseless[0])
    l2 = noiseless[1]
    assert np.median([minima(p) for p in p2[l2 == 3]]) > np.median([minima(p) for p in p2[l2 == 0]])


def test_multi_hits_break_circular_symmetry():
    """Fringes of a cluster make the first ring far less uniform in angle."""
    cfg = {"noise": {"read_noise": 0.0, "common_mode": 0.0, "background_min": 0.0,
                     "background_max": 0.0},
           "beam": {"pulse_photons": 1e15}, "particle": {"anisotropy": 0.0}}
    frames, labels, _, _ = simulate(40, 12, cfg, classes="single_hit,multi_hit",
                                    standardized=False)
    yy, xx = np.mgrid[:65, :65] - 32.0
    r = np.rint(np.hypot(yy, xx))
    rings = [(r == k) & (np.abs(yy) > 2) for k in range(6, 16)]

    def modulation(f):      # angular contrast, averaged over thin rings
        return np.mean([f[m].std() / f[m].mean() for m in rings])

    mod = np.array([modulation(f) for f in frames])
    # about 2x over seeds; the upper decile of singles stays below the lower quartile
    # of clusters
    assert np.median(mod[labels == 1]) > 1.6 * np.median(mod[labels == 0])
    assert np.percentile(mod[labels == 0], 90) < np.percentile(mod[labels == 1], 25)


def test_classes_are_learnable_but_not_separable_by_photon_count():
    """1-NN on raw standardized pixels separates the classes well from few examples;
    the photon count alone (fluence jitter, sizes, cluster counts) does not."""
    frames, labels, _, meta = simulate(320, 31)
    train, test = slice(0, 160), slice(160, 320)
    x = frames.reshape(len(frames), -1).astype(np.float64)
    d = (x[test] ** 2).sum(1)[:, None] - 2 * x[test] @ x[train].T + (x[train] ** 2).sum(1)
    knn = np.mean(labels[train][d.argmin(axis=1)] == labels[test])
    assert knn >= 0.75, knn

    logp = np.log1p(meta["params"]["photons"].astype(np.float64))
    centroids = np.array([logp[train][labels[train] == k].mean() for k in range(4)])
    pred = np.abs(logp[test][:, None] - centroids).argmin(axis=1)
    assert np.mean(pred == labels[test]) < 0.85


@pytest.mark.parametrize("axes", [(30.0, 30.0, 30.0), (40.0, 25.0, 33.0), (12.0, 50.0, 20.0)])
def test_ellipsoid_fraction_matches_subsampling(axes):
    from fixsim.data.kernels import _ellipsoid_fraction

    from .naive import ellipsoid_fraction_naive

    n = 2 * int(np.ceil(max(axes) / 12.0 + 0.5)) + 1
    fast = _ellipsoid_fraction(*axes, 12.0, n, 3)
    # same inside points (counts of 27): equal up to the rounding of count / 27
    np.testing.assert_allclose(fast, ellipsoid_fraction_naive(axes, 12.0, n, 3), atol=1e-12)


@pytest.mark.parametrize("n, step", [(65, 2), (65, 3), (130, 2), (16, 5)])
def test_separable_interpolation_matches_matrix_form(n, step):
    from fixsim.data.geometry import _interp_separable, lagrange_stencil

    from .naive import interpolate_naive

    start, weights = lagrange_stencil(n, step)
    m = start.max() + 4
    rng = np.random.default_rng(n)
    v = rng.normal(size=(m, m)) + 1j * rng.normal(size=(m, m))
    np.testing.assert_allclose(_interp_separable(v, start, weights),
                               interpolate_naive(v, start, weights), rtol=1e-12, atol=1e-12)
    # cubic interpolation is exact on cubic polynomials
    s = np.arange(m, dtype=float)
    poly = (0.3 * s ** 3 - s ** 2 + 2)[:, None] * (s - 1)[None, :] + 0j
    u = np.arange(n) / step
    exact = (0.3 * u ** 3 - u ** 2 + 2)[:, None] * (u - 1)[None, :]
    np.testing.assert_allclose(_interp_separable(poly, start, weights).real, exact,
                               rtol=1e-9, atol=1e-9)
