"""Self-check functions for the exercises, one submodule per lesson.

Every check is wrapped by :func:`exercise`, which gives all of them the same behaviour:

- an answer left as ``...`` (the student edition's placeholder), or a function whose body is still the
  placeholder (it returns None), prints "not attempted yet" with the task and scores 0: "Run All" goes on
  to the end of the lesson;
- a check is made of **parts** (:meth:`Grade.part`), each one case the student's answer must get right
  (usually an input the notebook never shows: another unit, layer, seed, size, or a small hand-built
  network); a wrong part prints what is wrong and a hint, never the answer;
- the check returns a :class:`Score`: the points earned, in proportion to the parts passed;
- in strict mode (``CIRCUITS_STRICT=1``: CI on the teacher edition) anything short of full marks raises
  :class:`ExerciseError`, so the cell fails;
- in grading mode (``CIRCUITS_GRADING=1``: nbgrader's autograder) the score is the cell's value, a plain
  number that nbgrader reads as partial credit, and nothing raises.

A check recomputes the right answer from the student's own model and data, or with the course's own
implementation on held-out inputs, never from constants; it never prints the right answer.
"""
from __future__ import annotations

import contextlib
import functools
import inspect
import os
import warnings
from dataclasses import dataclass, field
from typing import Callable, Iterator

import numpy as np
import torch

from ..config import is_strict


class ExerciseError(AssertionError):
    """An exercise answer that is wrong or missing; the message says why and hints at the fix."""


class NotAttempted(ExerciseError):
    """An exercise whose answer is still the student edition's placeholder."""


def is_grading() -> bool:
    """True under nbgrader's autograder (``CIRCUITS_GRADING=1``): checks return partial credit, never raise."""
    return os.environ.get("CIRCUITS_GRADING", "").strip().lower() in {"1", "true", "yes", "on"}


def passed(message: str) -> bool:
    """Report a correct answer (a one-part check) and return True."""
    print(f"Correct! {message}")
    return True


def expect(condition: bool, problem: str, hint: str = "") -> None:
    """Raise :class:`ExerciseError` explaining ``problem`` (and a hint) unless ``condition`` holds."""
    if not condition:
        raise ExerciseError(problem + (f"\nHint: {hint}" if hint else ""))


def attempted(answer: object) -> bool:
    """False while an answer is still the student edition's placeholder ``...``."""
    return answer is not Ellipsis


def call_answer(function: Callable, *args: object, **kwargs: object) -> object:
    """Call the student's function; its own exceptions become a readable :class:`ExerciseError`.

    A function that returns None is taken as not written yet (the student edition's body is a placeholder).
    """
    expect(callable(function), f"Your answer should be a function, not {type(function).__name__}.",
           "Define it with `def` in the answer cell and pass its name (without calling it).")
    try:
        result = function(*args, **kwargs)
    except ExerciseError:
        raise
    except Exception as error:  # the student's code failed: say where, never the answer
        raise ExerciseError(f"Your function raised {type(error).__name__}: {error}") from error
    if result is None:
        raise NotAttempted("Your function returns None: write its body (replace the placeholder).")
    return result


def one_number(answer: object, kind: str = "number", hint: str = "") -> float:
    """The student's one-number answer (a float, or a tensor or array of one element) as a float.

    Anything else fails the part with a message saying that one ``kind`` (a number, an angle, a count) was expected.
    """
    if isinstance(answer, torch.Tensor):
        answer = answer.detach().cpu()
    try:
        values = np.asarray(answer, dtype=np.float64)
    except (TypeError, ValueError, RuntimeError):
        raise ExerciseError(f"Return one {kind}, not {type(answer).__name__}." + (f"\nHint: {hint}" if hint else "")) from None
    expect(values.size == 1, f"Return one {kind}, not {type(answer).__name__} of size {values.size}.", hint)
    return float(values.reshape(()))


def expect_close(answer: object, reference: torch.Tensor | np.ndarray | float, what: str,
                 rtol: float = 1e-4, atol: float = 1e-5, hint: str = "") -> None:
    """Expect ``answer`` to equal ``reference`` (the course's implementation) within a tolerance.

    The message says how far off the answer is (shape, non-finite values, the largest difference
    relative to the reference's scale), never the reference's values.
    """
    expected = torch.as_tensor(np.asarray(reference) if not isinstance(reference, torch.Tensor) else reference)
    try:
        got = torch.as_tensor(answer.detach().cpu() if isinstance(answer, torch.Tensor) else np.asarray(answer))
    except (TypeError, ValueError, RuntimeError):
        raise ExerciseError(f"{what}: expected numbers (a tensor or array), got {type(answer).__name__}.") from None
    expected = expected.detach().cpu().double()
    expect(tuple(got.shape) == tuple(expected.shape),
           f"{what}: your result has shape {tuple(got.shape)}, but a shape of {tuple(expected.shape)} was expected.", hint)
    got = got.double()
    expect(bool(torch.isfinite(got).all()), f"{what}: your result holds NaN or infinite values.", hint)
    scale = float(expected.abs().max()) if expected.numel() else 0.0
    error = float((got - expected).abs().max()) if expected.numel() else 0.0
    expect(error <= atol + rtol * scale,
           f"{what}: your result differs from the course's implementation by up to {error:.3g} "
           f"({error / scale:.1%} of its largest value)." if scale > 0 else
           f"{what}: your result differs from the course's implementation by up to {error:.3g}.", hint)


@dataclass
class Part:
    """One case of a check: its name, whether it passed, and what was wrong."""

    name: str
    ok: bool
    problem: str = ""


@dataclass
class Grade:
    """The parts of one check, collected with ``with grade.part("another layer"): ...``."""

    parts: list[Part] = field(default_factory=list)

    @contextlib.contextmanager
    def part(self, name: str) -> Iterator[None]:
        """One case: an :class:`ExerciseError` (or an exception from the student's code) inside fails it."""
        try:
            yield
        except NotAttempted:
            raise
        except ExerciseError as error:
            self.parts.append(Part(name, False, str(error)))
        else:
            self.parts.append(Part(name, True))

    @property
    def fraction(self) -> float:
        """The share of parts passed (0 when there are none)."""
        return sum(part.ok for part in self.parts) / len(self.parts) if self.parts else 0.0


class Score(float):
    """Points earned on one exercise; true when full marks. In grading mode it shows as a plain number."""

    points: float

    def __new__(cls, earned: float, points: float) -> "Score":
        score = super().__new__(cls, round(earned, 4))
        score.points = points
        return score

    def __bool__(self) -> bool:
        return float(self) >= self.points

    def __eq__(self, other: object) -> bool:
        if isinstance(other, bool):
            return bool(self) is other
        return float.__eq__(self, other)

    __hash__ = float.__hash__

    def __repr__(self) -> str:
        return f"{float(self):g}" if is_grading() else f"{float(self):g} of {self.points:g} points"


def _task(check: Callable) -> str:
    return (check.__doc__ or check.__name__).strip().splitlines()[0]


def _not_attempted(task: str, error: NotAttempted | None = None) -> NotAttempted:
    detail = f" {error}" if error is not None and str(error) else ""
    return NotAttempted(f"Not attempted yet. {task}{detail}\nWrite your answer in the answer cell (replace the "
                        "placeholder), then run that cell and this check again.")


def _grade(check: Callable, points: float, args: tuple, kwargs: dict) -> Score:
    task = _task(check)
    if not all(attempted(value) for value in (*args, *kwargs.values())):
        raise _not_attempted(task)
    try:
        with warnings.catch_warnings():  # a warning goes to stderr, which nbgrader grades as a failure
            warnings.simplefilter("ignore")
            result = check(*args, **kwargs)
    except NotAttempted as error:
        raise _not_attempted(task, error) from None
    if isinstance(result, Grade):
        for part in result.parts:
            print(f"  {'✓' if part.ok else '✗'} {part.name}" + (f": {part.problem}" if not part.ok else ""))
        score = Score(points * result.fraction, points)
        if score:
            print(f"Correct! All {len(result.parts)} cases right. ({score!r})")
        else:
            print(f"{sum(p.ok for p in result.parts)} of {len(result.parts)} cases right ({score!r}).")
        if not score and not result.parts:
            raise ExerciseError("The check ran no case.")
        if not score and (is_strict() and not is_grading()):
            raise ExerciseError(f"{task}\n" + "\n".join(f"{p.name}: {p.problem}" for p in result.parts if not p.ok))
        return score
    expect(bool(result), "The check did not confirm the answer.")
    return Score(points, points)


def exercise(check: Callable | None = None, *, points: float = 1) -> Callable:
    """Give a check function the course's exercise behaviour (see the module's docstring).

    Use as ``@exercise`` (one point; the check raises :class:`ExerciseError` or returns True) or as
    ``@exercise(points=3)`` on a check that returns a :class:`Grade` of several parts (partial credit).
    """
    def decorate(function: Callable) -> Callable:
        @functools.wraps(function)
        def run(*args: object, **kwargs: object) -> Score:
            try:
                return _grade(function, points, args, kwargs)
            except ExerciseError as error:
                if is_strict() and not is_grading():
                    raise
                print(error if isinstance(error, NotAttempted) else f"Not right yet. {error}")
                return Score(0, points)

        run.points = points  # type: ignore[attr-defined]
        run.__signature__ = inspect.signature(function)  # type: ignore[attr-defined]
        return run

    return decorate(check) if check is not None else decorate
