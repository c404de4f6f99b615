"""Seeded generator of small random networks (spec dicts) for the C++/Python differential tests.

Architectures and formats decide what gets compiled, so they come from a seeded RNG up
front (one binary serves them all); weights and inputs are run-time data and come from
Hypothesis in the tests.  Every datapath option of the contract is drawn: product
to_accum/exact, both sum orders, activation on result/accum, valid/same/explicit zero
padding, ceil/floor pooling, chw/hwc flatten, relu/linear/leaky_relu (fused and
standalone), and accumulators with every quantization and overflow mode (saturating and
sign/parity rounding ones weighted up).
"""

from __future__ import annotations

import numpy as np

from fixsim.errors import FixsimError
from fixsim.fixed import FixedType, product_type
from fixsim.network.spec import load_spec

QUANT = ["AP_RND", "AP_RND_ZERO", "AP_RND_MIN_INF", "AP_RND_INF", "AP_RND_CONV", "AP_TRN",
         "AP_TRN_ZERO"]
#: The accumulator modes the issue names are drawn twice as often.
ACC_QUANT = QUANT + ["AP_RND_CONV", "AP_RND_INF", "AP_RND_ZERO", "AP_TRN_ZERO"]
OVF = ["AP_SAT", "AP_SAT_ZERO", "AP_SAT_SYM", "AP_WRAP", "AP_WRAP_SM"]
ACC_OVF = OVF + ["AP_SAT", "AP_SAT", "AP_SAT_SYM", "AP_WRAP"]


def _pick(rng, items):
    return items[int(rng.integers(len(items)))]


def rand_format(rng, wmin: int, wmax: int, imin: int, imax: int, *, signed: bool | None = None,
                quant=QUANT, ovf=OVF) -> FixedType:
    """A random format with width in [wmin, wmax] and integer bits in [imin, imax]."""
    w = int(rng.integers(wmin, wmax + 1))
    i = int(rng.integers(imin, imax + 1))
    if signed is None:
        signed = bool(rng.random() < 0.85)
    o = _pick(rng, ovf)
    if not signed and o == "AP_WRAP_SM":
        o = "AP_WRAP"
    n = int(rng.integers(1, min(3, w) + 1)) if o in ("AP_WRAP", "AP_WRAP_SM") and rng.random() < 0.3 else 0
    return FixedType(w, i, signed, _pick(rng, quant), o, n)


def _activation(rng):
    r = rng.random()
    if r < 0.4:
        return "relu"
    if r < 0.7:
        return "linear"
    alpha = float(np.round(rng.uniform(0.01, 0.6), int(rng.integers(1, 6))))
    return {"leaky_relu": alpha, "alpha_format": str(rand_format(rng, 4, 12, 0, 2, signed=True,
                                                                     ovf=["AP_SAT", "AP_WRAP"]))}


def _mac_layer(rng, name: str, kind: str, in_fmt: FixedType) -> dict:
    weight = rand_format(rng, 3, 10, -1, 4)
    opts = {}
    for key, choices in (("product", ["to_accum", "exact"]), ("sum_order", ["ci_kh_kw", "kh_kw_ci"]),
                         ("activation_on", ["result", "accum"])):
        if rng.random() < 0.7:
            opts[key] = _pick(rng, choices)
    exact = opts.get("product") == "exact"
    if exact:
        pt = product_type(in_fmt, weight)
        f = pt.frac_bits + int(rng.integers(0, 3))
        i = pt.int_bits + int(rng.integers(0, 5))
        if i + f > 40:
            opts["product"], exact = "to_accum", False
        else:
            accum = FixedType(i + f, i, True, _pick(rng, ACC_QUANT), _pick(rng, ACC_OVF))
    if not exact:
        # Narrow accumulators: products are rounded and sums saturate or wrap often.
        accum = rand_format(rng, 5, 22, 1, 8, signed=True, quant=ACC_QUANT, ovf=ACC_OVF)
    bias = bool(rng.random() < 0.8)
    formats = {"weight": str(weight), "accum": str(accum),
               "result": str(rand_format(rng, 4, 14, 1, 6))}
    if bias:
        formats["bias"] = str(rand_format(rng, 3, 12, -1, 6))
    layer = {"name": name, "type": kind, "bias": bias, "activation": _activation(rng),
             "formats": formats}
    if opts:
        layer["options"] = opts
    return layer


def _standalone(rng, name: str) -> dict:
    act = _activation(rng)
    if isinstance(act, dict):
        return {"name": name, "type": "leaky_relu", "alpha": act["leaky_relu"],
                "alpha_format": act["alpha_format"]}
    return {"name": name, "type": act}


def _draw(rng, name: str) -> dict:
    c, h, w = int(rng.integers(1, 4)), int(rng.integers(3, 10)), int(rng.integers(3, 10))
    in_fmt = rand_format(rng, 5, 12, 1, 5)
    spec = {"name": name, "input": {"shape": [c, h, w], "format": str(in_fmt)}, "layers": []}
    if rng.random() < 0.5:
        spec["options"] = {"product": _pick(rng, ["to_accum", "exact"]),
                           "sum_order": _pick(rng, ["ci_kh_kw", "kh_kw_ci"]),
                           "activation_on": _pick(rng, ["result", "accum"])}
    layers = spec["layers"]
    fmt = in_fmt
    n_conv = int(rng.integers(0, 3))
    for k in range(n_conv):
        kh, kw = int(rng.integers(1, 4)), int(rng.integers(1, 4))
        r = rng.random()
        if r < 0.4:
            pad = "valid"
        elif r < 0.6 and kh % 2 and kw % 2:
            pad = "same"
        else:
            pad = [int(rng.integers(0, kh)), int(rng.integers(0, kw))]
        ph, pw = ((kh - 1) // 2, (kw - 1) // 2) if pad == "same" else ((0, 0) if pad == "valid" else pad)
        if h + 2 * ph < kh or w + 2 * pw < kw:
            break
        layer = _mac_layer(rng, f"conv{k}", "conv2d", fmt)
        stride = [int(rng.integers(1, 3)), int(rng.integers(1, 3))]
        layer.update(out_channels=int(rng.integers(1, 5)), kernel=[kh, kw], stride=stride, padding=pad)
        layers.append(layer)
        fmt = FixedType.parse(layer["formats"]["result"])
        h, w = (h + 2 * ph - kh) // stride[0] + 1, (w + 2 * pw - kw) // stride[1] + 1
        if rng.random() < 0.2:
            layers.append(_standalone(rng, f"act{k}"))
        if rng.random() < 0.6 and h >= 1 and w >= 1:
            pk = [int(rng.integers(1, min(3, h) + 1)), int(rng.integers(1, min(3, w) + 1))]
            ps = [int(rng.integers(1, 4)), int(rng.integers(1, 4))]
            ceil = bool(rng.random() < 0.5)
            layers.append({"name": f"pool{k}", "type": "maxpool2d", "kernel": pk, "stride": ps,
                           "ceil_mode": ceil})
            from fixsim.network.spec import pool_out

            h, w = pool_out(h, pk[0], ps[0], ceil), pool_out(w, pk[1], ps[1], ceil)
    if not layers or rng.random() < 0.75:
        layers.append({"name": "flatten", "type": "flatten", "order": _pick(rng, ["chw", "hwc"])})
        if rng.random() < 0.15:
            layers.append(_standalone(rng, "act_flat"))
        for k in range(int(rng.integers(1, 3))):
            layer = _mac_layer(rng, f"fc{k}", "dense", fmt)
            layer["out_features"] = int(rng.integers(1, 7))
            layers.append(layer)
            fmt = FixedType.parse(layer["formats"]["result"])
    return spec


def random_networks(seed: int, count: int, prefix: str = "rnd") -> list:
    """``count`` valid random specs (ModelSpec) named ``<prefix><seed>_<k>``, reproducibly.

    Draws the spec loader rejects (e.g. conversions the headers leave undefined) are
    replaced by the next draw of the same RNG.
    """
    rng = np.random.default_rng(seed)
    out = []
    attempts = 0
    while len(out) < count:
        attempts += 1
        if attempts > 50 * count:
            raise RuntimeError(f"netgen: only {len(out)} valid specs in {attempts} draws")
        d = _draw(rng, f"{prefix}{seed}_{len(out)}")
        try:
            out.append(load_spec(d))
        except FixsimError:
            continue
    return out


def coverage(specs) -> set:
    """Which contract options the specs exercise (names like ``product=exact``)."""
    seen = set()
    for spec in specs:
        for l in spec.layers:
            seen.add(f"layer={l.type}")
            if l.type in ("conv2d", "dense"):
                o = l.options
                seen.add(f"product={o.product}")
                seen.add(f"activation_on={o.activation_on}")
                seen.add(f"activation={l.activation.kind}")
                seen.add(f"bias={l.bias}")
                a = l.formats.accum
                seen.add(f"accum_q={a.quantization.name}")
                seen.add(f"accum_o={a.overflow.name}")
                if a.overflow.name == "AP_SAT":
                    seen.add(f"accum_sat_q={a.quantization.name}")
            if l.type == "conv2d":
                seen.add(f"sum_order={l.options.sum_order}")
                if any(l.padding):
                    seen.add("padding=zero")
                if any(s > 1 for s in l.stride):
                    seen.add("stride>1")
            if l.type == "maxpool2d":
                seen.add(f"ceil_mode={l.ceil_mode}")
            if l.type == "flatten":
                seen.add(f"flatten={l.order}")
    return seen
