"""Run a student's function with the course's own implementation withheld, and compare it with that implementation.

Withholding makes calling the course's function no answer: inside the block it raises an
:class:`ExerciseError`. :func:`compare_with_course` is the loop most implementation checks share: parts of
held-out cases, the student's function called on fresh copies of each case, and its result compared with the
course's on the same case.
"""
from __future__ import annotations

import contextlib
import sys
from types import ModuleType
from typing import Callable, Iterator, Mapping, Sequence

import numpy as np
import torch

from . import ExerciseError, Grade, call_answer, expect_close

Hidden = Mapping[ModuleType, Sequence[str]]
"""The course's functions a check withholds: each module with the names that refuse to run."""


def _holders(module: ModuleType, name: str) -> list[ModuleType]:
    """``module`` and, when ``name`` is defined there (not imported), every package above it that re-exports it
    (``helpers.weights`` for ``helpers.weights.equivariance.spatial_pattern``): a student could import it from any of
    them. A dependency withheld to stop a function that uses it (``render``'s ``BatchedObjectives``) stays usable."""
    target = getattr(module, name)
    if getattr(target, "__module__", None) != module.__name__:
        return [module]
    parts = module.__name__.split(".")
    parents = (sys.modules.get(".".join(parts[:end])) for end in range(len(parts) - 1, 0, -1))
    return [module, *(parent for parent in parents if parent is not None and getattr(parent, name, None) is target)]


@contextlib.contextmanager
def withheld(module: ModuleType, *names: str) -> Iterator[None]:
    """Within the block, ``module``'s ``names`` (and the packages' above it that re-export them) raise an
    :class:`ExerciseError` saying the exercise asks for the student's own code. ``module`` is the course's, or a
    library's whose function would be the whole answer (``scipy.stats.spearmanr`` for a rank correlation)."""
    saved = [(holder, name, getattr(holder, name)) for name in names for holder in _holders(module, name)]
    whose = "the course's own implementation" if module.__name__.split(".")[0] == __package__.split(".")[0] \
        else "a library's implementation, which the exercise withholds"

    def refuse(*_args: object, **_kwargs: object) -> None:
        raise ExerciseError(f"Your function called {whose} ({module.__name__}); this exercise asks you to compute it "
                            "yourself.")

    try:
        for holder, name, _ in saved:
            setattr(holder, name, refuse)
        yield
    finally:
        for holder, name, value in saved:
            setattr(holder, name, value)


def _fresh(value: object) -> object:
    """A copy of a tensor, array or list, so that a student's function that changes its input changes nothing else."""
    if isinstance(value, torch.Tensor):
        return value.clone()
    if isinstance(value, np.ndarray):
        return value.copy()
    if isinstance(value, list):
        return list(value)
    return value


def answer_without(hidden: Hidden, function: Callable, *args: object, **kwargs: object) -> object:
    """The student's ``function`` called on fresh copies of the arguments while the ``hidden`` course functions refuse to run."""
    with contextlib.ExitStack() as stack:
        for module, names in hidden.items():
            stack.enter_context(withheld(module, *names))
        return call_answer(function, *(_fresh(arg) for arg in args),
                           **{name: _fresh(value) for name, value in kwargs.items()})


def refuses_without(hidden: Hidden, function: Callable, *args: object, error: type[Exception] = ValueError) -> bool:
    """Whether the student's ``function``, called as :func:`answer_without` does, refuses the arguments with ``error``
    (an input the course's own implementation refuses, such as too few examples)."""
    try:
        answer_without(hidden, function, *args)
    except ExerciseError as raised:
        return isinstance(raised.__cause__, error)
    return False


def compare_with_course(parts: Mapping[str, Sequence[tuple]], yours: Callable, course: Callable, hidden: Hidden,
                        what: str, *, rtol: float, atol: float, hint: str,
                        read: Callable[[object], object] = lambda answer: answer) -> Grade:
    """Grade ``yours`` against ``course`` on every case (a tuple of arguments) of every part.

    ``read`` turns the student's answer into what is compared (for example one number from a one-element
    tensor) and may reject it with an :class:`ExerciseError`. A part passes when every one of its cases
    agrees within the tolerance; give each part cases with different answers, so that no constant earns it.
    """
    grade = Grade()
    for name, cases in parts.items():
        with grade.part(name):
            for args in cases:
                expected = course(*args)
                answer = read(answer_without(hidden, yours, *args))
                expect_close(answer, expected, what, rtol=rtol, atol=atol, hint=hint)
    return grade
