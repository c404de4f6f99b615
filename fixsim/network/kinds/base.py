"""What one layer type of the Python twin provides: :class:`LayerKind` and its parse context.

A kind is a stateless object registered under its spec ``type`` name in
:data:`fixsim.network.kinds.REGISTRY`.  The spec loader, :func:`fixsim.network.run_float`
and the prepared :class:`~fixsim.network.Model` call nothing else per layer type.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from ...fixed import FixedType
from ..spec_types import Layer, Options


@dataclass(frozen=True)
class ParseContext:
    """What a layer's parser knows besides its JSON object.

    where : str
        ``"layer 3 ('conv2')"``, the prefix of every error message.
    in_shape, in_format
        The previous layer's output (or the spec input).
    options : Options
        The spec's global datapath options (a layer may override them).
    hwc_source : (C, H, W) or None
        Set when the input is a flatten in hwc order (elementwise layers in between):
        a dense layer permutes its PyTorch-order weight columns with it.
    dialect : Dialect or None
        The spec's dialect (:mod:`fixsim.network.dialect`): MAC layers take their
        strategy and reuse factor, flatten its default order.
    """

    where: str
    name: str
    in_shape: tuple[int, ...]
    in_format: FixedType
    options: Options
    hwc_source: tuple[int, int, int] | None = None
    dialect: Any = None

    def common(self) -> dict:
        """The fields every :class:`~fixsim.network.spec_types.Layer` takes from its context."""
        return dict(name=self.name, in_shape=tuple(self.in_shape), in_format=self.in_format)


class LayerKind:
    """One layer type of the Python twin (subclass it in a module of this package).

    Class attributes
    ----------------
    name : str
        The spec ``"type"``.
    allowed, required : tuple of str
        Spec keys of the layer object (``name``, ``type`` and the derived keys included).
    elementwise : bool
        Values keep their positions (an activation): the feature order seen by a later
        dense layer passes through.
    fuses_with : tuple of str
        Types of a *next* layer that :meth:`run_fused` can compute together with this one.

    A kind implements :meth:`parse`, :meth:`run` and :meth:`run_float`; layers with
    weights also :meth:`prepare` (their tensors are declared by the layer value,
    :meth:`~fixsim.network.spec_types.Layer.tensors`).
    """

    name: ClassVar[str] = ""
    allowed: ClassVar[tuple[str, ...]] = ()
    required: ClassVar[tuple[str, ...]] = ("name", "type")
    elementwise: ClassVar[bool] = False
    fuses_with: ClassVar[tuple[str, ...]] = ()

    # ------------------------------------------------------------ spec
    def parse(self, obj: dict, ctx: ParseContext) -> Layer:
        """Validate the layer object (keys already checked) and infer its shapes and formats.

        Raises InputError / FormatError with ``ctx.where`` in front.
        """
        raise NotImplementedError(f"layer type {self.name!r} has no parser")

    # ------------------------------------------------------------ exact twin
    def prepare(self, layer: Layer, weights: dict[str, np.ndarray], method: str) -> Any:
        """Everything the weights alone determine, built once by :func:`fixsim.network.prepare`.

        ``weights`` are the checked raw int64 tensors of the whole spec; ``method`` is the
        layer's evaluation method ("auto" unless the user forced one).  The result is
        passed back to :meth:`run` as ``state`` (default: None, nothing to prepare).
        """
        return None

    def reshapes(self, layer: Layer) -> bool:
        """True when the output is the input reshaped (same values in the same order):
        its tap is then a view of the previous tap and :meth:`run` returns a view."""
        return False

    def run(self, layer: Layer, state: Any, x: np.ndarray, io) -> np.ndarray:
        """Bit-exact forward of a slice of the batch.

        Parameters
        ----------
        x : (n, *layer.in_shape) raw mantissas in ``layer.in_format`` (int16/32/64)
        io : fixsim.network.prepared.Slot
            ``io.dst(scratch=None)`` gives the array to write, (n, *layer.out_shape) in
            the output's carry dtype (the tap's rows when taps are kept); ``io.keep``
            (taps are kept), ``io.used`` (``{layer name: method}`` report).

        Returns
        -------
        The output rows: ``io.dst()`` written, or another array of that shape (a view).
        """
        raise NotImplementedError(f"layer type {self.name!r} has no exact runner")

    def pre_result(self, layer: Layer, state: Any, x: np.ndarray) -> np.ndarray | None:
        """For a layer with a result format of its own (``layer.converts``): the exact
        values it converts into it, in its input format; None when the layer has no such
        single conversion."""
        return None

    def run_counted(self, layer: Layer, state: Any, x: np.ndarray,
                    events: dict) -> np.ndarray | None:
        """The counted run of a layer without weights (``Model.run(events=...)``): its
        int64 output, computed with every conversion counted into ``events`` (``{tensor:
        {"n", "rounded", "saturated", "wrapped"}}``), or None when it has no counters
        (then :meth:`run` runs and the layer's events are not known).  Default: the
        conversion of :meth:`pre_result` into the result format (``"result"``)."""
        if not getattr(layer, "converts", False):
            return None
        pre = self.pre_result(layer, state, x)
        if pre is None:
            return None
        from ...layers._counting import convert_events, slot

        return convert_events(pre, layer.in_format, layer.result,
                               slot(events, "result"))

    def run_fused(self, layer: Layer, state: Any, nxt: Layer, x: np.ndarray, io, nio):
        """This layer and the next one (of a type in :attr:`fuses_with`) in one pass.

        Returns ``(y, ny)``: both outputs, or ``(y, None)`` when only this layer ran
        (then the next runs on its own).
        """
        return self.run(layer, state, x, io), None

    # ------------------------------------------------------------ float twin
    def run_float(self, layer: Layer, x: np.ndarray, weights: dict[str, np.ndarray]) -> np.ndarray:
        """Float64 forward of a batch (no quantization); ``weights`` are float arrays by
        tensor name, in PyTorch layout."""
        raise NotImplementedError(f"layer type {self.name!r} has no float twin")

    def __repr__(self) -> str:
        return f"<layer kind {self.name!r}>"


__all__ = ["LayerKind", "ParseContext"]
