"""Branch specialization: how a family of units spreads over the branches of a concatenated layer.

Branch Specialization (Voss et al., 2021) observes that where a layer is split into branches (InceptionV1's 1x1,
3x3, 5x5 and pool branches; AlexNet's two GPUs), features of one kind gather in one branch: the curve detectors of
InceptionV1's ``mixed3b`` all sit in its 5x5 branch, which holds a fifth of the layer's channels.
:func:`branch_census` counts a family's members per branch beside the count chance would give, with the exact
probability that as many channels drawn at random put at least as many into the branch.
"""
from __future__ import annotations

from dataclasses import dataclass
from math import comb
from typing import Sequence

from .models import Layer


@dataclass(frozen=True)
class BranchCount:
    """One branch of a layer: its width, the family members in it, the number chance would put there, and
    ``p_value``: the chance that as many channels drawn at random put at least ``members`` into this branch."""

    branch: str
    channels: int
    members: int
    expected: float
    p_value: float


@dataclass(frozen=True)
class BranchCensus:
    """A family's members counted per branch of ``layer``."""

    layer: str
    counts: tuple[BranchCount, ...]

    @property
    def size(self) -> int:
        """The number of family members counted."""
        return sum(count.members for count in self.counts)

    @property
    def most_enriched(self) -> BranchCount:
        """The branch whose count chance explains least (smallest p-value; the first such, in the layer's order)."""
        return min(self.counts, key=lambda count: count.p_value)

    @property
    def p_value(self) -> float:
        """The most enriched branch's p-value times the number of branches (any branch could have been the one)."""
        return min(1.0, self.most_enriched.p_value * len(self.counts))

    def describe(self) -> str:
        """One line: the family's size, each branch's count beside chance's, the most enriched branch and the p-value."""
        counts = ", ".join(f"{count.branch} {count.members} ({count.expected:.1f})" for count in self.counts)
        return (f"{self.size} units; per branch, found (by chance): {counts}; most enriched {self.most_enriched.branch}, "
                f"p = {self.p_value:.1e}")

    def share(self, branch: str) -> float:
        """The share of the family in ``branch`` (0 for an empty family)."""
        found = [count for count in self.counts if count.branch == branch]
        if not found:
            raise ValueError(f"{self.layer} has no branch {branch!r}; its branches: {[c.branch for c in self.counts]}.")
        return found[0].members / self.size if self.size else 0.0


def at_least_by_chance(total: int, width: int, drawn: int, members: int) -> float:
    """Hypergeometric upper tail: the chance that ``drawn`` of ``total`` channels, chosen at random without repeats,
    put at least ``members`` into a branch of ``width`` channels."""
    if not 0 <= width <= total or not 0 <= drawn <= total:
        raise ValueError(f"Cannot draw {drawn} of {total} channels with a branch of {width}.")
    return sum(_draws_with(total, width, drawn, k) for k in range(max(members, 0), min(width, drawn) + 1)) \
        / comb(total, drawn)


def _draws_with(total: int, width: int, drawn: int, inside: int) -> int:
    """How many sets of ``drawn`` of ``total`` channels hold exactly ``inside`` of a branch's ``width``."""
    return comb(width, inside) * comb(total - width, drawn - inside)


def census_counts(widths: Sequence[int], channels: Sequence[int]) -> tuple[list[int], list[float], float]:
    """The numbers of a branch census from the branches' widths alone, in the layer's order (the branches are
    concatenated: the first holds channels ``0 .. widths[0] - 1``, the next the following ``widths[1]``, ...).

    Returns the family's members per branch, the count chance would put in each (the family's size times the
    branch's share of the channels), and the census's p-value: the smallest branch's chance tail
    (:func:`at_least_by_chance`) times the number of branches, at most 1. What :func:`branch_census` reports for
    a layer, written on plain numbers: lesson 09's exercise 9 asks for it."""
    members = sorted({int(channel) for channel in channels})
    total, starts = sum(widths), [sum(widths[:index]) for index in range(len(widths))]
    inside = [sum(start <= channel < start + width for channel in members) for start, width in zip(starts, widths)]
    expected = [len(members) * width / total for width in widths]
    tails = [at_least_by_chance(total, width, len(members), count) for width, count in zip(widths, inside)]
    return inside, expected, min(1.0, min(tails) * len(widths))


def branch_census(layer: Layer, channels: Sequence[int]) -> BranchCensus:
    """Count a family's ``channels`` per branch of ``layer`` (a concatenated layer, such as InceptionV1's mixed3b)."""
    if not layer.branches:
        raise ValueError(f"{layer.name} has no branches (a single path): a branch census needs a concatenated layer, "
                         "such as InceptionV1's mixed layers.")
    members = sorted({int(channel) for channel in channels})
    outside = [channel for channel in members if layer.branch_of(channel) is None]
    if outside:
        raise ValueError(f"Channels {outside} are not in {layer.name}, whose branches cover channels "
                         f"{layer.branches[0].start} to {layer.branches[-1].stop - 1}.")
    total = sum(branch.stop - branch.start for branch in layer.branches)
    counts = []
    for branch in layer.branches:
        width = branch.stop - branch.start
        inside = sum(branch.start <= channel < branch.stop for channel in members)
        counts.append(BranchCount(branch.name, width, inside, len(members) * width / total,
                                  at_least_by_chance(total, width, len(members), inside)))
    return BranchCensus(layer.name, tuple(counts))


def article_family_censuses() -> dict[str, BranchCensus]:
    """The branch census of every family an article lists in an InceptionV1 mixed layer (curves in mixed3a, mixed3b
    and mixed4a; high-low in mixed3a; the dog-head units of Zoom In, layer by layer), keyed "kind, layer".

    It needs the units' indices and the architecture only, not the weights: what the articles' own lists say."""
    from .inceptionv1 import architecture_on_meta, course_layers
    from .paper import CURVE_FAMILIES, DOG_HEAD_UNITS, HIGH_LOW_MIXED3A

    layers = {layer.name: layer for layer in course_layers(architecture_on_meta()) if layer.branches}
    families = [("curves", CURVE_FAMILIES), ("high-low", {"mixed3a": HIGH_LOW_MIXED3A}), ("dog heads", DOG_HEAD_UNITS)]
    return {f"{kind}, {name}": branch_census(layers[name], units)
            for kind, listed in families for name, units in listed.items() if name in layers}
