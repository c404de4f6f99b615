"""The common form every result source loads to: :class:`Result`.

A result is a set of per-layer outputs ("taps") of one network on N frames, either raw
mantissas in the layer formats (``fixed=True``: a vector set, fixsim, the C simulation,
a cosim run, a hardware capture) or float values (``fixed=False``: a float64 or PyTorch
run), with optional labels, frame ids and per-frame cycle counts.  Tap arrays may be
``np.memmap`` views of files: nothing here reads more than it is asked for.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..errors import InputError


@dataclass
class Result:
    """Per-layer outputs of a network on N frames, from one source.

    Parameters
    ----------
    source : str
        How it was given on the command line, e.g. ``"csim:vectors/specklenn-snl-default"``.
    kind : str
        The source kind (``vectors``, ``fixsim``, ``float``, ``torch``, ``csim``, ``cosim``,
        ``taps``, ``hw``).
    spec : ModelSpec or None
        The network; needed for formats (fixed taps) and shapes.
    taps : dict
        Layer name (``"input"`` or a spec layer) -> array (N, *layer shape): raw integer
        mantissas when ``fixed``, float values otherwise.  Any integer width; memmaps welcome.
    fixed : bool
    labels : ndarray of int64 (N,), optional
        Class ids of the frames (ids into ``class_names``).
    frame_ids : ndarray of int64 (N,), optional
        Frame identifiers (default ``0 .. N-1``); comparisons align frames by id.
    cycles : ndarray (N,), optional
        Per-frame latency in cycles, with ``cycle_source`` "firmware" or "model".
    info : dict
        Provenance: paths, checksums, tool output, a hardware report's summary.

    Raises
    ------
    InputError
        Taps of different frame counts, wrong shapes for the spec, non-integer fixed taps,
        non-numeric float taps, bad labels/ids/cycles.
    """

    source: str
    kind: str
    spec: object
    taps: dict
    fixed: bool
    labels: np.ndarray | None = None
    frame_ids: np.ndarray | None = None
    cycles: np.ndarray | None = None
    cycle_source: str | None = None
    class_names: list | None = None
    info: dict = field(default_factory=dict)

    def __post_init__(self):
        counts = {name: arr.shape[0] if np.ndim(arr) else None for name, arr in self.taps.items()}
        if len(set(counts.values())) > 1:
            raise InputError(f"{self.source}: taps hold different numbers of frames {counts}")
        for name, arr in self.taps.items():
            kind = np.asarray(arr[:0]).dtype.kind
            if self.fixed and kind not in "iu":
                raise InputError(f"{self.source}: tap {name!r} must hold raw integers, got "
                                 f"dtype {arr.dtype}")
            if not self.fixed and kind not in "fiu":
                raise InputError(f"{self.source}: tap {name!r} must hold numbers, got {arr.dtype}")
            if self.spec is not None:
                want = self.shape_of(name)
                if tuple(arr.shape[1:]) != want:
                    if int(np.prod(arr.shape[1:])) != int(np.prod(want)) or arr.ndim < 1:
                        raise InputError(f"{self.source}: tap {name!r} has shape "
                                         f"{tuple(arr.shape)}, expected (N, "
                                         f"{', '.join(map(str, want))})")
                    self.taps[name] = arr.reshape((arr.shape[0],) + want)
        n = self.n
        for what in ("labels", "frame_ids", "cycles"):
            value = getattr(self, what)
            if value is None:
                continue
            value = np.asarray(value)
            if value.shape != (n,) or value.dtype.kind not in "iu":
                raise InputError(f"{self.source}: {what} must be {n} integers, got "
                                 f"{value.dtype} {value.shape}")
            setattr(self, what, value.astype(np.int64))
        if self.frame_ids is not None and len(np.unique(self.frame_ids)) != n:
            raise InputError(f"{self.source}: frame ids are not unique")

    @property
    def n(self) -> int:
        """Number of frames (0 when there are no taps)."""
        for arr in self.taps.values():
            return int(arr.shape[0])
        return 0 if self.frame_ids is None else len(self.frame_ids)

    @property
    def ids(self) -> np.ndarray:
        """Frame ids, ``0 .. N-1`` unless the source gave others."""
        return self.frame_ids if self.frame_ids is not None else np.arange(self.n, dtype=np.int64)

    @property
    def layer_names(self) -> list[str]:
        """Tap names in dataflow order (``input`` first), as far as the spec knows them."""
        if self.spec is None:
            return list(self.taps)
        order = ["input"] + [l.name for l in self.spec.layers]
        return [name for name in order if name in self.taps]

    @property
    def output_layer(self) -> str | None:
        """The spec's last layer (the embedding of SpeckleNN), if this result has it."""
        if self.spec is None:
            return None
        name = self.spec.layers[-1].name
        return name if name in self.taps else None

    def shape_of(self, name: str) -> tuple[int, ...]:
        """Per-frame shape of tap ``name`` according to the spec."""
        if name == "input":
            return tuple(self.spec.input_shape)
        return tuple(self.spec.layer(name).out_shape)

    def format_of(self, name: str):
        """The :class:`~fixsim.fixed.FixedType` of tap ``name`` (None without a spec)."""
        if self.spec is None:
            return None
        if name == "input":
            return self.spec.input_format
        return self.spec.layer(name).out_format

    def values(self, name: str, rows=slice(None)) -> np.ndarray:
        """Tap ``name`` (rows ``rows``) as float64 values: raw taps times their LSB."""
        arr = np.asarray(self.taps[name][rows])
        if not self.fixed:
            return arr.astype(np.float64)
        fmt = self.format_of(name)
        if fmt is None:
            raise InputError(f"{self.source}: no spec, so the format of {name!r} is unknown "
                             f"(give --model)")
        return arr.astype(np.float64) * fmt.lsb

    def describe(self) -> dict:
        """A JSON-able summary: source, kind, frames, layers, fixed or float, provenance."""
        return {"source": self.source, "kind": self.kind, "fixed": self.fixed, "frames": self.n,
                "spec": None if self.spec is None else self.spec.name,
                "spec_sha256": None if self.spec is None else self.spec.spec_hash(),
                "layers": self.layer_names, "labels": self.labels is not None,
                "cycles": self.cycles is not None, "cycle_source": self.cycle_source,
                **({"info": self.info} if self.info else {})}


__all__ = ["Result"]
