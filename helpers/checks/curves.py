"""Self-checks for the curve-detector lesson's exercises (lesson 02).

Each check recomputes the right answer from the student's own family and model, so typed-in numbers
and another member's answer fail; wrong-answer messages never name the right member or value.
"""
from __future__ import annotations

import math

import numpy as np

from ..models import CircuitModel, Unit
from ..stimuli.curves import curve
from ..families import CurveFamily
from ..tuning import angle_difference, largest_gap
from . import exercise, expect, passed


def _member(family: CurveFamily, answer: object, what: str) -> Unit:
    """The family member a student named (a Unit or 'layer:channel'), or a clear error."""
    expect(isinstance(answer, (str, Unit)), f"Give {what} as a unit (e.g. family.units[3]) or 'layer:channel', "
           f"not {type(answer).__name__}.")
    try:
        unit = Unit.parse(answer) if isinstance(answer, str) else answer
    except (ValueError, TypeError) as error:
        expect(False, f"{answer!r} is not a unit name: {error}", "Units are written 'layer:channel'.")
    expect(unit in family.units, f"{unit} is not a member of the family.", "Pick one of family.units.")
    return unit


@exercise
def check_largest_gap(family: CurveFamily, answer: float) -> bool:
    """Exercise 1: the widest arc of orientations (degrees) that no member of the family prefers."""
    expect(isinstance(answer, (int, float, np.integer, np.floating)) and not isinstance(answer, bool)
           and math.isfinite(float(answer)), f"Expected a number of degrees, got {answer!r}.")
    truth = largest_gap(family.orientations)
    expect(0 <= float(answer) <= 360, f"A gap on the circle lies between 0 and 360 degrees; you gave {float(answer):.1f}.")
    if len(family) >= 2:
        ordered = np.sort(family.orientations % 360)
        inner = float(np.diff(ordered).max())
        expect(not (abs(float(answer) - inner) < 0.5 and abs(inner - truth) >= 0.5),
               f"{float(answer):.1f} degrees is the widest gap between neighbours, but one arc is missing.",
               "Do not forget the arc that wraps around from the largest orientation back to the smallest (+360).")
    expect(abs(float(answer) - truth) < 0.5, f"{float(answer):.1f} degrees is not the widest empty arc.",
           "Sort the orientations, take the differences between neighbours, and do not forget the gap that wraps "
           "around from the last orientation back to the first (+360).")
    return passed(f"the widest arc with no preferred orientation spans {truth:.0f} degrees.")


def strongest_member_response(model: CircuitModel, family: CurveFamily, orientation: float,
                              polarity: str = "dark") -> np.ndarray:
    """The members' responses (minus blank) to one curve of ``orientation`` at the family's typical radius."""
    screen = family.screen
    radius = float(np.median(screen.best_radius[family.channels]))
    image = curve(screen.placement.size, orientation=orientation, radius=radius, center=screen.placement.center,
                  **family.style(polarity))
    return family.responses(model, image[None], polarity=polarity)[0]


@exercise
def check_strongest_member(model: CircuitModel, family: CurveFamily, answer: str | Unit, orientation: float = 200,
                           polarity: str = "dark") -> bool:
    """Exercise 2: the member that responds most to a dark curve of orientation 200 degrees at the family's typical radius."""
    expect(len(family) > 0, "This model's family is empty, so no member can respond.", "Try the lesson on a trained model.")
    unit = _member(family, answer, "the member")
    responses = strongest_member_response(model, family, orientation, polarity)
    winner = family.units[int(np.argmax(responses))]
    mine = float(responses[family.units.index(unit)])
    expect(unit == winner,
           f"{unit} responds {mine:.2f} to that curve, but another member responds more.",
           "Draw the curve with family.screen.placement, the typical radius (the median of "
           "family.screen.best_radius over the members) and family.style('dark'), then take the member with the "
           "largest family.responses(model, image[None], polarity='dark').")
    preferred = family.orientations[family.units.index(unit)]
    return passed(f"{unit} responds most; it prefers {preferred:.0f} degrees, "
                  f"{float(angle_difference(preferred, orientation)):.0f} degrees from the curve you drew.")


@exercise
def check_rotation_prediction(family: CurveFamily, answer: str | Unit, source_index: int = 0, angle: float = 90) -> bool:
    """Exercise 3: after rotating the first member's favourite curve by 90 degrees, the member expected to respond most."""
    expect(len(family) > source_index, "This model's family is too small for this exercise.")
    unit = _member(family, answer, "your prediction")
    source = family.units[source_index]
    target = (family.orientations[source_index] + angle) % 360
    distances = angle_difference(family.orientations, target)
    best = family.units[int(np.argmin(distances))]
    mine = float(distances[family.units.index(unit)])
    if unit != best and float(angle_difference(family.orientations[family.units.index(unit)],
                                                (family.orientations[source_index] - angle) % 360)) < 1e-6:
        expect(False, f"{unit} is where the curve would go if it turned clockwise.",
               "Angles grow counter-clockwise: rotating by +a turns orientation θ into θ + a.")
    expect(unit == best,
           f"{unit} prefers an orientation {mine:.0f} degrees away from the rotated curve's; another member is closer.",
           "Rotating an image counter-clockwise by a degrees turns a curve of orientation θ into one of θ + a; "
           "pick the member whose preferred orientation is nearest on the circle (angle_difference).")
    return passed(f"rotated by {angle:.0f} degrees, {source}'s curve faces {target:.0f} degrees: {best}'s turn.")
