"""Self-check functions for the exercises, one submodule per lesson.

Every check is wrapped by :func:`exercise`, which gives all of them the same behaviour:

- an answer left as ``...`` (the student edition's placeholder) prints "not attempted yet" with the
  task, and returns False: "Run All" goes on to the end of the lesson;
- a wrong answer prints what is wrong and a hint (never the answer), and returns False;
- a right answer prints what was right and returns True;
- in strict mode (``CIRCUITS_STRICT=1``: CI on the teacher edition, and nbgrader's autograding)
  a wrong or missing answer raises :class:`ExerciseError` instead, so the graded cell fails.

A check recomputes the right answer from the student's own model and data, never from constants.
"""
from __future__ import annotations

import functools
from typing import Callable, TypeVar

from ..config import is_strict

Check = TypeVar("Check", bound=Callable[..., bool])


class ExerciseError(AssertionError):
    """An exercise answer that is wrong or missing; the message says why and hints at the fix."""


class NotAttempted(ExerciseError):
    """An exercise whose answer is still the placeholder ``...``."""


def passed(message: str) -> bool:
    """Report a correct answer and return True."""
    print(f"Correct! {message}")
    return True


def expect(condition: bool, problem: str, hint: str = "") -> None:
    """Raise :class:`ExerciseError` explaining ``problem`` (and a hint) unless ``condition`` holds."""
    if not condition:
        raise ExerciseError(problem + (f"\nHint: {hint}" if hint else ""))


def attempted(answer: object) -> bool:
    """False while an answer is still the student edition's placeholder ``...``."""
    return answer is not Ellipsis


def exercise(check: Check) -> Check:
    """Give a check function the course's exercise behaviour (see the module's docstring)."""
    task = (check.__doc__ or check.__name__).strip().splitlines()[0]

    @functools.wraps(check)
    def run(*args: object, **kwargs: object) -> bool:
        try:
            if not all(attempted(value) for value in (*args, *kwargs.values())):
                raise NotAttempted(f"Not attempted yet. {task}\nReplace the `...` in the answer cell with your answer, "
                                   "then run the cell and this check again.")
            return check(*args, **kwargs)
        except ExerciseError as error:
            if is_strict():
                raise
            print(error if isinstance(error, NotAttempted) else f"Not right yet. {error}")
            return False

    return run  # type: ignore[return-value]
