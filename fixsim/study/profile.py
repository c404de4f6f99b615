"""Profile one spec on frames: value ranges against formats, conversion events, divergence.

For every layer and tensor (input, weights, biases, products, accumulators, results) the
float value range (min, max, percentiles of the float64 model) is set against the
format's range and LSB.  Events of the bit-exact run are counted **from the taps of one
run** (the kernels of :mod:`fixsim.layers` do not count; they are not touched): for a
conv2d/dense layer the exact sum ``S = sum x*w + b`` is recomputed in integers from the
layer's fixed input tap and the quantized weights, and

- accumulator: ``S`` outside the accumulator's range is *saturated* or *wrapped* (by its
  overflow mode), ``S`` off its grid is *rounded*.  Only the final sum is checked: a
  wrapping partial sum that comes back into range is not seen.
- result: ``S`` outside the result format is saturated/wrapped, off its grid rounded.
- input, weights, biases: the float values against their formats (the quantizer's events).

Products: their float range (exact min/max from each input's extremes) and percentiles
of a sample of frames.  Layers other than conv2d/dense, and dense layers after an hwc
flatten, have no event counts (``"events": null`` with the reason).

Divergence: per layer the largest |fixed - float| in the layer's output LSBs; the first
layer above ``lsb_threshold``; the frames whose decision differs from the float model's.
"""

from __future__ import annotations

import numpy as np

from ..fixed import FixedType, to_float
from ..fixed.format import Overflow
from .evaluate import Context, decide, fixed_outputs

PERCENTILES = (0.1, 1, 25, 50, 75, 99, 99.9)
#: Frames whose products are sampled for percentiles.
PRODUCT_SAMPLE = 4


def _stats(values: np.ndarray, fmt: FixedType | None) -> dict:
    v = np.asarray(values, np.float64).ravel()
    out = {"n": int(v.size)}
    if v.size:
        out.update(min=float(v.min()), max=float(v.max()),
                   percentiles={str(p): float(q) for p, q in
                                zip(PERCENTILES, np.percentile(v, PERCENTILES), strict=True)})
    if fmt is not None:
        out.update(format=str(fmt), format_min=fmt.min, format_max=fmt.max, lsb=fmt.lsb)
        if v.size:
            out["headroom_bits"] = float(np.log2(max(abs(fmt.min), fmt.max)
                                                 / max(np.abs(v).max(), fmt.lsb)))
    return out


def _events_float(values: np.ndarray, fmt: FixedType) -> dict:
    """Events of quantizing float ``values`` to ``fmt``."""
    v = np.asarray(values, np.float64).ravel()
    out_of = (v < fmt.min) | (v > fmt.max)
    scaled = np.ldexp(v, fmt.frac_bits)
    return _split(int(out_of.sum()), int((~out_of & (scaled != np.round(scaled))).sum()), fmt)


def _split(outside: int, rounded: int, fmt: FixedType) -> dict:
    sat = fmt.overflow not in (Overflow.AP_WRAP, Overflow.AP_WRAP_SM)
    return {"saturated": outside if sat else 0, "wrapped": 0 if sat else outside,
            "rounded": rounded}


def _events_exact(s: np.ndarray, frac: int, fmt: FixedType) -> dict:
    """Events of converting exact integers ``s`` (value ``s * 2**-frac``) to ``fmt``."""
    shift = frac - fmt.frac_bits
    if shift > 0:
        rounded = int(np.count_nonzero(s & ((1 << shift) - 1)))
        lo, hi = fmt.raw_min << shift, ((fmt.raw_max + 1) << shift) - 1
    else:
        rounded = 0
        lo, hi = fmt.raw_min >> -shift, fmt.raw_max >> -shift
    lo, hi = max(lo, -(1 << 63)), min(hi, (1 << 63) - 1)  # s is int64
    outside = int(np.count_nonzero((s < lo) | (s > hi)))
    return _split(outside, rounded, fmt)


def _patches(x: np.ndarray, layer) -> np.ndarray:
    """(N, C, OH, OW, KH, KW) windows of a conv2d input (zero padded)."""
    ph, pw = layer.padding
    if ph or pw:
        x = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    win = np.lib.stride_tricks.sliding_window_view(x, layer.kernel, axis=(2, 3))
    return win[:, :, ::layer.stride[0], ::layer.stride[1]]


def _linear(x: np.ndarray, w: np.ndarray, layer) -> np.ndarray:
    """sum x*w (no bias) of a conv2d/dense layer, in x's dtype (int64: exact)."""
    if layer.type == "conv2d":
        return np.einsum("nchwij,ocij->nohw", _patches(x, layer), w)
    return x @ w.T


def _product_stats(x: np.ndarray, w: np.ndarray, layer, fmt: FixedType) -> dict:
    """Float products: exact min/max from each input's extremes, percentiles of a sample."""
    if layer.type == "conv2d":
        p = _patches(x, layer)
        lo = p.min(axis=(0, 2, 3))[None]  # (1, C, KH, KW)
        hi = p.max(axis=(0, 2, 3))[None]
        sample = np.einsum("nchwij,ocij->nohwcij", p[:PRODUCT_SAMPLE], w)
    else:
        lo, hi = x.min(axis=0)[None], x.max(axis=0)[None]
        sample = x[:PRODUCT_SAMPLE, None, :] * w[None]
    ends = np.stack([lo * w, hi * w])
    st = _stats(sample, fmt)
    if ends.size:
        st.update(min=float(ends.min()), max=float(ends.max()))
    st["percentiles_of_frames"] = int(min(len(x), PRODUCT_SAMPLE))
    return st


def _mac_layer(layer, xf, xq, in_fmt, fw, wq) -> dict:
    """Tensors of one conv2d/dense layer: stats and events."""
    f = layer.formats
    w, b = fw[f"{layer.name}.weight"], fw.get(f"{layer.name}.bias")
    acc_f = _linear(xf, w, layer)
    if b is not None:
        acc_f = acc_f + (b[None, :, None, None] if layer.type == "conv2d" else b[None])
    out = {"weight": {**_stats(w, f.weight), "events": _events_float(w, f.weight)},
           "products": _product_stats(xf, w, layer, layer.product_format)}
    if b is not None:
        out["bias"] = {**_stats(b, f.bias), "events": _events_float(b, f.bias)}
    out["accum"] = _stats(acc_f, f.accum)
    out["result"] = _stats(acc_f, f.result)
    frac = in_fmt.frac_bits + f.weight.frac_bits
    bits = in_fmt.width + f.weight.width + int(np.ceil(np.log2(max(2, layer.fan_in)))) + 2
    if getattr(layer, "input_permutation", None) is not None or bits > 62:
        why = ("dense after an hwc flatten" if bits <= 62 else
               f"exact sums need {bits} bits, more than int64")
        out["accum"]["events"] = out["result"]["events"] = None
        out["accum"]["events_note"] = out["result"]["events_note"] = f"not counted: {why}"
        return out
    s = _linear(xq.astype(np.int64), wq[f"{layer.name}.weight"].astype(np.int64), layer)
    if b is not None:
        braw = wq[f"{layer.name}.bias"].astype(np.int64)
        shift = frac - f.bias.frac_bits
        if shift < 0:
            s, frac = s << -shift, frac - shift
            shift = 0
        s = s + ((braw << shift)[None, :, None, None] if layer.type == "conv2d"
                 else (braw << shift)[None])
    out["accum"]["events"] = _events_exact(s, frac, f.accum)
    out["result"]["events"] = _events_exact(s, frac, f.result)
    return out


def profile(ctx: Context, *, lsb_threshold: float = 1.0) -> dict:
    """Profile the context's spec (formats as given) on its frames (module docstring).

    Returns
    -------
    dict
        ``layers``: list of ``{"layer", "type", "tensors": {name: stats}, "err_lsb_max",
        "err_lsb_mean"}`` in dataflow order (the first entry is the input);
        ``first_divergent_layer`` (or None); ``flipped_frames`` (indices);
        ``lsb_threshold``; ``events_source``.
    """
    from ..network import run_float

    spec = ctx.spec()
    wq, _, out, sup, taps = fixed_outputs(ctx, spec, taps=True)
    ftaps = run_float(spec, ctx.float_weights, ctx.frames, taps=True)
    fw = ctx.float_weights
    layers = [{"layer": "input", "type": "input",
               "tensors": {"input": {**_stats(ctx.frames, spec.input_format),
                                     "events": _events_float(ctx.frames, spec.input_format)}}}]
    prev, first = "input", None
    for layer in spec.layers:
        entry = {"layer": layer.name, "type": layer.type}
        if layer.type in ("conv2d", "dense"):
            in_fmt = layer.in_format
            entry["tensors"] = _mac_layer(layer, ftaps[prev], taps[prev], in_fmt, fw, wq)
        else:
            entry["tensors"] = {"result": {**_stats(ftaps[layer.name], layer.out_format),
                                           "events": None,
                                           "events_note": "not counted: no weights"}}
        q = to_float(taps[layer.name], layer.out_format)
        err = np.abs(q - ftaps[layer.name]) / layer.out_format.lsb
        entry["err_lsb_max"] = float(err.max()) if err.size else 0.0
        entry["err_lsb_mean"] = float(err.mean()) if err.size else 0.0
        if first is None and entry["err_lsb_max"] > lsb_threshold:
            first = layer.name
        layers.append(entry)
        prev = layer.name
    pred = decide(ctx, out, sup)
    flips = np.flatnonzero(pred != ctx.float_pred)
    return {"spec": spec.name, "spec_sha256": spec.spec_hash(), "frames": int(len(ctx.frames)),
            "task": ctx.task, "lsb_threshold": lsb_threshold, "first_divergent_layer": first,
            "flipped_frames": [int(i) for i in flips],
            "events_source": "recomputed from the taps of one bit-exact run (exact integer "
                             "sums of each conv2d/dense layer's fixed input and weights; final "
                             "sums only)",
            "layers": layers}


def text_table(prof: dict) -> str:
    """One line per layer tensor: range, format range, LSB, events, error."""
    head = (f"{'layer':<10} {'tensor':<8} {'min':>10} {'max':>10} {'fmt min':>10} "
            f"{'fmt max':>10} {'lsb':>9} {'sat':>7} {'wrap':>7} {'round':>9} {'err lsb':>8}")
    lines = [head, "-" * len(head)]
    for e in prof["layers"]:
        for i, (name, st) in enumerate(e["tensors"].items()):
            ev = st.get("events") or {}
            err = f"{e['err_lsb_max']:8.2f}" if "err_lsb_max" in e and i == 0 else " " * 8

            def num(k, st=st):
                return f"{st[k]:10.4g}" if k in st else " " * 10
            lines.append(f"{e['layer']:<10} {name:<8} {num('min')} {num('max')} "
                         f"{num('format_min')} {num('format_max')} "
                         f"{st.get('lsb', float('nan')):9.3g} "
                         f"{ev.get('saturated', '-'):>7} {ev.get('wrapped', '-'):>7} "
                         f"{ev.get('rounded', '-'):>9} {err}")
    lines.append(f"first layer more than {prof['lsb_threshold']:g} LSB from float: "
                 f"{prof['first_divergent_layer'] or 'none'}; decisions flipped on "
                 f"{len(prof['flipped_frames'])} of {prof['frames']} frames"
                 + (f" (first: {prof['flipped_frames'][:10]})" if prof["flipped_frames"] else ""))
    return "\n".join(lines) + "\n"


def box_png(path, prof: dict) -> None:
    """Per-tensor box plots (percentiles 1..99, whiskers 0.1..99.9) with the format's range
    and LSB drawn over them (symmetric log scale)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from .._files import atomic_path
    from .._version import __version__

    boxes, labels, fmts = [], [], []
    for e in prof["layers"]:
        for name, st in e["tensors"].items():
            if "percentiles" not in st:
                continue
            p = st["percentiles"]
            boxes.append({"whislo": p["0.1"], "q1": p["25"], "med": p["50"], "q3": p["75"],
                          "whishi": p["99.9"], "fliers": [st["min"], st["max"]]})
            labels.append(f"{e['layer']}.{name}" if name != e["layer"] else name)
            fmts.append(st)
    fig, ax = plt.subplots(figsize=(max(6, 0.55 * len(boxes)), 4.8))
    ax.bxp(boxes, showfliers=True)
    for i, st in enumerate(fmts, start=1):
        if "format_max" in st:
            ax.hlines([st["format_min"], st["format_max"]], i - 0.4, i + 0.4, colors="C3")
            ax.hlines([st["lsb"], -st["lsb"]], i - 0.4, i + 0.4, colors="C2", linestyles=":")
    ax.set_yscale("symlog", linthresh=min([s["lsb"] for s in fmts if "lsb" in s] or [1e-3]))
    ax.set_xticks(range(1, len(labels) + 1), labels, rotation=60, ha="right", fontsize=7)
    ax.set_ylabel("float value (red: format range, green: +-LSB)")
    ax.set_title(f"fixsim profile {prof['spec']} on {prof['frames']} frames "
                 f"(fixsim {__version__})")
    fig.tight_layout()
    with atomic_path(path, suffix=".png") as tmp:
        fig.savefig(tmp, format="png", dpi=110)
    plt.close(fig)


__all__ = ["profile", "text_table", "box_png", "PERCENTILES"]
