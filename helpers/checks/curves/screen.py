"""Self-check for lesson 02's exercise 10: the curve screen's scores of every unit (curve selectivity, corner margin
and tuning curve at the best radius) from its raw responses to curves, lines, corners and a blank image, compared with
:func:`helpers.tuning.screen_scores`, which :func:`helpers.families.curves.screen_curves` uses.
"""
from __future__ import annotations

from typing import Callable

import numpy as np
import torch

from ... import tuning
from ...families import curves as curve_families
from ...tuning import screen_scores
from .. import ExerciseError, Grade, exercise
from ..withheld import compare_with_course


def _units(rng: np.random.Generator, orientations: int, radii: int, units: int) -> tuple[np.ndarray, ...]:
    """Random raw responses (curve, line, corner, blank) of ``units`` units, the last one never above its blank."""
    curve = rng.normal(0.5, 1.0, (orientations, radii, units))
    line = rng.normal(0.2, 1.0, (orientations // 2, 3, units))
    corner = rng.normal(0.3, 1.0, (orientations, 2, units))
    blank = rng.normal(0.4, 0.5, units)
    curve[..., -1] = blank[-1] - rng.uniform(0.1, 1.0, (orientations, radii))  # silent: no curve above the blank
    return curve, line, corner, blank


def screen_cases() -> dict[str, list[tuple[np.ndarray, ...]]]:
    """Held-out (curve, line, corner, blank) responses the lesson never screens, two per part with different answers:
    hand-built units (a curve detector, a line detector, a corner detector, a silent unit) on a blank that is not 0;
    random units of other sizes; units whose strongest curve lies at a radius that is not their best on average."""
    rng = np.random.default_rng(31)
    orientations = np.arange(8) * 45.0
    bump = np.exp(np.cos(np.radians(orientations - 90.0)) * 3 - 3)  # one orientation's bump (O,)
    curve = np.stack([np.outer(bump, [0.2, 1.0, 0.5]) * h for h in (2.0, 0.8, 0.6, 0.0)], axis=-1) + 0.3  # (8, 3, 4)
    curve[..., 3] = 0.1  # the silent unit: below its blank everywhere
    line = np.full((4, 3, 4), 0.3) + np.array([0.5, 1.2, 0.1, 0.0])  # the second unit answers lines best
    corner = np.full((8, 3, 4), 0.3) + np.array([0.2, 0.1, 0.9, 0.0])  # the third answers a corner best
    blank = np.array([0.3, 0.3, 0.3, 0.2])
    mixed = curve.copy()
    mixed[2, 0, :3] += 2.5  # one strong curve at the radius the units answer least on average
    other = curve[:, ::-1] * 0.7
    other[6, 2, :3] += np.array([1.5, 0.5, 3.0])  # and at the other end, for another orientation
    return {
        "hand-built curve, line, corner and silent units on a blank that is not 0": [
            (curve, line, corner, blank), (curve * 1.5, line * 0.5, corner, blank * 0.5)],
        "random units: 16 orientations x 4 radii x 6 units, 12 x 2 x 9": [_units(rng, 16, 4, 6), _units(rng, 12, 2, 9)],
        "a strongest curve away from the radius best on average": [
            (mixed, line, corner, blank), (other, line, corner * 0.5, blank)],
    }


def _screen_table(answer: object) -> np.ndarray:
    """(curve selectivity (U,), corner margin (U,), tuning (O, U)) as one (2 + O, U) table."""
    if not isinstance(answer, (tuple, list)) or len(answer) != 3:
        raise ExerciseError("Return three things, (curve_selectivity, corner_margin, tuning): (units,), (units,) and "
                            f"(orientations, units); got {type(answer).__name__}.")
    selectivity, margin, curves = (np.asarray(part.detach().cpu() if isinstance(part, torch.Tensor) else part,
                                              dtype=np.float64) for part in answer)
    if selectivity.ndim != 1 or margin.shape != selectivity.shape or curves.ndim != 2 or curves.shape[1] != len(selectivity):
        raise ExerciseError(f"Your three parts have shapes {selectivity.shape}, {margin.shape} and {curves.shape}; (units,), "
                            "(units,) and (orientations, units) were expected.")
    return np.concatenate([selectivity[None], margin[None], curves])


@exercise(points=3)
def check_screen_scores(my_screen_scores: Callable) -> Grade:
    """Exercise 10: my_screen_scores(curve, line, corner, blank): each unit's curve selectivity, corner margin and tuning
    curve at the radius of its strongest curve."""
    return compare_with_course(
        screen_cases(), my_screen_scores, lambda *args: _screen_table(screen_scores(*args)),
        {tuning: ("screen_scores",), curve_families: ("screen_scores", "_scored", "screen_curves")},
        "your curve selectivity, corner margin and tuning", rtol=0, atol=1e-9, read=_screen_table,
        hint="Take every response relative to the blank first. Per unit: the best curve, the best line and the best "
             "corner (maxima over every drawing of each kind); selectivity (best curve - best line) / best curve and margin "
             "(best curve - best corner) / best curve, clipped to [-1, 1], and -1 for a unit whose best curve is not above "
             "0. The tuning curve: the responses at every orientation at the radius of the unit's single strongest curve.")
