"""A trained-model directory: float and folded weights (.pt and .npz) plus ``model.json``.

Layout::

    model_float.pt       training-variant state dict (BatchNorm, no conv bias)
    model_folded.pt      inference-variant state dict (BatchNorm folded)
    weights_folded.npz   the folded weights as numpy arrays (names as in the state dict)
    model.json           format, versions, geometry, class names, training record,
                         and the sha256 of every file above
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from .._version import __version__
from .._files import write_bytes_atomic, write_text_atomic
from ..errors import InputError
from .._files import sha256_file as file_sha256

FORMAT = "fixsim-specklenn-model/1"
FLOAT_PT, FOLDED_PT, FOLDED_NPZ, MODEL_JSON = (
    "model_float.pt", "model_folded.pt", "weights_folded.npz", "model.json")


def umask_permissions(path: "str | os.PathLike") -> None:
    """Give ``path`` the usual 0666 & ~umask mode (mkstemp behind atomic writes makes 0600)."""
    mask = os.umask(0)
    os.umask(mask)
    os.chmod(path, 0o666 & ~mask)


def torch_save_atomic(obj, path: "str | os.PathLike") -> None:
    """``torch.save`` through a temporary file renamed into place.

    Serialized in memory first: torch names the zip archive after the file it writes,
    so saving to a random temporary name would make equal weights differ in bytes.
    """
    import io

    import torch

    buf = io.BytesIO()
    torch.save(obj, buf)
    write_bytes_atomic(path, buf.getvalue())
    umask_permissions(path)


def folded_numpy(model) -> dict[str, np.ndarray]:
    """State dict of an inference model as float32 numpy arrays."""
    return {k: v.detach().cpu().numpy().astype(np.float32) for k, v in model.state_dict().items()}


def save_model_dir(out: "str | os.PathLike", train_model, class_names: list[str],
                   record: dict) -> dict:
    """Fold ``train_model`` and write the model directory ``out`` (created if needed).

    Parameters
    ----------
    out : path
        Directory; its parent must exist.
    train_model : SpeckleNNTrain
    class_names : list of str
    record : dict
        Training record (config, seed, data checksum, command, history) kept in model.json.

    Returns
    -------
    dict
        The model.json content.
    """
    from ..model.specklenn import count_parameters, fold_batchnorm
    from ..model.weights import save_npz
    import torch

    out = Path(out)
    out.mkdir(exist_ok=True)
    folded = fold_batchnorm(train_model)
    torch_save_atomic(train_model.state_dict(), out / FLOAT_PT)
    torch_save_atomic(folded.state_dict(), out / FOLDED_PT)
    save_npz(out / FOLDED_NPZ, folded_numpy(folded))
    info = {
        "format": FORMAT,
        "fixsim_version": __version__,
        "torch_version": str(torch.__version__),
        "image_size": train_model.image_size,
        "latent_dim": train_model.latent_dim,
        "inference_parameters": count_parameters(folded),
        "class_names": list(class_names),
        "preprocessing": "per-image standardization (x - mean) / std (std 0 -> 1)",
        "normalize_embeddings": True,
        "train": record,
        "files": {name: file_sha256(out / name) for name in (FLOAT_PT, FOLDED_PT, FOLDED_NPZ)},
    }
    write_text_atomic(out / MODEL_JSON, json.dumps(info, indent=2, sort_keys=True) + "\n")
    for name in (FOLDED_NPZ, MODEL_JSON):
        umask_permissions(out / name)
    return info


def load_model_dir(path: "str | os.PathLike"):
    """Load the folded inference model of a model directory, verifying checksums.

    Returns
    -------
    model : SpeckleNNInference
        In eval mode.
    info : dict
        The model.json content.

    Raises
    ------
    InputError
        Missing directory or files, unknown format, or a checksum mismatch.
    """

    from ..model.specklenn import SpeckleNNInference

    path = Path(path)
    meta = path / MODEL_JSON
    if not meta.is_file():
        raise InputError(f"{str(path)!r} is not a model directory (no {MODEL_JSON})")
    from .._files import read_text, torch_load

    try:
        info = json.loads(read_text(meta, "model description"))
    except InputError:
        raise
    except ValueError as exc:
        raise InputError(f"{str(meta)!r} is not valid JSON: {exc}") from None
    if not isinstance(info, dict):
        raise InputError(f"{str(meta)!r} must hold a JSON object")
    if info.get("format") != FORMAT:
        raise InputError(f"{str(meta)!r} has format {info.get('format')!r}, expected {FORMAT!r}")
    for name, digest in info.get("files", {}).items():
        f = path / name
        if not f.is_file():
            raise InputError(f"model file {str(f)!r} is missing")
        if file_sha256(f) != digest:
            raise InputError(f"model file {str(f)!r} does not match its sha256 in {MODEL_JSON}")
    model = SpeckleNNInference(info["image_size"], info["latent_dim"])
    state = torch_load(path / FOLDED_PT, "model weights")
    try:
        model.load_state_dict(state)
    except RuntimeError as exc:
        raise InputError(f"{str(path / FOLDED_PT)!r} does not fit the model: "
                         f"{str(exc).splitlines()[0]}") from None
    return model.eval(), info
