"""Withhold the course's own implementation while a student's function runs, so that calling it is not an answer."""
from __future__ import annotations

import contextlib
from types import ModuleType
from typing import Iterator

from . import ExerciseError


@contextlib.contextmanager
def withheld(module: ModuleType, *names: str) -> Iterator[None]:
    """Within the block, ``module``'s ``names`` raise an :class:`ExerciseError` saying the exercise asks for the student's own code."""
    saved = {name: getattr(module, name) for name in names}

    def refuse(*_args: object, **_kwargs: object) -> None:
        raise ExerciseError(f"Your function called the course's own implementation ({module.__name__}); "
                            "this exercise asks you to compute it yourself.")

    try:
        for name in names:
            setattr(module, name, refuse)
        yield
    finally:
        for name, value in saved.items():
            setattr(module, name, value)
