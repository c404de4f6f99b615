"""compare streams narrow taps: vector sets stay in their stored dtypes (int16 memory maps),
chunked comparisons give the same statistics as comparing widened int64 arrays at once."""

from __future__ import annotations

import importlib

import numpy as np

from fixsim.verify.compare import DIFFERENT, EQUAL, compare
from fixsim.verify.result import Result
from fixsim.verify.sources import SourceOptions, load_source


def test_vector_set_taps_are_not_widened(tiny_set):
    opts = SourceOptions()
    a = load_source(f"vectors:{tiny_set}", opts)
    assert {arr.dtype for arr in a.taps.values()} == {np.dtype(np.int16)}
    assert compare(a, load_source(f"fixsim:{tiny_set}", opts)).status == EQUAL


def _summary(c):
    return [(l.layer, l.mismatches, l.frames_with_mismatch, l.max_diff_lsb,
             None if l.first is None else (l.first.frame, l.first.index, l.first.expected,
                                           l.first.actual)) for l in c.layers]


def test_chunked_int16_memmaps_equal_widened_int64(spec, taps, tmp_path, monkeypatch):
    narrow, changed = {}, {}
    for name, arr in taps.items():
        path = tmp_path / f"{name}.i16"
        arr.astype("<i2").tofile(path)
        narrow[name] = np.memmap(path, dtype="<i2", mode="r", shape=arr.shape)
        changed[name] = arr.copy()
    changed["conv2"][4, 1, 3, 5] += 3      # a mismatch in a late frame and chunk
    changed["fc1"][2, 7] -= 1
    a16 = Result("a16", "taps", spec, narrow, True)
    a64 = Result("a64", "taps", spec, {k: np.asarray(v, np.int64) for k, v in narrow.items()}, True)
    b = Result("b", "taps", spec, changed, True)
    whole = compare(a64, b, threads=1)
    # one frame per work item
    monkeypatch.setattr(importlib.import_module("fixsim.verify.compare"), "CHUNK_BYTES", 1)
    streamed = compare(a16, b, threads=2)
    assert whole.status == streamed.status == DIFFERENT
    assert _summary(whole) == _summary(streamed)
    assert streamed.first_mismatch.frame == 2 and streamed.first_mismatch.layer == "fc1"
    assert streamed.embedding == whole.embedding
