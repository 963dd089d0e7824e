"""Lesson 10's claims, measured: each verdict is (passed, detail) for :meth:`helpers.claims.Claims.check`.

The claims cell of the lesson states each claim's text; the comparisons behind them live here, so that they are
tested once (tests/test_interventions.py) and the cell reads as the list of what was verified.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import torch

from ..models import CircuitModel, Unit
from ..paper import CURVE_FAMILIES
from .experiments import ClientProbe, MatchedComparison, listed_units_comparison

Verdict = tuple[bool, str]


def ablation_verdicts(family_damage: dict[str, float], random_damage: dict[str, np.ndarray], recovery: float,
                      recovery_turned: float, *, measured: bool) -> dict[str, Verdict]:
    """The family's ablation against the weight-matched draws, and the splice's repair, as three verdicts:

    - ``"beyond"``: the family's damage to the clients' curve responses exceeds the draws' spread
      (:attr:`MatchedComparison.beyond`);
    - ``"specific"``: measured against the draws, it damages curve responses more than natural patches' responses;
    - ``"splice"``: the hand-written splice undoes part of the damage (``recovery`` > 0), turned 180 degrees none of it.

    ``measured`` is False without a family and its clients: every verdict then fails.
    """
    on_curves = MatchedComparison(family_damage["curves"], random_damage["curves"])
    on_natural = MatchedComparison(family_damage["natural patches"], random_damage["natural patches"])
    return {
        "beyond": (measured and on_curves.beyond, f"family {on_curves}"),
        "specific": (measured and on_curves.ratio > on_natural.ratio,
                     f"family / weight-matched damage: curves {on_curves.ratio:.2f}, natural patches {on_natural.ratio:.2f}"),
        "splice": (measured and recovery > 0 and recovery_turned <= 0,
                   f"undone {recovery:.0%}; turned 180°: {recovery_turned:.0%}"),
    }


def article_curve_verdicts(model: CircuitModel, probe: ClientProbe, intact: np.ndarray, draws: int, *,
                           family: Sequence[str | Unit], means: torch.Tensor, matched_on: np.ndarray, seed: int = 5,
                           inside_at_least: int = 6) -> dict[str, Verdict]:
    """InceptionV1's ten mixed3b curve detectors of the Curve Detectors article tested as the family is
    (:func:`listed_units_comparison`): ``"beyond"``, their ablation exceeds the weight-matched draws' spread;
    ``"inside"``, at least ``inside_at_least`` of them are in ``family``."""
    units = model.units("mixed3b", CURVE_FAMILIES["mixed3b"])
    paper, inside = listed_units_comparison(model, probe, intact, units, draws, family=family, means=means,
                                            matched_on=matched_on, seed=seed)
    return {
        "beyond": (paper is not None and paper.beyond, f"article's units {paper}" if paper else "no clients found"),
        "inside": (inside >= inside_at_least, f"{inside} of {len(units)} in the family"),
    }
