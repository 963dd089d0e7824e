"""Tests of the natural-spectrum parameterization, its measured spectrum and cache, and accentuation."""
from __future__ import annotations

import pytest
import torch

from helpers.featurevis import channel, neuron, render
from helpers.featurevis import spectrum as spectrum_module
from helpers.featurevis.accentuate import accentuate, closeness_penalty
from helpers.featurevis.param import (
    NaturalSpectrumImage, PhotoImage, imagenet_colour_matrix, make_param, natural_image_from_phases, to_optimized_space,
)
from helpers.featurevis.spectrum import measure_spectrum, natural_spectrum
from helpers.images import offline_patches, photo

from test_featurevis import tiny_model


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    """Every test measures into its own cache folder."""
    monkeypatch.setattr(spectrum_module, "CACHE_DIR", tmp_path / "cache")


@pytest.fixture(scope="module")
def tiny():
    return tiny_model()


def ramp_magnitude(size: int, channels: int = 3) -> torch.Tensor:
    """A made-up 1/f magnitude with a zero DC term (no photographs needed)."""
    fy = torch.fft.fftfreq(size).view(-1, 1)
    fx = torch.fft.rfftfreq(size).view(1, -1)
    magnitude = 1.0 / torch.sqrt(fx**2 + fy**2).clamp(min=1.0 / size)
    magnitude[0, 0] = 0
    return magnitude.expand(channels, -1, -1).clone()


def test_natural_param_keeps_the_magnitudes_and_learns_only_phases():
    magnitude = ramp_magnitude(16)
    param = NaturalSpectrumImage(16, 4, magnitude=magnitude, generator=torch.Generator().manual_seed(1))
    assert [name for name, _ in param.named_parameters()] == ["phase"]
    with torch.no_grad():
        param.phase.add_(torch.randn_like(param.phase) * 5)  # any phases at all: the magnitudes stay
        raw = param.decorrelated()
        images = param()
    measured = torch.fft.rfft2(raw, norm="ortho").abs()
    # Columns 1 .. S/2-1 hold no Hermitian-folded coefficients, so they come back exactly.
    assert torch.allclose(measured[..., 1:-1], magnitude[..., 1:-1].expand_as(measured[..., 1:-1]), atol=1e-4)
    assert images.shape == (4, 3, 16, 16) and images.min() >= 0 and images.max() <= 1


def test_natural_param_is_seeded_and_checks_its_magnitude():
    magnitude = ramp_magnitude(12)
    first = NaturalSpectrumImage(12, 2, magnitude=magnitude, generator=torch.Generator().manual_seed(3))()
    again = NaturalSpectrumImage(12, 2, magnitude=magnitude, generator=torch.Generator().manual_seed(3))()
    other = NaturalSpectrumImage(12, 2, magnitude=magnitude, generator=torch.Generator().manual_seed(4))()
    assert torch.equal(first, again) and not torch.equal(first, other)
    with pytest.raises(ValueError, match="magnitude must have shape"):
        NaturalSpectrumImage(16, 1, magnitude=magnitude)
    with pytest.raises(ValueError, match="phase_gain"):
        NaturalSpectrumImage(12, 1, magnitude=magnitude, phase_gain=0)


def test_natural_image_from_phases_is_the_inverse_fft():
    magnitude = ramp_magnitude(8, channels=1)
    phase = torch.rand(2, 1, 8, 5, generator=torch.Generator().manual_seed(0)) * 6
    expected = torch.fft.irfft2(magnitude * torch.exp(1j * phase), s=(8, 8), norm="ortho")
    assert torch.allclose(natural_image_from_phases(magnitude, phase, 8), expected, atol=1e-6)


def test_measure_spectrum_finds_a_grating_and_zeroes_the_mean():
    size = 16
    x = torch.arange(size).float()
    grating = 0.5 + 0.3 * torch.cos(2 * torch.pi * 3 * x / size).view(1, -1).expand(size, size)
    images = grating.expand(2, 3, size, size)
    magnitude = measure_spectrum([images], torch.eye(3))
    assert magnitude.shape == (3, size, size // 2 + 1)
    assert float(magnitude[:, 0, 0].abs().max()) == 0.0
    flat = magnitude[0].flatten()
    assert int(flat.argmax()) == 3  # row 0 (no vertical frequency), column 3: the grating's frequency
    with pytest.raises(ValueError, match="square"):
        measure_spectrum([torch.rand(1, 3, 8, 9)], torch.eye(3))
    with pytest.raises(ValueError, match="no images"):
        measure_spectrum([], torch.eye(3))


def test_photographs_spectrum_falls_with_frequency_and_gives_natural_contrast():
    param = make_param("natural", 32, 8, seed=0)
    magnitude = param.magnitude
    assert float(magnitude[:, 1:3, 1:3].mean()) > 3 * float(magnitude[:, 8:, 8:].mean())  # ~1/f: coarse beats fine
    photos = next(iter(offline_patches(count=64, size=32)))
    natural_std = float(param().detach().flatten(1).std(dim=1).mean())
    photo_std = float(photos.flatten(1).std(dim=1).mean())
    fourier_std = float(make_param("fourier", 32, 8, seed=0)().detach().flatten(1).std(dim=1).mean())
    assert 0.5 * photo_std < natural_std < 2 * photo_std  # a photograph's contrast from the first step
    assert fourier_std < 0.2 * natural_std


def test_spectrum_is_cached_atomically_and_keyed_by_colour(tmp_path):
    source = offline_patches(count=16, size=16)
    first = natural_spectrum(16, torch.eye(3), source=source, max_images=16)
    files = list((tmp_path / "cache" / "natural_spectrum").iterdir())
    assert len(files) == 1 and files[0].suffix == ".pt"  # no temporary file left behind
    assert torch.equal(torch.load(files[0], weights_only=True), first)
    assert torch.equal(natural_spectrum(16, torch.eye(3), source=source, max_images=16), first)  # read back
    other = natural_spectrum(16, imagenet_colour_matrix() / imagenet_colour_matrix().norm(dim=0).max(), source=source, max_images=16)
    assert len(list((tmp_path / "cache" / "natural_spectrum").iterdir())) == 2 and not torch.equal(other, first)
    with pytest.raises(ValueError, match="px"):
        natural_spectrum(32, torch.eye(3), source=source)


def test_render_with_natural_param_raises_the_objective(tiny):
    objectives = [channel("conv2", 1), channel("conv2", 5)]
    result = render(tiny, objectives, param="natural", steps=24, size=32, transforms="none", progress=False)
    assert (result.history[-1] > result.history[0]).all()
    assert not result.stalled.any()
    assert result.images.flatten(1).std(dim=1).min() > 0.05  # never faint


def test_photo_image_starts_at_the_photograph():
    picture = photo("chelsea", 32).clamp(0.01, 0.99).unsqueeze(0)
    param = PhotoImage(picture, colour_matrix=imagenet_colour_matrix())
    assert torch.allclose(param(), picture, atol=1e-4)
    assert torch.allclose(to_optimized_space(picture, torch.eye(3)), torch.logit(picture), atol=1e-5)
    with pytest.raises(ValueError, match="square"):
        PhotoImage(torch.rand(1, 3, 8, 9))


def test_accentuate_raises_each_unit_with_a_small_change(tiny):
    picture = photo("coffee", 32)
    objectives = [neuron("conv2", 2), neuron("conv2", 9)]
    loose = accentuate(tiny, objectives, picture, steps=24, closeness=1.0, transforms="none", progress=False)
    assert loose.images.shape == loose.photos.shape == (2, 3, 32, 32)
    assert (loose.after > loose.before).all()
    tight = accentuate(tiny, objectives, picture, steps=24, closeness=1000.0, transforms="none", progress=False)
    assert (tight.change < loose.change).all()  # the penalty is what keeps the change small
    assert (tight.change < 0.1).all()


def test_accentuate_and_render_reject_bad_input(tiny):
    with pytest.raises(ValueError, match="one per objective"):
        accentuate(tiny, [neuron("conv2", 0)], torch.rand(2, 3, 32, 32), progress=False)
    with pytest.raises(ValueError, match="photos must be"):
        accentuate(tiny, neuron("conv2", 0), torch.rand(32, 32), progress=False)
    with pytest.raises(ValueError, match="closeness"):
        accentuate(tiny, neuron("conv2", 0), torch.rand(3, 32, 32), closeness=-1, progress=False)
    with pytest.raises(ValueError, match="one cost per image"):
        render(tiny, neuron("conv2", 0), steps=2, size=32, transforms="none", progress=False, penalty=lambda images: images.sum())


def test_closeness_penalty_is_zero_at_the_photo():
    photos = torch.rand(3, 3, 8, 8)
    cost = closeness_penalty(photos, 10.0)
    assert torch.equal(cost(photos), torch.zeros(3))
    assert torch.allclose(cost(photos + 0.1), torch.full((3,), 0.1))
