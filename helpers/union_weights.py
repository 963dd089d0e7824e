"""The weights of a "union over cases" circuit (Zoom In's dog heads), read from expanded weights.

:func:`union_summary` measures how much each case (the left units, the right units) excites a
downstream unit, and where in its kernel; :func:`pair_weights` the weights from both members of
mirror pairs; :func:`pathway_inhibition` whether two mirrored pathways inhibit each other (weights
across the sides against shuffled pairings). All read expanded weights from :mod:`helpers.weights`,
so they work between any two layers, adjacent or not.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch

from .mirror import MirrorTest
from .models import CircuitModel, Unit
from .stats import correlation_columns
from .weights import expanded_weights


def _one_layer(model: CircuitModel, units: Sequence[str | Unit], what: str) -> tuple[str, list[int]]:
    parsed = [model.unit(u) for u in units]
    if not parsed:
        raise ValueError(f"{what} is empty: give at least one unit.")
    layers = {u.layer for u in parsed}
    if len(layers) != 1:
        raise ValueError(f"{what} must all come from one layer; got units of {sorted(layers)}.")
    return parsed[0].layer, [u.channel for u in parsed]


def weights_between(model: CircuitModel, sources: Sequence[str | Unit], targets: Sequence[str | Unit]) -> torch.Tensor:
    """(T, S, k, k) expanded weights from each source unit into each target unit (sources and targets one layer each)."""
    source_layer, source_channels = _one_layer(model, sources, "sources")
    target_layer, target_channels = _one_layer(model, targets, "targets")
    if model.layer_depth(source_layer) >= model.layer_depth(target_layer):
        raise ValueError(f"Weights run forward: {source_layer!r} must come before {target_layer!r} in the model.")
    weights = expanded_weights(model, source_layer, target_layer, to_channels=target_channels)
    return weights[:, source_channels]


def net_weight(weights: torch.Tensor) -> torch.Tensor:
    """Sum of a (..., k, k) weight kernel over space: the net effect of a source on a target."""
    return weights.sum((-2, -1))


def excitation(weights: torch.Tensor) -> torch.Tensor:
    """Sum of the positive parts of a (..., k, k) kernel: how much it can excite."""
    return weights.clamp(min=0).sum((-2, -1))


def inhibition(weights: torch.Tensor) -> torch.Tensor:
    """Sum of the negative parts of a (..., k, k) kernel (a number <= 0): how much it can inhibit."""
    return weights.clamp(max=0).sum((-2, -1))


@dataclass
class UnionSummary:
    """How two cases (left units, right units) feed one downstream unit."""

    target: Unit
    left_units: list[Unit]
    right_units: list[Unit]
    from_left: torch.Tensor  # (L, k, k) kernel from each left unit
    from_right: torch.Tensor  # (R, k, k) kernel from each right unit

    @property
    def left_net(self) -> float:
        """Net weight from all left units together."""
        return float(net_weight(self.from_left).sum())

    @property
    def right_net(self) -> float:
        """Net weight from all right units together."""
        return float(net_weight(self.from_right).sum())

    @property
    def left_map(self) -> torch.Tensor:
        """(k, k) kernel summed over the left units: where in its field the target reads the left case."""
        return self.from_left.sum(0)

    @property
    def right_map(self) -> torch.Tensor:
        """(k, k) kernel summed over the right units."""
        return self.from_right.sum(0)

    @property
    def excited_by_both(self) -> bool:
        """True when both cases have a positive net weight into the target: the signature of a union."""
        return self.left_net > 0 and self.right_net > 0

    @property
    def balance(self) -> float:
        """min / max of the two nets when both are positive (1 = even union), else 0."""
        if not self.excited_by_both:
            return 0.0
        return min(self.left_net, self.right_net) / max(self.left_net, self.right_net)

    def describe(self) -> str:
        """One line per case: net, excitation and inhibition."""
        lines = [f"into {self.target}:"]
        for name, kernels in (("left", self.from_left), ("right", self.from_right)):
            lines.append(
                f"  from {name:<5} units: net {float(net_weight(kernels).sum()):+.3f}, "
                f"excitation {float(excitation(kernels).sum()):.3f}, inhibition {float(inhibition(kernels).sum()):.3f}"
            )
        return "\n".join(lines)


def union_summary(model: CircuitModel, left_units: Sequence[str | Unit], right_units: Sequence[str | Unit], target: str | Unit) -> UnionSummary:
    """Weights from the left-facing and the right-facing units (one layer) into a downstream unit."""
    target = model.unit(target)
    left = [model.unit(u) for u in left_units]
    right = [model.unit(u) for u in right_units]
    _one_layer(model, left + right, "left_units and right_units together")
    return UnionSummary(
        target,
        left,
        right,
        weights_between(model, left, [target])[0],
        weights_between(model, right, [target])[0],
    )


@dataclass
class PairWeights:
    """Net weights from the two members of mirror pairs (A: one case, B: the other) into each unit of a later layer."""

    pairs: list[tuple[Unit, Unit]]
    targets: list[Unit]
    from_a: torch.Tensor  # (T, P)
    from_b: torch.Tensor  # (T, P)

    def symmetry(self, shuffled: bool = False, seed: int = 0) -> torch.Tensor:
        """(T,) per target, the correlation over pairs between its weight from A and from B (``shuffled``: B of another
        pair, a random cyclic derangement drawn with ``seed``; see :func:`union_reading`)."""
        order = torch.randperm(self.from_b.shape[1], generator=torch.Generator().manual_seed(seed))
        symmetry, control, _ = union_reading(self.from_a, self.from_b, order)
        return control if shuffled else symmetry

    def union_verdict(self, *, min_median: float = 0.5, min_gap: float = 0.3) -> tuple[bool, str]:
        """Do the targets weigh both members of each pair alike? The median of :meth:`symmetry` at least ``min_median``
        and at least ``min_gap`` above the median with every A paired with another pair's B. Returns (holds, a line)."""
        median, control = float(self.symmetry().median()), float(self.symmetry(shuffled=True).median())
        return (median >= min_median and median - control >= min_gap,
                f"median correlation {median:+.2f}, shuffled pairs {control:+.2f}, {len(self.targets)} units")

    def most_even(self) -> tuple[int, int]:
        """(target index, pair index) of the most even union: the target whose weaker weight from a pair's two
        members (the smaller of A's and B's) is the largest over all targets and pairs."""
        return union_reading(self.from_a, self.from_b, torch.arange(self.from_b.shape[1]))[2]


def union_reading(from_a: torch.Tensor, from_b: torch.Tensor,
                  order: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, tuple[int, int]]:
    """What lesson 05's section 7 reads off a union's weights, from the net weights (T, P) of the two members of P mirror
    pairs (A: one case, B: the other) into T later units: (symmetry, shuffled, most even).

    ``symmetry`` (T,) is each target's Pearson correlation over the pairs between its weight from A and from B; a union
    over cases weighs both alike. ``shuffled`` (T,) is the same with every A beside the B of *another* pair: ``order``
    (a permutation of the pairs) is read as a cycle, the pair ``order[i]`` taking the B of pair ``order[i - 1]`` (a
    derangement: no pair keeps its own B). ``most even`` is (target, pair) with the largest weaker weight of the pair's
    two members, ``min(from_a, from_b)``. Used by :class:`PairWeights`; the lesson's exercise 9 asks for it.
    """
    def correlation(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return torch.nn.functional.cosine_similarity(x - x.mean(1, keepdim=True), y - y.mean(1, keepdim=True), dim=1)

    other = torch.empty_like(order)
    other[order] = torch.roll(order, 1)
    evenness = torch.minimum(from_a, from_b)
    target, pair = divmod(int(evenness.argmax()), evenness.shape[1])
    return correlation(from_a, from_b), correlation(from_a, from_b[:, other]), (target, pair)


def pair_weights(model: CircuitModel, pairs: Sequence[tuple[str | Unit, str | Unit]], targets: Sequence[str | Unit]) -> PairWeights:
    """Net weights (expanded weights summed over space) from both members of each pair into each target unit."""
    if not pairs:
        raise ValueError("Give at least one pair of units.")
    a_units = [model.unit(a) for a, _ in pairs]
    b_units = [model.unit(b) for _, b in pairs]
    targets = [model.unit(t) for t in targets]
    return PairWeights(list(zip(a_units, b_units)), targets,
                       net_weight(weights_between(model, a_units, targets)), net_weight(weights_between(model, b_units, targets)))


# --- mutual inhibition between the mirrored pathways ---------------------------------------------


@dataclass
class PathwayInhibition:
    """Net weights from the mirror pairs of one layer into those of the next: along each side and across.

    ``same`` averages A->C and B->D, ``cross`` A->D and B->C, where C is the member of a later pair whose
    responses follow A's (on the same images) and D its partner; both in units of the mean |net weight|
    between the two layers. ``shuffled_cross`` is ``cross`` for random pairings of the layers' units, chosen
    the same way (so the side assignment's own bias is in the control too).
    """

    same: float
    cross: float
    shuffled_same: np.ndarray
    shuffled_cross: np.ndarray

    @property
    def p(self) -> float:
        """The share (add-one) of shuffled pairings whose cross weight is at most the real one's."""
        return float((np.sum(self.shuffled_cross <= self.cross) + 1) / (len(self.shuffled_cross) + 1))

    def describe(self) -> str:
        """Two lines: the real same-side and cross weights, then the shuffled pairings' and the real cross weight's p."""
        return (f"same-side weight {self.same:+.3f}, cross weight {self.cross:+.3f}\n"
                f"shuffled pairings: same-side {self.shuffled_same.mean():+.3f}, cross {self.shuffled_cross.mean():+.3f} "
                f"(5th percentile {np.percentile(self.shuffled_cross, 5):+.3f}); share at or below the real cross "
                f"weight: p = {self.p:.3f}")

    def verdict(self, first_pairs: int, second_pairs: int, *, min_pairs: int = 5, max_p: float = 0.05) -> tuple[bool, str]:
        """Do the mirrored pathways inhibit each other? At least ``min_pairs`` mirror pairs in each layer, a negative
        cross weight, and fewer than ``max_p`` of the shuffled pairings at or below it. Returns (holds, a line)."""
        holds = min(first_pairs, second_pairs) >= min_pairs and self.cross < 0 and self.p < max_p
        return holds, (f"cross {self.cross:+.3f} (same side {self.same:+.3f}), shuffled cross "
                       f"{self.shuffled_cross.mean():+.3f}, p = {self.p:.3f}, {first_pairs} and {second_pairs} pairs")


def inhibition_verdict(inhibition: PathwayInhibition | None, first_pairs: int, second_pairs: int, *, min_pairs: int = 5,
                       max_p: float = 0.05) -> tuple[bool, str]:
    """:meth:`PathwayInhibition.verdict`, or (False, a line saying why) when there was no measurement (``None``: no
    mirror pairs in one of the layers)."""
    if inhibition is None:
        return False, "no mirror pairs in one of the layers"
    return inhibition.verdict(first_pairs, second_pairs, min_pairs=min_pairs, max_p=max_p)


def same_and_cross(weights: np.ndarray, follows: np.ndarray, first_pairs: Sequence[tuple[int, int]],
                   second_pairs: Sequence[tuple[int, int]]) -> tuple[float, float]:
    """Mean same-side and cross net weights from the mirror pairs of one layer into those of the next.

    ``weights`` (C2, C1) are net weights from the first layer's units into the second's, ``follows`` (C1, C2)
    how closely each first-layer unit's responses follow each second-layer unit's. For pairs (A, B) and (C, D),
    C is taken to be on A's side when A->C and B->D follow each other more than A->D and B->C do (else the later
    pair is swapped); same-side averages A->C and B->D, cross A->D and B->C, both over all pairs of pairs and in
    units of the mean |net weight|.
    """
    same, cross = [], []
    for a, b in first_pairs:
        for c, d in second_pairs:
            if follows[a, c] + follows[b, d] < follows[a, d] + follows[b, c]:
                c, d = d, c
            same.append((weights[c, a] + weights[d, b]) / 2)
            cross.append((weights[d, a] + weights[c, b]) / 2)
    scale = float(np.abs(weights).mean())
    return float(np.mean(same)) / scale, float(np.mean(cross)) / scale


def pathway_inhibition(
    model: CircuitModel, first: MirrorTest, second: MirrorTest, first_pairs: Sequence[tuple[Unit, Unit]],
    second_pairs: Sequence[tuple[Unit, Unit]], *, draws: int = 200, seed: int = 0,
) -> PathwayInhibition:
    """Same-side and cross net weights between the mirror pairs of two consecutive layers, against shuffled pairings.

    ``first`` and ``second`` are mirror tests of *every* unit of each layer on the same images.
    """
    if not first_pairs or not second_pairs:
        raise ValueError("Give at least one mirror pair in each layer.")
    layer, next_layer_name = first.units[0].layer, second.units[0].layer
    weights = net_weight(expanded_weights(model, layer, next_layer_name)).double().cpu().numpy()  # (C2, C1)
    follows = correlation_columns(first.on_left.T.double(), second.on_left.T.double()).cpu().numpy()  # (C1, C2)

    def channels(pairs: Sequence[tuple[Unit, Unit]]) -> list[tuple[int, int]]:
        return [(model.unit(a).channel, model.unit(b).channel) for a, b in pairs]

    same, cross = same_and_cross(weights, follows, channels(first_pairs), channels(second_pairs))
    rng = np.random.default_rng(seed)

    def shuffled(count: int, units: int) -> list[tuple[int, int]]:
        order = rng.permutation(units)
        return [(int(order[2 * i]), int(order[2 * i + 1])) for i in range(count)]

    control = np.array([same_and_cross(weights, follows, shuffled(len(first_pairs), len(first.units)),
                                       shuffled(len(second_pairs), len(second.units)))
                        for _ in range(draws)])
    return PathwayInhibition(same, cross, control[:, 0], control[:, 1])
