"""ONNX and QONNX models into a :class:`~fixsim.network.importers.graph.Graph`.

Read with the ``onnx`` package alone (``pip install 'fixsim[import]'``): the graph, its
initializers and ``Constant`` nodes, shapes from ``onnx.shape_inference``.  The ops are
those of the PyTorch importer (:data:`OPS`); ``Dropout`` and ``Identity`` are dropped.

QONNX ``Quant`` nodes (``x, scale, zero_point, bitwidth``; attributes ``signed``,
``narrow``, ``rounding_mode``) with a power-of-two scale ``2^-F`` (one value, or the same
value on every channel) and a zero zero-point become formats: ``bitwidth`` B bits of which
``B - F`` integer, ``ap_fixed`` if signed else ``ap_ufixed``; ``rounding_mode`` ROUND ->
``AP_RND_CONV``, FLOOR -> ``AP_TRN``, ROUND_TO_ZERO -> ``AP_TRN_ZERO``, CEIL ->
``AP_RND_INF`` is not the same (refused); ``narrow`` -> ``AP_SAT_SYM``, else ``AP_SAT``.  On
a weight or bias it fixes that tensor's format (and the tensor becomes the quantized
values); on the data path it fixes the format there: the input's, or the result of the
layer before it.  The float comparison runs the source without its data-path quantizers.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..._files import require
from ...errors import InputError
from .graph import Graph, Op, layer_name

QUANT_DOMAINS = ("qonnx.custom_op.general", "finn.custom_op.general", "finn", "qonnx")
ROUNDING = {"ROUND": "AP_RND_CONV", "FLOOR": "AP_TRN", "ROUND_TO_ZERO": "AP_TRN_ZERO"}
DROPPED = ("Dropout", "Identity")


def load(path: str):
    """The ONNX model proto of ``path`` (checked by ``onnx.checker`` where it applies)."""
    onnx = require("onnx", "import")
    p = Path(path)
    if not p.is_file():
        raise InputError(f"model file {path!r} does not exist")
    try:
        model = onnx.load(str(p))
    except Exception as exc:
        raise InputError(f"{path!r} is not a readable ONNX file "
                         f"({str(exc).splitlines()[0] if str(exc) else type(exc).__name__})") from None
    if not model.graph.node:
        raise InputError(f"{path!r} holds no ONNX graph nodes")
    return model


def _attrs(node) -> dict:
    from onnx import helper

    return {a.name: helper.get_attribute_value(a) for a in node.attribute}


def _text(v):
    return v.decode() if isinstance(v, bytes) else v


def _quant_format(node, consts, what: str) -> tuple[str, float, dict]:
    """(format text, scale, attributes) of a QONNX Quant node."""
    a = _attrs(node)
    scale = np.asarray(consts.get(node.input[1]), np.float64) if node.input[1] in consts else None
    zp = np.asarray(consts.get(node.input[2]), np.float64) if node.input[2] in consts else None
    bits = np.asarray(consts.get(node.input[3]), np.float64) if node.input[3] in consts else None
    if scale is None or zp is None or bits is None:
        raise InputError(f"Quant node {node.name!r}: scale, zero point and bit width must be "
                         "constants")
    s = np.unique(scale.reshape(-1))
    if s.size != 1 or s[0] <= 0 or not float(np.log2(s[0])).is_integer():
        raise InputError(f"Quant node {node.name!r} ({what}): scale {scale.reshape(-1)[:4]} is "
                         "not one power of two; only power-of-two scales map to ap_fixed")
    if np.any(zp != 0):
        raise InputError(f"Quant node {node.name!r} ({what}): zero point {zp.reshape(-1)[:4]} is "
                         "not zero")
    b = np.unique(bits.reshape(-1))
    if b.size != 1 or not float(b[0]).is_integer() or b[0] < 1:
        raise InputError(f"Quant node {node.name!r}: bit width {bits} is not one integer")
    width, frac = int(b[0]), int(-np.log2(s[0]))
    mode = _text(a.get("rounding_mode", "ROUND")).upper()
    if mode not in ROUNDING:
        raise InputError(f"Quant node {node.name!r}: rounding_mode {mode!r} has no ap_fixed "
                         f"mode; fixsim maps {', '.join(ROUNDING)}")
    signed = bool(a.get("signed", 1))
    narrow = bool(a.get("narrow", 0))
    ovf = "AP_SAT_SYM" if narrow else "AP_SAT"
    if narrow and not signed:
        raise InputError(f"Quant node {node.name!r}: narrow unsigned ranges have no ap_fixed "
                         "overflow mode")
    kind = "ap_fixed" if signed else "ap_ufixed"
    return f"{kind}<{width},{width - frac},{ROUNDING[mode]},{ovf}>", float(s[0]), a


def _quantize(values: np.ndarray, fmt: str) -> np.ndarray:
    """The values Quant produces: the format's rounding and saturation, as floats."""
    from ...fixed import quantize, to_float

    return to_float(quantize(np.asarray(values, np.float64), fmt, warn=False), fmt)


class _Reader:
    def __init__(self, model):
        onnx = require("onnx", "import")
        from onnx import numpy_helper, shape_inference

        self.model = model
        try:
            inferred = shape_inference.infer_shapes(model)
        except Exception:  # custom domains (QONNX) may stop inference; shapes then come below
            inferred = model
        g = inferred.graph
        self.consts = {t.name: numpy_helper.to_array(t).astype(np.float64)
                       if numpy_helper.to_array(t).dtype.kind == "f"
                       else numpy_helper.to_array(t) for t in g.initializer}
        self.shapes = {}
        for vi in list(g.value_info) + list(g.input) + list(g.output):
            self.shapes[vi.name] = _dims(vi)
        self.graph = g
        self.onnx = onnx
        self.used: set = set()
        self.ops: list[Op] = []
        self.act_quants: list[str] = []  # data-path Quant nodes (bypassed in the reference)
        self.weight_quants: dict = {}  # Quant output -> quantized float values

    def name(self, node) -> str:
        parts = [p for p in node.name.strip("/").split("/") if p]
        base = parts[-2] if len(parts) >= 2 else node.op_type.lower()
        return layer_name(base, self.used)

    def const(self, node, idx: int, what: str):
        if idx >= len(node.input) or not node.input[idx]:
            return None
        key = node.input[idx]
        if key in self.weight_quants:
            return self.weight_quants[key]
        if key not in self.consts:
            raise InputError(f"node {node.name!r} ({node.op_type}): its {what} {key!r} is not a "
                             "constant; fixsim imports chains of layers with constant weights")
        return np.asarray(self.consts[key], np.float64)

    def read(self) -> Graph:
        g = self.graph
        inputs = [i for i in g.input if i.name not in self.consts]
        if len(inputs) != 1:
            raise InputError(f"the ONNX graph takes {len(inputs)} inputs; fixsim imports one")
        inp = inputs[0]
        dims = _dims(inp)
        if dims is None or len(dims) < 2 or any(not isinstance(d, int) for d in dims[1:]):
            raise InputError(f"ONNX input {inp.name!r} has dynamic or unknown shape {dims}; "
                             "fixsim needs static (C, H, W), (C, L) or (F,) dims after the batch")
        shape = tuple(dims[1:])
        batch = dims[0] if isinstance(dims[0], int) else 1
        in_shape, in_fmt = shape, None
        cur = inp.name
        formats = {}  # role -> format of the tensor quantizers of the next MAC layer
        for node in g.node:
            op = node.op_type
            if op == "Constant":
                self.constant(node)
                continue
            if op != "Quant" and node.input and all(
                    i in self.consts or not i for i in node.input):
                self.fold(node)  # shape arithmetic on constants (e.g. an exported pad)
                continue
            if op == "Shape" and node.input[0] == cur:  # x.view(x.size(0), -1): static here
                self.consts[node.output[0]] = np.array([batch, *shape], np.int64)
                continue
            if op == "Quant" and node.input[0] != cur:
                fmt, _, _ = _quant_format(node, self.consts, "weight")
                src = self.const(node, 0, "quantized tensor")
                self.weight_quants[node.output[0]] = _quantize(src, fmt)
                formats[node.output[0]] = fmt
                continue
            if cur not in node.input:
                raise InputError(f"node {node.name!r} ({op}) does not take the previous layer's "
                                 "output: fixsim imports chains of layers (no branches or merges)")
            if op == "Quant":
                fmt, _, _ = _quant_format(node, self.consts, "activation")
                if not self.ops:
                    in_fmt = fmt
                else:
                    self.ops[-1].formats["result"] = fmt
                self.act_quants.append(node.name)
            elif op in DROPPED:
                pass
            else:
                shape = self.map(node, op, shape, formats)
            cur = node.output[0]
        outs = [o.name for o in g.output]
        if outs != [cur]:
            raise InputError(f"the ONNX graph's outputs {outs} are not the end of its layer chain")
        return Graph(in_shape, self.ops, input_name=inp.name, input_format=in_fmt)

    def constant(self, node):
        from onnx import numpy_helper

        a = node.attribute[0]
        if a.name == "value":
            arr = numpy_helper.to_array(a.t)
        elif a.name in ("value_float", "value_int"):
            arr = np.array(a.f if a.name == "value_float" else a.i)
        elif a.name in ("value_floats", "value_ints"):
            arr = np.array(list(a.floats) if a.name == "value_floats" else list(a.ints))
        else:
            raise InputError(f"Constant node {node.name!r}: attribute {a.name!r} not supported")
        self.consts[node.output[0]] = arr.astype(np.float64) if arr.dtype.kind == "f" else arr

    def fold(self, node):
        """Evaluate a node whose inputs are all constants (``onnx.reference``)."""
        from onnx import helper, numpy_helper
        from onnx.reference import ReferenceEvaluator

        inputs = [i for i in node.input if i]
        inits = [numpy_helper.from_array(np.asarray(self.consts[i]), i) for i in inputs]
        outs = [helper.make_tensor_value_info(o, 0, None) for o in node.output]
        g = helper.make_graph([node], "fold", [], outs, inits)
        opset = [o for o in self.model.opset_import if o.domain in ("", "ai.onnx")]
        try:
            values = ReferenceEvaluator(helper.make_model(g, opset_imports=opset)).run(None, {})
        except Exception as exc:
            raise InputError(f"node {node.name!r} ({node.op_type}) on constants could not be "
                             f"evaluated: {type(exc).__name__}: {exc}".splitlines()[0]) from None
        for name, v in zip(node.output, values, strict=True):
            self.consts[name] = np.asarray(v)

    def add(self, node, kind, attrs=None, tensors=None, formats=None, name=None):
        self.ops.append(Op(kind, name or self.name(node), f"node {node.name!r} ({node.op_type})",
                           attrs or {}, tensors or {}, formats or {}))

    def _tensor_formats(self, node, roles) -> dict:
        out = {}
        for idx, role in roles:
            if idx < len(node.input) and node.input[idx] in self.weight_quants:
                q = next(n for n in self.graph.node if n.output and n.output[0] == node.input[idx])
                out[role] = _quant_format(q, self.consts, role)[0]
        return out

    def map(self, node, op, shape, formats):  # noqa: C901 - one table-like dispatch
        a = _attrs(node)
        out_shape = self.out_shape(node, shape)
        if op == "Conv":
            return self.conv(node, a, shape, out_shape)
        if op in ("Gemm", "MatMul"):
            w = self.const(node, 1, "weight")
            if op == "Gemm":
                if a.get("transA", 0) or a.get("alpha", 1.0) != 1.0 or a.get("beta", 1.0) != 1.0:
                    raise InputError(f"unsupported op 'Gemm' at node {node.name!r}: transA/alpha/"
                                     "beta other than 0/1/1")
                w = w if a.get("transB", 0) else w.T
            else:
                if len(shape) != 1:
                    raise InputError(f"unsupported op 'MatMul' at node {node.name!r} on a "
                                     f"{tuple(shape)} map")
                w = w.T
            t = {"weight": w}
            b = self.const(node, 2, "bias") if op == "Gemm" else None
            if b is not None:
                t["bias"] = np.broadcast_to(b, (w.shape[0],)).copy()
            fm = self._tensor_formats(node, [(1, "weight"), (2, "bias")])
            self.add(node, "dense", {"out_features": int(w.shape[0]), "bias": b is not None}, t,
                     fm)
            return (int(w.shape[0]),)
        if op == "Add":
            prev = self.ops[-1] if self.ops else None
            other = [i for i in node.input if i in self.consts or i in self.weight_quants]
            if prev is None or prev.kind != "dense" or prev.attrs["bias"] or len(other) != 1:
                raise InputError(f"unsupported op 'Add' at node {node.name!r} (only a bias "
                                 "after MatMul is imported)")
            idx = list(node.input).index(other[0])
            prev.tensors["bias"] = np.broadcast_to(self.const(node, idx, "bias"),
                                                   (prev.tensors["weight"].shape[0],)).copy()
            prev.attrs["bias"] = True
            prev.formats.update(self._tensor_formats(node, [(idx, "bias")]))
            return shape
        if op == "BatchNormalization":
            self.ops.append(Op("batchnorm_stats", self.name(node),
                               f"node {node.name!r} (BatchNormalization)",
                               {"eps": float(a.get("epsilon", 1e-5))},
                               {"gamma": self.const(node, 1, "scale"),
                                "beta": self.const(node, 2, "bias"),
                                "mean": self.const(node, 3, "mean"),
                                "var": self.const(node, 4, "var")}))
            return shape
        simple = {"Relu": "relu", "Sigmoid": "sigmoid", "Tanh": "tanh"}
        if op in simple:
            self.add(node, simple[op])
            return shape
        if op == "LeakyRelu":
            self.add(node, "leaky_relu", {"alpha": float(a.get("alpha", 0.01))})
            return shape
        if op == "Softmax":
            axis = a.get("axis", -1)
            rank = len(shape) + 1
            if axis % rank != 1:
                raise InputError(f"node {node.name!r} (Softmax): axis {axis}; fixsim's softmax "
                                 "runs over the channels (axis 1)")
            self.add(node, "softmax")
            return shape
        if op in ("MaxPool", "AveragePool"):
            return self.pool(node, op, a, shape, out_shape)
        if op in ("GlobalAveragePool", "GlobalMaxPool"):
            nd = len(shape) - 1
            kind = "avg" if op == "GlobalAveragePool" else "max"
            self.add(node, f"global_{kind}pool{nd}d")
            return (shape[0],)
        if op in ("Flatten", "Reshape"):
            n = int(np.prod(shape))
            if op == "Flatten" and a.get("axis", 1) != 1:
                raise InputError(f"unsupported op 'Flatten' at node {node.name!r}: axis "
                                 f"{a.get('axis')}")
            if op == "Reshape":
                target = [int(v) for v in np.asarray(self.const(node, 1, "shape")).reshape(-1)]
                if len(target) != 2 or target[1] not in (-1, n):
                    if tuple(target[1:]) == tuple(shape):
                        return shape
                    raise InputError(f"unsupported op 'Reshape' at node {node.name!r}: "
                                     f"{tuple(shape)} to {target[1:]} (only flattening)")
            if len(shape) == 1:
                return shape
            self.add(node, "flatten")
            return (n,)
        if op == "Pad":
            return self.pad(node, a, shape)
        raise InputError(f"unsupported op {op!r} at node {node.name!r}; fixsim imports Conv, "
                         "Gemm/MatMul, BatchNormalization, Relu, LeakyRelu, Sigmoid, Tanh, "
                         "Softmax, MaxPool, AveragePool, global pools, Flatten/Reshape, Pad, "
                         "QONNX Quant (docs/import.md)")

    def out_shape(self, node, shape):
        dims = self.shapes.get(node.output[0])
        if dims and all(isinstance(d, int) for d in dims[1:]):
            return tuple(dims[1:])
        return None

    def conv(self, node, a, shape, out_shape):
        w = self.const(node, 1, "weight")
        b = self.const(node, 2, "bias")
        nd = w.ndim - 2
        if a.get("group", 1) != 1 or any(d != 1 for d in a.get("dilations", [1] * nd)):
            raise InputError(f"unsupported op 'Conv' at node {node.name!r}: groups/dilations")
        if _text(a.get("auto_pad", "NOTSET")) not in ("NOTSET", "VALID"):
            raise InputError(f"unsupported op 'Conv' at node {node.name!r}: auto_pad "
                             f"{_text(a.get('auto_pad'))}; export with explicit pads")
        pads = list(a.get("pads", [0] * (2 * nd)))
        begin, end = pads[:nd], pads[nd:]
        stride = list(a.get("strides", [1] * nd))
        fm = self._tensor_formats(node, [(1, "weight"), (2, "bias")])
        name = self.name(node)
        if begin != end:  # asymmetric: a zero padding layer first
            self.pad_layer(node, begin, end, nd, layer_name(f"{name}_pad", self.used))
            shape = (shape[0],) + tuple(shape[1 + i] + begin[i] + end[i] for i in range(nd))
            begin = [0] * nd
        attrs = {"out_channels": int(w.shape[0]), "bias": b is not None}
        if nd == 1:
            attrs.update(kernel=int(w.shape[2]), stride=int(stride[0]), padding=int(begin[0]))
        else:
            attrs.update(kernel=[int(k) for k in w.shape[2:]], stride=[int(s) for s in stride],
                         padding=[int(p) for p in begin])
        t = {"weight": w}
        if b is not None:
            t["bias"] = b
        self.add(node, f"conv{nd}d", attrs, t, fm, name=name)
        k = w.shape[2:]
        return (int(w.shape[0]),) + tuple((shape[1 + i] + 2 * begin[i] - k[i]) // stride[i] + 1
                                          for i in range(nd))

    def pad_layer(self, node, begin, end, nd, used):
        if nd == 1:
            attrs = {"padding": [int(begin[0]), int(end[0])]}
        else:
            attrs = {"padding": [[int(begin[0]), int(end[0])], [int(begin[1]), int(end[1])]]}
        self.ops.append(Op(f"zeropad{nd}d", used, f"node {node.name!r} ({node.op_type} pads)",
                           attrs))

    def pool(self, node, op, a, shape, out_shape):
        nd = len(shape) - 1
        k = [int(v) for v in a["kernel_shape"]]
        s = [int(v) for v in a.get("strides", k)]
        pads = [int(v) for v in a.get("pads", [0] * (2 * nd))]
        ceil = bool(a.get("ceil_mode", 0))
        if any(d != 1 for d in a.get("dilations", [1] * nd)):
            raise InputError(f"unsupported op {op!r} at node {node.name!r}: dilations")
        if op == "MaxPool":
            if any(pads):
                raise InputError(f"unsupported op 'MaxPool' at node {node.name!r}: pads {pads}")
            attrs = {"ceil_mode": ceil}
            attrs.update({"kernel": k[0], "stride": s[0]} if nd == 1 else
                         {"kernel": k, "stride": s})
            self.add(node, f"maxpool{nd}d", attrs)
            out = [-(-(shape[1 + i] - k[i]) // s[i]) + 1 if ceil else
                   (shape[1 + i] - k[i]) // s[i] + 1 for i in range(nd)]
            if ceil:  # PyTorch's rule: the last window starts inside the input
                out = [o - 1 if (o - 1) * s[i] >= shape[1 + i] else o for i, o in enumerate(out)]
            return (shape[0],) + tuple(out)
        begin, end = pads[:nd], pads[nd:]
        if begin != end:
            raise InputError(f"unsupported op 'AveragePool' at node {node.name!r}: asymmetric "
                             f"pads {pads}")
        floor = tuple((shape[1 + i] + 2 * begin[i] - k[i]) // s[i] + 1 for i in range(nd))
        if ceil and out_shape is not None and tuple(out_shape[1:]) != floor:
            raise InputError(f"unsupported op 'AveragePool' at node {node.name!r}: ceil_mode adds "
                             "a partial window")
        attrs = {"kernel": k[0], "stride": s[0], "padding": begin[0]} if nd == 1 else \
            {"kernel": k, "stride": s, "padding": begin}
        if any(begin):
            attrs["count_pad"] = bool(a.get("count_include_pad", 0))
        self.add(node, f"avgpool{nd}d", attrs)
        return (shape[0],) + floor

    def pad(self, node, a, shape):
        nd = len(shape) - 1
        mode = _text(a.get("mode", "constant"))
        pads = a.get("pads")
        if pads is None:
            pads = [int(v) for v in np.asarray(self.const(node, 1, "pads")).reshape(-1)]
        value = self.const(node, 2, "constant value") if len(node.input) > 2 else 0.0
        if mode != "constant" or np.any(np.asarray(value) != 0) or any(p < 0 for p in pads):
            raise InputError(f"unsupported op 'Pad' at node {node.name!r}: mode {mode!r}, value "
                             f"{value}, pads {pads} (only zero padding)")
        rank = nd + 2
        begin, end = pads[:rank], pads[rank:]
        if begin[:2] != [0, 0] or end[:2] != [0, 0]:
            raise InputError(f"unsupported op 'Pad' at node {node.name!r}: pads the batch or "
                             "channel dims")
        self.pad_layer(node, begin[2:], end[2:], nd, self.name(node))
        return (shape[0],) + tuple(shape[1 + i] + begin[2 + i] + end[2 + i] for i in range(nd))


def _dims(vi):
    t = vi.type.tensor_type
    if not t.HasField("shape"):
        return None
    return [d.dim_value if d.HasField("dim_value") else (d.dim_param or "?") for d in t.shape.dim]


def read(model) -> tuple[Graph, list]:
    """The layer chain of an ONNX model proto, and the names of its data-path Quant nodes."""
    r = _Reader(model)
    g = r.read()
    return g, r.act_quants


def run_source(model, x: np.ndarray, act_quants=()) -> np.ndarray:
    """The ONNX model in float64 (``onnx.reference``), data-path Quant nodes bypassed and
    weight Quant nodes replaced by their quantized constants."""
    require("onnx", "import")
    from onnx.reference import ReferenceEvaluator

    m = _as_double(model, set(act_quants))
    try:
        sess = ReferenceEvaluator(m)
        name = [i.name for i in m.graph.input if i.name not in
                {t.name for t in m.graph.initializer}][0]
        y = sess.run(None, {name: np.asarray(x, np.float64)})[0]
    except Exception as exc:
        raise InputError(f"onnx.reference could not run the model in float64: "
                         f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
                         ) from None
    return np.asarray(y, np.float64)


def _as_double(model, act_quants: set):
    """A float64 copy: float tensors widened, Quant nodes resolved (see :func:`run_source`)."""
    import copy

    from onnx import TensorProto, helper, numpy_helper

    m = copy.deepcopy(model)
    g = m.graph
    consts = {t.name: numpy_helper.to_array(t) for t in g.initializer}
    new_init = []
    for t in g.initializer:
        arr = numpy_helper.to_array(t)
        if arr.dtype.kind == "f":
            arr = arr.astype(np.float64)
        new_init.append(numpy_helper.from_array(arr, t.name))
    del g.initializer[:]
    g.initializer.extend(new_init)
    nodes = []
    for node in g.node:
        if node.op_type == "Constant":
            for a in node.attribute:
                if a.name == "value" and numpy_helper.to_array(a.t).dtype.kind == "f":
                    consts[node.output[0]] = numpy_helper.to_array(a.t)
                    a.t.CopyFrom(numpy_helper.from_array(
                        numpy_helper.to_array(a.t).astype(np.float64), a.t.name))
            nodes.append(node)
        elif node.op_type == "Quant":
            if node.name in act_quants:
                nodes.append(helper.make_node("Identity", [node.input[0]], [node.output[0]],
                                              name=node.name))
            else:
                fmt, _, _ = _quant_format(node, {k: np.asarray(v, np.float64) for k, v in
                                                 consts.items()}, "weight")
                val = _quantize(np.asarray(consts[node.input[0]], np.float64), fmt)
                g.initializer.append(numpy_helper.from_array(val, node.output[0]))
        elif node.op_type == "Cast":
            for a in node.attribute:
                if a.name == "to" and a.i == TensorProto.FLOAT:
                    a.i = TensorProto.DOUBLE
            nodes.append(node)
        else:
            nodes.append(node)
    del g.node[:]
    g.node.extend(nodes)
    for vi in list(g.input) + list(g.output):
        if vi.type.tensor_type.elem_type == TensorProto.FLOAT:
            vi.type.tensor_type.elem_type = TensorProto.DOUBLE
    del g.value_info[:]
    keep = [o for o in m.opset_import if o.domain in ("", "ai.onnx")]
    del m.opset_import[:]
    m.opset_import.extend(keep)
    return m


__all__ = ["load", "read", "run_source", "ROUNDING", "QUANT_DOMAINS"]
