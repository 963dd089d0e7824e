"""Self-checks for the high-low frequency lesson's exercises.

Each check recomputes the right answer from what it is given (the student's image, the unit's tuning
curve, the unit itself on the photograph), and accepts only answers within half a sampling step of it:
every answer one step (or more) away, and any typed-in constant that is not the unit's own answer, fails.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import torch

from ..frequency import sharp_side_sweep
from ..models import CircuitModel, Unit
from ..stimuli.boundaries import high_frequency_fraction
from ..tuning import angle_difference, preferred_orientation
from . import exercise, expect, passed

Number = (int, float, np.floating, np.integer)


def _strips(image: torch.Tensor) -> dict[str, torch.Tensor]:
    """Four strips just above and just below the horizontal midline, at the left and right edges."""
    size = image.shape[-1]
    near, far = size // 2 - max(2, size // 25), size // 2 - size * 5 // 25
    left, right = slice(size // 50 + 1, size // 4), slice(size - size // 4, size - size // 50 - 1)
    above, below = slice(far, near), slice(size - near, size - far)
    return {"top left": image[:, above, left], "top right": image[:, above, right],
            "bottom left": image[:, below, left], "bottom right": image[:, below, right]}


@exercise
def check_fine_on_top(image: torch.Tensor) -> bool:
    """Exercise 1: a (3, S, S) boundary image with the fine texture in the top half and the smooth one below."""
    expect(isinstance(image, torch.Tensor) and image.dim() == 3 and image.shape[0] == 3 and image.shape[1] == image.shape[2],
           f"Give one square (3, S, S) image, not {getattr(image, 'shape', type(image).__name__)}.",
           "frequency_boundary(...) returns exactly that.")
    expect(image.shape[-1] >= 48, f"The image is only {image.shape[-1]} px; make it at least 48 px (the exercise asks for 96).")
    fine = {name: high_frequency_fraction(strip) for name, strip in _strips(image).items()}
    for side in ("left", "right"):
        top, bottom = fine[f"top {side}"], fine[f"bottom {side}"]
        expect(top > 0.5 and top > 3 * bottom,
               f"Just above the midline on the {side}, {top:.0%} of the power is at high frequency; just below it, {bottom:.0%}: "
               "the boundary is not horizontal with the fine texture on top.",
               "orientation is the direction of the fine side, counter-clockwise from 'right' (0°).")
    return passed("Fine texture on top over a smooth bottom, on the left and on the right of the picture.")


@exercise
def check_preferred_orientation(answer: float, tuning: np.ndarray, orientations: Sequence[float]) -> bool:
    """Exercise 2: the preferred orientation (degrees) read from one unit's tuning curve over 360 degrees."""
    expect(isinstance(answer, Number) and not isinstance(answer, bool), f"Answer with a number of degrees, not {type(answer).__name__}.")
    orientations = np.asarray(orientations, dtype=np.float64)
    tuning = np.asarray(tuning, dtype=np.float64)
    expect(len(orientations) >= 4 and tuning.shape == orientations.shape, "The tuning curve needs one response per orientation.")
    step = 360.0 / len(orientations)
    peak = float(orientations[int(np.argmax(tuning))])
    mean = float(preferred_orientation(tuning[:, None], orientations)[0])
    error = float(min(angle_difference(float(answer), peak), angle_difference(float(answer), mean)))
    expect(error <= step / 2,
           f"{float(answer) % 360:.0f}° is not where this curve peaks: it is at least {error:.0f}° from the preferred orientation "
           f"(the curve is sampled every {step:.0f}°).",
           "Take the orientation with the largest response (np.argmax), or the circular mean of the curve.")
    return passed(f"The unit wants its fine side at about {mean:.0f}° (largest sample at {peak:.0f}°).")


@exercise
def check_sharp_side(model: CircuitModel, unit: str | Unit, photo: torch.Tensor, answer: float, sigma: float = 3.0,
                     step: float = 15.0) -> bool:
    """Exercise 3: the side (degrees, a multiple of ``step``) to keep sharp in ``photo`` so that ``unit`` fires most."""
    expect(isinstance(answer, Number) and not isinstance(answer, bool),
           f"Answer with a number of degrees (the sharp side's direction), not {type(answer).__name__}.")
    unit = model.unit(unit)
    orientations = np.arange(0.0, 360.0, step)
    sweep = sharp_side_sweep(model, unit, photo, orientations, sigma)
    best = float(orientations[int(np.argmax(sweep))])
    expect(float(sweep.max()) > 0, f"{unit} does not fire on this photograph with either side blurred: pick another photograph.")
    yours = float(sharp_side_sweep(model, unit, photo, [float(answer)], sigma)[0])
    error = float(angle_difference(float(answer), best))
    expect(error <= step / 2,
           f"With the sharp side at {float(answer) % 360:.0f}° {unit} gives {yours:.2f}, but another direction gives "
           f"{float(sweep.max()):.2f}: yours is {error:.0f}° off the best one.",
           f"Blur the photograph with blur_half_plane at every direction in np.arange(0, 360, {step:g}) (sharp side = "
           "orientation, centre = the unit's receptive field) and keep the direction with the largest response.")
    return passed(f"{unit} gives {yours:.2f} with the sharp side at {float(answer) % 360:.0f}°, its best direction on this photograph.")
