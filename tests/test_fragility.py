"""helpers.featurevis.fragility: an image's share of fine detail, and what a unit keeps when the image moves."""
from __future__ import annotations

import pytest
import torch

from helpers.checks.interventions import hand_built_network
from helpers.featurevis.fragility import fragility, high_frequency_share
from helpers.models import CircuitModel


@pytest.fixture(scope="module")
def hand_built_model() -> CircuitModel:
    return hand_built_network()


def _grating(frequency: float, size: int = 32, *, across_rows: bool = True) -> torch.Tensor:
    y, x = torch.meshgrid(torch.arange(float(size)), torch.arange(float(size)), indexing="ij")
    return torch.cos(2 * torch.pi * frequency * (y if across_rows else x)).expand(3, size, size)


def test_gratings_fall_wholly_on_their_side_of_the_cutoff() -> None:
    assert float(high_frequency_share(0.5 + 0.1 * _grating(0.375))) == pytest.approx(1.0)
    assert float(high_frequency_share(0.5 + 0.1 * _grating(0.125, across_rows=False))) == pytest.approx(0.0, abs=1e-9)
    # energy, not magnitude: amplitudes 1 (fine) and 2 (coarse) give a share of 1 / (1 + 4)
    mixed = 0.3 + 0.1 * (_grating(0.375) + 2 * _grating(0.125, across_rows=False))
    assert float(high_frequency_share(mixed)) == pytest.approx(0.2)


def test_a_plain_image_has_no_detail_and_batches_keep_their_shape() -> None:
    assert float(high_frequency_share(torch.full((3, 16, 16), 0.7))) == 0.0
    batch = torch.rand(2, 4, 3, 20, 20, generator=torch.Generator().manual_seed(0))
    shares = high_frequency_share(batch, 0.1)
    assert shares.shape == (2, 4) and bool(((shares > 0) & (shares < 1)).all())


def test_fragility_of_a_plain_image_keeps_everything(hand_built_model) -> None:
    unit = hand_built_model.units(hand_built_model.layer_names[0])[0]
    measured = fragility(hand_built_model, torch.full((3, 32, 32), 0.6), unit)
    assert measured.high_frequency_share == 0.0
    assert measured.kept_after_shift == pytest.approx(1.0)


def test_fragility_wants_one_image(hand_built_model) -> None:
    with pytest.raises(ValueError, match=r"one image of shape \(3, H, W\)"):
        fragility(hand_built_model, torch.rand(2, 3, 32, 32), hand_built_model.units(hand_built_model.layer_names[0])[0])


def test_against_top_examples_reads_each_unit_on_its_own_image(hand_built_model) -> None:
    from types import SimpleNamespace

    from helpers.activations import capture
    from helpers.featurevis.fragility import against_top_examples

    a, b = hand_built_model.layer_names[:2]
    images = torch.rand(4, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    scans = {layer: SimpleNamespace(top_values=lambda c, layer=layer: torch.tensor([10.0 * c + len(layer)])) for layer in (a, b)}
    got = against_top_examples(hand_built_model, images, [(a, 2), (b, 1), (a, 0)], scans)  # the 4th image rendered nothing
    assert list(got) == [f"{a}:2", f"{a}:0", f"{b}:1"]
    maps = {layer: capture(hand_built_model, images, layer)[layer] for layer in (a, b)}
    assert got[f"{a}:2"] == pytest.approx((float(maps[a][0, 2].max()), 20.0 + len(a)))
    assert got[f"{a}:0"] == pytest.approx((float(maps[a][2, 0].max()), 0.0 + len(a)))
    assert got[f"{b}:1"] == pytest.approx((float(maps[b][1, 1].max()), 10.0 + len(b)))
