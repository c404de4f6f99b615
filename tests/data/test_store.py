"""Dataset files: byte-identical by seed, provenance, checksums, atomic writes."""

from __future__ import annotations

import hashlib

import h5py
import numpy as np
import pytest

import fixsim
from fixsim.data import load_dataset, simulate, write_dataset
from fixsim.errors import InputError


def test_same_seed_gives_byte_identical_files(tmp_path):
    a, b, c = tmp_path / "a.h5", tmp_path / "b.h5", tmp_path / "c.h5"
    write_dataset(a, 10, 5, workers=1)
    write_dataset(b, 10, 5, workers=2)
    write_dataset(c, 10, 6)
    assert a.read_bytes() == b.read_bytes()
    assert a.read_bytes() != c.read_bytes()


def test_file_matches_in_memory_simulation_and_records_provenance(tmp_path):
    path = tmp_path / "d.h5"
    summary = write_dataset(path, 9, 21, classes="single_hit,no_hit")
    frames, labels, names, meta = load_dataset(path)
    mem = simulate(9, 21, classes="single_hit,no_hit")
    assert frames.tobytes() == mem[0].tobytes()
    np.testing.assert_array_equal(labels, mem[1])
    assert names == mem[2]
    assert frames.dtype == np.float32 and labels.dtype == np.int64
    assert meta["seed"] == 21 and meta["n"] == 9
    assert meta["fixsim_version"] == fixsim.__version__
    assert meta["classes"] == ["single_hit", "no_hit"]
    assert meta["config"] == mem[3]["config"]
    assert meta["frames_sha256"] == hashlib.sha256(frames.tobytes()).hexdigest()
    assert summary["frames_sha256"] == meta["frames_sha256"]
    for key, arr in mem[3]["params"].items():
        np.testing.assert_array_equal(meta["params"][key], arr)


def test_output_has_default_permissions(tmp_path):
    import os

    path = tmp_path / "d.h5"
    write_dataset(path, 1, 1)
    umask = os.umask(0)
    os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask


def test_corrupted_frames_are_detected(tmp_path):
    path = tmp_path / "d.h5"
    write_dataset(path, 4, 1)
    with h5py.File(path, "r+") as f:
        f["frames"][0, 0, 0] += 1.0
    with pytest.raises(InputError, match="sha256"):
        load_dataset(path)
    assert load_dataset(path, verify=False)[0].shape == (4, 65, 65)


def test_failure_leaves_nothing_behind(tmp_path):
    path = tmp_path / "d.h5"

    def boom(_):
        raise RuntimeError("interrupted")

    with pytest.raises(RuntimeError):
        write_dataset(path, 3, 1, progress=boom)
    assert list(tmp_path.iterdir()) == []


def test_existing_file_survives_a_failed_rewrite(tmp_path):
    path = tmp_path / "d.h5"
    write_dataset(path, 2, 1)
    before = path.read_bytes()
    with pytest.raises(InputError):
        write_dataset(path, 0, 1)
    assert path.read_bytes() == before


@pytest.mark.parametrize("content, message", [
    (None, "does not exist"),
    (b"not hdf5", "not an HDF5 file"),
])
def test_load_errors(tmp_path, content, message):
    path = tmp_path / "x.h5"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(InputError, match=message):
        load_dataset(path)


def test_load_rejects_foreign_hdf5(tmp_path):
    path = tmp_path / "x.h5"
    with h5py.File(path, "w") as f:
        f["data"] = np.zeros((2, 65, 65))
    with pytest.raises(InputError, match="no /frames"):
        load_dataset(path)
