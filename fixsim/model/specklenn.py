"""SpeckleNN (LeNetSmall-style) in PyTorch: training variant, inference variant, folding.

Both variants share the layer geometry of the paper's 64.6K-parameter network::

    input (N, 1, 65, 65), per-image standardized
    conv1 1->7 5x5 -> [BN] -> ReLU -> MaxPool 2x2 s2 ceil   (7, 31, 31)
    conv2 7->3 5x5 -> [BN] -> ReLU -> MaxPool 2x2 s2 ceil   (3, 14, 14)
    flatten (c, h, w) 588 -> fc1 100 -> ReLU -> fc2 50

The training variant has bias-free convolutions each followed by ``BatchNorm2d`` and an
L2-normalized output. The inference variant (what the FPGA runs) has the BatchNorm folded
into the convolution weights and biases and no normalization. Because BatchNorm sits
between the convolution and the ReLU, folding is exact up to float rounding.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from ..errors import InputError
from . import IMAGE_SIZE, LATENT_DIM

#: Layer widths: conv1 and conv2 output channels, square kernel side, fc1 width.
CONV1_OUT, CONV2_OUT, KERNEL, HIDDEN = 7, 3, 5, 100


def flat_features(image_size: int = IMAGE_SIZE) -> int:
    """Length of the flattened conv2 output for a square input of ``image_size`` pixels.

    Ceil-mode pooling: ``ceil((s - 4) / 2)`` per stage (61 -> 31, 27 -> 14 at 65 px).
    """
    s = image_size
    for _ in range(2):
        s = s - KERNEL + 1
        if s < 1:
            raise InputError(f"image_size {image_size} is too small for two 5x5 convolutions")
        s = -(-s // 2)
    return CONV2_OUT * s * s


def _as_batch(x: torch.Tensor) -> torch.Tensor:
    """Accept (N, H, W) or (N, 1, H, W)."""
    if x.dim() == 3:
        x = x.unsqueeze(1)
    if x.dim() != 4 or x.shape[1] != 1:
        raise InputError(f"input must have shape (N, H, W) or (N, 1, H, W), got {tuple(x.shape)}")
    return x


class SpeckleNNTrain(nn.Module):
    """Training variant: bias-free convs with BatchNorm, L2-normalized embedding.

    Parameters
    ----------
    image_size : int
        Square input side in pixels (65 for SpeckleNN).
    latent_dim : int
        Embedding dimension (50).
    """

    def __init__(self, image_size: int = IMAGE_SIZE, latent_dim: int = LATENT_DIM):
        super().__init__()
        self.image_size = image_size
        self.latent_dim = latent_dim
        self.conv1 = nn.Conv2d(1, CONV1_OUT, KERNEL, bias=False)
        self.bn1 = nn.BatchNorm2d(CONV1_OUT)
        self.conv2 = nn.Conv2d(CONV1_OUT, CONV2_OUT, KERNEL, bias=False)
        self.bn2 = nn.BatchNorm2d(CONV2_OUT)
        self.fc1 = nn.Linear(flat_features(image_size), HIDDEN)
        self.fc2 = nn.Linear(HIDDEN, latent_dim)

    def embed_raw(self, x: torch.Tensor) -> torch.Tensor:
        """Embedding before the final L2 normalization, shape (N, latent_dim)."""
        x = _as_batch(x)
        x = F.max_pool2d(F.relu(self.bn1(self.conv1(x))), 2, 2, ceil_mode=True)
        x = F.max_pool2d(F.relu(self.bn2(self.conv2(x))), 2, 2, ceil_mode=True)
        x = F.relu(self.fc1(torch.flatten(x, 1)))
        return self.fc2(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """L2-normalized embedding, shape (N, latent_dim)."""
        return F.normalize(self.embed_raw(x), p=2.0, dim=1)


class SpeckleNNInference(nn.Module):
    """Inference variant: convs with bias (BatchNorm folded in), no normalization.

    State-dict names are exactly ``conv1.weight`` (7,1,5,5), ``conv1.bias``,
    ``conv2.weight`` (3,7,5,5), ``conv2.bias``, ``fc1.weight`` (100,588), ``fc1.bias``,
    ``fc2.weight`` (50,100), ``fc2.bias``: 64,660 parameters at 65x65, latent 50.
    """

    def __init__(self, image_size: int = IMAGE_SIZE, latent_dim: int = LATENT_DIM):
        super().__init__()
        self.image_size = image_size
        self.latent_dim = latent_dim
        self.conv1 = nn.Conv2d(1, CONV1_OUT, KERNEL, bias=True)
        self.conv2 = nn.Conv2d(CONV1_OUT, CONV2_OUT, KERNEL, bias=True)
        self.fc1 = nn.Linear(flat_features(image_size), HIDDEN)
        self.fc2 = nn.Linear(HIDDEN, latent_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Raw embedding, shape (N, latent_dim)."""
        x = _as_batch(x)
        x = F.max_pool2d(F.relu(self.conv1(x)), 2, 2, ceil_mode=True)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2, 2, ceil_mode=True)
        x = F.relu(self.fc1(torch.flatten(x, 1)))
        return self.fc2(x)


def count_parameters(model: nn.Module) -> int:
    """Number of trainable scalars in ``model``."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def init_weights(model: SpeckleNNTrain, generator: torch.Generator) -> None:
    """Seeded initialization: Kaiming-normal (ReLU gain) for convs and fc1, zero biases.

    fc2 feeds no ReLU, so it gets Xavier-normal. BatchNorm starts as the identity.
    Every draw comes from ``generator`` so that a seed fixes the initial model.
    """
    with torch.no_grad():
        for conv in (model.conv1, model.conv2):
            nn.init.kaiming_normal_(conv.weight, nonlinearity="relu", generator=generator)
        nn.init.kaiming_normal_(model.fc1.weight, nonlinearity="relu", generator=generator)
        nn.init.xavier_normal_(model.fc2.weight, generator=generator)
        nn.init.zeros_(model.fc1.bias)
        nn.init.zeros_(model.fc2.bias)
        for bn in (model.bn1, model.bn2):
            bn.reset_parameters()
            bn.reset_running_stats()


def _fold_conv_bn(conv: nn.Conv2d, bn: nn.BatchNorm2d) -> tuple[torch.Tensor, torch.Tensor]:
    """W' = W * g / sqrt(v + eps) per output channel; b' = beta - m * g / sqrt(v + eps).

    Computed in float64 and rounded once to float32, so the fold adds a single rounding.
    """
    scale = bn.weight.double() / torch.sqrt(bn.running_var.double() + bn.eps)
    w = conv.weight.double() * scale.view(-1, 1, 1, 1)
    b = bn.bias.double() - bn.running_mean.double() * scale
    if conv.bias is not None:
        b = b + conv.bias.double() * scale
    return w.float(), b.float()


def fold_batchnorm(model: SpeckleNNTrain) -> SpeckleNNInference:
    """Fold the BatchNorm running statistics of ``model`` into an inference model.

    The result equals ``model.eval().embed_raw`` (the training variant in eval mode,
    without the final normalization) up to float32 rounding.

    Parameters
    ----------
    model : SpeckleNNTrain
        A trained model; its BatchNorm running statistics are used (eval-mode semantics).

    Returns
    -------
    SpeckleNNInference
        A new model in eval mode; ``model`` is not modified.
    """
    out = SpeckleNNInference(model.image_size, model.latent_dim)
    with torch.no_grad():
        for conv, bn, dst in ((model.conv1, model.bn1, out.conv1),
                              (model.conv2, model.bn2, out.conv2)):
            w, b = _fold_conv_bn(conv, bn)
            dst.weight.copy_(w)
            dst.bias.copy_(b)
        out.fc1.load_state_dict(model.fc1.state_dict())
        out.fc2.load_state_dict(model.fc2.state_dict())
    return out.eval()
