"""hls4ml's datapath as a dialect (issue 11): the Resource summation order, result formats of
layers without weights, the ``"dialect": "hls4ml"`` preset, and hls4ml's weight quantization.

- the order ``k = ir + R*j`` is checked against a literal port of hls4ml's index loops
  (``nnet_dense_resource.h``; ``conv_2d_resource_cl`` runs the same loop over the im2col
  index) for every reuse factor hls4ml keeps (its own ``_validate_reuse_factor``);
- the layer functions with that order (every path auto chooses, and "ordered") equal a
  naive reference that adds the terms one by one in that order, on saturating and
  rounding accumulators where the order changes the bits (asserted);
- standalone layers with a result format equal the naive ``R(act(x))``;
- hls4ml's weight quantization equals a g++ program that reads the text hls4ml's own
  ``WeightVariable`` prints through hls4ml's own ``nnet::load_weights_from_txt``.

The C simulation of rtl/ is compared on whole networks in tests/rtl/test_dialect_csim.py.
"""

from __future__ import annotations

import copy
import json
import subprocess
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fixsim.errors import FormatError, InputError
from fixsim.fixed import FixedType, FixsimWarning, convert, multiply, quantize
from fixsim.layers import MacConfig, conv2d, dense
from fixsim.layers._ordered import conv_terms, resource_order
from fixsim.network import load_spec, run, run_float
from fixsim.network.dialect import closest_reuse_factor, valid_reuse_factors
from fixsim.network.weights import quantize_printed, quantize_weights, random_float_weights

from .naive_layers import _start, _step, naive_maxpool2d, naive_result

# ------------------------------------------------------------------ the order itself


def _hls4ml_resource_terms(n_in: int, n_out: int, rf: int) -> list[list[int]]:
    """Per output, the input indices in the order hls4ml adds them: a literal port of
    ``dense_resource_rf_leq_nin`` / ``dense_resource_rf_gt_nin_rem0`` (hls4ml 1.3.0)."""
    seq: list[list[int]] = [[] for _ in range(n_out)]
    block = -(-(n_in * n_out) // rf)
    if rf <= n_in:
        multscale = block // n_out
        for ir in range(rf):
            w_index, in_index, out_index, acc_step = ir, ir, 0, 0
            for _ in range(block):
                assert w_index == out_index * n_in + in_index  # weight (o, i) meets input i
                seq[out_index].append(in_index)
                w_index += rf
                in_index += rf
                if in_index >= n_in:
                    in_index = ir
                if acc_step + 1 >= multscale:
                    acc_step, out_index = 0, out_index + 1
                else:
                    acc_step += 1
        return seq
    rufactor = min(rf, n_in * n_out)
    outscale = rufactor // n_in
    outidx, outstep = [], 0
    for ir in range(rufactor):
        outidx.append(outstep)
        if (ir + 1) % n_in == 0:
            outstep += 1
    in_index = 0
    for ir in range(rufactor):
        w_index, out_index = ir, outidx[ir]
        for _ in range(block):
            assert w_index == out_index * n_in + in_index
            seq[out_index].append(in_index)
            w_index += rufactor
            if w_index >= n_in * n_out:
                break
            out_index += outscale
        in_index = 0 if in_index + 1 >= n_in else in_index + 1
    return seq


def test_resource_order_is_hls4ml_index_loop():
    checked = 0
    for n_in in range(1, 25):
        for n_out in range(1, 7):
            for rf in valid_reuse_factors(n_in, n_out):
                want = resource_order(n_in, rf).tolist()
                for o, got in enumerate(_hls4ml_resource_terms(n_in, n_out, rf)):
                    assert got == want, (n_in, n_out, rf, o)
                checked += 1
    assert checked > 500
    assert resource_order(16, 4).tolist()[:6] == [0, 4, 8, 12, 1, 5]
    assert resource_order(7, 3).tolist() == [0, 3, 6, 1, 4, 2, 5]
    assert resource_order(5, 9).tolist() == [0, 1, 2, 3, 4]


def test_valid_reuse_factors_are_hls4mls():
    fpga = pytest.importorskip("hls4ml.backends.fpga.fpga_backend")
    backend = fpga.FPGABackend
    for n_in, n_out in [(16, 10), (27, 4), (7, 3), (1, 5), (12, 1), (30, 8)]:
        ours = valid_reuse_factors(n_in, n_out)
        theirs = [rf for rf in range(1, n_in * n_out + 1)
                  if backend._validate_reuse_factor(None, n_in, n_out, rf)]
        assert ours == theirs
        for rf in range(1, n_in * n_out + 3):
            assert closest_reuse_factor(ours, rf) == backend.get_closest_reuse_factor(None, ours, rf)


def test_conv_resource_terms_run_over_hls4ml_im2col_index():
    c, kh, kw = 3, 2, 3
    for rf in (1, 2, 4, 5, 18, 40):
        terms = conv_terms(c, kh, kw, "resource", rf)
        k = (terms[:, 1] * kw + terms[:, 2]) * c + terms[:, 0]  # fill_buffer's (kh, kw, ci)
        assert k.tolist() == resource_order(c * kh * kw, rf).tolist()
    assert conv_terms(c, kh, kw, "resource", 1).tolist() == conv_terms(c, kh, kw, "kh_kw_ci").tolist()


# ------------------------------------------------------------------ layers vs naive
def _naive_dense(x, w, bias, cfg, order):
    n, o = x.shape[0], w.shape[0]
    acc = _start(cfg, bias, o, (n, o))
    for k in order:
        acc = _step(acc, cfg, np.broadcast_to(x[:, k:k + 1], (n, o)),
                    np.broadcast_to(w[None, :, k], (n, o)))
    return naive_result(acc, cfg)


def _naive_conv(x, w, bias, cfg, stride, padding, terms):
    n, c, h, wd = x.shape
    cout, _, kh, kw = w.shape
    (sh, sw), (ph, pw) = stride, padding
    xp = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    oh, ow = (h + 2 * ph - kh) // sh + 1, (wd + 2 * pw - kw) // sw + 1
    acc = _start(cfg, bias, cout, (n, cout, oh, ow))
    for ci, i, j in terms:
        patch = xp[:, ci, i:i + sh * (oh - 1) + 1:sh, j:j + sw * (ow - 1) + 1:sw]
        acc = _step(acc, cfg, np.broadcast_to(patch[:, None], acc.shape),
                    np.broadcast_to(w[:, ci, i, j][None, :, None, None], acc.shape))
    return naive_result(acc, cfg)


#: Accumulator modes of the drawn layers: few, because the ordered kernels compile per mode
#: combination (the order is a run-time array: every mode takes it the same way).
_ACC_Q = ["AP_RND_CONV", "AP_TRN"]
_ACC_O = ["AP_SAT", "AP_SAT_SYM"]


@st.composite
def _mac_case(draw, kind: str):
    """A small conv2d/dense with a narrow accumulator (products often rounded, sums often
    saturated) and the Resource order with a random reuse factor."""
    fin = FixedType(draw(st.integers(4, 10)), draw(st.integers(1, 4)), True, "AP_RND", "AP_SAT")
    fw = FixedType(draw(st.integers(3, 8)), draw(st.integers(0, 3)), True)
    prod = fin.frac_bits + fw.frac_bits
    f_acc = prod - draw(st.integers(0, 3))
    i_acc = draw(st.integers(2, 6))
    acc = FixedType(max(2, i_acc + f_acc), i_acc, True, draw(st.sampled_from(_ACC_Q)),
                    draw(st.sampled_from(_ACC_O)))
    res = FixedType(draw(st.integers(4, 12)), draw(st.integers(1, 6)), True,
                    draw(st.sampled_from(["AP_RND", "AP_TRN"])), draw(st.sampled_from(["AP_SAT", "AP_WRAP"])))
    bias = FixedType(8, 4, True) if draw(st.booleans()) else None
    rf = draw(st.integers(1, 40))
    cfg = MacConfig(fin, fw, bias, acc, res, sum_order="resource", reuse_factor=rf,
                    activation=draw(st.sampled_from(["linear", "relu"])))
    rng = np.random.default_rng(draw(st.integers(0, 2 ** 32 - 1)))
    if kind == "dense":
        k, o = draw(st.integers(1, 24)), draw(st.integers(1, 5))
        xshape, wshape, n_out = (3, k), (o, k), o
    else:
        c, kh, kw = draw(st.integers(1, 3)), draw(st.integers(1, 3)), draw(st.integers(1, 3))
        h, wd, o = kh + draw(st.integers(0, 3)), kw + draw(st.integers(0, 3)), draw(st.integers(1, 3))
        xshape, wshape, n_out = (2, c, h, wd), (o, c, kh, kw), o
    x = rng.integers(fin.raw_min, fin.raw_max + 1, size=xshape)
    w = rng.integers(fw.raw_min, fw.raw_max + 1, size=wshape)
    b = rng.integers(bias.raw_min, bias.raw_max + 1, size=n_out) if bias is not None else None
    return cfg, x, w, b


@given(case=_mac_case("dense"))
def test_dense_resource_order_equals_naive(case):
    cfg, x, w, b = case
    want = _naive_dense(x, w, b, cfg, resource_order(x.shape[1], cfg.reuse_factor))
    for method in ("auto", "ordered"):
        np.testing.assert_array_equal(dense(x, w, b, cfg, method=method), want, err_msg=method)


@settings(max_examples=60)
@given(case=_mac_case("conv2d"), stride=st.sampled_from([(1, 1), (2, 1)]),
       padding=st.sampled_from([(0, 0), (1, 1), (0, 1)]))
def test_conv2d_resource_order_equals_naive(case, stride, padding):
    cfg, x, w, b = case
    c, kh, kw = w.shape[1:]
    terms = conv_terms(c, kh, kw, "resource", cfg.reuse_factor).tolist()
    want = _naive_conv(x, w, b, cfg, stride, padding, terms)
    for method in ("auto", "ordered"):
        got = conv2d(x, w, b, cfg, stride=stride, padding=padding, method=method)
        np.testing.assert_array_equal(got, want, err_msg=method)


def test_resource_order_changes_the_bits_where_it_should():
    """On a saturating accumulator the Resource order differs from kh_kw_ci and from k in
    order (so the tests above can fail), and the speculative path's fallback sees it."""
    rng = np.random.default_rng(5)
    fin, fw = FixedType(10, 4, True, "AP_RND", "AP_SAT"), FixedType(8, 2)
    acc = FixedType(12, 5, True, "AP_RND_CONV", "AP_SAT")
    res = FixedType(12, 5, True, "AP_RND", "AP_SAT")
    x = rng.integers(fin.raw_min, fin.raw_max + 1, size=(64, 32))
    w = rng.integers(fw.raw_min, fw.raw_max + 1, size=(8, 32))
    plain = dense(x, w, None, MacConfig(fin, fw, None, acc, res))
    stats: dict = {}
    resource = dense(x, w, None, MacConfig(fin, fw, None, acc, res, sum_order="resource",
                                           reuse_factor=4), stats=stats)
    assert np.count_nonzero(plain != resource) > 20
    assert resource.tolist() == _naive_dense(x, w, None, MacConfig(fin, fw, None, acc, res),
                                             resource_order(32, 4)).tolist()
    xc = rng.integers(fin.raw_min, fin.raw_max + 1, size=(4, 4, 6, 6))
    wc = rng.integers(fw.raw_min, fw.raw_max + 1, size=(3, 4, 3, 3))
    a = conv2d(xc, wc, None, MacConfig(fin, fw, None, acc, res, sum_order="kh_kw_ci"))
    r = conv2d(xc, wc, None, MacConfig(fin, fw, None, acc, res, sum_order="resource",
                                       reuse_factor=4))
    assert np.count_nonzero(a != r) > 10


def test_sequential_reference_refuses_the_resource_order():
    cfg = MacConfig(FixedType(8, 4), FixedType(8, 2), None, FixedType(10, 4, True, "AP_TRN", "AP_WRAP", 2),
                    FixedType(8, 4), sum_order="resource", reuse_factor=3)  # products rounded
    x = np.ones((1, 6), np.int64)
    with pytest.raises(InputError, match="sequential"):
        dense(x, np.ones((2, 6), np.int64), None, cfg, method="sequential")
    # auto does not take the sequential kernel for a port-only accumulator (WRAP, N > 0)
    _, path = dense(x, np.ones((2, 6), np.int64), None, cfg, return_method=True)
    assert path == "ordered"
    with pytest.raises(InputError, match="reuse_factor"):
        MacConfig(FixedType(8, 4), FixedType(8, 2), None, FixedType(16, 6), FixedType(8, 4),
                  sum_order="kh_kw_ci", reuse_factor=2)


# ------------------------------------------------------------------ result formats
def _naive_activation_into(y, fmt, kind, result, alpha_raw=0, alpha_format=None):
    """R(act(x)) from the elementwise ports: relu/linear convert the activated value; leaky
    converts x or the exact product x * alpha once."""
    y = np.asarray(y, np.int64)
    if kind == "relu":
        return convert(np.where(y < 0, 0, y), fmt, result)
    direct = convert(y, fmt, result)
    if kind == "leaky_relu":
        p, pt = multiply(y, fmt, np.full(y.shape, alpha_raw), alpha_format)
        return np.where(y < 0, convert(p, pt, result), direct)
    return direct


_SMALL = {"name": "res", "input": {"shape": [2, 5, 5], "format": "ap_fixed<10,4,AP_RND,AP_SAT>"},
          "layers": [{"name": "c", "type": "conv2d", "out_channels": 3, "kernel": 2,
                      "formats": {"weight": "ap_fixed<8,2>", "bias": "ap_fixed<8,3>",
                                  "accum": "ap_fixed<24,8>",
                                  "result": "ap_fixed<12,5,AP_RND,AP_SAT>"}}]}


def _with(*layers):
    d = copy.deepcopy(_SMALL)
    d["layers"] += list(layers)
    return d


@settings(max_examples=60)
@given(kind=st.sampled_from(["relu", "linear", "leaky_relu"]),
       w=st.integers(2, 14), i=st.integers(-2, 8), signed=st.booleans(),
       q=st.sampled_from(["AP_RND", "AP_RND_CONV", "AP_TRN", "AP_RND_MIN_INF", "AP_TRN_ZERO"]),
       o=st.sampled_from(["AP_SAT", "AP_SAT_SYM", "AP_WRAP", "AP_SAT_ZERO"]),
       seed=st.integers(0, 2 ** 32 - 1))
def test_standalone_result_format_equals_naive(kind, w, i, signed, q, o, seed):
    result = FixedType(w, i, signed, q, o)
    layer = {"name": "a", "type": kind, "formats": {"result": str(result)}}
    if kind == "leaky_relu":
        layer.update(alpha=0.3, alpha_format="ap_fixed<8,1,AP_RND,AP_SAT>")
    try:
        spec = load_spec(_with(layer))
    except FormatError:  # a conversion the headers leave undefined: refused, fine
        return
    rng = np.random.default_rng(seed)
    fc = spec.layer("c").formats
    weights = {"c.weight": rng.integers(fc.weight.raw_min, fc.weight.raw_max + 1, (3, 2, 2, 2)),
               "c.bias": rng.integers(fc.bias.raw_min, fc.bias.raw_max + 1, 3)}
    x = rng.standard_normal((3, 2, 5, 5)) * 12
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FixsimWarning)
        taps = run(spec, weights, x)
    act = spec.layer("a")
    want = _naive_activation_into(taps["c"], fc.result, kind, act.result,
                                  act.activation.alpha_raw or 0, act.activation.alpha_format)
    np.testing.assert_array_equal(taps["a"], want)


def test_pool_and_flatten_result_formats_equal_naive():
    pool_r, flat_r = "ap_ufixed<6,3,AP_RND_CONV,AP_SAT>", "ap_fixed<5,2,AP_TRN,AP_WRAP>"
    spec = load_spec(_with({"name": "p", "type": "maxpool2d", "kernel": 2, "ceil_mode": True,
                            "formats": {"result": pool_r}},
                           {"name": "f", "type": "flatten", "order": "chw",
                            "formats": {"result": flat_r}}))
    rng = np.random.default_rng(3)
    weights = {"c.weight": rng.integers(-128, 128, (3, 2, 2, 2)), "c.bias": rng.integers(-128, 128, 3)}
    x = rng.standard_normal((5, 2, 5, 5)) * 12
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FixsimWarning)
        taps, methods = run(spec, weights, x, return_methods=True)
        plain = run(load_spec(_with({"name": "p", "type": "maxpool2d", "kernel": 2,
                                     "ceil_mode": True})), weights, x)
    c_fmt = spec.layer("c").out_format
    pool = convert(naive_maxpool2d(taps["c"], (2, 2), (2, 2), True), c_fmt, pool_r)
    np.testing.assert_array_equal(taps["p"], pool)
    np.testing.assert_array_equal(taps["f"], convert(pool.reshape(5, -1), pool_r, flat_r))
    assert not np.array_equal(taps["p"], plain["p"])  # the conversion acts
    assert spec.layer("p").out_format == FixedType.parse(pool_r)
    # the float twin computes without formats: the result formats change nothing there
    fw = {k: v.astype(np.float64) for k, v in weights.items()}
    np.testing.assert_array_equal(run_float(spec, fw, x)["f"],
                                  run_float(load_spec(_with({"name": "p", "type": "maxpool2d",
                                                             "kernel": 2, "ceil_mode": True},
                                                            {"name": "f", "type": "flatten"})),
                                            fw, x)["f"])


def test_result_format_absent_or_equal_keeps_the_spec_json():
    plain = load_spec(_with({"name": "a", "type": "relu"}, {"name": "p", "type": "maxpool2d",
                                                            "kernel": 2}))
    same = load_spec(_with({"name": "a", "type": "relu",
                            "formats": {"result": "ap_fixed<12,5,AP_RND,AP_SAT>"}},
                           {"name": "p", "type": "maxpool2d", "kernel": 2,
                            "formats": {"result": "ap_fixed<12,5,AP_RND,AP_SAT,0>"}}))
    assert same.spec_hash() == plain.spec_hash() and "formats" not in plain.to_dict()["layers"][1]
    other = load_spec(_with({"name": "a", "type": "relu", "formats": {"result": "ap_ufixed<8,4>"}}))
    assert load_spec(other.to_json()).spec_hash() == other.spec_hash()
    assert load_spec(other.to_json(resolved=True)).layer("a").result == FixedType.parse("ap_ufixed<8,4>")
    # bundled specs keep their hashes (no new key in their canonical JSON)
    snl = load_spec("specklenn-snl").to_dict()
    assert "dialect" not in snl and all("reuse_factor" not in l.get("options", {}) for l in snl["layers"])


@pytest.mark.parametrize("layer, error, fragment", [
    ({"name": "a", "type": "relu", "formats": {"result": "ap_fixd<8,4>"}}, FormatError, "formats.result"),
    ({"name": "a", "type": "relu", "formats": {"reslt": "ap_fixed<8,4>"}}, InputError, "'result'"),
    ({"name": "a", "type": "relu", "formats": "ap_fixed<8,4>"}, InputError, "formats"),
    ({"name": "a", "type": "relu", "formats": {"result": "ap_ufixed<64,4>"}}, FormatError, "64-bit"),
    ({"name": "p", "type": "maxpool2d", "kernel": 2, "formats": {}}, InputError, "result"),
    ({"name": "f", "type": "flatten", "formats": {"result": 3}}, FormatError, "formats.result"),
    ({"name": "l", "type": "leaky_relu", "alpha": 0.5, "alpha_format": "ap_fixed<8,1>",
      "formats": {"result": "ap_fixed<4,2>", "weight": "ap_fixed<4,2>"}}, InputError, "'weight'"),
])
def test_hostile_result_formats(layer, error, fragment):
    with pytest.raises(error, match=fragment) as info:
        load_spec(_with(layer))
    assert "\n" not in str(info.value) and "layer 1" in str(info.value)


# ------------------------------------------------------------------ options and dialect
_DIALECT = {
    "name": "d", "dialect": {"name": "hls4ml", "io_type": "io_parallel"},
    "input": {"shape": [3, 6, 6], "format": "ap_fixed<10,4,AP_RND,AP_SAT>"},
    "layers": [
        {"name": "c1", "type": "conv2d", "out_channels": 4, "kernel": 3, "strategy": "Resource",
         "reuse_factor": 9, "formats": {"weight": "ap_fixed<8,2>", "bias": "ap_fixed<8,3>",
                                         "accum": "ap_fixed<12,4,AP_RND,AP_SAT>",
                                         "result": "ap_fixed<12,5,AP_RND,AP_SAT>"}},
        {"name": "a1", "type": "relu", "formats": {"result": "ap_ufixed<8,4>"}},
        {"name": "f", "type": "flatten"},
        {"name": "d", "type": "dense", "out_features": 4,
         "formats": {"weight": "ap_fixed<8,2>", "bias": "ap_fixed<8,3>", "accum": "ap_fixed<20,8>",
                     "result": "ap_fixed<12,5,AP_RND,AP_SAT>"}},
    ]}


def test_dialect_sets_hls4ml_options():
    spec = load_spec(_DIALECT)
    c1, f, d = spec.layer("c1"), spec.layer("f"), spec.layer("d")
    assert (c1.options.product, c1.options.sum_order, c1.options.reuse_factor) == ("to_accum", "resource", 9)
    assert (c1.strategy, c1.reuse_factor) == ("Resource", 9)
    assert (d.options.sum_order, d.strategy, d.reuse_factor) == ("kh_kw_ci", "Latency", 1)
    assert f.order == "hwc" and spec.options.activation_on == "result"
    text = spec.to_json()
    assert json.loads(text)["dialect"] == {"name": "hls4ml", "io_type": "io_parallel",
                                           "strategy": "Latency", "reuse_factor": 1}
    for again in (load_spec(text), load_spec(spec.to_json(resolved=True))):
        assert again.spec_hash() == spec.spec_hash() and again.layer("c1").options == c1.options
    # "dialect": "hls4ml" is the object with every default
    short = copy.deepcopy(_DIALECT)
    short["dialect"] = "hls4ml"
    assert load_spec(short).spec_hash() == spec.spec_hash()
    # model-level strategy and reuse factor are the layers' defaults (hls4ml's Model config)
    model = copy.deepcopy(_DIALECT)
    model["dialect"].update(strategy="resource", reuse_factor=4)
    del model["layers"][0]["strategy"], model["layers"][0]["reuse_factor"]
    model["layers"][3]["out_features"] = 4  # 4 * 16 inputs: RF 4 is valid for both layers
    with pytest.raises(InputError, match="would use 3"):
        load_spec(model)  # conv 27 x 4: 4 is not one hls4ml keeps
    model["layers"][0].update(strategy="Latency")
    m = load_spec(model)
    assert m.layer("d").options.sum_order == "resource" and m.layer("d").options.reuse_factor == 4
    assert m.layer("c1").options.sum_order == "kh_kw_ci" and m.layer("c1").reuse_factor == 4


def _dialect_with(edit):
    d = copy.deepcopy(_DIALECT)
    edit(d)
    return d


@pytest.mark.parametrize("edit, fragment", [
    (lambda d: d.update(dialect="hls5ml"), "did you mean 'hls4ml'"),
    (lambda d: d.update(dialect={"name": "hls4ml", "io_type": "io_strem"}), "did you mean 'io_stream'"),
    (lambda d: d.update(dialect={"name": "hls4ml", "reuse_factor": 0}), "reuse_factor"),
    (lambda d: d.update(dialect={"io_type": "io_stream"}), "missing required key 'name'"),
    (lambda d: d.update(dialect={"name": "hls4ml", "strategy": "Latncy"}), "did you mean 'Latency'"),
    (lambda d: d.update(dialect=["hls4ml"]), "dialect"),
    (lambda d: d["layers"][0].update(reuse_factor=7), "would use 9"),
    (lambda d: d["layers"][0].update(reuse_factor=54), "its 27 terms"),
    (lambda d: d["layers"][0].update(reuse_factor=True), "reuse_factor"),
    (lambda d: d["layers"][0].update(reuse_factor="4"), "reuse_factor"),
    (lambda d: d["layers"][0].update(sum_order="ci_kh_kw"), "implies sum_order 'resource'"),
    (lambda d: d["layers"][0].update(options={"product": "exact"}), "implies product 'to_accum'"),
    (lambda d: d["layers"][3].update(activation_on="accum"), "activation_on"),
    (lambda d: d.update(options={"sum_order": "resource", "reuse_factor": 2}), "spec-wide"),
    (lambda d: d["layers"][0].update(strategy="resource_unrolled"), "Latency, Resource"),
    (lambda d: d["layers"][2].update(formats={"result": "ap_fixed<8,4>"}), "Reshape"),
])
def test_hostile_dialect_values(edit, fragment):
    with pytest.raises(InputError, match=fragment) as info:
        load_spec(_dialect_with(edit))
    assert "\n" not in str(info.value)


def test_io_stream_allows_a_conv_reuse_factor_above_its_fan_in():
    d = _dialect_with(lambda d: d["layers"][0].update(reuse_factor=54))
    d["dialect"]["io_type"] = "io_stream"
    layer = load_spec(d).layer("c1")  # R = 54 >= K = 27: k in order
    assert layer.options.reuse_factor == 54
    assert conv_terms(3, 3, 3, "resource", 54).tolist() == conv_terms(3, 3, 3, "kh_kw_ci").tolist()


@pytest.mark.parametrize("options, fragment", [
    ({"sum_order": "kh_kw_ci", "reuse_factor": 2}, "belongs to sum_order 'resource'"),
    ({"sum_order": "resource", "reuse_factor": 0}, "reuse_factor"),
    ({"sum_order": "resource", "reuse_factor": 2.0}, "reuse_factor"),
    ({"sum_order": "resorce"}, "did you mean 'resource'"),
])
def test_hostile_resource_options(options, fragment):
    d = copy.deepcopy(_SMALL)
    d["layers"][0]["options"] = options
    with pytest.raises(InputError, match=fragment):
        load_spec(d)
    d = copy.deepcopy(_SMALL)
    d["layers"][0]["strategy"] = "Resource"
    with pytest.raises(InputError, match="dialect"):
        load_spec(d)


def test_resource_option_inherits_and_serializes():
    d = copy.deepcopy(_SMALL)
    d["options"] = {"sum_order": "resource", "reuse_factor": 3}
    d["layers"].append({"name": "f", "type": "flatten"})
    d["layers"].append({"name": "fc", "type": "dense", "out_features": 2, "reuse_factor": 5,
                        "formats": _SMALL["layers"][0]["formats"]})
    spec = load_spec(d)
    assert spec.layer("c").options.reuse_factor == 3 and spec.layer("fc").options.reuse_factor == 5
    assert json.loads(spec.to_json())["layers"][2]["options"]["reuse_factor"] == 5
    assert load_spec(spec.to_json()).spec_hash() == spec.spec_hash()


# ------------------------------------------------------------------ weights the hls4ml way
def test_quantize_printed_rounds_twice():
    f = FixedType.parse("ap_fixed<8,4,AP_RND,AP_SAT>")
    # 0.15625 = 2.5 LSB: printed '0.1562' (ties to even) reads back below the tie
    assert quantize_printed([0.15625], f).tolist() == [2] and quantize([0.15625], f).tolist() == [3]
    assert quantize_printed([2.5], "ap_fixed<8,8,AP_RND,AP_SAT>").tolist() == [2]  # '2'
    assert quantize_printed([0.15625], f, decimals=5).tolist() == [3]
    with pytest.raises(InputError):
        quantize_printed([np.nan], f)
    with pytest.raises(InputError):
        quantize_printed([1.0], f, decimals=-1)


def test_quantize_weights_follows_the_dialect():
    spec = load_spec(_DIALECT)
    floats = random_float_weights(spec, 4)
    # just below +-1 LSB (2^-6): printed with 6 decimals they become +-0.015625 exactly
    floats["c1.weight"].flat[:2] = [0.015625 - 1e-9, -0.015625 - 1e-9]
    auto = quantize_weights(spec, floats)
    assert all(np.array_equal(auto[k], quantize_weights(spec, floats, rounding="hls4ml")[k]) for k in auto)
    once = quantize_weights(spec, floats, rounding="double")["c1.weight"].flat[:2].tolist()
    assert auto["c1.weight"].flat[:2].tolist() == [1, -1] and once == [0, -2]  # AP_TRN
    plain = load_spec(_with())
    assert "c.weight" in quantize_weights(plain, {"c.weight": np.zeros((3, 2, 2, 2)),
                                                  "c.bias": np.zeros(3)}, rounding="auto")
    with pytest.raises(InputError, match="rounding"):
        quantize_weights(spec, floats, rounding="hls5ml")


_FORMATS = ["ap_fixed<8,4,AP_RND,AP_SAT>", "ap_fixed<16,6,AP_RND_CONV,AP_SAT>",
            "ap_fixed<12,2,AP_TRN,AP_WRAP>", "ap_ufixed<10,3,AP_RND_INF,AP_SAT>",
            "ap_fixed<6,8,AP_RND,AP_SAT>", "ap_fixed<24,3,AP_RND_ZERO,AP_SAT_SYM>",
            "ap_fixed<32,1,AP_RND_MIN_INF,AP_SAT>", "ap_fixed<5,1,AP_TRN_ZERO,AP_SAT>"]


def _values(fmt: FixedType, rng) -> np.ndarray:
    """LSB ties (exact doubles with one decimal more than F: ties of the printing too),
    values next to them, random floats (some out of range), float32 values, zeros."""
    f = max(0, fmt.frac_bits)
    k = rng.integers(-2 ** (fmt.width - 1), 2 ** (fmt.width - 1), 200)
    ties = (k + 0.5) * 2.0 ** -fmt.frac_bits
    near = ties + rng.choice([-1, 1], 200) * rng.random(200) * 10.0 ** -(f + 1)
    rand = rng.uniform(fmt.min * 1.3, fmt.max * 1.3, 400)
    f32 = rand[:200].astype(np.float32).astype(np.float64)
    return np.concatenate([ties, near, rand, f32, [0.0, -0.0, fmt.max, fmt.min]])


def test_quantize_printed_equals_hls4ml_text_read_by_gxx(need_gxx, tmp_path):
    """hls4ml's WeightVariable prints the values, hls4ml's load_weights_from_txt (compiled
    with g++ against the ap_types headers) reads them: the raw bits equal quantize_printed."""
    types = pytest.importorskip("hls4ml.model.types")
    import os

    import hls4ml

    from fixsim.csim.build import compile_program

    nnet = os.path.join(os.path.dirname(hls4ml.__file__), "templates", "vivado", "nnet_utils")
    rng = np.random.default_rng(11)
    fmts = [FixedType.parse(t) for t in _FORMATS]
    data = [_values(f, rng) for f in fmts]
    n = max(len(v) for v in data)
    body = []
    for j, (f, v) in enumerate(zip(fmts, data, strict=True)):
        prec = types.FixedPrecisionType(f.width, f.int_bits, f.signed, f.quantization.name,
                                        f.overflow.name)
        var = types.WeightVariable(f"w{j}", f"w{j}_t", prec, v)
        (tmp_path / f"w{j}.txt").write_text(", ".join(var))  # as VivadoWriter.print_array_to_cpp
        cpp = f"{f.name}<{f.width},{f.int_bits},{f.quantization.name},{f.overflow.name},0>"
        body.append(f"  {{ static {cpp} w[{n}];\n"
                    f"    nnet::load_weights_from_txt<{cpp}, {len(v)}>(w, \"w{j}.txt\");\n"
                    f"    for (int i = 0; i < {len(v)}; i++) std::printf(\"%llu\\n\", "
                    f"(unsigned long long)w[i].bits_to_uint64()); }}")
    src = ("#include <cstdio>\n#include <ap_fixed.h>\n#define WEIGHTS_DIR \".\"\n"
           "#include \"nnet_helpers.h\"\nint main() {\n" + "\n".join(body) + "\n  return 0;\n}\n")
    exe = compile_program({"main.cpp": src}, main="hls4ml_weights", include_dirs=[nnet],
                          tag="hls4ml-weights")
    out = subprocess.run([str(exe)], cwd=tmp_path, capture_output=True, text=True, check=True)
    words = np.array([int(t) for t in out.stdout.split()], np.uint64)
    pos, differ = 0, 0
    for f, v in zip(fmts, data, strict=True):
        bits = words[pos:pos + len(v)]
        pos += len(v)
        raw = bits.astype(np.int64)
        if f.signed:  # sign-extend the W-bit patterns
            raw = np.where(raw >= 2 ** (f.width - 1), raw - 2 ** f.width, raw)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FixsimWarning)
            ours = quantize_printed(v, f)
            once = quantize(v, f)
        np.testing.assert_array_equal(ours, raw, err_msg=str(f))
        differ += int(np.count_nonzero(once != raw))
    assert pos == len(words)
    assert differ > 50, "the printed rounding never differed from one rounding: the test is blind"
