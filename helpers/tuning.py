"""Orientation tuning: tuning curves of units to curves at every orientation, and how to read them.

Orientations are degrees on the full circle (see :mod:`helpers.stimuli.curves` for the convention:
the direction a curve's convex side faces).

- :func:`orientation_tuning`: responses of units to curves at every orientation, minus the blank image's.
- :func:`preferred_orientation`, :func:`orientation_selectivity`: reading tuning curves (O, U).
- :func:`screen_scores`: a screen's curve selectivity, corner margin and tuning curves from its curves, lines and corners.
- :func:`largest_gap`, :func:`angle_difference`: arithmetic on the circle.
- :func:`neighbour_test`: does a family's tuning predict which member answers an image?
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Literal, Sequence

import numpy as np
import torch

from .models import CircuitModel
from .probing import Placement, UnitsOrLayer, unit_responses
from .stats import circular_concentration, circular_mean
from .stimuli.curves import blank


def _as_numpy(values: np.ndarray | torch.Tensor) -> np.ndarray:
    return values.detach().cpu().numpy() if isinstance(values, torch.Tensor) else np.asarray(values)


def _upper_half(responses: np.ndarray | torch.Tensor, orientations: Sequence[float]) -> np.ndarray:
    """The part of tuning curves (O, U) above half their peak: the weight each orientation gets in the circular statistics."""
    values = np.clip(_as_numpy(responses).astype(np.float64), 0, None)
    if values.ndim == 1:
        values = values[:, None]
    if values.shape[0] != len(orientations):
        raise ValueError(f"responses have {values.shape[0]} rows but there are {len(orientations)} orientations.")
    return np.clip(values - values.max(0) / 2, 0, None)  # only what rises above half the peak counts


def preferred_orientation(
    responses: np.ndarray | torch.Tensor,
    orientations: Sequence[float],
    method: Literal["circular_mean", "argmax"] = "circular_mean",
) -> np.ndarray:
    """Each unit's preferred orientation in degrees [0, 360) from tuning curves (O, U).

    ``circular_mean`` (the default): the direction of the vector sum of the orientations, each
    weighted by how far its response rises above half the unit's peak (so a broad floor of weak
    responses does not pull the estimate; finer than the sampling step); ``argmax``: the
    orientation of the largest response. Subtract a baseline (e.g. the blank image's response) first.
    """
    values = _as_numpy(responses)
    if method == "argmax":
        column = values if values.ndim > 1 else values[:, None]
        return np.asarray(orientations, dtype=np.float64)[column.argmax(0)] % 360
    if method != "circular_mean":
        raise ValueError(f"method must be 'circular_mean' or 'argmax', not {method!r}.")
    return circular_mean(orientations, _upper_half(values, orientations))


def orientation_selectivity(responses: np.ndarray | torch.Tensor, orientations: Sequence[float]) -> np.ndarray:
    """How sharply each unit prefers one orientation, in [0, 1], from tuning curves (O, U).

    The length of the mean vector of the orientations, each weighted by how far its response
    rises above half the unit's peak (one minus the circular variance of that upper half): near 1
    when the strong responses cluster around one orientation, near 0 when they are spread around the
    circle or sit at two opposite orientations (a line detector sees both sides of a curve).
    Units that never respond get 0.
    """
    return circular_concentration(orientations, _upper_half(responses, orientations))


def orientation_tuning(
    model: CircuitModel,
    units_or_layer: UnitsOrLayer,
    placement: Placement,
    orientations: Sequence[float] = tuple(range(0, 360, 15)),
    *,
    pre_activation: bool = False,
    **curve_style: object,
) -> np.ndarray:
    """Orientation tuning curves (O, U): responses to curves at each orientation, minus the blank image's.

    Curves are drawn at ``placement`` with ``curve_style`` (``radius``, ``length``, ``width``,
    ``foreground``, ``background``, ``blur``; pixels), one forward pass per batch for all units.
    """
    grid = placement.draw("curve", {"orientation": list(orientations)}, **curve_style)
    background = curve_style.get("background", 1.0)
    images = torch.cat([grid.images, blank(placement.size, background)[None]])
    values = unit_responses(model, units_or_layer, images, pre_activation=pre_activation).numpy().astype(np.float64)
    return values[:-1] - values[-1]


def screen_scores(curve: np.ndarray, line: np.ndarray, corner: np.ndarray,
                  blank: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """What the curve screen reads from every unit's raw responses: (curve selectivity (U,), corner margin (U,), tuning (O, U)).

    ``curve`` (O, R, U): responses to curves at O orientations x R radii; ``line`` (A, P, U) to straight lines;
    ``corner`` (O, K, U) to corners; ``blank`` (U,) to the blank image, which every response is taken relative to.
    Curve selectivity = (best curve - best line) / best curve and corner margin = (best curve - best corner) /
    best curve, both clipped to [-1, 1] and -1 for a unit no curve drives above the blank; the tuning curve is each
    unit's responses at every orientation at the radius of its strongest curve (used by
    :func:`helpers.families.curves.screen_curves`; lesson 02's students write it).
    """
    curve, line, corner = (np.asarray(part, dtype=np.float64) - np.asarray(blank, dtype=np.float64)
                           for part in (curve, line, corner))
    units = curve.shape[-1]
    best_curve = curve.reshape(-1, units).max(0)
    best_line = line.reshape(-1, units).max(0)
    best_corner = corner.reshape(-1, units).max(0)
    driven = best_curve > 0
    safe = np.maximum(best_curve, 1e-12)
    curve_selectivity = np.where(driven, (best_curve - best_line) / safe, -1.0).clip(-1, 1)
    corner_margin = np.where(driven, (best_curve - best_corner) / safe, -1.0).clip(-1, 1)
    radius_index = curve.max(0).argmax(0)  # (U,) the radius of each unit's strongest curve
    tuning = np.take_along_axis(curve, radius_index[None, None, :], axis=1)[:, 0]
    return curve_selectivity, corner_margin, tuning


def largest_gap(orientations: Iterable[float]) -> float:
    """The widest arc of the circle (degrees) containing none of ``orientations`` (360 if there is one or none)."""
    angles = np.sort(np.asarray(list(orientations), dtype=np.float64) % 360)
    if len(angles) < 2:
        return 360.0
    return float(np.diff(np.concatenate([angles, angles[:1] + 360])).max())


def angle_difference(a: np.ndarray | float, b: np.ndarray | float) -> np.ndarray:
    """The unsigned difference between angles in degrees, in [0, 180]."""
    return np.abs((np.asarray(a) - np.asarray(b) + 180) % 360 - 180)


# --- does a family's tuning predict which member answers an image? ------------------------------
@dataclass(frozen=True)
class NeighbourTest:
    """Outcome of :func:`neighbour_test`: how often the strongest *other* member faces the image's own member."""

    hits: int  # rows whose strongest other member prefers an orientation within ``tolerance`` of the row's member
    rows: int  # rows tested (images whose member had at least one other member to compare)
    chance: float  # the expected hit rate with the members' orientations shuffled
    p_value: float  # share of shuffles that reach as many hits (one-sided permutation test)
    tolerance: float

    @property
    def rate(self) -> float:
        """The share of rows that hit."""
        return self.hits / self.rows if self.rows else 0.0

    def __str__(self) -> str:
        return (f"{self.hits} of {self.rows} ({self.rate:.0%}) within {self.tolerance:.0f}°, chance {self.chance:.0%}, "
                f"permutation p = {self.p_value:.3g}")


def neighbour_test(
    responses: np.ndarray | torch.Tensor,
    owner: Sequence[int],
    orientations: Sequence[float],
    tolerance: float = 45.0,
    permutations: int = 2000,
    seed: int = 0,
) -> NeighbourTest:
    """Does each image's strongest *other* member prefer about the orientation of the member the image belongs to?

    ``responses`` (N, F): every member's response to N images (e.g. the members' feature
    visualizations, or their top dataset examples); ``owner[n]``: the member image n was made for or
    selected by. Each member's column is z-scored over the images (so a member that answers
    everything strongly does not always win); for image n the owner's own column is left out (it was
    selected or optimized for that member, so it would win for any network), and the strongest
    remaining member is compared with the owner: a hit when their preferred orientations lie within
    ``tolerance`` degrees. Chance and the p-value come from shuffling the orientations among members.
    """
    values = _as_numpy(responses).astype(np.float64)
    owner = np.asarray(owner, dtype=int)
    angles = np.asarray(orientations, dtype=np.float64)
    if values.ndim != 2 or values.shape[0] != len(owner) or values.shape[1] != len(angles):
        raise ValueError(f"responses must be (images, members) = ({len(owner)}, {len(angles)}), got {values.shape}.")
    if values.shape[1] < 2 or values.shape[0] == 0:
        return NeighbourTest(0, 0, 0.0, 1.0, tolerance)
    spread = values.std(0)
    z = (values - values.mean(0)) / np.where(spread > 0, spread, 1.0)
    z[np.arange(len(owner)), owner] = -np.inf
    winner = z.argmax(1)

    def hits(theta: np.ndarray) -> int:
        return int(np.sum(angle_difference(theta[winner], theta[owner]) <= tolerance))

    observed = hits(angles)
    rng = np.random.default_rng(seed)
    shuffled = np.array([hits(rng.permutation(angles)) for _ in range(permutations)])
    p_value = float((np.sum(shuffled >= observed) + 1) / (permutations + 1))
    return NeighbourTest(observed, len(owner), float(shuffled.mean() / len(owner)), p_value, tolerance)
