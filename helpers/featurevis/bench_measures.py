"""The lab bench's measurements (lesson 11): how each visualization method's images look, in numbers.

For every method: the units' mean activation (scored by the caller, one scorer for every method), the images'
contrast as you see them (:func:`pixel_contrast`, the mean over images of each image's pixel standard deviation) and
their share of high-frequency power (:func:`helpers.featurevis.fragility.high_frequency_share`, lesson 01's measure of
fine detail).
:func:`bench_table` lays these out as the printed table. :func:`firing_units` picks the bench's units among those that
fire on the scanned photographs; :func:`beyond_photographs` compares each unit's visualization with its top scanned
photograph (section 2's test: does arrangement alone drive the unit past every photograph?).
"""
from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import torch

from ..models import CircuitModel
from .fragility import high_frequency_share
from .trust import unit_means


def pixel_contrast(images: torch.Tensor) -> float:
    """Mean over images (N, C, H, W) of each image's pixel standard deviation (all channels and pixels together)."""
    if images.dim() != 4 or images.shape[0] == 0:
        raise ValueError(f"pixel_contrast needs a non-empty batch (N, C, H, W), got {tuple(images.shape)}.")
    return float(images.flatten(1).std(dim=1).mean())


@dataclass
class BenchContrast:
    """Each method's :func:`pixel_contrast` and the scanned photographs' (their mean pixel standard deviation)."""

    methods: dict[str, float]
    photographs: float

    def between(self, higher: str, lower: str) -> bool:
        """Whether method ``higher`` has at least the photographs' contrast and method ``lower`` less than it."""
        return self.methods[higher] >= self.photographs > self.methods[lower]

    def describe(self, *names: str) -> str:
        """``pixel std <name> x, ..., photographs y``."""
        return "pixel std " + ", ".join(f"{name} {self.methods[name]:.3f}" for name in names) + \
            f", photographs {self.photographs:.3f}"


def bench_contrast(images: Mapping[str, torch.Tensor], photographs: torch.Tensor) -> BenchContrast:
    """The contrast (:func:`pixel_contrast`) of every method's images and of the ``photographs`` (N, 3, S, S)."""
    return BenchContrast({name: pixel_contrast(batch) for name, batch in images.items()}, pixel_contrast(photographs))


def bench_table(images: Mapping[str, torch.Tensor], values: Mapping[str, torch.Tensor]) -> str:
    """One line per method: mean activation (of ``values[name]``), pixel contrast and mean high-frequency share."""
    lines = [f"{'method':<18} {'activation':>10} {'pixel std':>10} {'high-freq share':>16}"]
    for name, batch in images.items():
        noise = float(high_frequency_share(batch).mean())
        lines.append(f"{name:<18} {float(values[name].mean()):10.2f} {pixel_contrast(batch):10.3f} {noise:16.1%}")
    return "\n".join(lines)


def firing_units(firing_fraction: torch.Tensor, count: int = 4, *, min_fraction: float = 0.05, seed: int = 0) -> list[int]:
    """``count`` units (sorted) drawn at random among those that fire on more than ``min_fraction`` of positions.

    ``firing_fraction`` (C,) is each unit's share of positions where it fires (a scan's ``firing_fraction``). Where
    fewer than ``count`` units fire that often, the ``count`` that fire most often, with a warning.
    """
    if firing_fraction.dim() != 1 or not 0 < count <= firing_fraction.shape[0]:
        raise ValueError(f"firing_units needs a (C,) firing fraction and 0 < count <= C, got shape "
                         f"{tuple(firing_fraction.shape)}, count={count}.")
    alive = torch.nonzero(firing_fraction > min_fraction).flatten()
    if len(alive) < count:
        warnings.warn(f"Only {len(alive)} units fire on more than {min_fraction:.0%} of positions: taking the {count} "
                      "that fire most often.", stacklevel=2)
        return sorted(torch.argsort(firing_fraction, descending=True)[:count].tolist())
    order = torch.randperm(len(alive), generator=torch.Generator().manual_seed(seed))
    return sorted(alive[order[:count]].tolist())


@dataclass
class Beyond:
    """Each unit's activation on its visualization and on its top scanned photograph (post-activation channel means)."""

    units: list[int]
    visualization: torch.Tensor  # (U,)
    photograph: torch.Tensor  # (U,)

    @property
    def ratios(self) -> torch.Tensor:
        """Visualization over photograph (U,), the photograph's value floored at 1e-6."""
        return self.visualization / self.photograph.clamp(min=1e-6)

    @property
    def median_ratio(self) -> float:
        """The median of :attr:`ratios`."""
        return float(self.ratios.median())

    @property
    def beyond(self) -> int:
        """How many units the visualization drives further than the photograph."""
        return int((self.visualization > self.photograph).sum())

    def pairs(self) -> str:
        """``visualization/photograph`` per unit, comma-separated."""
        return ", ".join(f"{v:.2f}/{p:.2f}" for v, p in zip(self.visualization.tolist(), self.photograph.tolist()))

    def report(self, name: str = "natural-spectrum visualization") -> str:
        """One line per unit, then how many units go beyond and the median ratio."""
        lines = [f"unit {u}: {name} {v:.2f}, top natural example {p:.2f}"
                 for u, v, p in zip(self.units, self.visualization.tolist(), self.photograph.tolist())]
        lines.append(f"{self.beyond} of {len(self.units)} units are driven further by their {name} than by any "
                     f"scanned photograph; median ratio {self.median_ratio:.2f}")
        return "\n".join(lines)


def beyond_photographs(model: CircuitModel, layer: str, units: Sequence[int], visualizations: torch.Tensor,
                       photographs: torch.Tensor) -> Beyond:
    """Unit ``units[i]``'s mean activation on ``visualizations[i]`` and on ``photographs[i]`` (both (U, 3, S, S))."""
    if not len(units) == visualizations.shape[0] == photographs.shape[0]:
        raise ValueError(f"Give one visualization and one photograph per unit: {len(units)} units, "
                         f"{visualizations.shape[0]} visualizations, {photographs.shape[0]} photographs.")
    def each(images: torch.Tensor) -> torch.Tensor:
        return torch.stack([unit_means(model, model.unit(layer, u), images[i:i + 1])[0] for i, u in enumerate(units)])

    return Beyond(list(units), each(visualizations), each(photographs))
