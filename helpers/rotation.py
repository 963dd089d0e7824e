"""Rotated dataset examples: turn real images about a receptive field's centre and measure units on them.

The paper's "rotated dataset examples" test: a curve detector's top photographs, rotated, should make
the member of the family that prefers the new orientation fire.

- :func:`rotate_about`, :func:`recentre`: rotate images about a point; move a point onto a placement's centre.
- :func:`centre_examples`, :func:`centred_examples`: photographs shifted so that a point of each lands on a
  receptive field's centre; a unit's top (or band) dataset examples, centred on where it fired.
- :func:`rotation_tuning`, :func:`joint_rotation_tuning`: every member's response to rotated examples.
- :func:`orientation_tuning`: those responses averaged by the orientation of the rotated curve (argument 4's read-out).
- :func:`hand_over_misses`, :func:`hand_over`: does turning an example hand the response to the member that faces
  the turned curve?
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from .models import CircuitModel, Unit
from .probing import Placement, UnitsOrLayer, resolve_units, unit_responses
from .tuning import angle_difference, preferred_orientation


def rotate_about(images: torch.Tensor, degrees: float, center: tuple[float, float]) -> torch.Tensor:
    """Rotate images (N, 3, H, W) counter-clockwise by ``degrees`` about ``center`` (x, y), mirroring at the border.

    A curve of orientation θ becomes a curve of orientation θ + degrees.
    """
    if images.dim() != 4:
        raise ValueError(f"images must be (N, 3, H, W), got {tuple(images.shape)}.")
    _, _, height, width = images.shape
    ys, xs = torch.meshgrid(torch.arange(height, device=images.device) + 0.5, torch.arange(width, device=images.device) + 0.5,
                            indexing="ij")
    dx, dy = xs - center[0], ys - center[1]
    radians = math.radians(degrees)
    cos, sin = math.cos(radians), math.sin(radians)
    # Each output pixel reads the input at the point that the rotation carries onto it.
    source_x = center[0] + dx * cos - dy * sin
    source_y = center[1] + dx * sin + dy * cos
    grid = torch.stack([source_x / width * 2 - 1, source_y / height * 2 - 1], dim=-1)[None]
    grid = grid.expand(images.shape[0], -1, -1, -1).to(images.dtype)
    return F.grid_sample(images, grid, mode="bilinear", padding_mode="reflection", align_corners=False).clamp(0, 1)


def recentre(image: torch.Tensor, point: tuple[float, float], placement: Placement) -> torch.Tensor:
    """Shift a (3, H, W) image so that ``point`` (x, y) lands on the placement's centre, at its size (mirrored borders)."""
    size = placement.size
    shift_x = round(placement.center[0] - point[0])
    shift_y = round(placement.center[1] - point[1])
    _, height, width = image.shape
    ys = (torch.arange(size, device=image.device) - shift_y).clamp(-(height - 1), 2 * height - 2)
    xs = (torch.arange(size, device=image.device) - shift_x).clamp(-(width - 1), 2 * width - 2)
    mirror = lambda idx, n: torch.where(idx < 0, -idx, torch.where(idx >= n, 2 * (n - 1) - idx, idx))  # noqa: E731
    return image[:, mirror(ys, height)][:, :, mirror(xs, width)]


def centre_examples(images: Sequence[torch.Tensor], points: Sequence[tuple[float, float]], center: tuple[float, float],
                    size: int, margin: float = 0.0) -> torch.Tensor:
    """Each image (3, H, W) shifted by whole pixels so that its point (x, y) lands on ``center`` of a ``size`` x ``size``
    image, the border mirrored (:func:`recentre`); an image whose point lies less than ``margin`` pixels from its
    border is skipped (there the unit saw the photograph's edge). Returns (N', 3, size, size), N' <= N (lesson 02's
    students write it; :func:`centred_examples` uses it)."""
    kept = [recentre(image, (x, y), Placement("", size, center, 0.0)) for image, (x, y) in zip(images, points)
            if min(x, y, image.shape[-1] - x, image.shape[-2] - y) >= margin]
    return torch.stack(kept) if kept else torch.empty(0, 3, size, size)


def centred_examples(
    examples,
    channel: int,
    count: int,
    placement: Placement,
    which: Literal["top", "band"] = "top",
    margin: float = 0.0,
) -> torch.Tensor:
    """A unit's top (or band) dataset examples from :func:`helpers.dataset_examples.scan_layer`, as whole images
    shifted so that the receptive field of the position where the unit fired lands on ``placement``'s centre.

    Examples whose receptive-field centre lies less than ``margin`` pixels from the photograph's
    border are skipped (there the unit sees the image's edge, and the shifted image would be mostly
    mirrored border). Returns (count', 3, S, S) with S the placement's size and count' <= count; ready for
    :func:`rotation_tuning` and :func:`joint_rotation_tuning`.
    """
    if which not in ("top", "band"):
        raise ValueError(f"which must be 'top' or 'band', not {which!r}.")
    source = examples.source
    if source is None:
        raise ValueError("These dataset examples have no image source attached; set .source to the scanned source.")
    indices = examples.top_indices(channel) if which == "top" else examples.band_indices(channel)
    positions = examples.top_positions(channel) if which == "top" else examples.band_positions(channel)
    images = []
    for index, (row, col) in zip(indices.tolist(), positions.tolist()):
        top, left, bottom, right = examples.patch_box(row, col)
        point = ((left + right) / 2, (top + bottom) / 2)
        images.extend(centre_examples([source[index]], [point], placement.center, placement.size, margin))
        if len(images) == count:
            break
    if not images:
        return torch.empty(0, 3, placement.size, placement.size)
    return torch.stack(images)


def rotation_tuning(
    model: CircuitModel,
    units_or_layer: UnitsOrLayer,
    images: torch.Tensor,
    angles: Sequence[float],
    center: tuple[float, float],
    *,
    pre_activation: bool = False,
    neighbourhood: int = 0,
    batch_size: int = 64,
    progress: bool = False,
) -> torch.Tensor:
    """Responses (N, A, U) of units to N images each rotated by every angle about ``center``.

    Put the part of the image a unit should see at ``center`` (the receptive field's centre, see
    :func:`recentre`); responses are read at the centre position as in :func:`unit_responses`.
    """
    if images.dim() == 3:
        images = images[None]
    angles = [float(a) for a in angles]
    if not angles:
        raise ValueError("angles must list at least one rotation in degrees.")
    rotated = torch.stack([rotate_about(images, a, center) for a in angles], dim=1)  # (N, A, 3, H, W)
    flat = rotated.flatten(0, 1)
    responses = unit_responses(model, units_or_layer, flat, pre_activation=pre_activation, neighbourhood=neighbourhood,
                               batch_size=batch_size, progress=progress)
    return responses.view(images.shape[0], len(angles), -1)


def orientation_tuning(responses: np.ndarray, preferred: np.ndarray, angles: np.ndarray, exclude_own: bool = False,
                       *, step: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Argument 4's read-out: every member's mean response by the orientation of the rotated curve it was shown.

    ``responses[s, a, u]`` is member u's response to member s's examples turned by ``angles[a]`` degrees (see
    :class:`JointTuning`); those show a curve facing ``preferred[s] + angles[a]``. Each such stimulus goes to the
    nearest bin of orientations every ``step`` degrees from 0 (default: the smallest step between the angles), and
    each member's responses are averaged per bin. With ``exclude_own`` a member's own examples are left out of its
    column. Returns (bin orientations (B,), mean responses (B, U)), keeping only the bins where every member has at
    least one response.
    """
    responses = np.asarray(responses, dtype=np.float64)
    preferred = np.asarray(preferred, dtype=np.float64)
    angles = np.asarray(angles, dtype=np.float64)
    step = float(step or (np.diff(angles).min() if len(angles) > 1 else 360.0))
    bins = np.arange(0, 360, step)
    count = responses.shape[2]
    total = np.zeros((len(bins), count))
    seen = np.zeros((len(bins), count))
    for source, base in enumerate(preferred):
        use = np.ones(count)
        if exclude_own:
            use[source] = 0.0
        for a, angle in enumerate(angles):
            index = int(np.round(((base + angle) % 360) / step)) % len(bins)
            total[index] += responses[source, a] * use
            seen[index] += use
    filled = (seen > 0).all(1)
    return bins[filled], total[filled] / seen[filled]


@dataclass
class JointTuning:
    """Every family member's response to every member's examples, rotated.

    ``responses[s, a, u]`` is unit u's mean response to source unit s's examples rotated by
    ``angles[a]``; those stimuli have orientation ``preferred[s] + angles[a]`` (rotating an image
    turns its curves with it).
    """

    units: list[Unit]
    preferred: np.ndarray  # (U,) degrees, the orientation each member's examples are assumed to have
    angles: np.ndarray  # (A,) rotations, degrees
    responses: np.ndarray  # (U_sources, A, U)

    def by_orientation(self, step: float | None = None, exclude_own: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """Responses (B, U) binned by stimulus orientation (bin centres every ``step`` degrees, default the rotation step).

        With ``exclude_own`` each unit's curve leaves out its own examples, so its peak can only come
        from *other* members' photographs rotated into its orientation (a test that cannot be won by
        simply remembering its favourite images). See :func:`orientation_tuning`.
        """
        return orientation_tuning(self.responses, self.preferred, self.angles, exclude_own, step=step)

    def peak_orientations(self, method: Literal["circular_mean", "argmax"] = "circular_mean", exclude_own: bool = False) -> np.ndarray:
        """Each member's preferred orientation read from the rotated real images (see :meth:`by_orientation`)."""
        orientations, responses = self.by_orientation(exclude_own=exclude_own)
        return preferred_orientation(responses - responses.min(0), orientations, method)


def joint_rotation_tuning(
    model: CircuitModel,
    units: Sequence[str | Unit],
    preferred: Sequence[float],
    examples: Sequence[torch.Tensor],
    angles: Sequence[float],
    center: tuple[float, float],
    *,
    pre_activation: bool = False,
    batch_size: int = 64,
    progress: bool = False,
) -> JointTuning:
    """Rotate each member's example images (already centred on ``center``) and record every member.

    ``examples[s]`` holds images (N_s, 3, H, W) that make member s fire, e.g. its top dataset
    examples passed through :func:`recentre`; ``preferred[s]`` is the orientation they are taken to
    have (the member's preferred orientation from synthetic curves).
    """
    units = resolve_units(model, list(units))
    if not len(units) == len(preferred) == len(examples):
        raise ValueError(f"Need one preferred orientation and one batch of examples per unit; got {len(units)} units, "
                         f"{len(preferred)} orientations and {len(examples)} example batches.")
    empty = [str(unit) for unit, batch in zip(units, examples) if len(batch) == 0]
    if empty:
        raise ValueError(f"No example images for {', '.join(empty)}: scan more images, or lower centred_examples' margin.")
    table = np.stack([
        rotation_tuning(model, units, batch, angles, center, pre_activation=pre_activation, batch_size=batch_size,
                        progress=progress).mean(0).numpy()
        for batch in examples
    ])
    return JointTuning(units, np.asarray(preferred, dtype=np.float64), np.asarray(angles, dtype=np.float64), table)


def hand_over_misses(responses: np.ndarray, preferred: np.ndarray, angles: np.ndarray) -> np.ndarray:
    """For each source member s and rotation a (S, A): the angle in degrees (0-180) between the preferred orientation of
    the member that answers s's examples turned by ``angles[a]`` most (``responses[s, a, u]``, see :class:`JointTuning`)
    and the orientation of the turned curve, ``preferred[s] + angles[a]``. Small misses: the response is handed over."""
    winners = np.asarray(responses).argmax(axis=2)
    turned = (np.asarray(preferred)[:, None] + np.asarray(angles)[None, :]) % 360
    return angle_difference(np.asarray(preferred)[winners], turned)


@dataclass(frozen=True)
class HandOver:
    """How a family hands a turning example from member to member (:func:`hand_over`)."""

    misses: np.ndarray
    """(S, A) degrees between the strongest member's preferred orientation and the turned curve's."""
    chance: float
    """The share of misses within 45° expected when the strongest member is any member, picked at random."""
    changes: float
    """The share of source members whose examples change strongest member at least once as they turn."""


def hand_over(joint: JointTuning) -> HandOver:
    """Argument 4's hand-over test on a joint rotation tuning: misses, their chance level and how often the winner changes."""
    misses = hand_over_misses(joint.responses, joint.preferred, joint.angles)
    turned = (joint.preferred[:, None] + joint.angles[None, :]) % 360
    chance = float(np.mean(angle_difference(joint.preferred[None, :], turned.reshape(-1, 1)) <= 45))
    winners = joint.responses.argmax(axis=2)
    changes = float(np.mean([len(set(row.tolist())) > 1 for row in winners]))
    return HandOver(misses, chance, changes)
