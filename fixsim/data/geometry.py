"""Detector geometry: pixel positions, scattering vectors, solid angles, masks.

Lab frame: the beam travels along +z, x is horizontal, y vertical; the detector plane
is z = distance and its window is centred on the beam.  A pixel at (x, y) sees
q = k (r_hat - z_hat) with k = 2 pi / lambda, solid angle A D / r^3 and the dipole
polarization factor 1 - (e . r_hat)^2 for linear polarization e.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .config import BeamConfig, DetectorConfig

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


def block_reduce_mean(a: np.ndarray, factor: int) -> np.ndarray:
    """Mean over non-overlapping ``factor`` x ``factor`` blocks of the last two axes."""
    *lead, h, w = a.shape
    b = a.reshape(*lead, h // factor, factor, w // factor, factor)
    return b.mean(axis=(-3, -1))


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
    """

    n: int
    oversample: int
    q: np.ndarray
    qmag: np.ndarray
    weight: np.ndarray
    dOmega_pol: np.ndarray
    valid_fraction: np.ndarray


def make_grid(det: DetectorConfig, beam: BeamConfig, oversample: int,
              mask: np.ndarray | None = None) -> Grid:
    """Sample the detector window on ``out_px * oversample`` sub-pixels per side.

    Parameters
    ----------
    det, beam : configs
    oversample : int
        Must divide ``det.bin_px``.
    mask : ndarray (crop_px, crop_px) bool, optional
        Physical valid-pixel mask; default :func:`physical_mask`.
    """
    n = det.out_px * oversample
    sub = det.bin_px // oversample          # physical pixels per sub-pixel side
    if mask is None:
        mask = physical_mask(det)
    valid = block_reduce_mean(mask.astype(np.float64), sub)
    c = _pixel_centres_m(det, n)
    xx, yy = np.meshgrid(c, c)
    x, y = xx.ravel(), yy.ravel()
    d = det.distance_m
    r = np.sqrt(x * x + y * y + d * d)
    k = 2 * np.pi / beam.wavelength_a
    q = np.stack([k * x / r, k * y / r, k * (d / r - 1.0)], axis=1)
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
                weight=R_E_A ** 2 * dop, dOmega_pol=dop, valid_fraction=valid)
