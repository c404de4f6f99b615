"""Tap comparison for the C-simulation tests."""

from __future__ import annotations

import numpy as np

from tests.helpers import assert_bits_equal


def assert_taps_equal(expected: dict, actual: dict, spec, context: str = "") -> None:
    """Every tap identical (names, shapes, bits); the report names the first layer that differs."""
    assert list(expected) == list(actual), f"{spec.name}: taps {list(expected)} != {list(actual)}"
    for name in expected:
        e, a = np.asarray(expected[name]), np.asarray(actual[name])
        if e.shape == a.shape and np.array_equal(e, a):
            continue
        fmt = spec.input_format if name == "input" else spec.layer(name).out_format
        assert_bits_equal(e, a, context=f"{spec.name} layer {name!r} ({fmt}) {context}")
