"""Generate the HLS C++ of a network from a :class:`~fixsim.network.ModelSpec`.

The layer templates live in ``rtl/`` (hand-written, one header per layer); what depends
on the layer list is generated here:

``<ns>_config.h``
    one ``CONFIG_T`` struct per layer (typedefs ``input_t``, ``weight_t``, ``bias_t``,
    ``accum_t``, ``result_t``, ``alpha_t``; sizes and options as constants) and the
    declaration of the top function;
``<ns>_top.cpp``
    the synthesizable top function: ``hls::stream`` between layers, weight/bias memories
    as arguments (written by the host at run time), taps under ``FIXSIM_TAPS``;
``<ns>_tb.cpp``
    the C-simulation host side: loads weights from files or a weight image (checked
    against the spec hash compiled in), feeds frames, writes taps.

Several networks (each in its own C++ namespace) can share one test-bench binary.

>>> from fixsim.network import load_spec
>>> files = generate_network(load_spec("specklenn-snl"))
>>> sorted(files)
['specklenn_snl_config.h', 'specklenn_snl_tb.cpp', 'specklenn_snl_top.cpp']
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

from .._version import __version__
from ..errors import InputError
from ..fixed import FixedType
from ..network.spec_types import TENSOR_ORDERS, TENSOR_ROLES


_PRODUCT = {"to_accum": "fixsim::PRODUCT_TO_ACCUM", "exact": "fixsim::PRODUCT_EXACT"}
_SUM_ORDER = {"ci_kh_kw": "fixsim::SUM_CI_KH_KW", "kh_kw_ci": "fixsim::SUM_KH_KW_CI",
              "resource": "fixsim::SUM_RESOURCE"}
_ACT_ON = {"result": "fixsim::ACTIVATION_ON_RESULT", "accum": "fixsim::ACTIVATION_ON_ACCUM"}
_ACT = {"linear": "fixsim::ACT_LINEAR", "relu": "fixsim::ACT_RELU",
        "leaky_relu": "fixsim::ACT_LEAKY_RELU"}
_ORDER = {"chw": "fixsim::FLATTEN_CHW", "hwc": "fixsim::FLATTEN_HWC"}


def rtl_dir() -> Path:
    """The directory holding the layer templates (``rtl/``; rule: :mod:`fixsim._bundle`)."""
    from .._bundle import rtl_dir as locate

    d = locate()
    if not (d / "fixsim_layers.h").is_file():
        raise InputError(f"rtl templates not found in {str(d)!r}; set FIXSIM_RTL to the rtl/ "
                         "directory of the fixsim source tree")
    return d


def rtl_sources() -> dict[str, str]:
    """The hand-written rtl/ files, flattened to their base names (name -> text)."""
    d = rtl_dir()
    return {Path(name).name: (d / name).read_text() for name in RTL_FILES}


def cpp_type(fmt: FixedType) -> str:
    """``ap_fixed<W,I,Q,O,N>`` spelled out in full (no defaults left implicit)."""
    return (f"{fmt.name}<{fmt.width},{fmt.int_bits},{fmt.quantization.name},"
            f"{fmt.overflow.name},{fmt.sat_bits}>")


def namespace_of(name: str) -> str:
    """A C++ identifier for a network name (``specklenn-snl`` -> ``specklenn_snl``)."""
    ident = re.sub(r"[^A-Za-z0-9_]", "_", name)
    if not ident or ident[0].isdigit():
        ident = "net_" + ident
    return ident


@dataclass(frozen=True)
class Tap:
    """One recorded layer output: name, per-frame shape (PyTorch order)."""

    name: str
    shape: tuple[int, ...]

    @property
    def size(self) -> int:
        n = 1
        for s in self.shape:
            n *= s
        return n


def taps_of(spec) -> list[Tap]:
    """The taps a generated test bench writes, in order: ``input`` then every layer."""
    return [Tap("input", tuple(spec.input_shape))] + [Tap(l.name, tuple(l.out_shape))
                                                       for l in spec.layers]


def _alpha_lines(act) -> list[str]:
    if act.kind == "leaky_relu":
        # repr() of a float round-trips exactly, so C++ parses the same double and
        # ap_fixed's double constructor quantizes it (the ground truth for alpha_raw).
        return [f"    typedef {cpp_type(act.alpha_format)} alpha_t;",
                f"    static constexpr double leaky_alpha = {float(act.alpha)!r};"]
    return ["    typedef result_t alpha_t;  // unused: no leaky_relu",
            "    static constexpr double leaky_alpha = 0.0;"]


def _n(shape) -> int:
    n = 1
    for s in shape:
        n *= s
    return n


def _mac_config(layer) -> list[str]:
    f, opt = layer.formats, layer.options
    bias = cpp_type(f.bias) if f.bias is not None else "weight_t"
    lines = [f"    typedef {cpp_type(f.weight)} weight_t;",
             f"    typedef {bias} bias_t;" + ("" if f.bias is not None else "  // unused: no bias"),
             f"    typedef {cpp_type(f.accum)} accum_t;",
             f"    typedef {cpp_type(f.result)} result_t;"]
    lines += _alpha_lines(layer.activation) + _MAC_GEOMETRY[layer.type](layer)
    return lines + [
        f"    static const unsigned n_weights = {_n(layer.weight_shape)}, n_biases = "
        f"{layer.weight_shape[0] if layer.bias else 1};",
        f"    static const bool has_bias = {'true' if layer.bias else 'false'};",
        f"    static const fixsim::product_mode product = {_PRODUCT[opt.product]};",
        f"    static const fixsim::activation_kind activation = {_ACT[layer.activation.kind]};",
        f"    static const fixsim::activation_on activation_on = {_ACT_ON[opt.activation_on]};",
        f"    static const unsigned reuse_factor = {opt.reuse_factor};  // sum_order resource: R"]


def _conv2d_geometry(layer) -> list[str]:
    c, h, w = layer.in_shape
    oc, oh, ow = layer.out_shape
    return [f"    static const unsigned in_channels = {c}, in_height = {h}, in_width = {w};",
            f"    static const unsigned out_channels = {oc}, out_height = {oh}, out_width = {ow};",
            f"    static const unsigned kernel_h = {layer.kernel[0]}, kernel_w = {layer.kernel[1]};",
            f"    static const unsigned stride_h = {layer.stride[0]}, stride_w = {layer.stride[1]};",
            f"    static const unsigned pad_top = {layer.padding[0]}, pad_left = {layer.padding[1]};",
            f"    static const fixsim::sum_order sum_order = {_SUM_ORDER[layer.options.sum_order]};"]


def _conv1d_geometry(layer) -> list[str]:
    c, length = layer.in_shape
    oc, ol = layer.out_shape
    return [f"    static const unsigned in_channels = {c}, in_width = {length};",
            f"    static const unsigned out_channels = {oc}, out_width = {ol};",
            f"    static const unsigned kernel_w = {layer.kernel}, stride_w = {layer.stride};",
            f"    static const unsigned pad_left = {layer.padding[0]}, pad_right = {layer.padding[1]};",
            f"    static const fixsim::sum_order sum_order = {_SUM_ORDER[layer.options.sum_order]};"]


def _dense_geometry(layer) -> list[str]:
    lines = [f"    static const unsigned in_features = {layer.in_shape[0]}, "
             f"out_features = {layer.out_shape[0]};"]
    if len(layer.in_shape) == 2:  # a (C, L) map: the same dense at each of L positions
        lines.append(f"    static const unsigned n_positions = {layer.in_shape[1]};")
    return lines


#: The sizes of a MAC layer's CONFIG_T, by type (after its formats and activation).
_MAC_GEOMETRY = {"conv2d": _conv2d_geometry, "conv1d": _conv1d_geometry, "dense": _dense_geometry}


def _result_typedef(layer) -> str:
    """``result_t`` of a layer without weights: its result format, else its input type."""
    result = getattr(layer, "result", None)
    if result is None:
        return "    typedef input_t result_t;"
    return f"    typedef {cpp_type(result)} result_t;  // converted once: result_t r = x"


def _maxpool2d_config(layer) -> list[str]:
    c, h, w = layer.in_shape
    _, oh, ow = layer.out_shape
    return [_result_typedef(layer),
            f"    static const unsigned channels = {c}, in_height = {h}, in_width = {w};",
            f"    static const unsigned out_height = {oh}, out_width = {ow};",
            f"    static const unsigned kernel_h = {layer.kernel[0]}, kernel_w = {layer.kernel[1]};",
            f"    static const unsigned stride_h = {layer.stride[0]}, stride_w = {layer.stride[1]};",
            f"    static const bool ceil_mode = {'true' if layer.ceil_mode else 'false'};"]


def _maxpool1d_config(layer) -> list[str]:
    c, length = layer.in_shape
    return ["    typedef input_t result_t;",
            f"    static const unsigned channels = {c}, in_width = {length}, "
            f"out_width = {layer.out_shape[1]};",
            f"    static const unsigned kernel_w = {layer.kernel}, stride_w = {layer.stride};"]


def _zeropad1d_config(layer) -> list[str]:
    c, length = layer.in_shape
    return ["    typedef input_t result_t;",
            f"    static const unsigned channels = {c}, in_width = {length}, "
            f"out_width = {layer.out_shape[1]};",
            f"    static const unsigned pad_left = {layer.padding[0]}, pad_right = {layer.padding[1]};"]


def _zeropad2d_config(layer) -> list[str]:
    c, h, w = layer.in_shape
    (top, bottom), (left, right) = layer.padding
    return ["    typedef input_t result_t;",
            f"    static const unsigned channels = {c}, in_height = {h}, in_width = {w};",
            f"    static const unsigned out_height = {layer.out_shape[1]}, "
            f"out_width = {layer.out_shape[2]};",
            f"    static const unsigned pad_top = {top}, pad_bottom = {bottom};",
            f"    static const unsigned pad_left = {left}, pad_right = {right};"]


def _flatten_config(layer) -> list[str]:
    c, h, w = layer.map_shape
    return [_result_typedef(layer),
            f"    static const unsigned channels = {c}, height = {h}, width = {w};",
            f"    static const fixsim::flatten_order order = {_ORDER[layer.order]};"]


def _activation_config(layer) -> list[str]:
    return ([_result_typedef(layer)] + _alpha_lines(layer.activation)
            + [f"    static const unsigned n_elements = {_n(layer.in_shape)};",
               f"    static const fixsim::activation_kind activation = {_ACT[layer.activation.kind]};"])


_POOL_TERM = {"exact": "fixsim::POOL_TERM_EXACT", "to_accum": "fixsim::POOL_TERM_TO_ACCUM"}
_POOL_SUM = {"sequential": "fixsim::POOL_SUM_SEQUENTIAL", "tree": "fixsim::POOL_SUM_TREE"}
_POOL_SCALING = {"divide": "fixsim::POOL_SCALE_DIVIDE", "reciprocal": "fixsim::POOL_SCALE_RECIPROCAL"}


def _pool_formats(cfg) -> list[str]:
    """accum_t, result_t, scale_t and the switches of an averaging layer (rtl/fixsim_avgpool.h)."""
    scale = cpp_type(cfg.reciprocal) if cfg.reciprocal is not None else "accum_t"
    return [f"    typedef {cpp_type(cfg.accum)} accum_t;",
            f"    typedef {cpp_type(cfg.result)} result_t;",
            f"    typedef {scale} scale_t;" + ("" if cfg.reciprocal is not None else
                                                 "  // unused: scaling divide"),
            f"    static const fixsim::pool_term term = {_POOL_TERM[cfg.term]};",
            f"    static const fixsim::pool_sum sum_order = {_POOL_SUM[cfg.sum]};",
            f"    static const fixsim::pool_scaling scaling = {_POOL_SCALING[cfg.scaling]};"]


def _avgpool2d_config(layer) -> list[str]:
    c, h, w = layer.in_shape
    _, oh, ow = layer.out_shape
    return _pool_formats(layer.cfg) + [
        f"    static const unsigned channels = {c}, in_height = {h}, in_width = {w};",
        f"    static const unsigned out_height = {oh}, out_width = {ow};",
        f"    static const unsigned kernel_h = {layer.kernel[0]}, kernel_w = {layer.kernel[1]};",
        f"    static const unsigned stride_h = {layer.stride[0]}, stride_w = {layer.stride[1]};",
        f"    static const unsigned pad_top = {layer.padding[0]}, pad_left = {layer.padding[1]};",
        f"    static const bool count_pad = {'true' if layer.cfg.count_pad else 'false'};"]


def _avgpool1d_config(layer) -> list[str]:
    """avgpool2d's CONFIG_T for the (C, 1, L) map with a (1, K) window (the (l, c) stream
    is the (h, w, c) stream of that map)."""
    c, length = layer.in_shape
    return _pool_formats(layer.cfg) + [
        f"    static const unsigned channels = {c}, in_height = 1, in_width = {length};",
        f"    static const unsigned out_height = 1, out_width = {layer.out_shape[1]};",
        f"    static const unsigned kernel_h = 1, kernel_w = {layer.kernel};",
        f"    static const unsigned stride_h = 1, stride_w = {layer.stride};",
        f"    static const unsigned pad_top = 0, pad_left = {layer.padding};",
        f"    static const bool count_pad = {'true' if layer.cfg.count_pad else 'false'};"]


def _pixels(layer) -> list[str]:
    """channels and n_pixels of a (C, ...) input streamed pixel by pixel, channels innermost."""
    return [f"    static const unsigned channels = {layer.in_shape[0]}, "
            f"n_pixels = {_n(layer.in_shape[1:])};"]


def _global_avgpool_config(layer) -> list[str]:
    return _pool_formats(layer.cfg) + _pixels(layer)


def _global_maxpool_config(layer) -> list[str]:
    if layer.accum is None:
        types = ["    typedef input_t accum_t;", "    typedef input_t result_t;"]
    else:
        types = [f"    typedef {cpp_type(layer.accum)} accum_t;",
                 f"    typedef {cpp_type(layer.result)} result_t;"]
    return types + [f"    static const fixsim::pool_term term = {_POOL_TERM[layer.term]};"] + _pixels(layer)


def _batchnorm_config(layer) -> list[str]:
    cfg = layer.cfg
    return [f"    typedef {cpp_type(cfg.scale)} scale_t;",
            f"    typedef {cpp_type(cfg.bias)} bias_t;",
            f"    typedef {cpp_type(cfg.result)} result_t;",
            f"    static const unsigned n_scales = {layer.channels}, n_biases = {layer.channels};",
            ] + _pixels(layer)


def _batchnorm_call(layer, cfg: str, src: str, dst: str) -> list[str]:
    return [f"    fixsim::batchnorm<{cfg}>({src}, {dst}, {layer.name}_scale, {layer.name}_bias);"]


def _mac_call(layer, cfg: str, src: str, dst: str) -> list[str]:
    """``fixsim::<type><cfg>(in, out, weight, bias)``; a layer without bias passes a zero."""
    lines = []
    if layer.bias:
        bias = f"{layer.name}_bias"
    else:
        lines.append(f"    const {cfg}::bias_t {layer.name}_no_bias[1] = {{0}};")
        bias = f"{layer.name}_no_bias"
    function = "dense_map" if layer.type == "dense" and len(layer.in_shape) == 2 else layer.type
    return lines + [f"    fixsim::{function}<{cfg}>({src}, {dst}, {layer.name}_weight, {bias});"]


def _stream_call(function: str):
    """The call of a template without memories: ``fixsim::<function><cfg>(in, out)``."""
    def call(layer, cfg: str, src: str, dst: str) -> list[str]:
        return [f"    fixsim::{function}<{cfg}>({src}, {dst});"]
    return call


@dataclass(frozen=True)
class CppLayer:
    """The C++ twin of one layer type: its rtl/ template header, the lines of its
    ``CONFIG_T`` struct after ``input_t`` (``config(layer)``), and its call in the top
    function (``call(layer, cfg, src, dst)``, the streams' names)."""

    header: str
    config: Callable[..., list[str]]
    call: Callable[..., list[str]]


_LUT_FN = {"sigmoid": "fixsim::LUT_SIGMOID", "tanh": "fixsim::LUT_TANH"}
_LUT_INDEX = {"trunc": "fixsim::LUT_INDEX_TRUNC", "floor": "fixsim::LUT_INDEX_FLOOR"}
_SOFTMAX = {"latency": "fixsim::SOFTMAX_LATENCY", "stable": "fixsim::SOFTMAX_STABLE"}


def _lut_config(layer) -> list[str]:
    """sigmoid/tanh (rtl/fixsim_lut_activation.h): the table and the index computation."""
    return [f"    typedef {cpp_type(layer.table)} table_t;",
            f"    typedef {cpp_type(layer.result)} result_t;",
            f"    typedef {cpp_type(layer.index_format)} index_t;  // floor: x with F >= 0",
            f"    static const unsigned n_elements = {_n(layer.in_shape)};",
            f"    static const unsigned table_size = {layer.table_size};",
            f"    static const int range = {layer.range}, index_divisor = {2 * layer.range};",
            f"    static const fixsim::lut_function function = {_LUT_FN[layer.function]};",
            f"    static const fixsim::lut_index index = {_LUT_INDEX[layer.index]};"]


def _softmax_config(layer) -> list[str]:
    """softmax (rtl/fixsim_softmax.h): formats, table sizes and address bits, exp scale."""
    norm = (f"    typedef {cpp_type(layer.inp_norm)} inp_norm_t;" if layer.inp_norm is not None
            else "    typedef input_t inp_norm_t;  // unused: latency")
    # repr() of the double round-trips; C++ rounds it to the float constant as numpy does
    return [f"    typedef {cpp_type(layer.exp_table)} exp_table_t;",
            f"    typedef {cpp_type(layer.inv_table)} inv_table_t;",
            f"    typedef {cpp_type(layer.accum)} accum_t;",
            f"    typedef {cpp_type(layer.inv_inp)} inv_inp_t;", norm,
            f"    typedef {cpp_type(layer.result)} result_t;",
            f"    static const unsigned channels = {layer.channels}, positions = {layer.positions};",
            f"    static const unsigned exp_table_size = {layer.exp_table_size}, "
            f"exp_index_bits = {layer.exp_index_bits};",
            f"    static const unsigned inv_table_size = {layer.inv_table_size}, "
            f"inv_index_bits = {layer.inv_index_bits};",
            f"    static constexpr float exp_scale = {float(layer.exp_scale)!r};",
            f"    static const fixsim::softmax_impl implementation = {_SOFTMAX[layer.implementation]};"]


#: Spec type name -> its C++ twin (the same names as fixsim.network.kinds.REGISTRY).
CPP_LAYERS: dict[str, CppLayer] = {
    "conv2d": CppLayer("fixsim_conv2d.h", _mac_config, _mac_call),
    "maxpool2d": CppLayer("fixsim_maxpool2d.h", _maxpool2d_config, _stream_call("maxpool2d")),
    "dense": CppLayer("fixsim_dense.h", _mac_config, _mac_call),
    "flatten": CppLayer("fixsim_flatten.h", _flatten_config, _stream_call("flatten")),
    "relu": CppLayer("fixsim_activation.h", _activation_config, _stream_call("activation")),
    "linear": CppLayer("fixsim_activation.h", _activation_config, _stream_call("activation")),
    "leaky_relu": CppLayer("fixsim_activation.h", _activation_config, _stream_call("activation")),
    "conv1d": CppLayer("fixsim_conv1d.h", _mac_config, _mac_call),
    "maxpool1d": CppLayer("fixsim_maxpool1d.h", _maxpool1d_config, _stream_call("maxpool1d")),
    "zeropad1d": CppLayer("fixsim_zeropad.h", _zeropad1d_config, _stream_call("zeropad1d")),
    "zeropad2d": CppLayer("fixsim_zeropad.h", _zeropad2d_config, _stream_call("zeropad2d")),
    "avgpool2d": CppLayer("fixsim_avgpool.h", _avgpool2d_config, _stream_call("avgpool2d")),
    "global_avgpool2d": CppLayer("fixsim_avgpool.h", _global_avgpool_config,
                                 _stream_call("global_avgpool")),
    "global_maxpool2d": CppLayer("fixsim_avgpool.h", _global_maxpool_config,
                                 _stream_call("global_maxpool")),
    "batchnorm": CppLayer("fixsim_batchnorm.h", _batchnorm_config, _batchnorm_call),
    "avgpool1d": CppLayer("fixsim_avgpool.h", _avgpool1d_config, _stream_call("avgpool2d")),
    "global_avgpool1d": CppLayer("fixsim_avgpool.h", _global_avgpool_config,
                                 _stream_call("global_avgpool")),
    "global_maxpool1d": CppLayer("fixsim_avgpool.h", _global_maxpool_config,
                                 _stream_call("global_maxpool")),
    "sigmoid": CppLayer("fixsim_lut_activation.h", _lut_config, _stream_call("lut_activation")),
    "tanh": CppLayer("fixsim_lut_activation.h", _lut_config, _stream_call("lut_activation")),
    "softmax": CppLayer("fixsim_softmax.h", _softmax_config, _stream_call("softmax")),
}


def cpp_layer(layer) -> CppLayer:
    """The :class:`CppLayer` of a spec layer (InputError naming a type without one)."""
    try:
        return CPP_LAYERS[layer.type]
    except KeyError:
        raise InputError(f"layer {layer.name!r}: type {layer.type!r} has no C++ codegen entry "
                         f"(fixsim.csim.codegen.CPP_LAYERS has {', '.join(CPP_LAYERS)})") from None


#: The hand-written files of rtl/ (found by :func:`rtl_dir`): the layer templates of
#: :data:`CPP_LAYERS` between the common headers and the tap/test-bench ones.
RTL_FILES = (("fixsim_common.h", "fixsim_input.h")
             + tuple(dict.fromkeys(e.header for e in CPP_LAYERS.values()))
             + ("fixsim_tap.h", "fixsim_layers.h", "tb/fixsim_tb.h", "tb/tb_main.cpp"))


def _config(layer, cfg: str, prev: str) -> list[str]:
    return ([f"// layer {layer.name!r}: {layer.type}, {tuple(layer.in_shape)} -> {tuple(layer.out_shape)}",
             f"struct {cfg} {{", f"    typedef {prev}::result_t input_t;"]
            + cpp_layer(layer).config(layer) + ["};"])


#: Tap macro of rtl/fixsim_tap.h by the rank of a per-frame shape (PyTorch order).
_TAP_MACROS = {3: "FIXSIM_TAP_MAP", 2: "FIXSIM_TAP_SEQ", 1: "FIXSIM_TAP_VEC"}


def _tap_macro(stream: str, index: int, shape: Sequence[int]) -> str:
    macro = _TAP_MACROS.get(len(shape))
    if macro is None:
        raise InputError(f"no tap macro for a {len(shape)}-D output {tuple(shape)} "
                         f"(rtl/fixsim_tap.h has ranks {sorted(_TAP_MACROS)})")
    return f"    {macro}({stream}, {index}, {', '.join(map(str, shape))});"


#: C++ element type and size constant of a memory, by tensor role (in the layer's CONFIG_T).
_MEMORY = {"weight": ("weight_t", "n_weights"), "bias": ("bias_t", "n_biases"),
           "scale": ("scale_t", "n_scales")}


def _memories(spec) -> list[tuple[str, str, str, str]]:
    """(argument name, C++ element type, size constant, file stem) of every weight memory."""
    out = []
    for t in spec.tensors():
        ctype, size = _MEMORY[t.role]
        cfg = f"{t.layer}_config"
        out.append((f"{t.layer}_{t.role}", f"{cfg}::{ctype}", f"{cfg}::{size}", t.name))
    return out


def _image_tensors(spec) -> list[tuple[str, int, FixedType, int]]:
    """(layer, role index, format, element order index) of each weight memory, in
    weight-image order (fixsim.vectors.weight_image: order 1 = dense columns in hwc order)."""
    return [(t.layer, TENSOR_ROLES.index(t.role), t.format, TENSOR_ORDERS.index(t.order))
            for t in spec.tensors()]


def _input_chw(shape) -> tuple[int, int, int]:
    """The input stage's (channels, height, width): a (C, L) input is the (C, 1, L) map."""
    return (shape[0], 1, shape[1]) if len(shape) == 2 else tuple(shape)


def generate_network(spec, namespace: str | None = None) -> dict[str, str]:
    """C++ sources of one network (config header, top function, test-bench glue).

    Parameters
    ----------
    spec : ModelSpec
        A validated spec (``fixsim.network.load_spec``).
    namespace : str, optional
        C++ namespace and file prefix; default derived from ``spec.name``.

    Returns
    -------
    dict
        File name -> text.
    """
    ns = namespace or namespace_of(spec.name)
    if namespace_of(ns) != ns:
        raise InputError(f"namespace {ns!r} is not a C++ identifier")
    header = (f"// Generated by fixsim {__version__} (fixsim.csim.codegen) from spec "
              f"{spec.name!r}, sha256 {spec.spec_hash()}.\n// Do not edit: regenerate with "
              "fixsim.csim.codegen.write_network (docs/rtl.md).\n")
    guard = f"FIXSIM_NET_{ns.upper()}_CONFIG_H_"
    last = f"{spec.layers[-1].name}_config"
    mems = _memories(spec)
    args = ",\n         ".join(
        ["hls::stream<input_config::result_t>& in", f"hls::stream<{last}::result_t>& out"]
        + [f"const {t} {n}[{size}]" for n, t, size, _ in mems])

    # ----------------------------------------------------------- config header
    c, h, w = _input_chw(spec.input_shape)
    cfg_lines = [header, f"#ifndef {guard}", f"#define {guard}", "",
                 '#include "fixsim_layers.h"', "", f"namespace {ns} {{", "",
                 "// the input quantization layer: float -> input format, (h, w, c) stream",
                 "struct input_config {",
                 f"    typedef {cpp_type(spec.input_format)} result_t;",
                 f"    static const unsigned channels = {c}, height = {h}, width = {w};",
                 "};", ""]
    prev = "input_config"
    for layer in spec.layers:
        cfg_lines += _config(layer, f"{layer.name}_config", prev) + [""]
        prev = f"{layer.name}_config"
    cfg_lines += [f"void top({args});", "", f"}}  // namespace {ns}", "", f"#endif  // {guard}", ""]

    # ----------------------------------------------------------- top function
    top = [header, f'#include "{ns}_config.h"', "", f"namespace {ns} {{", "",
           "// The network: one hls::stream per layer boundary, weights and biases in memories",
           "// the host writes at run time (no weights compiled in).",
           f"void top({args}) {{",
           "#pragma HLS INTERFACE axis port = in",
           "#pragma HLS INTERFACE axis port = out"]
    top += [f"#pragma HLS INTERFACE bram port = {n}" for n, *_ in mems]
    top += ["#pragma HLS DATAFLOW", _tap_macro("in", 0, spec.input_shape)]
    stream = "in"
    for i, layer in enumerate(spec.layers, start=1):
        cfg = f"{layer.name}_config"
        is_last = i == len(spec.layers)
        dst = "out" if is_last else f"{layer.name}_out"
        if not is_last:
            top.append(f'    hls::stream<{cfg}::result_t> {dst}("{dst}");')
        top += cpp_layer(layer).call(layer, cfg, stream, dst)
        top.append(_tap_macro(dst, i, layer.out_shape))
        stream = dst
    top += ["}", "", f"}}  // namespace {ns}", ""]

    # ----------------------------------------------------------- test-bench glue
    taps = taps_of(spec)
    tb = [header, "#include <algorithm>", "#include <string>", "#include <vector>", "",
          '#include "fixsim_tb.h"', f'#include "{ns}_config.h"', "", f"namespace {ns} {{", "",
          "// sha256 of the canonical spec: weight images must carry it (docs/weight_image.md).",
          f'static const char spec_sha256[] = "{spec.spec_hash()}";', "",
          "// Weight memories, written from files or a weight image at run time.",
          *[f"static {t} {n}[{size}];" for n, t, size, _ in mems], "",
          "// Write the weight memories from a weight image, as a host would: every tensor is",
          "// decoded and checked first, so a rejected image leaves the memories unchanged.",
          "static bool load_image(const std::vector<unsigned char>& bytes, std::string& error) {",
          "    fixsim::tb::Image img;",
          "    if (!fixsim::tb::parse_image(bytes, spec_sha256, img, error)) return false;",
          f"    if (img.n_tensors != {len(mems)}) {{",
          f'        error = "weight image has " + std::to_string(img.n_tensors) + " tensors, expected {len(mems)}";',
          "        return false;", "    }"]
    for index, (layer, kind, fmt, order) in enumerate(_image_tensors(spec)):
        n, t, size, _ = mems[index]
        tb += [f"    std::vector<{t}> s_{n}({size});",
               f'    if (!fixsim::tb::image_tensor(img, {index}, "{layer}", {kind}, "{fmt}", {order}, '
               f"{fmt.width}, {'true' if fmt.signed else 'false'}, {size}, s_{n}.data(), error))",
               "        return false;"]
    tb += [f"    std::copy(s_{n}.begin(), s_{n}.end(), {n});" for n, *_ in mems]
    tb += ["    return true;", "}", "",
           "// Write the weight memories from the image, or from DIR/<tensor>.bin, as a host would.",
           "static void load(const fixsim::tb::Args& a) {",
           "    if (!a.image.empty()) {",
           "        std::string error;",
           "        if (!load_image(fixsim::tb::read_file(a.image), error)) fixsim::tb::fail(a.image + \": \" + error);",
           "        return;", "    }"]
    for t in spec.tensors():
        cfg, mem = f"{t.layer}_config", f"{t.layer}_{t.role}"
        if t.order == "dense_hwc":
            c, h, w = t.chw
            tb.append(f'    fixsim::tb::load_dense_hwc(a, "{t.name}", {mem}, '
                      f"{cfg}::out_features, {c}, {h}, {w});")
        else:
            tb.append(f'    fixsim::tb::load_memory(a, "{t.name}", {mem}, {cfg}::{_MEMORY[t.role][1]});')
    tb += ["}", ""]
    names = ", ".join(f'"{t.name}"' for t in taps)
    sizes = ", ".join(str(t.size) for t in taps)
    call = ", ".join(["in", "out"] + [n for n, *_ in mems])
    last_tap = len(taps) - 1
    tb += ["int run(const fixsim::tb::Args& a) {", "    load(a);",
           f"    const char* names[] = {{{names}}};",
           f"    const size_t sizes[] = {{{sizes}}};",
           f"    fixsim::tb::TapFiles files(a, std::vector<std::string>(names, names + {len(taps)}));",
           f"    fixsim::tb::Inputs inputs(a, {taps[0].size});",
           "    for (long k = 0; k < a.n; k++) {",
           '        hls::stream<input_config::result_t> in("in");',
           f'        hls::stream<{last}::result_t> out("out");',
           "        fixsim::tb::feed<input_config>(a, inputs, k, in);",
           f"        top({call});",
           f"        files.write_frame(std::vector<size_t>(sizes, sizes + {len(taps)}));",
           f"        fixsim::tb::drain(out, {taps[-1].size});",
           "    }", "    return 0;", "}", "",
           "// The csim device protocol of fixsim.hil.csim: one raw frame in, the last layer out.",
           "int serve(const fixsim::tb::Args& a) {", "    load(a);",
           f"    fixsim::taps().assign({len(taps)}, std::vector<int64_t>());",
           f"    return fixsim::tb::serve_loop({taps[0].size}, [](const int64_t* frame, "
           "std::vector<int64_t>& result) {",
           '        hls::stream<input_config::result_t> in("in");',
           f'        hls::stream<{last}::result_t> out("out");',
           "        fixsim::tb::feed_raw<input_config>(frame, in);",
           f"        top({call});",
           f"        const std::vector<int64_t>& tap = fixsim::taps()[{last_tap}];",
           "        result.assign(tap.begin(), tap.end());",
           f"        fixsim::tb::drain(out, {taps[-1].size});",
           "    }, load_image);", "}", "",
           f"}}  // namespace {ns}", ""]
    return {f"{ns}_config.h": "\n".join(cfg_lines), f"{ns}_top.cpp": "\n".join(top),
            f"{ns}_tb.cpp": "\n".join(tb)}


def write_network(spec, directory, namespace: str | None = None) -> list[Path]:
    """Write the generated files of one network (config, top, test-bench glue) to ``directory``.

    With the templates of ``rtl/`` (and ``rtl/tb/``) on the include path this is the HLS
    source of the network: ``<ns>_top.cpp`` for synthesis, plus ``<ns>_tb.cpp`` and
    ``rtl/tb/tb_main.cpp`` (with a ``fixsim_networks.h``) for C simulation.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    files = generate_network(spec, namespace)
    files["fixsim_networks.h"] = _networks_header([namespace or namespace_of(spec.name)])
    paths = []
    for name, text in files.items():
        (directory / name).write_text(text)
        paths.append(directory / name)
    return paths


def _networks_header(namespaces: Sequence[str]) -> str:
    """``fixsim_networks.h``: the table of networks ``tb_main.cpp`` dispatches on."""
    decl = "\n".join(f"namespace {ns} {{ int run(const fixsim::tb::Args& a); "
                     "int serve(const fixsim::tb::Args& a); }" for ns in namespaces)
    table = ",\n    ".join(f'{{"{ns}", {ns}::run, {ns}::serve}}' for ns in namespaces)
    return (f"// Generated by fixsim {__version__}: the networks of this test bench.\n"
            f"{decl}\nstatic const fixsim::tb::Network fixsim_networks[] = {{\n    {table}\n}};\n"
            f"static const int fixsim_n_networks = {len(namespaces)};\n")


def generate_testbench(specs: Sequence, namespaces: Sequence[str] | None = None, *,
                       per_file: int = 1) -> dict[str, str]:
    """All sources of one test-bench binary serving ``specs`` (rtl/ files included).

    Parameters
    ----------
    specs : sequence of ModelSpec
    namespaces : sequence of str, optional
        C++ namespace and network name of each spec in the binary (default from the names).
    per_file : int
        Networks per translation unit.  1 gives the plain HLS layout (``<ns>_top.cpp`` and
        ``<ns>_tb.cpp`` compiled separately); more networks per unit parse the ap_types
        headers fewer times when many small networks share one binary.

    Returns
    -------
    dict
        File name -> text, ready for :func:`fixsim.csim.build.compile_program`.
    """
    if not specs:
        raise InputError("a test bench needs at least one network")
    if per_file < 1:
        raise InputError(f"per_file must be >= 1, got {per_file}")
    namespaces = list(namespaces) if namespaces is not None else [namespace_of(s.name) for s in specs]
    if len(set(namespaces)) != len(namespaces):
        raise InputError(f"network names must be unique in one test bench, got {namespaces}")
    sources = rtl_sources()
    for start in range(0, len(specs), per_file):
        group = list(zip(specs, namespaces, strict=True))[start:start + per_file]
        if per_file == 1:
            sources.update(generate_network(*group[0]))
            continue
        includes = []
        for spec, ns in group:
            for name, text in generate_network(spec, ns).items():
                # Not compiled on their own: included by the group's translation unit.
                name = name + ".inc" if name.endswith(".cpp") else name
                sources[name] = text
                if name.endswith(".inc"):
                    includes.append(f'#include "{name}"')
        sources[f"tb_group_{start // per_file:04d}.cpp"] = "\n".join(includes) + "\n"
    sources["fixsim_networks.h"] = _networks_header(namespaces)
    return sources
