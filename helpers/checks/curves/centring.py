"""Self-check for lesson 02's exercise 11: photographs shifted so that a point of each lands on a receptive field's
centre (mirrored borders, points too near the border skipped), compared with :func:`helpers.rotation.centre_examples`,
which :func:`helpers.rotation.centred_examples` uses.
"""
from __future__ import annotations

from typing import Callable

import torch

from ... import rotation
from ...rotation import centre_examples
from .. import Grade, exercise
from ..withheld import compare_with_course


def _photos(seed: int, count: int, height: int, width: int) -> list[torch.Tensor]:
    """``count`` smooth random images (3, height, width) whose every pixel differs from its neighbours."""
    generator = torch.Generator().manual_seed(seed)
    rows = torch.linspace(0, 1, height)[:, None]
    columns = torch.linspace(0, 1, width)[None, :]
    return [(0.3 * rows + 0.6 * columns * rows + 0.1 * torch.rand(3, height, width, generator=generator)).clamp(0, 1)
            for _ in range(count)]


def centring_cases() -> dict[str, list[tuple]]:
    """Held-out (images, points, center, size, margin) the lesson never centres, two per part with different answers:
    points that move both ways on square and tall images (fractions of a pixel that round up and down); points near a
    corner, whose shifted images need the mirrored border, larger than the photographs; margins that skip some points
    (one exactly on the margin is kept) and every point."""
    square, tall = _photos(1, 3, 40, 40), _photos(2, 2, 44, 30)
    return {
        "points moving both ways, square and tall photographs": [
            (square, [(10.3, 30.8), (25.7, 12.2), (20.0, 20.0)], (16.0, 16.0), 32, 0.0),
            (tall, [(8.6, 35.4), (21.2, 9.7)], (12.5, 20.5), 28, 0.0)],
        "points near a corner: the mirrored border, outputs larger than the photographs": [
            (square[:2], [(2.2, 3.6), (37.7, 38.1)], (30.0, 25.0), 56, 0.0),
            (tall, [(28.4, 1.3), (1.6, 42.8)], (24.0, 24.0), 48, 0.0)],
        "margins: points too near the border are skipped, one exactly on it is kept": [
            (square, [(5.0, 20.0), (20.4, 3.9), (33.2, 33.7)], (16.0, 16.0), 32, 5.0),
            (tall[:1] * 2, [(2.5, 20.0), (20.0, 41.0)], (12.0, 12.0), 24, 4.0)],
    }


@exercise(points=3)
def check_centre_examples(my_centre_examples: Callable) -> Grade:
    """Exercise 11: my_centre_examples(images, points, center, size, margin): each photograph shifted so that its point
    lands on the receptive field's centre, mirrored at the border, those too near the border skipped."""
    return compare_with_course(
        centring_cases(), my_centre_examples, centre_examples,
        {rotation: ("centre_examples", "recentre", "centred_examples")}, "your centred images", rtol=0, atol=1e-6,
        hint="Shift by whole pixels: round(center - point), in x for the columns and in y for the rows; output pixel i "
             "reads source pixel i - shift. Outside the photograph, mirror about its first and last pixels without "
             "repeating them (-1 reads 1, n reads n - 2). Skip a point whose distance to the nearest border is below "
             "the margin, and stack what is kept (an empty (0, 3, size, size) tensor when nothing is).")
