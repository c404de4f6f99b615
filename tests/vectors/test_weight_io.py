"""Weight sources: npz (float and raw), PyTorch checkpoints, HDF5 export/import."""

from __future__ import annotations

import h5py
import numpy as np
import pytest

from fixsim.errors import InputError
from fixsim.network.weights import quantize_weights, random_float_weights
from fixsim.vectors.errors import ImageShapeError, RawRangeError, SpecHashMismatch
from fixsim.vectors.weight_io import export_hdf5, import_hdf5, load_weights


def test_npz_float_and_raw(tmp_path, small_spec):
    floats = random_float_weights(small_spec, seed=3)
    np.savez(tmp_path / "f.npz", **floats)
    raw, rec = load_weights(small_spec, tmp_path / "f.npz")
    want = quantize_weights(small_spec, floats, warn=False)
    assert all(np.array_equal(raw[k], want[k]) for k in want)
    assert rec["kind"] == "file" and len(rec["sha256"]) == 64
    np.savez(tmp_path / "r.npz", **want)
    raw2, _ = load_weights(small_spec, tmp_path / "r.npz")
    assert all(np.array_equal(raw2[k], want[k]) for k in want)
    (tmp_path / "bad.npz").write_bytes(b"junk")
    with pytest.raises(InputError, match="not a readable .npy/.npz"):
        load_weights(small_spec, tmp_path / "bad.npz")


def test_pytorch_checkpoint(tmp_path, small_spec):
    torch = pytest.importorskip("torch", reason="torch not installed (pip install 'fixsim[model]')")
    floats = random_float_weights(small_spec, seed=4)
    torch.save({f"module.{k}": torch.tensor(v) for k, v in floats.items()}, tmp_path / "m.pt")
    raw, _ = load_weights(small_spec, tmp_path / "m.pt")
    want = quantize_weights(small_spec, floats, warn=False)
    assert all(np.array_equal(raw[k], want[k]) for k in want)
    torch.save({**{k: torch.tensor(v) for k, v in floats.items()}, "bn.running_mean": torch.zeros(3)},
               tmp_path / "x.pt")
    with pytest.raises(InputError, match="bn.running_mean"):
        load_weights(small_spec, tmp_path / "x.pt")
    (tmp_path / "j.pt").write_bytes(b"junk")
    with pytest.raises(InputError, match="not a readable PyTorch file"):
        load_weights(small_spec, tmp_path / "j.pt")


def test_hdf5_round_trip_and_rejections(tmp_path, small_spec, small_weights, snl_spec):
    path = tmp_path / "w.h5"
    export_hdf5(path, small_spec, small_weights)
    with h5py.File(path) as f:
        assert f.attrs["spec_sha256"] == small_spec.spec_hash() and set(f) == {"c", "d"}
        assert f["d/weight"].attrs["format"] == "ap_fixed<20,4,AP_RND,AP_SAT>"
        assert "c/bias" not in f and f["d/bias_float"].dtype == np.float64
    back = import_hdf5(path, small_spec)
    assert all(np.array_equal(back[k], small_weights[k]) for k in small_weights)
    with pytest.raises(SpecHashMismatch):
        import_hdf5(path, snl_spec)
    with h5py.File(path, "a") as f:
        f["d/bias_float"][0] += 1.0
    with pytest.raises(RawRangeError, match="disagrees"):
        import_hdf5(path, small_spec)
    export_hdf5(path, small_spec, small_weights)
    with h5py.File(path, "a") as f:
        f["d/weight"].attrs["format"] = "ap_fixed<20,5>"
    with pytest.raises(ImageShapeError, match="format"):
        import_hdf5(path, small_spec)
    (tmp_path / "n.h5").write_bytes(b"not hdf5")
    with pytest.raises(InputError, match="not an HDF5 file"):
        import_hdf5(tmp_path / "n.h5", small_spec)
