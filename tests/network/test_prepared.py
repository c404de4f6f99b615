"""The prepared model: narrow kernels (int32/int64 sums, int16 maps, conv+act+pool fused),
bit-exact against the contract's sequential order at every layer; preallocated taps,
threads, chunks, batch 1; BLAS kept single-threaded."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from fixsim import _threads
from fixsim.errors import FormatError, InputError
from fixsim.fixed import FixedType, FixsimWarning
from fixsim.network import load_spec, prepare, run
from fixsim.network.prepared import carry_dtype, result_descriptor
from fixsim.network.weights import random_weights
from helpers import assert_bits_equal

SPEC = load_spec("specklenn-snl")
QS = ["AP_RND", "AP_RND_ZERO", "AP_RND_MIN_INF", "AP_RND_INF", "AP_RND_CONV", "AP_TRN",
      "AP_TRN_ZERO"]
SEMANTIC_OS = ["AP_SAT", "AP_SAT_ZERO", "AP_SAT_SYM", "AP_WRAP"]


def _sequential(spec, w, x):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FixsimWarning)
        return run(spec, w, x, method="sequential")


def _assert_taps_equal(ref: dict, got: dict, what: str = ""):
    assert set(got) == set(ref)
    for name in ref:
        assert got[name].dtype == np.int64 and got[name].shape == ref[name].shape
        assert_bits_equal(ref[name], got[name], context=f"{what} {name}")


@pytest.fixture(scope="module")
def golden_like():
    """Weights with L1 norms like the golden ones: every layer's sums fit int32."""
    return random_weights(SPEC, seed=11, scale=1.0)


def test_bundled_spec_runs_narrow_everywhere_and_equals_sequential(golden_like):
    model = prepare(SPEC, golden_like)
    assert model.narrow_layers == ("conv1", "conv2", "fc1", "fc2")
    steps = {s.layer.name: s for s in model._steps if hasattr(s, "narrow")}
    assert steps["conv1"].int32_any_input and steps["conv1"].free_any_input
    x = np.random.default_rng(3).standard_normal((3, 1, 65, 65)) * 8
    # x[0] tiles conv1's first kernel's signs: at multiples of 5, conv1 = 31.9 * L1(w) + b,
    # beyond the result format (saturates)
    x[0, 0] = 31.9 * np.sign(np.tile(golden_like["conv1.weight"][0, 0], (14, 14)))[:65, :65]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FixsimWarning)
        taps, used = model.run(x, return_methods=True)
    assert used == dict.fromkeys(model.narrow_layers, "direct")
    _assert_taps_equal(_sequential(SPEC, golden_like, x[:3]), taps, "narrow")
    # the data really round and saturate at the result conversions
    assert (taps["conv1"] == SPEC.layers[0].formats.result.raw_max).any()
    assert (taps["conv1"] % 2).any()  # and rounding produced odd LSBs
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FixsimWarning)
        out = model.run(x, taps=False)
    assert list(out) == ["fc2"]
    assert_bits_equal(taps["fc2"], out["fc2"])


def test_int32_or_int64_sums_chosen_from_the_bound():
    """Weights with l1 * max|x| >= 2^31 take int64 sums; the bits stay the contract's."""
    big = random_weights(SPEC, seed=2, scale=3.0)
    model = prepare(SPEC, big)
    step = {s.layer.name: s for s in model._steps if hasattr(s, "narrow")}["conv2"]
    assert not step.int32_any_input
    hot = np.full((1, 7, 31, 31), 2 ** 15 - 1, np.int16)
    assert step.narrow_acc(hot) == (np.int64, False)
    assert step.narrow_acc(hot // 2 ** 10)[0] == np.int32
    x = np.random.default_rng(4).standard_normal((2, 1, 65, 65)) * 20
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FixsimWarning)
        taps = model.run(x)
    _assert_taps_equal(_sequential(SPEC, big, x), taps, "int64 sums")


def test_threads_chunks_batch_one_and_raw_input(golden_like):
    model = prepare(SPEC, golden_like)
    x = np.random.default_rng(5).standard_normal((5, 1, 65, 65)) * 4
    one = model.run(x, threads=1)
    for threads, chunk in ((2, 1), (3, 2), (2, 8)):
        _assert_taps_equal(one, model.run(x, threads=threads, chunk=chunk), f"{threads}/{chunk}")
    single = model.run(x[0], taps=False)
    assert_bits_equal(one["fc2"][:1], single["fc2"])
    assert_bits_equal(one["fc2"], model.run(one["input"], taps=False)["fc2"])
    assert_bits_equal(one["fc2"], run(SPEC, model, x, taps=False)["fc2"])
    assert np.shares_memory(one["flatten"], one["pool2"])  # chw flatten tap is a view
    assert list(one) == ["input", *(l.name for l in SPEC.layers)]  # dataflow order
    assert model.run(x[:0], taps=False)["fc2"].shape == (0, 50)


def test_errors(golden_like):
    model = prepare(SPEC, golden_like)
    with pytest.raises(InputError, match=r"shape \(N, 1, 65, 65\)"):
        model.run(np.zeros((2, 65, 65)))
    with pytest.raises(InputError, match="outside the raw range"):
        model.run(np.full((1, 1, 65, 65), 2 ** 20))
    with pytest.raises(InputError, match="threads must be an integer >= 1, got 0"):
        model.run(np.zeros((1, 1, 65, 65)), threads=0)
    with pytest.raises(InputError, match="prepared Model"):
        run(SPEC, model, np.zeros((1, 1, 65, 65)), method="sequential")
    with pytest.raises(InputError, match="did you mean 'conv1'"):
        prepare(SPEC, golden_like, method={"conv_1": "direct"})
    assert "narrow=" in repr(model)


def test_forced_direct_refused_where_not_exact():
    spec = _net(acc_overflow="AP_SAT", acc_int=2, in_int=3, w_int=1, result="ap_fixed<8,3,AP_RND,AP_SAT>",
                pool=False, order="chw", padding=[0, 0], stride=[1, 1])
    w = random_weights(spec, seed=1, scale=3.0)
    x = np.full((1, 2, 6, 6), 3.9)
    with pytest.raises(FormatError, match="not provably exact"):
        run(spec, w, x, method="direct")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FixsimWarning)
        auto = run(spec, w, x)  # falls back to the layer functions, still exact
    _assert_taps_equal(_sequential(spec, w, x), auto, "fallback")


def test_result_descriptor_and_carry_dtype():
    acc, res = FixedType.parse("ap_fixed<36,14>"), FixedType.parse("ap_fixed<16,6,AP_RND,AP_SAT>")
    c = result_descriptor(acc, res)
    assert c[0] == 1 and c[1] == 12 and c[2] == -2 ** 15 and c[3] == 2 ** 15 - 1
    assert result_descriptor(acc, FixedType.parse("ap_fixed<16,6,AP_RND,AP_WRAP,2>")) is None
    assert result_descriptor(acc, FixedType.parse("ap_fixed<16,6,AP_RND,AP_WRAP_SM>")) is None
    assert carry_dtype(res) == np.int16
    assert carry_dtype(FixedType.parse("ap_ufixed<16,6>")) == np.int32
    assert carry_dtype(acc) == np.int64


def test_blas_limited_inside_run_and_restored():
    if _threads.blas_threads() is None:
        pytest.skip("threadpoolctl or a BLAS library is not loaded")
    before = _threads.blas_threads()
    with _threads.blas_single_thread():
        with _threads.blas_single_thread():  # nested users share the limit
            assert _threads.blas_threads() == 1
        assert _threads.blas_threads() == 1
    assert _threads.blas_threads() == before


def test_pool_map_is_serial_inside_a_worker():
    inner = _threads.pool_map(lambda i: _threads.pool_map(lambda j: (i, j, _threads.in_worker()),
                                                          [0, 1], 2), [0, 1, 2], 2)
    assert [r[0][:2] for r in inner] == [(0, 0), (1, 0), (2, 0)]
    assert all(r[0][2] for r in inner)  # ran in fixsim's pool, nested calls serially


def _net(*, acc_overflow, acc_int, in_int, w_int, result, pool, order, padding, stride,
         acc_q="AP_TRN", acc_extra_frac=0, act="relu", product="to_accum", pool_k=2,
         ceil=True, dense_result=None):
    in_fmt = f"ap_fixed<10,{in_int},AP_RND,AP_SAT>"
    wf = f"ap_fixed<8,{w_int},AP_RND,AP_SAT>"
    f_prod = (10 - in_int) + (8 - w_int)
    acc = f"ap_fixed<{acc_int + f_prod + acc_extra_frac},{acc_int},{acc_q},{acc_overflow}>"
    layers = [{"name": "c", "type": "conv2d", "out_channels": 3, "kernel": 3, "padding": padding,
               "stride": stride, "activation": act, "product": product,
               "formats": {"weight": wf, "bias": "ap_fixed<8,3>", "accum": acc, "result": result}}]
    if pool:
        layers.append({"name": "p", "type": "maxpool2d", "kernel": pool_k, "ceil_mode": ceil})
    layers.append({"name": "f", "type": "flatten", "order": order})
    r = FixedType.parse(result)
    d_in_frac = r.frac_bits
    d_width = acc_int + 4 + d_in_frac + 8 - w_int + acc_extra_frac
    d_acc = f"ap_fixed<{d_width},{acc_int + 4},{acc_q},{acc_overflow}>"
    layers.append({"name": "d", "type": "dense", "out_features": 4, "activation": "linear",
                   "formats": {"weight": wf, "bias": "ap_fixed<8,3>", "accum": d_acc,
                               "result": dense_result or result}})
    return load_spec({"name": "n", "input": {"shape": [2, 6, 6], "format": in_fmt}, "layers": layers})


@st.composite
def narrow_nets(draw):
    ov = draw(st.sampled_from(["AP_WRAP", "AP_SAT", "AP_SAT_SYM", "AP_SAT_ZERO"]))
    rq, ro = draw(st.sampled_from(QS)), draw(st.sampled_from(SEMANTIC_OS))
    rw = draw(st.integers(4, 16))
    result = f"ap_fixed<{rw},{draw(st.integers(1, min(rw, 8)))},{rq},{ro}>"
    kwargs = dict(acc_overflow=ov, acc_int=draw(st.integers(3, 12)), in_int=draw(st.integers(1, 6)),
                w_int=draw(st.integers(0, 3)), result=result, pool=draw(st.booleans()),
                order=draw(st.sampled_from(["chw", "hwc"])),
                padding=draw(st.sampled_from([[0, 0], [1, 1], [1, 0]])),
                stride=draw(st.sampled_from([[1, 1], [2, 1], [1, 2]])),
                acc_q=draw(st.sampled_from(QS)), acc_extra_frac=draw(st.integers(0, 2)),
                act=draw(st.sampled_from(["relu", "linear"])),
                product=draw(st.sampled_from(["to_accum", "exact"])),
                pool_k=draw(st.sampled_from([2, 3])), ceil=draw(st.booleans()))
    try:
        spec = _net(**kwargs)
    except (InputError, FormatError):  # pool window past the map; A too narrow for "exact"
        assume(False)
    return spec, draw(st.integers(0, 2 ** 16)), draw(st.floats(0.5, 4.0))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(narrow_nets())
def test_random_narrow_networks_equal_sequential(case):
    spec, seed, scale = case
    w = random_weights(spec, seed=seed, scale=scale)
    rng = np.random.default_rng(seed)
    fmt = spec.input_format
    x = rng.integers(fmt.raw_min, fmt.raw_max, (3, 2, 6, 6), endpoint=True)
    x[0] = np.where(rng.random(x[0].shape) < 0.5, fmt.raw_max, fmt.raw_min)  # extremes
    model = prepare(spec, w)
    assert "c" in model.narrow_layers
    ref = _sequential(spec, w, x)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FixsimWarning)
        _assert_taps_equal(ref, model.run(x, threads=2, chunk=1), "taps")
        last = spec.layers[-1].name
        assert_bits_equal(ref[last], model.run(x, taps=False)[last], context="output only")


def test_layer_seconds_names_every_stage(golden_like):
    secs = prepare(SPEC, golden_like).layer_seconds(np.zeros((2, 1, 65, 65)), repeat=2)
    assert set(secs) == {"input", "conv1+pool1", "conv2+pool2", "flatten", "fc1", "fc2"}
    assert all(v >= 0 for v in secs.values())
    generic = prepare(SPEC, golden_like, method="sequential")  # nothing fused
    assert "pool1" in generic.layer_seconds(np.zeros((1, 1, 65, 65)), repeat=1)


def test_quantization_per_slice_warns_once_with_whole_batch_counts(golden_like):
    from fixsim.fixed import quantize

    x = np.random.default_rng(8).standard_normal((20, 1, 65, 65)) * 2
    x[3, 0, 5, 5], x[17, 0, 1, 1], x[9, 0, 2, 2], x[9, 0, 3, 3] = 40, -33, 32 - 2 ** -11, np.nan
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ref = quantize(x, SPEC.input_format)
        out = prepare(SPEC, golden_like).run(x, threads=2, chunk=3)
    assert len(caught) == 2 and str(caught[0].message) == str(caught[1].message)
    assert "3 out of range" in str(caught[1].message)
    assert_bits_equal(ref, out["input"])


def test_narrow_taps_hold_the_same_values(golden_like):
    model = prepare(SPEC, golden_like)
    x = np.random.default_rng(9).standard_normal((3, 1, 65, 65)) * 4
    wide, small = model.run(x), model.run(x, narrow=True, threads=2, chunk=1)
    assert {v.dtype for v in small.values()} == {np.dtype(np.int16)}
    for name in wide:
        assert_bits_equal(wide[name], small[name].astype(np.int64), context=name)
    spec = load_spec({**SPEC.to_dict(), "name": "seq"})
    seq = prepare(spec, golden_like, method="sequential").run(x, narrow=True)  # layer functions
    assert_bits_equal(wide["fc2"], seq["fc2"].astype(np.int64))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_input_quantized_per_work_item_warns_once_with_the_batch_counts(golden_like, dtype):
    """Each work item quantizes its own frames (no GIL); the one warning counts the whole
    batch exactly as quantize() does, and the input tap equals quantize() in every mode."""
    from fixsim.fixed import quantize

    model = prepare(SPEC, golden_like)
    x = np.random.default_rng(5).standard_normal((7, 1, 65, 65)).astype(dtype)
    x[1, 0, 3, :5] = [40.0, -40.0, np.nan, np.inf, -np.inf]  # saturate; NaN; infinities
    x[5, 0, 60, 60] = 1e6
    with warnings.catch_warnings(record=True) as ref_w:
        warnings.simplefilter("always", FixsimWarning)
        ref = quantize(x, SPEC.input_format)
    assert len(ref_w) == 1 and "2 inf" in str(ref_w[0].message)
    for kw in ({"threads": 2, "chunk": 2}, {"threads": 1, "taps": False}, {"narrow": True}):
        with warnings.catch_warnings(record=True) as got_w:
            warnings.simplefilter("always", FixsimWarning)
            taps = model.run(x, **kw)
        assert [str(w.message) for w in got_w] == [str(ref_w[0].message)], kw
        if "input" in taps:
            assert_bits_equal(ref, taps["input"].astype(np.int64), context=str(kw))
    with warnings.catch_warnings():
        warnings.simplefilter("error", FixsimWarning)
        model.run(np.clip(x[[0, 2]], -20, 20))  # inside the format: no warning


@pytest.mark.parametrize("taps, narrow", [(True, False), (False, False), (True, True)])
def test_outputs_written_into_given_arrays(golden_like, taps, narrow):
    """out=: a second call writes into the first call's arrays (no fresh memory) and
    gives the same bits; a mismatched dict is refused with the reason."""
    model = prepare(SPEC, golden_like)
    rng = np.random.default_rng(4)
    x1, x2 = rng.standard_normal((2, 5, 1, 65, 65)) * 4
    first = model.run(x1, taps=taps, narrow=narrow)
    ref = model.run(x2, taps=taps, narrow=narrow)
    ids = {k: id(v) for k, v in first.items()}
    got = model.run(x2, taps=taps, narrow=narrow, out=first, threads=2, chunk=2)
    assert {k: id(v) for k, v in got.items()} == ids
    for k in ref:
        assert_bits_equal(ref[k], got[k], context=k)
    with pytest.raises(InputError, match="keys"):
        model.run(x2, taps=not taps, narrow=narrow, out=first)
    bad = dict(first)
    bad["fc2"] = np.empty((4, 50), bad["fc2"].dtype)
    with pytest.raises(InputError, match=r"out\['fc2'\]"):
        model.run(x2, taps=taps, narrow=narrow, out=bad)
