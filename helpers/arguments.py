"""Checking a public function's arguments with the course's own message, before any work starts.

The rule (CONTRIBUTING.md): a student's mistake is answered at the entry point, naming what was
wrong, what is allowed and how to fix it; never by an error from deep inside torch, and never by a
silent conversion (``int(3.7)`` is 3, ``int(True)`` is 1).
"""
from __future__ import annotations

import math
import operator


def whole_number(value: object, name: str, *, minimum: int | None = None) -> int:
    """``value`` as an int if it is a whole number (int, numpy or 0-d integer tensor) of at least ``minimum``; else a clear error.

    Floats (even 3.0), booleans and text are refused: they are a mistake, not a count or an index.
    """
    if isinstance(value, bool) or isinstance(value, str):
        number = None
    else:
        try:
            number = operator.index(value)
        except TypeError:
            number = None
    if number is None:
        raise TypeError(f"{name} must be a whole number (an int), got {value!r} ({type(value).__name__}); "
                        f"write it without a decimal point, e.g. {name}={_example(value, minimum)}.")
    if minimum is not None and number < minimum:
        raise ValueError(f"{name} must be at least {minimum}, got {number}.")
    return number


def _example(value: object, minimum: int | None) -> int:
    try:
        return max(int(float(value)), minimum or 0)  # type: ignore[arg-type]
    except (TypeError, ValueError, OverflowError):
        return max(minimum or 0, 1)


def finite_number(value: object, name: str, *, positive: bool = False) -> float:
    """``value`` as a float if it is a finite real number (and > 0 when ``positive``); else a clear error naming it."""
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a number, got {value!r} ({type(value).__name__}).") from None
    if isinstance(value, bool) or not math.isfinite(number):
        raise ValueError(f"{name} must be a finite number, got {value!r}: NaN or infinity would turn every result into NaN.")
    if positive and number <= 0:
        raise ValueError(f"{name} must be greater than 0, got {value!r}.")
    return number
