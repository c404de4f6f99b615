"""Seeded random networks with average/global pooling and batchnorm layers (netgen's style),
on (C, H, W) maps (:func:`random_pool_networks`) and (C, L) maps (:func:`random_pool1d_networks`).

Every switch of the new layers is drawn: avgpool2d term exact/to_accum, sum sequential/
tree, scaling divide/reciprocal, count_pad, zero padding, strides; global average with
both terms and scalings; global max with and without formats and both terms; batchnorm on
maps and on flat vectors.  Formats come from :func:`netgen.rand_format` (every Q and O
mode, narrow accumulators that round and saturate or wrap).
"""

from __future__ import annotations

import numpy as np

from fixsim.errors import FixsimError
from fixsim.fixed import FixedType
from fixsim.network.spec import load_spec

from .netgen import ACC_OVF, ACC_QUANT, _mac_layer, _pick, rand_format


def _avg_fields(rng, global_: bool, x: FixedType) -> dict:
    """Fields of an averaging layer on input format ``x``: the accumulator has up to 3
    fractional bits fewer than x (the elements or sums round) and few integer bits."""
    tree = not global_ and rng.random() < 0.35
    term = "to_accum" if tree or rng.random() < 0.4 else "exact"
    scaling = "reciprocal" if rng.random() < 0.4 else "divide"
    i = int(rng.integers(1, 8))
    f = max(0, x.frac_bits + int(rng.integers(-3, 3)))
    acc = rand_format(rng, i + f, i + f, i, i, signed=True if x.signed else None,
                      quant=ACC_QUANT, ovf=ACC_OVF)
    fm = {"accum": str(acc), "result": str(rand_format(rng, 4, 12, 1, 5))}
    if scaling == "reciprocal":
        fm["reciprocal"] = str(rand_format(rng, 3, 12, -1, 2, ovf=["AP_SAT", "AP_WRAP"]))
    out = {"term": term, "scaling": scaling, "formats": fm}
    if not global_:
        out["sum_order"] = "tree" if tree else "sequential"
    return out


def _batchnorm(rng, name: str) -> dict:
    return {"name": name, "type": "batchnorm",
            "formats": {"scale": str(rand_format(rng, 3, 10, -1, 3)),
                        "bias": str(rand_format(rng, 3, 10, -1, 5)),
                        "result": str(rand_format(rng, 4, 14, 1, 6))}}


def _draw(rng, name: str) -> dict:
    c, h, w = int(rng.integers(1, 4)), int(rng.integers(2, 9)), int(rng.integers(2, 9))
    in_fmt = rand_format(rng, 5, 12, 1, 5)
    layers: list[dict] = []
    spec = {"name": name, "input": {"shape": [c, h, w], "format": str(in_fmt)}, "layers": layers}
    fmt = in_fmt
    if rng.random() < 0.4:
        conv = _mac_layer(rng, "conv", "conv2d", fmt)
        conv.update(out_channels=int(rng.integers(1, 4)), kernel=[1, 1], stride=[1, 1],
                    padding="valid")
        layers.append(conv)
        c, fmt = conv["out_channels"], FixedType.parse(conv["formats"]["result"])
    if rng.random() < 0.6:
        layers.append(_batchnorm(rng, "bn"))
        fmt = FixedType.parse(layers[-1]["formats"]["result"])
    for k in range(int(rng.integers(1, 3))):
        kh, kw = int(rng.integers(1, min(h, 3) + 1)), int(rng.integers(1, min(w, 3) + 1))
        ph, pw = (int(rng.integers(0, kh)), int(rng.integers(0, kw))) if rng.random() < 0.5 else (0, 0)
        sh, sw = int(rng.integers(1, 3)), int(rng.integers(1, 3))
        layers.append({"name": f"avg{k}", "type": "avgpool2d", "kernel": [kh, kw],
                       "stride": [sh, sw], "padding": [ph, pw],
                       "count_pad": bool(rng.random() < 0.4), **_avg_fields(rng, False, fmt)})
        fmt = FixedType.parse(layers[-1]["formats"]["result"])
        h, w = (h + 2 * ph - kh) // sh + 1, (w + 2 * pw - kw) // sw + 1
        if h < 2 or w < 2:
            break
    r = rng.random()
    if r < 0.35:
        layers.append({"name": "gavg", "type": "global_avgpool2d", **_avg_fields(rng, True, fmt)})
    elif r < 0.7:
        gmax = {"name": "gmax", "type": "global_maxpool2d", "term": _pick(rng, ["exact", "to_accum"])}
        if rng.random() < 0.7:
            gmax["formats"] = {"accum": str(rand_format(rng, 3, 10, 0, 5)),
                               "result": str(rand_format(rng, 3, 10, 0, 5))}
        layers.append(gmax)
    else:
        layers.append({"name": "flatten", "type": "flatten", "order": "chw"})
    if rng.random() < 0.5:
        layers.append(_batchnorm(rng, "bn_flat"))
    return spec


def _draw_1d(rng, name: str) -> dict:
    c, length = int(rng.integers(1, 4)), int(rng.integers(2, 12))
    fmt = rand_format(rng, 5, 12, 1, 5)
    layers: list[dict] = []
    spec = {"name": name, "input": {"shape": [c, length], "format": str(fmt)}, "layers": layers}
    if rng.random() < 0.5:
        layers.append(_batchnorm(rng, "bn"))
        fmt = FixedType.parse(layers[-1]["formats"]["result"])
    for k in range(int(rng.integers(1, 3))):
        kw = int(rng.integers(1, min(length, 4) + 1))
        pw = int(rng.integers(0, kw)) if rng.random() < 0.5 else 0
        sw = int(rng.integers(1, 3))
        layers.append({"name": f"avg{k}", "type": "avgpool1d", "kernel": kw, "stride": sw,
                       "padding": pw, "count_pad": bool(rng.random() < 0.4),
                       **_avg_fields(rng, False, fmt)})
        fmt = FixedType.parse(layers[-1]["formats"]["result"])
        length = (length + 2 * pw - kw) // sw + 1
        if length < 2:
            break
    if rng.random() < 0.5:
        layers.append({"name": "gavg", "type": "global_avgpool1d", **_avg_fields(rng, True, fmt)})
    else:
        gmax = {"name": "gmax", "type": "global_maxpool1d", "term": _pick(rng, ["exact", "to_accum"])}
        if rng.random() < 0.7:
            gmax["formats"] = {"accum": str(rand_format(rng, 3, 10, 0, 5)),
                               "result": str(rand_format(rng, 3, 10, 0, 5))}
        layers.append(gmax)
    return spec


def _valid(draw, seed: int, count: int, prefix: str) -> list:
    rng = np.random.default_rng(seed)
    out, attempts = [], 0
    while len(out) < count:
        attempts += 1
        if attempts > 50 * count:
            raise RuntimeError(f"netgen_pool: only {len(out)} valid specs in {attempts} draws")
        try:
            out.append(load_spec(draw(rng, f"{prefix}{seed}_{len(out)}")))
        except FixsimError:
            continue
    return out


def random_pool1d_networks(seed: int, count: int, prefix: str = "pool1d") -> list:
    """``count`` valid random (C, L) specs named ``<prefix><seed>_<k>``."""
    return _valid(_draw_1d, seed, count, prefix)


def random_pool_networks(seed: int, count: int, prefix: str = "pool") -> list:
    """``count`` valid random specs named ``<prefix><seed>_<k>``; rejected draws are redrawn."""
    return _valid(_draw, seed, count, prefix)


def coverage(specs) -> set:
    """The switches of the new layers the specs exercise."""
    seen = set()
    for spec in specs:
        for l in spec.layers:
            seen.add(f"layer={l.type}")
            cfg = getattr(l, "cfg", None)
            if l.type in ("avgpool2d", "global_avgpool2d", "avgpool1d", "global_avgpool1d"):
                seen |= {f"{l.type}:term={cfg.term}", f"{l.type}:scaling={cfg.scaling}",
                         f"accum_o={cfg.accum.overflow.name}"}
            if l.type in ("avgpool2d", "avgpool1d"):
                seen |= {f"sum_order={cfg.sum}", f"count_pad={cfg.count_pad}"}
                if np.any(l.padding):
                    seen.add(f"{l.type}:padding")
            if l.type in ("global_maxpool2d", "global_maxpool1d"):
                seen |= {f"gmax:term={l.term}", f"gmax:formats={l.accum is not None}"}
            if l.type == "batchnorm":
                seen.add(f"batchnorm:rank={len(l.in_shape)}")
    return seen
