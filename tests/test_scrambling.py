"""The phase-scrambling test: twins keep each image's amplitude spectrum, and the test scores every unit of its layers."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from helpers.scrambling import phase_scrambled, scrambling_test
from helpers.stats import rank_correlation
from helpers.wrapping import wrap_model


def test_a_twin_keeps_the_amplitude_spectrum_and_moves_the_phases():
    images = torch.rand(3, 3, 16, 16, generator=torch.Generator().manual_seed(0)) * 0.2 + 0.4  # no clipping
    twins = phase_scrambled(images, torch.Generator().manual_seed(1))
    assert twins.shape == images.shape
    assert torch.allclose(torch.fft.fft2(twins).abs(), torch.fft.fft2(images).abs(), atol=1e-3)
    assert not torch.allclose(twins, images, atol=0.05)
    assert torch.equal(twins, phase_scrambled(images, torch.Generator().manual_seed(1)))  # the generator decides
    with pytest.raises(ValueError, match="batch"):
        phase_scrambled(images[0], torch.Generator())


def test_the_test_scores_every_unit_of_each_layer():
    torch.manual_seed(0)
    module = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.Conv2d(4, 6, 3, padding=1), nn.ReLU(),
                           nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(6, 2))
    model = wrap_model(module, name="tiny-scrambling-test", input_size=16)
    layers = model.layer_names[:2]
    photographs = torch.rand(8, 3, 16, 16, generator=torch.Generator().manual_seed(2))
    result = scrambling_test(model, layers, photographs, seed=3)
    assert result.scrambled.shape == photographs.shape
    for layer in layers:
        assert result.originals[layer].shape == result.twins[layer].shape == (8, model.channels(layer))
        assert torch.equal(result.correlation[layer], rank_correlation(result.originals[layer], result.twins[layer]))
    with pytest.raises(ValueError, match="at least 3"):
        scrambling_test(model, layers, photographs[:2])
    with pytest.raises(ValueError, match="one layer"):
        scrambling_test(model, [], photographs)
