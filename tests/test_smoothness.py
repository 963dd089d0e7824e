"""helpers.weights.smoothness: smooth filters beat their own weights shuffled in space, noise does not."""
from __future__ import annotations

import pytest
import torch

from helpers.weights.smoothness import filter_smoothness, neighbour_correlation, shuffled_in_space


def test_smooth_filters_beat_their_shuffles_and_noise_does_not() -> None:
    generator = torch.Generator().manual_seed(0)
    y, x = torch.meshgrid(torch.arange(7.0), torch.arange(7.0), indexing="ij")
    angles = torch.rand(16, generator=generator) * 3.14
    edges = torch.stack([torch.cos(a) * (x - 3) + torch.sin(a) * (y - 3) for a in angles])[:, None].repeat(1, 3, 1, 1)
    smooth = filter_smoothness(edges, draws=50, generator=generator)
    assert smooth.median > smooth.threshold
    noise = filter_smoothness(torch.randn(16, 3, 7, 7, generator=generator), draws=50, generator=generator)
    assert noise.median < noise.threshold


def test_shuffling_keeps_every_value_of_each_filter() -> None:
    weights = torch.randn(4, 3, 5, 5, generator=torch.Generator().manual_seed(1))
    shuffled = shuffled_in_space(weights, torch.Generator().manual_seed(2))
    assert torch.equal(shuffled.flatten(1).sort(1).values, weights.flatten(1).sort(1).values)
    assert not torch.equal(shuffled, weights)
    assert neighbour_correlation(torch.ones(2, 3, 4, 4)).abs().max() == 0  # nothing left after the means


def test_bad_input_is_refused_before_any_shuffle() -> None:
    with pytest.raises(ValueError, match="filters"):
        filter_smoothness(torch.randn(3, 5, 5), draws=10, generator=torch.Generator())
    with pytest.raises(ValueError, match="draw"):
        filter_smoothness(torch.randn(2, 3, 5, 5), draws=0, generator=torch.Generator())
