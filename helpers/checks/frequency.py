"""Self-checks for the high-low frequency lesson's exercises.

The function exercises are called on cases the notebook never shows (other sizes and directions, hand-made
tuning curves) and compared with the course's implementation; the sharp-side answer is recomputed on the
photograph and accepted within half a sampling step. Messages never give the answer.
"""
from __future__ import annotations

from typing import Callable

import numpy as np
import torch

from .. import tuning as tuning_module
from ..stimuli import boundaries
from ..stimuli.boundaries import half_plane_mask
from ..tuning import angle_difference, orientation_selectivity, preferred_orientation
from . import Grade, call_answer, exercise, expect, expect_close
from .withheld import withheld

Number = (int, float, np.floating, np.integer)


def _known_boundary(size: int, orientation: float) -> tuple[torch.Tensor, ...]:
    """Two textures (a checkerboard and a smooth ramp), the course's composite of them, and the pixels away from the boundary."""
    rows, cols = torch.meshgrid(torch.arange(size), torch.arange(size), indexing="ij")
    fine = ((rows + cols) % 2).float()
    smooth = torch.linspace(0.2, 0.8, size)[None, :].expand(size, size).clone()
    mask = half_plane_mask(size, orientation)
    x, y = cols + 0.5 - size / 2, size / 2 - (rows + 0.5)
    distance = x * np.cos(np.radians(orientation)) + y * np.sin(np.radians(orientation))
    return fine, smooth, mask * fine + (1 - mask) * smooth, distance.abs() > 6  # the soft step is flat by then


@exercise(points=3)
def check_boundary(my_boundary: Callable) -> Grade:
    """Exercise 1: one texture on the side a direction points to, the other texture on the other side."""
    grade = Grade()
    for size, orientation in ((40, 90.0), (64, 30.0), (57, 250.0)):
        with grade.part(f"{size} px, fine side at {orientation:.0f}°"):
            fine, smooth, truth, away = _known_boundary(size, orientation)
            with withheld(boundaries, "_coordinates"):  # half_plane_mask is not an answer here
                answer = call_answer(my_boundary, fine.clone(), smooth.clone(), orientation)
            expect(isinstance(answer, torch.Tensor) and tuple(answer.shape) == (size, size),
                   f"Return one ({size}, {size}) tensor, like the textures.")
            expect_close(answer[away], truth[away], "Away from the boundary line, the image", atol=1e-3,
                         hint="The side the direction points to: x * cos(angle) + y * sin(angle) > 0, with y growing upwards "
                              "(rows grow downwards) and x, y measured from the image's centre.")
    return grade


@exercise(points=3)
def check_side_selectivity(my_side_selectivity: Callable) -> Grade:
    """Exercise 2: a unit's preferred side and how sharply it prefers it, from a tuning curve over the full circle."""
    grade = Grade()
    rng = np.random.default_rng(3)
    angles = {24: np.arange(24) * 15.0, 12: np.arange(12) * 30.0}
    bump = lambda centre, a: np.exp(np.cos(np.radians(a - centre)) * 2.0)  # noqa: E731
    cases = {
        "a one-sided bump at 100° on a floor": (bump(100, angles[24]) + 0.5, angles[24]),
        "two opposite bumps (a texture boundary, both polarities)": (bump(40, angles[24]) + bump(220, angles[24]), angles[24]),
        "an uneven curve sampled every 30°": (rng.gamma(2.0, size=12), angles[12]),
        "a tuning curve with negative responses": (rng.normal(size=24) + bump(300, angles[24]), angles[24]),
    }
    for name, (tuning, orientations) in cases.items():
        with grade.part(name):
            with withheld(tuning_module, "_upper_half"):  # nor are preferred_orientation and orientation_selectivity
                answer = call_answer(my_side_selectivity, tuning.copy(), orientations.copy())
            expect(isinstance(answer, tuple) and len(answer) == 2, "Return a pair (preferred orientation in degrees, selectivity).")
            preferred = float(preferred_orientation(tuning, orientations)[0])
            selectivity = float(orientation_selectivity(tuning, orientations)[0])
            expect_close(float(answer[1]), selectivity, "The selectivity", atol=1e-3,
                         hint="Only the part of the curve above half its peak counts (negative responses as 0); "
                              "the selectivity is the length of the weighted vector sum over the total weight.")
            if selectivity > 0.05:  # a direction only means something when the curve has one
                expect(float(angle_difference(float(answer[0]), preferred)) < 0.5,
                       "The preferred orientation is off: it should be the direction of the weighted vector sum, in [0, 360).")
    return grade


