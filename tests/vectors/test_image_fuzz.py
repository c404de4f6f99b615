"""Hypothesis fuzzing of the weight-image reader: any damage is a WeightImageError."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fixsim.vectors import weight_image as wi
from fixsim.vectors.errors import WeightImageError

from .test_weight_image import recrc


@pytest.fixture(scope="module")
def blob(request):
    from fixsim.network import load_spec
    from fixsim.network.weights import random_weights

    from .conftest import SMALL

    spec = load_spec(SMALL)
    return wi.build_image(spec, random_weights(spec, seed=9)), spec


@given(cut=st.integers(min_value=0, max_value=10_000))
def test_any_truncation_is_rejected(blob, cut):
    data, _ = blob
    with pytest.raises(WeightImageError):
        wi.parse_image(data[:cut % len(data)])


@given(pos=st.integers(min_value=0), bit=st.integers(min_value=0, max_value=7))
def test_any_bit_flip_is_rejected(blob, pos, bit):
    data, _ = blob
    buf = bytearray(data)
    buf[pos % len(buf)] ^= 1 << bit
    with pytest.raises(WeightImageError):
        wi.parse_image(bytes(buf))


@given(edits=st.lists(st.tuples(st.integers(min_value=0), st.integers(min_value=0, max_value=255)),
                      min_size=1, max_size=4))
def test_resealed_edits_are_rejected_or_harmless(blob, edits):
    """With a valid CRC, edited headers/tables/payloads either fail a field check with a
    WeightImageError or still describe valid weights for the spec (e.g. an edited payload
    word that stays in range); never another exception."""
    data, spec = blob
    buf = bytearray(data)
    for pos, value in edits:
        buf[pos % (len(buf) - wi.TRAILER_SIZE)] = value
    try:
        img = wi.parse_image(recrc(buf), spec)
    except WeightImageError as exc:
        assert "\n" not in str(exc)
        return
    assert [t.name for t in img.tensors] == list(spec.weight_shapes())
