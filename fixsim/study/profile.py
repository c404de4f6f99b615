"""Profile one spec on frames: value ranges against formats, conversion events, divergence.

For every layer and tensor (input, weights, biases, products, accumulators, results) the
float value range (min, max, percentiles of the float64 model) is set against the
format's range and LSB.  Conversion events are **counted by the bit-exact run itself**:
the run behind the profile's taps is :meth:`fixsim.network.Model.run` with ``events``,
in which every conv2d/dense-like layer runs the counted contract-order kernels
(:mod:`fixsim.layers._counting`) and the input quantizer counts as it converts:

- input: the quantizer's float -> input format conversions (NaN and inf are limited);
- products: each product's conversion into the accumulator (to_accum; none for exact
  products), at every step of the contract's order;
- accum: each step's accumulator ``A(acc + ...)`` (so a partial sum that saturates or
  wraps and comes back into range is counted), plus the ``A(bias)`` that starts each
  output;
- result: the result conversion of each output (and "activation": leaky relu's product
  conversion).

A value is *rounded* when it is off the target's grid, *saturated* or *wrapped* (by the
target's overflow mode) when the conversion's result differs from the value rounded
with no range limit.  Weights and biases get the events of their float -> format
quantization (done once, before the run).  Batchnorm, leaky relu, a relu, linear, max
pool or flatten with a result format of its own, and the average and global pools count
their conversions (``result``; a pool also ``terms``, ``accum`` and ``divide``; sigmoid and
tanh ``index``: inputs beyond the table, clamped; softmax ``norm``, ``exp``, ``accum``,
``inv_inp``); a layer that converts nothing has all-zero events; a layer type without
counters (none today) would get ``null`` with the reason.

Products: their float range (exact min/max from each input's extremes) and percentiles
of a sample of frames.  Divergence: per layer the largest |fixed - float| in the layer's
output LSBs; the first layer above ``lsb_threshold``; the frames whose decision differs
from the float model's.
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


def _conv_view(x: np.ndarray, w: np.ndarray, layer):
    """(windows (N, C, OH, OW, KH, KW), weight (O, C, KH, KW)) of a conv2d or conv1d layer
    (zero padded; a conv1d is a conv2d of height 1)."""
    if layer.type == "conv1d":
        x = np.pad(x, ((0, 0), (0, 0), tuple(layer.padding)))[:, :, None, :]
        w, kernel, stride = w[:, :, None, :], (1, layer.kernel), (1, layer.stride)
    else:
        ph, pw = layer.padding
        x = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
        kernel, stride = layer.kernel, layer.stride
    win = np.lib.stride_tricks.sliding_window_view(x, kernel, axis=(2, 3))
    return win[:, :, ::stride[0], ::stride[1]], w


def _linear(x: np.ndarray, w: np.ndarray, layer) -> np.ndarray:
    """Float sum x*w (no bias) of a MAC layer: (N, O, OH, OW) for a conv, (N, O) dense."""
    if layer.type == "dense":
        return x @ w.T
    win, w4 = _conv_view(x, w, layer)
    return np.einsum("nchwij,ocij->nohw", win, w4)


def _product_stats(x: np.ndarray, w: np.ndarray, layer, fmt: FixedType) -> dict:
    """Float products: exact min/max from each input's extremes, percentiles of a sample."""
    if layer.type != "dense":
        p, w = _conv_view(x, w, layer)
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


def _mac_layer(layer, xf, fw, run_events: dict) -> dict:
    """Tensors of one conv2d/dense layer: float stats, quantization and run events."""
    f = layer.formats
    w, b = fw[f"{layer.name}.weight"], fw.get(f"{layer.name}.bias")
    acc_f = _linear(xf, w, layer)
    if b is not None:
        acc_f = acc_f + (b[None] if layer.type == "dense" else b[None, :, None, None])
    out = {"weight": {**_stats(w, f.weight), "events": _events_float(w, f.weight)}}
    if b is not None:
        out["bias"] = {**_stats(b, f.bias), "events": _events_float(b, f.bias)}
    out["products"] = {**_product_stats(xf, w, layer, layer.product_format),
                       "events": run_events["products"]}
    acc_ev = dict(run_events["accum"])
    if "bias" in run_events:  # A(bias) starts every output: a conversion into A too
        acc_ev = {k: acc_ev[k] + run_events["bias"][k] for k in acc_ev}
    out["accum"] = {**_stats(acc_f, f.accum), "events": acc_ev}
    out["result"] = {**_stats(acc_f, f.result), "events": run_events["result"]}
    if "activation" in run_events:
        out["activation"] = {"events": run_events["activation"]}
    return out


#: Layer types that move or compare values without converting them (no result format).
_PLAIN = ("maxpool2d", "maxpool1d", "global_maxpool2d", "global_maxpool1d", "flatten",
          "zeropad2d", "zeropad1d", "relu", "linear")


def _other_layer(layer, yf, run_events: dict | None) -> dict:
    """The tensors of a layer without weights: the run's counts of each conversion (the
    result, and a pool's terms, sum steps and divisions), zero events when it converts
    nothing, else null with the reason."""
    st = _stats(yf, layer.out_format)
    tensors = {"result": st}
    if run_events is not None:
        st["events"] = run_events["result"]
        for name, ev in run_events.items():
            if name != "result":
                tensors[name] = {"events": ev}
    elif layer.type in _PLAIN and not getattr(layer, "converts", False):
        st["events"] = {"n": 0, "rounded": 0, "saturated": 0, "wrapped": 0}
        st["events_note"] = "no conversion (values moved or compared in their format)"
    else:
        st["events"] = None
        st["events_note"] = f"not counted: {layer.type} layers have no event counters"
    return tensors


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
    events: dict = {}
    wq, _, out, sup, taps = fixed_outputs(ctx, spec, taps=True, events=events, threads=None)
    ftaps = run_float(spec, ctx.float_weights, ctx.frames, taps=True)
    fw = ctx.float_weights
    inp = {**_stats(ctx.frames, spec.input_format)}
    if "input" in events:
        inp["events"] = events["input"]["input"]
    else:
        inp["events"], inp["events_note"] = None, "raw integer frames: nothing converted"
    layers = [{"layer": "input", "type": "input", "tensors": {"input": inp}}]
    prev, first = "input", None
    for layer in spec.layers:
        entry = {"layer": layer.name, "type": layer.type}
        if layer.name in events and "products" in events[layer.name]:
            entry["tensors"] = _mac_layer(layer, ftaps[prev], fw, events[layer.name])
        else:
            entry["tensors"] = _other_layer(layer, ftaps[layer.name], events.get(layer.name))
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
            "events_source": "counted by the bit-exact run (the input quantizer and the "
                             "counted contract-order kernels of every conv2d/dense layer; "
                             "weights and biases: their quantization)",
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
