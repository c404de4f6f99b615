"""The speculative path for saturating accumulators (docs/datapath.md section 6.1).

- The kernels' sums against the semantic requantizer in every quantization mode and both
  lane widths, and the soundness of their bound (a threshold one past the true sum of the
  positive or negative terms always fails).
- Random conv2d/dense layers whose saturating accumulator sits at the edge of what the
  sums need: forced "speculative" and auto equal the sequential contract kernel; a
  derandomized campaign asserts that partial sums really saturate in a share of the cases
  (widening A changes the output), that other outputs of those cases still pass the bound,
  and that some cases pass everywhere.
- A small network with a saturating accumulator in every MAC layer (each overflow mode)
  equals the C simulation at every layer.

Mode coverage and compile time: the fallback compiles an ordered kernel per mode
combination (a conv kernel costs 10-30 s cold), so this file draws few of them: rounding
modes that share one kernel (``GENERIC_Q``), AP_SAT (signed and unsigned) for conv2d,
AP_SAT_SYM and AP_SAT_ZERO for dense (the bound's overflow-mode logic is shared by both).
Every mode combination reaches this path through tests/network/test_fast_paths.py (its
saturating regime runs auto) and the rounding of every mode through the kernel test here.
"""

from __future__ import annotations

import dataclasses
import warnings

import numpy as np
import pytest
from hypothesis import given, note, settings
from hypothesis import strategies as st

from fixsim.errors import FixsimError, FormatError
from fixsim.fixed import FixedType, FixsimWarning, kernels, product_type
from fixsim.fixed.format import Quantization
from fixsim.layers import conv2d, dense
from fixsim.layers import _speculative as S
from fixsim.network import load_spec
from fixsim.network import run as fixsim_run
from fixsim.network.engine import mac_config
from helpers import assert_bits_equal

from .layer_strategies import _case

#: Rounding modes whose ordered fallback shares one kernel per overflow mode (fixsim.layers.
#: _ordered.COMPILED_Q gives TRN, RND and RND_CONV kernels of their own).
GENERIC_Q = ["AP_RND_ZERO", "AP_RND_MIN_INF", "AP_RND_INF", "AP_TRN_ZERO"]


# ----------------------------------------------------------------- the kernels' arithmetic
def _requant(p: int, d: int, q: Quantization) -> int:
    return int(kernels._requant(np.int64(p), d, -(2 ** 62), 2 ** 62, int(q), kernels.WRAP,
                                False, False))


def _kernel_sums(values, d, q, wide, hi=2 ** 62, lo=-(2 ** 62)):
    """(failed, acc) of the dense kernel on one output whose products are ``values``."""
    dt = np.int64 if wide else np.int32
    x = np.asarray([values], dt)
    wt = np.ones((len(values), 1), dt)
    acc, rows = np.zeros((1, 1), np.int64), np.zeros(1, np.int64)
    s, t = np.empty(1, dt), np.empty(1, dt)
    c0, c1, c2 = S.round_constants(q, d)
    n_fail, _ = S.kernels(wide)[1](x, wt, np.zeros(1, np.int64), d, c0, c1, c2, True, 0,
                                   np.array([hi], np.int64), np.array([lo], np.int64), s, t,
                                   acc, rows)
    return n_fail, int(acc[0, 0])


@given(q=st.sampled_from(list(Quantization)), wide=st.booleans(), data=st.data())
def test_kernel_sums_round_every_mode_and_bound_soundly(q, wide, data):
    d = data.draw(st.integers(1, 62 if wide else 30), label="d")
    limit = (2 ** 62 if wide else 2 ** 31 - 1) - 2 ** d  # the plan's lane condition
    n = data.draw(st.integers(1, 8), label="terms")
    # exact ties, their neighbours and arbitrary values, both signs
    near = st.integers(-4, 4).map(lambda k: k * 2 ** (d - 1))
    p = st.one_of(near, near.map(lambda v: v + 1), near.map(lambda v: v - 1),
                  st.integers(-limit // n, limit // n))
    values = [max(-limit // n, min(limit // n, v)) for v in data.draw(st.lists(p, min_size=n,
                                                                              max_size=n))]
    r = [_requant(v, d, q) for v in values]
    total, pos, neg = sum(r), sum(v for v in r if v > 0), sum(v for v in r if v < 0)
    n_fail, acc = _kernel_sums(values, d, q, wide)
    assert (n_fail, acc) == (0, total), (values, r)
    # sound: a bound one below the positive (one above the negative) part always fails
    assert _kernel_sums(values, d, q, wide, hi=pos - 1)[0] == 1
    assert _kernel_sums(values, d, q, wide, lo=neg + 1)[0] == 1


@pytest.mark.parametrize("q", list(Quantization))
def test_round_constants_match_the_modes(q):
    for d in (1, 2, 5):
        c0, c1, c2 = S.round_constants(q, d)
        for p in range(-70, 71):
            got = (p + c0 + (c1 & (p >> 63)) + (c2 & (p >> d))) >> d
            assert got == _requant(p, d, q), (q.name, d, p)


# --------------------------------------------------------------- layers at the range's edge
def _formats(draw, fan_in: int, modes):
    """(input, weight, accum, bias) formats: products rounded into a saturating A whose
    integer bits go from below the product's (most sums saturate) to log2(fan-in) above
    it (hardly any does).  Unsigned A takes unsigned operands (else every negative
    product saturates)."""
    o = draw(st.sampled_from(modes))
    signed = o != "AP_SAT" or draw(st.integers(0, 3)) > 0
    wi = draw(st.integers(3, 14))
    fin = FixedType(wi, draw(st.integers(0, wi)), signed, "AP_RND", "AP_SAT")
    wb = draw(st.integers(2, 12))
    weight = FixedType(wb, draw(st.integers(-1, 3)), signed, "AP_RND", "AP_SAT")
    pt = product_type(fin, weight)
    frac = pt.frac_bits - draw(st.integers(1, 8))
    # half the layers at or below the product's integer bits, half above (AP_SAT_SYM: at
    # or below only, which keeps the headers' minimum rule on for the product conversion
    # and so one compiled fallback kernel)
    above = st.integers(1, max(1, fan_in.bit_length()))
    ib = pt.int_bits + draw(st.integers(-4, 0) if o == "AP_SAT_SYM" else
                            st.one_of(st.integers(-4, 0), above))
    width = min(max(ib + frac, 3), 40)
    accum = FixedType(width, width - frac, signed, draw(st.sampled_from(GENERIC_Q)), o)
    # the bias always fits A: only products and partial sums can saturate
    bias = FixedType(8, min(6, accum.int_bits - 1), True, "AP_RND", "AP_SAT")
    return fin, weight, accum, bias


def _fields(draw, fin, weight, accum, bias):
    has_bias = draw(st.booleans()) and accum.signed
    formats = {"weight": str(weight), "accum": str(accum),
               "result": str(FixedType(12, max(accum.int_bits, 1), True, "AP_RND", "AP_SAT"))}
    if has_bias:
        formats["bias"] = str(bias)
    return {"bias": has_bias, "activation": draw(st.sampled_from(["linear", "relu"])),
            "formats": formats,
            "options": {"product": "to_accum",
                        "sum_order": draw(st.sampled_from(["ci_kh_kw", "kh_kw_ci"]))}}


def _spread(draw, case):
    """The case with each image's inputs and each output's weights scaled down by its own
    0..6-bit shift (0 half the time), so that one layer holds outputs far inside A and
    outputs at its edge."""
    spec, lay, x, w, b = case
    shift = st.sampled_from([0, 0, 0, 1, 2, 4, 6])
    xs = np.asarray(draw(st.lists(shift, min_size=len(x), max_size=len(x))))
    ws = np.asarray(draw(st.lists(shift, min_size=len(w), max_size=len(w))))
    x = x >> xs.reshape((-1,) + (1,) * (x.ndim - 1))
    w = w >> ws.reshape((-1,) + (1,) * (w.ndim - 1))
    return spec, lay, x, w, b


@st.composite
def edge_conv(draw):
    c, h, w = draw(st.integers(1, 3)), draw(st.integers(3, 9)), draw(st.integers(3, 9))
    kh, kw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    fin, weight, accum, bias = _formats(draw, c * kh * kw, ["AP_SAT"])
    layer = {"name": "conv", "type": "conv2d", "out_channels": draw(st.integers(1, 3)),
             "kernel": [kh, kw], "stride": [draw(st.integers(1, 2)), draw(st.integers(1, 2))],
             "padding": [draw(st.integers(0, 1)), draw(st.integers(0, 1))],
             **_fields(draw, fin, weight, accum, bias)}
    return _spread(draw, _case(draw, str(fin), [c, h, w], layer, draw(st.integers(1, 3))))


@st.composite
def edge_dense(draw):
    k = draw(st.integers(1, 40))
    fin, weight, accum, bias = _formats(draw, k, ["AP_SAT_SYM", "AP_SAT_ZERO"])
    layer = {"name": "fc", "type": "dense", "out_features": draw(st.integers(1, 9)),
             **_fields(draw, fin, weight, accum, bias)}
    return _spread(draw, _case(draw, str(fin), [k, 1, 1], layer, draw(st.integers(2, 8)),
                               flat=True))


def _layer(case, method, cfg=None, **kw):
    spec, lay, x, w, b = case
    cfg = cfg or mac_config(lay)
    if lay.type == "conv2d":
        return conv2d(x, w, b, cfg, stride=lay.stride, padding=lay.padding, method=method, **kw)
    return dense(x, w, b, cfg, method=method, **kw)


def _check(case) -> dict:
    """Forced "speculative" and auto against the sequential kernel; the path's counts."""
    note(case[0].to_json(indent=None))
    want = _layer(case, "sequential")
    stats: dict = {}
    assert_bits_equal(want, _layer(case, "speculative", stats=stats), context="speculative")
    assert stats["outputs"] == want.size
    assert 0 <= stats["failed"] <= stats["recomputed"] <= stats["outputs"]
    assert (stats["failed"] == 0) == (stats["recomputed"] == 0)
    got, used = _layer(case, "auto", return_method=True)
    assert used in ("speculative", "direct")  # direct: no partial sum can leave A (proved)
    assert_bits_equal(want, got, context=f"auto ({used})")
    return stats


@given(case=st.one_of(edge_conv(), edge_dense()))
def test_speculative_equals_sequential(case):
    _check(case)


def _saturates(case, want) -> bool:
    """Does A's overflow act?  A with 24 more integer bits (same grid and modes) changes
    the output exactly when a product or partial sum left A's range (the bias fits A)."""
    cfg = mac_config(case[1])
    wide = dataclasses.replace(cfg.accum, width=cfg.accum.width + 24,
                               int_bits=cfg.accum.int_bits + 24)
    return not np.array_equal(want, _layer(case, "sequential",
                                           dataclasses.replace(cfg, accum=wide)))


def test_campaign_saturates_and_passes():
    """On a derandomized campaign the data really saturate in a share of the cases, those
    cases keep outputs that pass the bound, the recomputation is partial (some rows of a
    layer, not all) in a share of the cases, and other cases pass everywhere."""
    seen = []

    @settings(max_examples=100, derandomize=True, database=None)
    @given(case=st.one_of(edge_conv(), edge_dense()))
    def campaign(case):
        stats = _check(case)
        sat = _saturates(case, _layer(case, "sequential"))
        assert stats["failed"] > 0 or not sat, "an output that saturates passed the bound"
        seen.append((sat, stats["failed"], stats["recomputed"], stats["outputs"]))

    campaign()
    sat = [s for s in seen if s[0]]
    mixed = [s for s in sat if s[1] < s[3]]
    partial = [s for s in seen if 0 < s[2] < s[3]]
    clean = [s for s in seen if s[1] == 0]
    summary = (f"{len(sat)} saturate ({len(mixed)} with passing outputs), {len(partial)} "
               f"partly recomputed, {len(clean)} clean, of {len(seen)}")
    share = len(seen) // 12
    assert len(sat) >= 2 * share and len(mixed) >= share and len(partial) >= share, summary
    assert len(clean) >= 2 * share, summary


def test_forced_speculative_refused_where_it_does_not_apply():
    wrap = mac_config_for(FixedType(8, 4), FixedType(8, 2), "ap_fixed<10,6,AP_TRN_ZERO,AP_WRAP>")
    x, w = np.array([[100, -100, 37]]), np.array([[50, 50, -3]])
    with pytest.raises(FormatError, match="does not saturate"):
        dense(x, w, None, wrap, method="speculative")
    # 63-bit products whose sums may pass 2^62: auto keeps the contract order
    big = mac_config_for(FixedType(32, 16), FixedType(31, 15), "ap_fixed<40,30,AP_RND_INF,AP_SAT_ZERO>")
    xb = np.full((1, 8), -(2 ** 31), np.int64)
    wb = np.full((1, 8), -(2 ** 30), np.int64)
    with pytest.raises(FormatError, match="int64 lanes"):
        dense(xb, wb, None, big, method="speculative")
    out, used = dense(xb, wb, None, big, return_method=True)
    assert used == "ordered"
    assert_bits_equal(dense(xb, wb, None, big, method="sequential"), out)


def mac_config_for(fin, weight, accum: str):
    from fixsim.layers import MacConfig

    return MacConfig(fin, weight, None, FixedType.parse(accum), FixedType(16, 8, True, "AP_RND", "AP_SAT"))


def test_int64_lanes_when_sums_pass_int32():
    """20-bit operands: the products pass 2^31, the sums run in int64 lanes (same bits)."""
    cfg = mac_config_for(FixedType(20, 10), FixedType(16, 4), "ap_fixed<24,12,AP_TRN_ZERO,AP_SAT_ZERO>")
    rng = np.random.default_rng(3)
    x = rng.integers(-(2 ** 19), 2 ** 19, (6, 30))
    w = rng.integers(-(2 ** 15), 2 ** 15, (5, 30)) >> rng.integers(0, 8, (5, 1))
    plan, reason = S.make_plan(cfg, "clamp", int(np.abs(x).max()), w, np.zeros(5, np.int64))
    assert reason is None and plan.lanes is np.int64 and plan.check
    stats: dict = {}
    got = dense(x, w, None, cfg, method="speculative", stats=stats)
    assert_bits_equal(dense(x, w, None, cfg, method="sequential"), got)
    assert 0 < stats["failed"] < stats["outputs"], stats




@pytest.mark.parametrize("shape, kernel, stride", [((2, 40, 41), (3, 3), (1, 1)),
                                                   ((4, 2, 2103), (1, 3), (1, 2))])
def test_conv_maps_longer_than_one_block(shape, kernel, stride):
    """Maps whose accumulator vector spans several of the kernel's cache blocks (a stride-1
    map's long vector, a strided row of more than 1024 outputs), saturating in places."""
    from fixsim.layers import MacConfig

    cfg = MacConfig(FixedType(8, 3), FixedType(8, 1), None,
                    FixedType.parse("ap_fixed<12,5,AP_RND_ZERO,AP_SAT>"),
                    FixedType(12, 5, True, "AP_RND", "AP_SAT"))
    rng = np.random.default_rng(9)
    x = rng.integers(-128, 128, (2, *shape))
    w = rng.integers(-128, 128, (3, shape[0], *kernel))
    stats: dict = {}
    got = conv2d(x, w, None, cfg, stride=stride, padding=(1, 1), method="speculative",
                 stats=stats)
    assert_bits_equal(conv2d(x, w, None, cfg, stride=stride, padding=(1, 1), method="sequential"),
                      got)
    assert 0 < stats["recomputed"] < stats["outputs"], stats

@pytest.mark.parametrize("q", ["AP_TRN", "AP_RND_CONV", "AP_TRN_ZERO"])
def test_wrapping_accumulator_sums_wrap_in_int32_lanes(q):
    """Products rounded into a wrapping A of at most 32 bits ("direct"): the same kernels
    without the bound, in int32 lanes whose sums pass 2^31 and wrap (the residue modulo
    2^32 fixes the one modulo 2^W)."""
    cfg = mac_config_for(FixedType(16, 6), FixedType(16, 4), f"ap_fixed<24,3,{q},AP_WRAP>")  # d = 1
    rng = np.random.default_rng(5)
    x = np.concatenate([np.full((1, 64), 2 ** 15 - 1), rng.integers(-(2 ** 15), 2 ** 15, (3, 64))])
    w = np.concatenate([np.full((1, 64), 2 ** 15 - 1), rng.integers(-(2 ** 15), 2 ** 15, (4, 64))])
    plan = S.wrap_plan(cfg, int(np.abs(x).max()), w)
    assert plan is not None and plan.lanes is np.int32 and not plan.check
    assert 64 * (2 ** 15 - 1) ** 2 >> plan.d > 2 ** 31  # the first output's sum wraps int32
    got, used = dense(x, w, None, cfg, return_method=True)
    assert used == "direct"
    assert_bits_equal(dense(x, w, None, cfg, method="sequential"), got)
    xc, wc = x.reshape(4, 4, 4, 4), w.reshape(5, 4, 4, 4)
    got, used = conv2d(xc, wc, None, cfg, padding=(1, 1), return_method=True)
    assert used == "direct"
    assert_bits_equal(conv2d(xc, wc, None, cfg, padding=(1, 1), method="sequential"), got)

# --------------------------------------------------------------- the C simulation, every layer
SMALL = {
    "name": "spec_small", "input": {"shape": [2, 9, 9], "format": "ap_fixed<10,4,AP_RND,AP_SAT>"},
    "layers": [
        {"name": "c1", "type": "conv2d", "out_channels": 4, "kernel": 3, "padding": "same",
         "activation": "relu",
         "formats": {"weight": "ap_fixed<8,1,AP_RND,AP_SAT>", "bias": "ap_fixed<8,3>",
                     "accum": "ap_fixed<14,5,AP_RND_INF,AP_SAT>", "result": "ap_fixed<10,4,AP_RND,AP_SAT>"}},
        {"name": "p1", "type": "maxpool2d", "kernel": 2, "ceil_mode": True},
        {"name": "c2", "type": "conv2d", "out_channels": 3, "kernel": 2, "sum_order": "kh_kw_ci",
         "formats": {"weight": "ap_fixed<8,1,AP_RND,AP_SAT>", "bias": "ap_fixed<8,3>",
                     "accum": "ap_fixed<13,4,AP_RND_ZERO,AP_SAT>",
                     "result": "ap_fixed<10,4,AP_RND,AP_SAT>"}},
        {"name": "f", "type": "flatten", "order": "hwc"},
        {"name": "d1", "type": "dense", "out_features": 6, "activation": "relu",
         "formats": {"weight": "ap_fixed<8,1,AP_RND,AP_SAT>", "bias": "ap_fixed<8,3>",
                     "accum": "ap_fixed<12,5,AP_TRN_ZERO,AP_SAT_ZERO>",
                     "result": "ap_fixed<10,4,AP_RND,AP_SAT>"}},
        {"name": "d2", "type": "dense", "out_features": 3,
         "formats": {"weight": "ap_fixed<8,1,AP_RND,AP_SAT>", "bias": "ap_fixed<8,3>",
                     "accum": "ap_fixed<12,4,AP_RND_MIN_INF,AP_SAT_SYM>",
                     "result": "ap_fixed<10,4,AP_RND,AP_SAT>"}},
    ]}


def test_small_network_equals_csim_at_every_layer(need_gxx):
    from fixsim.csim import twin
    from fixsim.csim.codegen import namespace_of

    from tests.rtl.taps import assert_taps_equal

    spec = load_spec(SMALL)
    rng = np.random.default_rng(10)
    weights = {k: rng.integers(f.raw_min, f.raw_max + 1, size=spec.weight_shapes()[k])
               for k, f in spec.weight_formats().items()}
    x = rng.standard_normal((6,) + spec.input_shape) * 3.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FixsimWarning)
        taps, used = fixsim_run(spec, weights, x, return_methods=True)
        wide = _widened(spec)
        acted = [k for k, v in fixsim_run(wide, weights, x).items() if not np.array_equal(v, taps[k])]
    assert set(used.values()) == {"speculative"}, used
    assert acted, "no accumulator saturated: the comparison would not test the fallback"
    bench = twin.build(spec, opt="-O1")
    actual = twin.run_testbench(bench, namespace_of(spec.name), weights, x)
    assert_taps_equal({k: taps[k] for k in actual}, actual, spec, context="speculative")


def _widened(spec):
    """The spec with 24 more integer bits in every accumulator (nothing saturates)."""
    d = spec.to_dict()
    d["name"] += "_wide"
    for layer in d["layers"]:
        if layer["type"] in ("conv2d", "dense"):
            a = FixedType.parse(layer["formats"]["accum"])
            layer["formats"]["accum"] = str(dataclasses.replace(a, width=a.width + 24,
                                                                int_bits=a.int_bits + 24))
    try:
        return load_spec(d)
    except FixsimError as e:  # pragma: no cover - the formats above are valid
        raise AssertionError(e) from e
