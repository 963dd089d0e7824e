"""Self-checks for the high-low frequency lesson's exercises."""
from __future__ import annotations

from typing import Sequence

import numpy as np
import torch

from ..models import CircuitModel, Unit
from ..stimuli.boundaries import blur_half_plane, high_frequency_fraction
from ..tuning import angle_difference, place_on_receptive_field, preferred_orientation, unit_responses
from . import expect, passed


def check_fine_on_top(image: torch.Tensor) -> bool:
    """Exercise 1: a (3, S, S) boundary image with the fine texture in the top half and the smooth one below."""
    expect(isinstance(image, torch.Tensor) and image.dim() == 3 and image.shape[0] == 3,
           f"Give one (3, S, S) image, not {getattr(image, 'shape', type(image).__name__)}.",
           "frequency_boundary(...) returns exactly that.")
    size = image.shape[-1]
    quarter = size // 4
    top = high_frequency_fraction(image[:, 2 : size // 2 - 4, quarter : size - quarter])
    bottom = high_frequency_fraction(image[:, size // 2 + 4 : size - 2, quarter : size - quarter])
    expect(top > 3 * bottom and top > 0.5,
           f"The top half has {top:.0%} of its power at high frequency, the bottom half {bottom:.0%}: "
           "the fine texture is not clearly on top.",
           "orientation is the direction of the fine side, counter-clockwise from 'right': up is 90.")
    return passed(f"Fine texture on top ({top:.0%} high-frequency power) over a smooth bottom ({bottom:.0%}).")


def check_preferred_orientation(answer: float, tuning: np.ndarray, orientations: Sequence[float]) -> bool:
    """Exercise 2: the preferred orientation (degrees) read from one unit's tuning curve over 360 degrees."""
    expect(isinstance(answer, (int, float, np.floating, np.integer)), f"Answer with a number of degrees, not {type(answer).__name__}.")
    truth = float(preferred_orientation(np.asarray(tuning)[:, None], orientations)[0])
    peak = float(np.asarray(orientations)[int(np.argmax(tuning))])
    error = float(min(angle_difference(answer, truth), angle_difference(answer, peak)))
    expect(error <= 20, f"{float(answer):.0f}° is {error:.0f}° away from where the tuning curve peaks ({peak:.0f}°, circular mean {truth:.0f}°).",
           "Take the orientation with the largest response, or the circular mean of the curve.")
    return passed(f"The unit wants its fine side at about {truth:.0f}° (peak at {peak:.0f}°).")


def check_sharp_side(model: CircuitModel, unit: str | Unit, photo: torch.Tensor, orientation: float, sigma: float = 3.0) -> bool:
    """Exercise 3: the side (degrees) to keep sharp in ``photo`` so that ``unit`` fires more than with the sides swapped."""
    unit = model.unit(unit)
    expect(isinstance(orientation, (int, float, np.floating, np.integer)),
           f"Answer with a number of degrees (the sharp side's direction), not {type(orientation).__name__}.")
    center = place_on_receptive_field(model, unit.layer, photo.shape[-1]).center
    images = torch.stack([blur_half_plane(photo, sigma, float(orientation), center=center),
                          blur_half_plane(photo, sigma, float(orientation) + 180.0, center=center)])
    yours, swapped = unit_responses(model, [unit], images)[:, 0].tolist()
    expect(yours > swapped,
           f"With the sharp side at {float(orientation):.0f}° {unit} gives {yours:.2f}; with the sides swapped it gives "
           f"{swapped:.2f}, so the unit prefers the other arrangement.",
           "A high-low detector wants fine detail on its preferred side: use its preferred orientation from the screen.")
    return passed(f"{unit} gives {yours:.2f} with the sharp side at {float(orientation):.0f}° and {swapped:.2f} with the sides swapped.")
