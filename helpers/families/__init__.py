"""Families of units: curve detectors, high-low frequency detectors, colour-contrast detectors.

Every family has the same three steps and the same API (see :mod:`helpers.families.base`):
``screen_<kind>(model, layer, ...)`` measures every unit of a layer, ``<kind>_family(screen, ...)``
picks the members, ``find_<kind>_family(model, layer, ...)`` does both; the family answers
``units`` (the members), ``orientations``, ``score``, ``selectivity``, ``tuning()``, ``table()``,
``spread(n)``, ``strongest(n)``, ``responses(model, images)``, ``subset(...)`` and ``summary(model)``.

Adding a family is one new module here: a :class:`Screen` subclass, a :class:`Family` subclass and
the three functions (see ``colour_contrast.py``, the smallest); nothing else changes. The two families
the lessons use are re-exported below; any other is imported from its module, e.g.
``from helpers.families.colour_contrast import find_colour_contrast_family``.
"""
from .base import Family, Screen, find_family, member_field
from .curves import (
    POLARITIES,
    CurveDrawing,
    CurveFamily,
    CurveScreen,
    curve_family,
    curve_screen_options,
    find_curve_family,
    screen_curves,
)
from .high_low import HighLowFamily, HighLowScreen, find_high_low_family, high_low_family, high_low_screen_options, screen_high_low

__all__ = [
    "Family", "Screen", "find_family", "member_field",
    "POLARITIES", "CurveDrawing", "CurveFamily", "CurveScreen", "curve_family", "curve_screen_options", "find_curve_family", "screen_curves",
    "HighLowFamily", "HighLowScreen", "find_high_low_family", "high_low_family", "high_low_screen_options", "screen_high_low",
]
