"""The SpeckleNN model in PyTorch: training and inference variants, BatchNorm folding.

This package imports torch; everything else in fixsim imports it lazily (inside
functions), so that the fixed-point core works without the ``model`` extra.
The numpy-only helpers (:mod:`fixsim.model.preprocess`, :mod:`fixsim.model.weights`)
do not import torch.
"""

from __future__ import annotations

#: Parameter count of the inference variant at 65x65 input, latent 50 (the paper's 64.6K).
INFERENCE_PARAMETERS = 64_660

#: Input side length in pixels.
IMAGE_SIZE = 65

#: Embedding dimension.
LATENT_DIM = 50
