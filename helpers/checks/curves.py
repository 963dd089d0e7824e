"""Self-checks for the curve-detector lesson's exercises."""
from __future__ import annotations

import math

import numpy as np

from ..models import CircuitModel, Unit
from ..stimuli.curves import curve
from ..tuning import CurveFamily, angle_difference, largest_gap
from . import expect, passed


def check_largest_gap(answer: float, family: CurveFamily) -> bool:
    """Exercise 1: the widest arc of orientations (degrees) that no member of the family prefers."""
    expect(isinstance(answer, (int, float, np.floating)) and math.isfinite(float(answer)),
           f"Expected a number of degrees, got {answer!r}.")
    truth = largest_gap(family.orientations)
    expect(0 <= float(answer) <= 360, f"A gap on the circle lies between 0 and 360 degrees; you gave {answer:.1f}.")
    expect(abs(float(answer) - truth) < 0.5,
           f"{float(answer):.1f} degrees is not the widest empty arc.",
           "Sort the orientations, take the differences between neighbours, and do not forget the gap that wraps "
           "around from the last orientation back to the first (+360).")
    return passed(f"the widest arc with no preferred orientation spans {truth:.0f} degrees.")


def check_strongest_member(model: CircuitModel, family: CurveFamily, orientation: float, answer: str | Unit) -> bool:
    """Exercise 2: which member responds most to a curve of ``orientation`` at the family's typical radius."""
    unit = model.unit(answer)
    expect(unit in family.units, f"{unit} is not a member of the family; members are {', '.join(map(str, family.units))}.")
    screen = family.screen
    radius = float(np.median(screen.best_radius[family.channels]))
    image = curve(screen.placement.size, orientation=orientation, radius=radius, center=screen.placement.center, **screen.style)
    responses = family.responses(model, image[None])[0]
    winner = family.units[int(np.argmax(responses))]
    expect(unit == winner,
           f"{unit} gives {responses[family.units.index(unit)]:.2f} but {winner} gives {responses.max():.2f}.",
           "Draw the curve with the family's placement (family.screen.placement) and style (family.screen.style), "
           "then take the member with the largest family.responses(...).")
    preferred = family.orientations[family.units.index(unit)]
    return passed(f"{unit} responds most; it prefers {preferred:.0f} degrees, "
                  f"{float(angle_difference(preferred, orientation)):.0f} degrees from the curve you drew.")


def check_rotation_prediction(family: CurveFamily, source: str | Unit, angle: float, answer: str | Unit) -> bool:
    """Exercise 3: after rotating ``source``'s favourite curve by ``angle``, the member expected to respond most."""
    source, answer = Unit.parse(source), Unit.parse(answer)
    expect(source in family.units, f"{source} is not a member of the family.")
    expect(answer in family.units, f"{answer} is not a member of the family.")
    target = family.orientations[family.units.index(source)] + angle
    distances = angle_difference(family.orientations, target)
    best = family.units[int(np.argmin(distances))]
    expect(answer == best,
           f"{answer} prefers {family.orientations[family.units.index(answer)]:.0f} degrees, but the rotated curve has "
           f"orientation {target % 360:.0f}; {best} prefers {family.orientations[family.units.index(best)]:.0f}, closer.",
           "Rotating an image counter-clockwise by a degrees turns a curve of orientation θ into one of θ + a; "
           "pick the member whose preferred orientation is nearest (on the circle).")
    return passed(f"rotated by {angle:.0f} degrees, {source}'s curve faces {target % 360:.0f} degrees: {best}'s turn.")
