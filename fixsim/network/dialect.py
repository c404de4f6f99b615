"""Spec dialects: presets that make a spec reproduce another tool's datapath exactly.

``"dialect": "hls4ml"`` (or the object ``{"name": "hls4ml", "io_type": "io_parallel",
"strategy": "Latency", "reuse_factor": 1}``, the canonical form) says that the spec
describes an hls4ml 1.3.0 design (Vivado/Vitis backend), and sets what hls4ml does
(docs/datapath.md, "The hls4ml dialect"; each item read from the installed templates):

- ``product`` "to_accum": ``mult = product(x, w)`` is stored in ``accum_t`` before
  ``acc += mult`` (``nnet_dense_latency.h``; ``nnet_dense_resource.h`` casts it);
- ``activation_on`` "result": an activation is a layer of its own after ``res_T(acc)``;
- conv2d ``sum_order`` "kh_kw_ci": the im2col buffer / line-buffer window is (kh, kw, ci)
  with ci innermost;
- a conv2d or dense layer with ``"strategy": "Resource"`` and ``"reuse_factor": R > 1``:
  ``sum_order`` "resource" with that R (``k = ir + R*j``, ir outer);
- flatten order "hwc" by default (channels last);
- standalone activation, pooling and flatten layers take their ``res_T`` as
  ``"formats": {"result": ...}`` (any spec may).

A conv2d/dense layer of a dialect spec may give ``"strategy"`` and ``"reuse_factor"``
(defaults: the dialect's).  Options given explicitly must agree with these; a Resource
reuse factor hls4ml would replace (it keeps only the values of its
``_validate_reuse_factor``) or that its conv1d/conv2d resource kernels assert against
(io_parallel, R > C*KH*KW) is refused, naming the value hls4ml would use.

>>> parse_dialect("hls4ml", "spec")
Dialect(name='hls4ml', io_type='io_parallel', strategy='Latency', reuse_factor=1)
>>> valid_reuse_factors(16, 10)[:6]
[1, 2, 4, 8, 16, 32]
"""

from __future__ import annotations

import bisect

from ..errors import InputError
from . import schema as S
from .spec_types import Dialect, Options

NAMES = ("hls4ml",)
IO_TYPES = ("io_parallel", "io_stream")
STRATEGIES = ("Latency", "Resource")
#: The datapath options of an hls4ml layer without the Resource order.
HLS4ML_OPTIONS = Options(product="to_accum", sum_order="kh_kw_ci", activation_on="result")
#: The flatten order a dialect spec takes by default.
FLATTEN_ORDER = "hwc"


def parse_dialect(value, where: str) -> Dialect | None:
    """The ``"dialect"`` value of a spec: a name or an object; None when absent."""
    if value is None:
        return None
    if isinstance(value, str):
        value = {"name": value}
    S.keys(value, ("name", "io_type", "strategy", "reuse_factor"), ("name",), f"{where} dialect")
    name = S.choice(value["name"], NAMES, "dialect", where)
    return Dialect(name=name,
                   io_type=S.choice(value.get("io_type", "io_parallel"), IO_TYPES, "dialect io_type",
                                    where),
                   strategy=_strategy(value.get("strategy", "Latency"), where),
                   reuse_factor=S.integer(value.get("reuse_factor", 1), "dialect reuse_factor",
                                          where))


def _strategy(value, where: str) -> str:
    """"Latency" or "Resource" (hls4ml compares them without case)."""
    if isinstance(value, str):
        for s in STRATEGIES:
            if value.lower() == s.lower():
                return s
    return S.choice(value, STRATEGIES, "strategy", where)  # raises, naming the closest


def _check_given(given: dict, checked: Options, resolved: Options, why: str, where: str) -> None:
    """Options given explicitly (``given``; parsed as ``checked``) must be the dialect's."""
    for key in given:
        value, want = getattr(checked, key), getattr(resolved, key)
        if value != want:
            raise InputError(f"{where}: {key} {value!r} is not hls4ml's datapath (the hls4ml "
                             f"dialect implies {key} {want!r}{why}); remove it or drop the dialect")


def spec_options(given: dict, where: str) -> Options:
    """The spec-wide options of a dialect spec (the ``"options"`` object checked)."""
    _check_given(given, S.options(given, HLS4ML_OPTIONS, where), HLS4ML_OPTIONS,
                 " spec-wide; a layer's Resource order follows from its strategy and reuse_factor"
                 if {"sum_order", "reuse_factor"} & set(given) else "", where)
    return HLS4ML_OPTIONS


def mac_fields(obj: dict, given: dict, dialect: Dialect, where: str) -> dict:
    """``strategy``, ``reuse_factor`` and the implied ``options`` of a conv2d/dense layer."""
    strategy = _strategy(obj.get("strategy", dialect.strategy), where)
    reuse = S.integer(obj.get("reuse_factor", dialect.reuse_factor), "reuse_factor", where)
    resolved = HLS4ML_OPTIONS
    if strategy == "Resource" and reuse > 1:
        resolved = Options(product="to_accum", sum_order="resource", activation_on="result",
                           reuse_factor=reuse)
    _check_given(given, S.options(given, resolved, where), resolved,
                 f" for strategy {strategy} with reuse_factor {reuse}", where)
    return dict(options=resolved, strategy=strategy, reuse_factor=reuse)


def valid_reuse_factors(n_in: int, n_out: int) -> list[int]:
    """The reuse factors hls4ml keeps for a Resource layer of ``n_in * n_out`` products
    (``FPGABackend._validate_reuse_factor``), ascending."""
    out = []
    for rf in range(1, n_in * n_out + 1):
        mult_limit = -(-(n_in * n_out) // min(n_in, rf))
        ok = (mult_limit % n_out == 0 or rf >= n_in) and (rf % n_in == 0 or rf < n_in)
        if ok and (n_in * n_out) % rf == 0:
            out.append(rf)
    return out


def closest_reuse_factor(valid: list[int], chosen: int) -> int:
    """hls4ml's replacement of an invalid reuse factor (``get_closest_reuse_factor``)."""
    pos = bisect.bisect_left(valid, chosen)
    if pos == 0:
        return valid[0]
    if pos == len(valid):
        return valid[-1]
    before, after = valid[pos - 1], valid[pos]
    return after if after - chosen < chosen - before else before


def check_mac_layer(layer, dialect: Dialect, where: str) -> None:
    """A Resource layer's reuse factor is one hls4ml keeps and its kernels accept."""
    if layer.strategy != "Resource":
        return
    n_in, n_out = layer.fan_in, layer.weight_shape[0]
    rf = layer.reuse_factor
    valid = valid_reuse_factors(n_in, n_out)
    if rf not in valid:
        shown = ", ".join(map(str, valid[:12])) + (", ..." if len(valid) > 12 else "")
        raise InputError(f"{where}: reuse_factor {rf} is not one hls4ml keeps for a Resource "
                         f"layer of {n_in} inputs and {n_out} outputs (it would use "
                         f"{closest_reuse_factor(valid, rf)}); valid: {shown}")
    if layer.type in ("conv1d", "conv2d") and dialect.io_type == "io_parallel" and rf > n_in:
        raise InputError(f"{where}: reuse_factor {rf} exceeds its {n_in} terms per output "
                         f"(C*KH*KW); hls4ml's io_parallel {layer.type} resource kernel asserts "
                         "RF <= C*KH*KW (use io_stream or a smaller reuse factor)")


__all__ = ["NAMES", "IO_TYPES", "STRATEGIES", "HLS4ML_OPTIONS", "FLATTEN_ORDER", "parse_dialect",
           "spec_options", "mac_fields", "valid_reuse_factors", "closest_reuse_factor",
           "check_mac_layer"]
