"""The analytical dataflow latency model: shapes, counts, properties, naive reference."""

from __future__ import annotations

import copy
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fixsim.errors import InputError
from fixsim.hls.latency_model import SPECKLENN_LAYERS, load_layers, predict

from .naive_dataflow import naive_latency


def test_specklenn_shapes_and_work_match_the_model_doc():
    p = predict()
    shapes = {e.name: e.out_shape for e in p.layers}
    assert shapes["conv1"] == (61, 61, 7) and shapes["pool1"] == (31, 31, 7)
    assert shapes["conv2"] == (27, 27, 3) and shapes["pool2"] == (14, 14, 3)
    assert shapes["flatten"] == (588,) and shapes["dense2"] == (50,)
    macs = {e.name: e.macs for e in p.layers if e.macs}
    assert macs == {"conv1": 651175, "conv2": 382725, "dense1": 58800, "dense2": 5000}
    assert p.multipliers == 3890


def test_specklenn_prediction_is_bounded_by_input_and_budget():
    p = predict()
    # Input streams at 1 pixel/cycle: at least 4,225 cycles, and the model says well
    # under the 9,000-cycle budget with the default parallelism.
    assert 4225 <= p.latency_cycles < 9000
    assert p.interval_cycles == 4225
    assert p.sequential_cycles > p.latency_cycles  # overlap helps
    assert predict(dataflow=False).latency_cycles > p.latency_cycles


def test_halving_conv1_throughput_roughly_doubles_latency():
    layers = copy.deepcopy(list(SPECKLENN_LAYERS))
    layers[0]["ii"] = 2
    slow = predict(layers).latency_cycles
    assert 2 * 4225 <= slow < 9000


@st.composite
def small_networks(draw):
    h = draw(st.integers(4, 9))
    w = draw(st.integers(4, 9))
    c = draw(st.integers(1, 3))
    layers, shape = [], (h, w, c)
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(st.sampled_from(["conv2d", "relu", "maxpool2d"]))
        if kind == "conv2d" and min(shape[:2]) >= 1:
            k = draw(st.integers(1, min(3, shape[0], shape[1])))
            s = draw(st.integers(1, 2))
            f = draw(st.integers(1, 3))
            macs = k * k * shape[2] * f
            layer = {"kind": kind, "kernel": k, "stride": s, "filters": f,
                     "parallelism": draw(st.integers(1, macs)), "ii": draw(st.integers(1, 3)),
                     "depth": draw(st.integers(0, 5))}
            shape = ((shape[0] - k) // s + 1, (shape[1] - k) // s + 1, f)
        elif kind == "maxpool2d" and min(shape[:2]) >= 2:
            ceil_mode = draw(st.booleans())
            layer = {"kind": kind, "pool": 2, "ceil_mode": ceil_mode,
                     "ii": draw(st.integers(1, 2)), "depth": draw(st.integers(0, 3))}
            rnd = (lambda n: -(-(n - 2) // 2) + 1) if ceil_mode else (lambda n: (n - 2) // 2 + 1)
            shape = (rnd(shape[0]), rnd(shape[1]), shape[2])
        else:
            layer = {"kind": "relu", "ii": draw(st.integers(1, 2)),
                     "depth": draw(st.integers(0, 2))}
        layers.append(layer)
    layers.append({"kind": "flatten"})
    n_in = shape[0] * shape[1] * shape[2]
    units = draw(st.integers(1, 5))
    layers.append({"kind": "dense", "units": units, "parallelism":
                   draw(st.integers(1, n_in * units)), "depth": draw(st.integers(0, 4))})
    return (h, w, c), layers, draw(st.integers(1, 3))


@given(small_networks())
def test_matches_cycle_stepped_reference(case):
    shape, layers, input_ii = case
    p = predict(layers, input_shape=shape, input_ii=input_ii)
    assert [e.last_out for e in p.layers] == naive_latency(layers, shape, input_ii)


@given(small_networks(), st.integers(0, 10))
def test_slower_layers_never_reduce_latency(case, which):
    shape, layers, input_ii = case
    base = predict(layers, input_shape=shape, input_ii=input_ii).latency_cycles
    slower = copy.deepcopy(layers)
    target = slower[which % len(slower)]
    if target["kind"] != "flatten":
        target["ii"] = target.get("ii", 1) + 1
    assert predict(slower, input_shape=shape, input_ii=input_ii).latency_cycles >= base
    assert predict(layers, input_shape=shape, input_ii=input_ii + 1).latency_cycles >= base


@pytest.mark.parametrize("layers, message", [
    ([{"kind": "conv3d", "in_shape": [4, 4, 1]}], "unknown layer kind 'conv3d'"),
    ([{"kind": "conv2d", "in_shape": [4, 4, 1], "filters": 2, "kernel": 3, "strides": 1}],
     "unknown key 'strides'.*did you mean 'stride'"),
    ([{"kind": "conv2d", "in_shape": [4, 4, 1], "filters": 2, "kernel": 5}], "larger than"),
    ([{"kind": "conv2d", "in_shape": [4, 4, 1], "filters": 0, "kernel": 1}], "filters must"),
    ([{"kind": "dense", "in_shape": [8], "units": 2, "reuse": 2, "parallelism": 8}],
     "not both"),
    ([{"kind": "relu"}], "in_shape"),
    ([{"kind": "conv2d", "in_shape": [4, 4, 1], "filters": 1, "kernel": 1,
       "padding": "same"}], "padding"),
    ([{"kind": "dense", "in_shape": [8], "units": 2},
      {"kind": "maxpool2d", "pool": 2}], r"\(H, W, C\)"),
    ([], "no layers"),
])
def test_bad_descriptions_are_input_errors(layers, message):
    with pytest.raises(InputError, match=message):
        predict(layers)


def test_reuse_and_parallelism_are_equivalent():
    a = predict([{"kind": "dense", "in_shape": [100], "units": 50, "reuse": 20}])
    b = predict([{"kind": "dense", "in_shape": [100], "units": 50, "parallelism": 250}])
    assert a.latency_cycles == b.latency_cycles and a.multipliers == b.multipliers == 250


def test_load_layers(tmp_path):
    path = tmp_path / "m.json"
    path.write_text(json.dumps({"layers": list(SPECKLENN_LAYERS)}))
    assert predict(load_layers(path)) == predict()
    path.write_text("{not json")
    with pytest.raises(InputError, match="not valid JSON"):
        load_layers(path)
    path.write_text('{"layers": 3}')
    with pytest.raises(InputError, match="expected a JSON list"):
        load_layers(path)
