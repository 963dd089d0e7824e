"""Self-check functions for the exercises, one submodule per lesson.

A check never just says pass or fail: it prints what was right, or what was wrong and a hint.
"""
from __future__ import annotations


class ExerciseError(AssertionError):
    """An exercise answer that is wrong; the message says why and hints at the fix."""


def passed(message: str) -> bool:
    """Report a correct answer and return True."""
    print(f"Correct! {message}")
    return True


def expect(condition: bool, problem: str, hint: str = "") -> None:
    """Raise :class:`ExerciseError` explaining ``problem`` (and a hint) unless ``condition`` holds."""
    if not condition:
        raise ExerciseError(problem + (f"\nHint: {hint}" if hint else ""))
