"""argparse value types with the wording of :mod:`fixsim._validate`.

``--seed -1`` fails in argparse with ``argument --seed: seed must be an integer >= 0,
got -1`` (exit 2), the same words a library check would use.  Integers must fit int64
and numbers must be finite unless a command says otherwise.
"""

from __future__ import annotations

import argparse

from .._validate import check_int, check_number
from ..errors import InputError

#: The largest integer any option accepts: values cross into int64 kernels and files.
INT64_MAX = 2**63 - 1

#: Largest seed: numpy and torch both accept it, and it fits int64 in manifests.
SEED_MAX = INT64_MAX


def integer(name: str, minimum: "int | None" = None, maximum: int = INT64_MAX):
    """argparse type: an integer in [minimum, maximum]."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"{name} must be an integer, got {text!r}") from None
        try:
            check_int(name, value, minimum)  # "seed must be an integer >= 0, got -1"
            return check_int(name, value, minimum, maximum)
        except InputError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None
    parse.__name__ = "integer"
    return parse


def number(name: str, minimum: "float | None" = None, maximum: "float | None" = None,
           exclusive_min: bool = False):
    """argparse type: a finite number in the given range."""
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{name} must be a number, got {text!r}") from None
        try:
            return check_number(name, value, minimum, maximum, exclusive_min)
        except InputError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None
    parse.__name__ = "number"
    return parse


def seed(name: str = "seed"):
    """argparse type of every seed option: an integer in [0, 2**63 - 1]."""
    return integer(name, 0, SEED_MAX)
