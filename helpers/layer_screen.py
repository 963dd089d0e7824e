"""Choosing the layer to look for curve detectors in: candidate layers screened and compared (lesson 02).

:func:`helpers.layers.curve_layer` records the choice made while writing the lesson; :func:`layer_screen_table` lets a
student check it on their own run, with a coarser screen.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from .families import find_curve_family
from .models import CircuitModel


def layer_screen_table(model: CircuitModel, layers: Sequence[str], **options: object) -> str:
    """A table comparing candidate layers for a curve family: units, family size, largest orientation gap and how many
    of the circle's twelve 30° sectors the family covers; ``options`` go to :func:`helpers.families.find_curve_family`
    (e.g. a coarser screen). Empty when ``layers`` is."""
    if not layers:
        return ""
    rows = [f"{'layer':>11} {'units':>6} {'family':>7} {'largest gap':>12} {'30° sectors covered':>20}"]
    for name in layers:
        found = find_curve_family(model, name, **options)
        sectors = len(np.unique(np.floor(found.orientations / 30)))
        rows.append(f"{name:>11} {model.channels(name):6d} {len(found):7d} {found.largest_gap():11.0f}° {sectors:14d} / 12")
    return "\n".join(rows)
