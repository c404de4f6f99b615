"""The simulator's bits for fixed seeds equal checksums recorded before its speed-ups.

``sim_reference.json`` was written by ``python tests/data/test_sim_reference.py --record``
at commit 5decb55 (before the simulator kernels were rewritten for speed), on this
machine's numpy and libm.  Every frame, label and per-frame parameter array of the cases
below, and the outputs of each simulator kernel on fixed inputs, must keep those exact
bytes: a speed-up may reorder loops but not a single floating-point operation.  A
failure names the case, the array and, for frames, the first frame (and its class) that
differs.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import numpy as np
import pytest

HERE = Path(__file__).resolve().parent
if __package__:
    from .spi_configs import PROTOTYPE_CONFIG
else:  # run as a script (--record): tests/data last on sys.path, never shadowing tests/
    sys.path.append(str(HERE))
    from spi_configs import PROTOTYPE_CONFIG

REFERENCE = HERE / "sim_reference.json"

#: (name, n, seed, config, standardized): every class and every grid path of the
#: simulator (interpolated and direct amplitudes, oversampled particle and droplet
#: grids, each polarization, linear and log-uniform background).
CASES = [
    ("default", 48, 11, None, True),
    ("default_raw", 16, 5, None, False),
    ("prototype", 12, 3, PROTOTYPE_CONFIG, False),
    ("oversampled", 12, 8, {
        "detector": {"crop_px": 120, "bin_px": 4, "oversample": 2, "amplitude_step": 3,
                     "droplet_oversample": 4},
        "beam": {"polarization": "vertical"},
        "multi": {"count_probs": [0.2, 0.3, 0.5]},
        "noise": {"background_min": 0.0, "background_max": 20.0}}, False),
    ("unpolarized_direct", 12, 9, {
        "detector": {"crop_px": 96, "bin_px": 3, "oversample": 3, "amplitude_step": 1,
                     "droplet_oversample": 1},
        "beam": {"polarization": "none"},
        "particle": {"anisotropy": 0.4, "radius_median_a": 80.0}}, True),
]


def _sha(arr) -> str:
    a = np.ascontiguousarray(arr)
    h = hashlib.sha256(f"{a.dtype.str}{a.shape}".encode())
    h.update(a.tobytes())
    return h.hexdigest()[:24]


def case_digests(n, seed, config, standardized) -> dict:
    """Per-frame sha256 prefixes and one per label/parameter array of a simulate() run."""
    from fixsim.data import simulate

    frames, labels, _, meta = simulate(n, seed, config, standardized=standardized, workers=2)
    out = {"frames": [_sha(f) for f in frames], "labels": _sha(labels)}
    out.update({f"params.{k}": _sha(v) for k, v in sorted(meta["params"].items())})
    return out


def kernel_digests() -> dict:
    """Each simulator kernel on fixed random inputs (bit patterns, not tolerances)."""
    from fixsim.data.config import NonSampleConfig, ParticleConfig
    from fixsim.data.kernels import _ellipsoid_fraction, lattice_amplitude
    from fixsim.data.particles import make_droplet, make_protein
    from fixsim.data.simulate import FrameSimulator

    rng = np.random.default_rng(1234)
    out = {}
    for r in (60.0, 100.0, 150.0):
        axes = r * (1 + rng.uniform(-0.2, 0.2, size=3))
        for voxel, sub in ((12.0, 3), (7.5, 2), (10.0, 4)):
            n = 2 * int(np.ceil(axes.max() / voxel + 0.5)) + 1
            frac = _ellipsoid_fraction(axes[0], axes[1], axes[2], voxel, n, sub)
            out[f"fraction r{r:g} v{voxel:g} s{sub}"] = _sha(frac)
    sim = FrameSimulator()
    cfg = ParticleConfig()
    for r in (60.0, 100.0, 150.0):
        p = make_protein(r, cfg, rng)
        out[f"protein r{r:g} electrons"] = _sha(p.electrons)
        out[f"lattice r{r:g} coarse"] = _sha(p.amplitude(sim.grid.q_coarse))
        out[f"lattice r{r:g} full"] = _sha(p.amplitude(sim.grid.q))
        w = p.electrons.copy()
        w[w.shape[0] // 2] = 0.0            # a hollow slab: several runs per column
        out[f"lattice r{r:g} hollow"] = _sha(lattice_amplitude(
            sim.grid.q_coarse[::3], np.eye(3)[[2, 0, 1]], 9.0, w))
        out[f"smooth r{r:g}"] = _sha(sim.grid.smooth_field(p.amplitude(sim.grid.q_coarse)))
    for _ in range(3):
        d = make_droplet(NonSampleConfig(), rng)
        out[f"droplet r{d.radius_a:.1f}"] = _sha(d.amplitude(sim.droplet_grid.q))
    return out


def _reference() -> dict:
    return json.loads(REFERENCE.read_text())


def _first_frame_diff(name, got, want):
    from fixsim.data import CLASS_NAMES, simulate

    bad = [i for i, (g, w) in enumerate(zip(got, want, strict=True)) if g != w]
    _, n, seed, config, std = next(c for c in CASES if c[0] == name)
    labels = simulate(n, seed, config, standardized=std)[1]
    return (f"{len(bad)} of {len(want)} frames differ; first: frame {bad[0]} "
            f"({CLASS_NAMES[labels[bad[0]]]})")


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_simulate_bits_unchanged(case):
    name, n, seed, config, standardized = case
    want = _reference()["cases"][name]
    got = case_digests(n, seed, config, standardized)
    assert got.keys() == want.keys()
    if got["frames"] != want["frames"]:
        pytest.fail(f"case {name!r}: {_first_frame_diff(name, got['frames'], want['frames'])}")
    bad = [k for k in want if got[k] != want[k]]
    assert not bad, f"case {name!r}: arrays differ from the recorded bits: {bad}"


def test_kernel_bits_unchanged():
    want = _reference()["kernels"]
    got = kernel_digests()
    assert got.keys() == want.keys()
    bad = [k for k in want if got[k] != want[k]]
    assert not bad, f"kernel outputs differ from the recorded bits: {bad}"


if __name__ == "__main__":  # pragma: no cover - recording tool
    if sys.argv[1:] != ["--record"]:
        sys.exit("usage: python tests/data/test_sim_reference.py --record")
    doc = {"note": "sha256 prefixes of simulator outputs; see test_sim_reference.py",
           "cases": {c[0]: case_digests(*c[1:]) for c in CASES},
           "kernels": kernel_digests()}
    REFERENCE.write_text(json.dumps(doc, indent=1) + "\n")
    print(f"wrote {REFERENCE}")
