"""Lesson 10's exercise 10: the weight-matched control, drawn as the lesson draws it.

The check runs the student's function on keys, members, pool sizes and seeds the lesson never uses (hand-built keys
whose nearest units are obvious, keys with ties, members crowding one end of the key, random keys with several draws
from one generator) and compares the drawn channels with the course's
:func:`~helpers.interventions.matched_channels` on a generator seeded the same way (withheld while the student's
function runs, with :func:`~helpers.interventions.matched_units` and :func:`~helpers.interventions.random_ablation_damage`).
"""
from __future__ import annotations

import importlib
from typing import Callable

import numpy as np

from .. import ExerciseError, Grade, exercise
from ..withheld import compare_with_course


def _as_array(draws: object, members: list[int], count: int) -> np.ndarray:
    """The draws as one (count, members) array of channels, -1 where a draw stopped early; rejects other shapes."""
    try:
        rows = [[int(channel) for channel in draw] for draw in draws]
    except (TypeError, ValueError) as error:
        raise ExerciseError("Your function should return a list of draws, each a list of channel numbers.") from error
    if len(rows) != count or any(len(row) > len(members) for row in rows):
        raise ExerciseError(f"Expected {count} draws of at most one channel per member; got {len(rows)} draws of sizes "
                            f"{[len(row) for row in rows]}.")
    return np.array([row + [-1] * (len(members) - len(row)) for row in rows], dtype=np.int64).reshape(count, len(members))


def _random_key(size: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).gamma(2.0, 0.5, size)


def _matched_parts() -> dict[str, list[tuple]]:
    """Held-out (key, members, draws, seed, pool), by part."""
    steps = np.array([0.0, 10.0, 1.0, 11.0, 2.0, 12.0, 3.0, 13.0])
    ties = np.array([1.0, 2.0, 2.0, 2.0, 2.0, 5.0, 2.0, 2.0, 9.0])
    crowded = np.arange(10, dtype=np.float64) ** 2
    return {
        "hand-built keys whose nearest units are obvious (pool of 1: no choice left)": [
            (steps, [0, 1], 1, 30, 1),
            (steps, [7, 2, 4], 2, 31, 1),
        ],
        "a unit drawn at most once per draw, members never drawn, ties to the lower channel, a draw that runs out": [
            (ties, [1, 2, 3], 2, 32, 1),
            (crowded, [9, 8, 7], 1, 33, 2),
            (np.array([0.0, 1.0, 2.0, 3.0]), [0, 1, 2], 2, 34, 3),
        ],
        "random keys, a pool of 5, several draws from one generator": [
            (_random_key(40, 35), [3, 17, 29, 8], 3, 36, 5),
            (_random_key(64, 37), [60, 0, 31], 4, 38, 5),
            (_random_key(25, 39), [5, 6, 7, 8, 9, 10], 2, 40, 4),
        ],
    }


@exercise(points=3)
def check_matched_draws(my_matched_draws: Callable) -> Grade:
    """Exercise 10: my_matched_draws(key, members, draws, generator, pool) draws ``draws`` weight-matched controls."""
    experiments = importlib.import_module("helpers.interventions.experiments")
    matched_channels = experiments.matched_channels
    hidden = {experiments: ("matched_channels", "matched_units", "random_ablation_damage")}

    def course(key: np.ndarray, members: list[int], draws: int, seed: int, pool: int) -> np.ndarray:
        generator = np.random.default_rng(seed)
        return _as_array([matched_channels(key, members, generator, pool=pool) for _ in range(draws)], members, draws)

    def yours(key: np.ndarray, members: list[int], draws: int, seed: int, pool: int) -> np.ndarray:
        answer = my_matched_draws(key, list(members), draws, np.random.default_rng(seed), pool)
        if answer is None:
            return None
        return _as_array(answer, members, draws)

    return compare_with_course(
        _matched_parts(), yours, course, hidden, "your drawn channels (one row per draw)", rtol=0, atol=0,
        hint="For each draw and each member in order: the free channels are those neither a member nor drawn already in "
             "this draw; sort them by |key - key[member]| with a stable sort, keep the first `pool`, and pick one with "
             "generator.choice. Use the one generator for every draw; stop a draw when no channel is free.")
