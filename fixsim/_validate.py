"""Value validation at the boundary: one wording for every command's messages.

Every check raises :class:`~fixsim.errors.InputError` with the name, the rule and the
value, e.g. ``seed must be an integer >= 0, got -1``.

>>> check_int("seed", 3, minimum=0)
3
>>> check_int("seed", -1, minimum=0)
Traceback (most recent call last):
...
fixsim.errors.InputError: seed must be an integer >= 0, got -1
>>> check_number("margin", float("nan"), minimum=0)
Traceback (most recent call last):
...
fixsim.errors.InputError: margin must be a finite number >= 0, got nan
"""

from __future__ import annotations

import math
import numbers

from .errors import InputError


def _rule(kind: str, minimum, maximum, exclusive_min: bool = False) -> str:
    parts = []
    if minimum is not None:
        parts.append(f"{'>' if exclusive_min else '>='} {minimum}")
    if maximum is not None:
        parts.append(f"<= {maximum}")
    return f"{kind} " + " and ".join(parts) if parts else kind


def check_int(name: str, value, minimum: "int | None" = None, maximum: "int | None" = None,
              error: type = InputError) -> int:
    """Return ``value`` as an int, or raise ``error`` naming the rule and the value.

    ``error`` is :class:`InputError` for values given by the user, :class:`FormatError`
    for the fields of a fixed-point format.
    """
    ok = isinstance(value, numbers.Integral) and not isinstance(value, bool)
    if ok:
        value = int(value)
        ok = (minimum is None or value >= minimum) and (maximum is None or value <= maximum)
    if not ok:
        raise error(f"{name} must be {_rule('an integer', minimum, maximum)}, got {value!r}")
    return value


def check_number(name: str, value, minimum: "float | None" = None, maximum: "float | None" = None,
                 exclusive_min: bool = False) -> float:
    """Return ``value`` as a finite float, or raise naming the rule and the value."""
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool)
    if ok:
        value = float(value)
        ok = math.isfinite(value)
        if ok and minimum is not None:
            ok = value > minimum if exclusive_min else value >= minimum
        if ok and maximum is not None:
            ok = value <= maximum
    if not ok:
        rule = _rule("a finite number", minimum, maximum, exclusive_min)
        raise InputError(f"{name} must be {rule}, got {value!r}")
    return value


def check_choice(name: str, value, choices) -> str:
    """Return ``value`` if it is one of ``choices``, else raise with the closest name."""
    from .errors import closest

    choices = list(choices)
    if value not in choices:
        raise InputError(f"unknown {name} {value!r}{closest(str(value), choices)}; "
                         f"choose from {', '.join(map(str, choices))}")
    return value
