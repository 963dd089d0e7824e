"""Tests of helpers.featurevis: parameterizations, transforms, objectives and the batched renderer."""
from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import torch
from torch import nn

from helpers import capture, load_model, offline_patches, unit_activation, wrap_model
from helpers.featurevis import (
    BatchedObjectives, Compose, FourierImage, Jitter, Pad, PixelImage, RandomRotate, RandomScale, channel, class_logit,
    colour_matrix_from_images, direction, diversity, imagenet_colour_matrix, light_transforms, make_param, neuron,
    objective_values, render, render_units, standard_transforms,
)
from helpers.plotting import stretch_contrast
from helpers.featurevis.objectives import gram_diversity


def tiny_model(seed: int = 0) -> "CircuitModel":  # noqa: F821
    """A small random convnet: conv1 (8 ch, 32 px), conv2 (16 ch, 16 px), conv3 (16 ch, 16 px), 10 logits."""
    torch.manual_seed(seed)
    net = nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(),
        nn.Conv2d(8, 16, 3, stride=2, padding=1), nn.ReLU(),
        nn.Conv2d(16, 16, 3, padding=1), nn.ReLU(),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(16, 10),
    )
    for layer in net:
        if isinstance(layer, nn.Conv2d):  # larger weights than PyTorch's default: units that respond clearly
            nn.init.kaiming_normal_(layer.weight, nonlinearity="relu")
    return wrap_model(net, {"conv1": "1", "conv2": "3", "conv3": "5"}, name="tiny", input_size=32)


@pytest.fixture(scope="module")
def tiny():
    return tiny_model()


@pytest.fixture(scope="module")
def lite0():
    return load_model("efficientnet_lite0", verbose=False)


def random_images(count: int, size: int = 32, seed: int = 0) -> torch.Tensor:
    return torch.rand(count, 3, size, size, generator=torch.Generator().manual_seed(seed))


# --- parameterizations -----------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["fourier", "pixel"])
def test_param_shape_range_and_seed(kind):
    param = make_param(kind, 24, 5, seed=3)
    with torch.no_grad():
        param.spectrum.mul_(300) if kind == "fourier" else param.pixels.mul_(300)  # push hard: still in range
        images = param()
    assert images.shape == (5, 3, 24, 24)
    assert images.min() >= 0 and images.max() <= 1
    assert torch.equal(make_param(kind, 24, 5, seed=3)(), make_param(kind, 24, 5, seed=3)())
    assert not torch.equal(make_param(kind, 24, 5, seed=3)(), make_param(kind, 24, 5, seed=4)())


def test_bad_param_name_is_explained():
    with pytest.raises(ValueError, match="fourier"):
        make_param("wavelet", 16)


def spectrum_slope(images: torch.Tensor) -> float:
    """Log-log slope of the radially averaged amplitude spectrum over mid frequencies."""
    size = images.shape[-1]
    amplitude = torch.fft.rfft2(images - images.mean(dim=(-2, -1), keepdim=True)).abs().mean(dim=(0, 1))
    frequency = torch.sqrt(torch.fft.fftfreq(size).view(-1, 1) ** 2 + torch.fft.rfftfreq(size).view(1, -1) ** 2)
    bins = torch.linspace(2 / size, 0.4, 12)
    centres, means = [], []
    for low, high in zip(bins[:-1], bins[1:]):
        inside = (frequency >= low) & (frequency < high)
        centres.append(float((low + high) / 2))
        means.append(float(amplitude[inside].mean()))
    return float(np.polyfit(np.log(centres), np.log(means), 1)[0])


def test_fourier_spectrum_falls_like_one_over_f():
    fourier = FourierImage(64, 16, generator=torch.Generator().manual_seed(0))
    pixel = PixelImage(64, 16, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        assert -1.2 < spectrum_slope(fourier()) < -0.8
        assert -0.2 < spectrum_slope(pixel()) < 0.2  # white noise: flat, so the check above can fail


@pytest.mark.parametrize("lr", [0.05, 0.2])
def test_fourier_pixel_step_does_not_shrink_with_size(lr):
    # One Adam step moves every coefficient by ~lr; the frequency scale's normalization must turn that into a
    # pixel-space step of the same size at every image size (without it the step is ~lr/size or ~5*lr).
    steps = []
    for size in (32, 64, 128):
        param = FourierImage(size, 4, generator=torch.Generator().manual_seed(0))
        with torch.no_grad():
            before = param.decorrelated().clone()
        target = torch.randn(before.shape, generator=torch.Generator().manual_seed(1))
        optimizer = torch.optim.Adam(param.parameters(), lr=lr)
        (-(param.decorrelated() * target).sum()).backward()
        optimizer.step()
        with torch.no_grad():
            steps.append(float((param.decorrelated() - before).pow(2).mean().sqrt()))
    assert all(0.5 * lr < step < 2 * lr for step in steps), steps
    assert max(steps) / min(steps) < 1.2, steps


def test_color_matrices():
    imagenet = imagenet_colour_matrix()
    assert abs(float(torch.linalg.det(imagenet))) > 1e-6
    # Images with a known colour covariance: pixels = mixing @ noise + grey.
    generator = torch.Generator().manual_seed(0)
    mixing = torch.tensor([[0.20, 0.05, 0.00], [0.18, -0.04, 0.02], [0.15, -0.08, -0.03]])
    noise = torch.randn(3, 40 * 32 * 32, generator=generator)
    pixels = mixing @ noise + 0.5
    images = pixels.reshape(3, 40, 32, 32).transpose(0, 1)
    matrix = colour_matrix_from_images(images)
    data_covariance = torch.from_numpy(np.cov(pixels.double().numpy())).float()
    assert torch.allclose(matrix @ matrix.T, data_covariance, atol=1e-5)
    assert torch.allclose(matrix @ matrix.T, mixing @ mixing.T, atol=3e-3)
    batches = colour_matrix_from_images([images[:20], images[20:]])  # an iterable of batches gives the same
    assert torch.allclose(batches @ batches.T, data_covariance, atol=1e-5)
    with pytest.raises(ValueError, match="degenerate"):
        colour_matrix_from_images(torch.full((2, 3, 8, 8), 0.5))
    param = make_param("fourier", 16, 1, colour_matrix=matrix)
    assert param().shape == (1, 3, 16, 16)


# --- transforms -----------------------------------------------------------------------------
def test_transform_shapes_and_determinism():
    images = random_images(4, 64)
    chain = standard_transforms()
    out = chain(images, torch.Generator().manual_seed(1))
    assert out.shape == (4, 3, chain.output_size(64), chain.output_size(64)) == (4, 3, 64, 64)
    assert torch.equal(out, chain(images, torch.Generator().manual_seed(1)))
    assert not torch.equal(out, chain(images, torch.Generator().manual_seed(2)))
    assert light_transforms()(images, torch.Generator()).shape[-1] == 64
    with pytest.raises(ValueError, match="nothing"):
        Compose((Jitter(70),))(images, torch.Generator())


def test_disabled_transforms_are_identity():
    images = random_images(3, 16)
    trivial = Compose((Pad(0), Jitter(0), RandomScale((1.0,)), RandomRotate((0,))))
    assert trivial.is_identity and torch.equal(trivial(images, torch.Generator()), images)
    assert torch.equal(Compose()(images, torch.Generator()), images)


def test_pad_and_jitter_are_exact_integer_shifts():
    images = random_images(6, 16)
    padded = torch.nn.functional.pad(images - 0.5, (4, 4, 4, 4)) + 0.5
    out = Compose((Pad(4), Jitter(4)))(images, torch.Generator().manual_seed(0))
    assert out.shape[-1] == 16
    shifts = []
    for image, result in zip(padded, out):
        crops = {(y, x): image[:, y:y + 16, x:x + 16] for y in range(9) for x in range(9)}
        matches = [offset for offset, crop in crops.items() if torch.allclose(result, crop, atol=1e-5)]
        assert matches and all(2 <= y <= 6 and 2 <= x <= 6 for y, x in matches)  # shifted by at most 2 px
        shifts.append(matches[0])
    assert len(set(shifts)) > 1


def test_rotation_by_90_degrees_matches_rot90():
    images = random_images(2, 16)
    out = Compose((RandomRotate((90,)),))(images, torch.Generator())
    assert any(torch.allclose(out, torch.rot90(images, k, dims=(2, 3)), atol=1e-5) for k in (1, -1))


def test_bad_transform_preset_is_explained():
    with pytest.raises(ValueError, match="standard"):
        render(tiny_model(), neuron("conv1:0"), steps=1, size=16, transforms="heavy", progress=False)


# --- objectives -----------------------------------------------------------------------------
def test_neuron_channel_direction_logit_read_the_right_values(tiny):
    images = random_images(3)
    maps = capture(tiny, images, "conv2", pre_activation=True)["conv2"]
    values = objective_values(tiny, [neuron("conv2:5")] * 3, images)
    assert torch.allclose(values, maps[:, 5, 8, 8], atol=1e-6)  # 16x16 map: centre is (8, 8)
    assert torch.allclose(objective_values(tiny, channel("conv2", 5), images[:1]), maps[:1, 5].mean((1, 2)), atol=1e-6)
    one_hot = torch.zeros(16)
    one_hot[5] = 3.0  # normalized to length 1: equals the channel
    assert torch.allclose(objective_values(tiny, [direction("conv2", one_hot)] * 3, images), maps[:, 5].mean((1, 2)), atol=1e-6)
    with torch.no_grad():
        logits = tiny(images)
    assert torch.allclose(objective_values(tiny, [class_logit(7)] * 3, images), logits[:, 7], atol=1e-5)
    post = capture(tiny, images, "conv2")["conv2"]
    assert torch.allclose(objective_values(tiny, [neuron("conv2:5")] * 3, images, pre_activation=False), post[:, 5, 8, 8])


def test_each_image_gets_its_own_objective(tiny):
    images = random_images(3)
    objectives = [neuron("conv2:1"), -channel("conv3:2"), class_logit(4)]
    together = objective_values(tiny, objectives, images)
    alone = torch.stack([objective_values(tiny, o, images[i:i + 1])[0] for i, o in enumerate(objectives)])
    assert torch.allclose(together, alone, atol=1e-5)
    assert torch.allclose(objective_values(tiny, -neuron("conv2:1"), images[:1]), -together[:1])


def test_composite_gradient_is_sum_of_parts(tiny):
    parts = [neuron("conv1:2"), 2.5 * channel("conv3:4"), -direction("conv2", torch.arange(16.0))]

    def gradient(objective):
        images = random_images(1).requires_grad_(True)
        BatchedObjectives(tiny, objective)(images).sum().backward()
        return images.grad

    total = gradient(parts[0] + parts[1] + parts[2])
    assert torch.allclose(total, sum(gradient(p) for p in parts), atol=1e-5)
    assert total.abs().sum() > 0


def test_diversity_is_lower_for_identical_images(tiny):
    same = random_images(1).repeat(4, 1, 1, 1)
    different = random_images(4)
    score = lambda images: objective_values(tiny, diversity("conv2"), images, images_per_objective=4)  # noqa: E731
    assert torch.allclose(score(same), torch.full((4,), -1.0), atol=1e-5)
    assert (score(different) > score(same) + 1e-3).all()
    assert gram_diversity(torch.randn(1, 4, 3, 3)).item() == 0.0
    with pytest.raises(ValueError, match="images_per_objective"):
        objective_values(tiny, channel("conv2:1") + diversity("conv2"), different[:1])


def test_diversity_objective_makes_different_images(tiny):
    options = dict(steps=15, size=32, transforms="light", images_per_objective=3, progress=False)
    plain = render(tiny, channel("conv3:2"), **options)
    diverse = render(tiny, channel("conv3:2") + 2.0 * diversity("conv2"), **options)
    score = lambda images: objective_values(tiny, diversity("conv2"), images, images_per_objective=3).mean()  # noqa: E731
    assert score(diverse.images) > score(plain.images) + 0.2
    # Natural-spectrum images share one power spectrum, which the Gram matrices near the input largely follow:
    # they grow less diverse than Fourier images in the same steps.
    longer = dict(options, steps=60)
    fourier = render(tiny, channel("conv3:2") + 2.0 * diversity("conv2"), param="fourier", **longer)
    natural = render(tiny, channel("conv3:2") + 2.0 * diversity("conv2"), param="natural", **longer)
    assert score(natural.images) < score(fourier.images) - 0.1


def test_bad_units_are_explained(tiny):
    with pytest.raises(ValueError, match="channels 0..15"):
        objective_values(tiny, neuron("conv2:99"), random_images(1))
    with pytest.raises(KeyError, match="conv2"):
        objective_values(tiny, neuron("conv9:1"), random_images(1))
    with pytest.raises(ValueError, match="16 channels"):
        objective_values(tiny, direction("conv2", [1.0, 2.0]), random_images(1))


def test_forward_stops_at_deepest_layer(tiny):
    calls = {"conv3": 0, "linear": 0}
    hooks = [
        tiny.module[4].register_forward_hook(lambda *_: calls.__setitem__("conv3", calls["conv3"] + 1)),
        tiny.module[8].register_forward_hook(lambda *_: calls.__setitem__("linear", calls["linear"] + 1)),
    ]
    try:
        objective_values(tiny, neuron("conv2:0") + channel("conv1:1"), random_images(1))
        assert calls == {"conv3": 0, "linear": 0}
        objective_values(tiny, neuron("conv3:0"), random_images(1))
        assert calls == {"conv3": 1, "linear": 0}
        objective_values(tiny, class_logit(1), random_images(1))
        assert calls == {"conv3": 2, "linear": 1}
    finally:
        for hook in hooks:
            hook.remove()


# --- render ---------------------------------------------------------------------------------
def test_render_result_and_determinism(tiny):
    options = dict(steps=6, size=32, transforms="light", progress=False)
    first = render_units(tiny, ["conv2:0", "conv2:3", "conv3:1"], **options)
    assert first.images.shape == (3, 3, 32, 32) and first.values.shape == (3,) and first.history.shape == (6, 3)
    assert first.images.min() >= 0 and first.images.max() <= 1
    assert [o.name for o in first.objectives] == ["neuron conv2:0", "neuron conv2:3", "neuron conv3:1"]
    assert torch.equal(first.images, render_units(tiny, ["conv2:0", "conv2:3", "conv3:1"], **options).images)
    assert not torch.equal(first.images, render_units(tiny, ["conv2:0", "conv2:3", "conv3:1"], seed=1, **options).images)
    # values are measured on the final images without transforms
    assert torch.allclose(first.values, objective_values(tiny, first.objectives, first.images), atol=1e-5)
    whole_layer = render_units(tiny, "conv1", kind="channel", **options)
    in_batches = render_units(tiny, "conv1", kind="channel", batch_size=3, **options)
    assert whole_layer.images.shape[0] == in_batches.images.shape[0] == in_batches.history.shape[1] == 8
    first_three = render(tiny, [channel("conv1", c) for c in range(3)], **options)
    assert torch.equal(in_batches.images[:3], first_three.images)  # batch 0 uses the seed itself
    assert render(tiny, channel("conv2:1"), images_per_objective=3, **options).images.shape[0] == 3
    ready = make_param("pixel", 32, 2, seed=5, decorrelate=False)
    assert render(tiny, [neuron("conv2:0"), neuron("conv2:1")], param=ready, **options).images.shape == (2, 3, 32, 32)
    with pytest.raises(ValueError, match="makes 2 images but 1"):
        render(tiny, neuron("conv2:0"), param=ready, **options)


def test_render_increases_the_objective(tiny):
    result = render_units(tiny, ["conv3:0", "conv3:5"], kind="channel", steps=60, size=32, transforms="light", progress=False)
    start = objective_values(tiny, result.objectives, make_param("fourier", 32, 2, seed=0)())
    assert (result.values > start + 0.03).all(), (start, result.values)
    assert (result.history[-1] > result.history[0]).all()


def test_unit_in_a_batch_of_16_matches_unit_alone(tiny):
    options = dict(steps=40, size=32, transforms="light", progress=False)
    batch = render_units(tiny, [f"conv3:{c}" for c in range(16)], **options)
    alone = [render(tiny, neuron("conv3:6"), seed=seed, **options).values.item() for seed in range(3)]
    spread = max(alone) - min(alone)
    assert min(alone) - spread - 0.1 * abs(max(alone)) <= batch.values[6].item() <= max(alone) + spread + 0.1 * abs(max(alone))


class Bomb(nn.Module):
    """Explodes on its ``fuse``-th call."""

    def __init__(self, fuse: int):
        super().__init__()
        self.fuse, self.calls = fuse, 0

    def forward(self, x):
        self.calls += 1
        if self.calls == self.fuse:
            raise RuntimeError("boom")
        return x


def test_modules_restored_even_when_render_raises():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(3, 8, 3), nn.ReLU6(), nn.LocalResponseNorm(3), Bomb(3), nn.Conv2d(8, 4, 3), nn.ReLU(),
                        nn.Flatten(), nn.LazyLinear(2))
    model = wrap_model(net, {"a": "1", "b": "5"}, input_size=16)
    before = list(model.module.children())
    with pytest.raises(RuntimeError, match="boom"):
        render(model, neuron("b:0"), steps=5, size=16, redirect_steps=16, transforms="none", progress=False)
    assert list(model.module.children()) == before
    assert [type(m) for m in model.module.children()][1:3] == [nn.ReLU6, nn.LocalResponseNorm]


def test_optimizer_restarts_after_the_redirected_steps(tiny):
    # Adam's moments of the (much larger) redirected gradients would shrink every later step: render clears them.
    made = []

    def adam(parameters):
        made.append(torch.optim.Adam(parameters, lr=0.05))
        return made[0]

    render(tiny, channel("conv3:2"), steps=10, size=32, redirect_steps=4, transforms="none", optimizer=adam, progress=False)
    (state,) = made[0].state.values()
    assert int(state["step"]) == 6  # counted from the first step after the redirected ones, not from the start


def test_redirected_relu_rescues_a_dead_unit():
    model = tiny_model()
    conv1 = model.module[0]
    with torch.no_grad():  # every conv1 unit at -0.3 on a grey image (dead), yet some images in [0, 1] turn it on
        conv1.bias.copy_(-0.3 - 0.5 * conv1.weight.sum(dim=(1, 2, 3)))
    options = dict(objectives=neuron("conv2:3"), steps=24, size=32, transforms="none", progress=False)
    with pytest.warns(UserWarning, match="dead"):
        plain = render(model, redirect_steps=0, **options)
    assert plain.stalled.all()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        redirected = render(model, redirect_steps=12, **options)
    assert not redirected.stalled.any()
    assert redirected.values.item() > plain.values.item() + 0.1


def test_redirected_relu_steers_only_images_it_blocks():
    from helpers.featurevis import RedirectedReLU

    inputs = torch.tensor([[[-1.0, 2.0, -3.0, 7.0]], [[-1.0, -2.0, 8.0, 9.0]]], requires_grad=True)  # image 1: all off or saturated
    grad = torch.tensor([[[-1.0, 0.5, 2.0, 1.5]], [[-1.0, 0.5, -2.0, 1.5]]])
    RedirectedReLU(6.0)(inputs).backward(grad)
    # Image 0 gets an ordinary gradient (its unit at 2.0 is inside), so it keeps exactly the ReLU6 one.
    assert inputs.grad[0].tolist() == [[0.0, 0.5, 0.0, 0.0]]
    # Image 1 gets none from the ordinary ReLU6: it gets the parts that push its units back inside (up from -1, down from 9).
    assert inputs.grad[1].tolist() == [[-1.0, 0.0, 0.0, 1.5]]


def test_constant_unit_is_reported():
    model = tiny_model()
    with torch.no_grad():
        model.module[0].bias.fill_(-50.0)  # conv1 can never turn on: conv2 is the same for every image
    with pytest.warns(UserWarning, match="constant"):
        result = render(model, neuron("conv2:3"), steps=6, size=32, transforms="none", redirect_steps=6, progress=False)
    assert result.stalled.all()


def test_banded_lrn_matches_torch():
    from helpers.featurevis import BandedLocalResponseNorm

    for size in (3, 4, 10):
        lrn = nn.LocalResponseNorm(size, alpha=1e-3, beta=0.75, k=2.0)
        x = torch.randn(2, 12, 5, 5) * 10
        assert torch.allclose(BandedLocalResponseNorm(lrn)(x), lrn(x), rtol=1e-5, atol=1e-6)


# --- quality on the real offline model --------------------------------------------------------
def test_visualization_beats_every_natural_patch(lite0):
    size, layer = 48, "blocks.2.1"
    units = [f"{layer}:{c}" for c in (3, 17, 60, 101)]
    result = render_units(lite0, units, steps=64, size=size, transforms="light", progress=False)
    patches = offline_patches(2048, size=size, batch_size=512)
    best = torch.full((len(units),), -math.inf)
    for batch in patches:
        with torch.no_grad():
            centre = capture(lite0, batch, layer, pre_activation=True, at="center")[layer]
        best = torch.maximum(best, centre[:, [lite0.unit(u).channel for u in units]].amax(0))
    reached = torch.stack([unit_activation(lite0, result.images[i:i + 1], u, pre_activation=True)[0] for i, u in enumerate(units)])
    assert (reached > best).all(), (reached, best)


def test_stretch_contrast_makes_faint_renders_visible(lite0):
    # Renders on efficientnet_lite0 are faint (measured pixel std 0.02-0.06): the objective peaks at low contrast.
    result = render_units(lite0, ["blocks.2.1:1", "blocks.2.1:17"], steps=24, size=48, transforms="light", progress=False)
    raw = result.images
    shown = stretch_contrast(raw)
    assert (raw.flatten(1).std(1) < 0.1).all()  # if this fails, renders got contrast: revisit the docs of render.py
    assert (shown.flatten(1).std(1) > 0.15).all(), shown.flatten(1).std(1)
    assert torch.allclose(shown.mean(dim=(2, 3)), raw.mean(dim=(2, 3)), atol=0.02)  # same average colour
    for before, after in zip(raw.flatten(1), shown.flatten(1)):  # same pattern
        assert float(torch.corrcoef(torch.stack([before, after]))[0, 1]) > 0.95
    vivid = torch.rand(2, 3, 16, 16, generator=torch.Generator().manual_seed(0))  # std ~0.29: left alone
    assert torch.equal(stretch_contrast(vivid), vivid)
    grey = torch.full((1, 3, 8, 8), 0.5)
    assert torch.equal(stretch_contrast(grey), grey)
    with pytest.raises(ValueError, match="N, C, H, W"):
        stretch_contrast(grey[0])
    with pytest.raises(ValueError, match="target_std"):
        stretch_contrast(grey, target_std=0.8)
