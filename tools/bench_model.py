"""Throughput of the SpeckleNN float paths, measured in one run on this machine.

    python tools/bench_model.py [--frames 512] [--threads 2]

Prints frames/s of the torch inference variant, of the float64 numpy reference
(``fixsim.model.weights.reference_forward``) and of training steps (batch 64, with and
without augmentation), and their ratios.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def _rate(fn, n_frames: int, repeat: int = 3) -> float:
    fn()  # warm-up
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return n_frames / best


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--frames", type=int, default=512)
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args(argv)

    import torch

    from fixsim.model.specklenn import SpeckleNNTrain, fold_batchnorm, init_weights
    from fixsim.model.weights import reference_forward
    from fixsim.train.augment import augment, standardize_torch
    from fixsim.train.triplet import triplet_loss

    torch.set_num_threads(args.threads)
    g = torch.Generator().manual_seed(0)
    model = SpeckleNNTrain()
    init_weights(model, g)
    folded = fold_batchnorm(model.eval())
    x = torch.randn(args.frames, 65, 65, generator=g)
    weights = {k: v.numpy() for k, v in folded.state_dict().items()}

    def torch_infer():
        with torch.no_grad():
            folded(x)

    def numpy_ref():
        reference_forward(weights, x[:64].numpy())

    model.train()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    xb, yb = x[:64], torch.arange(64) % 4

    def step(aug):
        def run():
            for _ in range(4):
                inp = augment(xb, g) if aug else xb
                loss, _ = triplet_loss(model(standardize_torch(inp)), yb, 0.2)
                opt.zero_grad()
                loss.backward()
                opt.step()
        return run

    rates = {
        "torch inference (folded)": _rate(torch_infer, args.frames),
        "numpy float64 reference": _rate(numpy_ref, 64),
        "training, no augmentation": _rate(step(False), 256),
        "training, augmentation": _rate(step(True), 256),
    }
    base = rates["torch inference (folded)"]
    print(f"torch {torch.__version__}, {args.threads} threads")
    for name, r in rates.items():
        print(f"  {name:<28} {r:10.0f} frames/s   {r / base:6.3f}x torch inference")
    return 0


if __name__ == "__main__":
    sys.exit(main())
