"""Equivariance: how well one unit's weights, transformed (rotated, mirrored, hue-shifted), match another's."""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from ..layers import previous_layer
from ..models import CircuitModel, Unit
from ..stats import correlation_columns, pearson
from .expanded import Method, expanded_weights, image_weights


def rotate_grids(grids: torch.Tensor, degrees: float) -> torch.Tensor:
    """Rotate k x k grids (..., k, k) counter-clockwise as displayed (row 0 on top), bilinear, zeros outside."""
    shape = grids.shape
    flat = grids.reshape(-1, 1, shape[-2], shape[-1]).float()
    angle = math.radians(degrees)
    cos, sin = math.cos(angle), math.sin(angle)
    # grid_sample maps output positions to input positions: the inverse rotation (y points down).
    theta = torch.tensor([[cos, -sin, 0.0], [sin, cos, 0.0]], dtype=flat.dtype, device=flat.device).expand(flat.shape[0], 2, 3)
    grid = F.affine_grid(theta, list(flat.shape), align_corners=True)
    return F.grid_sample(flat, grid, mode="bilinear", padding_mode="zeros", align_corners=True).reshape(shape)


def spatial_pattern(grids: torch.Tensor) -> torch.Tensor:
    """The main k x k pattern of a unit's weights (C_from, k, k): the top singular vector, signed by its excitatory inputs."""
    matrix = grids.reshape(grids.shape[0], -1).double()
    left, values, right = torch.linalg.svd(matrix, full_matrices=False)
    channel_part, pattern = left[:, 0], right[0] * values[0]
    if channel_part.clamp(min=0).sum() < (-channel_part).clamp(min=0).sum():
        pattern = -pattern
    return pattern.reshape(grids.shape[-2:]).float()


@dataclass(frozen=True)
class RankOne:
    """A unit's expanded weights (C_from, k, k) read as one k x k pattern times one number per input."""

    pattern: torch.Tensor  # (k, k): :func:`spatial_pattern`
    per_input: torch.Tensor  # (C_from,): each input's weight on the pattern
    share: float  # the share of the grids' squared size that the pattern times the numbers rebuilds (1: exactly)


def rank_one(grids: torch.Tensor) -> RankOne:
    """The best single pattern of a unit's weights (C_from, k, k), each input's number on it, and how much it explains:
    a unit behind a depthwise convolution explains all of them (every input reaches it through one kernel)."""
    pattern = spatial_pattern(grids)
    singular = torch.linalg.svdvals(grids.reshape(grids.shape[0], -1).double())
    return RankOne(pattern, (grids * pattern).sum(dim=(1, 2)) / float((pattern ** 2).sum()),
                   float(singular[0] ** 2 / (singular ** 2).sum()))


def weight_equivariance(
    grids_a: torch.Tensor, grids_b: torch.Tensor, degrees: float, *, mode: Literal["per_input", "spatial"] = "per_input"
) -> float:
    """Correlation of unit a's weights rotated by ``degrees`` with unit b's (both (C_from, k, k)).

    ``per_input`` rotates each input channel's grid and keeps the channels as they are; ``spatial``
    compares only the units' main spatial patterns (:func:`spatial_pattern`), ignoring which inputs carry them.
    """
    if grids_a.shape != grids_b.shape:
        raise ValueError(f"Both units must read the same layer: shapes {tuple(grids_a.shape)} and {tuple(grids_b.shape)}.")
    if mode == "per_input":
        return pearson(rotate_grids(grids_a, degrees), grids_b)
    if mode == "spatial":
        return pearson(rotate_grids(spatial_pattern(grids_a), degrees), spatial_pattern(grids_b))
    raise ValueError(f"mode must be 'per_input' or 'spatial', not {mode!r}.")


@dataclass(frozen=True)
class EquivarianceSummary:
    """Pairwise weight correlations of a set of units, with and without rotating by their orientation difference."""

    pairs: list[tuple[Unit, Unit]]
    rotated: np.ndarray
    unrotated: np.ndarray
    mode: str

    @property
    def mean_rotated(self) -> float:
        """Mean correlation after rotating one unit of each pair onto the other."""
        return float(self.rotated.mean())

    @property
    def mean_unrotated(self) -> float:
        """Mean correlation without rotating."""
        return float(self.unrotated.mean())

    @property
    def gain(self) -> float:
        """How much rotating helps, on average (positive: the weights are rotated copies)."""
        return float((self.rotated - self.unrotated).mean())

    def verdict(self, baseline: "EquivarianceSummary") -> tuple[bool, str]:
        """Lesson 03's claim: (rotating helps this family more than ``baseline``'s random pairs; both gains)."""
        return self.gain > baseline.gain, f"gain {self.gain:+.3f} vs random pairs {baseline.gain:+.3f}"


def family_equivariance(
    model: CircuitModel,
    units: Sequence[str | Unit],
    orientations: Sequence[float],
    *,
    from_layer: str | None = None,
    mode: Literal["per_input", "spatial"] = "per_input",
    method: Method = "auto",
) -> EquivarianceSummary:
    """Equivariance of a family: for every pair, rotate one unit's weights by the difference of their orientations."""
    units = [model.unit(u) for u in units]
    if len(units) != len(orientations) or len(units) < 2:
        raise ValueError(f"Give at least two units and one orientation per unit; got {len(units)} units, {len(orientations)} orientations.")
    layers = {u.layer for u in units}
    if len(layers) != 1:
        raise ValueError(f"All units must be in one layer; got {sorted(layers)}.")
    layer = units[0].layer
    from_layer = from_layer or previous_layer(model, layer)
    grids = expanded_weights(model, from_layer, layer, method=method, to_channels=[u.channel for u in units])
    pairs = [(units[i], units[j]) for i in range(len(units)) for j in range(i + 1, len(units))]
    correlations = pair_correlations(grids, orientations, mode=mode)
    return EquivarianceSummary(pairs, correlations[:, 0], correlations[:, 1], mode)


def pair_correlations(grids: torch.Tensor, orientations: Sequence[float], *,
                      mode: Literal["per_input", "spatial"] = "per_input") -> np.ndarray:
    """Lesson 03's equivariance test on weights: for every pair i < j of units (grids (units, C_from, k, k), in the
    order (0, 1), (0, 2), ..., (1, 2), ...), the correlation of unit i's weights rotated by ``orientations[j] -
    orientations[i]`` with unit j's, and without rotating: (pairs, 2)."""
    rows = [(weight_equivariance(grids[i], grids[j], orientations[j] - orientations[i], mode=mode),
             weight_equivariance(grids[i], grids[j], 0.0, mode=mode))
            for i in range(len(grids)) for j in range(i + 1, len(grids))]
    return np.array(rows, dtype=np.float64).reshape(-1, 2)


# --- one idea, three transformations ----------------------------------------------------------
Transformation = Literal["rotation", "reflection", "hue"]
TRANSFORMATIONS: tuple[Transformation, ...] = ("rotation", "reflection", "hue")


def hue_rotation(degrees: float) -> torch.Tensor:
    """The 3 x 3 matrix that turns RGB colours by ``degrees`` about the grey axis (120 degrees: red to green to blue)."""
    axis = torch.ones(3, dtype=torch.float64) / math.sqrt(3.0)
    cross = torch.tensor([[0.0, -axis[2], axis[1]], [axis[2], 0.0, -axis[0]], [-axis[1], axis[0], 0.0]], dtype=torch.float64)
    angle = math.radians(degrees)
    return torch.eye(3, dtype=torch.float64) + math.sin(angle) * cross + (1 - math.cos(angle)) * cross @ cross


def transform_weights(weights: torch.Tensor, transformation: Transformation) -> torch.Tensor:
    """Image-space weights (U, 3, k, k) of the units that see a transformed image as ``weights`` see the image:
    rotated a quarter turn, mirrored left-right, or with colours turned 120 degrees of hue."""
    if weights.dim() != 4 or weights.shape[1] != 3:
        raise ValueError(f"weights must be image-space weights (U, 3, k, k), got shape {tuple(weights.shape)}.")
    if transformation == "rotation":
        return torch.rot90(weights, 1, dims=(2, 3))
    if transformation == "reflection":
        return torch.flip(weights, dims=(3,))
    if transformation == "hue":
        return torch.einsum("ij,ujhw->uihw", hue_rotation(120.0).to(weights), weights)
    raise ValueError(f"transformation must be one of {TRANSFORMATIONS}, not {transformation!r}.")


@dataclass(frozen=True)
class TransformedCopies:
    """For each unit of a layer: how well its transformed weights match another unit's, against its nearest plain neighbour."""

    transformation: str
    copy: np.ndarray  # (U,) best correlation of the unit's transformed weights with another unit's weights
    partner: np.ndarray  # (U,) that other unit's channel
    plain: np.ndarray  # (U,) best correlation of the unit's own weights with another unit's weights

    def share_with_copy(self, bar: float) -> float:
        """The share of units whose transformed weights correlate above ``bar`` with another unit's."""
        return float((self.copy > bar).mean())

    @property
    def share_beating_plain(self) -> float:
        """The share of units whose transformed copy matches another unit better than their nearest plain neighbour does."""
        return float((self.copy > self.plain).mean())

    def verdict(self, bar: float = 0.5, min_share: float = 0.5, layer: str = "the layer") -> tuple[bool, str]:
        """Has at least ``min_share`` of the layer a copy above ``bar``? Returns (holds, a line)."""
        share = self.share_with_copy(bar)
        return share >= min_share, (f"{share:.0%} of {len(self.copy)} units of {layer}; the copy beats the nearest plain neighbour "
                                    f"for {self.share_beating_plain:.0%}")

    def describe(self, bar: float = 0.5) -> str:
        """One line: the share of units with a copy above ``bar``, the median best correlation, and how often the copy
        beats the nearest plain neighbour."""
        return (f"{self.transformation:>10}: {self.share_with_copy(bar):.0%} of the units have a copy (r > {bar}); median "
                f"best r {float(np.median(self.copy)):.2f}; the copy beats the nearest plain neighbour for "
                f"{self.share_beating_plain:.0%}")


def best_other_match(candidates: torch.Tensor, weights: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """For each unit u (U, ...): the highest Pearson correlation between ``candidates[u]`` and another unit's
    ``weights`` (each flattened; unit u's own weights never count), and that other unit's channel."""
    if candidates.shape != weights.shape or weights.shape[0] < 2:
        raise ValueError(f"Need candidates and weights of one shape with at least two units, got {tuple(candidates.shape)} "
                         f"and {tuple(weights.shape)}.")
    correlations = correlation_columns(candidates.flatten(1).double().T, weights.flatten(1).double().T)
    itself = torch.eye(weights.shape[0], dtype=torch.bool)
    return correlations.masked_fill(itself, -2.0).max(dim=1)


def transformed_copies(weights: torch.Tensor, transformation: Transformation) -> TransformedCopies:
    """Look for each unit's transformed copy among the other units of its layer (weights: (U, 3, k, k))."""
    if weights.shape[0] < 2:
        raise ValueError(f"Need at least two units to look for copies, got {weights.shape[0]}.")
    copy, partner = best_other_match(transform_weights(weights.double(), transformation), weights)
    plain = best_other_match(weights, weights).values
    return TransformedCopies(transformation, copy.numpy(), partner.numpy(), plain.numpy())


def first_wide_layer(model: CircuitModel, min_width: int = 9) -> tuple[str, torch.Tensor]:
    """The first layer whose image-space weights (:func:`~helpers.weights.expanded.image_weights`) are at least
    ``min_width`` pixels wide (earlier kernels are too small for a quarter turn to mean much), and those weights
    (C, 3, k, k). The last layer tried when none is that wide."""
    name, weights = "", torch.zeros(0)
    for name in [layer.name for layer in model.layers]:
        weights = image_weights(model, name)
        if weights.shape[-1] >= min_width:
            break
    return name, weights
