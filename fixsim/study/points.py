"""Format assignments ("points") applied to a base spec, and the grids that enumerate them.

A *tensor* of a spec is one place a format is chosen: ``"input"``, and for every
conv/dense layer ``"<layer>.weight"``, ``"<layer>.bias"``, ``"<layer>.accum"`` and
``"<layer>.result"``; a standalone layer with a result format of its own adds
``"<layer>.result"``.  A :class:`Point` holds the format of every tensor; it is applied by
editing the canonical JSON of the base spec and validating it again
(:func:`fixsim.network.load_spec`), so a point can never be a spec fixsim refuses.

>>> from fixsim.network import load_spec
>>> spec = load_spec("specklenn-snl")
>>> tensor_names(spec)[:5]
['input', 'conv1.weight', 'conv1.bias', 'conv1.accum', 'conv1.result']
>>> p = grid_points(spec, widths=[8])[0]
>>> p.format_of("conv1.weight"), p.format_of("conv1.accum")
('ap_fixed<8,4,AP_RND,AP_SAT>', 'ap_fixed<36,14>')
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from itertools import product

from ..errors import InputError, closest
from ..fixed import FixedType
from ..fixed.format import MAX_WIDTH
from ..network import load_spec
from ..network.spec_types import MacLayer, ModelSpec, ResultLayer

#: Tensors a uniform width applies to (accumulators have their own grid axis).
UNIFORM_ROLES = ("input", "weight", "bias", "result")


@dataclass(frozen=True)
class Point:
    """One format assignment: ``formats`` is ``((tensor, format text), ...)`` in dataflow
    order, every tensor of the base spec; ``label`` names the grid coordinates
    (``(("width", 8), ("modes", "RND,SAT"), ...)``) for tables and plots."""

    formats: tuple
    label: tuple = ()

    @property
    def key(self) -> str:
        """Identifier of the assignment (sha256 of the sorted formats, 16 hex digits)."""
        text = json.dumps(sorted(list(f) for f in self.formats), separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def format_of(self, tensor: str) -> str:
        for name, fmt in self.formats:
            if name == tensor:
                return fmt
        raise InputError(f"point has no tensor {tensor!r}{closest(tensor, dict(self.formats))}")

    def with_format(self, tensor: str, fmt: "str | FixedType", label: tuple = ()) -> "Point":
        """A copy with one tensor's format replaced."""
        self.format_of(tensor)
        new = tuple((n, str(fmt) if n == tensor else f) for n, f in self.formats)
        return Point(new, label or self.label)

    def labels(self) -> dict:
        return dict(self.label)


def _tensor_slots(spec: ModelSpec) -> list[tuple[str, str | None, str]]:
    """(tensor, layer name or None for the input, role) in dataflow order."""
    out = [("input", None, "input")]
    for layer in spec.layers:
        if isinstance(layer, MacLayer):
            roles = ["weight"] + (["bias"] if layer.bias else []) + ["accum", "result"]
            out += [(f"{layer.name}.{r}", layer.name, r) for r in roles]
        elif isinstance(layer, ResultLayer) and layer.converts:
            out.append((f"{layer.name}.result", layer.name, "result"))
    return out


def tensor_names(spec) -> list[str]:
    """Every tensor of ``spec`` whose format a point sets, in dataflow order."""
    return [t for t, _, _ in _tensor_slots(load_spec(spec))]


def base_assignment(spec) -> dict[str, FixedType]:
    """tensor -> format of the base spec itself."""
    spec = load_spec(spec)
    out = {}
    for tensor, lname, role in _tensor_slots(spec):
        if lname is None:
            out[tensor] = spec.input_format
            continue
        layer = spec.layer(lname)
        if isinstance(layer, MacLayer):
            out[tensor] = getattr(layer.formats, role)
        else:
            out[tensor] = layer.result
    return out


def base_point(spec) -> Point:
    """The base spec's own formats as a point (label ``("width", "base")``)."""
    return Point(tuple((t, str(f)) for t, f in base_assignment(spec).items()),
                 (("width", "base"),))


def apply(spec, point: Point, name: str | None = None, description: str | None = None) -> ModelSpec:
    """The base spec with the formats of ``point`` (validated like any spec).

    Raises
    ------
    InputError, FormatError
        A tensor the spec does not have, or formats the datapath cannot hold exactly.
    """
    spec = load_spec(spec)
    d = spec.to_dict()
    if name is not None:
        d["name"] = name
    if description is not None:
        d["description"] = description
    layers = {l["name"]: l for l in d["layers"]}
    known = dict.fromkeys(tensor_names(spec))
    for tensor, fmt in point.formats:
        if tensor not in known:
            raise InputError(f"point sets tensor {tensor!r}, which spec {spec.name!r} does not "
                             f"have{closest(tensor, known)}")
        if tensor == "input":
            d["input"]["format"] = fmt
            continue
        lname, role = tensor.rsplit(".", 1)
        layers[lname].setdefault("formats", {})[role] = fmt
    return load_spec(d)


# ------------------------------------------------------------------ parsing
def parse_values(text: str, what: str, lo: int = 1, hi: int = MAX_WIDTH) -> list[int]:
    """``"4:18"`` (inclusive), ``"4:18:2"`` or ``"8,10,12"`` as sorted distinct integers.

    >>> parse_values("4:8:2", "--widths")
    [4, 6, 8]

    Raises
    ------
    InputError
        Not integers, an empty range, values outside [lo, hi].
    """
    text = str(text).strip()
    try:
        if ":" in text:
            parts = [int(p) for p in text.split(":")]
            if len(parts) not in (2, 3) or (len(parts) == 3 and parts[2] < 1):
                raise ValueError
            values = list(range(parts[0], parts[1] + 1, parts[2] if len(parts) == 3 else 1))
        else:
            values = [int(p) for p in text.split(",") if p.strip()]
    except ValueError:
        raise InputError(f"{what} {text!r}: expected A:B, A:B:STEP or a comma list of "
                         "integers") from None
    if not values:
        raise InputError(f"{what} {text!r} is empty: nothing to sweep")
    bad = [v for v in values if not lo <= v <= hi]
    if bad:
        raise InputError(f"{what} {text!r}: {bad[0]} is outside {lo}..{hi}"
                         + (" (formats are at most 64 bits wide)" if bad[0] > hi == MAX_WIDTH
                            else ""))
    return sorted(set(values))


def parse_modes(text: str) -> tuple[str, str] | None:
    """``"RND,SAT"`` -> ("AP_RND", "AP_SAT"); ``"base"`` -> None (each tensor keeps its own).

    Raises
    ------
    FormatError
        Unknown mode names (with the closest valid one).
    """
    if text.strip().lower() == "base":
        return None
    parts = [p.strip() for p in text.split(",")]
    if len(parts) != 2:
        raise InputError(f"--modes {text!r}: expected QUANTIZATION,OVERFLOW (e.g. RND,SAT) or "
                         "'base'")
    t = FixedType(8, 4, True, parts[0], parts[1])
    return t.quantization.name, t.overflow.name


def _check_tensor(spec: ModelSpec, tensor: str, option: str) -> None:
    names = tensor_names(spec)
    if tensor in names:
        return
    lname = tensor.rsplit(".", 1)[0]
    if tensor != "input" and lname not in {l.name for l in spec.layers}:
        raise InputError(f"{option} {tensor!r}: spec {spec.name!r} has no layer {lname!r}"
                         f"{closest(lname, [l.name for l in spec.layers])}")
    raise InputError(f"{option} {tensor!r}: not a tensor of spec {spec.name!r}"
                     f"{closest(tensor, names)}; tensors: {', '.join(names)}")


def parse_overrides(spec, items, option: str = "--layer") -> dict[str, str]:
    """``["conv1.accum=ap_fixed<24,12>", "fc2.weight=8", "fc2.bias=10,5"]`` -> tensor -> format.

    A bare width keeps the base format's integer bits and modes; ``W,I`` sets both.

    Raises
    ------
    InputError
        Unknown layers or tensors (closest name suggested), malformed items, bad formats.
    """
    spec = load_spec(spec)
    base = base_assignment(spec)
    out: dict[str, str] = {}
    for item in items or ():
        tensor, sep, value = item.partition("=")
        tensor, value = tensor.strip(), value.strip()
        if not sep or not value:
            raise InputError(f"{option} {item!r}: expected TENSOR=FORMAT, e.g. "
                             "conv1.accum=ap_fixed<24,12> or fc1.weight=8")
        _check_tensor(spec, tensor, option)
        if value.lower().startswith(("ap_", "fixed", "ufixed")):
            fmt = FixedType.parse(value)
        else:
            try:
                nums = [int(v) for v in value.split(",")]
            except ValueError:
                nums = []
            if len(nums) not in (1, 2):
                raise InputError(f"{option} {item!r}: expected a format, W or W,I")
            width = nums[0]
            if not 1 <= width <= MAX_WIDTH:
                raise InputError(f"{option} {item!r}: width {width} is outside 1..{MAX_WIDTH}")
            fmt = base[tensor].replace(width=width, int_bits=nums[1] if len(nums) == 2
                                       else base[tensor].int_bits)
        out[tensor] = str(fmt)
    return out


def int_bits_for(max_abs: float, signed: bool = True) -> int:
    """Fewest integer bits whose range holds ``max_abs`` (``|v| < 2**(I-1)`` signed).

    >>> int_bits_for(0.32), int_bits_for(5.9), int_bits_for(8.0), int_bits_for(3.0, False)
    (0, 4, 5, 2)
    """
    import math

    if not max_abs > 0:
        raise InputError(f"no integer bits fit a range of {max_abs!r}")
    return math.floor(math.log2(max_abs)) + (2 if signed else 1)


def parse_int_bits(spec, items, ranges=None) -> dict[str, int]:
    """``--int-bits`` items: ``"6"`` (every tensor of the uniform width), ``"fc1.result=5"``,
    ``"auto"`` or ``"fc1.weight=auto"`` (the fewest bits holding the tensor's float range:
    ``ranges()`` returns tensor -> largest magnitude; tensors that are all zero keep theirs).
    """
    spec = load_spec(spec)
    names = tensor_names(spec)
    base = base_assignment(spec)
    out: dict[str, int] = {}
    cache: dict = {}

    def auto(tensor: str) -> int | None:
        if "r" not in cache:
            if ranges is None:
                raise InputError("--int-bits auto needs the value ranges of the data")
            cache["r"] = ranges()
        m = cache["r"].get(tensor, 0.0)
        return int_bits_for(m, base[tensor].signed) if m > 0 else None

    for item in items or ():
        tensor, sep, value = item.rpartition("=")
        targets = [tensor.strip()] if sep else [t for t in names if not t.endswith(".accum")]
        if sep:
            _check_tensor(spec, targets[0], "--int-bits")
        for t in targets:
            if value.strip().lower() == "auto":
                bits = auto(t)
                if bits is not None:
                    out[t] = bits
                continue
            try:
                out[t] = int(value)
            except ValueError:
                raise InputError(f"--int-bits {item!r}: expected I, auto, TENSOR=I or "
                                 "TENSOR=auto") from None
    return out


# ------------------------------------------------------------------ grids
def _role(tensor: str) -> str:
    return "input" if tensor == "input" else tensor.rsplit(".", 1)[1]


def grid_points(spec, *, widths=None, modes=(None,), accum_widths=(None,),
                int_bits: dict | None = None, overrides: dict | None = None) -> list[Point]:
    """Every combination of uniform width x modes x accumulator width, overrides applied last.

    Parameters
    ----------
    widths : list of int or None
        Uniform width of the input, weights, biases and results; None keeps the base widths.
    modes : list of (quantization, overflow) or None
        Modes of those tensors; None keeps each tensor's own.
    accum_widths : list of int or None
        Width of every accumulator (integer bits and modes of the base); None keeps them.
    int_bits : dict tensor -> int
        Integer bits replacing the base's under a uniform width.
    overrides : dict tensor -> format text
        Per-tensor formats that win over the grid (``--layer``).

    Returns
    -------
    list of Point, in grid order (width, modes, accumulator width).

    Raises
    ------
    InputError
        An empty axis.
    """
    spec = load_spec(spec)
    base = base_assignment(spec)
    int_bits, overrides = int_bits or {}, overrides or {}
    axes = {"widths": list(widths) if widths is not None else [None],
            "modes": list(modes), "accum widths": list(accum_widths)}
    for what, axis in axes.items():
        if not axis:
            raise InputError(f"the grid has no {what}: nothing to sweep")
    points = []
    for w, m, a in product(axes["widths"], axes["modes"], axes["accum widths"]):
        formats = []
        for tensor, fmt in base.items():
            role = _role(tensor)
            if role in UNIFORM_ROLES:
                changes = {}
                if w is not None:
                    changes.update(width=w, int_bits=int_bits.get(tensor, fmt.int_bits))
                if m is not None:
                    changes.update(quantization=m[0], overflow=m[1])
                fmt = fmt.replace(**changes) if changes else fmt
            elif role == "accum" and a is not None:
                fmt = fmt.replace(width=a)
            formats.append((tensor, overrides.get(tensor, str(fmt))))
        label = (("width", "base" if w is None else w),
                 ("modes", "base" if m is None else f"{m[0][3:]},{m[1][3:]}"),
                 ("accum", "base" if a is None else a))
        points.append(Point(tuple(formats), label))
    return points


__all__ = ["Point", "tensor_names", "base_assignment", "base_point", "apply", "parse_values",
           "parse_modes", "parse_overrides", "parse_int_bits", "int_bits_for", "grid_points",
           "UNIFORM_ROLES"]
