"""Shared helpers of the HIL tests (a uniquely named module, unlike conftest)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

HERE = Path(__file__).parent
N_IN, N_OUT = 8, 4


def demo_weights() -> np.ndarray:
    """The made-up weight matrix compiled into demo_device.cpp (int16 raw, shape (4, 8))."""
    return np.array([[((j * 7 + i * 13) % 61 - 30) * 37 for i in range(N_IN)] for j in range(N_OUT)],
                    dtype=np.int64)


def demo_reference(x: np.ndarray, w: np.ndarray | None = None) -> np.ndarray:
    """Naive reference of the demo device: wrap16(floor(W @ x / 2^10)) on raw mantissas."""
    w = demo_weights() if w is None else w
    acc = np.asarray(x, dtype=np.int64).reshape(-1, N_IN) @ w.T
    return ((acc >> 10) + (1 << 15)) % (1 << 16) - (1 << 15)


class DotModel:
    """Python device model with the demo device's arithmetic, and loadable weights."""

    def __init__(self, cycles: int = 123):
        self.w = demo_weights()
        self.cycles = cycles

    def __call__(self, words):
        if len(words) != N_IN:
            raise ValueError(f"expected {N_IN} words, got {len(words)}")
        return demo_reference(words, self.w)[0], self.cycles

    def load_weights(self, image: bytes):
        if len(image) != 2 * N_IN * N_OUT:
            raise ValueError(f"weight image must be {2 * N_IN * N_OUT} bytes")
        self.w = np.frombuffer(image, "<i2").astype(np.int64).reshape(N_OUT, N_IN)


def write_vector_set(d: Path, x, y, weights: bytes | None = None, word_bytes: int = 8) -> Path:
    d.mkdir(parents=True, exist_ok=True)
    np.save(d / "inputs.npy", np.asarray(x, dtype=np.int64))
    np.save(d / "expected.npy", np.asarray(y, dtype=np.int64))
    man = {"inputs": "inputs.npy", "expected": "expected.npy", "word_bytes": word_bytes}
    if weights is not None:
        (d / "weights.bin").write_bytes(weights)
        man["weights"] = "weights.bin"
    (d / "manifest.json").write_text(json.dumps(man))
    return d
