"""helpers.neuron_basis: a layer's units against random directions of the same layer, by kurtosis."""
from __future__ import annotations

import torch

from helpers.activations import capture
from helpers.checks.interventions import hand_built_network
from helpers.neuron_basis import kurtosis_beyond_random, random_directions, units_against_random_directions
from helpers.stats import kurtosis


def test_random_directions_are_seeded_unit_columns() -> None:
    directions = random_directions(7, 30, seed=2)
    assert directions.shape == (7, 30) and directions.dtype == torch.float64
    assert torch.allclose(directions.norm(dim=0), torch.ones(30, dtype=torch.float64))
    assert torch.equal(directions, random_directions(7, 30, seed=2))
    assert not torch.equal(directions, random_directions(7, 30, seed=3))


def test_sparse_units_beat_random_directions_and_dead_units_are_left_out() -> None:
    generator = torch.Generator().manual_seed(0)
    activations = torch.randn(4000, 5, generator=generator, dtype=torch.float64)
    activations[:, 0] = torch.relu(activations[:, 0] - 2.0)  # quiet on most positions: heavy tailed
    activations[:, 4] = 1.5  # dead on these positions
    gaps = kurtosis_beyond_random(activations, random_directions(5, 100, seed=1))
    assert gaps.shape == (4,)  # the dead unit is not scored
    assert float(gaps[0]) > 5  # far more heavy tailed than any mix of units
    assert bool((gaps[1:].abs() < 1).all())  # Gaussian units look like Gaussian mixes


def test_the_comparison_of_a_layer_agrees_with_its_gaps() -> None:
    model = hand_built_network()
    images = torch.rand(4, 3, 32, 32, generator=torch.Generator().manual_seed(5))
    comparison = units_against_random_directions(model, images, "b", pre_activation=False, count=50, seed=4)
    maps = capture(model, images, "b")["b"]
    activations = maps.permute(0, 2, 3, 1).reshape(-1, 2).double()
    alive = activations.std(0) > 1e-6
    assert comparison.units.shape == (int(alive.sum()),) and comparison.directions.shape == (50,)
    assert torch.allclose(comparison.units, kurtosis(activations[:, alive]))
    assert torch.allclose(comparison.directions, kurtosis(activations @ random_directions(2, 50, seed=4)))
    assert 0.0 <= comparison.share_beyond <= 1.0
    assert f"{len(comparison.directions)} random directions" in str(comparison)
    assert f"{comparison.share_beyond:.0%} of units above it" in str(comparison)
