"""The conv kernel of the speculative/direct paths on blocks of lanes (docs/datapath.md 6.1).

The conv kernel sums each output channel's nonzero terms over blocks of ``_LANES`` outputs
of one map (stride 1: the map's long vector ``j = oh*Wp + ow``; other strides: one output
row), with the block's last lanes reading the zeros after the input, and bounds the
partial sums with ``T = (sum |p| >> d) + n_t``.  Here, against the sequential contract
kernel:

- maps spanning several blocks and ending inside one, sparse weights (zero terms dropped),
  stride 1 and 2, padding; products rounded into a wrapping A ("direct", every rounding
  mode: the mode's branch-free constants in both kernel bodies) and into a saturating A
  ("speculative", with and without the per-output bound, int32 and int64 lanes);
- a derandomized campaign asserts that the data really round (some products are not on
  A's grid) and really saturate in a share of the cases (widening A changes the output),
  and that no output that saturates passes the bound;
- the bound itself: ``(sum |p| >> d) + n`` is at least ``sum ceil(|p| / 2^d)``.

Compile time: the fallback compiles an ordered kernel per mode combination, so the
saturating cases use one overflow mode (AP_SAT) and the rounding modes that share one
ordered kernel; the wrapping cases run every mode (their path has no fallback).
"""

from __future__ import annotations

import dataclasses

import numpy as np
from hypothesis import given, note, settings
from hypothesis import strategies as st

from fixsim.fixed import FixedType, product_type
from fixsim.fixed.format import Quantization
from fixsim.layers import MacConfig, conv2d
from fixsim.layers import _speculative as S
from helpers import assert_bits_equal

#: Rounding modes whose ordered fallback shares one kernel (as in test_speculative.py).
GENERIC_Q = ["AP_RND_ZERO", "AP_RND_MIN_INF", "AP_RND_INF", "AP_TRN_ZERO"]
RESULT = FixedType(16, 8, True, "AP_RND", "AP_SAT")


@st.composite
def block_conv(draw, overflow: str):
    """(cfg, x, w, stride, padding): a conv whose map spans one to several lane blocks,
    products rounded by 1..8 bits into A, A's integer bits around the products' (so that
    sums of a few products reach its edge), sparse weights."""
    c, cout = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    kh, kw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    h, w = draw(st.integers(kh + 2, 24)), draw(st.integers(kw + 2, 24))
    wi, wb = draw(st.integers(4, 14)), draw(st.integers(3, 12))
    fin = FixedType(wi, draw(st.integers(0, wi)), True, "AP_RND", "AP_SAT")
    weight = FixedType(wb, draw(st.integers(-1, 3)), True, "AP_RND", "AP_SAT")
    pt = product_type(fin, weight)
    frac = pt.frac_bits - draw(st.integers(1, 8))
    ib = pt.int_bits + draw(st.sampled_from([-6, -4, -2, 0, 2]))
    q = draw(st.sampled_from([m.name for m in Quantization] if overflow == "AP_WRAP"
                             else GENERIC_Q))
    width = min(max(ib + frac, 3), 40)
    accum = FixedType(width, width - frac, True, q, overflow)
    cfg = MacConfig(fin, weight, None, accum, RESULT)
    rng = np.random.default_rng(draw(st.integers(0, 2 ** 32 - 1)))
    n = draw(st.integers(1, 2))
    x = rng.integers(fin.raw_min, fin.raw_max + 1, (n, c, h, w))
    wt = rng.integers(weight.raw_min, weight.raw_max + 1, (cout, c, kh, kw))
    wt[rng.random(wt.shape) < draw(st.sampled_from([0.0, 0.3, 0.8]))] = 0
    # one image at a small scale: its outputs pass the bound beside saturating ones
    x[0] >>= draw(st.sampled_from([0, 0, 3, 6]))
    stride = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    padding = (draw(st.integers(0, 1)), draw(st.integers(0, 1)))
    return cfg, x, wt, stride, padding


def _run(case, method, cfg=None, **kw):
    c, x, w, stride, padding = case
    return conv2d(x, w, None, cfg or c, stride=stride, padding=padding, method=method, **kw)


def _rounds(case) -> bool:
    """Some product is not on A's grid (A's rounding really acts)."""
    cfg, x, w, _, _ = case
    d = -cfg.shift
    p = x.reshape(-1)[:, None] * w.reshape(-1)[None, :]
    return bool(np.any(p % (1 << d)))


def _saturates(case, want) -> bool:
    """A with 24 more integer bits (same grid and modes) changes the output."""
    cfg = case[0]
    wide = dataclasses.replace(cfg.accum, width=cfg.accum.width + 24,
                               int_bits=cfg.accum.int_bits + 24)
    return not np.array_equal(want, _run(case, "sequential", dataclasses.replace(cfg,
                                                                                  accum=wide)))


@settings(max_examples=40, deadline=None)
@given(case=block_conv("AP_WRAP"))
def test_rounded_products_into_wrapping_accumulator(case):
    note(f"{case[0]} x{case[1].shape} w{case[2].shape} stride {case[3]} padding {case[4]}")
    got, used = _run(case, "auto", return_method=True)
    assert used == "direct"
    assert_bits_equal(_run(case, "sequential"), got, context="direct (rounded products)")


def test_campaign_blocks_round_and_saturate():
    """Forced "speculative" equals the contract on multi-block maps; the data round in
    most cases, saturate in a share of them, and a saturating output never passes."""
    seen = []

    @settings(max_examples=40, derandomize=True, database=None, deadline=None)
    @given(case=block_conv("AP_SAT"))
    def campaign(case):
        want = _run(case, "sequential")
        stats: dict = {}
        assert_bits_equal(want, _run(case, "speculative", stats=stats), context="speculative")
        sat = _saturates(case, want)
        assert stats["failed"] > 0 or not sat, "an output that saturates passed the bound"
        oh = want.shape[2]
        long_map = case[3] == (1, 1) and (oh - 1) * (case[1].shape[3] + 2 * case[4][1]) > S._LANES
        seen.append((sat, _rounds(case), stats["failed"], stats["outputs"], long_map))

    campaign()
    sat = [s for s in seen if s[0]]
    summary = (f"{len(sat)} saturate, {sum(s[1] for s in seen)} round, "
               f"{sum(s[2] == 0 for s in seen)} pass everywhere, "
               f"{sum(s[4] for s in seen)} stride-1 maps over several blocks, of {len(seen)}")
    assert len(sat) >= len(seen) // 8, summary
    assert sum(s[1] for s in seen) >= len(seen) // 2, summary
    assert sum(s[2] == 0 for s in seen) >= len(seen) // 10, summary
    assert sum(s[0] and s[4] for s in seen) >= 2, summary


def test_int64_lanes_over_several_blocks():
    """20-bit operands (products past 2^31): int64 lanes, a stride-1 map of 3 blocks."""
    cfg = MacConfig(FixedType(20, 10), FixedType(16, 4), None,
                    FixedType.parse("ap_fixed<24,12,AP_RND_INF,AP_SAT>"), RESULT)
    rng = np.random.default_rng(11)
    x = rng.integers(-(2 ** 19), 2 ** 19, (2, 2, 20, 21))
    # output channels at three scales: saturating, at the edge, far inside A
    w = rng.integers(-(2 ** 15), 2 ** 15, (3, 2, 3, 3)) >> np.array([0, 5, 12])[:, None, None, None]
    w[0, 0, 1] = 0
    plan, reason = S.make_plan(cfg, "clamp", int(np.abs(x).max()), w.reshape(3, -1),
                               np.zeros(3, np.int64))
    assert reason is None and plan.lanes is np.int64 and plan.check
    stats: dict = {}
    got = conv2d(x, w, None, cfg, padding=(1, 0), method="speculative", stats=stats)
    assert_bits_equal(conv2d(x, w, None, cfg, padding=(1, 0), method="sequential"), got)
    assert 0 < stats["failed"] < stats["outputs"], stats


@given(d=st.integers(0, 40), p=st.lists(st.integers(-(2 ** 40), 2 ** 40), min_size=1,
                                         max_size=30))
def test_bound_of_absolute_sum_covers_rounded_terms(d, p):
    """The conv kernel's ``T = (sum |p| >> d) + n`` (``sum |p|`` when d = 0) is at least
    ``sum ceil(|p| / 2^d)``, the bound on ``sum |round(p / 2^d)|`` of every mode."""
    u = sum(abs(v) for v in p)
    t = (u >> d) + len(p) if d else u
    assert t >= sum(-(-abs(v) >> d) for v in p)


def _plan_reference(cfg, xmax, w2d, bias_acc):
    """make_plan's bounds spelled in Python ints: (lanes, check, hi_c, lo_c)."""
    acc = cfg.accum
    d, shift = max(0, -cfg.shift), max(0, cfg.shift)
    l1 = [sum(abs(int(v)) for v in row) for row in w2d]
    lo = acc.raw_min + (1 if (acc.overflow.name == "AP_SAT_SYM" and acc.signed) else 0)
    hi_c = [(acc.raw_max - max(int(b), 0)) >> shift for b in bias_acc]
    lo_c = [-((min(int(b), 0) - lo) >> shift) for b in bias_acc]
    slack = w2d.shape[1] * ((1 << d) - 1)
    check = any((xmax * v + slack) >> d > min(h, -m) for v, h, m in zip(l1, hi_c, lo_c))
    return check, hi_c, lo_c


@settings(max_examples=60, deadline=None)
@given(wi=st.integers(2, 32), ww=st.integers(2, 32), aw=st.integers(2, 64), fa=st.integers(-4, 40),
       o=st.sampled_from(["AP_SAT", "AP_SAT_SYM", "AP_SAT_ZERO"]), signed=st.booleans(),
       seed=st.integers(0, 2 ** 32 - 1), k=st.integers(1, 50), scale=st.integers(0, 40))
def test_plan_bounds_equal_python_ints(wi, ww, aw, fa, o, signed, seed, k, scale):
    """make_plan's int64 form of the per-channel bounds and of the layer-level check equals
    the same formulas in Python ints (and its Python fallback for wide formats)."""
    fin, weight = FixedType(wi, wi // 2, signed), FixedType(ww, ww // 3, signed)
    accum = FixedType(aw, aw - min(fa, aw + 60), signed, "AP_RND", o)
    cfg = MacConfig(fin, weight, None, accum, RESULT)
    rng = np.random.default_rng(seed)
    w2d = rng.integers(weight.raw_min, weight.raw_max + 1, (5, k), dtype=np.int64)
    bias = rng.integers(accum.raw_min, accum.raw_max, 5, dtype=np.int64, endpoint=True)
    xmax = min(max(-fin.raw_min, fin.raw_max), 1 << scale)
    plan, reason = S.make_plan(cfg, "clamp", xmax, w2d, bias)
    if plan is None:
        assert reason
        return
    check, hi_c, lo_c = _plan_reference(cfg, xmax, w2d, bias)
    assert plan.check == check
    assert plan.hi_c.tolist() == hi_c and plan.lo_c.tolist() == lo_c


def test_reused_scratch_leaves_no_trace():
    """The kernels' per-thread scratch (flat input, sums, accumulators) is reused by the next
    call: a call with padding and a smaller map after one that filled the scratch with large
    values gives the contract's bits (the padding and the block tail are zeroed again)."""
    cfg = MacConfig(FixedType(10, 4), FixedType(8, 1), None,
                    FixedType.parse("ap_fixed<14,6,AP_RND_ZERO,AP_SAT>"), RESULT)
    rng = np.random.default_rng(4)
    big = np.full((3, 2, 30, 30), 511)
    w = rng.integers(-128, 128, (3, 2, 3, 3))
    conv2d(big, w, None, cfg, method="speculative")
    x = rng.integers(-512, 512, (2, 2, 7, 9))
    for padding in ((1, 1), (0, 2)):
        got = conv2d(x, w, None, cfg, padding=padding, method="speculative")
        assert_bits_equal(conv2d(x, w, None, cfg, padding=padding, method="sequential"), got)


def test_no_mode_needs_both_rounding_terms():
    """The conv kernel adds one masked shift, ``(p >> k) & a``: every mode's constants have
    ``c1 = 0`` or ``c2 = 0`` (its rounding is checked against ``_requant`` in
    test_speculative.py), for every number of dropped bits."""
    for q in Quantization:
        for d in range(1, 63):
            _, c1, c2 = S.round_constants(q, d)
            assert c1 == 0 or c2 == 0, (q.name, d)


def test_kernels_load_from_the_disk_cache():
    """Numba's disk cache keys a closure on its cell values: a dispatcher in the kernels'
    closure (an inlined helper defined inside :func:`kernels`) made every process compile
    the conv kernel again (about 20 s).  Only plain values may be captured."""
    from numba.core.dispatcher import Dispatcher

    for wide in (False, True):
        for kernel in S.kernels(wide):
            cells = kernel.py_func.__closure__ or ()
            assert not any(isinstance(c.cell_contents, Dispatcher) for c in cells), kernel
            assert kernel._cache.__class__.__name__ == "FunctionCache", kernel
