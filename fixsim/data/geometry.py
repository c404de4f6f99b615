"""Detector geometry: pixel positions, scattering vectors, solid angles, masks.

Lab frame: the beam travels along +z, x is horizontal, y vertical; the detector plane
is z = distance and its window is centred on the beam.  A pixel at (x, y) sees
q = k (r_hat - z_hat) with k = 2 pi / lambda, solid angle A D / r^3 and the dipole
polarization factor 1 - (e . r_hat)^2 for linear polarization e.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit

from .config import BeamConfig, DetectorConfig
from .preprocess import bin_mean

#: Classical electron radius in angstrom.
R_E_A = 2.8179403262e-5


def physical_mask(det: DetectorConfig) -> np.ndarray:
    """Valid-pixel mask of the crop window, ``(crop_px, crop_px)`` bool, True = usable.

    Masks the beamstop shadow (a disk around the beam) and the horizontal gap between
    the two detector halves, tested at pixel centres.
    """
    x = _pixel_centres_m(det, det.crop_px)
    xx, yy = np.meshgrid(x, x)  # rows are y, columns are x
    r2 = xx ** 2 + yy ** 2
    stop = (det.beamstop_radius_mm * 1e-3) ** 2
    gap = det.gap_mm * 1e-3 / 2
    return (r2 > stop) & (np.abs(yy) > gap)


def _pixel_centres_m(det: DetectorConfig, n: int) -> np.ndarray:
    """Centres (m) of ``n`` equal pixels tiling the crop window, beam at the window centre."""
    size = det.crop_px * det.pixel_um * 1e-6
    return (np.arange(n) + 0.5) * (size / n) - size / 2


@dataclass(frozen=True)
class Grid:
    """Scattering geometry sampled on ``n`` x ``n`` sub-pixels of the crop window.

    Attributes
    ----------
    n : int
        Sub-pixels per side (``out_px * oversample``).
    oversample : int
        Sub-pixels per binned pixel and side.
    q : ndarray, shape (n*n, 3), float64
        Scattering vectors in 1/angstrom, row-major over (y, x).
    qmag : ndarray, shape (n*n,), float64
        ``|q|``.
    weight : ndarray, shape (n*n,), float64
        ``r_e^2 * P * dOmega * valid_fraction``: photons per (photon/A^2 * electron^2).
    dOmega_pol : ndarray, shape (n*n,), float64
        ``P * dOmega * valid_fraction`` (for the background distribution).
    valid_fraction : ndarray, shape (n, n), float64
        Fraction of unmasked physical pixels inside each sub-pixel.
    q_coarse : ndarray, shape (m*m, 3)
        Scattering vectors on every ``amplitude_step``-th sub-pixel (``q`` if the step is 1).
    interp : (start, weights) or None
        Cubic interpolation stencil from the coarse nodes to the sub-pixels.
    """

    n: int
    oversample: int
    q: np.ndarray
    qmag: np.ndarray
    weight: np.ndarray
    dOmega_pol: np.ndarray
    valid_fraction: np.ndarray
    q_coarse: np.ndarray
    interp: "tuple[np.ndarray, np.ndarray] | None"

    def smooth_field(self, values_coarse: np.ndarray) -> np.ndarray:
        """Interpolate a complex field sampled at ``q_coarse`` to all (n*n) sub-pixels."""
        if self.interp is None:
            return values_coarse
        start, weights = self.interp
        m = int(round(np.sqrt(values_coarse.shape[0])))
        v = np.ascontiguousarray(values_coarse, dtype=np.complex128).reshape(m, m)
        return _interp_separable(v, start, weights).ravel()


def lagrange_stencil(n: int, step: int) -> tuple:
    """Cubic Lagrange interpolation from nodes 0, step, 2 step, ... to points 0..n-1.

    Returns ``(start, weights)``: point u is ``sum_a weights[u, a] * node[start[u] + a]``
    over the four nearest nodes (one-sided at the edges).  The number of nodes is
    ``max(4, ceil((n - 1) / step) + 1)``.
    """
    m = max(4, -(-(n - 1) // step) + 1)
    start = np.empty(n, dtype=np.int64)
    weights = np.empty((n, 4))
    for u in range(n):
        s = u / step
        st = min(max(int(np.floor(s)) - 1, 0), m - 4)
        nodes = np.arange(st, st + 4)
        start[u] = st
        for a, na in enumerate(nodes):
            others = np.delete(nodes, a)
            weights[u, a] = np.prod((s - others) / (na - others))
    return start, weights


@njit(nogil=True, cache=True)
def _interp_separable(v, start, weights):
    """out[u, t] = sum_ab weights[u, a] weights[t, b] v[start[u]+a, start[t]+b]."""
    n = start.shape[0]
    m = v.shape[1]
    rows = np.zeros((n, m), dtype=np.complex128)
    for u in range(n):
        for a in range(4):
            wa = weights[u, a]
            for c in range(m):
                rows[u, c] += wa * v[start[u] + a, c]
    out = np.zeros((n, n), dtype=np.complex128)
    for u in range(n):
        for t in range(n):
            acc = 0j
            for b in range(4):
                acc += weights[t, b] * rows[u, start[t] + b]
            out[u, t] = acc
    return out


def _scattering(x: np.ndarray, y: np.ndarray, distance: float, k: float):
    """q (P, 3) and r (P,) for detector points (x, y) in metres."""
    r = np.sqrt(x * x + y * y + distance * distance)
    q = np.stack([k * x / r, k * y / r, k * (distance / r - 1.0)], axis=1)
    return q, r


def make_grid(det: DetectorConfig, beam: BeamConfig, oversample: int,
              mask: np.ndarray | None = None, amplitude_step: int = 1) -> Grid:
    """Sample the detector window on ``out_px * oversample`` sub-pixels per side.

    Parameters
    ----------
    det, beam : configs
    oversample : int
        Must divide ``det.bin_px``.
    mask : ndarray (crop_px, crop_px) bool, optional
        Physical valid-pixel mask; default :func:`physical_mask`.
    amplitude_step : int
        Smooth amplitudes are evaluated every ``amplitude_step`` sub-pixels
        (``q_coarse``) and interpolated by :meth:`Grid.smooth_field`.
    """
    n = det.out_px * oversample
    sub = det.bin_px // oversample          # physical pixels per sub-pixel side
    if mask is None:
        mask = physical_mask(det)
    valid = bin_mean(mask.astype(np.float64), sub)
    c = _pixel_centres_m(det, n)
    xx, yy = np.meshgrid(c, c)
    x, y = xx.ravel(), yy.ravel()
    d = det.distance_m
    k = 2 * np.pi / beam.wavelength_a
    q, r = _scattering(x, y, d, k)
    step = amplitude_step
    if step == 1:
        q_coarse, interp = q, None
    else:
        interp = lagrange_stencil(n, step)
        m = max(4, -(-(n - 1) // step) + 1)
        pitch = det.crop_px * det.pixel_um * 1e-6 / n
        cc = c[0] + np.arange(m) * step * pitch     # may run past the window edge
        cx, cy = np.meshgrid(cc, cc)
        q_coarse, _ = _scattering(cx.ravel(), cy.ravel(), d, k)
    area = (sub * det.pixel_um * 1e-6) ** 2
    domega = area * d / r ** 3
    if beam.polarization == "horizontal":
        pol = 1.0 - (x / r) ** 2
    elif beam.polarization == "vertical":
        pol = 1.0 - (y / r) ** 2
    else:
        pol = 1.0 - 0.5 * ((x * x + y * y) / (r * r))
    dop = pol * domega * valid.ravel()
    return Grid(n=n, oversample=oversample, q=q, qmag=np.sqrt((q * q).sum(1)),
                weight=R_E_A ** 2 * dop, dOmega_pol=dop, valid_fraction=valid,
                q_coarse=q_coarse, interp=interp)
