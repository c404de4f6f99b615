"""Analytical latency model of a streaming (dataflow) CNN, beat by beat.

Each layer is a dataflow process reading a stream of *beats* (one pixel with all its
channels, raster order, channels innermost, as in hls4ml ``io_stream`` and SNL) and
writing one.  A layer occupies ``cost`` cycles per input beat and starts a beat when it
has arrived and the previous beat is done::

    start[j] = max(arrival[j], start[j-1] + cost[j-1])
    output ready at start[j] + cost[j] + depth   (for the beats that complete an output)

with ``cost = ii * reuse`` for a beat that completes a conv output (``reuse =
ceil(MACs per output / parallelism)``) and ``cost = ii`` otherwise.  Dense layers buffer
their input and then compute for ``ii * ceil(n_in * units / parallelism)`` cycles.  FIFOs
are assumed deep enough never to stall a producer.  The whole-network latency is the time
the last output beat is ready, counted from the first input beat (input at ``input_ii``
cycles per pixel); the interval is the busiest layer's occupancy.  See docs/hls.md.

Layers are plain dicts so a datapath spec can be fed in directly::

    {"kind": "conv2d", "filters": 7, "kernel": 5, "stride": 1, "ii": 1, "parallelism": 175}
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from typing import Callable, Optional, Sequence

from .._validate import check_int, check_number
from ..errors import InputError, closest

#: SpeckleNN inference model (min-speckle LeNetSmallInference, 64,660 parameters).
#: Parallelism = multipliers per layer: the convs fully parallel per output pixel, the
#: dense layers at reuse 20; 3,890 multipliers, near the published 71% of 5,520 DSPs.
SPECKLENN_LAYERS = (
    {"name": "conv1", "kind": "conv2d", "in_shape": [65, 65, 1], "filters": 7, "kernel": 5,
     "stride": 1, "ii": 1, "parallelism": 175},
    {"name": "relu1", "kind": "relu"},
    {"name": "pool1", "kind": "maxpool2d", "pool": 2, "stride": 2, "ceil_mode": True},
    {"name": "conv2", "kind": "conv2d", "filters": 3, "kernel": 5, "stride": 1, "ii": 1,
     "parallelism": 525},
    {"name": "relu2", "kind": "relu"},
    {"name": "pool2", "kind": "maxpool2d", "pool": 2, "stride": 2, "ceil_mode": True},
    {"name": "flatten", "kind": "flatten"},
    {"name": "dense1", "kind": "dense", "units": 100, "ii": 1, "parallelism": 2940},
    {"name": "relu3", "kind": "relu"},
    {"name": "dense2", "kind": "dense", "units": 50, "ii": 1, "parallelism": 250},
)

_COMMON = {"kind", "name", "in_shape", "ii", "depth"}


@dataclass(frozen=True)
class _Kind:
    """One layer type of the model: its own keys and its beat schedule.

    ``schedule(layer, shape, arrival)`` returns ``(out_shape, ready, info)`` (see
    :func:`_conv2d`); ``info`` holds macs, mult, reuse, ii, depth and, for a layer that
    only renames beats, busy (else the beat-level schedule is run on its costs).
    """

    keys: frozenset
    schedule: Callable


@dataclass(frozen=True)
class LayerEstimate:
    """The model's numbers for one layer (cycles counted from the first input beat)."""

    name: str
    kind: str
    in_shape: tuple
    out_shape: tuple
    beats_in: int
    beats_out: int
    macs: int
    multipliers: int
    reuse: int
    ii: int
    depth: int
    busy_cycles: int
    first_out: int
    last_out: int


@dataclass(frozen=True)
class Prediction:
    """Whole-network prediction: latency, interval, and the per-layer estimates."""

    layers: tuple
    latency_cycles: int
    interval_cycles: int
    sequential_cycles: int
    multipliers: int
    macs: int
    clock_mhz: float
    input_ii: int
    dataflow: bool

    @property
    def latency_us(self) -> float:
        return self.latency_cycles / self.clock_mhz

    def to_dict(self) -> dict:
        """A JSON-ready dict of every field plus the latency in microseconds."""
        out = asdict(self)
        out["latency_us"] = self.latency_us
        return out

    def to_json(self) -> str:
        """JSON text of :meth:`to_dict`."""
        return json.dumps(self.to_dict(), indent=2)


def _int(layer: dict, key: str, default=None, minimum: int = 1) -> int:
    value = layer.get(key, default)
    if value is None:
        raise InputError(f"layer {layer.get('name', layer['kind'])!r}: missing {key!r}")
    return check_int(f"layer {layer.get('name', layer['kind'])!r}: {key}", value, minimum=minimum)


def _pair(layer: dict, key: str, default=None) -> tuple:
    value = layer.get(key, default)
    if isinstance(value, (list, tuple)) and len(value) == 2:
        return (_int({**layer, key: value[0]}, key), _int({**layer, key: value[1]}, key))
    v = _int({**layer, key: value}, key)
    return (v, v)


def _validate(layer) -> dict:
    if not isinstance(layer, dict):
        raise InputError(f"each layer must be a dict, got {type(layer).__name__}")
    kind = layer.get("kind")
    if kind not in KINDS:
        raise InputError(f"unknown layer kind {kind!r}{closest(str(kind), KINDS)}; "
                         f"expected one of {sorted(KINDS)}")
    for key in layer:
        if key not in KINDS[kind].keys | _COMMON:
            raise InputError(f"layer {layer.get('name', kind)!r}: unknown key {key!r}"
                             f"{closest(key, KINDS[kind].keys | _COMMON)} for a {kind} layer")
    return layer


def _reuse(layer: dict, macs: int) -> tuple:
    """(multipliers, reuse) from either ``parallelism`` or ``reuse`` (default fully parallel)."""
    if "parallelism" in layer and "reuse" in layer:
        raise InputError(f"layer {layer.get('name', layer['kind'])!r}: give parallelism or "
                         f"reuse, not both")
    if "reuse" in layer:
        reuse = _int(layer, "reuse")
        return math.ceil(macs / reuse), reuse
    par = _int(layer, "parallelism", macs)
    return par, math.ceil(macs / par)


def _pool_out(size: int, pool: int, stride: int, ceil_mode: bool) -> int:
    if size < pool:
        raise InputError(f"pool window {pool} larger than input size {size}")
    if ceil_mode:
        out = -(-(size - pool) // stride) + 1
        if (out - 1) * stride >= size:  # PyTorch: the last window must start inside
            out -= 1
        return out
    return (size - pool) // stride + 1


def _run(arrival: list, costs: list, emits: list, depth: int) -> tuple:
    """Beat-level schedule; returns (ready times of emitted outputs, busy cycles)."""
    ready, free = [], 0
    for t_in, cost, emit in zip(arrival, costs, emits, strict=True):
        start = max(t_in, free)
        free = start + cost
        for _ in range(emit):
            ready.append(free + depth)
    return ready, sum(costs)


def _log2_depth(macs: int) -> int:
    # multiply (1) + adder tree (ceil log2 of the products) + bias/output register (2)
    return 3 + max(0, math.ceil(math.log2(max(macs, 1))))


def _spatial(layer: dict, shape: tuple) -> tuple:
    if len(shape) != 3:
        raise InputError(f"layer {layer.get('name', layer['kind'])!r}: needs an (H, W, C) input, "
                         f"got shape {list(shape)}")
    return shape


def _conv2d(layer: dict, shape: tuple, arrival: list, ii: int) -> tuple:
    """(out_shape, emits, costs, depth, macs, mult, reuse) of a conv2d: a beat that
    completes an output window costs ``ii * reuse``."""
    h, w, c = _spatial(layer, shape)
    if layer.get("padding", "valid") != "valid":
        raise InputError(f"layer {layer.get('name', layer['kind'])!r}: only padding 'valid' is "
                         f"modelled, got {layer['padding']!r}")
    kh, kw = _pair(layer, "kernel")
    sh, sw = _pair(layer, "stride", 1)
    if kh > h or kw > w:
        raise InputError(f"layer {layer.get('name', layer['kind'])!r}: kernel {kh}x{kw} larger "
                         f"than input {h}x{w}")
    filters = _int(layer, "filters")
    oh, ow = (h - kh) // sh + 1, (w - kw) // sw + 1
    macs_out = kh * kw * c * filters
    mult, reuse = _reuse(layer, macs_out)
    emits = [int(r >= kh - 1 and (r - kh + 1) % sh == 0 and (r - kh + 1) // sh < oh
                 and q >= kw - 1 and (q - kw + 1) % sw == 0 and (q - kw + 1) // sw < ow)
             for r in range(h) for q in range(w)]
    costs = [ii * (reuse if e else 1) for e in emits]
    depth = layer.get("depth", _log2_depth(kh * kw * c))
    return (oh, ow, filters), emits, costs, depth, macs_out * oh * ow, mult, reuse


def _maxpool2d(layer: dict, shape: tuple, arrival: list, ii: int) -> tuple:
    """A beat that completes a pool window emits it; every beat costs ``ii``."""
    h, w, c = _spatial(layer, shape)
    ph, pw = _pair(layer, "pool")
    sh, sw = _pair(layer, "stride", layer.get("pool"))
    ceil_mode = bool(layer.get("ceil_mode", False))
    oh, ow = _pool_out(h, ph, sh, ceil_mode), _pool_out(w, pw, sw, ceil_mode)
    last_r = {min(y * sh + ph - 1, h - 1) for y in range(oh)}
    last_q = {min(x * sw + pw - 1, w - 1) for x in range(ow)}
    emits = [int(r in last_r and q in last_q) for r in range(h) for q in range(w)]
    return (oh, ow, c), emits, [ii] * len(emits), layer.get("depth", 1), 0, 0, 1


def _elementwise(layer: dict, shape: tuple, arrival: list, ii: int) -> tuple:
    """An activation: one beat in, one beat out, ``ii`` each."""
    return shape, [1] * len(arrival), [ii] * len(arrival), layer.get("depth", 1), 0, 0, 1


def _sequence(layer: dict, shape: tuple) -> tuple:
    if len(shape) != 2:
        raise InputError(f"layer {layer.get('name', layer['kind'])!r}: needs an (L, C) input, "
                         f"got shape {list(shape)}")
    return shape


def _conv1d(layer: dict, shape: tuple, arrival: list, ii: int) -> tuple:
    """conv2d's schedule on the (1, L, C) map with a (1, kernel) window."""
    length, c = _sequence(layer, shape)
    k, s = _int(layer, "kernel"), _int(layer, "stride", 1)
    if k > length:
        raise InputError(f"layer {layer.get('name', layer['kind'])!r}: kernel {k} larger than "
                         f"input length {length}")
    out, *rest = _conv2d({**layer, "kernel": [1, k], "stride": [1, s]}, (1, length, c), arrival, ii)
    return (out[1], out[2]), *rest


def _maxpool1d(layer: dict, shape: tuple, arrival: list, ii: int) -> tuple:
    """maxpool2d's schedule on the (1, L, C) map with a (1, pool) window."""
    length, c = _sequence(layer, shape)
    pool = _int(layer, "pool")
    stride = _int(layer, "stride", pool)
    out, *rest = _maxpool2d({**layer, "pool": [1, pool], "stride": [1, stride]}, (1, length, c),
                            arrival, ii)
    return (out[1], out[2]), *rest


def _pads(layer: dict, rank: int) -> tuple:
    """``padding`` as ((before, after),) per padded axis (p, [p_axis...], or pairs)."""
    value = layer.get("padding", 0)
    if not isinstance(value, (list, tuple)):
        value = [value] * rank
    if rank == 1 and len(value) == 2 and not isinstance(value[0], (list, tuple)):
        value = [value]
    if len(value) != rank:
        raise InputError(f"layer {layer.get('name', layer['kind'])!r}: padding {value!r} does "
                         f"not give {rank} axes")
    out = []
    for v in value:
        pair = v if isinstance(v, (list, tuple)) else [v, v]
        out.append(tuple(_int({**layer, "padding": p}, "padding", minimum=0) for p in pair))
    return tuple(out)


def _zeropad(layer: dict, shape: tuple, arrival: list, ii: int) -> tuple:
    """Zero padding: each input beat is passed on; the pad beats before/after a row (and
    the pad rows) are emitted with the first/last beat of the row (one ``ii`` per beat)."""
    if len(shape) == 2:
        (left, right), = _pads(layer, 1)
        (top, bottom), h, (w, c) = (0, 0), 1, shape
    else:
        (top, bottom), (left, right) = _pads(layer, 2)
        h, w, c = _spatial(layer, shape)
    ow = w + left + right
    emits = []
    for r in range(h):
        for q in range(w):
            e = 1 + (left if q == 0 else 0) + (right if q == w - 1 else 0)
            e += top * ow if (r, q) == (0, 0) else 0
            e += bottom * ow if (r, q) == (h - 1, w - 1) else 0
            emits.append(e)
    out = (ow, c) if len(shape) == 2 else (h + top + bottom, ow, c)
    return out, emits, [ii * e for e in emits], layer.get("depth", 1), 0, 0, 1


def _avgpool2d(layer: dict, shape: tuple, arrival: list, ii: int) -> tuple:
    """A beat that completes pool windows (their last element inside the input, padding
    taps add nothing) emits them; every beat costs ``ii``; depth: the adder tree of the
    window plus the scaling (a constant divider or multiplier) and the output register."""
    h, w, c = _spatial(layer, shape)
    kh, kw = _pair(layer, "pool")
    sh, sw = _pair(layer, "stride", layer.get("pool"))
    pad = layer.get("padding", 0)
    ph, pw = pad if isinstance(pad, (list, tuple)) and len(pad) == 2 else (pad, pad)
    ph, pw = (_int({**layer, "padding": p}, "padding", minimum=0) for p in (ph, pw))
    if ph >= kh or pw >= kw or h + 2 * ph < kh or w + 2 * pw < kw:
        raise InputError(f"layer {layer.get('name', layer['kind'])!r}: pool {kh}x{kw} with "
                         f"padding {ph}x{pw} does not fit the input {h}x{w}")
    oh, ow = (h + 2 * ph - kh) // sh + 1, (w + 2 * pw - kw) // sw + 1
    rows = [min(y * sh - ph + kh - 1, h - 1) for y in range(oh)]
    cols = [min(x * sw - pw + kw - 1, w - 1) for x in range(ow)]
    emits = [rows.count(r) * cols.count(q) for r in range(h) for q in range(w)]
    return (oh, ow, c), emits, [ii] * len(emits), layer.get("depth", _log2_depth(kh * kw)), 0, 0, 1


def _avgpool1d(layer: dict, shape: tuple, arrival: list, ii: int) -> tuple:
    """avgpool2d's schedule on the (1, L, C) map with a (1, pool) window."""
    length, c = _sequence(layer, shape)
    pool = _int(layer, "pool")
    stride = _int(layer, "stride", pool)
    pad = _int(layer, "padding", 0, minimum=0)
    out, *rest = _avgpool2d({**layer, "pool": [1, pool], "stride": [1, stride],
                             "padding": [0, pad]}, (1, length, c), arrival, ii)
    return (out[1], out[2]), *rest


def _global_pool(layer: dict, shape: tuple, arrival: list, ii: int) -> tuple:
    """One accumulator (or running max) per channel, updated by every beat at ``ii``; the
    last beat emits the (C,) vector after the scaling (depth 3) or a register (max: 1)."""
    if len(shape) < 2:
        raise InputError(f"layer {layer.get('name', layer['kind'])!r}: needs an (H, W, C) or "
                         f"(L, C) input, got shape {list(shape)}")
    emits = [0] * (len(arrival) - 1) + [1]
    depth = layer.get("depth", 3 if layer["kind"].startswith("global_avg") else 1)
    return (shape[-1],), emits, [ii] * len(arrival), depth, 0, 0, 1


def _batchnorm(layer: dict, shape: tuple, arrival: list, ii: int) -> tuple:
    """Elementwise: one beat in, one out; depth 3 (multiply, add, output register)."""
    return _elementwise({**layer, "depth": layer.get("depth", 3)}, shape, arrival, ii)


def _dense(layer: dict, shape: tuple, arrival: list, ii: int) -> tuple:
    """Buffer every input beat, then compute for ``ii * reuse`` cycles; on an (L, C) input
    the dense acts on each beat (a kernel-1 conv1d of ``units`` filters)."""
    if len(shape) == 2:
        return _conv1d({**layer, "filters": _int(layer, "units"), "kernel": 1, "stride": 1},
                       shape, arrival, ii)
    n_in, units = math.prod(shape), _int(layer, "units")
    mult, reuse = _reuse(layer, n_in * units)
    emits = [0] * (len(arrival) - 1) + [1]
    costs = [ii] * (len(arrival) - 1) + [ii + ii * reuse]
    return (units,), emits, costs, layer.get("depth", _log2_depth(n_in)), n_in * units, mult, reuse


def _lut(layer: dict, shape: tuple, arrival: list, ii: int) -> tuple:
    """sigmoid/tanh: every value of a beat looked up in parallel (index arithmetic, table
    read): one beat in, one beat out, ``ii`` each, depth 2."""
    return shape, [1] * len(arrival), [ii] * len(arrival), layer.get("depth", 2), 0, 0, 1


def _softmax(layer: dict, shape: tuple, arrival: list, ii: int) -> tuple:
    """softmax over the C channels of each beat (a flat input is one beat of C values):
    exp-table reads (1), the adder tree (ceil log2 C), the inverse-table read (1), the C
    products (1, C multipliers) and the output register (1): depth 4 + ceil(log2 C),
    ``ii`` per beat."""
    c = shape[-1]
    depth = 4 + max(0, math.ceil(math.log2(c))) if c > 1 else 4
    return (shape, [1] * len(arrival), [ii] * len(arrival), layer.get("depth", depth),
            c * len(arrival), c, 1)


#: Layer kind -> its own keys and schedule (the same names as the spec's layer types).
KINDS: dict[str, _Kind] = {
    "conv2d": _Kind(frozenset({"filters", "kernel", "stride", "parallelism", "reuse", "padding"}),
                    _conv2d),
    "maxpool2d": _Kind(frozenset({"pool", "stride", "ceil_mode"}), _maxpool2d),
    "dense": _Kind(frozenset({"units", "parallelism", "reuse"}), _dense),
    "flatten": _Kind(frozenset(), None),  # renames beats: no cycles, no depth
    "relu": _Kind(frozenset(), _elementwise),
    "linear": _Kind(frozenset(), _elementwise),
    "leaky_relu": _Kind(frozenset(), _elementwise),
    "conv1d": _Kind(frozenset({"filters", "kernel", "stride", "parallelism", "reuse", "padding"}),
                    _conv1d),
    "maxpool1d": _Kind(frozenset({"pool", "stride", "ceil_mode"}), _maxpool1d),
    "zeropad1d": _Kind(frozenset({"padding"}), _zeropad),
    "zeropad2d": _Kind(frozenset({"padding"}), _zeropad),
    "avgpool2d": _Kind(frozenset({"pool", "stride", "padding"}), _avgpool2d),
    "global_avgpool2d": _Kind(frozenset(), _global_pool),
    "global_maxpool2d": _Kind(frozenset(), _global_pool),
    "batchnorm": _Kind(frozenset(), _batchnorm),
    "avgpool1d": _Kind(frozenset({"pool", "stride", "padding"}), _avgpool1d),
    "global_avgpool1d": _Kind(frozenset(), _global_pool),
    "global_maxpool1d": _Kind(frozenset(), _global_pool),
    "sigmoid": _Kind(frozenset(), _lut),
    "tanh": _Kind(frozenset(), _lut),
    "softmax": _Kind(frozenset(), _softmax),
}


def _layer(layer: dict, shape: tuple, arrival: list) -> tuple:
    kind, ii = layer["kind"], _int(layer, "ii", 1)
    schedule = KINDS[kind].schedule
    if schedule is None:  # flatten
        n = math.prod(shape)
        return (n,), list(arrival), dict(macs=0, mult=0, reuse=1, ii=0, depth=0, busy=0)
    out_shape, emits, costs, depth, macs, mult, reuse = schedule(layer, shape, arrival, ii)
    depth = _int({"name": layer.get("name", kind), "kind": kind, "depth": depth}, "depth",
                 minimum=0)
    ready, busy = _run(arrival, costs, emits, depth)
    return out_shape, ready, dict(macs=macs, mult=mult, reuse=reuse, ii=ii, depth=depth,
                                  busy=busy)


def predict(layers: Sequence[dict] = SPECKLENN_LAYERS, *, input_shape: Optional[Sequence[int]] = None,
            clock_mhz: float = 200.0, input_ii: int = 1, dataflow: bool = True) -> Prediction:
    """Predict the latency of a streaming CNN from plain layer descriptions.

    Parameters
    ----------
    layers : sequence of dict
        ``kind`` in :data:`KINDS` (the spec's layer types); see the module docstring.
        The first layer (or ``input_shape``) gives ``in_shape`` as ``[H, W, C]``, ``[L, C]``
        (a 1-D map) or ``[N]``.
    input_shape : sequence of int, optional
        Overrides the first layer's ``in_shape``.
    clock_mhz : float
        Clock used to convert cycles to time.
    input_ii : int
        Cycles between input pixels arriving.
    dataflow : bool
        False runs the layers one after the other (no overlap), for comparison.

    Returns
    -------
    Prediction

    Raises
    ------
    InputError
        For unknown kinds or keys, missing or non-positive sizes, or impossible shapes.
    """
    if not layers:
        raise InputError("no layers to model")
    layers = [_validate(layer) for layer in layers]
    shape = input_shape if input_shape is not None else layers[0].get("in_shape")
    if shape is None:
        raise InputError("the first layer needs 'in_shape' ([H, W, C] or [N])")
    shape = tuple(_int({"kind": "input", "name": "input", "s": s}, "s") for s in shape)
    input_ii = check_int("input_ii", input_ii, minimum=1)
    check_number("clock (MHz)", clock_mhz, minimum=0, exclusive_min=True)
    beats = math.prod(shape[:-1]) if len(shape) >= 2 else 1  # (H, W, C) or (L, C) maps
    arrival = [j * input_ii for j in range(beats)]
    estimates, sequential = [], beats * input_ii
    for layer in layers:
        if "in_shape" in layer and layer is not layers[0] and \
                tuple(layer["in_shape"]) != shape:
            raise InputError(f"layer {layer.get('name', layer['kind'])!r}: in_shape "
                             f"{list(layer['in_shape'])} does not match the previous output "
                             f"{list(shape)}")
        if not dataflow and arrival:
            arrival = [max(arrival)] * len(arrival)
        out_shape, ready, info = _layer(layer, shape, arrival)
        estimates.append(LayerEstimate(
            name=str(layer.get("name", layer["kind"])), kind=layer["kind"], in_shape=shape,
            out_shape=out_shape, beats_in=len(arrival), beats_out=len(ready),
            macs=info["macs"], multipliers=info["mult"], reuse=info["reuse"], ii=info["ii"],
            depth=info["depth"], busy_cycles=info["busy"],
            first_out=min(ready), last_out=max(ready)))
        sequential += info["busy"] + info["depth"]
        shape, arrival = out_shape, ready
    return Prediction(
        layers=tuple(estimates), latency_cycles=estimates[-1].last_out,
        interval_cycles=max([beats * input_ii] + [e.busy_cycles for e in estimates]),
        sequential_cycles=sequential, multipliers=sum(e.multipliers for e in estimates),
        macs=sum(e.macs for e in estimates), clock_mhz=float(clock_mhz), input_ii=input_ii,
        dataflow=dataflow)


def load_layers(path) -> list:
    """Read a JSON list of layer dicts (or ``{"layers": [...]}``) from a file.

    Raises
    ------
    InputError
        If the file is unreadable or not such JSON.
    """
    try:
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read layer description {str(path)!r}: {exc}") from None
    except json.JSONDecodeError as exc:
        raise InputError(f"{path}: not valid JSON ({exc.msg} at line {exc.lineno})") from None
    if isinstance(data, dict):
        data = data.get("layers")
    if not isinstance(data, list):
        raise InputError(f"{path}: expected a JSON list of layer objects or "
                         f"{{\"layers\": [...]}}")
    return data
