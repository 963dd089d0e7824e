"""Lesson 02's measurements in one call each: what the curve screen found, and the verdict behind each claim.

- :func:`family_summary`: where the screen drew, the family's size, polarities and members, ready to print;
  :func:`firing_summary`: how often the members fire on the scanned photographs;
- :func:`examples_neighbour_test`: the neighbour test on the members' centred top examples (argument 2);
  :func:`with_examples`: the shown members that have centred examples to turn (argument 4);
  :func:`agreement_table`: argument 4's peaks beside the synthetic orientations, ready to print;
- the verdicts, each ``(passed, measured)`` for one claim of the lesson's "What we verified" cell (the claim's text
  and its threshold stay in the lesson): :func:`share_verdict` and :func:`gap_verdict` (the other contrast
  polarity), :func:`neighbour_verdict` (arguments 1 and 2), :func:`hand_over_verdict` and
  :func:`agreement_verdict` (argument 4), :func:`paper_family_verdict`, :func:`paper_rank_verdict` and
  :func:`paper_spread_verdict` (the article's mixed3b units). A measurement the lesson could not make on the active
  model (``None``: too few members, no usable examples) fails its claim and says why.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import torch

from .dataset_examples import DatasetExamples
from .families import CurveFamily, CurveScreen
from .models import CircuitModel, Unit
from .polarity_hold_out import other_polarity_screens
from .tuning import NeighbourTest, largest_gap, neighbour_test

Verdict = tuple[bool, str]


def family_summary(family: CurveFamily) -> str:
    """What the curve screen found, as lesson 02 prints it: where it drew, how many units form the family and its
    largest orientation gap, the members per contrast polarity, the members that prefer lines in their other polarity,
    then the family's table (one row per member)."""
    placement = family.screen.placement
    lines = [f"Stimuli drawn at {placement.size} px, centred at {placement.center}, receptive field {placement.extent:.0f} px.",
             f"{len(family)} of {family.screen.channels} units form the curve family; "
             f"largest orientation gap {family.largest_gap():.0f} degrees.",
             "Members by contrast polarity: " + ", ".join(f"{n} found with {p} curves"
                                                          for p, n in family.polarity_counts().items()) + "."]
    if len(family.screen.polarities) == 2:
        only = [u for u, other in zip(family.units, other_polarity_screens(family)) if other.curve_selectivity[u.channel] <= 0]
        lines.append(f"{len(only)} member(s) prefer lines to curves in their other polarity (they would be missed by a "
                     "one-polarity screen" + (f", e.g. {only[0]})." if only else ")."))
    lines += ["", family.table()]
    if len(family) < 2:
        lines += ["", f"With {len(family)} member(s) there is no family to study on this model: the figures below are "
                  "skipped or drawn empty, and the claims at the end will say so."]
    return "\n".join(lines)


def firing_summary(examples: DatasetExamples, channels: Sequence[int]) -> str:
    """How often the members fire (pre-activation > 0) over every scanned position: their mean, range, and the article's."""
    firing = [examples.summary(c)["firing_fraction"] for c in channels]
    return (f"Family members fire (pre-activation > 0) at {np.mean(firing):.0%} of positions on average "
            f"(range {min(firing):.0%} to {max(firing):.0%}); the article reports about 11% for mixed3b:379.")


def examples_neighbour_test(model: CircuitModel, family: CurveFamily,
                            batches: Sequence[torch.Tensor]) -> NeighbourTest | None:
    """Argument 2 read by the family: ``batches[f]`` holds member f's centred examples (possibly none); every member
    answers every image, and :func:`~helpers.tuning.neighbour_test` asks whether the strongest *other* member faces
    the image's own. ``None`` with fewer than two members or no example at all."""
    rows = [(index, batch) for index, batch in enumerate(batches) if len(batch)]
    if len(family) < 2 or not rows:
        return None
    responses = family.responses(model, torch.cat([batch for _, batch in rows]))
    owner = [index for index, batch in rows for _ in range(len(batch))]
    return neighbour_test(responses, owner, family.orientations)


def with_examples(shown: CurveFamily, family: CurveFamily, batches: Sequence[torch.Tensor], count: int,
                  labels: Sequence[str]) -> tuple[CurveFamily, list[torch.Tensor], list[str]]:
    """The members of ``shown`` (a subset of ``family``) that have centred examples (``batches[f]`` for member f of
    ``family``): that subset, at most ``count`` examples of each, and their labels (``labels`` are ``shown``'s)."""
    positions = [family.units.index(u) for u in shown.units]
    usable = [i for i, p in enumerate(positions) if len(batches[p])]
    return shown.subset(usable), [batches[positions[i]][:count] for i in usable], [labels[i] for i in usable]


def agreement_table(units: Sequence[Unit], synthetic: np.ndarray, real: np.ndarray, others_only: np.ndarray) -> str:
    """Argument 4's table: each member's synthetic orientation beside its peak on the rotated photographs, with and
    without its own photographs (degrees)."""
    rows = ["member            synthetic  rotated photos  (other members' photos only)"]
    rows += [f"{str(unit):>16}: {a:7.0f}°  {b:12.0f}°  {c:12.0f}°" for unit, a, b, c in zip(units, synthetic, real, others_only)]
    return "\n".join(rows)


def share_verdict(share: float | None, members: int, need: float) -> Verdict:
    """A share of the family's members reaches ``need`` (a fraction), in a family of at least two members."""
    if share is None:
        return False, "not measured: no member, or a one-polarity screen"
    return share >= need and members >= 2, f"{share:.0%} of {members} members (need {need:.0%})"


def gap_verdict(gap: float | None, widest: float) -> Verdict:
    """No orientation gap wider than ``widest`` degrees."""
    if gap is None:
        return False, "not measured: no member, or a one-polarity screen"
    return gap <= widest, f"largest gap {gap:.0f}°"


def neighbour_verdict(test: NeighbourTest | None, max_p: float) -> Verdict:
    """The neighbour test beats chance: permutation p below ``max_p`` and a hit rate above chance's."""
    if test is None:
        return False, "not measured: too few members, or nothing to read"
    return test.p_value < max_p and test.rate > test.chance, str(test)


def hand_over_verdict(misses: np.ndarray | None, chance: float | None, times: float) -> Verdict:
    """Rotations whose winner faces the turned curve (a miss of at most 45°) reach ``times`` a random member's rate."""
    if misses is None or chance is None:
        return False, "not measured: fewer than two members with usable examples"
    rate = float(np.mean(np.asarray(misses) <= 45))
    return rate >= times * chance, (f"{rate:.0%} of rotations, a random member {chance:.0%} "
                                    f"(need {'twice' if times == 2 else f'{times:g} times'})")


def agreement_verdict(agreement: np.ndarray | None, need: float) -> Verdict:
    """At least ``need`` (a fraction) of the members peak within 45° of their synthetic orientation."""
    if agreement is None:
        return False, "not measured: fewer than two members with usable examples"
    rate = float(np.mean(np.asarray(agreement) <= 45))
    return rate >= need, f"{rate:.0%} of {len(agreement)} members within 45° (need {need:.0%})"


def paper_family_verdict(family: CurveFamily, paper_units: Sequence[int], least: int, unit: int) -> Verdict:
    """At least ``least`` of the article's ``paper_units`` are members, ``unit`` among them."""
    in_family = [u for u in paper_units if u in set(family.channels)]
    return len(in_family) >= least and unit in in_family, f"{len(in_family)} of {len(paper_units)} in the family: {in_family}"


def paper_rank_verdict(family: CurveFamily, paper_units: Sequence[int], count: int, least: int) -> Verdict:
    """At least ``least`` of the article's ``paper_units`` rank among the family's ``count`` best members by score."""
    ranked = list(np.asarray(family.channels)[np.argsort(-family.score)])
    found = sum(u in ranked[:count] for u in paper_units)
    return found >= least, f"{found} of {len(paper_units)} in the top {count}"


def paper_spread_verdict(screen: CurveScreen, paper_units: Sequence[int], widest: float) -> Verdict:
    """The article's ``paper_units`` all score above 0 on the screen and leave no orientation gap wider than ``widest``."""
    units = list(paper_units)
    gap = largest_gap(screen.preferred[units])
    return gap <= widest and all(screen.score[u] > 0 for u in units), f"largest gap {gap:.0f}°"
