"""conv2d: 2-D convolution of a (C, H, W) map (cross-correlation, as PyTorch), fused
bias and activation, symmetric zero padding (docs/datapath.md).

Spec: ``out_channels``, ``kernel`` (int or [kh, kw]), ``stride`` (default 1),
``padding`` ("valid", "same" for odd kernels, or [ph, pw]) and the MAC fields of
:mod:`.mac`.  Tensors: ``weight`` (Cout, C, KH, KW), ``bias`` (Cout,).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...errors import InputError, closest
from ...layers import _kernels_narrow as KN
from ...layers import conv2d, conv2d_float
from .. import schema as S
from ..spec_types import MacLayer
from .mac import MAC_KEYS, MacKind, MacStep


@dataclass(frozen=True, kw_only=True)
class Conv2D(MacLayer):
    """2-D convolution (cross-correlation, as PyTorch), symmetric zero padding."""

    out_channels: int
    kernel: tuple[int, int]
    stride: tuple[int, int]
    padding: tuple[int, int]
    type = "conv2d"

    @property
    def weight_shape(self) -> tuple[int, ...]:
        return (self.out_channels, self.in_shape[0]) + self.kernel

    def _own(self) -> dict:
        return {"out_channels": self.out_channels, "kernel": list(self.kernel),
                "stride": list(self.stride), "padding": list(self.padding), **self._mac_fields()}


def _padding(pad, kh: int, kw: int, where: str) -> tuple[int, int]:
    if pad == "valid":
        return 0, 0
    if pad == "same":
        if kh % 2 == 0 or kw % 2 == 0:
            raise InputError(f"{where}: padding 'same' needs an odd kernel (symmetric zero "
                             f"padding), got {[kh, kw]}; give [ph, pw] explicitly")
        return (kh - 1) // 2, (kw - 1) // 2
    if isinstance(pad, str):
        raise InputError(f"{where}: padding {pad!r} is not 'valid', 'same' or [ph, pw]"
                         f"{closest(pad, ('valid', 'same'))}")
    return S.pair(pad, "padding", where, minimum=0)


#: Output rows are computed in multiples of this many columns (whole AVX2 vectors of int32).
_LANES = 8


def _conv_operands(x, layer: Conv2D, acc_dt):
    """The zero-padded input and the sum row of the narrow conv kernel.

    With a column stride of 1 (row stride > 1) and int32 sums the row is widened to a
    multiple of :data:`_LANES` and the input gets as many extra zero columns on the right:
    the extra sums are computed and never read (only the first OW enter the result
    stage), and the loop has no scalar remainder.  Stride 1 in both directions needs no
    extra column (the kernel runs over a whole output plane, ``_conv_plane``).
    """
    ph, pw = layer.padding
    ow = layer.out_shape[2]
    rows = layer.stride[1] == 1 and layer.stride[0] != 1 and acc_dt == np.int32
    extra = (-ow) % _LANES if rows else 0
    if ph or pw or extra:  # (np.pad costs more than the copy at batch 1)
        n, c, h, w = x.shape
        xp = np.zeros((n, c, h + 2 * ph, w + 2 * pw + extra), x.dtype)
        xp[:, :, ph:ph + h, pw:pw + w] = x
        x = xp
    return x, np.empty(ow + extra, acc_dt)


class Conv2DKind(MacKind):
    name = "conv2d"
    allowed = MAC_KEYS + ("out_channels", "kernel", "stride", "padding")
    required = ("name", "type", "out_channels", "kernel", "formats")
    fuses_with = ("maxpool2d",)

    def parse(self, obj, ctx):
        where = ctx.where
        c, h, w = S.spatial(ctx.in_shape, where, "conv2d")
        kh, kw = S.pair(obj["kernel"], "kernel", where)
        sh, sw = S.pair(obj.get("stride", 1), "stride", where)
        ph, pw = _padding(obj.get("padding", "valid"), kh, kw, where)
        oh, ow = (h + 2 * ph - kh) // sh + 1, (w + 2 * pw - kw) // sw + 1
        if h + 2 * ph < kh or w + 2 * pw < kw:
            raise InputError(f"{where}: kernel {[kh, kw]} is larger than the padded input "
                             f"{[h + 2 * ph, w + 2 * pw]} (input shape {tuple(ctx.in_shape)})")
        cout = S.integer(obj["out_channels"], "out_channels", where)
        return self.mac_layer(Conv2D, obj, ctx, out_shape=(cout, oh, ow), out_channels=cout,
                              kernel=(kh, kw), stride=(sh, sw), padding=(ph, pw))

    def exact(self, layer, step, x, events=None):
        return conv2d(x, step.w, step.bias, step.cfg, stride=layer.stride, padding=layer.padding,
                      method=step.method, return_method=True, events=events)

    def narrow(self, layer, step, x, plan, dst):
        acc_dt, fin32 = plan
        xp, acc = _conv_operands(x, layer, acc_dt)
        KN._conv(xp, step.wn, step.bias_acc, *layer.stride, *step.finish_args(fin32), acc, dst)

    def run_fused(self, layer, step: MacStep, pool, x, io, pio):
        """conv + activation + max pool image by image (the narrow kernels only; a pool
        with a result format of its own runs on its own)."""
        plan = step.plan(x)
        if plan is None or pool.converts:
            return self.run(layer, step, x, io), None
        acc_dt, fin32 = plan
        dst = io.dst(None if io.keep else 1)  # the conv tap's rows, or one image's scratch
        pdst = pio.dst()
        xp, acc = _conv_operands(x, layer, acc_dt)
        rowmax = np.empty(layer.out_shape[2], dst.dtype)
        KN._conv_pool(xp, step.wn, step.bias_acc, *layer.stride, *step.finish_args(fin32), acc,
                      dst, io.keep, *pool.kernel, *pool.stride, rowmax, pdst)
        io.used[layer.name] = "direct"
        return dst, pdst

    def run_float(self, layer, x, weights):
        y = conv2d_float(x, weights[f"{layer.name}.weight"], weights.get(f"{layer.name}.bias"),
                         stride=layer.stride, padding=layer.padding)
        return self.activate_float(layer, y)


KINDS = (Conv2DKind(),)
