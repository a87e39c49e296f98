"""Input validation shared by the public wrappers of :mod:`devices`.

Every message names the parameter, its owner, what is allowed and what was given, in the form
"The 'noise' parameter of WeakResetRRAM must be one of ... Got 'papr' instead. Did you mean 'paper'?"
"""

from __future__ import annotations

import difflib
import numbers
from collections.abc import Iterable

import numpy as np

__all__ = [
    "InvalidParameterError",
    "as_generator",
    "check_choice",
    "check_int",
    "check_real",
    "closest",
    "readonly",
]


class InvalidParameterError(ValueError, TypeError):
    """A public function or class received a parameter of the wrong type or value.

    Subclasses both :class:`ValueError` and :class:`TypeError` so callers may catch either.
    """


def closest(name: str, options: Iterable[str]) -> str:
    """Return `` Did you mean 'x'?`` for the option closest to ``name``, or an empty string."""
    match = difflib.get_close_matches(str(name), list(options), n=1, cutoff=0.5)
    return f" Did you mean {match[0]!r}?" if match else ""


def _fail(
    param: str, owner: str, allowed: str, got: object, hint: str = ""
) -> InvalidParameterError:
    return InvalidParameterError(
        f"The {param!r} parameter of {owner} must be {allowed}. Got {got!r} instead.{hint}"
    )


def check_choice(param: str, value: object, options: Iterable[str], owner: str) -> str:
    """Check that ``value`` is one of the strings ``options``; suggest the closest on failure."""
    options = tuple(options)
    if not isinstance(value, str) or value not in options:
        allowed = "one of " + ", ".join(repr(o) for o in options)
        hint = closest(value, options) if isinstance(value, str) else ""
        raise _fail(param, owner, allowed, value, hint)
    return value


def check_int(
    param: str, value: object, owner: str, low: int | None = None, high: int | None = None
) -> int:
    """Check that ``value`` is an integer (not a bool) in ``[low, high]`` and return it as ``int``."""
    lo = "-inf" if low is None else str(low)
    hi = "inf" if high is None else str(high)
    allowed = f"an int in [{lo}, {hi}]"
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise _fail(param, owner, allowed, value)
    value = int(value)
    if (low is not None and value < low) or (high is not None and value > high):
        raise _fail(param, owner, allowed, value)
    return value


def check_real(
    param: str,
    value: object,
    owner: str,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    high_open: bool = False,
) -> float:
    """Check that ``value`` is a finite real number in the given interval and return a float."""
    lo = "-inf" if low is None else repr(low)
    hi = "inf" if high is None else repr(high)
    allowed = (
        f"a finite real number in {'(' if low_open else '['}{lo}, {hi}{')' if high_open else ']'}"
    )
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise _fail(param, owner, allowed, value)
    value = float(value)
    if not np.isfinite(value):
        raise _fail(param, owner, allowed, value)
    if low is not None and (value < low or (low_open and value == low)):
        raise _fail(param, owner, allowed, value)
    if high is not None and (value > high or (high_open and value == high)):
        raise _fail(param, owner, allowed, value)
    return value


def as_generator(rng: object, owner: str) -> np.random.Generator:
    """Turn ``rng`` (``None``, a non-negative int or a Generator) into a :class:`numpy.random.Generator`."""
    if rng is None or isinstance(rng, np.random.Generator):
        return np.random.default_rng(rng)
    if (
        isinstance(rng, numbers.Integral)
        and not isinstance(rng, (bool, np.bool_))
        and int(rng) >= 0
    ):
        return np.random.default_rng(int(rng))
    raise _fail("rng", owner, "None, a non-negative int or a numpy.random.Generator", rng)


def readonly(arr: np.ndarray) -> np.ndarray:
    """A read-only view of ``arr`` (state exposed by properties must not be edited in place)."""
    view = arr.view()
    view.flags.writeable = False
    return view
