"""Training, few-shot classification and evaluation of SpeckleNN.

:mod:`fixsim.train.fewshot` and :mod:`fixsim.train.metrics` are numpy-only; the
training modules import torch (the ``model`` extra).
"""
