"""dense: fully connected layer on a flat (F,) input, fused bias and activation.

Spec: ``out_features`` and the MAC fields of :mod:`.mac`.  Tensors: ``weight`` (Out, In)
with the In columns in PyTorch (c, h, w) order even after an hwc flatten (the memory is
then in ``dense_hwc`` order), ``bias`` (Out,).

On a 1-D map (C, L) (Keras/hls4ml's Dense on an (N, F) tensor, whose rows are fixsim's
positions l and whose features are its channels c) the layer acts on every position
alone: ``out[o, l] = FINISH(A(bias[o]) + sum_c w[o, c] * x[c, l])`` with the terms in
order c = 0..C-1, the output an (Out, L) map; weight (Out, C).
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
        if len(ctx.in_shape) not in (1, 2):
            raise InputError(f"{ctx.where}: dense needs a flat input (F,) or a 1-D map (C, L), "
                             f"got shape {tuple(ctx.in_shape)}; add a flatten layer before it")
        n = S.integer(obj["out_features"], "out_features", ctx.where)
        return self.mac_layer(Dense, obj, ctx, out_shape=(n,) + tuple(ctx.in_shape[1:]),
                              out_features=n, input_permutation=ctx.hwc_source)

    @staticmethod
    def rows(x: np.ndarray) -> np.ndarray:
        """The dense inputs: x itself (N, F), or every position of (N, C, L) as (N*L, C)."""
        return x if x.ndim == 2 else np.ascontiguousarray(x.transpose(0, 2, 1)).reshape(-1, x.shape[1])

    @staticmethod
    def unrows(y: np.ndarray, x: np.ndarray) -> np.ndarray:
        """The outputs of :meth:`rows` back in x's layout ((N*L, O) -> (N, O, L))."""
        return y if x.ndim == 2 else y.reshape(len(x), x.shape[2], -1).transpose(0, 2, 1)

    def exact(self, layer, step, x, events=None):
        y, path = dense(self.rows(x), step.w, step.bias, step.cfg, method=step.method,
                        return_method=True, events=events)
        return self.unrows(y, x), path

    def narrow(self, layer, step, x, plan, dst):
        acc_dt, fin32 = plan
        acc = np.empty(len(step.wn), acc_dt)
        out = dst if x.ndim == 2 else np.empty((len(x) * x.shape[2], len(step.wn)), dst.dtype)
        KN._dense(self.rows(x), step.wn, step.bias_acc, *step.finish_args(fin32), acc, out)
        if out is not dst:
            dst[...] = self.unrows(out, x)

    def run_float(self, layer, x, weights):
        w = weights[f"{layer.name}.weight"]
        if layer.input_permutation is not None:
            w = w[:, hwc_permutation(*layer.input_permutation)]
        y = dense_float(self.rows(x), w, weights.get(f"{layer.name}.bias"))
        return self.activate_float(layer, self.unrows(y, x))


KINDS = (DenseKind(),)
