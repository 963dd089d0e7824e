"""The mirror test and the weight summaries of a "union over cases" circuit (Zoom In's dog heads).

**Mirror test.** Show a unit some images and their left-right flips. A unit that detects a
left-facing head fires on the left-facing version and much less on its mirror image; a
pose-invariant unit fires about equally on both. With ``facing`` saying which way the images as
given face, :func:`mirror_test` scores every unit with

    left_score = (sum of responses to left-facing versions - sum to right-facing versions)
                 / (sum of both)

which lies in [-1, 1]: +1 only left, -1 only right, 0 both equally. A unit is called
``"left"`` when ``left_score >= threshold``, ``"right"`` when ``left_score <= -threshold``,
``"invariant"`` in between, and ``"silent"`` when it never exceeds ``min_activation`` (no evidence
either way). The default threshold, 1/3, means "at least twice as much for one side".

**Weights.** :func:`union_summary` measures how much each case (the left units, the right units)
excites a downstream unit, and where in its kernel; :func:`cross_weights` measures whether two
parallel paths inhibit each other (negative weights from the left units of one layer into the
right units of the next, and the other way round). Both read expanded weights from
:mod:`helpers.weights`, so they work between any two layers, adjacent or not.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Sequence

import numpy as np
import torch

from .models import CircuitModel, Unit
from .probing import unit_responses
from .stats import correlation_columns
from .weights import expanded_weights

Facing = Literal["left", "right"]
LABELS = ("left", "right", "invariant", "silent")


def _balance(left: torch.Tensor, right: torch.Tensor) -> torch.Tensor:
    """(left - right) / (left + right) for non-negative tensors, 0 where both are 0."""
    total = left + right
    return torch.where(total > 0, (left - right) / total.clamp(min=1e-12), torch.zeros_like(total))


def mirror_score(on_left: torch.Tensor, on_right: torch.Tensor) -> torch.Tensor:
    """Left score per row of (U, N) responses to left-facing and right-facing versions: in [-1, 1], 0 when silent."""
    if on_left.shape != on_right.shape:
        raise ValueError(f"Both response tables need the same shape, got {tuple(on_left.shape)} and {tuple(on_right.shape)}.")
    return _balance(on_left.clamp(min=0).sum(-1), on_right.clamp(min=0).sum(-1))


def classify_mirror(scores: torch.Tensor, peaks: torch.Tensor, threshold: float = 1 / 3, min_activation: float = 1e-3) -> list[str]:
    """Label each unit ``left``, ``right``, ``invariant`` or ``silent`` from its left score and its peak response."""
    if not 0 < threshold < 1:
        raise ValueError(f"threshold must be between 0 and 1 (exclusive), not {threshold}.")
    labels = []
    for score, peak in zip(scores.tolist(), peaks.tolist()):
        if peak <= min_activation:
            labels.append("silent")
        elif score >= threshold:
            labels.append("left")
        elif score <= -threshold:
            labels.append("right")
        else:
            labels.append("invariant")
    return labels


@dataclass
class MirrorTest:
    """Responses of units to images and to their mirror images, with each unit's score and label."""

    units: list[Unit]
    on_left: torch.Tensor  # (U, N) responses to the left-facing version of each image
    on_right: torch.Tensor  # (U, N) responses to the right-facing version
    threshold: float
    min_activation: float

    @property
    def left_score(self) -> torch.Tensor:
        """(U,) in [-1, 1]: +1 fires only for left-facing, -1 only for right-facing, 0 equally."""
        return mirror_score(self.on_left, self.on_right)

    @property
    def image_scores(self) -> torch.Tensor:
        """(U, N) the left score of each image and its mirror image on their own (0 where the unit is silent on both)."""
        return _balance(self.on_left.clamp(min=0), self.on_right.clamp(min=0))

    @property
    def peak(self) -> torch.Tensor:
        """(U,) the largest response of each unit to any image or flip."""
        return torch.maximum(self.on_left.amax(-1), self.on_right.amax(-1))

    @property
    def labels(self) -> list[str]:
        """One of ``left``, ``right``, ``invariant``, ``silent`` per unit."""
        return classify_mirror(self.left_score, self.peak, self.threshold, self.min_activation)

    def label_of(self, unit: str | Unit) -> str:
        """The label of one unit of the test."""
        unit = Unit.parse(unit)
        if unit not in self.units:
            raise ValueError(f"{unit} was not part of this mirror test; it tested {', '.join(map(str, self.units[:8]))}...")
        return self.labels[self.units.index(unit)]

    def units_labelled(self, label: str) -> list[Unit]:
        """The units with one label."""
        if label not in LABELS:
            raise ValueError(f"label must be one of {LABELS}, not {label!r}.")
        return [unit for unit, lab in zip(self.units, self.labels) if lab == label]

    def subset(self, units: Sequence[str | Unit]) -> "MirrorTest":
        """The same test restricted to some of its units (no new forward pass)."""
        rows = []
        for unit in units:
            unit = Unit.parse(unit)
            if unit not in self.units:
                raise ValueError(f"{unit} was not part of this mirror test.")
            rows.append(self.units.index(unit))
        return MirrorTest([self.units[i] for i in rows], self.on_left[rows], self.on_right[rows], self.threshold, self.min_activation)

    def most_oriented(self, side: Facing, count: int = 3, min_peak: float = 0.0) -> list[Unit]:
        """The ``count`` units with the most extreme score toward ``side`` among those whose peak reaches ``min_peak``."""
        if side not in ("left", "right"):
            raise ValueError(f"side must be 'left' or 'right', not {side!r}.")
        scores = self.left_score if side == "left" else -self.left_score
        eligible = torch.nonzero(self.peak >= min_peak).flatten()
        order = eligible[torch.argsort(scores[eligible], descending=True)]
        return [self.units[int(i)] for i in order[:count]]

    def table(self) -> str:
        """A printable table: unit, left score, peak response, label."""
        rows = [f"{'unit':<18} {'left score':>10} {'peak':>8}  label"]
        for unit, score, peak, label in zip(self.units, self.left_score.tolist(), self.peak.tolist(), self.labels):
            rows.append(f"{str(unit):<18} {score:>+10.2f} {peak:>8.2f}  {label}")
        return "\n".join(rows)


def mirror_test(
    model: CircuitModel,
    units: Sequence[str | Unit],
    images: torch.Tensor,
    facing: Facing = "left",
    *,
    threshold: float = 1 / 3,
    min_activation: float = 1e-3,
    at: Literal["max", "center"] = "max",
    batch_size: int = 16,
) -> MirrorTest:
    """Run units on (N, 3, H, W) images that face ``facing`` and on their horizontal flips; score and label each unit.

    ``at="max"`` reads each unit's largest value over positions (a flip moves the head, so the centre
    is the wrong place to look), ``at="center"`` the centre position.
    """
    if facing not in ("left", "right"):
        raise ValueError(f"facing must be 'left' or 'right' (which way the images as given face), not {facing!r}.")
    if images.dim() != 4 or images.shape[1] != 3:
        raise ValueError(f"images must be an (N, 3, H, W) batch in [0, 1], got shape {tuple(images.shape)}.")
    units = [model.unit(u) for u in units]
    as_given = unit_responses(model, units, images, at=at, batch_size=batch_size).T
    mirrored = unit_responses(model, units, images.flip(-1), at=at, batch_size=batch_size).T
    on_left, on_right = (as_given, mirrored) if facing == "left" else (mirrored, as_given)
    return MirrorTest(units, on_left, on_right, threshold, min_activation)


# --- weights ---------------------------------------------------------------------------------


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
class CrossWeights:
    """Net weights between two parallel paths over one step: same side (left->left, right->right) and across."""

    left_to_left: float
    right_to_right: float
    left_to_right: float
    right_to_left: float

    @property
    def mutual_inhibition(self) -> bool:
        """True when each path inhibits the other (both cross weights negative)."""
        return self.left_to_right < 0 and self.right_to_left < 0

    @property
    def same_side_excitation(self) -> bool:
        """True when each path excites its own continuation (both same-side weights positive)."""
        return self.left_to_left > 0 and self.right_to_right > 0

    def describe(self) -> str:
        """A two-by-two table of the net weights."""
        return (
            f"{'':>12} {'to left':>9} {'to right':>9}\n"
            f"{'from left':>12} {self.left_to_left:>+9.3f} {self.left_to_right:>+9.3f}\n"
            f"{'from right':>12} {self.right_to_left:>+9.3f} {self.right_to_right:>+9.3f}"
        )


def cross_weights(
    model: CircuitModel,
    left_from: Sequence[str | Unit],
    right_from: Sequence[str | Unit],
    left_to: Sequence[str | Unit],
    right_to: Sequence[str | Unit],
) -> CrossWeights:
    """Mean net weight from each path of one layer into each path of a later layer."""

    def mean_net(sources: Sequence[str | Unit], targets: Sequence[str | Unit]) -> float:
        return float(net_weight(weights_between(model, sources, targets)).mean())

    return CrossWeights(
        left_to_left=mean_net(left_from, left_to),
        right_to_right=mean_net(right_from, right_to),
        left_to_right=mean_net(left_from, right_to),
        right_to_left=mean_net(right_from, left_to),
    )


# --- mirror pairs without dog photographs --------------------------------------------------------


def own_image_test(model: CircuitModel, units: Sequence[str | Unit], images: torch.Tensor, *, batch_size: int = 16) -> MirrorTest:
    """Each unit against ITS OWN image (e.g. its feature visualization) and that image's mirror image.

    ``images[i]`` belongs to ``units[i]``; the image as given counts as "left" (the case the unit was
    made to answer), so a left score near +1 means the unit answers its image and not the mirror image
    (an oriented unit), near 0 that it answers both (a mirror-invariant unit, a union).
    """
    units = [model.unit(u) for u in units]
    if images.dim() != 4 or len(images) != len(units):
        raise ValueError(f"Give one (3, H, W) image per unit: {len(units)} units, images of shape {tuple(images.shape)}.")
    if not units:
        raise ValueError("Give at least one unit.")
    as_given = unit_responses(model, units, images, at="max", batch_size=batch_size)
    mirrored = unit_responses(model, units, images.flip(-1), at="max", batch_size=batch_size)
    rows = torch.arange(len(units))
    return MirrorTest(units, as_given[rows, rows][:, None], mirrored[rows, rows][:, None], 1 / 3, 1e-3)


@dataclass
class MirrorPartners:
    """For every unit of a layer: how well it, and every other unit, follows its responses under mirroring.

    ``correlation[a, b]`` is the correlation over images x between unit a's response to x and unit
    b's response to mirror(x). A mirror-invariant unit has ``correlation[a, a]`` near 1; an oriented
    unit a has a low ``correlation[a, a]`` and, in a network that learned both cases, a *partner*
    b != a with ``correlation[a, b]`` near 1: b answers mirror(x) as a answers x.
    """

    layer: str
    units: list[Unit]
    correlation: torch.Tensor  # (C, C)
    mean_response: torch.Tensor  # (C,) mean response over the images (as given)

    @property
    def self_correlation(self) -> torch.Tensor:
        """(C,) each unit's own responses to x against its responses to mirror(x)."""
        return self.correlation.diagonal().clone()

    @property
    def partner(self) -> torch.Tensor:
        """(C,) the other unit that best follows each unit's responses under mirroring."""
        others = self.correlation.clone()
        others.fill_diagonal_(-2.0)
        return others.argmax(1)

    @property
    def partner_correlation(self) -> torch.Tensor:
        """(C,) the correlation with that partner."""
        return self.correlation[torch.arange(len(self.units)), self.partner]

    def pairs(self, count: int | None = None, min_correlation: float = -1.0, max_self: float = 1.0) -> list[tuple[Unit, Unit]]:
        """Mutual partners (a's partner is b and b's is a) that follow each other better than themselves, best first.

        ``min_correlation`` is the least partner correlation of both, ``max_self`` the most either
        may follow itself (lower: more oriented).
        """
        partner, best, own = self.partner, self.partner_correlation, self.self_correlation
        found = []
        for a in range(len(self.units)):
            b = int(partner[a])
            if a < b and int(partner[b]) == a and min(best[a], best[b]) > max(own[a], own[b]) \
                    and min(best[a], best[b]) >= min_correlation and max(own[a], own[b]) <= max_self:
                found.append((float(min(best[a], best[b])), a, b))
        found.sort(reverse=True)
        return [(self.units[a], self.units[b]) for _, a, b in found[:count]]

    def table(self, pairs: Sequence[tuple[Unit, Unit]]) -> str:
        """One line per pair: the two units, how well each follows itself and the other under mirroring."""
        rows = [f"{'unit A':<16} {'unit B':<16} {'A~mirror A':>10} {'B~mirror B':>10} {'A~mirror B':>10}"]
        for a, b in pairs:
            i, j = self.units.index(a), self.units.index(b)
            rows.append(f"{str(a):<16} {str(b):<16} {float(self.correlation[i, i]):>10.2f} {float(self.correlation[j, j]):>10.2f} "
                        f"{float(min(self.correlation[i, j], self.correlation[j, i])):>10.2f}")
        return "\n".join(rows)


def partners_from_test(test: MirrorTest) -> MirrorPartners:
    """:class:`MirrorPartners` from a mirror test of every unit of one layer (images as given = ``on_left``)."""
    layers = {u.layer for u in test.units}
    if len(layers) != 1 or test.on_left.shape[1] < 3:
        raise ValueError("Give a mirror test of the units of ONE layer on at least 3 images.")
    given, mirrored = test.on_left.T.double(), test.on_right.T.double()  # (N, C)
    correlation = correlation_columns(given, mirrored).float()
    return MirrorPartners(layers.pop(), list(test.units), correlation, given.mean(0).float())


def mirror_partners(model: CircuitModel, layer: str, images: torch.Tensor, *, batch_size: int = 32) -> MirrorPartners:
    """Every unit of ``layer`` on (N, 3, H, W) images and their mirror images (maximum over positions): see :class:`MirrorPartners`."""
    if images.dim() != 4 or len(images) < 3:
        raise ValueError(f"Give at least 3 images as an (N, 3, H, W) batch, got shape {tuple(images.shape)}.")
    return partners_from_test(mirror_test(model, model.units(layer), images, facing="left", batch_size=batch_size))


@dataclass
class PairWeights:
    """Net weights from the two members of mirror pairs (A: one case, B: the other) into each unit of a later layer."""

    pairs: list[tuple[Unit, Unit]]
    targets: list[Unit]
    from_a: torch.Tensor  # (T, P)
    from_b: torch.Tensor  # (T, P)

    def symmetry(self, shuffled: bool = False, seed: int = 0) -> torch.Tensor:
        """(T,) per target, the correlation over pairs between its weight from A and from B (``shuffled``: B of another pair)."""
        b = self.from_b
        if shuffled:  # every A with the B of another pair: a random cyclic derangement
            order = torch.randperm(b.shape[1], generator=torch.Generator().manual_seed(seed))
            derangement = torch.empty_like(order)
            derangement[order] = torch.roll(order, 1)
            b = b[:, derangement]
        return torch.nn.functional.cosine_similarity(self.from_a - self.from_a.mean(1, keepdim=True),
                                                     b - b.mean(1, keepdim=True), dim=1)


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
    weights = net_weight(expanded_weights(model, layer, next_layer_name)).double()  # (C2, C1)
    scale = float(weights.abs().mean())
    follows = correlation_columns(first.on_left.T.double(), second.on_left.T.double()).numpy()  # (C1, C2)

    def measure(pairs_a: Sequence[tuple[int, int]], pairs_b: Sequence[tuple[int, int]]) -> tuple[float, float]:
        same, cross = [], []
        for a, b in pairs_a:
            for c, d in pairs_b:
                if follows[a, c] + follows[b, d] < follows[a, d] + follows[b, c]:
                    c, d = d, c
                same.append(float(weights[c, a] + weights[d, b]) / 2)
                cross.append(float(weights[d, a] + weights[c, b]) / 2)
        return float(np.mean(same)) / scale, float(np.mean(cross)) / scale

    def channels(pairs: Sequence[tuple[Unit, Unit]]) -> list[tuple[int, int]]:
        return [(model.unit(a).channel, model.unit(b).channel) for a, b in pairs]

    same, cross = measure(channels(first_pairs), channels(second_pairs))
    rng = np.random.default_rng(seed)

    def shuffled(count: int, units: int) -> list[tuple[int, int]]:
        order = rng.permutation(units)
        return [(int(order[2 * i]), int(order[2 * i + 1])) for i in range(count)]

    control = np.array([measure(shuffled(len(first_pairs), len(first.units)), shuffled(len(second_pairs), len(second.units)))
                        for _ in range(draws)])
    return PathwayInhibition(same, cross, control[:, 0], control[:, 1])
