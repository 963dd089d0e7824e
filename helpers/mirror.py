"""The mirror test (Zoom In's dog heads): which units answer one facing, the other, or both, and their mirror partners.

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

**Mirror partners.** :func:`partners_from_test` finds, for every unit of a layer, the unit whose
responses follow its own under mirroring (:meth:`MirrorPartners.active_invariant`: the units that follow
themselves); :func:`orientation_per_image` scores units on images of unknown facing; :func:`partner_answers` tests a
pair on pictures (does B answer the mirror image of A's picture more than the picture itself?), and
:func:`mirror_pair_pictures` renders each member's feature visualization and runs that test; :func:`mutual_pairs` keeps
the mutual partners. :func:`top_image_scores` scores units on their own top images, :func:`article_units_verdict` checks the
article's InceptionV1 head units. The weights of a union
over cases are :mod:`helpers.union_weights`.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Sequence

import torch

from .featurevis.render import render_units
from .models import CircuitModel, Unit
from .paper import DOG_HEAD_INVARIANT, DOG_HEAD_ORIENTED
from .probing import unit_responses
from .stats import correlation_columns

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


def orientation_per_image(model: CircuitModel, units: Sequence[str | Unit], images: torch.Tensor, *, steps: int,
                          size: int) -> torch.Tensor:
    """(U,) how oriented each unit is when the facing of the images is unknown: the mean over ``images`` of the
    |left score| of each image against its mirror image. With no images, each unit's |left score| on its own feature
    visualization (rendered with ``steps`` and ``size``) against its mirror image."""
    if len(images):
        return mirror_test(model, units, images).image_scores.abs().mean(1)
    own = render_units(model, units, steps=steps, size=size, progress=False).images
    return own_image_test(model, units, own).left_score.abs()


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


def mutual_pairs(correlation: torch.Tensor, *, min_correlation: float = -1.0,
                 max_self: float = 1.0) -> list[tuple[int, int]]:
    """Mutual mirror partners from a (C, C) table, best first: the pairs of unit indices (a, b), a < b, where each is
    the other's partner (the other unit whose responses to mirror images best follow its own, the diagonal left out)
    and both follow each other better than either follows itself: min(correlation[a, b], correlation[b, a]) above
    max(correlation[a, a], correlation[b, b]). Sorted by that min, largest first. ``min_correlation`` is the least
    that min may be, ``max_self`` the most either may follow itself (lower: more oriented).

    ``correlation[a, b]`` is the correlation over images x between unit a's response to x and unit b's response to
    mirror(x) (:attr:`MirrorPartners.correlation`). This is how section 6 of lesson 05 counts mirror pairs.
    """
    others = correlation.clone()
    others.fill_diagonal_(-2.0)
    partner = others.argmax(1)
    found = []
    for a in range(len(correlation)):
        b = int(partner[a])
        if a < b and int(partner[b]) == a:
            follow = min(float(correlation[a, b]), float(correlation[b, a]))
            own = max(float(correlation[a, a]), float(correlation[b, b]))
            if follow > own and follow >= min_correlation and own <= max_self:
                found.append((follow, a, b))
    found.sort(reverse=True)
    return [(a, b) for _, a, b in found]


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

    def active_invariant(self, min_self: float = 0.9) -> list[Unit]:
        """The active mirror-invariant units: those that follow themselves under mirroring (self-correlation at
        least ``min_self``) and whose mean response is above the layer's median (a silent unit is invariant too)."""
        median = self.mean_response.median()
        return [unit for unit, own, mean in zip(self.units, self.self_correlation, self.mean_response)
                if own >= min_self and mean > median]

    @property
    def partner_correlation(self) -> torch.Tensor:
        """(C,) the correlation with that partner."""
        return self.correlation[torch.arange(len(self.units)), self.partner]

    def pairs(self, count: int | None = None, min_correlation: float = -1.0, max_self: float = 1.0) -> list[tuple[Unit, Unit]]:
        """Mutual partners (a's partner is b and b's is a) that follow each other better than themselves, best first.

        ``min_correlation`` is the least partner correlation of both, ``max_self`` the most either
        may follow itself (lower: more oriented).
        """
        found = mutual_pairs(self.correlation, min_correlation=min_correlation, max_self=max_self)
        return [(self.units[a], self.units[b]) for a, b in found[:count]]

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


# --- a mirror pair tested on its members' pictures ------------------------------------------------


def partner_answers(model: CircuitModel, pairs: Sequence[tuple[str | Unit, str | Unit]],
                    pictures: dict[Unit, torch.Tensor]) -> torch.Tensor:
    """(2P, 2) how each member of a mirror pair answers the other member's picture, mirrored and as given.

    For each pair (A, B) two rows, first A's picture read by B, then B's picture read by A; in each row the
    reader's response to the mirror image of the picture, then to the picture itself. ``pictures`` maps each
    unit (a :class:`Unit`) to its (3, H, W) picture, e.g. its feature visualization. Each response is the
    reader's largest value over positions (a flip moves things around), read *before* its non-linearity: a
    ReLU6 can clip both answers at 6, and a tie says nothing. A mirror partner answers the mirror image more.
    """
    rows = []
    for a, b in pairs:
        a, b = model.unit(a), model.unit(b)
        for shown, reader in ((a, b), (b, a)):
            image = pictures[shown]
            both = torch.stack([image.flip(-1), image])
            rows.append(unit_responses(model, [reader], both, at="max", pre_activation=True)[:, 0])
    return torch.stack(rows) if rows else torch.zeros(0, 2)


@dataclass
class PairPictures:
    """Mirror pairs tested on their members' feature visualizations (see :func:`partner_answers`)."""

    pairs: list[tuple[Unit, Unit]]
    pictures: dict[Unit, torch.Tensor]  # each member's (3, H, W) feature visualization
    answers: torch.Tensor  # (2P, 2): per pair, B reading A's picture then A reading B's; (to the mirror image, as given)

    @property
    def units(self) -> list[Unit]:
        """Every member of the pairs once, in the order of their names."""
        return sorted(self.pictures, key=str)

    @property
    def wins(self) -> list[bool]:
        """Per directed pair: does the reader answer the mirror image of the other's picture more than the picture?"""
        return [bool(on_mirror > on_image) for on_mirror, on_image in self.answers.tolist()]

    def verdict(self, *, min_pairs: int = 4, min_share: float = 0.75) -> tuple[bool, str]:
        """Does each partner answer the mirror image of the other's picture more than the picture? At least ``min_pairs``
        directed pairs, and at least ``min_share`` of them won. Returns (holds, a line)."""
        wins = self.wins
        return len(wins) >= min_pairs and sum(wins) / len(wins) >= min_share, f"{sum(wins)} of {len(wins)} directed pairs"


def mirror_pair_pictures(model: CircuitModel, pairs: Sequence[tuple[str | Unit, str | Unit]], *, steps: int,
                         size: int, progress: bool = True) -> PairPictures:
    """Render every member of ``pairs`` (one batch, :func:`~helpers.featurevis.render.render_units`) and test each
    pair on the pictures with :func:`partner_answers`. No pairs: nothing rendered, no answers."""
    pairs = [(model.unit(a), model.unit(b)) for a, b in pairs]
    members = sorted({u for pair in pairs for u in pair}, key=str)
    if not members:
        return PairPictures([], {}, torch.zeros(0, 2))
    rendered = render_units(model, members, steps=steps, size=size, progress=progress).images
    pictures = dict(zip(members, rendered))
    return PairPictures(pairs, pictures, partner_answers(model, pairs, pictures))


# --- head units and the article's units ---------------------------------------------------------------


def top_image_scores(test: MirrorTest, units: Sequence[str | Unit], count: int) -> torch.Tensor:
    """(U,) each unit's left score on only the ``count`` images (as given) it answers most, against their mirror images."""
    rows = [test.units.index(Unit.parse(u)) for u in units]
    given, mirrored = test.on_left[rows], test.on_right[rows]
    best = given.topk(min(count, given.shape[1]), dim=1).indices
    return mirror_score(given.gather(1, best), mirrored.gather(1, best))


def article_units_verdict(model: CircuitModel, gain: dict[str, torch.Tensor], images: torch.Tensor, *, steps: int,
                          size: int) -> tuple[bool, str]:
    """Are the article's four oriented head units (:data:`helpers.paper.DOG_HEAD_ORIENTED`) head units by ``gain``
    (each in the top quarter of its layer's gain, see :func:`helpers.dog_imagery.units_gaining`) and more oriented, per image of
    ``images`` (facing unknown: |left score| image by image), than its invariant ones? With no images, each unit is
    scored on its own feature visualization. Returns (holds, a line of numbers). For InceptionV1's weights."""
    names = [str(u) for u in DOG_HEAD_ORIENTED + DOG_HEAD_INVARIANT]
    per_image = orientation_per_image(model, names, images, steps=steps, size=size)
    oriented, invariant = float(per_image[: len(DOG_HEAD_ORIENTED)].mean()), float(per_image[len(DOG_HEAD_ORIENTED):].mean())
    numbers = f"mean per-image |score| oriented {oriented:.2f}, invariant {invariant:.2f}"
    if not len(images) or not gain:
        return False, f"no dog imagery to choose head units with (labels missing?); {numbers}"

    def top_quarter(unit: Unit) -> bool:
        layer_gain = gain[unit.layer]
        return float(layer_gain[unit.channel]) >= float(layer_gain.quantile(0.75))

    quartile = all(top_quarter(Unit.parse(name)) for name in names[: len(DOG_HEAD_ORIENTED)])
    return quartile and oriented > invariant, f"{numbers}; all four in the top quarter of dog gain: {quartile}"
