"""Seeded checkpoints of the models in import_models.py (shared by the import tests)."""

from pathlib import Path

import torch

import import_models


def checkpoint(tmp_path: Path, cls_name: str, seed: int = 0, **kwargs) -> Path:
    """A state dict of ``cls_name`` with seeded weights; BatchNorm statistics and affine
    parameters drawn away from the identity, so folding is exercised."""
    torch.manual_seed(seed)
    model = getattr(import_models, cls_name)(**kwargs)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d)):
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.5, 2.0)
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.2, 0.2)
    path = tmp_path / f"{cls_name}.pt"
    torch.save(model.state_dict(), path)
    return path


def module(cls_name: str, ckpt: Path, **kwargs):
    model = getattr(import_models, cls_name)(**kwargs)
    model.load_state_dict(torch.load(ckpt, weights_only=True))
    return model.eval()
