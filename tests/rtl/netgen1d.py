"""Seeded random networks of the 1-D layer types and the zero-padding layers.

1-D networks on (C, L) inputs: zeropad1d, conv1d (stride, valid/same/symmetric/asymmetric
padding, every datapath option of netgen's MAC layers), standalone activations,
maxpool1d (floor/ceil), dense on the (C, L) map (per position), flatten (chw/hwc) and
dense; a third of the conv1d and map-dense layers in hls4ml's Resource order.  2-D
networks: zeropad2d before conv2d layers, then flatten and dense.  Formats come from
netgen (rounding and saturating accumulators weighted up).
"""

from __future__ import annotations

import numpy as np

from fixsim.errors import FixsimError
from fixsim.fixed import FixedType
from fixsim.network.spec import load_spec, pool_out

from .netgen import _mac_layer, _pick, _standalone, rand_format


def _padding_1d(rng, k: int):
    r = rng.random()
    if r < 0.3:
        return "valid", (0, 0)
    if r < 0.5 and k % 2:
        return "same", ((k - 1) // 2, (k - 1) // 2)
    if r < 0.7:
        p = int(rng.integers(0, k))
        return p, (p, p)
    pad = [int(rng.integers(0, k)), int(rng.integers(0, k))]
    return pad, tuple(pad)


def _dense(rng, name: str, fmt: FixedType, out_max: int = 6) -> dict:
    layer = _mac_layer(rng, name, "dense", fmt)
    layer["out_features"] = int(rng.integers(1, out_max + 1))
    return layer


def _resource(aux, layer: dict) -> None:
    """A third of the MAC layers sum in hls4ml's Resource order (from ``aux``, a stream of
    its own: the architectures drawn from the main stream stay the same)."""
    if aux.random() < 1 / 3:
        layer["options"] = {**layer.get("options", {}), "sum_order": "resource",
                            "reuse_factor": int(aux.integers(2, 5))}


def _draw_1d(rng, name: str, aux) -> dict:
    c, length = int(rng.integers(1, 4)), int(rng.integers(4, 25))
    in_fmt = rand_format(rng, 5, 12, 1, 5)
    spec = {"name": name, "input": {"shape": [c, length], "format": str(in_fmt)}, "layers": []}
    layers, fmt = spec["layers"], in_fmt
    if rng.random() < 0.3:
        pad = [int(rng.integers(0, 3)), int(rng.integers(0, 3))]
        layers.append({"name": "zp", "type": "zeropad1d", "padding": pad})
        length += sum(pad)
    for k in range(int(rng.integers(1, 3))):
        kw = int(rng.integers(1, 5))
        pad_json, (pl, pr) = _padding_1d(rng, kw)
        if length + pl + pr < kw:
            break
        layer = _mac_layer(rng, f"conv{k}", "conv1d", fmt)
        stride = int(rng.integers(1, 3))
        layer.update(out_channels=int(rng.integers(1, 5)), kernel=kw, stride=stride,
                     padding=pad_json)
        _resource(aux, layer)
        layers.append(layer)
        fmt = FixedType.parse(layer["formats"]["result"])
        length = (length + pl + pr - kw) // stride + 1
        if rng.random() < 0.2:
            layers.append(_standalone(rng, f"act{k}"))
        if rng.random() < 0.6:
            pk, ps = int(rng.integers(1, min(3, length) + 1)), int(rng.integers(1, 4))
            ceil = bool(rng.random() < 0.5)
            layers.append({"name": f"pool{k}", "type": "maxpool1d", "kernel": pk, "stride": ps,
                           "ceil_mode": ceil})
            length = pool_out(length, pk, ps, ceil)
    if rng.random() < 0.5:
        layers.append(_dense(rng, "dmap", fmt, 4))
        _resource(aux, layers[-1])
        fmt = FixedType.parse(layers[-1]["formats"]["result"])
    if rng.random() < 0.75:
        layers.append({"name": "flatten", "type": "flatten", "order": _pick(rng, ["chw", "hwc"])})
        if rng.random() < 0.15:
            layers.append(_standalone(rng, "act_flat"))
        layers.append(_dense(rng, "fc0", fmt))
    return spec


def _draw_2d(rng, name: str, aux=None) -> dict:
    c, h, w = int(rng.integers(1, 3)), int(rng.integers(2, 7)), int(rng.integers(2, 7))
    in_fmt = rand_format(rng, 5, 12, 1, 5)
    spec = {"name": name, "input": {"shape": [c, h, w], "format": str(in_fmt)}, "layers": []}
    layers, fmt = spec["layers"], in_fmt
    for k in range(int(rng.integers(1, 3))):
        top, bottom, left, right = (int(v) for v in rng.integers(0, 3, 4))
        form = rng.random()
        if form < 0.6:
            pad = [[top, bottom], [left, right]]
        elif form < 0.8:
            pad, bottom, right = [top, left], top, left
        else:
            pad = bottom = right = left = top
        layers.append({"name": f"zp{k}", "type": "zeropad2d", "padding": pad})
        h, w = h + top + bottom, w + left + right
        kh, kw = int(rng.integers(1, min(3, h) + 1)), int(rng.integers(1, min(3, w) + 1))
        layer = _mac_layer(rng, f"conv{k}", "conv2d", fmt)
        layer.update(out_channels=int(rng.integers(1, 4)), kernel=[kh, kw])
        layers.append(layer)
        fmt = FixedType.parse(layer["formats"]["result"])
        h, w = h - kh + 1, w - kw + 1
    layers.append({"name": "flatten", "type": "flatten", "order": _pick(rng, ["chw", "hwc"])})
    layers.append(_dense(rng, "fc0", fmt))
    return spec


def random_networks_1d(seed: int, count: int, prefix: str = "seq", share_2d: float = 0.25) -> list:
    """``count`` valid random specs (ModelSpec), about ``share_2d`` of them 2-D zero-padding
    networks; draws the loader rejects are replaced by the next draw of the same RNG."""
    rng, aux = np.random.default_rng(seed), np.random.default_rng(seed + 1_000_003)
    out, attempts = [], 0
    while len(out) < count:
        attempts += 1
        if attempts > 50 * count:
            raise RuntimeError(f"netgen1d: only {len(out)} valid specs in {attempts} draws")
        draw = _draw_2d if rng.random() < share_2d else _draw_1d
        try:
            out.append(load_spec(draw(rng, f"{prefix}{seed}_{len(out)}", aux)))
        except FixsimError:
            continue
    return out


def coverage_1d(specs) -> set:
    """Which options of the new layer types the specs exercise."""
    seen = set()
    for spec in specs:
        seen.add(f"input_rank={len(spec.input_shape)}")
        for l in spec.layers:
            seen.add(f"layer={l.type}")
            if l.type == "conv1d":
                seen.add(f"conv1d_sum_order={l.options.sum_order}")
                seen.add(f"conv1d_product={l.options.product}")
                if l.stride > 1:
                    seen.add("conv1d_stride>1")
                if l.padding[0] != l.padding[1]:
                    seen.add("conv1d_padding=asymmetric")
                elif l.padding[0]:
                    seen.add("conv1d_padding=symmetric")
                seen.add(f"conv1d_accum_o={l.formats.accum.overflow.name}")
            if l.type == "maxpool1d":
                seen.add(f"maxpool1d_ceil={l.ceil_mode}")
            if l.type == "dense" and len(l.in_shape) == 2:
                seen.add("dense_on_map")
                seen.add(f"dense_map_accum_o={l.formats.accum.overflow.name}")
                seen.add(f"dense_map_sum_order={l.options.sum_order}")
            if l.type == "flatten" and len(l.in_shape) == 2:
                seen.add(f"flatten1d={l.order}")
            if l.type == "zeropad2d":
                (t, b), (lf, r) = l.padding
                if t != b or lf != r:
                    seen.add("zeropad2d=asymmetric")
    return seen
