"""Self-checks for the dog-head (unioning over cases) lesson's exercises."""
from __future__ import annotations

from typing import Sequence

import numpy as np

from ..mirror import MirrorTest, classify_mirror
from ..models import Unit
from . import expect, passed


def check_left_score(answer: float, test: MirrorTest, unit: str | Unit) -> bool:
    """Exercise 1: a unit's left score computed by hand from ``test.on_left`` and ``test.on_right``."""
    unit = Unit.parse(unit)
    expect(unit in test.units, f"{unit} is not one of the tested units.")
    expect(isinstance(answer, (int, float, np.floating, np.integer)), f"Answer with a number, not {type(answer).__name__}.")
    row = test.units.index(unit)
    truth = float(test.left_score[row])
    expect(abs(float(answer) - truth) < 1e-3,
           f"{float(answer):+.3f} is not {unit}'s left score ({truth:+.3f}).",
           "Sum the responses to left-facing versions (L) and to right-facing ones (R); the score is (L - R) / (L + R).")
    return passed(f"{unit}'s left score is {truth:+.3f}: label '{test.labels[row]}'.")


def check_invariant_units(answer: Sequence[str | Unit], test: MirrorTest, threshold: float) -> bool:
    """Exercise 2: the units the mirror test calls invariant at another ``threshold``."""
    given = {Unit.parse(u) for u in answer}
    labels = classify_mirror(test.left_score, test.peak, threshold, test.min_activation)
    truth = {unit for unit, label in zip(test.units, labels) if label == "invariant"}
    missing, extra = truth - given, given - truth
    expect(not missing and not extra,
           f"At threshold {threshold} the invariant units are {len(truth)}; you missed {sorted(map(str, missing))[:5]} "
           f"and included {sorted(map(str, extra))[:5]}.",
           "A unit is invariant when it fires and -threshold < left score < threshold.")
    return passed(f"{len(truth)} of {len(test.units)} units are mirror-invariant at threshold {threshold}.")


def check_union_choice(answer: int, left_net: np.ndarray, right_net: np.ndarray, allowed: np.ndarray | None = None) -> bool:
    """Exercise 3: the downstream channel (among ``allowed``) whose weaker case is strongest: the most even union."""
    expect(isinstance(answer, (int, np.integer)), f"Answer with a channel number (int), not {type(answer).__name__}.")
    allowed = np.ones(len(left_net), dtype=bool) if allowed is None else np.asarray(allowed, dtype=bool)
    expect(0 <= int(answer) < len(left_net) and bool(allowed[int(answer)]),
           f"Channel {answer} is not one of the candidates (it must respond to heads).", "Keep only the units where `responsive` is True.")
    evenness = np.where(allowed, np.minimum(left_net, right_net), -np.inf)
    best = int(np.argmax(evenness))
    expect(int(answer) == best,
           f"Channel {answer} gets {left_net[answer]:+.3f} from the left units and {right_net[answer]:+.3f} from the right; "
           f"channel {best} does better on its weaker side ({evenness[best]:+.3f}).",
           "Take np.minimum(left_net, right_net) over the allowed units and its argmax.")
    return passed(f"Channel {best} is excited by both cases: {left_net[best]:+.3f} from the left, {right_net[best]:+.3f} from the right.")
