"""Hypothesis strategies for small random layers (specs validated by the real loader)."""

from __future__ import annotations

import numpy as np
from hypothesis import assume
from hypothesis import strategies as st

from fixsim.errors import FormatError
from fixsim.fixed import FixedType
from fixsim.fixed.format import Overflow, Quantization
from fixsim.network.spec import load_spec

QS = [q.name for q in Quantization]
OS = [o.name for o in Overflow]


@st.composite
def fmt(draw, wmin=1, wmax=16, signed=None, overflow=None, quant=None):
    w = draw(st.integers(wmin, wmax))
    i = draw(st.integers(-3, w + 3))
    s = draw(st.booleans()) if signed is None else signed
    q = quant or draw(st.sampled_from(QS))
    o = overflow or draw(st.sampled_from([m for m in OS if s or m != "AP_WRAP_SM"]))
    n = draw(st.integers(0, min(2, w))) if o in ("AP_WRAP", "AP_WRAP_SM") else 0
    return str(FixedType(w, i, s, q, o, n))


@st.composite
def activation(draw):
    kind = draw(st.sampled_from(["linear", "relu", "leaky_relu"]))
    if kind != "leaky_relu":
        return kind
    af = draw(fmt(wmin=2, wmax=10, signed=True, overflow="AP_SAT"))
    t = FixedType.parse(af)
    alpha = draw(st.floats(t.min, t.max, allow_nan=False))
    return {"leaky_relu": alpha, "alpha_format": af}


@st.composite
def mac_fields(draw, in_fmt: str, order_free=False):
    """formats/options/activation of a conv2d/dense layer; ``order_free`` draws configs in
    which no product is rounded and the accumulator wraps (the order-free paths apply)."""
    product = draw(st.sampled_from(["to_accum", "exact"]))
    weight = draw(fmt(wmax=12))
    has_bias = draw(st.booleans())
    if order_free:
        f_prod = FixedType.parse(in_fmt).frac_bits + FixedType.parse(weight).frac_bits
        frac = f_prod + draw(st.integers(0, 3))
        ib = draw(st.integers(-2, 12))
        assume(1 <= ib + frac <= 62)
        accum = str(FixedType(ib + frac, ib, draw(st.booleans()), draw(st.sampled_from(QS)),
                              "AP_WRAP"))
    else:
        accum = draw(fmt(wmin=2, wmax=40))
    fields = {
        "bias": has_bias,
        "activation": draw(activation()),
        "formats": {"weight": weight, "accum": accum, "result": draw(fmt(wmax=20))},
        "options": {"product": product,
                    "sum_order": draw(st.sampled_from(["ci_kh_kw", "kh_kw_ci"])),
                    "activation_on": draw(st.sampled_from(["result", "accum"]))},
    }
    if has_bias:
        fields["formats"]["bias"] = draw(fmt(wmax=16))
    return fields


def _raw(rng, f: FixedType, shape, edge: float):
    """Uniform raw values with a share of extremes (which provoke overflow)."""
    v = rng.integers(f.raw_min, f.raw_max, size=shape, endpoint=True, dtype=np.int64)
    pick = rng.random(shape) < edge
    ext = rng.choice(np.array([f.raw_min, f.raw_max], np.int64), size=shape)
    return np.where(pick, ext, v)


@st.composite
def conv_case(draw, order_free=False):
    """(spec, layer, x raw, weight raw, bias raw or None)."""
    c, h, w = draw(st.integers(1, 3)), draw(st.integers(2, 7)), draw(st.integers(2, 7))
    kh, kw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    ph, pw = draw(st.integers(0, 1)), draw(st.integers(0, 1))
    assume(h + 2 * ph >= kh and w + 2 * pw >= kw)
    in_fmt = draw(fmt(wmax=16))
    layer = {"name": "conv", "type": "conv2d", "out_channels": draw(st.integers(1, 3)),
             "kernel": [kh, kw], "stride": [draw(st.integers(1, 2)), draw(st.integers(1, 2))],
             "padding": [ph, pw], **draw(mac_fields(in_fmt, order_free))}
    return _case(draw, in_fmt, [c, h, w], layer, draw(st.integers(1, 3)))


@st.composite
def dense_case(draw, order_free=False):
    k = draw(st.integers(1, 12))
    in_fmt = draw(fmt(wmax=16))
    layer = {"name": "fc", "type": "dense", "out_features": draw(st.integers(1, 4)),
             **draw(mac_fields(in_fmt, order_free))}
    # a dense layer needs a flat input: flatten a (k, 1, 1) map first
    return _case(draw, in_fmt, [k, 1, 1], layer, draw(st.integers(1, 3)), flat=True)


def _case(draw, in_fmt, shape, layer, n, flat=False):
    layers = ([{"name": "flat", "type": "flatten", "order": "chw"}] if flat else []) + [layer]
    try:
        spec = load_spec({"name": "t", "input": {"shape": shape, "format": in_fmt},
                          "layers": layers})
    except FormatError:
        assume(False)
    lay = spec.layers[-1]
    rng = np.random.default_rng(draw(st.integers(0, 2 ** 32 - 1)))
    edge = draw(st.sampled_from([0.0, 0.3, 0.9]))
    x = _raw(rng, lay.in_format, (n,) + tuple(lay.in_shape), edge)
    w = _raw(rng, lay.formats.weight, lay.weight_shape, edge)
    b = _raw(rng, lay.formats.bias, (lay.weight_shape[0],), edge) if lay.bias else None
    return spec, lay, x, w, b
