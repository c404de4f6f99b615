"""Precision of an imported network: hls4ml-style configurations, read and written.

One configuration drives both tools.  Its form is hls4ml's (``granularity="name"``)::

    Model:     {Precision: <default> | {default, weight, bias, result, accum, ...},
                ReuseFactor: 1, Strategy: Latency}
    LayerName: {<layer>: {Precision: <text> | {weight, bias, accum, result, table, ...},
                          ReuseFactor, Strategy}}
    IOType:    io_parallel | io_stream

A format is looked up as hls4ml's ``HLSConfig.get_precision`` does: the layer's entry for
the variable, the layer's ``default`` (or its single text), the model's entry for the
variable, the model's ``default``.  The value ``auto`` asks for hls4ml's inference
(``InferPrecisionTypes``): a conv/dense accumulator (and an ``auto`` result) of
``W = Ww + Wi + ceil(log2(K))`` bits with ``I = Iw + Ii + ceil(log2(K))`` integer bits,
widened for the bias (never overflows, never rounds); an average pool's accumulator is the
input format with ``ceil(log2(window))`` more integer bits.

``--precision P`` is the configuration ``Model: {Precision: {default: P, accum: auto}}``.
:func:`write_config` writes every resolved format explicitly, so reading it back gives the
same spec, and hls4ml given the same file declares the same types.

>>> cfg = Config.parse({"Model": {"Precision": "ap_fixed<16,6>"},
...                     "LayerName": {"fc": {"Precision": {"weight": "ap_fixed<8,3>"}}}}, "cfg")
>>> cfg.get("fc", "weight"), cfg.get("fc", "result")
('ap_fixed<8,3>', 'ap_fixed<16,6>')
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ...errors import InputError, closest
from ...fixed import FixedType
from ..dialect import FLATTEN_ORDER, IO_TYPES, STRATEGIES
from ..kinds.lut import HLS4ML_TABLE
from .graph import FUSABLE, MAC_TYPES, Graph, Op

#: hls4ml configuration keys fixsim reads; the others (project settings) are ignored.
READ_KEYS = ("Model", "LayerName", "IOType")
IGNORED_KEYS = ("Backend", "OutputDir", "ProjectName", "Part", "ClockPeriod", "InputShape",
                "HLSConfig", "KerasModel", "PytorchModel", "OnnxModel", "Version", "Board",
                "LayerType", "Flows", "WriterConfig", "InputData", "OutputPredictions")
MODEL_KEYS = ("Precision", "ReuseFactor", "Strategy", "BramFactor", "TraceOutput",
              "ChannelsLastConversion", "TransposeOutputs")
LAYER_KEYS = ("Precision", "ReuseFactor", "Strategy", "Trace", "ConvImplementation",
              "ParallelizationFactor", "Implementation", "table_size")
#: Spec dialects an import can produce.
DIALECTS = ("hls4ml", "none")
#: hls4ml's ChannelsLastConversion values fixsim models (the input arrives channels first
#: or channels last; the layers compute channels last either way).
CHANNELS_LAST = ("full", "internal")


@dataclass
class Config:
    """An hls4ml-style configuration (defaults of a missing part: hls4ml's)."""

    model: dict = field(default_factory=dict)  # variable -> format text
    layers: dict = field(default_factory=dict)  # layer -> {variable -> text}
    layer_text: dict = field(default_factory=dict)  # layer -> single Precision text
    reuse: dict = field(default_factory=dict)  # layer -> ReuseFactor
    strategy: dict = field(default_factory=dict)  # layer -> Strategy
    model_reuse: int = 1
    model_strategy: str = "Latency"
    io_type: str = "io_parallel"
    where: str = "config"
    auto_width: int | None = None  # --precision auto:W (formats profiled, auto_config)

    @classmethod
    def parse(cls, data, where: str) -> "Config":
        if not isinstance(data, dict):
            raise InputError(f"{where}: an hls4ml configuration is a mapping, got "
                             f"{type(data).__name__}")
        for k in data:
            if k not in READ_KEYS + IGNORED_KEYS:
                raise InputError(f"{where}: unknown key {k!r}{closest(str(k), READ_KEYS)}; "
                                 f"fixsim reads {', '.join(READ_KEYS)}")
        cfg = cls(where=where)
        model = data.get("Model", {})
        if not isinstance(model, dict):
            raise InputError(f"{where}: Model must be a mapping, got {model!r}")
        _check_keys(model, MODEL_KEYS, f"{where}: Model")
        prec = model.get("Precision", "ap_fixed<16,6>")
        cfg.model = _precision(prec, f"{where}: Model Precision")
        cfg.model_reuse = _reuse(model.get("ReuseFactor", 1), f"{where}: Model ReuseFactor")
        cfg.model_strategy = _strategy(model.get("Strategy", "Latency"), f"{where}: Model")
        conv = model.get("ChannelsLastConversion", "full")
        if conv not in CHANNELS_LAST:
            raise InputError(f"{where}: Model ChannelsLastConversion {conv!r} is not one of "
                             f"{', '.join(CHANNELS_LAST)} (with 'off' hls4ml's PyTorch flow "
                             "keeps dense weights untransposed: fixsim does not model it)")
        if model.get("TransposeOutputs", False):
            raise InputError(f"{where}: Model TransposeOutputs true is not modelled (fixsim's "
                             "outputs are in PyTorch's order)")
        io = data.get("IOType", "io_parallel")
        if io not in IO_TYPES:
            raise InputError(f"{where}: IOType {io!r} is not one of {', '.join(IO_TYPES)}"
                             f"{closest(str(io), IO_TYPES)}")
        cfg.io_type = io
        names = data.get("LayerName", {}) or {}
        if not isinstance(names, dict):
            raise InputError(f"{where}: LayerName must be a mapping of layer names")
        for name, entry in names.items():
            w = f"{where}: LayerName {name!r}"
            if not isinstance(entry, dict):
                raise InputError(f"{w} must be a mapping, got {entry!r}")
            _check_keys(entry, LAYER_KEYS, w)
            if "Precision" in entry:
                p = entry["Precision"]
                if isinstance(p, str):
                    cfg.layer_text[name] = _format_text(p, f"{w} Precision")
                else:
                    cfg.layers[name] = _precision(p, f"{w} Precision")
            if "ReuseFactor" in entry:
                cfg.reuse[name] = _reuse(entry["ReuseFactor"], f"{w} ReuseFactor")
            if "Strategy" in entry:
                cfg.strategy[name] = _strategy(entry["Strategy"], w)
        return cfg

    @classmethod
    def default(cls, precision: str) -> "Config":
        """``--precision P``: every format P, accumulators inferred (hls4ml's ``auto``)."""
        return cls(model={"default": _format_text(precision, "--precision"), "accum": "auto"},
                   where="--precision")

    @classmethod
    def auto(cls, width: int) -> "Config":
        """``--precision auto:W``: formats of W bits profiled by :func:`auto_config`."""
        if not isinstance(width, int) or not 2 <= width <= 32:
            raise InputError(f"--precision auto:W needs a width W of 2 to 32 bits, got {width!r}")
        cfg = cls.default(f"ap_fixed<{width},{(width + 1) // 2}>")
        cfg.auto_width = width
        cfg.where = f"--precision auto:{width}"
        return cfg

    def named(self) -> set:
        return set(self.layers) | set(self.layer_text) | set(self.reuse) | set(self.strategy)

    def get(self, layer: str, var: str) -> str:
        """hls4ml's lookup: layer variable, layer default, model variable, model default."""
        own = self.layers.get(layer, {})
        for value in (own.get(var), own.get("default"), self.layer_text.get(layer),
                      self.model.get(var), self.model.get("default")):
            if value is not None:
                return value
        raise InputError(f"{self.where}: no precision for {layer}.{var} and no default")

    def given(self, layer: str, var: str) -> bool:
        """The layer's own entry names ``var`` (not a default)."""
        return var in self.layers.get(layer, {})

    def layer_reuse(self, layer: str) -> int:
        return self.reuse.get(layer, self.model_reuse)

    def layer_strategy(self, layer: str) -> str:
        return self.strategy.get(layer, self.model_strategy)


def _check_keys(obj: dict, allowed, where: str) -> None:
    for k in obj:
        if k not in allowed:
            raise InputError(f"{where}: unknown key {k!r}{closest(str(k), allowed)}")


def _format_text(value, where: str) -> str:
    if not isinstance(value, str):
        raise InputError(f"{where}: a precision must be text such as 'ap_fixed<16,6>', "
                         f"got {value!r}")
    if value.strip() == "auto":
        return "auto"
    try:
        return str(FixedType.parse(value))
    except Exception as exc:
        raise InputError(f"{where}: {str(exc).splitlines()[0]}") from None


def _precision(value, where: str) -> dict:
    if isinstance(value, str):
        return {"default": _format_text(value, where)}
    if not isinstance(value, dict):
        raise InputError(f"{where}: must be a format or a mapping of formats, got {value!r}")
    return {str(k): _format_text(v, f"{where} {k}") for k, v in value.items()}


def _reuse(value, where: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise InputError(f"{where} must be an integer >= 1, got {value!r}")
    return value


def _strategy(value, where: str) -> str:
    for s in STRATEGIES:
        if isinstance(value, str) and value.lower() == s.lower():
            return s
    raise InputError(f"{where}: Strategy {value!r} is not one of {', '.join(STRATEGIES)}")


def read_config(path: str) -> Config:
    """An hls4ml-style configuration file (``.json``, or YAML ``.yml``/``.yaml``)."""
    from ..._files import read_text

    text = read_text(path, "--config")
    if Path(path).suffix.lower() in (".yml", ".yaml"):
        try:
            import yaml
        except ImportError:
            raise InputError("reading a YAML configuration needs PyYAML (pip install pyyaml); "
                             "or give the configuration as JSON") from None
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise InputError(f"--config {path!r} is not valid YAML: "
                             f"{str(exc).splitlines()[0]}") from None
    else:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise InputError(f"--config {path!r}: malformed JSON at line {exc.lineno} column "
                             f"{exc.colno}: {exc.msg}") from None
    return Config.parse(data, f"--config {path!r}")


def check_names(cfg: Config, graph: Graph) -> None:
    """Every layer the configuration names exists (one line naming the others)."""
    known = set(graph.names()) | {graph.input_name}
    for op in graph.ops:
        known.update(op.fused)
    bad = sorted(n for n in cfg.named() if n not in known)
    if bad:
        raise InputError(f"{cfg.where}: LayerName names layer(s) the model does not have: "
                         f"{', '.join(bad)}{closest(bad[0], known)}; layers: "
                         f"{', '.join([graph.input_name] + graph.names())}")


# ------------------------------------------------------------------ formats -> spec
def _fmt(text: str) -> FixedType:
    return FixedType.parse(text)


def mac_accum(in_fmt: FixedType, weight: FixedType, bias: FixedType | None, n: int) -> FixedType:
    """hls4ml's inferred accumulator of a conv/dense layer (``_infer_common_precision``).

    >>> str(mac_accum(FixedType.parse("ap_fixed<16,6>"), FixedType.parse("ap_fixed<16,6>"),
    ...               FixedType.parse("ap_fixed<16,6>"), 4))
    'ap_fixed<35,15>'
    """
    grow = math.ceil(math.log2(n)) if n > 1 else 0
    width = weight.width + in_fmt.width + grow
    integers = weight.int_bits + in_fmt.int_bits + grow
    signed = weight.signed or in_fmt.signed
    frac = width - integers
    if bias is not None:
        integers = max(integers + (bias.signed and not signed),
                       bias.int_bits + (signed and not bias.signed)) + 1
        width = integers + max(frac, bias.width - bias.int_bits)
        signed = signed or bias.signed
    kind = "ap_fixed" if signed else "ap_ufixed"
    return FixedType.parse(f"{kind}<{width},{integers}>")


def pool_accum(in_fmt: FixedType, window: int) -> FixedType:
    """An average pool's ``auto`` accumulator: the input with room for the window's sum."""
    grow = math.ceil(math.log2(window)) if window > 1 else 0
    kind = "ap_fixed" if in_fmt.signed else "ap_ufixed"
    return FixedType.parse(f"{kind}<{in_fmt.width + grow},{in_fmt.int_bits + grow}>")


class _Builder:
    """Walks the chain, resolving formats and writing spec layer dicts."""

    def __init__(self, graph: Graph, cfg: Config, dialect: str):
        self.g, self.cfg, self.dialect = graph, cfg, dialect
        self.layers: list[dict] = []
        self.names: dict = {}  # hls4ml layer name -> spec layer name (fused activations)

    def get(self, op: Op, var: str, source_first: bool = True) -> str:
        """The format of ``var``: the layer's own config entry, the source's quantizer, the
        configuration's defaults (in that order)."""
        if self.cfg.given(op.name, var):
            return self.cfg.get(op.name, var)
        if source_first and var in op.formats:
            return op.formats[var]
        return self.cfg.get(op.name, var)

    def result(self, op: Op, in_fmt: FixedType, auto: FixedType | None = None) -> FixedType:
        text = self.get(op, "result")
        if text == "auto":
            return auto if auto is not None else in_fmt
        return _fmt(text)

    def build(self, in_shape, in_fmt: FixedType) -> list[dict]:
        shape, fmt = in_shape, in_fmt
        ops = self.g.ops
        i = 0
        while i < len(ops):
            op = ops[i]
            d, fmt, shape = self.layer(op, shape, fmt, ops[i + 1] if i + 1 < len(ops) else None)
            self.layers.append(d)
            self.names[op.name] = op.name
            for f in op.fused:
                self.names[f] = op.name
            i += 1
            if d["type"] in MAC_TYPES and self.dialect == "none" and i < len(ops):
                nxt = ops[i]
                if nxt.kind in FUSABLE and self.result(nxt, fmt) == fmt:
                    d["activation"] = self.activation(nxt)
                    op.fused.append(nxt.name)
                    self.names[nxt.name] = op.name
                    i += 1
        return self.layers

    def activation(self, op: Op):
        if op.kind == "relu":
            return "relu"
        return {"leaky_relu": op.attrs["alpha"], "alpha_format": self.alpha_format(op)}

    def alpha_format(self, op: Op) -> str:
        text = self.get(op, "param")
        if text == "auto":
            text = "ap_fixed<16,6>"
        return text

    def layer(self, op: Op, shape, in_fmt: FixedType, nxt: Op | None):  # noqa: C901
        from .graph import flat_features

        d = {"name": op.name, "type": op.kind, **op.attrs}
        kind = op.kind
        if kind in MAC_TYPES:
            w = _fmt(self.get(op, "weight"))
            b = _fmt(self.get(op, "bias")) if op.attrs.get("bias") else None
            n = int(flat_features(op.tensors["weight"].shape[1:]))
            acc_text = self.get(op, "accum")
            acc = mac_accum(in_fmt, w, b, n) if acc_text == "auto" else _fmt(acc_text)
            res = self.result(op, in_fmt, auto=mac_accum(in_fmt, w, b, n))
            fm = {"weight": str(w), "accum": str(acc), "result": str(res)}
            if b is not None:
                fm["bias"] = str(b)
            d.update(activation="linear", formats=fm)
            strategy, rf = self.cfg.layer_strategy(op.name), self.cfg.layer_reuse(op.name)
            if self.dialect == "hls4ml":
                d.update(strategy=strategy, reuse_factor=rf)
            elif strategy == "Resource" and rf > 1:
                d["options"] = {"sum_order": "resource", "reuse_factor": rf}
            return d, res, None
        if kind == "flatten":
            if "order" in op.attrs:
                return d, in_fmt, None
            if self.dialect == "hls4ml":
                dense_next = nxt is not None and nxt.kind == "dense"
                order = FLATTEN_ORDER if (self.cfg.io_type == "io_parallel" and dense_next) \
                    else "chw"
            else:
                order = "chw"
            d["order"] = order
            return d, in_fmt, None
        if kind in ("zeropad1d", "zeropad2d"):
            return d, in_fmt, None
        if kind in ("relu", "linear", "leaky_relu", "maxpool1d", "maxpool2d"):
            res = self.result(op, in_fmt)
            if kind == "leaky_relu":
                d["alpha_format"] = self.alpha_format(op)
            if res != in_fmt and kind != "maxpool1d":
                d["formats"] = {"result": str(res)}
            elif res != in_fmt:  # maxpool1d keeps its input format in fixsim
                raise InputError(f"{op.source}: a maxpool1d result format of its own ({res}) is "
                                 "not supported by fixsim's maxpool1d; give it the input format")
            return d, (res if kind != "maxpool1d" else in_fmt), None
        if kind in ("sigmoid", "tanh"):
            res = self.result(op, in_fmt)
            table = self.get(op, "table") if self.cfg.given(op.name, "table") else str(HLS4ML_TABLE)
            d["formats"] = {"table": table, "result": str(res)}
            return d, res, None
        if kind == "softmax":
            res = self.result(op, in_fmt)
            fm = {"result": str(res)}
            for var in ("exp_table", "inv_table", "inv_inp", "inp_norm"):
                if self.cfg.given(op.name, var):
                    fm[var] = self.get(op, var)
            acc = self.get(op, "accum")
            if acc != "auto":  # hls4ml: the model's default precision (docs/datapath.md)
                fm["accum"] = acc
            d["formats"] = fm
            return d, res, None
        if kind in ("avgpool1d", "avgpool2d", "global_avgpool1d", "global_avgpool2d"):
            if kind.startswith("global"):
                window = int(flat_features(shape[1:])) if shape is not None else 1
            else:
                k = op.attrs["kernel"]
                window = int(flat_features(k if isinstance(k, list) else [k]))
            acc_text = self.get(op, "accum")
            acc = pool_accum(in_fmt, window) if acc_text == "auto" else _fmt(acc_text)
            res = self.result(op, in_fmt)
            d["formats"] = {"accum": str(acc), "result": str(res)}
            return d, res, None
        if kind in ("global_maxpool1d", "global_maxpool2d"):
            res = self.result(op, in_fmt)
            if res != in_fmt:
                d["formats"] = {"accum": str(in_fmt), "result": str(res)}
            return d, res, None
        if kind == "batchnorm":
            res = self.result(op, in_fmt)
            d["formats"] = {"scale": self.get(op, "scale"), "bias": self.get(op, "bias"),
                            "result": str(res)}
            for k, v in d["formats"].items():
                if v == "auto":
                    d["formats"][k] = str(in_fmt)
            return d, res, None
        raise InputError(f"{op.source}: no precision rule for layer type {kind!r}")


def range_format(max_abs: float, width: int) -> str:
    """The ``ap_fixed<W, I, AP_RND, AP_SAT>`` with the fewest integer bits holding
    ``[-max_abs, max_abs]`` (at least 1, at most W).

    >>> range_format(0.9, 8), range_format(1.0, 8), range_format(5.5, 16)
    ('ap_fixed<8,1,AP_RND,AP_SAT>', 'ap_fixed<8,2,AP_RND,AP_SAT>', 'ap_fixed<16,4,AP_RND,AP_SAT>')
    """
    ints = 1 if not max_abs > 0 else max(1, math.floor(math.log2(max_abs)) + 2)
    return f"ap_fixed<{width},{min(ints, width)},AP_RND,AP_SAT>"


def bound_accum(in_fmt: FixedType, weight: FixedType, bias: FixedType | None,
                w_raw: np.ndarray, b_raw: np.ndarray | None) -> FixedType | None:
    """The narrowest accumulator that holds every partial sum of a conv/dense layer with
    these raw weights exactly, for any input of ``in_format`` (the bound analysis of
    docs/datapath.md section 6: ``max_o sum_k |w[o,k]| * max|x| + |b[o]|``, on the grid of
    the product and the bias).  None beyond 64 bits.

    >>> str(bound_accum(FixedType.parse("ap_fixed<8,3>"), FixedType.parse("ap_fixed<6,1>"),
    ...                 None, np.array([[31, -32, 1]]), None))
    'ap_fixed<15,5>'
    """
    f_prod = in_fmt.frac_bits + weight.frac_bits
    f = max(f_prod, bias.frac_bits) if bias is not None else f_prod
    xmax = max(-in_fmt.raw_min, in_fmt.raw_max)
    w2 = np.abs(np.asarray(w_raw, np.int64).reshape(len(w_raw), -1))
    bound = 0
    for o in range(len(w2)):
        b = 0 if b_raw is None else abs(int(b_raw[o])) << (f - bias.frac_bits)
        bound = max(bound, (int(w2[o].sum()) * xmax << (f - f_prod)) + b)
    width = max(bound.bit_length(), 1) + 1  # a sign bit above the magnitude
    return FixedType(width, width - f) if width <= 64 else None


def auto_config(spec, names: dict, input_name: str, float_weights: dict, taps: dict,
                width: int, accums: dict | None = None) -> Config:
    """``--precision auto:W``: W-bit formats from the ranges of the weights and of every
    layer's output on the profiling frames (``taps``: the float twin's), accumulators from
    ``accums`` (layer -> format text: :func:`bound_accum` of the quantized weights) or else
    hls4ml's ``auto`` inference (neither can overflow), formats of the tables hls4ml's."""
    layers: dict = {input_name: {"Precision": {"result": range_format(
        float(np.max(np.abs(taps["input"]), initial=0.0)), width)}}}
    for layer in spec.layers:
        prec = {}
        for t in layer.tensors():
            role = {"weight": "weight", "bias": "bias", "scale": "scale"}[t.role]
            prec[role] = range_format(float(np.max(np.abs(float_weights[t.name]),
                                                   initial=0.0)), width)
        if layer.type not in ("flatten", "zeropad1d", "zeropad2d"):
            prec["result"] = range_format(float(np.max(np.abs(taps[layer.name]), initial=0.0)),
                                          width)
        if accums and layer.name in accums:
            prec["accum"] = accums[layer.name]
        if prec:
            layers[layer.name] = {"Precision": prec}
    for src, dst in names.items():
        if src != dst and dst in layers:  # folded/fused: the layer's result
            layers[src] = {"Precision": {"result": layers[dst]["Precision"]["result"]}}
    cfg = Config.parse({"Model": {"Precision": {"default": f"ap_fixed<{width},{(width + 1) // 2}>",
                                                "accum": "auto"}},
                        "LayerName": layers}, f"--precision auto:{width}")
    return cfg


def input_format(graph: Graph, cfg: Config) -> FixedType:
    """The input's format: the config's entry for the input layer, the source's quantizer,
    the model default."""
    name = graph.input_name
    if cfg.given(name, "result") or name in cfg.layer_text or name in cfg.layers:
        return _fmt(cfg.get(name, "result"))
    if graph.input_format is not None:
        return _fmt(graph.input_format)
    text = cfg.get(name, "result")
    if text == "auto":
        raise InputError(f"{cfg.where}: the input format cannot be 'auto'")
    return _fmt(text)


def build_spec(graph: Graph, cfg: Config, *, name: str, dialect: str = "hls4ml",
               description: str = "") -> tuple[dict, dict]:
    """The spec dict of ``graph`` with the formats of ``cfg``, and the layer-name map.

    ``dialect`` "hls4ml": the spec is in the hls4ml dialect (its datapath options, one
    layer per hls4ml layer, flatten order as hls4ml feeds a dense layer); "none": an
    SNL-style spec (fixsim's default options, relu/leaky_relu fused into the conv/dense
    layer before them when they keep its result format, flatten in PyTorch's order).
    The second value maps every source layer name (fused ones too) to its spec layer.
    """
    if dialect not in DIALECTS:
        raise InputError(f"dialect {dialect!r} is not one of {', '.join(DIALECTS)}")
    check_names(cfg, graph)
    in_fmt = input_format(graph, cfg)
    b = _Builder(graph, cfg, dialect)
    layers = b.build(graph.input_shape, in_fmt)
    spec = {"name": name}
    if description:
        spec["description"] = description
    if dialect == "hls4ml":
        spec["dialect"] = {"name": "hls4ml", "io_type": cfg.io_type,
                           "strategy": cfg.model_strategy, "reuse_factor": cfg.model_reuse}
    spec["input"] = {"shape": list(graph.input_shape), "format": str(in_fmt)}
    spec["layers"] = layers
    return spec, b.names


def write_config(spec, names: dict, input_name: str) -> dict:
    """The hls4ml-style configuration of a built spec: every format explicit.

    ``names`` maps source layer names to spec layers (a fused activation's hls4ml layer
    gets the conv/dense layer's result format).
    """
    model = {"Precision": {"default": str(spec.input_format)}, "ReuseFactor": 1,
             "Strategy": "Latency", "ChannelsLastConversion": "full",
             "TransposeOutputs": False}
    io = "io_parallel"
    if spec.dialect is not None:
        model.update(ReuseFactor=spec.dialect.reuse_factor, Strategy=spec.dialect.strategy)
        io = spec.dialect.io_type
    layers = {input_name: {"Precision": {"result": str(spec.input_format)}}}
    for layer in spec.layers:
        entry: dict = {}
        d = layer.to_dict()
        fm = dict(d.get("formats", {}))
        if layer.type in MAC_TYPES:
            if spec.dialect is not None:
                entry.update(ReuseFactor=layer.reuse_factor, Strategy=layer.strategy)
            elif layer.options.sum_order == "resource":
                entry.update(ReuseFactor=layer.options.reuse_factor, Strategy="Resource")
        if layer.type == "leaky_relu":
            fm["param"] = d["alpha_format"]
        if layer.type not in ("flatten", "zeropad1d", "zeropad2d"):
            fm.setdefault("result", str(layer.out_format))
        if layer.type in ("global_maxpool1d", "global_maxpool2d"):
            fm.pop("accum", None)
        if fm:
            entry["Precision"] = fm
        if entry:
            layers[layer.name] = entry
    for src, dst in names.items():
        if src != dst:
            layer = spec.layer(dst)
            p = {"result": str(layer.out_format)}
            act = getattr(layer, "activation", None)
            if act is not None and act.kind == "leaky_relu":
                p["param"] = str(act.alpha_format)
            layers[src] = {"Precision": p}
    return {"Model": model, "IOType": io, "LayerName": layers}


__all__ = ["Config", "read_config", "check_names", "build_spec", "write_config", "mac_accum",
           "bound_accum",
           "pool_accum", "input_format", "range_format", "auto_config", "DIALECTS"]
