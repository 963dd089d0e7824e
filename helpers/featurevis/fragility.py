"""Is a visualization made of pixel-level patterns? Its share of fine detail, and what a unit keeps when it moves.

Naive pixel optimization tends to find images whose energy sits at the highest spatial frequencies and whose
activation collapses when the image shifts by a few pixels: patterns aligned to single pixels, not features at the
scale of the unit's receptive field. Lesson 01 measures both for a naive and a regularized image of the same unit,
and compares each unit's visualization with its top dataset example (:func:`against_top_examples`).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

import torch

from ..activations import capture, unit_activation
from ..models import CircuitModel, Unit


def high_frequency_share(images: torch.Tensor, cutoff: float = 0.25) -> torch.Tensor:
    """The share of each image's spectral energy (its mean removed per channel) at frequencies above ``cutoff``.

    ``images`` is (..., C, H, W); the result is (...,). A frequency counts as high when either of its two components
    (in cycles per pixel, every frequency of the full 2-D transform once) is above ``cutoff``. An image that never
    varies has a share of 0.
    """
    centred = images - images.mean(dim=(-2, -1), keepdim=True)
    energy = torch.fft.fft2(centred).abs().square().sum(-3)
    fy = torch.fft.fftfreq(images.shape[-2], device=images.device).abs()[:, None]
    fx = torch.fft.fftfreq(images.shape[-1], device=images.device).abs()[None, :]
    high = (energy * (torch.maximum(fy, fx) > cutoff)).sum((-2, -1))
    total = energy.sum((-2, -1))
    return torch.where(total > 0, high / total.clamp_min(1e-300), torch.zeros_like(total))


def kept_after_shift(model: CircuitModel, image: torch.Tensor, unit: str | Unit, *, pixels: int = 3,
                     pre_activation: bool = False) -> float:
    """The unit's strongest activation over positions after ``image`` (3, H, W) shifts ``pixels`` right or down, as a
    share of its activation before (the mean of the two shifts; the image wraps around)."""
    shifted = torch.stack([image, image.roll(pixels, -1), image.roll(pixels, -2)])
    values = unit_activation(model, shifted, unit, at="max", pre_activation=pre_activation)
    return float(values[1:].mean() / values[0])


@dataclass(frozen=True)
class Fragility:
    """How much of an image's energy is fine detail, and how much of a unit's activation survives a small shift."""

    high_frequency_share: float
    kept_after_shift: float


def fragility(model: CircuitModel, image: torch.Tensor, unit: str | Unit, *, cutoff: float = 0.25, pixels: int = 3,
              pre_activation: bool = False) -> Fragility:
    """Both measures of one image (3, H, W) in [0, 1] for ``unit``: see :func:`high_frequency_share` and :func:`kept_after_shift`."""
    if image.dim() != 3:
        raise ValueError(f"Need one image of shape (3, H, W), got shape {tuple(image.shape)}.")
    return Fragility(float(high_frequency_share(image, cutoff)),
                     kept_after_shift(model, image, unit, pixels=pixels, pre_activation=pre_activation))


def against_top_examples(model: CircuitModel, images: torch.Tensor, rendered: Sequence[tuple[str, int]], scans: Mapping, *,
                         pre_activation: bool = False) -> dict[str, tuple[float, float]]:
    """Each rendered unit's strongest activation on its own visualization beside its top dataset example's.

    ``images`` (N, 3, S, S) are the visualizations, the first ones made for ``rendered``'s (layer, unit) pairs in
    order; ``scans`` maps each layer to its dataset examples. Returns ``"layer:unit"`` -> (visualization, top example).
    """
    values = {}
    for name in dict.fromkeys(layer for layer, _ in rendered):
        picked = [(i, c) for i, (layer, c) in enumerate(rendered) if layer == name]
        maps = capture(model, images[[i for i, _ in picked]], name, pre_activation=pre_activation)[name]
        for row, (_, c) in enumerate(picked):
            values[f"{name}:{c}"] = (float(maps[row, c].max()), float(scans[name].top_values(c)[0]))
    return values
