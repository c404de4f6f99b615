"""CXI reader: crop / mask / bin / standardize checked numerically on a known pattern."""

from __future__ import annotations

import h5py
import numpy as np
import pytest

from fixsim.data import iter_cxi, read_cxi
from fixsim.errors import InputError

N, H, W = 5, 40, 50


def pattern(n=N, h=H, w=W):
    """frame f, pixel (r, c) = 10000 f + 100 r + c: linear, so block means are exact."""
    f, r, c = np.meshgrid(np.arange(n), np.arange(h), np.arange(w), indexing="ij")
    return (10000.0 * f + 100.0 * r + c).astype(np.float32)


@pytest.fixture
def cxi(tmp_path):
    path = tmp_path / "run.cxi"
    with h5py.File(path, "w") as f:
        f.create_dataset("/entry_1/data_1/data", data=pattern(), chunks=(1, H, W))
        mask = np.ones((H, W), np.uint8)
        mask[20, 25] = 0
        f["/entry_1/instrument_1/detector_1/good"] = mask
        f["/entry_1/instrument_1/detector_1/mask"] = 1 - mask      # CXI: non-zero = bad
        f["/single"] = pattern(1)[0]
        f["/panels"] = np.zeros((2, 2, H, W), np.float32)
    return path


def expected_binned(r0, c0, crop, b, n=N):
    """Means of the linear pattern over b x b blocks = value at each block's centre."""
    centres = (np.arange(crop // b) * b + (b - 1) / 2)
    rr, cc = np.meshgrid(r0 + centres, c0 + centres, indexing="ij")
    return np.stack([10000.0 * f + 100.0 * rr + cc for f in range(n)])


def standardize_ref(x):
    m = x.mean(axis=(1, 2), keepdims=True)
    s = x.std(axis=(1, 2), keepdims=True)
    return (x - m) / s


def test_crop_bin_without_standardization(cxi):
    out = read_cxi(cxi, centre=(19.5, 24.5), crop=12, bin=3, standardized=False)
    # the 12-pixel window whose centre is nearest (19.5, 24.5) starts at row 14, col 19
    assert out.shape == (N, 4, 4) and out.dtype == np.float32
    np.testing.assert_allclose(out, expected_binned(14, 19, 12, 3), rtol=1e-6)


def test_crop_bin_standardize(cxi):
    out = read_cxi(cxi, centre=(20, 20), crop=9, bin=3)
    # odd crop around an integer centre: rows 16..24, cols 16..24
    ref = standardize_ref(expected_binned(16, 16, 9, 3))
    np.testing.assert_allclose(out, ref, atol=1e-5)
    np.testing.assert_allclose(out.mean(axis=(1, 2)), 0, atol=1e-6)


def test_default_centre_is_the_frame_centre(cxi):
    out = read_cxi(cxi, crop=10, bin=5, standardized=False)
    # centre (19.5, 24.5): window rows 15..24, cols 20..29
    np.testing.assert_allclose(out, expected_binned(15, 20, 10, 5), rtol=1e-6)


@pytest.mark.parametrize("mask_arg, semantics", [
    ("/entry_1/instrument_1/detector_1/good", "good"),
    ("/entry_1/instrument_1/detector_1/mask", "bad"),
    ("array", "good"),
])
def test_masked_pixels_are_zeroed_before_binning(cxi, mask_arg, semantics):
    if mask_arg == "array":
        mask_arg = np.ones((H, W), bool)
        mask_arg[20, 25] = False
    out = read_cxi(cxi, centre=(19.5, 24.5), crop=12, bin=3, mask=mask_arg,
                   mask_semantics=semantics, standardized=False)
    ref = expected_binned(14, 19, 12, 3)
    # pixel (20, 25) falls in block (2, 2) of the window (rows 20..22, cols 25..27)
    ref[:, 2, 2] -= pattern()[:, 20, 25] / 9.0
    np.testing.assert_allclose(out, ref, rtol=1e-6)


def test_non_finite_pixels_are_masked(tmp_path):
    data = pattern(2)
    original = float(data[1, 10, 10])
    data[1, 10, 10] = np.nan
    path = tmp_path / "nan.cxi"
    with h5py.File(path, "w") as f:
        f["/entry_1/data_1/data"] = data
    out = read_cxi(path, centre=(10.5, 10.5), crop=4, bin=2, standardized=False)
    # window rows/cols 9..12; the NaN pixel sits in block (0, 0) and counts as zero
    ref = expected_binned(9, 9, 4, 2, n=2)
    ref[1, 0, 0] -= original / 4
    np.testing.assert_allclose(out, ref, rtol=1e-6)


def test_single_frame_dataset_and_ranges(cxi):
    single = read_cxi(cxi, dataset="/single", crop=10, bin=5, standardized=False)
    np.testing.assert_allclose(single, expected_binned(15, 20, 10, 5, n=1), rtol=1e-6)
    part = read_cxi(cxi, crop=10, bin=5, start=1, stop=3)
    full = read_cxi(cxi, crop=10, bin=5)
    np.testing.assert_array_equal(part, full[1:3])
    assert read_cxi(cxi, crop=10, bin=5, start=2, stop=2).shape == (0, 2, 2)


def test_chunked_iteration_matches_one_read(cxi):
    chunks = list(iter_cxi(cxi, crop=10, bin=5, chunk=2))
    assert [s for s, _ in chunks] == [0, 2, 4]
    np.testing.assert_array_equal(np.concatenate([c for _, c in chunks]),
                                  read_cxi(cxi, crop=10, bin=5))


@pytest.mark.parametrize("kwargs, message", [
    (dict(dataset="/entry_1/data_1/dat"), "no dataset '/entry_1/data_1/dat'.*did you mean"),
    (dict(dataset="/panels"), "expected \\(N, H, W\\)"),
    (dict(centre=(3, 3), crop=12, bin=3), "outside the 40x50 frame"),
    (dict(crop=60, bin=6), "outside the 40x50 frame"),
    (dict(crop=10, bin=3), "not a multiple of bin"),
    (dict(crop=10, bin=5, mask=np.ones((3, 3))), "mask shape \\(3, 3\\)"),
    (dict(crop=10, bin=5, mask="/nope"), "no dataset '/nope'"),
    (dict(crop=10, bin=5, mask_semantics="ok"), "mask_semantics 'ok'"),
    (dict(crop=10, bin=5, start=3, stop=9), "frame range 3:9"),
    (dict(crop=0), "crop must be an integer >= 1"),
])
def test_clear_errors(cxi, kwargs, message):
    with pytest.raises(InputError, match=message) as info:
        read_cxi(cxi, **kwargs)
    assert "\n" not in str(info.value)


def test_file_errors(tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        read_cxi(tmp_path / "missing.cxi")
    junk = tmp_path / "junk.cxi"
    junk.write_bytes(b"\x00" * 64)
    with pytest.raises(InputError, match="not an HDF5"):
        read_cxi(junk)


def test_simulated_and_real_pipelines_agree_on_a_photon_frame(tmp_path):
    """A 390x390 photon frame through the reader equals the shared preprocessing."""
    from fixsim.data import bin_mean, standardize

    rng = np.random.default_rng(0)
    frame = rng.poisson(2.0, size=(1, 400, 400)).astype(np.float32)
    path = tmp_path / "p.cxi"
    with h5py.File(path, "w") as f:
        f["/entry_1/data_1/data"] = frame
    out = read_cxi(path, centre=(199.5, 199.5))
    assert out.shape == (1, 65, 65)
    np.testing.assert_allclose(out, standardize(bin_mean(frame[:, 5:395, 5:395], 6)),
                               atol=1e-6)
