"""A HIL device model that is the Python twin: :func:`fixsim.network.run` behind the
device protocol of :mod:`fixsim.hil` (INFER one raw frame, WEIGHTS a weight image).

>>> from fixsim.hil import make_backend, run_vectors
>>> from fixsim.vectors.vectorset import load_vector_set
>>> from fixsim.verify.defaults import default_vectors
>>> vs = load_vector_set(default_vectors())
>>> dev = NetworkDevice(vs.spec)
>>> report = run_vectors(make_backend("loopback", model=dev), vs.inputs, vs.outputs,
...                      word_bytes=2, weights=vs.weight_image_path.read_bytes())
>>> report.passed, report.n_ok
(True, 16)
"""

from __future__ import annotations

import numpy as np

from ..errors import InputError
from ..network.spec import load_spec
from .weight_image import parse_image


class NetworkDevice:
    """``model(words) -> (raw outputs, cycles)`` computed by :func:`fixsim.network.run`.

    Parameters
    ----------
    spec : ModelSpec, name or path
    weights : dict, optional
        Raw weights to start with; otherwise a weight image must be loaded first
        (:meth:`load_weights`, which the HIL WEIGHTS request calls).
    cycles : int or callable
        Cycle count reported with every result (a model, not a measurement): a constant,
        or ``cycles(n_in, n_out) -> int`` such as :class:`fixsim.hil.device.ConstantLatency`.
    """

    def __init__(self, spec, weights: dict | None = None, cycles=0):
        from ..network.weights import check_weights

        self.spec = load_spec(spec)
        self.weights = None if weights is None else check_weights(self.spec, weights)
        if not callable(cycles):
            from .._validate import check_int

            cycles = check_int("cycles (a constant; or give a cycle model)", cycles, minimum=0)
        self.cycles = cycles

    def load_weights(self, image: bytes) -> None:
        """Replace the weights with a weight image (checked; :class:`WeightImageError`)."""
        self.weights = parse_image(image, self.spec).weights

    def __call__(self, words) -> tuple[np.ndarray, int]:
        from ..network.engine import run

        if self.weights is None:
            raise InputError("no weights loaded: send a weight image first")
        words = np.asarray(words, dtype=np.int64)
        size = int(np.prod(self.spec.input_shape))
        if words.size != size:
            raise InputError(f"expected {size} input words, got {words.size}")
        out = run(self.spec, self.weights, words.reshape((1, *self.spec.input_shape)), taps=False,
                  threads=1)[self.spec.layers[-1].name].reshape(-1)
        cycles = self.cycles(words.size, out.size) if callable(self.cycles) else self.cycles
        return out, int(cycles)


__all__ = ["NetworkDevice"]
