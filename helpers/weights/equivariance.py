"""Equivariance: how well one unit's weights, rotated, match another's (rotated copies in a family)."""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from ..layers import previous_layer
from ..models import CircuitModel, Unit
from ..stats import pearson
from .expanded import Method, expanded_weights


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
    pairs, rotated, unrotated = [], [], []
    for i in range(len(units)):
        for j in range(i + 1, len(units)):
            pairs.append((units[i], units[j]))
            rotated.append(weight_equivariance(grids[i], grids[j], orientations[j] - orientations[i], mode=mode))
            unrotated.append(weight_equivariance(grids[i], grids[j], 0.0, mode=mode))
    return EquivarianceSummary(pairs, np.array(rotated), np.array(unrotated), mode)
