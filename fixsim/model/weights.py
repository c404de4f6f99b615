"""Folded inference weights as numpy arrays (no torch): names, shapes, npz I/O, reference.

The ``.npz`` form lets non-torch code (the fixed-point simulator, the C simulation,
weight loaders for the board) read the golden model. The float64 forward pass here is
the slow, obviously-correct reference for the inference variant.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..errors import InputError

#: Names and shapes of the folded inference weights at 65x65 input, latent 50.
WEIGHT_SHAPES: dict[str, tuple[int, ...]] = {
    "conv1.weight": (7, 1, 5, 5),
    "conv1.bias": (7,),
    "conv2.weight": (3, 7, 5, 5),
    "conv2.bias": (3,),
    "fc1.weight": (100, 588),
    "fc1.bias": (100,),
    "fc2.weight": (50, 100),
    "fc2.bias": (50,),
}


def check_weights(weights: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Validate names and shapes of a folded-weight dict; return float32 copies.

    Raises
    ------
    InputError
        On a missing or extra name, a wrong shape, or a non-finite value.
    """
    missing = sorted(set(WEIGHT_SHAPES) - set(weights))
    extra = sorted(set(weights) - set(WEIGHT_SHAPES))
    if missing or extra:
        raise InputError(f"weights: missing {missing!r}, unexpected {extra!r}")
    out = {}
    for name, shape in WEIGHT_SHAPES.items():
        arr = np.asarray(weights[name], dtype=np.float32)
        if arr.shape != shape:
            raise InputError(f"weights[{name!r}] has shape {arr.shape!r}, expected {shape!r}")
        if not np.all(np.isfinite(arr)):
            raise InputError(f"weights[{name!r}] holds NaN or infinite values")
        out[name] = arr
    return out


def save_npz(path: "str | os.PathLike", weights: dict[str, np.ndarray]) -> None:
    """Write validated folded weights to ``path`` atomically (uncompressed npz)."""
    from .._files import atomic_path

    checked = check_weights(weights)
    with atomic_path(path, suffix=".npz") as tmp:
        with open(tmp, "wb") as fh:
            np.savez(fh, **checked)


def load_npz(path: "str | os.PathLike") -> dict[str, np.ndarray]:
    """Read and validate folded weights written by :func:`save_npz`."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"weights file {str(path)!r} does not exist")
    try:
        with np.load(path, allow_pickle=False) as z:
            raw = {k: z[k] for k in z.files}
    except (OSError, ValueError) as exc:
        raise InputError(f"cannot read weights file {str(path)!r}: {exc}") from None
    return check_weights(raw)


def _conv2d_valid(x: np.ndarray, w: np.ndarray, b: np.ndarray) -> np.ndarray:
    """y[n,o,i,j] = b[o] + sum_{c,u,v} x[n,c,i+u,j+v] w[o,c,u,v] (cross-correlation)."""
    k = w.shape[-1]
    win = np.lib.stride_tricks.sliding_window_view(x, (k, k), axis=(2, 3))
    return np.einsum("ncijuv,ocuv->noij", win, w, optimize=True) + b[None, :, None, None]


def _maxpool2_ceil(x: np.ndarray) -> np.ndarray:
    """2x2 stride-2 max pool, ceil mode: partial edge windows pool their valid elements."""
    n, c, h, w = x.shape
    ph, pw = -(-h // 2) * 2, -(-w // 2) * 2
    padded = np.full((n, c, ph, pw), -np.inf)
    padded[:, :, :h, :w] = x
    return padded.reshape(n, c, ph // 2, 2, pw // 2, 2).max(axis=(3, 5))


def reference_forward(weights: dict[str, np.ndarray], x: np.ndarray) -> np.ndarray:
    """Float64 forward pass of the inference variant (slow reference).

    Parameters
    ----------
    weights : dict of str to ndarray
        Folded weights, names and shapes as in :data:`WEIGHT_SHAPES`.
    x : ndarray, shape (N, 65, 65)
        Standardized input images.

    Returns
    -------
    ndarray, float64, shape (N, 50)
        Raw (unnormalized) embeddings.
    """
    wt = {k: v.astype(np.float64) for k, v in check_weights(weights).items()}
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 3 or x.shape[1:] != (65, 65):
        raise InputError(f"input must have shape (N, 65, 65), got {x.shape!r}")
    h = x[:, None]
    h = _maxpool2_ceil(np.maximum(_conv2d_valid(h, wt["conv1.weight"], wt["conv1.bias"]), 0))
    h = _maxpool2_ceil(np.maximum(_conv2d_valid(h, wt["conv2.weight"], wt["conv2.bias"]), 0))
    h = h.reshape(len(h), -1)  # (c, h, w) order, as torch.flatten
    h = np.maximum(h @ wt["fc1.weight"].T + wt["fc1.bias"], 0)
    return h @ wt["fc2.weight"].T + wt["fc2.bias"]
