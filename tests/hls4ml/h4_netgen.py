"""Seeded random networks that both fixsim and hls4ml 1.3.0 (Vivado backend) can express.

A :class:`Case` is everything one differential run needs: the fixsim spec (a dict, checked
by the real loader), the raw weights, the float64 input frames, and the hls4ml build
parameters (io type, strategy, reuse factor, channels-last conversion).  Everything comes
from ``numpy.random.default_rng(seed)``, so a seed reproduces a case exactly.

What is drawn, and why only this (the hls4ml dialect of the datapath contract; the
mapping is checked against the templates in ``hls4ml/templates/vivado/nnet_utils``):

- conv2d (stride 1, zero padding 0 or ``(k - 1) / 2`` per side, with or without bias),
  maxpool2d (floor mode; in io_stream the line-buffer pool needs stride = kernel),
  flatten, dense, standalone relu / leaky_relu / linear, and fused relu / leaky_relu /
  linear activations.
- options ``product="to_accum"`` (``mult[i] = product(x, w)`` is stored in ``accum_t``,
  then ``acc[j] += mult[i]``), ``sum_order="kh_kw_ci"`` (the im2col buffer of
  ``fill_buffer`` and the line buffer's window are (kh, kw, ci) with ci innermost),
  ``activation_on="result"`` (the activation is a layer of its own after ``res_T(acc)``).
- flatten order ``hwc`` where hls4ml feeds the dense layer the channels-last array
  (io_parallel and the flatten directly followed by the dense layer:
  ``RemoveTransposeBeforeFlatten`` permutes the dense weights instead), else ``chw``
  (a Transpose layer restores PyTorch's order before the flatten).
- no activation directly after a flatten in io_stream: hls4ml writes the flattened stream
  in packs of the channel count, and the activation reads packs of the whole feature
  count (it reads past its input array and leaves data in the stream: hls4ml is wrong).
- standalone relu / leaky_relu and max pool layers have a result format of their own half
  the time (hls4ml's ``res_T``: one conversion of the activated value or of the max;
  a pool's ``accum_t`` is its input format, so the max itself is exact); a fused
  activation's hls4ml layer has the conv/dense result format.  A flatten never converts:
  hls4ml's Reshape is an alias of its input array (a result precision would be ignored),
  and a standalone linear layer has no PyTorch module to carry one.
- formats with every quantization mode and the overflow modes hls4ml's precision parser
  knows (AP_SAT, AP_SAT_ZERO, AP_SAT_SYM, AP_WRAP with N = 0..2; not AP_WRAP_SM);
  accumulators in four regimes: ``wide`` (no mode can act), ``sat`` (narrow, saturating),
  ``wrap`` (narrow, wrapping) and ``round`` (products rounded onto the accumulator grid).
- weights of at most 24 bits (exact in the float32 torch module); results of at most
  24 bits (exact through the double trace).
"""

from __future__ import annotations

import copy
import dataclasses
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from fixsim.errors import FixsimError
from fixsim.fixed import FixedType, product_type
from fixsim.network.spec import load_spec, pool_out

QUANT = ["AP_RND", "AP_RND_ZERO", "AP_RND_MIN_INF", "AP_RND_INF", "AP_RND_CONV", "AP_TRN",
         "AP_TRN_ZERO"]
#: Overflow modes hls4ml's precision parser accepts (hls4ml.model.types.SaturationMode).
OVF = ["AP_SAT", "AP_SAT_ZERO", "AP_SAT_SYM", "AP_WRAP"]
SAT = ["AP_SAT", "AP_SAT_ZERO", "AP_SAT_SYM"]
ACC_REGIMES = ("wide", "sat", "wrap", "round")
IO_TYPES = ("io_parallel", "io_stream")
STRATEGIES = ("Latency", "Resource")
#: The options of the contract that hls4ml's datapath corresponds to (see the docstring).
HLS4ML_OPTIONS = {"product": "to_accum", "sum_order": "kh_kw_ci", "activation_on": "result"}
#: Frames per case.
FRAMES = 64


@dataclass(frozen=True)
class Case:
    """One seeded differential case (spec dict, raw weights, float64 frames, build knobs).

    ``reuse_factor`` is the largest reuse factor drawn: with Strategy Resource and a value
    above 1, each conv2d/dense layer takes a reuse factor in ``[2, reuse_factor]`` that
    hls4ml keeps (when its shape has one) and fixsim's order ``sum_order="resource"``.
    """

    seed: int
    io_type: str
    strategy: str
    reuse_factor: int
    channels_last: str  # hls4ml ChannelsLastConversion: "full" (NCHW input) or "internal"
    spec_dict: dict
    weights: dict = field(repr=False)
    x: np.ndarray = field(repr=False)
    regimes: dict = field(default_factory=dict)  # MAC layer name -> accumulator regime

    @cached_property
    def spec(self):
        return load_spec(self.spec_dict)

    @property
    def label(self) -> str:
        return (f"seed={self.seed} {self.io_type} {self.strategy} RF<={self.reuse_factor} "
                f"ChannelsLastConversion={self.channels_last}")


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
    n = int(rng.integers(1, min(2, w) + 1)) if o == "AP_WRAP" and rng.random() < 0.3 else 0
    return FixedType(w, i, signed, _pick(rng, quant), o, n)


def _accum(rng, in_fmt: FixedType, weight: FixedType, fan_in: int) -> tuple[str, FixedType]:
    """An accumulator for products ``in_fmt x weight`` summed over ``fan_in`` terms."""
    pt = product_type(in_fmt, weight)
    regime = _pick(rng, ACC_REGIMES)
    growth = int(np.ceil(np.log2(fan_in + 1))) + 2
    if regime == "wide":  # holds every partial sum exactly: no mode can act
        f = pt.frac_bits + int(rng.integers(0, 3))
        i = pt.int_bits + growth
        q, o = _pick(rng, QUANT), _pick(rng, OVF)
    elif regime == "round":  # products rounded onto a coarser grid, range to spare
        f = pt.frac_bits - int(rng.integers(1, 6))
        i = pt.int_bits + growth
        q, o = _pick(rng, QUANT[:5] + ["AP_TRN_ZERO"]), _pick(rng, OVF)
    else:  # narrow: partial sums leave the range
        f = pt.frac_bits - int(rng.integers(0, 3))
        i = pt.int_bits + int(rng.integers(-2, 2))
        q = _pick(rng, QUANT)
        o = _pick(rng, SAT) if regime == "sat" else "AP_WRAP"
    w = max(i + f, 2)
    n = int(rng.integers(1, 3)) if o == "AP_WRAP" and regime == "wrap" and rng.random() < 0.3 else 0
    return regime, FixedType(min(w, 48), i, True, q, o, n)


def _activation(rng, allow_linear: bool = True):
    r = rng.random()
    if r < 0.4:
        return "relu"
    if r < 0.6 and allow_linear:
        return "linear"
    # alpha is deliberately off the alpha grid: its own quantization is part of the test
    alpha = float(rng.uniform(0.02, 0.9))
    return {"leaky_relu": alpha,
            "alpha_format": str(rand_format(rng, 3, 10, 0, 1, signed=True, ovf=["AP_SAT"]))}


def _mac(rng, name: str, kind: str, in_fmt: FixedType, fan_in: int, regimes: dict) -> dict:
    weight = rand_format(rng, 3, 10, -1, 3)
    regime, accum = _accum(rng, in_fmt, weight, fan_in)
    regimes[name] = regime
    bias = bool(rng.random() < 0.8)
    formats = {"weight": str(weight), "accum": str(accum),
               "result": str(rand_format(rng, 4, 16, 1, 7))}
    if bias:
        formats["bias"] = str(rand_format(rng, 3, 12, -1, 5))
    return {"name": name, "type": kind, "bias": bias, "formats": formats,
            "activation": _activation(rng) if rng.random() < 0.5 else "linear",
            "options": dict(HLS4ML_OPTIONS)}


def _result(frng, layer: dict) -> dict:
    """Half the time a result format of the layer's own (hls4ml's ``res_T``)."""
    if frng.random() < 0.5:
        layer["formats"] = {"result": str(rand_format(frng, 4, 16, 0, 7))}
    return layer


def _standalone(rng, frng, name: str) -> dict:
    act = _activation(rng)
    if isinstance(act, dict):
        return _result(frng, {"name": name, "type": "leaky_relu", "alpha": act["leaky_relu"],
                              "alpha_format": act["alpha_format"]})
    # a standalone linear layer has no PyTorch module (hls4ml emits nothing): no conversion
    return {"name": name, "type": act} if act == "linear" else _result(frng, {"name": name,
                                                                              "type": act})


def _out_format(layer: dict, fmt: FixedType) -> FixedType:
    result = layer.get("formats", {}).get("result")
    return FixedType.parse(result) if result else fmt


def _draw_spec(rng, frng, io_type: str, regimes: dict) -> dict:
    c, h, w = int(rng.integers(1, 4)), int(rng.integers(4, 8)), int(rng.integers(4, 8))
    in_fmt = rand_format(rng, 5, 12, 1, 5)
    spec = {"name": "h4diff", "input": {"shape": [c, h, w], "format": str(in_fmt)},
            "options": dict(HLS4ML_OPTIONS), "layers": []}
    layers = spec["layers"]
    fmt = in_fmt
    n_conv = int(rng.integers(0, 3)) if rng.random() < 0.25 else int(rng.integers(1, 3))
    for k in range(1, n_conv + 1):
        kh, kw = int(rng.integers(1, 4)), int(rng.integers(1, 4))
        same = bool(rng.random() < 0.5)
        ph, pw = ((kh - 1) // 2, (kw - 1) // 2) if same else (0, 0)
        if h + 2 * ph < kh or w + 2 * pw < kw:
            break
        layer = _mac(rng, f"conv{k}", "conv2d", fmt, c * kh * kw, regimes)
        c = int(rng.integers(1, 5))
        layer.update(out_channels=c, kernel=[kh, kw], stride=[1, 1], padding=[ph, pw])
        layers.append(layer)
        fmt = FixedType.parse(layer["formats"]["result"])
        h, w = h + 2 * ph - kh + 1, w + 2 * pw - kw + 1
        if rng.random() < 0.45:
            layers.append(_standalone(rng, frng, f"act{k}"))
            fmt = _out_format(layers[-1], fmt)
        if rng.random() < 0.6 and h >= 2 and w >= 2:
            pk = [int(rng.integers(1, min(3, h) + 1)), int(rng.integers(1, min(3, w) + 1))]
            if pk == [1, 1]:
                pk = [2, 2]
            if io_type == "io_stream":
                ps = list(pk)  # the line-buffer pool asserts stride == kernel
            else:
                ps = [int(rng.integers(1, 4)), int(rng.integers(1, 4))]
            layers.append(_result(frng, {"name": f"pool{k}", "type": "maxpool2d", "kernel": pk,
                                         "stride": ps, "ceil_mode": False}))
            fmt = _out_format(layers[-1], fmt)
            h, w = pool_out(h, pk[0], ps[0], False), pool_out(w, pk[1], ps[1], False)
    flat_at = len(layers)
    layers.append({"name": "flat", "type": "flatten", "order": "chw"})
    feats = c * h * w
    # io_stream: hls4ml packs the flattened stream by the channel count but the next
    # elementwise layer reads packs of the whole feature count (hls4ml gets it wrong)
    if rng.random() < 0.15 and io_type == "io_parallel":
        layers.append(_standalone(rng, frng, "act_flat"))
        fmt = _out_format(layers[-1], fmt)
    for k in range(1, int(rng.integers(1, 3)) + 1):
        layer = _mac(rng, f"fc{k}", "dense", fmt, feats, regimes)
        feats = int(rng.integers(1, 9))
        layer["out_features"] = feats
        layers.append(layer)
        fmt = FixedType.parse(layer["formats"]["result"])
        if rng.random() < 0.3:
            layers.append(_standalone(rng, frng, f"act_fc{k}"))
            fmt = _out_format(layers[-1], fmt)
    # hls4ml hands the dense layer the channels-last array only in io_parallel and only
    # when the flatten feeds the dense layer directly (RemoveTransposeBeforeFlatten).
    direct = layers[flat_at + 1]["type"] == "dense"
    layers[flat_at]["order"] = "hwc" if (io_type == "io_parallel" and direct) else "chw"
    return spec


def _raw(rng, f: FixedType, shape, edge: float) -> np.ndarray:
    """Uniform raw weights with a share ``edge`` of the extremes (which provoke overflow).

    Only codes that ``f(double)`` can produce: hls4ml loads each weight through the double
    constructor, and AP_SAT_SYM turns the most negative code into ``-max``.
    """
    lo = -f.raw_max if f.signed and f.overflow.name == "AP_SAT_SYM" else f.raw_min
    v = rng.integers(lo, f.raw_max, size=shape, endpoint=True, dtype=np.int64)
    ext = rng.choice(np.array([lo, f.raw_max], np.int64), size=shape)
    return np.where(rng.random(shape) < edge, ext, v)


def _frames(rng, fmt: FixedType, shape) -> np.ndarray:
    """float64 frames: in range, beyond the range (saturating or wrapping), exact ties."""
    n = (FRAMES,) + tuple(shape)
    span = 2.0 ** (fmt.int_bits - (1 if fmt.signed else 0))
    x = rng.normal(0.0, 0.6, n) * span
    pick = rng.random(n)
    x = np.where(pick < 0.10, rng.choice([-1.0, 1.0], n) * span * rng.uniform(1.0, 4.0, n), x)
    ties = (np.floor(x / fmt.lsb) + 0.5) * fmt.lsb  # halfway between two codes
    return np.where((pick > 0.10) & (pick < 0.25), ties, x)


def valid_reuse_factors(n_in: int, n_out: int) -> list[int]:
    """The reuse factors hls4ml keeps for ``n_in * n_out`` products
    (``FPGABackend._validate_reuse_factor``; others are replaced by the closest valid one)."""
    out = []
    for rf in range(1, n_in * n_out + 1):
        limit = -(-(n_in * n_out) // min(n_in, rf))
        ok = (limit % n_out == 0 or rf >= n_in) and (rf % n_in == 0 or rf < n_in)
        if ok and (n_in * n_out) % rf == 0:
            out.append(rf)
    return out


def _resource_orders(rng, spec, d: dict, io_type: str, max_rf: int) -> None:
    """Give each conv2d/dense layer a reuse factor in [2, max_rf] that hls4ml keeps (and
    its io_parallel conv kernel accepts: R <= C*KH*KW), with fixsim's Resource order."""
    for layer in d["layers"]:
        if layer["type"] not in ("conv2d", "dense"):
            continue
        l = spec.layer(layer["name"])
        n_in, n_out = l.fan_in, l.weight_shape[0]
        ok = [r for r in valid_reuse_factors(n_in, n_out)
              if 1 < r <= max_rf and r < n_in * n_out
              and not (l.type == "conv2d" and io_type == "io_parallel" and r > n_in)]
        if ok:
            layer["options"].update(sum_order="resource", reuse_factor=_pick(rng, ok))


def variant(case: Case, mutate) -> Case | None:
    """``case`` with ``mutate(spec_dict)`` applied to a copy of its spec (same weights and
    frames); None when the loader refuses the result."""
    d = copy.deepcopy(case.spec_dict)
    mutate(d)
    try:
        load_spec(d)
    except FixsimError:
        return None
    return dataclasses.replace(case, spec_dict=d)


def draw_case(seed: int, io_type: str, strategy: str = "Latency", reuse_factor: int = 1,
              channels_last: str | None = None) -> Case:
    """The case of ``seed`` (specs the loader refuses are replaced by the next draw)."""
    if io_type not in IO_TYPES or strategy not in STRATEGIES:
        raise ValueError(f"io_type {io_type!r} / strategy {strategy!r}: choose from "
                         f"{IO_TYPES} / {STRATEGIES}")
    rng = np.random.default_rng(seed)
    frng = np.random.default_rng([seed, 1])  # the layers' own result formats
    if channels_last is None:
        channels_last = "full" if rng.random() < 0.7 else "internal"
    for _ in range(200):
        regimes: dict = {}
        d = _draw_spec(rng, frng, io_type, regimes)
        try:
            spec = load_spec(d)
            if strategy == "Resource" and reuse_factor > 1:
                _resource_orders(np.random.default_rng([seed, 2]), spec, d, io_type, reuse_factor)
                spec = load_spec(d)
        except FixsimError:
            continue
        weights = {}
        for name, f in spec.weight_formats().items():
            weights[name] = _raw(rng, f, spec.weight_shapes()[name], 0.2)
        x = _frames(rng, spec.input_format, spec.input_shape)
        return Case(seed, io_type, strategy, reuse_factor, channels_last, spec.to_dict(),
                    weights, x, regimes)
    raise RuntimeError(f"seed {seed}: no valid spec in 200 draws")


def coverage(cases) -> set:
    """Which layers, options and modes the cases exercise (names like ``accum_o=AP_SAT``)."""
    seen = set()
    for case in cases:
        spec = case.spec
        seen |= {f"io={case.io_type}", f"strategy={case.strategy}",
                 f"{case.io_type}+{case.strategy}", f"channels_last={case.channels_last}"}
        if case.strategy == "Resource":
            seen.add("Resource+RF=1" if case.reuse_factor == 1 else "Resource+RF>1")
        seen |= {f"accum_regime={r}" for r in case.regimes.values()}
        seen |= {f"{spec.layer(n).type}_regime={r}" for n, r in case.regimes.items()}
        if not spec.input_format.signed:
            seen.add("input=unsigned")
        for l in spec.layers:
            seen.add(f"layer={l.type}")
            seen.add(f"{case.io_type}:{l.type}")
            seen.add(f"{case.strategy}:{l.type}")
            if l.type in ("conv2d", "dense"):
                seen.add(f"activation={l.activation.kind}")
                if l.options.sum_order == "resource":
                    seen.add(f"resource_order:{l.type}")
                    seen.add(f"{case.io_type}:resource_order:{l.type}")
                    if l.options.reuse_factor >= l.fan_in:  # hls4ml's rf_gt_nin_rem0 kernel
                        seen.add("resource_order:R>=K")
                seen.add(f"bias={l.bias}")
                a = l.formats.accum
                seen.add(f"accum_q={a.quantization.name}")
                seen.add(f"accum_o={a.overflow.name}")
                if a.overflow.name == "AP_WRAP" and a.sat_bits:
                    seen.add("accum_o=AP_WRAP_N>0")
                r = l.formats.result
                seen.add(f"result_q={r.quantization.name}")
                seen.add(f"result_o={r.overflow.name}")
            if l.type == "conv2d" and any(l.padding):
                seen.add("padding=same")
            if (l.type == "conv2d" and l.in_shape[0] > 1 and l.kernel != (1, 1)
                    and case.regimes[l.name] == "sat"):
                seen.add("conv2d_sum_order_matters")  # saturating, several channels and taps
            if l.type == "maxpool2d" and l.stride != l.kernel:
                seen.add("pool_stride!=kernel")
            if l.type == "flatten":
                seen.add(f"flatten={l.order}")
            if getattr(l, "result", None) not in (None, l.in_format):
                seen.add(f"own_result_format={l.type}")
    return seen
