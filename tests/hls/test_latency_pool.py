"""Latency-model entries of avgpool2d/1d, the global pools and batchnorm against a
cycle-stepped reference that enumerates the pool windows (naive_dataflow's simulation)."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fixsim.errors import InputError
from fixsim.hls.latency_model import predict

from .naive_dataflow import _simulate


def _avg_beats(h, w, kh, kw, sh, sw, ph, pw):
    """Per input beat, the number of windows whose last element inside the input it is."""
    count = [0] * (h * w)
    for y in range(-ph, h + ph - kh + 1, sh):
        for x in range(-pw, w + pw - kw + 1, sw):
            rows = [r for r in range(y, y + kh) if 0 <= r < h]
            cols = [q for q in range(x, x + kw) if 0 <= q < w]
            count[rows[-1] * w + cols[-1]] += 1
    return count


def naive(layers, shape, input_ii):
    arrival = [i * input_ii for i in range(math.prod(shape[:-1]))]
    lasts = []
    for layer in layers:
        kind, ii = layer["kind"], layer.get("ii", 1)
        if kind == "batchnorm":
            emit, depth = [1] * len(arrival), 3
        elif kind.startswith("global"):
            emit = [0] * (len(arrival) - 1) + [1]
            depth = 3 if kind.startswith("global_avg") else 1
            shape = (shape[-1],)
        else:
            if kind == "avgpool1d":
                (w, c), h = shape, 1
                kh, kw, sh, sw, ph, pw = 1, layer["pool"], 1, layer["stride"], 0, layer["padding"]
            else:
                h, w, c = shape
                kh = kw = layer["pool"]
                sh = sw = layer["stride"]
                ph = pw = layer["padding"]
            emit = _avg_beats(h, w, kh, kw, sh, sw, ph, pw)
            depth = 3 + math.ceil(math.log2(kh * kw)) if kh * kw > 1 else 3
            oh, ow = (h + 2 * ph - kh) // sh + 1, (w + 2 * pw - kw) // sw + 1
            shape = (ow, c) if kind == "avgpool1d" else (oh, ow, c)
        arrival = _simulate(arrival, [ii] * len(arrival), emit, depth)
        lasts.append(max(arrival))
    return lasts


@st.composite
def cases(draw):
    one_d = draw(st.booleans())
    shape = ((draw(st.integers(3, 9)), draw(st.integers(1, 3))) if one_d else
             (draw(st.integers(3, 7)), draw(st.integers(3, 7)), draw(st.integers(1, 3))))
    layers = []
    if draw(st.booleans()):
        layers.append({"kind": "batchnorm", "ii": draw(st.integers(1, 2))})
    k = draw(st.integers(1, 3))
    layers.append({"kind": "avgpool1d" if one_d else "avgpool2d", "pool": k,
                   "stride": draw(st.integers(1, 3)), "padding": draw(st.integers(0, k - 1))})
    layers.append({"kind": draw(st.sampled_from(["global_avgpool", "global_maxpool"]))
                   + ("1d" if one_d else "2d")})
    return shape, layers, draw(st.integers(1, 2))


@given(cases())
def test_matches_cycle_stepped_reference(case):
    shape, layers, input_ii = case
    p = predict(layers, input_shape=shape, input_ii=input_ii)
    assert [e.last_out for e in p.layers] == naive(layers, shape, input_ii)
    assert p.layers[-1].out_shape == (shape[-1],)


@pytest.mark.parametrize("layer, message", [
    ({"kind": "avgpool2d", "pool": 2, "padding": 2}, "does not fit"),
    ({"kind": "avgpool2d", "pool": 2, "padding": -1}, "padding must be an integer >= 0"),
    ({"kind": "avgpool2d", "pool": 2, "pad": 1}, "did you mean 'padding'"),
    ({"kind": "global_avgpool2d", "pool": 2}, "unknown key 'pool'"),
])
def test_bad_pool_layers(layer, message):
    with pytest.raises(InputError, match=message):
        predict([{**layer, "in_shape": [4, 4, 2]}])
