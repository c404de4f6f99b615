"""dense: fully connected layer on a flat (F,) input, fused bias and activation.

Spec: ``out_features`` and the MAC fields of :mod:`.mac`.  Tensors: ``weight`` (Out, In)
with the In columns in PyTorch (c, h, w) order even after an hwc flatten (the memory is
then in ``dense_hwc`` order), ``bias`` (Out,).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...errors import InputError
from ...layers import _kernels_narrow as KN
from ...layers import dense, dense_float, hwc_permutation
from .. import schema as S
from ..spec_types import MacLayer
from .mac import MAC_KEYS, MacKind


@dataclass(frozen=True, kw_only=True)
class Dense(MacLayer):
    """Fully connected layer.  ``input_permutation`` is set when its input is an hwc flatten:
    the (C, H, W) shape that was flattened, so that the PyTorch-order (c, h, w) weight
    columns can be permuted to the hwc feature order."""

    out_features: int
    input_permutation: tuple[int, int, int] | None = None
    type = "dense"

    @property
    def weight_shape(self) -> tuple[int, ...]:
        return (self.out_features, self.in_shape[0])

    def _own(self) -> dict:
        return {"out_features": self.out_features, **self._mac_fields()}

    def to_dict(self, resolved: bool = False) -> dict:
        d = super().to_dict(resolved)
        if resolved:
            d["input_permutation"] = (None if self.input_permutation is None
                                      else list(self.input_permutation))
        return d


class DenseKind(MacKind):
    name = "dense"
    allowed = MAC_KEYS + ("out_features",)
    required = ("name", "type", "out_features", "formats")

    def parse(self, obj, ctx):
        if len(ctx.in_shape) != 1:
            raise InputError(f"{ctx.where}: dense needs a flat input (F,), got shape "
                             f"{tuple(ctx.in_shape)}; add a flatten layer before it")
        n = S.integer(obj["out_features"], "out_features", ctx.where)
        return self.mac_layer(Dense, obj, ctx, out_shape=(n,), out_features=n,
                              input_permutation=ctx.hwc_source)

    def exact(self, layer, step, x):
        return dense(x, step.w, step.bias, step.cfg, method=step.method, return_method=True)

    def narrow(self, layer, step, x, plan, dst):
        acc_dt, fin32 = plan
        acc = np.empty(len(step.wn), acc_dt)
        KN._dense(x, step.wn, step.bias_acc, *step.finish_args(fin32), acc, dst)

    def run_float(self, layer, x, weights):
        w = weights[f"{layer.name}.weight"]
        if layer.input_permutation is not None:
            w = w[:, hwc_permutation(*layer.input_permutation)]
        return self.activate_float(layer, dense_float(x, w, weights.get(f"{layer.name}.bias")))


KINDS = (DenseKind(),)
