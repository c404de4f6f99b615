"""PyTorch models into a :class:`~fixsim.network.importers.graph.Graph`.

Two sources: a module given as ``FILE.py:Class`` (constructor arguments as JSON) with a
state dict or checkpoint, or a ``torch.export`` file (``.pt2``, :func:`torch.export.save`).
The module is traced with ``torch.export`` (a ``torch.fx`` graph of ATen ops with static
shapes), so ``nn`` modules and their functional forms (``F.relu``, ``torch.flatten``,
``x.view``) arrive as the same ops; each op is mapped by :data:`OPS` and anything else is
refused naming the op and the node.  Layers are named after their ``nn`` module
(``features.0`` -> ``features_0``) or, for functional calls, after the traced node
(``relu_1``), as hls4ml's PyTorch converter names them.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import re
import sys
from pathlib import Path

import numpy as np

from ..._files import require, torch_load
from ...errors import InputError, closest
from .graph import Graph, Op, layer_name

#: ATen ops that pass their input on unchanged (dropout in eval mode, copies).
IDENTITY = ("dropout", "dropout_", "feature_dropout", "alpha_dropout", "alias", "clone",
            "contiguous", "detach", "identity")
#: ATen ops with no data (shape assertions torch.export inserts).
IGNORED_PREFIXES = ("_assert", "sym_", "_check")
#: ATen ops reading a map's spatial positions (their input must still be a map).
_VIEW_OPS = ("view", "reshape", "_unsafe_view", "flatten")


# ------------------------------------------------------------------ loading
def load_class(target: str, args_json: str | None):
    """Instantiate ``FILE.py:Class`` with ``args_json`` (a JSON list or object)."""
    torch = require("torch", "model")
    path_text, sep, cls_name = target.rpartition(":")
    if not sep or not path_text.endswith(".py") or not cls_name.isidentifier():
        raise InputError(f"model {target!r} must be FILE.py:Class (a Python file and the "
                         "nn.Module class in it), a .pt2 torch.export file or an .onnx file")
    path = Path(path_text)
    if not path.is_file():
        raise InputError(f"model file {path_text!r} does not exist")
    args, kwargs = _arguments(args_json)
    try:
        module = _import_file(path.resolve())
    except Exception as exc:  # the user's file: any error is an input error
        raise InputError(f"{path_text}: importing it failed: {type(exc).__name__}: "
                         f"{_first_line(exc)}") from None
    cls = getattr(module, cls_name, None)
    if cls is None:
        names = [n for n, v in vars(module).items() if isinstance(v, type)
                 and issubclass(v, torch.nn.Module)]
        raise InputError(f"{path_text} has no class {cls_name!r}{closest(cls_name, names)}")
    if not (isinstance(cls, type) and issubclass(cls, torch.nn.Module)):
        raise InputError(f"{path_text}:{cls_name} is not a torch.nn.Module class")
    try:
        return cls(*args, **kwargs)
    except Exception as exc:
        raise InputError(f"{cls_name}({args_json or ''}) failed: {type(exc).__name__}: "
                         f"{_first_line(exc)}") from None


def _import_file(path: Path):
    """The module of ``path``; a file inside a package is imported as part of it (its
    relative imports work), with the package's root first on ``sys.path`` meanwhile."""
    parts, root = [path.stem], path.parent
    while (root / "__init__.py").is_file():
        parts.insert(0, root.name)
        root = root.parent
    if len(parts) > 1:
        sys.path.insert(0, str(root))
        try:
            return importlib.import_module(".".join(parts))
        finally:
            sys.path.remove(str(root))
    mod_name = f"_fixsim_import_{path.stem}_{abs(hash(str(path)))}"
    spec = importlib.util.spec_from_file_location(mod_name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[mod_name] = module
    spec.loader.exec_module(module)
    return module


def _arguments(args_json):
    if args_json is None:
        return [], {}
    try:
        value = json.loads(args_json)
    except json.JSONDecodeError as exc:
        raise InputError(f"--args is not JSON ({exc.msg} at column {exc.colno}): "
                         f"{args_json!r}") from None
    if isinstance(value, list):
        return value, {}
    if isinstance(value, dict):
        return [], value
    raise InputError(f"--args must be a JSON list (positional) or object (keywords), got {value!r}")


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def load_weights(model, path: str) -> None:
    """Load a state dict or a checkpoint (``{"state_dict": ...}``) into ``model``, strictly."""
    state = torch_load(path, "--weights")
    if isinstance(state, dict):
        for key in ("state_dict", "model_state_dict", "model"):
            if isinstance(state.get(key), dict):
                state = state[key]
                break
    if not isinstance(state, dict):
        raise InputError(f"--weights {path!r} holds a {type(state).__name__}, not a state dict")
    state = {(k[len("module."):] if str(k).startswith("module.") else k): v
             for k, v in state.items()}
    own = model.state_dict()
    missing = [k for k in own if k not in state and not k.endswith("num_batches_tracked")]
    if missing:
        raise InputError(f"--weights {path!r} lacks {len(missing)} tensor(s) of the model: "
                         f"{', '.join(missing[:4])}{' ...' if len(missing) > 4 else ''}")
    extra = [k for k in state if k not in own]
    if extra:
        raise InputError(f"--weights {path!r} holds tensors the model does not have: "
                         f"{', '.join(map(str, extra[:4]))}{closest(str(extra[0]), own)}")
    for k, v in state.items():
        if tuple(v.shape) != tuple(own[k].shape):
            raise InputError(f"--weights {path!r}: {k} has shape {tuple(v.shape)}, the model "
                             f"expects {tuple(own[k].shape)}")
    model.load_state_dict(state, strict=False)


def export(model, input_shape: tuple):
    """``torch.export`` of ``model`` (eval mode) on a batch of 2 frames of ``input_shape``."""
    torch = require("torch", "model")
    model.eval()
    example = torch.zeros((2,) + tuple(input_shape))
    logging.disable(logging.CRITICAL)  # torch logs tracebacks of failed traces itself
    try:
        return torch.export.export(model, (example,))
    except Exception as exc:  # torch raises many types for untraceable code
        raise InputError(f"torch.export could not trace the model on input {tuple(input_shape)}: "
                         f"{type(exc).__name__}: {_first_line(exc)}") from None
    finally:
        logging.disable(logging.NOTSET)


def load_exported(path: str):
    """A ``torch.export`` file (``.pt2``)."""
    torch = require("torch", "model")
    p = Path(path)
    if not p.is_file():
        raise InputError(f"model file {path!r} does not exist")
    logging.disable(logging.CRITICAL)  # torch logs the traceback of a bad archive itself
    try:
        return torch.export.load(str(p))
    except Exception as exc:
        raise InputError(f"{path!r} is not a torch.export file ({_first_line(exc)}); TorchScript "
                         "files are not read: export the module with torch.export.save") from None
    finally:
        logging.disable(logging.NOTSET)


# ------------------------------------------------------------------ the graph
def _shape(node) -> tuple:
    val = node.meta.get("val")
    if val is None or not hasattr(val, "shape"):
        raise InputError(f"node {node.name!r}: torch.export recorded no tensor shape")
    if len(val.shape) < 2:
        raise InputError(f"node {node.name!r}: a tensor of shape {tuple(val.shape)}; fixsim "
                         "imports layers on (N, ...) batches")
    dims = [val.shape[0]]  # the batch may be dynamic
    for d in val.shape[1:]:
        if type(d) is not int:  # a SymInt: a dimension exported as dynamic
            raise InputError(f"node {node.name!r}: dynamic shape {tuple(val.shape)}; fixsim "
                             "needs static frame shapes (export without dynamic_shapes on "
                             "them)")
        dims.append(d)
    return tuple(dims)


def _op_name(node) -> str:
    return str(node.target).split(".")[1] if str(node.target).startswith("aten.") else str(
        getattr(node.target, "__name__", node.target))


def _module_path(node) -> str | None:
    stack = node.meta.get("nn_module_stack") or {}
    if not stack:
        return None
    path, cls = list(stack.values())[-1]
    cls_text = cls if isinstance(cls, str) else f"{cls.__module__}.{cls.__qualname__}"
    return path if path and cls_text.startswith("torch.nn.modules.") else None


class _Walker:
    """Maps the ATen chain of an exported program to :class:`Op` s."""

    def __init__(self, ep):
        self.ep = ep
        self.consts = {}
        sig = ep.graph_signature
        for spec in sig.input_specs:
            if spec.target is None:
                continue
            src = ep.state_dict if spec.target in ep.state_dict else ep.constants
            if spec.target in src:
                self.consts[spec.arg.name] = src[spec.target].detach().double().cpu().numpy()
        self.used: set = set()
        self.ops: list[Op] = []

    def tensor(self, node, arg, what):
        if arg is None:
            return None
        name = getattr(arg, "name", None)
        if name not in self.consts:
            raise InputError(f"node {node.name!r} ({_op_name(node)}): its {what} is computed by "
                             f"the graph ({name!r}), not a stored parameter; fixsim imports "
                             "chains of layers with constant weights")
        return self.consts[name]

    def name(self, node) -> str:
        """``torch.fx``'s name of the call (hls4ml's layer name): the module path of an
        ``nn`` module, else the function's name numbered over the graph (``relu_1``)."""
        path = _module_path(node)
        if path is not None and path.replace(".", "_") not in self.used:
            return layer_name(path, self.used)
        return layer_name(re.sub(r"_\d+$", "", node.name), self.used)

    def add(self, node, kind, attrs=None, tensors=None):
        self.ops.append(Op(kind, self.name(node), f"node {node.name!r} ({_op_name(node)})",
                           attrs or {}, tensors or {}))

    def walk(self) -> Graph:
        graph = self.ep.graph
        users = [n for n in graph.nodes if n.op == "placeholder" and n.name not in self.consts]
        if len(users) != 1:
            raise InputError(f"the model takes {len(users)} inputs; fixsim imports one input tensor")
        inp = users[0]
        in_shape = _shape(inp)[1:]
        cur, shape = inp, in_shape  # shape: the fixsim shape of cur's value
        for node in graph.nodes:
            if node.op in ("placeholder", "get_attr"):
                continue
            if node.op == "output":
                outs = [a for a in _flat(node.args) if a is not None]
                if len(outs) != 1 or outs[0] is not cur:
                    raise InputError("the model's output is not the end of its layer chain "
                                     "(several outputs or a branch)")
                break
            name = _op_name(node)
            if name.startswith(IGNORED_PREFIXES) or (name == "getitem" and node.args[0] is not cur):
                continue
            others = [a for a in _flat(node.args[1:]) if hasattr(a, "op")
                      and a.name not in self.consts]
            if not node.args or node.args[0] is not cur or others:
                raise InputError(f"node {node.name!r} ({name}) does not take the previous layer's "
                                 "output as its input: fixsim imports chains of layers (no "
                                 "branches, skips or merges)")
            shape = self.map(node, name, shape)
            cur = node
        return Graph(tuple(in_shape), self.ops, input_name=inp.name)

    # ------------------------------------------------------------ op mapping
    def map(self, node, name, shape):  # noqa: C901 - one table-like dispatch
        a = list(node.args) + [None] * 10
        out_shape = _shape(node)[1:]
        if name in IDENTITY or name == "getitem":
            if name == "getitem" and a[1] != 0:
                raise InputError(f"node {node.name!r}: item {a[1]} of a multi-output op")
            return shape
        if name in ("conv1d", "conv2d", "convolution"):
            return self.conv(node, name, a, shape, out_shape)
        if name == "linear":
            w = self.tensor(node, a[1], "weight")
            t = {"weight": w}
            if a[2] is not None:
                t["bias"] = self.tensor(node, a[2], "bias")
            self.add(node, "dense", {"out_features": int(w.shape[0]), "bias": a[2] is not None}, t)
            return out_shape
        if name in ("batch_norm", "_native_batch_norm_legit_no_training"):
            eps = a[7] if name == "batch_norm" else a[6]
            if name == "batch_norm" and a[5]:
                raise InputError(f"node {node.name!r}: BatchNorm in training mode")
            c = shape[0]
            gamma = self.tensor(node, a[1], "weight")
            beta = self.tensor(node, a[2], "bias")
            self.ops.append(Op("batchnorm_stats", self.name(node), f"node {node.name!r} ({name})",
                               {"eps": float(eps)},
                               {"gamma": np.ones(c) if gamma is None else gamma,
                                "beta": np.zeros(c) if beta is None else beta,
                                "mean": self.tensor(node, a[3], "running_mean"),
                                "var": self.tensor(node, a[4], "running_var")}))
            return shape
        if name in ("relu", "relu_"):
            self.add(node, "relu")
            return shape
        if name in ("leaky_relu", "leaky_relu_"):
            self.add(node, "leaky_relu", {"alpha": 0.01 if a[1] is None else float(a[1])})
            return shape
        if name in ("sigmoid", "sigmoid_", "tanh", "tanh_"):
            self.add(node, name.rstrip("_"))
            return shape
        if name in ("softmax", "_softmax"):
            dim = a[1] if a[1] is not None else node.kwargs.get("dim")
            if dim not in (1, -(len(shape) + 1) + 1) and not (len(shape) == 1 and dim == -1):
                raise InputError(f"node {node.name!r} (softmax): dim {dim}; fixsim's softmax runs "
                                 "over the channels (dim 1)")
            self.add(node, "softmax")
            return shape
        if name in ("max_pool1d", "max_pool2d", "max_pool2d_with_indices",
                    "max_pool1d_with_indices"):
            return self.maxpool(node, name, a, shape, out_shape)
        if name in ("avg_pool1d", "avg_pool2d"):
            return self.avgpool(node, name, a, shape, out_shape)
        if name in ("adaptive_avg_pool1d", "adaptive_avg_pool2d", "adaptive_max_pool1d",
                    "adaptive_max_pool2d", "mean", "amax"):
            return self.global_pool(node, name, a, shape, out_shape)
        if name in _VIEW_OPS:
            return self.reshape(node, name, a, shape, out_shape)
        if name in ("constant_pad_nd", "pad"):
            return self.pad(node, name, a, shape)
        raise InputError(f"unsupported op {name!r} at node {node.name!r}"
                         f"{' (module ' + _module_path(node) + ')' if _module_path(node) else ''};"
                         " fixsim imports conv, linear, batchnorm, relu, leaky_relu, sigmoid, "
                         "tanh, softmax, max/avg pools, global pools, flatten, zero padding "
                         "(docs/import.md)")

    def conv(self, node, name, a, shape, out_shape):
        w = self.tensor(node, a[1], "weight")
        b = self.tensor(node, a[2], "bias") if a[2] is not None else None
        nd = w.ndim - 2
        if name == "convolution":
            stride, padding, dilation, transposed, groups = a[3], a[4], a[5], a[6], a[8]
            if transposed:
                raise InputError(f"unsupported op 'conv_transpose' at node {node.name!r}")
        else:
            stride, padding, dilation, groups = a[3], a[4], a[5], a[6]
        stride = _ints(stride, nd, 1)
        dilation = _ints(dilation, nd, 1)
        groups = 1 if groups is None else int(groups)
        if any(d != 1 for d in dilation) or groups != 1:
            raise InputError(f"unsupported op {name!r} at node {node.name!r}: dilation "
                             f"{dilation} / groups {groups} (fixsim convs have neither)")
        if padding == "same":
            padding = [(k - 1) // 2 for k in w.shape[2:]]
            if any(k % 2 == 0 for k in w.shape[2:]):
                raise InputError(f"node {node.name!r}: padding 'same' with an even kernel")
        padding = [0] * nd if padding in (None, "valid") else _ints(padding, nd, 0)
        kind = "conv1d" if nd == 1 else "conv2d"
        attrs = {"out_channels": int(w.shape[0]), "bias": b is not None}
        if nd == 1:
            attrs.update(kernel=int(w.shape[2]), stride=stride[0], padding=padding[0])
        else:
            attrs.update(kernel=[int(w.shape[2]), int(w.shape[3])], stride=stride, padding=padding)
        t = {"weight": w}
        if b is not None:
            t["bias"] = b
        self.add(node, kind, attrs, t)
        return out_shape

    def maxpool(self, node, name, a, shape, out_shape):
        nd = 1 if "1d" in name else 2
        k = _ints(a[1], nd, None)
        s = _ints(a[2], nd, None) if a[2] not in (None, []) else k
        p = _ints(a[3], nd, 0) if a[3] is not None else [0] * nd
        dil = _ints(a[4], nd, 1) if a[4] is not None else [1] * nd
        if any(p) or any(d != 1 for d in dil):
            raise InputError(f"unsupported op {name!r} at node {node.name!r}: padding {p} / "
                             f"dilation {dil} (fixsim's max pools have neither)")
        attrs = {"ceil_mode": bool(a[5])}
        if nd == 1:
            attrs.update(kernel=k[0], stride=s[0])
        else:
            attrs.update(kernel=k, stride=s)
        self.add(node, f"maxpool{nd}d", attrs)
        return out_shape

    def avgpool(self, node, name, a, shape, out_shape):
        nd = 1 if "1d" in name else 2
        k = _ints(a[1], nd, None)
        s = _ints(a[2], nd, None) if a[2] not in (None, []) else k
        p = _ints(a[3], nd, 0) if a[3] is not None else [0] * nd
        ceil = bool(a[4])
        count_pad = True if a[5] is None else bool(a[5])
        if nd == 2 and a[6] is not None:
            raise InputError(f"unsupported op {name!r} at node {node.name!r}: divisor_override")
        floor_shape = tuple((shape[1 + i] + 2 * p[i] - k[i]) // s[i] + 1 for i in range(nd))
        if ceil and tuple(out_shape[1:]) != floor_shape:
            raise InputError(f"unsupported op {name!r} at node {node.name!r}: ceil_mode adds a "
                             "partial window (fixsim's average pools have floor windows)")
        attrs = {}
        if nd == 1:
            attrs.update(kernel=k[0], stride=s[0], padding=p[0])
        else:
            attrs.update(kernel=k, stride=s, padding=p)
        if any(p):
            attrs["count_pad"] = count_pad
        self.add(node, f"avgpool{nd}d", attrs)
        return out_shape

    def global_pool(self, node, name, a, shape, out_shape):
        nd = len(shape) - 1
        if nd not in (1, 2):
            raise InputError(f"node {node.name!r} ({name}): needs a (C, L) or (C, H, W) map")
        if name in ("mean", "amax"):
            dims = sorted(d % (nd + 2) for d in _ints(a[1], None, None))
            if dims != list(range(2, nd + 2)):
                raise InputError(f"unsupported op {name!r} at node {node.name!r}: reduces dims "
                                 f"{dims}, not the spatial ones")
            if len(out_shape) != 1:
                out_shape = (shape[0],) + (1,) * nd
        elif any(int(v) != 1 for v in _ints(a[1], nd, None)):
            raise InputError(f"unsupported op {name!r} at node {node.name!r}: output size "
                             f"{a[1]}; only global pooling (output size 1) is imported")
        kind = "avg" if ("avg" in name or name == "mean") else "max"
        self.add(node, f"global_{kind}pool{nd}d")
        return (shape[0],)  # fixsim's global pools emit (C,); a flatten after them is a no-op

    def reshape(self, node, name, a, shape, out_shape):
        n = int(np.prod(shape))
        if len(out_shape) == 1 and out_shape[0] == n:
            if len(shape) == 1:
                return shape  # already flat (e.g. after a global pool)
            self.add(node, "flatten")
            return out_shape
        if tuple(out_shape) == tuple(shape):
            return shape
        raise InputError(f"unsupported op {name!r} at node {node.name!r}: reshape of "
                         f"{tuple(shape)} to {tuple(out_shape)} (only flattening to (N, "
                         f"{n}) is imported)")

    def pad(self, node, name, a, shape):
        pads = _ints(a[1], None, 0)
        value = a[2] if name == "constant_pad_nd" else a[3]
        if name == "pad" and a[2] not in (None, "constant"):
            raise InputError(f"unsupported op 'pad' mode {a[2]!r} at node {node.name!r}")
        if value not in (None, 0, 0.0) or any(p < 0 for p in pads):
            raise InputError(f"unsupported op {name!r} at node {node.name!r}: value {value} / "
                             f"pads {pads} (only zero padding)")
        nd = len(shape) - 1
        if len(pads) == 2 and nd == 1:
            self.add(node, "zeropad1d", {"padding": [pads[0], pads[1]]})
        elif len(pads) == 4 and nd == 2:
            self.add(node, "zeropad2d", {"padding": [[pads[2], pads[3]], [pads[0], pads[1]]]})
        else:
            raise InputError(f"unsupported op {name!r} at node {node.name!r}: padding {pads} of "
                             f"a {tuple(shape)} map (zero padding of the spatial dims only)")
        return (shape[0],) + tuple(
            shape[1 + i] + pads[2 * (nd - 1 - i)] + pads[2 * (nd - 1 - i) + 1] for i in range(nd))


def _flat(args):
    for x in args:
        if isinstance(x, (list, tuple)):
            yield from _flat(x)
        else:
            yield x


def _ints(value, n, default):
    if value is None:
        return [default] * n
    if isinstance(value, (int, float)):
        value = [int(value)] * (n or 1)
    value = [int(v) for v in value]
    if n is not None and len(value) == 1 and n > 1:
        value = value * n
    return value


def graph_from_module(model, input_shape: tuple) -> Graph:
    """The layer chain of ``model`` traced on frames of ``input_shape``."""
    return _Walker(export(model, input_shape)).walk()


def graph_from_exported(ep) -> Graph:
    return _Walker(ep).walk()


class ExportedRunner:
    """An exported program run as the source model: its module in float64, in batches of
    the batch size it was exported with when that is static."""

    def __init__(self, ep):
        self.module = ep.module().double()
        user = [s.arg.name for s in ep.graph_signature.input_specs if s.target is None]
        node = next(n for n in ep.graph.nodes if n.op == "placeholder" and n.name in user)
        b = node.meta["val"].shape[0]
        self.batch = b if type(b) is int else None

    def __call__(self, x):
        torch = require("torch", "model")
        m = self.module
        step = self.batch or len(x)
        outs = []
        with torch.no_grad():
            for i in range(0, len(x), step):
                chunk = torch.from_numpy(np.asarray(x[i:i + step], np.float64))
                if len(chunk) < step:  # pad the last chunk to the exported batch
                    chunk = torch.cat([chunk, chunk.new_zeros((step - len(chunk),)
                                                              + tuple(chunk.shape[1:]))])
                y = m(chunk)
                y = y[0] if isinstance(y, (tuple, list)) else y
                outs.append(y.detach().double().numpy()[:min(step, len(x) - i)])
        return np.concatenate(outs)


def run_source(model, x: np.ndarray) -> np.ndarray:
    """``model`` in float64 on ``x`` (a copy: the imported model is not changed)."""
    import copy

    if isinstance(model, ExportedRunner):
        return model(x)
    torch = require("torch", "model")
    m = copy.deepcopy(model).double().eval()
    with torch.no_grad():
        y = m(torch.from_numpy(np.asarray(x, np.float64)))
    if isinstance(y, (tuple, list)):
        y = y[0]
    return y.detach().cpu().numpy()


__all__ = ["load_class", "load_weights", "export", "load_exported", "graph_from_module",
           "graph_from_exported", "run_source", "IDENTITY"]
