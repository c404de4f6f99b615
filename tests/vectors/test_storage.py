"""Vector-set storage: narrowest dtypes (version 2), version-1 sets, widening, chunking."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from fixsim.fixed import FixedType
from fixsim.network import run
from fixsim.vectors import generate_vector_set, load_vector_set
from fixsim.vectors.storage import Taps, storage_dtype

V1 = Path(__file__).parent / "data" / "v1-small"


@pytest.mark.parametrize("fmt, dtype", [
    ("ap_fixed<8,3>", "<i1"), ("ap_fixed<9,3>", "<i2"), ("ap_fixed<16,6,AP_RND,AP_SAT>", "<i2"),
    ("ap_fixed<17,6>", "<i4"), ("ap_fixed<32,16>", "<i4"), ("ap_fixed<33,16>", "<i8"),
    ("ap_ufixed<8,1>", "<u1"), ("ap_ufixed<9,1>", "<u2"), ("ap_ufixed<20,4>", "<u4"),
])
def test_storage_dtype_is_the_narrowest_holding_every_raw(fmt, dtype):
    t = FixedType.parse(fmt)
    assert storage_dtype(t) == dtype
    info = np.iinfo(np.dtype(dtype))
    assert info.min <= t.raw_min and t.raw_max <= info.max
    if np.dtype(dtype).itemsize > 1:  # the next narrower type of the same kind does not hold it
        narrower = np.iinfo(np.dtype(f"{dtype[:2]}{np.dtype(dtype).itemsize // 2}"))
        assert t.raw_min < narrower.min or t.raw_max > narrower.max


def test_version_2_stores_narrow_files_and_loads_int64(tiny_set):
    man = json.loads((tiny_set / "manifest.json").read_text())
    assert man["version"] == 2
    for entry in man["taps"]:
        assert entry["dtype"] == "<i2"  # every specklenn-snl format is ap_fixed<16,...>
        size = int(np.prod(entry["shape"])) * 2
        assert (tiny_set / entry["file"]).stat().st_size == size
    assert man["input"]["dtype"] == "<i2" and man["labels"]["dtype"] == "<i8"
    vs = load_vector_set(tiny_set)
    assert isinstance(vs.taps, Taps) and vs.inputs.dtype == np.int64
    assert all(vs.taps[name].dtype == np.int64 for name in vs.taps)
    np.testing.assert_array_equal(vs.taps["input"], vs.inputs)
    narrow = load_vector_set(tiny_set, widen=False)
    assert narrow.inputs.dtype == np.int16
    for name in vs.taps:
        assert narrow.taps[name].dtype == np.int16
        np.testing.assert_array_equal(narrow.taps[name], vs.taps[name])
    assert dict(vs.taps).keys() == vs.taps.keys()  # a plain dict of int64 arrays on request


def test_version_1_sets_are_still_read():
    vs = load_vector_set(V1)
    man = vs.manifest
    assert man["version"] == 1 and all(e["dtype"] == "<i8" for e in man["taps"])
    assert vs.inputs.dtype == np.int64 and vs.inputs.shape == (3, 2, 5, 6)
    want = run(vs.spec, vs.weights, vs.inputs)
    assert list(vs.taps) == list(want)
    for name in want:
        assert vs.taps[name].dtype == np.int64
        np.testing.assert_array_equal(vs.taps[name], want[name])


def test_chunks_and_worker_threads_do_not_change_the_bytes(tmp_path, tiny_set, monkeypatch):
    import fixsim.vectors.vectorset as vectorset

    monkeypatch.setattr(vectorset, "CHUNK", 1)  # 3 chunks computed ahead, written in order
    out = tmp_path / "chunked"
    generate_vector_set(out, n=3, seed=7, weights="random")
    for p in tiny_set.iterdir():
        assert (out / p.name).read_bytes() == p.read_bytes(), p.name


def test_large_files_stay_memory_mapped_until_a_tap_is_used(tmp_path, tiny_set, monkeypatch):
    import fixsim.vectors.storage as storage

    monkeypatch.setattr(storage, "MMAP_BYTES", 1)  # every file counts as large
    vs = load_vector_set(tiny_set, verify=False, widen=False)
    assert isinstance(vs.taps["conv1"], np.memmap) and vs.taps["conv1"].dtype == np.int16
    wide = load_vector_set(tiny_set, verify=False)
    assert isinstance(wide.taps.stored("conv1"), np.memmap)
    assert wide.taps["conv1"].dtype == np.int64 and wide.taps["conv1"] is wide.taps["conv1"]
    np.testing.assert_array_equal(wide.taps["conv1"], vs.taps["conv1"])
