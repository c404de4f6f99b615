"""The counted run (``events=``): same bits as the contract, and every conversion's events.

The reference counts with the ports of the headers alone (``fixsim.fixed`` ``convert``,
``add``, ``multiply``), one contract step at a time on whole arrays, zero-padding taps
included: a conversion is *rounded* when its source is off the target's grid and
*limited* (saturated or wrapped) when its result differs from the source converted into
a format with the target's grid and rounding and room for every value.  Seeded cases
assert that the data really round, saturate and wrap inside the accumulation.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import given, note
from hypothesis import strategies as st

from fixsim.fixed import FixedType, add, convert, multiply
from fixsim.fixed.format import Overflow
from fixsim.layers import MacConfig, conv2d, dense
from fixsim.network import load_spec, prepare
from fixsim.network.engine import mac_config
from helpers import assert_bits_equal

from .layer_strategies import conv_case, dense_case
from .test_pool_layers import avgpool_case, global_case

SLOTS = ("products", "accum", "result", "activation", "bias")


def _room(src: FixedType, dst: FixedType) -> FixedType:
    """dst's grid and rounding with room for every rounded src value (never wraps)."""
    ib = max(src.int_bits + 3, 3 - dst.frac_bits)
    return FixedType(ib + dst.frac_bits, ib, True, dst.quantization, "AP_WRAP")


class Tally:
    def __init__(self):
        self.c = {k: [0, 0, 0] for k in SLOTS}  # n, rounded, limited

    def convert(self, slot, v, src, dst):
        v = np.asarray(v, np.int64)
        y = convert(v, src, dst).astype(np.int64)
        d = src.frac_bits - dst.frac_bits
        if d > 0:
            r = convert(v, src, _room(src, dst)).astype(np.int64)
        else:  # exact onto a finer grid: the value itself, in Python integers
            r = v.astype(object) * (1 << -d)
            y = y.astype(object)
        off = (v % (1 << min(d, 62)) != 0) if d > 0 else np.zeros(v.shape, bool)
        if d > 62:
            off = v != 0
        t = self.c[slot]
        t[0] += v.size
        t[1] += int(off.sum())
        t[2] += int((y != r).sum())
        return y.astype(np.int64)

    def as_events(self, cfg: MacConfig) -> dict:
        out = {}
        for slot, (n, rnd, lim) in self.c.items():
            fmt = cfg.result if slot in ("result", "activation") else cfg.accum
            wraps = fmt.overflow in (Overflow.AP_WRAP, Overflow.AP_WRAP_SM)
            if slot == "activation" and cfg.activation != "leaky_relu":
                continue
            if slot == "bias" and cfg.bias is None:
                continue
            out[slot] = {"n": n, "rounded": rnd, "saturated": 0 if wraps else lim,
                         "wrapped": lim if wraps else 0}
        return out


def _step(t: Tally, acc, cfg: MacConfig, x, w):
    p, pt = multiply(x, cfg.in_format, w, cfg.weight)
    if cfg.product == "exact":
        s, st_ = add(acc, cfg.accum, p, pt)
    else:
        pc = t.convert("products", p, pt, cfg.accum)
        s, st_ = add(acc, cfg.accum, pc, cfg.accum)
    return t.convert("accum", s, st_, cfg.accum)


def _result(t: Tally, acc, cfg: MacConfig):
    """The result stage, counted, on accumulators of any shape (docs/datapath.md)."""
    acc = np.asarray(acc, np.int64)
    y = np.zeros(acc.shape, np.int64)
    alpha = cfg.alpha_raw
    if cfg.activation_on == "accum":
        neg = acc < 0
        conv = ~neg if cfg.activation in ("relu", "leaky_relu") else np.ones(acc.shape, bool)
        y[conv] = t.convert("result", acc[conv], cfg.accum, cfg.result)
        if cfg.activation == "leaky_relu":
            p, pt = multiply(acc[neg], cfg.accum, np.full(int(neg.sum()), alpha), cfg.alpha_format)
            y[neg] = t.convert("activation", p, pt, cfg.result)
        return y
    y = t.convert("result", acc, cfg.accum, cfg.result)
    neg = y < 0
    if cfg.activation == "relu":
        y = np.where(neg, 0, y)
    elif cfg.activation == "leaky_relu":
        p, pt = multiply(y[neg], cfg.result, np.full(int(neg.sum()), alpha), cfg.alpha_format)
        y[neg] = t.convert("activation", p, pt, cfg.result)
    return y


def _start(t: Tally, cfg: MacConfig, bias, shape):
    if cfg.bias is None:
        return np.zeros(shape, np.int64)
    b = np.asarray(bias, np.int64).reshape((1, -1) + (1,) * (len(shape) - 2))
    return t.convert("bias", np.broadcast_to(b, shape).copy(), cfg.bias, cfg.accum)


def counted_dense(x, w, bias, cfg: MacConfig):
    t = Tally()
    n, k = x.shape
    acc = _start(t, cfg, bias, (n, w.shape[0]))
    for j in range(k):
        acc = _step(t, acc, cfg, np.broadcast_to(x[:, j:j + 1], acc.shape),
                    np.broadcast_to(w[None, :, j], acc.shape))
    return _result(t, acc, cfg), t.as_events(cfg)


def counted_conv2d(x, w, bias, cfg: MacConfig, stride, padding):
    t = Tally()
    n, c, h, wd = x.shape
    cout, _, kh, kw = w.shape
    (sh, sw), (ph, pw) = stride, padding
    xp = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))  # zero taps take part
    oh, ow = (h + 2 * ph - kh) // sh + 1, (wd + 2 * pw - kw) // sw + 1
    acc = _start(t, cfg, bias, (n, cout, oh, ow))
    if cfg.sum_order == "ci_kh_kw":
        terms = [(ci, i, j) for ci in range(c) for i in range(kh) for j in range(kw)]
    else:
        terms = [(ci, i, j) for i in range(kh) for j in range(kw) for ci in range(c)]
    for ci, i, j in terms:
        patch = xp[:, ci, i:i + sh * (oh - 1) + 1:sh, j:j + sw * (ow - 1) + 1:sw]
        acc = _step(t, acc, cfg, np.broadcast_to(patch[:, None], acc.shape),
                    np.broadcast_to(w[:, ci, i, j][None, :, None, None], acc.shape))
    return _result(t, acc, cfg), t.as_events(cfg)


def _counted_run(model, x):
    """``model.run(x, events=...)``: (taps, events), its taps asserted equal to the plain run's."""
    ev = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        taps = model.run(x, events=ev)
        plain = model.run(x)
    for k in plain:
        assert_bits_equal(plain[k], taps[k], context=k)
    return taps, ev


@given(conv_case())
def test_counted_conv2d_bits_and_events(case):
    spec, layer, x, w, b = case
    cfg = mac_config(layer)
    note(f"{cfg}")
    ev = {}
    got, path = conv2d(x, w, b, cfg, stride=layer.stride, padding=layer.padding, events=ev,
                       return_method=True)
    assert path == "counted"
    want, want_ev = counted_conv2d(x, w, b, cfg, layer.stride, layer.padding)
    assert_bits_equal(want, got, context=f"counted conv2d {cfg}")
    assert ev == want_ev


@given(dense_case())
def test_counted_dense_bits_and_events(case):
    spec, layer, x, w, b = case
    cfg = mac_config(layer)
    note(f"{cfg}")
    xs = x.reshape(len(x), -1)
    ev = {}
    got = dense(xs, w, b, cfg, events=ev)
    want, want_ev = counted_dense(xs, w, b, cfg)
    assert_bits_equal(want, got, context=f"counted dense {cfg}")
    assert ev == want_ev


def _cfg(acc: str, product="to_accum", result="ap_fixed<8,3,AP_RND,AP_SAT>") -> MacConfig:
    return MacConfig(FixedType.parse("ap_fixed<8,3>"), FixedType.parse("ap_fixed<8,1>"),
                     FixedType.parse("ap_fixed<8,3>"), FixedType.parse(acc),
                     FixedType.parse(result), product=product, activation="relu")


@pytest.mark.parametrize("acc, kind", [("ap_fixed<10,4,AP_TRN,AP_SAT>", "saturated"),
                                       ("ap_fixed<10,4,AP_RND_CONV,AP_SAT_SYM>", "saturated"),
                                       ("ap_fixed<10,4>", "wrapped")])
def test_partial_sums_that_come_back_are_counted(acc, kind):
    """A partial sum leaves A and the final sum is back inside: the old final-sum count
    saw nothing; the counted run sees every step, and equals the reference."""
    cfg = _cfg(acc)
    # 8 terms: +7.5 * 0.99 four times (partial sums up to ~29.7 > A's max 7.98), then back
    x = np.array([[120] * 4 + [-120] * 4], np.int64)  # 3.75 / -3.75 raw in <8,3>
    w = np.array([[127] * 8], np.int64)  # 0.99 in <8,1>
    b = np.array([0], np.int64)
    ev = {}
    got = dense(x, w, b, cfg, events=ev)
    want, want_ev = counted_dense(x, w, b, cfg)
    assert_bits_equal(want, got, context=str(cfg))
    assert ev == want_ev
    assert ev["accum"][kind] >= 2  # steps 2.. saturate/wrap (3.71, 7.43 -> 11.1 > 7.98)
    assert ev["products"]["rounded"] == 8  # 3.75 * 0.99 is off A's 6-bit grid
    # the exact final sum is 0: inside A, so a count from final sums alone finds nothing
    assert int((x * w).sum()) == 0


def test_model_run_counts_every_mac_layer_and_the_input():
    """Model.run(events=) on a small network: taps equal to the plain run, events per
    layer equal to the layer reference, input quantizer counts, any thread count."""
    spec = load_spec({
        "name": "t", "input": {"shape": [2, 6, 6], "format": "ap_fixed<8,3,AP_RND,AP_SAT>"},
        "layers": [
            {"name": "c", "type": "conv2d", "out_channels": 3, "kernel": [3, 3], "padding": [1, 1],
             "activation": "relu",
             "formats": {"weight": "ap_fixed<8,1>", "bias": "ap_fixed<8,3>",
                         "accum": "ap_fixed<9,2,AP_RND,AP_SAT>",
                         "result": "ap_fixed<8,3,AP_RND,AP_SAT>"}},
            {"name": "p", "type": "maxpool2d", "kernel": [2, 2], "stride": [2, 2]},
            {"name": "f", "type": "flatten"},
            {"name": "d", "type": "dense", "out_features": 4,
             "formats": {"weight": "ap_fixed<8,1>", "bias": "ap_fixed<8,3>",
                         "accum": "ap_fixed<8,1>", "result": "ap_fixed<8,3>"}}]})
    rng = np.random.default_rng(7)
    from fixsim.network.weights import random_weights
    wr = random_weights(spec, seed=3)
    x = rng.normal(0, 4, (10, 2, 6, 6))
    x[0, 0, 0, :3] = [np.nan, np.inf, 1e6]
    model = prepare(spec, wr)
    plain = model.run(x)
    for threads in (1, 2):
        ev = {}
        with pytest.warns(Warning):
            taps = model.run(x, events=ev, threads=threads)
        for k in plain:
            assert_bits_equal(plain[k], taps[k], context=k)
        c, d = spec.layer("c"), spec.layer("d")
        _, want_c = counted_conv2d(taps["input"], wr["c.weight"], wr["c.bias"], mac_config(c),
                                   c.stride, c.padding)
        _, want_d = counted_dense(taps["f"], wr["d.weight"], wr["d.bias"], mac_config(d))
        assert ev["c"] == want_c and ev["d"] == want_d
        assert set(ev) == {"input", "c", "d"}
        inp = ev["input"]["input"]
        assert (inp["nan"], inp["inf"], inp["n"]) == (1, 1, x.size)
        fmt = spec.input_format
        finite = np.isfinite(x)
        scaled = np.ldexp(np.where(finite, x, 0), fmt.frac_bits)
        assert inp["rounded"] == int((scaled != np.floor(scaled)).sum())
        rounded = np.floor(scaled + 0.5)  # AP_RND: half up
        outside = finite & ((rounded < fmt.raw_min) | (rounded > fmt.raw_max))
        assert inp["saturated"] == int((~finite).sum() + outside.sum()) > 2
    assert ev["c"]["accum"]["saturated"] > 0 and ev["d"]["accum"]["wrapped"] > 0, ev
    assert ev["c"]["result"]["rounded"] > 0


@pytest.mark.parametrize("seed", range(3))
def test_seeded_cases_really_round_and_limit(seed):
    """Random dense layers with edge-heavy data: the counts are not the vacuous zeros."""
    rng = np.random.default_rng(seed)
    for acc in ("ap_fixed<9,3,AP_RND,AP_SAT>", "ap_fixed<9,3>", "ap_ufixed<9,3,AP_TRN,AP_SAT_ZERO>"):
        cfg = _cfg(acc)
        x = rng.integers(-128, 128, (5, 16))
        w = rng.integers(-128, 128, (3, 16))
        b = rng.integers(-128, 128, 3)
        ev = {}
        got = dense(x, w, b, cfg, events=ev)
        want, want_ev = counted_dense(x, w, b, cfg)
        assert_bits_equal(want, got, context=acc)
        assert ev == want_ev
        limited = ev["accum"]["saturated"] + ev["accum"]["wrapped"]
        assert ev["products"]["rounded"] > 0 and limited > 0, ev


def test_result_formats_of_weightless_layers_are_counted():
    """relu, max pool and flatten with result formats of their own (hls4ml's res_T): the
    counted run converts their exact values itself; bits equal, events equal the reference;
    a max pool without one converts nothing and has no entry."""
    spec = load_spec({
        "name": "t", "input": {"shape": [2, 6, 6], "format": "ap_fixed<10,4,AP_RND,AP_SAT>"},
        "layers": [
            {"name": "r", "type": "relu", "formats": {"result": "ap_fixed<8,2,AP_RND,AP_SAT>"}},
            {"name": "p", "type": "maxpool2d", "kernel": [2, 2],
             "formats": {"result": "ap_ufixed<4,0,AP_TRN,AP_WRAP>"}},
            {"name": "q", "type": "maxpool2d", "kernel": [1, 1]},
            {"name": "f", "type": "flatten", "order": "hwc",
             "formats": {"result": "ap_fixed<3,1,AP_RND_CONV,AP_SAT_SYM>"}}]})
    x = np.random.default_rng(1).normal(0, 3, (6, 2, 6, 6))
    model = prepare(spec, {})
    taps, ev = _counted_run(model, x)
    assert set(ev) == {"input", "r", "p", "f"}
    t = Tally()
    t.convert("result", np.maximum(taps["input"], 0), spec.input_format, spec.layer("r").result)
    assert ev["r"]["result"] == dict(zip(("n", "rounded", "saturated", "wrapped"),
                                         (*t.c["result"][:2], t.c["result"][2], 0)))
    pr = taps["r"].reshape(6, 2, 3, 2, 3, 2).max(axis=(3, 5))
    t = Tally()
    t.convert("result", pr, spec.layer("r").result, spec.layer("p").result)
    n, rnd, lim = t.c["result"]
    assert ev["p"]["result"] == {"n": n, "rounded": rnd, "saturated": 0, "wrapped": lim}
    assert lim > 0 and rnd > 0
    moved = taps["q"].transpose(0, 2, 3, 1).reshape(6, -1)  # hwc
    t = Tally()
    t.convert("result", moved, spec.layer("q").out_format, spec.layer("f").result)
    n, rnd, lim = t.c["result"]
    assert ev["f"]["result"] == {"n": n, "rounded": rnd, "saturated": lim, "wrapped": 0}


def test_batchnorm_and_leaky_relu_are_counted():
    spec = load_spec({
        "name": "t", "input": {"shape": [3, 4, 4], "format": "ap_fixed<10,4,AP_RND,AP_SAT>"},
        "layers": [
            {"name": "bn", "type": "batchnorm",
             "formats": {"scale": "ap_fixed<8,2>", "bias": "ap_fixed<8,3>",
                         "result": "ap_fixed<8,2,AP_RND_CONV,AP_SAT>"}},
            {"name": "lk", "type": "leaky_relu", "alpha": 0.3, "alpha_format": "ap_fixed<6,0>"},
            {"name": "lr", "type": "leaky_relu", "alpha": 0.7, "alpha_format": "ap_fixed<6,1>",
             "formats": {"result": "ap_fixed<5,1,AP_TRN,AP_WRAP>"}}]})
    from fixsim.fixed import product_type
    from fixsim.network.weights import random_weights
    wr = random_weights(spec, seed=5)
    x = np.random.default_rng(2).normal(0, 4, (5, 3, 4, 4))
    model = prepare(spec, wr)
    taps, ev = _counted_run(model, x)
    bn = spec.layer("bn").cfg
    sums, st_ = add(*multiply(taps["input"], bn.in_format,
                              np.asarray(wr["bn.scale"]).reshape(1, 3, 1, 1), bn.scale),
                    np.broadcast_to(np.asarray(wr["bn.bias"]).reshape(1, 3, 1, 1), (5, 3, 4, 4)),
                    bn.bias)
    t = Tally()
    t.convert("result", sums, st_, bn.result)
    n, rnd, lim = t.c["result"]
    assert ev["bn"]["result"] == {"n": n, "rounded": rnd, "saturated": lim, "wrapped": 0}
    assert rnd > 0 and lim > 0
    for name, prev in (("lk", "bn"), ("lr", "lk")):
        lay = spec.layer(name)
        v = taps[prev]
        t = Tally()
        if lay.converts:
            t.convert("result", v[v >= 0], lay.in_format, lay.result)
        a = lay.activation
        t.convert("result", v[v < 0] * a.alpha_raw, product_type(lay.in_format, a.alpha_format),
                  lay.out_format)
        n, rnd, lim = t.c["result"]
        wraps = lay.out_format.overflow == Overflow.AP_WRAP
        assert ev[name]["result"] == {"n": n, "rounded": rnd, "saturated": 0 if wraps else lim,
                                      "wrapped": lim if wraps else 0}
        assert n > 0 and rnd > 0


@given(st.data())
def test_counted_pools_equal_the_kernels(data):
    """avgpool2d/1d, global average and max pooling: the counted run (numpy, each step over
    all windows) gives the kernels' bits; every conversion is counted once (``n``)."""
    spec, x = data.draw(st.one_of(avgpool_case(), global_case()))
    lay = spec.layers[0]
    note(spec.to_json(indent=None))
    model = prepare(spec, {})
    ev = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        got = model.run(x, events=ev)["p"]
    assert_bits_equal(model.run(x)["p"], got, context=spec.to_json(indent=None))
    if lay.type.startswith("global_maxpool") and lay.accum is None:
        assert "p" not in ev
        return
    e = ev["p"]
    outputs = got.size
    assert e["result"]["n"] in (0, outputs)  # 0: the same type, a copy
    if lay.type.startswith("global_maxpool"):
        return
    k = int(np.prod(lay.kernel)) if lay.type == "avgpool2d" else None
    if lay.cfg.sum == "tree" and k is not None:
        assert e["accum"]["n"] in (0, outputs * (k - 1))
    if lay.cfg.scaling == "divide":
        assert e["divide"]["n"] == outputs


def test_counted_avgpool_sees_rounding_and_saturation():
    spec = load_spec({
        "name": "t", "input": {"shape": [2, 6, 6], "format": "ap_fixed<8,3,AP_RND,AP_SAT>"},
        "layers": [{"name": "a", "type": "avgpool2d", "kernel": [3, 3], "padding": [1, 1],
                    "term": "to_accum", "sum_order": "tree", "scaling": "divide",
                    "formats": {"accum": "ap_fixed<8,3,AP_RND,AP_SAT>",
                                "result": "ap_fixed<6,2,AP_RND,AP_SAT>"}},
                   {"name": "g", "type": "global_avgpool2d", "scaling": "reciprocal",
                    "formats": {"accum": "ap_fixed<6,1>", "result": "ap_fixed<6,2>",
                                "reciprocal": "ap_ufixed<6,0>"}}]})
    x = np.random.default_rng(3).normal(0, 3, (4, 2, 6, 6))
    model = prepare(spec, {})
    taps, ev = _counted_run(model, x)
    assert ev["a"]["accum"]["saturated"] > 0 and ev["a"]["divide"]["rounded"] > 0
    assert ev["a"]["result"]["rounded"] > 0
    assert ev["g"]["accum"]["wrapped"] > 0 and ev["g"]["result"]["rounded"] > 0


@pytest.mark.parametrize("index", ["trunc", "floor"])
def test_lut_activations_count_clamped_indexes(index):
    """sigmoid/tanh: the counted run's bits equal the kernel's; inputs beyond the table's
    range are counted as saturated indexes, and the entry -> result conversion per output."""
    spec = load_spec({
        "name": "t", "input": {"shape": [4, 10], "format": "ap_fixed<12,5,AP_RND,AP_SAT>"},
        "layers": [
            {"name": "s", "type": "sigmoid", "table_size": 256, "index": index,
             "formats": {"result": "ap_fixed<6,1,AP_RND,AP_SAT>"}},
            {"name": "t", "type": "tanh", "table_size": 64, "range": 2, "index": index}]})
    x = np.random.default_rng(6).normal(0, 6, (7, 4, 10))
    model = prepare(spec, {})
    taps, ev = _counted_run(model, x)
    v = np.abs(taps["input"] * spec.input_format.lsb)
    for name, rng, xin in (("s", 8, v), ("t", 2, np.abs(taps["s"] * spec.layer("s").result.lsb))):
        e = ev[name]
        assert e["index"]["n"] == x.size and e["result"]["n"] in (0, x.size)
        assert (xin > rng + 0.5).sum() <= e["index"]["saturated"] <= (xin >= rng - 0.5).sum()
    assert ev["s"]["index"]["saturated"] > 0 and ev["s"]["result"]["rounded"] > 0


@pytest.mark.parametrize("impl", ["stable", "latency"])
def test_softmax_counted_equals_the_kernel(impl):
    """Softmax's counted run (numpy over all positions) gives the kernel's bits, and counts
    each of its conversions: exp entries into A, tree nodes, the sum into inv_inp, results."""
    spec = load_spec({
        "name": "t", "input": {"shape": [5, 6], "format": "ap_fixed<10,4,AP_RND,AP_SAT>"},
        "layers": [{"name": "sm", "type": "softmax", "implementation": impl,
                    "formats": {"exp_table": "ap_fixed<12,6,AP_RND,AP_SAT>",
                                "accum": "ap_fixed<8,3,AP_RND,AP_SAT>",
                                "inv_table": "ap_fixed<10,4,AP_RND,AP_SAT>",
                                "inv_inp": "ap_fixed<10,4,AP_RND,AP_SAT>",
                                "result": "ap_fixed<8,1,AP_RND,AP_SAT>"}}]})
    x = np.random.default_rng(8).normal(0, 3, (6, 5, 6))
    model = prepare(spec, {})
    taps, ev = _counted_run(model, x)
    e = ev["sm"]
    softmaxes = 6 * 6
    assert e["exp"]["n"] == softmaxes * 5 and e["accum"]["n"] == softmaxes * 4
    assert e["inv_inp"]["n"] == softmaxes and e["result"]["n"] == softmaxes * 5
    assert e["exp"]["rounded"] + e["exp"]["saturated"] > 0 and e["result"]["rounded"] > 0
    assert ("norm" in e) == (impl == "stable")
