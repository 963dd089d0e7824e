"""Self-checks for the dog-head (unioning over cases) lesson's exercises.

Each check recomputes the right answer from the test, the partners or the weights it is given; a
typed-in number, a neighbouring unit or another unit's answer fails.
"""
from __future__ import annotations

import numpy as np

from ..mirror import MirrorPartners, MirrorTest
from ..models import Unit
from . import exercise, expect, passed

Number = (int, float, np.floating, np.integer)


@exercise
def check_left_score(answer: float, test: MirrorTest, unit: str | Unit) -> bool:
    """Exercise 1: a unit's left score computed by hand from ``test.on_left`` and ``test.on_right``."""
    unit = Unit.parse(unit)
    expect(unit in test.units, f"{unit} is not one of the tested units.")
    expect(isinstance(answer, Number) and not isinstance(answer, bool), f"Answer with a number, not {type(answer).__name__}.")
    row = test.units.index(unit)
    truth = float(test.left_score[row])
    expect(abs(float(answer) - truth) < 1e-3,
           f"{float(answer):+.3f} is not {unit}'s left score.",
           "L = the response to the image as given, R = to its mirror image (negative values count as 0); "
           "the score is (L - R) / (L + R).")
    return passed(f"{unit}'s left score is {truth:+.3f}: label '{test.labels[row]}'.")


@exercise
def check_mirror_partner(partners: MirrorPartners, unit: int, answer: int) -> bool:
    """Exercise 2: the other unit whose responses to mirrored images best follow ``unit``'s responses to the images."""
    expect(isinstance(answer, (int, np.integer)) and not isinstance(answer, bool),
           f"Answer with a channel number (int), not {type(answer).__name__}.")
    count = len(partners.units)
    expect(0 <= int(answer) < count, f"Channel {answer} does not exist: the layer has {count} units.")
    expect(int(answer) != int(unit), "That is the unit itself: its partner is another unit.",
           "Leave the unit's own column out before taking the best one.")
    row = partners.correlation[int(unit)]
    best = int(partners.partner[int(unit)])
    expect(int(answer) == best,
           f"Unit {answer}'s responses to mirrored crops follow unit {unit}'s with correlation {float(row[int(answer)]):+.2f}; "
           "another unit follows them more closely.",
           "Take the argmax of partners.correlation[k] over every column except k.")
    return passed(f"Unit {best} follows unit {unit} under mirroring with correlation {float(row[best]):+.2f} "
                  f"(unit {unit} follows itself with {float(row[int(unit)]):+.2f}).")


@exercise
def check_union_choice(answer: int, left_net: np.ndarray, right_net: np.ndarray, allowed: np.ndarray | None = None) -> bool:
    """Exercise 3: the downstream channel (among ``allowed``) whose weaker case is strongest: the most even union."""
    expect(isinstance(answer, (int, np.integer)) and not isinstance(answer, bool),
           f"Answer with a channel number (int), not {type(answer).__name__}.")
    left_net, right_net = np.asarray(left_net, dtype=np.float64), np.asarray(right_net, dtype=np.float64)
    allowed = np.ones(len(left_net), dtype=bool) if allowed is None else np.asarray(allowed, dtype=bool)
    expect(0 <= int(answer) < len(left_net) and bool(allowed[int(answer)]),
           f"Channel {answer} is not one of the candidates (it must respond to the images).", "Keep only the allowed (active) units.")
    evenness = np.where(allowed, np.minimum(left_net, right_net), -np.inf)
    best = int(np.argmax(evenness))
    expect(int(answer) == best,
           f"Channel {answer} gets {left_net[answer]:+.3f} from one case and {right_net[answer]:+.3f} from the other; "
           "another allowed channel does better on its weaker side.",
           "Rank by the smaller of the two net weights (np.minimum), among the allowed units only.")
    return passed(f"Channel {best} is excited by both cases: {left_net[best]:+.3f} and {right_net[best]:+.3f}.")
