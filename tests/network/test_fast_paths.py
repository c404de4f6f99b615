"""The fast exact paths for every accumulator regime (docs/datapath.md section 6).

Each regime is drawn inside and at its edges; each path is checked against the
sequential contract kernel (the reference) and, on a share of cases, against the naive
elementwise chain.  Seeded campaigns assert that the data really round and saturate,
so equality is never the vacuous no-overflow case.
"""

from __future__ import annotations

import dataclasses
import os

import numpy as np
import pytest
from numba import njit
from hypothesis import given, note, settings
from hypothesis import strategies as st

from fixsim.errors import FormatError, InputError
from fixsim.fixed import FixedType, kernels
from fixsim.fixed.format import Overflow, Quantization
from fixsim.fixed.specialized import _round_shift
from fixsim.layers import MacConfig, conv2d, dense
from fixsim.layers import convert as C
from fixsim.layers.mac import step_plan
from fixsim.network.engine import mac_config
from helpers import assert_bits_equal

from .layer_strategies import QS, _case
from .naive_layers import naive_conv2d, naive_dense

SAT_MODES = ["AP_SAT", "AP_SAT_ZERO", "AP_SAT_SYM"]

#: Examples per regime test.  Each new mode combination drawn compiles its own kernels
#: (about 10 s each from a cold Numba cache), so the default ``ci`` profile draws 60 cases
#: per test (the share of combinations left undrawn differs per seed); every other
#: profile (``long``: 5,000) draws its own count.
REGIME_EXAMPLES = (60 if os.environ.get("FIXSIM_HYPOTHESIS_PROFILE", "ci") == "ci"
                   else settings().max_examples)


@st.composite
def regime_fields(draw, in_fmt: str, regime: str):
    """formats/options of a MAC layer in one regime.

    - ``wrap_rounded``: to_accum, AP_WRAP N = 0, F_acc < F_prod (down to 1 bit coarser);
    - ``saturating``: AP_SAT / AP_SAT_ZERO / AP_SAT_SYM, any Q, products rounded or not;
    - ``wrap_n``: AP_WRAP with N > 0, or AP_WRAP_SM.
    """
    fin = FixedType.parse(in_fmt)
    wbits = draw(st.integers(2, 12))
    weight = FixedType(wbits, draw(st.integers(-2, wbits + 2)), draw(st.booleans()),
                       draw(st.sampled_from(QS)), "AP_SAT")
    f_prod = fin.frac_bits + weight.frac_bits
    product = "to_accum" if regime == "wrap_rounded" else draw(st.sampled_from(["to_accum",
                                                                                "exact"]))
    if regime == "wrap_rounded":
        frac = f_prod - draw(st.one_of(st.just(1), st.integers(1, 12)))
    elif product == "exact":
        frac = f_prod + draw(st.integers(0, 2))
    else:
        frac = f_prod + draw(st.integers(-10, 2))
    width = draw(st.integers(2, 24))
    if regime == "wrap_rounded":
        o, n = "AP_WRAP", 0
    elif regime == "saturating":
        o, n = draw(st.sampled_from(SAT_MODES)), 0
    else:
        o = draw(st.sampled_from(["AP_WRAP", "AP_WRAP_SM"]))
        n = draw(st.integers(1 if o == "AP_WRAP" else 0, 3))
    accum = FixedType(width, width - frac, True, draw(st.sampled_from(QS)), o, min(n, width))
    has_bias = draw(st.booleans())
    fields = {
        "bias": has_bias,
        "activation": draw(st.sampled_from(["linear", "relu"])),
        "formats": {"weight": str(weight), "accum": str(accum),
                    "result": str(FixedType(12, 6, True, draw(st.sampled_from(QS)), "AP_SAT"))},
        "options": {"product": product, "sum_order": draw(st.sampled_from(["ci_kh_kw", "kh_kw_ci"])),
                    "activation_on": draw(st.sampled_from(["result", "accum"]))},
    }
    if has_bias:
        fields["formats"]["bias"] = str(FixedType(8, draw(st.integers(-1, 6)), True))
    return fields


def _in_fmt(draw):
    w = draw(st.integers(3, 14))
    return str(FixedType(w, draw(st.integers(0, w)), True, "AP_RND", "AP_SAT"))


@st.composite
def regime_conv(draw, regime):
    c, h, w = draw(st.integers(1, 3)), draw(st.integers(2, 8)), draw(st.integers(2, 8))
    kh, kw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    ph, pw = draw(st.integers(0, 2)), draw(st.integers(0, 2))
    if h + 2 * ph < kh or w + 2 * pw < kw:
        ph, pw = kh, kw
    in_fmt = _in_fmt(draw)
    layer = {"name": "conv", "type": "conv2d", "out_channels": draw(st.integers(1, 3)),
             "kernel": [kh, kw], "stride": [draw(st.integers(1, 3)), draw(st.integers(1, 3))],
             "padding": [ph, pw], **draw(regime_fields(in_fmt, regime))}
    return _case(draw, in_fmt, [c, h, w], layer, draw(st.integers(1, 3)))


@st.composite
def regime_dense(draw, regime):
    in_fmt = _in_fmt(draw)
    layer = {"name": "fc", "type": "dense", "out_features": draw(st.integers(1, 9)),
             **draw(regime_fields(in_fmt, regime))}
    return _case(draw, in_fmt, [draw(st.integers(1, 40)), 1, 1], layer, draw(st.integers(1, 3)),
                 flat=True)


#: Path auto must take (or "direct" where the data provably cannot overflow) and the kind of
#: the ordered kernel (checked with method="ordered" in every regime).  Saturating layers
#: run "speculative" (tests/network/test_speculative.py), "ordered" where its sums do not fit.
EXPECTED = {"wrap_rounded": ("direct", "sum"), "saturating": ("speculative", "clamp"),
            "wrap_n": ("sequential", "generic")}


def _check_conv(case, regime, naive: bool):
    spec, lay, x, w, b = case
    note(spec.to_json(indent=None))
    cfg = mac_config(lay)
    kw = dict(stride=lay.stride, padding=lay.padding)
    want = conv2d(x, w, b, cfg, method="sequential", **kw)
    got, used = conv2d(x, w, b, cfg, return_method=True, **kw)
    path, kind = EXPECTED[regime]
    assert used in (path, "direct", "ordered" if regime == "saturating" else path)
    if regime == "saturating":  # semantic modes: compiled in (unless the 1-bit SAT_SYM port)
        assert step_plan(cfg).kind == kind or cfg.accum.width == 1
    elif regime == "wrap_n":
        assert step_plan(cfg).kind == kind
    assert_bits_equal(want, got, context=f"conv {used} {cfg}")
    assert_bits_equal(want, conv2d(x, w, b, cfg, method="ordered", **kw), context="ordered")
    if naive:
        assert_bits_equal(naive_conv2d(x, w, b, cfg, lay.stride, lay.padding), want,
                          context="naive")


def _check_dense(case, regime, naive: bool):
    spec, lay, x, w, b = case
    note(spec.to_json(indent=None))
    cfg = mac_config(lay)
    want = dense(x, w, b, cfg, method="sequential")
    got, used = dense(x, w, b, cfg, return_method=True)
    assert used in (EXPECTED[regime][0], "direct", "gemm", "ordered" if regime == "saturating"
                    else "direct")
    assert_bits_equal(want, got, context=f"dense {used} {cfg}")
    assert_bits_equal(want, dense(x, w, b, cfg, method="ordered"), context="ordered")
    if naive:
        assert_bits_equal(naive_dense(x, w, b, cfg), want, context="naive")


@pytest.mark.parametrize("regime", sorted(EXPECTED))
@settings(max_examples=REGIME_EXAMPLES)
@given(data=st.data())
def test_conv_fast_path_equals_sequential(regime, data):
    _check_conv(data.draw(regime_conv(regime)), regime, data.draw(st.booleans()))


@pytest.mark.parametrize("regime", sorted(EXPECTED))
@settings(max_examples=REGIME_EXAMPLES)
@given(data=st.data())
def test_dense_fast_path_equals_sequential(regime, data):
    _check_dense(data.draw(regime_dense(regime)), regime, data.draw(st.booleans()))


@settings(max_examples=REGIME_EXAMPLES)
@given(data=st.data())
def test_dense_term_order_is_a_parameter(data):
    """An index permutation as the order == the contract kernel on permuted columns."""
    regime = data.draw(st.sampled_from(sorted(EXPECTED)))
    spec, lay, x, w, b = data.draw(regime_dense(regime))
    cfg = mac_config(lay)
    perm = np.asarray(data.draw(st.permutations(range(x.shape[1]))), np.int64)
    want = dense(x[:, perm], w[:, perm], b, cfg, method="sequential")
    assert_bits_equal(want, dense(x, w, b, cfg, method="ordered", order=perm))
    with pytest.raises(InputError, match="permutation"):
        dense(x, w, b, cfg, method="ordered", order=np.zeros(x.shape[1] + 1, np.int64))


# ------------------------------------------------------------- the data really act
def _layer(case, cfg, method):
    spec, lay, x, w, b = case
    if lay.type == "conv2d":
        return conv2d(x, w, b, cfg, stride=lay.stride, padding=lay.padding, method=method)
    return dense(x, w, b, cfg, method=method)


def _mode_acts(case, cfg, want, field, value) -> bool:
    """Does replacing the accumulator's ``field`` by ``value`` change the layer's output?"""
    extra = {"sat_bits": 0} if field == "overflow" else {}
    try:
        alt = dataclasses.replace(cfg, accum=dataclasses.replace(cfg.accum, **{field: value},
                                                                 **extra))
        return not np.array_equal(want, _layer(case, alt, "sequential"))
    except FormatError:
        return False


@pytest.mark.parametrize("regime", sorted(EXPECTED))
def test_campaign_rounds_and_saturates(regime):
    """A derandomized campaign: equal on every case, and on a good share of cases the
    accumulator's modes change the result (replacing its overflow mode, or its
    quantization mode, changes the output), so the modes really act on these data."""
    stats = []

    @settings(max_examples=40, derandomize=True, database=None)
    @given(data=st.data())
    def campaign(data):
        case = data.draw(regime_conv(regime) if data.draw(st.booleans()) else regime_dense(regime))
        cfg = mac_config(case[1])
        want = _layer(case, cfg, "sequential")
        assert_bits_equal(want, _layer(case, cfg, "auto"), context=f"{regime} {cfg}")
        acc = cfg.accum
        o = "AP_SAT" if acc.overflow == Overflow.AP_WRAP and acc.sat_bits == 0 else "AP_WRAP"
        q = "AP_RND_INF" if acc.quantization == Quantization.AP_TRN else "AP_TRN"
        stats.append((_mode_acts(case, cfg, want, "overflow", o),
                      _mode_acts(case, cfg, want, "quantization", q)))

    campaign()
    over = sum(a for a, _ in stats)
    rnd = sum(b for _, b in stats)
    assert over >= len(stats) // 4, f"{regime}: overflow acted in {over} of {len(stats)} cases"
    # about half the saturating/wrap_n cases add exact products (nothing to round there)
    share = 4 if regime == "wrap_rounded" else 6
    assert rnd >= len(stats) // share, f"{regime}: rounding acted in {rnd} of {len(stats)} cases"


# ------------------------------------------------------------------ kernels say what they do
def test_mode_codes_come_from_the_enums():
    for m in Quantization:
        assert getattr(kernels, m.name[3:]) == int(m)
    for m in Overflow:
        assert getattr(kernels, m.name[3:]) == int(m)


def test_descriptor_slots_are_named():
    src = FixedType.parse("ap_fixed<20,8>")
    dst = FixedType.parse("ap_fixed<12,5,AP_RND_CONV,AP_SAT_SYM>")
    c = C.descriptor(src, dst)
    assert c.shape == (C.DESCRIPTOR_SIZE,)
    assert (c[C.SHIFT], c[C.LO], c[C.HI], c[C.QMODE], c[C.OMODE]) == (
        5, dst.raw_min, dst.raw_max, int(Quantization.AP_RND_CONV), int(Overflow.AP_SAT_SYM))
    assert (c[C.DST_W], c[C.DST_I], c[C.SRC_W], c[C.SRC_I], c[C.SYM_MIN]) == (12, 5, 20, 8, 1)


def _cfg(**kw):
    base = dict(in_format=FixedType(8, 4), weight=FixedType(8, 2), bias=None,
                accum=FixedType(16, 8), result=FixedType(8, 4))
    base.update(kw)
    return MacConfig(**base)


@pytest.mark.parametrize("field, bad, closest", [
    ("product", "exakt", "exact"), ("sum_order", "ci_kw_kh", "ci_kh_kw"),
    ("activation", "relu6", "relu"), ("activation_on", "results", "result")])
def test_mac_config_checks_options_on_construction(field, bad, closest):
    with pytest.raises(InputError, match=rf"unknown {field} '{bad}' \(did you mean '{closest}'\?\)"):
        _cfg(**{field: bad})


def test_mac_config_checks_formats():
    with pytest.raises(InputError, match="must be a FixedType"):
        _cfg(accum="ap_fixed<16,8>")
    with pytest.raises(InputError, match="alpha_format"):
        _cfg(activation="leaky_relu")
    with pytest.raises(FormatError, match="at least as fine"):
        _cfg(product="exact", accum=FixedType(16, 12))


def test_forced_order_free_path_refused_where_products_round_into_a_saturating_accumulator():
    cfg = _cfg(accum=FixedType(10, 6, True, "AP_RND", "AP_SAT"))  # F_acc 4 < F_prod 10
    x = np.array([[100, -100, 37]])
    w = np.array([[50, 50, -3]])
    for m in ("direct", "gemm"):
        with pytest.raises(FormatError, match="rounded"):
            dense(x, w, None, cfg, method=m)
    wrap = _cfg(accum=FixedType(10, 6, True, "AP_RND", "AP_WRAP"))
    with pytest.raises(FormatError, match="rounded"):
        dense(x, w, None, wrap, method="gemm")
    out, used = dense(x, w, None, wrap, return_method=True)
    assert used == "direct"
    assert_bits_equal(dense(x, w, None, wrap, method="sequential"), out)


@njit(cache=True)
def _round_both(q, d, vs):
    """(_round_shift, _requant) of every value: the ordered kernels' rounding and the
    semantic requantizer's (run-time ``q`` here: one compilation for every mode)."""
    out = np.empty((2, vs.shape[0]), np.int64)
    for k in range(vs.shape[0]):
        out[0, k] = _round_shift(q, vs[k], d)
        out[1, k] = kernels._requant(vs[k], d, -(2 ** 62), 2 ** 62, q, kernels.WRAP, False, False)
    return out


@given(st.sampled_from(list(Quantization)), st.integers(1, 62),
       st.lists(st.integers(-2 ** 62, 2 ** 62), min_size=1, max_size=50))
def test_round_shift_equals_requant(q, d, values):
    got = _round_both(int(q), d, np.array(values + [0, 1, -1, 2 ** 62, -(2 ** 62)], np.int64))
    assert_bits_equal(got[1], got[0], context=f"{q.name} d={d}")
