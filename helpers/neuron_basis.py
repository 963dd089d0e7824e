"""Is the neuron basis special? A layer's units against random directions of the same layer, on real images.

On photographs, a unit of a trained network tends to be sparse: quiet at most positions, strong at a few, so its
pre-activation has heavy tails (a high kurtosis, 3 for a Gaussian). A random direction adds up many units and looks
more Gaussian. Lesson 01 compares every active unit of a layer with random directions, on the trained network and on
the same architecture with random weights (whose architecture alone can give units heavy tails).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from .activations import capture, layer_vectors
from .models import CircuitModel
from .stats import kurtosis

DEAD_SPREAD = 1e-6
"""A unit whose activations spread less than this (standard deviation) over the images is dead there and left out."""


def random_directions(units: int, count: int, *, seed: int = 0) -> torch.Tensor:
    """``count`` random unit-length directions of a layer with ``units`` units, as the columns of (units, count), in float64."""
    directions = torch.randn(units, count, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    return directions / directions.norm(dim=0)


def kurtosis_beyond_random(activations: torch.Tensor, directions: torch.Tensor) -> torch.Tensor:
    """How far each active unit's kurtosis lies above the 95th percentile of the random directions' kurtosis.

    ``activations`` is (positions, units), ``directions`` (units, count) with unit-length columns; a direction's
    activation at a position is the dot product of the two. Units that never vary (:data:`DEAD_SPREAD`) are left
    out, so the result is (active units,); a positive entry is a unit more heavy-tailed than 95% of the directions.
    """
    alive = activations.std(0) > DEAD_SPREAD
    return kurtosis(activations[:, alive]) - kurtosis(activations @ directions).quantile(0.95)


@dataclass(frozen=True)
class SparsityComparison:
    """The kurtosis of a layer's active units (units,) and of random directions (count,), and how many units beat 95% of them."""

    units: torch.Tensor
    directions: torch.Tensor

    @property
    def share_beyond(self) -> float:
        """The share of active units whose kurtosis is above the directions' 95th percentile."""
        return float((self.units > self.directions.quantile(0.95)).double().mean())

    def __str__(self) -> str:
        return (f"median kurtosis of {len(self.units)} active units {float(self.units.median()):.1f}, of "
                f"{len(self.directions)} random directions {float(self.directions.median()):.1f} (95th percentile "
                f"{float(self.directions.quantile(0.95)):.1f}); {self.share_beyond:.0%} of units above it")


def units_against_random_directions(model: CircuitModel, images: torch.Tensor, layer: str, *, pre_activation: bool,
                                    count: int = 200, seed: int = 0) -> SparsityComparison:
    """Every active unit of ``layer`` against ``count`` random directions, over every position of ``images``."""
    activations = layer_vectors(capture(model, images, layer, pre_activation=pre_activation)[layer]).double().cpu()
    directions = random_directions(activations.shape[1], count, seed=seed)
    randoms = kurtosis(activations @ directions)
    return SparsityComparison(kurtosis_beyond_random(activations, directions) + randoms.quantile(0.95), randoms)
