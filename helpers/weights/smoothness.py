"""Spatial smoothness of convolution filters: do neighbouring weights share a sign? (lesson 01's first-layer claim)

Trained first-layer filters are small smooth pictures (edges, blobs); freshly initialized ones are noise. One number
per filter, :func:`neighbour_correlation`, tells them apart, and :func:`shuffled_in_space` is its control: the same
weights with their positions permuted, which keeps every value and colour but destroys the arrangement.
:func:`filter_smoothness` runs the whole comparison for a layer's filters.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class Smoothness:
    """A layer's median neighbour correlation, and the same median for each shuffle of its weights in space."""

    median: float
    shuffled: torch.Tensor  # (draws,)

    @property
    def threshold(self) -> float:
        """The 95th percentile of the shuffled medians: what smooth filters must beat."""
        return float(self.shuffled.quantile(0.95))


def filter_smoothness(weights: torch.Tensor, *, draws: int, generator: torch.Generator) -> Smoothness:
    """:func:`neighbour_correlation`'s median over a layer's filters (out, in, kh, kw), beside ``draws`` shuffles."""
    if weights.ndim != 4 or draws < 1:
        raise ValueError(f"expected filters (out, in, kh, kw) and at least one draw, got {tuple(weights.shape)} and {draws}")
    shuffled = torch.stack([neighbour_correlation(shuffled_in_space(weights, generator)).median() for _ in range(draws)])
    return Smoothness(float(neighbour_correlation(weights).median()), shuffled)


def neighbour_correlation(weights: torch.Tensor) -> torch.Tensor:
    """Per filter of (out, in, kh, kw) weights: the products of horizontally and vertically neighbouring weights,
    summed over the filter and divided by its sum of squares, after removing each input channel's mean. Positive for
    a smooth filter (neighbours share a sign), about 0 for noise, negative for a chequerboard."""
    centred = weights - weights.mean(dim=(2, 3), keepdim=True)
    pairs = ((centred[..., :, 1:] * centred[..., :, :-1]).sum((1, 2, 3))
             + (centred[..., 1:, :] * centred[..., :-1, :]).sum((1, 2, 3)))
    return pairs / centred.square().sum((1, 2, 3)).clamp_min(1e-12)


def shuffled_in_space(weights: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """The same weights with each filter's positions permuted (one permutation per filter, shared by its channels)."""
    flat = weights.flatten(2)
    order = torch.stack([torch.randperm(flat.shape[-1], generator=generator) for _ in range(len(weights))])
    return flat.gather(2, order[:, None, :].expand_as(flat)).view_as(weights)
