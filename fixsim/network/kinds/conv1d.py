"""conv1d: 1-D convolution of a (C, L) map (cross-correlation, as PyTorch), fused bias and
activation, zero padding left and right (docs/datapath.md, "Conv1D").

Spec: ``out_channels``, ``kernel`` (int), ``stride`` (int, default 1), ``padding``
("valid", "same" for odd kernels, an int for both sides, or [left, right]) and the MAC
fields of :mod:`.mac`.  Tensors: ``weight`` (Cout, C, K), ``bias`` (Cout,).

A conv1d is the conv2d of the (C, 1, L) map with a (1, K) kernel, stride (1, s) and
padding (0, p): the kh loop has one step, so every output sees its terms in the same
order (``ci_kh_kw``: ci then k; ``kh_kw_ci``: k then ci; ``resource``: the flattened
index ``k*C + ci`` in the order ``ir + R*j``) and the exact paths of
:func:`fixsim.layers.conv2d` and the narrow kernels give the contract's bits.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...errors import InputError, closest
from ...layers import _kernels_narrow as KN
from ...layers import conv2d, conv2d_float
from .. import schema as S
from ..spec_types import MacLayer
from .mac import MAC_KEYS, MacKind, MacStep, prepare_mac

@dataclass(frozen=True, kw_only=True)
class Conv1D(MacLayer):
    """1-D convolution (cross-correlation, as PyTorch), zero padding left and right."""

    out_channels: int
    kernel: int
    stride: int
    padding: tuple[int, int]
    type = "conv1d"

    @property
    def weight_shape(self) -> tuple[int, ...]:
        return (self.out_channels, self.in_shape[0], self.kernel)

    def _own(self) -> dict:
        return {"out_channels": self.out_channels, "kernel": self.kernel, "stride": self.stride,
                "padding": list(self.padding), **self._mac_fields()}


def padding_1d(pad, k: int, where: str) -> tuple[int, int]:
    """``"valid"``, ``"same"`` (odd kernel: (k-1)/2 each side), p or [left, right]."""
    if pad == "valid":
        return 0, 0
    if pad == "same":
        if k % 2 == 0:
            raise InputError(f"{where}: padding 'same' needs an odd kernel (symmetric zero "
                             f"padding), got {k}; give [left, right] explicitly")
        return (k - 1) // 2, (k - 1) // 2
    if isinstance(pad, str):
        raise InputError(f"{where}: padding {pad!r} is not 'valid', 'same', p or [left, right]"
                         f"{closest(pad, ('valid', 'same'))}")
    if isinstance(pad, int) and not isinstance(pad, bool):
        pad = [pad, pad]
    if not isinstance(pad, (list, tuple)) or len(pad) != 2:
        raise InputError(f"{where}: padding must be 'valid', 'same', an integer or "
                         f"[left, right], got {pad!r}")
    return (S.integer(pad[0], "padding", where, minimum=0),
            S.integer(pad[1], "padding", where, minimum=0))


#: Output rows are computed in multiples of this many columns (whole AVX2 vectors of int32).
_LANES = 8


def as_map2d(x: np.ndarray, pad: tuple[int, int], extra: int = 0) -> np.ndarray:
    """A batch of (C, L) maps as (N, C, 1, L + left + right + extra) with zero padding
    (a view when nothing is added)."""
    n, c, length = x.shape
    left, right = pad
    if not (left or right or extra):
        return x.reshape(n, c, 1, length)
    xp = np.zeros((n, c, 1, length + left + right + extra), x.dtype)
    xp[:, :, 0, left:left + length] = x
    return xp


class Conv1DKind(MacKind):
    name = "conv1d"
    allowed = MAC_KEYS + ("out_channels", "kernel", "stride", "padding")
    required = ("name", "type", "out_channels", "kernel", "formats")
    fuses_with = ("maxpool1d",)

    def parse(self, obj, ctx):
        where = ctx.where
        c, length = S.sequence(ctx.in_shape, where, "conv1d")
        k = S.integer(obj["kernel"], "kernel", where)
        s = S.integer(obj.get("stride", 1), "stride", where)
        pl, pr = padding_1d(obj.get("padding", "valid"), k, where)
        if length + pl + pr < k:
            raise InputError(f"{where}: kernel {k} is larger than the padded input "
                             f"{length + pl + pr} (input shape {tuple(ctx.in_shape)})")
        cout = S.integer(obj["out_channels"], "out_channels", where)
        return self.mac_layer(Conv1D, obj, ctx, out_shape=(cout, (length + pl + pr - k) // s + 1),
                              out_channels=cout, kernel=k, stride=s, padding=(pl, pr))

    def prepare(self, layer, weights, method) -> MacStep:
        step = prepare_mac(layer, weights, method)
        cout, c, k = step.w.shape
        step.w = step.w.reshape(cout, c, 1, k)  # the (1, K) kernel of the conv2d kernels
        if step.wn is not None:
            step.wn = step.wn.reshape(cout, c, 1, k)
        return step

    def _operands(self, layer, x):
        """The (N, C, 1, L') input of conv2d and its (0, p) padding (explicit when asymmetric)."""
        pl, pr = layer.padding
        if pl == pr:
            return as_map2d(x, (0, 0)), (0, pl)
        return as_map2d(x, layer.padding), (0, 0)

    def exact(self, layer, step, x, events=None):
        x4, pad = self._operands(layer, x)
        out, path = conv2d(x4, step.w, step.bias, step.cfg, stride=(1, layer.stride), padding=pad,
                           method=step.method, return_method=True, events=events)
        return out.reshape(len(x), *layer.out_shape), path

    def _narrow_operands(self, layer, x, acc_dt):
        """Padded input and sum row of the narrow conv kernel (see conv2d's)."""
        ol = layer.out_shape[1]
        extra = (-ol) % _LANES if (layer.stride == 1 and acc_dt == np.int32) else 0
        return as_map2d(x, layer.padding, extra), np.empty(ol + extra, acc_dt)

    def narrow(self, layer, step, x, plan, dst):
        acc_dt, fin32 = plan
        xp, acc = self._narrow_operands(layer, x, acc_dt)
        KN._conv(xp, step.wn, step.bias_acc, 1, layer.stride, *step.finish_args(fin32), acc,
                 dst.reshape(len(dst), layer.out_channels, 1, -1))

    def run_fused(self, layer, step: MacStep, pool, x, io, pio):
        """conv + activation + max pool image by image (the narrow kernels only)."""
        plan = step.plan(x)
        if plan is None:
            return self.run(layer, step, x, io), None
        acc_dt, fin32 = plan
        dst = io.dst(None if io.keep else 1)
        pdst = pio.dst()
        xp, acc = self._narrow_operands(layer, x, acc_dt)
        rowmax = np.empty(layer.out_shape[1], dst.dtype)
        KN._conv_pool(xp, step.wn, step.bias_acc, 1, layer.stride, *step.finish_args(fin32), acc,
                      dst.reshape(len(dst), layer.out_channels, 1, -1), io.keep, 1, pool.kernel,
                      1, pool.stride, rowmax, pdst.reshape(len(pdst), pool.out_shape[0], 1, -1))
        io.used[layer.name] = "direct"
        return dst, pdst

    def run_float(self, layer, x, weights):
        w = weights[f"{layer.name}.weight"]
        pl, pr = layer.padding
        xp = np.pad(np.asarray(x, np.float64), ((0, 0), (0, 0), (pl, pr)))[:, :, None, :]
        y = conv2d_float(xp, w[:, :, None, :], weights.get(f"{layer.name}.bias"),
                         stride=(1, layer.stride))
        return self.activate_float(layer, y[:, :, 0, :])


KINDS = (Conv1DKind(),)
