"""Weights you can read: non-negative matrix factorization of expanded weights into a few factors (Visualizing Weights).

A unit's expanded input weights (C, k, k) hold one k x k grid per input unit: too many to look at. Split each
weight into its excitatory and inhibitory parts (both non-negative), write them as a (k*k positions, 2C) matrix
and factor it into a few non-negative parts: each factor is a *spatial map* (where in the window) times a
*channel profile* (which inputs, excitatory minus inhibitory).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Mapping, Sequence

import torch

if TYPE_CHECKING:
    from ..models import CircuitModel, Unit


def nmf(matrix: torch.Tensor, factors: int, *, steps: int = 500, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Non-negative (m, r) and (r, n) with their product close to a non-negative (m, n) matrix (multiplicative updates)."""
    if matrix.dim() != 2 or bool((matrix < 0).any()):
        raise ValueError(f"Give a non-negative 2-D matrix, got shape {tuple(matrix.shape)} with min {float(matrix.min()):.3g}.")
    if not 1 <= factors <= min(matrix.shape):
        raise ValueError(f"factors must be between 1 and {min(matrix.shape)}, not {factors}.")
    matrix = matrix.double()
    generator = torch.Generator().manual_seed(seed)
    scale = float(matrix.mean().sqrt()) or 1.0
    left = (torch.rand(matrix.shape[0], factors, generator=generator, dtype=torch.float64) * scale).to(matrix.device)
    right = (torch.rand(factors, matrix.shape[1], generator=generator, dtype=torch.float64) * scale).to(matrix.device)
    for _ in range(steps):
        left, right = _updated(matrix, left, right)
    return left, right


def _updated(matrix: torch.Tensor, left: torch.Tensor, right: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """One multiplicative update of both factors (Lee and Seung, 1999): they stay non-negative, the error never grows."""
    tiny = 1e-12
    right = right * (left.T @ matrix) / (left.T @ left @ right + tiny)
    left = left * (matrix @ right.T) / (left @ right @ right.T + tiny)
    return left, right


@dataclass(frozen=True)
class WeightFactors:
    """A few factors of one unit's expanded input weights: where (spatial) and which inputs (channels)."""

    spatial: torch.Tensor  # (r, k, k) non-negative maps
    channels: torch.Tensor  # (r, C) each factor's input profile, excitatory minus inhibitory
    explained: float  # share of the split weights' squared norm the factors reconstruct


def weight_factors(weights: torch.Tensor, factors: int = 2, *, steps: int = 500, seed: int = 0) -> WeightFactors:
    """NMF of one unit's (C, k, k) expanded input weights, split into excitatory and inhibitory parts, into ``factors``."""
    if weights.dim() != 3:
        raise ValueError(f"Give one unit's expanded input weights (C, k, k), got shape {tuple(weights.shape)}.")
    channels, height, width = weights.shape
    flat = weights.detach().double().reshape(channels, height * width).T  # (positions, C)
    split = torch.cat([flat.clamp(min=0), (-flat).clamp(min=0)], dim=1)  # (positions, 2C)
    left, right = nmf(split, factors, steps=steps, seed=seed)
    size = (left.max(0).values + 1e-12)  # maps scaled to a peak of 1, profiles carry the size
    spatial, right = left / size, right * size[:, None]
    residual = float(((split - spatial @ right) ** 2).sum() / (split ** 2).sum().clamp(min=1e-30))
    return WeightFactors(spatial.T.reshape(factors, height, width).float().cpu(),
                         (right[:, :channels] - right[:, channels:]).float().cpu(), 1.0 - residual)


@dataclass(frozen=True)
class MemberFactors:
    """One family member's NMF factors, with what each factor's channel profile reads most (``reads``, one per factor)."""

    name: str
    factors: WeightFactors
    reads: list[str]


def family_weight_factors(model: "CircuitModel", units: Sequence["Unit"], from_layer: str, labels: Mapping[int, str],
                          *, members: int = 4, factors: int = 2) -> list[MemberFactors]:
    """The NMF factors of up to ``members`` units spread evenly over a family (every len // members-th), each from its
    expanded weights from ``from_layer``; ``labels`` names some input channels (the curve units below)."""
    from .expanded import expanded_weights

    rows = []
    for unit in list(units)[:: max(1, len(units) // members)][:members]:
        found = weight_factors(expanded_weights(model, from_layer, unit.layer, to_channels=[unit.channel])[0], factors=factors)
        tops = [int(profile.argmax()) for profile in found.channels]
        rows.append(MemberFactors(str(unit), found, [f"reads {from_layer}:{top}" + (f"\n({labels[top]})" if top in labels else "")
                                                     for top in tops]))
    return rows


def factors_summary(rows: Sequence[MemberFactors]) -> str:
    """One printed line: the share of each member's split weights that its factors reconstruct."""
    count = len(rows[0].factors.spatial) if rows else 0
    return (f"share of each member's split weights that {count} NMF factors reconstruct: "
            + ", ".join(f"{row.name} {row.factors.explained:.1%}" for row in rows))
