"""A curve family in the contrast polarity each member was *not* picked in: a stimulus its selection never saw.

The curve screen draws every stimulus dark-on-light and light-on-dark and keeps each unit's better polarity, so
whatever the screen selected for holds there by construction. A real curve detector should still prefer curves to
lines, at the same orientation, in its other polarity; :func:`polarity_hold_out` measures that for a whole family
(lessons 02 and 03 use :func:`other_polarity_screens` too).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .families import CurveFamily, CurveScreen
from .tuning import angle_difference, largest_gap

OTHER_POLARITY: dict[str, str] = {"dark": "light", "light": "dark"}


def other_polarity_screens(family: CurveFamily) -> list[CurveScreen]:
    """Each member's screen in the contrast polarity it was *not* picked in (the screen must have drawn both)."""
    return [family.screen.polarity_screen(OTHER_POLARITY[p]) for p in family.polarity]


def polarity_hold_out_scores(selectivity: np.ndarray, preferred: np.ndarray, orientations: np.ndarray) -> np.ndarray:
    """How a family holds up in a polarity it was not picked in, as three numbers (two shares, then a gap in degrees).

    Per member (all arrays (F,)): its curve selectivity and preferred orientation measured in its *other* polarity,
    and its own orientation. Returns [the share still preferring curves to lines (selectivity > 0), the share whose
    preferred orientation moved at most 45 degrees, the largest orientation gap (:func:`~helpers.tuning.largest_gap`,
    of the members' own orientations) left by the members that pass both].
    """
    orientations = np.asarray(orientations, dtype=np.float64)
    kept = np.asarray(selectivity, dtype=np.float64) > 0
    same = angle_difference(np.asarray(preferred, dtype=np.float64), orientations) <= 45
    return np.array([kept.mean(), same.mean(), largest_gap(orientations[kept & same])])


@dataclass(frozen=True)
class PolarityHoldOut:
    """A curve family measured in the contrast polarity each member was not picked in."""

    kept_curves: float  #: share of members that still prefer curves to lines
    same_orientation: float  #: share whose preferred orientation moved at most 45 degrees
    invariant_gap: float  #: the largest orientation gap left by the members that pass both (degrees)
    shift: np.ndarray  #: (F,) each member's change of preferred orientation, in degrees
    selectivity: np.ndarray  #: (F,) each member's curve selectivity in its other polarity
    preferred: np.ndarray  #: (F,) each member's preferred orientation in its other polarity, in degrees

    def __str__(self) -> str:
        return (f"In their other polarity, {self.kept_curves:.0%} of members still respond more to curves than to lines; "
                f"{self.same_orientation:.0%} keep their preferred orientation within 45 degrees (median shift "
                f"{np.median(self.shift):.0f}°).\nThe members that pass both leave a largest orientation gap of "
                f"{self.invariant_gap:.0f} degrees.")


def polarity_hold_out(family: CurveFamily) -> PolarityHoldOut:
    """Every member of ``family`` measured in its other polarity: does it stay a curve detector of its orientation?"""
    if not len(family):
        raise ValueError("The family has no member: there is nothing to hold out.")
    held_out = other_polarity_screens(family)
    selectivity = np.array([s.curve_selectivity[c] for s, c in zip(held_out, family.channels)])
    preferred = np.array([s.preferred[c] for s, c in zip(held_out, family.channels)])
    kept, same, gap = polarity_hold_out_scores(selectivity, preferred, family.orientations)
    return PolarityHoldOut(float(kept), float(same), float(gap), angle_difference(preferred, family.orientations),
                           selectivity, preferred)
