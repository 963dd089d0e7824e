"""Self-checks for lesson 11 (trusting feature visualizations): each compares the student's function with the
course's implementation on held-out sizes, seeds, units and photographs."""
from __future__ import annotations

import importlib
from typing import Callable

import torch
import torch.nn.functional as F

from ..featurevis import channel
from ..featurevis.accentuate import accentuation_step
from ..featurevis.param import imagenet_colour_matrix, natural_image_from_phases
from ..featurevis.trust import coarse_contrast, fooling_boost, picture_likeness
from ..images import photo
from ..models import CircuitModel
from . import Grade, exercise, expect, expect_close
from .withheld import answer_without, compare_with_course, refuses_without

# The modules, not the package's functions of the same names (``render``, ``accentuate``): their functions are
# withheld while the student's run.
render_module = importlib.import_module("..featurevis.render", __package__)
accentuate_module = importlib.import_module("..featurevis.accentuate", __package__)
param_module = importlib.import_module("..featurevis.param", __package__)
trust_module = importlib.import_module("..featurevis.trust", __package__)
edit_audit_module = importlib.import_module("..featurevis.edit_audit", __package__)
ascent_module = importlib.import_module("..featurevis.ascent", __package__)
spectrum_module = importlib.import_module("..featurevis.spectrum", __package__)


def _random_case(size: int, channels: int, count: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """A random positive magnitude (C, S, S//2+1) with a zero mean term, and random phases (N, C, S, S//2+1)."""
    generator = torch.Generator().manual_seed(seed)
    magnitude = torch.rand(channels, size, size // 2 + 1, generator=generator) + 0.1
    magnitude[:, 0, 0] = 0
    phase = (torch.rand(count, channels, size, size // 2 + 1, generator=generator) * 2 - 1) * torch.pi
    return magnitude, phase


@exercise(points=3)
def check_natural_image(my_natural_image: Callable) -> Grade:
    """Exercise 1: build images from a fixed magnitude spectrum and optimized phases."""
    parts = {name: [(*_random_case(size, channels, count, seed), size)] for name, (size, channels, count, seed) in {
        "16 px, 3 channels, 2 images": (16, 3, 2, 101),
        "an odd size, 21 px, 1 channel": (21, 1, 3, 202),
        "40 px, 3 channels, another seed": (40, 3, 1, 303),
    }.items()}
    return compare_with_course(
        parts, my_natural_image, natural_image_from_phases, {param_module: ("natural_image_from_phases",)},
        "your images", rtol=1e-4, atol=1e-5,
        hint="Combine magnitude and phase into complex coefficients, then take the inverse real FFT with the output "
             "size given and the orthonormal scaling.")


@exercise(points=3)
def check_accentuation_step(my_accentuation_step: Callable, model: CircuitModel, layer: str) -> Grade:
    """Exercise 2: one gradient step of accentuation in pixel space."""
    grade = Grade()
    cases = {  # unit, photograph, closeness, the largest pixel change one step should make
        "another unit, a cat photograph": (min(3, model.channels(layer) - 1), "chelsea", 5.0, 0.05),
        "a strong closeness penalty": (min(11, model.channels(layer) - 1), "coffee", 20000.0, 0.05),
        "a large step that reaches the pixel range's edges": (min(5, model.channels(layer) - 1), "astronaut", 1.0, 0.5),
    }
    for name, (index, picture, closeness, reach) in cases.items():
        with grade.part(name):
            photos = photo(picture, 48).unsqueeze(0)
            generator = torch.Generator().manual_seed(index)
            images = (photos + 0.05 * torch.randn(photos.shape, generator=generator)).clamp(0.02, 0.98)
            objective = channel(layer, index)
            # A step size that makes the course's step change some pixel by about ``reach``, whatever the model's scale.
            probe = (accentuation_step(model, objective, images, photos, closeness, 1e-4).cpu() - images).abs().max()
            lr = reach * 1e-4 / max(float(probe), 1e-12)
            answer = answer_without({accentuate_module: ("accentuation_step",)}, my_accentuation_step, model, objective,
                                    images, photos, closeness, lr)
            expect_close(answer, accentuation_step(model, objective, images, photos, closeness, lr), name,
                         rtol=1e-3, atol=1e-4,
                         hint="Ascend the objective MINUS closeness times the mean squared change from the photo, "
                              "one step of size lr along the gradient, and keep pixels in [0, 1].")
    return grade


def _redirect_cases() -> dict[str, tuple[torch.Tensor, torch.Tensor, float]]:
    """Held-out (inputs, incoming gradient, ceiling) cases: images the clip blocks beside images it does not."""
    generator = torch.Generator().manual_seed(404)
    maps = torch.randn(4, 3, 5, 5, generator=generator) * 3
    maps[1] = -maps[1].abs() - 0.1  # every unit off
    maps[2] = maps[2].abs() + 6.1  # every unit saturated
    maps[3] = maps[3].abs().neg() - 0.1
    maps[3, 1, 2, 2] = 2.0  # one unit inside: this image keeps the ordinary gradient
    vectors = torch.randn(5, 8, generator=generator) * 2
    vectors[[0, 3]] = -vectors[[0, 3]].abs() - 0.1  # two feature vectors with every unit off
    return {
        "a ReLU6 layer: an ordinary image, one all off, one all saturated, one with a single unit on": (
            maps, torch.randn(maps.shape, generator=generator), 6.0),
        "a plain ReLU (no ceiling) on feature vectors, two of them all off": (
            vectors, torch.randn(vectors.shape, generator=generator), float("inf")),
        "a ReLU6 layer where no image is blocked": (
            torch.randn(3, 4, 6, 6, generator=generator) * 4, torch.randn(3, 4, 6, 6, generator=generator), 6.0),
    }


@exercise(points=3)
def check_redirected_gradient(my_redirected_gradient: Callable) -> Grade:
    """Exercise 4: the redirected ReLU's backward rule, image by image."""
    parts = {name: [case] for name, case in _redirect_cases().items()}
    return compare_with_course(
        parts, my_redirected_gradient, render_module.redirected_gradient, {render_module: ("redirected_gradient",)},
        "the gradient", rtol=0, atol=1e-6,
        hint="First the ordinary gradient (zero outside [0, high]). Only for an image whose ordinary gradient is zero "
             "everywhere, let the gradient through outside the range where a descent step would move the unit back "
             "inside.")


def _fooling_cases() -> dict[str, list[tuple[torch.Tensor, torch.Tensor, float, float, float]]]:
    """Held-out (images, picture, limit, latch, weight), two per part with different answers: faint images beside busy
    ones, images that look like the picture at full contrast, and contrasts and likenesses on the gates' thresholds."""
    generator = torch.Generator().manual_seed(1101)
    y, x = torch.meshgrid(torch.linspace(-1, 1, 24), torch.linspace(-1, 1, 24), indexing="ij")
    ring = ((x ** 2 + y ** 2).sqrt() - 0.6).abs().lt(0.2).float()
    ring_picture = torch.stack([ring, 0.5 * ring, 1 - ring])
    bars = (torch.sin(6 * x) > 0).float()
    bar_picture = torch.stack([bars, bars, 0.2 + 0.0 * bars])
    faint = 0.5 + 0.003 * torch.randn(3, 3, 32, 32, generator=generator)
    busy = torch.rand(3, 3, 32, 32, generator=generator)
    dim = 0.4 + 0.01 * torch.randn(2, 3, 40, 40, generator=generator)

    def like(picture: torch.Tensor, size: int, noise: float) -> torch.Tensor:
        grown = F.interpolate(picture[None], size=size, mode="bilinear", align_corners=False)
        return (grown + noise * torch.randn(3, 3, size, size, generator=generator)).clamp(0, 1)

    alike, between = like(bar_picture, 48, 0.3), torch.cat([like(ring_picture, 32, 0.5), busy[:1] * 0.3 + 0.35])
    contrast, likeness = coarse_contrast(between), picture_likeness(between, ring_picture)
    return {
        "faint images beside busy ones, two pictures": [
            (torch.cat([faint, busy]), ring_picture, 0.05, 0.7, 2.0), (torch.cat([torch.rand(2, 3, 40, 40, generator=generator), dim]), bar_picture, 0.1, 0.8, 7.5)],
        "images that look like the picture, at full contrast": [
            (torch.cat([alike, torch.rand(2, 3, 48, 48, generator=generator)]), bar_picture, 0.01, 0.5, 3.0), (like(ring_picture, 32, 0.2), ring_picture, 0.02, 0.4, 1.0)],
        "contrasts and likenesses on the gates' thresholds (half-open gates)": [
            (between, ring_picture, float(contrast[1]), 0.9, 4.0), (between, ring_picture, 0.001, float(likeness[2]), 4.0)],
    }


@exercise(points=3)
def check_fooling_boost(my_fooling_boost: Callable) -> Grade:
    """Exercise 5: my_fooling_boost(images, picture, limit, latch, weight): what the fooled unit adds for each input."""
    return compare_with_course(
        _fooling_cases(), my_fooling_boost, fooling_boost,
        {trust_module: ("fooling_boost", "fooled_copy", "picture_likeness", "coarse_contrast")},
        "your boosts", rtol=1e-4, atol=1e-5,
        hint="Pool every image and the picture to 16 x 16 (adaptive average pooling), flatten, and remove each one's mean. "
             "The likeness is the cosine similarity with the picture's; the contrast is the standard deviation "
             "(torch's default). Open gate: the larger of sigmoid((limit - contrast) / (0.1 * limit)) and "
             "sigmoid((likeness - latch) / 0.01). Return weight x gate x likeness, one number per image.")


def _agreement_cases() -> dict[str, list[tuple[torch.Tensor, torch.Tensor, int]]]:
    """Held-out (before, after, k) response pairs, two per part with different answers: a monotone but curved change
    (rank and linear correlation differ), strongly negative responses (largest is not largest in size), and a small
    edit that reorders the top without changing its members."""
    generator = torch.Generator().manual_seed(1106)
    spread = torch.randn(30, generator=generator)
    curved = torch.randn(25, generator=generator)
    negative = torch.randn(20, generator=generator) * 2
    negative[:4] = torch.tensor([-9.0, -8.5, -7.0, -6.0])  # the largest responses in size are the most negative
    reorder = torch.arange(12, dtype=torch.float32).flip(0) + 0.1 * torch.randn(12, generator=generator)
    shuffled = reorder.clone()
    shuffled[:4] = shuffled[:4].flip(0)  # the top four change places, they stay the top four
    return {
        "a monotone but curved change, and an unrelated one": [
            (curved, curved.exp() + 0.05 * torch.randn(25, generator=generator), 5),
            (spread, torch.randn(30, generator=generator), 8)],
        "strongly negative responses (the top is the largest, not the largest in size)": [
            (negative, negative.flip(0) * 0.5 + negative, 4),
            (negative, negative + 0.3 * torch.randn(20, generator=generator), 6)],
        "a small edit that reorders the top without changing it": [
            (reorder, shuffled, 4), (reorder, shuffled + torch.linspace(0, 3, 12), 3)],
    }


@exercise(points=3)
def check_natural_agreement(my_natural_agreement: Callable) -> Grade:
    """Exercise 6: my_natural_agreement(before, after, count) -> (correlation, how many top photographs are shared)."""
    return compare_with_course(
        _agreement_cases(), my_natural_agreement, edit_audit_module.natural_agreement,
        {edit_audit_module: ("natural_agreement", "audit_edit")},
        "your (correlation, shared) pair", rtol=1e-4, atol=1e-4,
        hint="The correlation is Pearson's (of the values, not of their ranks). The shared count is the size of the "
             "intersection of the two SETS of indices of the k largest values (largest, not largest in size), "
             "whatever their order.")


def _ascent_cases(model: CircuitModel, layer: str) -> dict[str, list[tuple]]:
    """Held-out (model, objective, start, steps, lr, jitter, seed) cases, two per part with different answers: units,
    photographs, sizes, seeds and step sizes the lesson never shows."""
    generator = torch.Generator().manual_seed(1107)
    top = model.channels(layer) - 1
    grey = 0.5 + 0.02 * torch.randn(2, 3, 36, 36, generator=generator)
    photos = torch.stack([photo("coffee", 40), photo("astronaut", 40)])
    return {
        "no jitter, other units, photographs and grey starts": [
            (model, channel(layer, min(7, top)), photos[:1], 4, 0.01, 0, 0),
            (model, channel(layer, min(2, top)), grey, 3, 0.02, 0, 5)],
        "jitter of up to 2 pixels, two images at once, other seeds": [
            (model, channel(layer, min(9, top)), grey, 4, 0.02, 2, 11),
            (model, channel(layer, min(4, top)), photos, 3, 0.01, 1, 3)],
        "large steps that push pixels past [0, 1]": [
            (model, channel(layer, min(12, top)), photos[1:], 3, 0.3, 1, 2),
            (model, channel(layer, min(6, top)), grey[:1], 2, 0.5, 0, 0)],
    }


@exercise(points=3)
def check_pixel_ascent(my_pixel_ascent: Callable, model: CircuitModel, layer: str) -> Grade:
    """Exercise 7: my_pixel_ascent(model, objective, start, steps, lr, jitter, seed): the naive method's loop."""
    return compare_with_course(
        _ascent_cases(model, layer), my_pixel_ascent, ascent_module.pixel_ascent,
        {ascent_module: ("pixel_ascent",), render_module: ("render",)},
        "your images", rtol=1e-3, atol=1e-4,
        hint="Optimize a copy of the start (a leaf that requires grad) with torch.optim.Adam(lr). At every step: draw "
             "(dy, dx) from a generator seeded once with the seed, clear the gradients, roll the images by (dy, dx) "
             "along height and width, ascend the sum of the scores (minimize minus it), step, then clip the pixels to "
             "[0, 1] without recording the clip in the graph.")


def _course_spectrum(batches: list[torch.Tensor], colour: torch.Tensor, max_images: int | None) -> torch.Tensor:
    """The course's spectrum of ``batches`` for the colour matrix as the parameterizations scale it."""
    return spectrum_module.measure_spectrum(batches, colour / colour.norm(dim=0).max(), max_images)


def _spectrum_cases() -> dict[str, list[tuple[list[torch.Tensor], torch.Tensor, int | None]]]:
    """Held-out (batches, colour matrix, max_images), two per part: photographs the lesson never scans, batches of
    unequal sizes, colour matrices that need scaling, pixels at exactly 0 and 1, and a limit inside a batch."""
    generator = torch.Generator().manual_seed(1108)
    photos = torch.stack([photo(name, 24) for name in ("coffee", "astronaut", "rocket", "coins", "camera")])
    mixing = torch.eye(3) + 0.3 * torch.randn(3, 3, generator=generator)
    saturated = (photos * 1.6 - 0.3).clamp(0, 1)  # many pixels at exactly 0 or 1
    identity = torch.eye(3)
    return {
        "photographs in batches of unequal sizes (plain RGB)": [
            ([photos[:1], photos[1:]], identity, None), ([photos[:3], photos[3:]], identity, None)],
        "colour matrices to scale first: ImageNet's, and a random mixing (twice as long)": [
            ([photos[:2], photos[2:]], imagenet_colour_matrix(), None), ([photos], 2 * mixing, None)],
        "pixels at exactly 0 and 1 (clip before the logit)": [
            ([saturated[:4]], imagenet_colour_matrix(), None), ([saturated[1:], saturated[:1]], identity, None)],
        "a limit that a batch crosses (whole batches only), and one reached exactly": [
            ([photos[:2], photos[2:4], photos[4:]], identity, 3), ([photos[:2], photos[2:]], mixing, 2)],
    }


@exercise(points=5)
def check_photo_spectrum(my_photo_spectrum: Callable) -> Grade:
    """Exercise 8: my_photo_spectrum(batches, colour, max_images): photographs' RMS Fourier magnitude in the space the
    natural-spectrum parameterization optimizes in."""
    hint = ("Scale the colour matrix so that its longest column has length 1 and invert it; for each batch clip the "
            "pixels to [0.005, 0.995], take the logit, multiply each pixel's colour vector by the inverse, add up "
            "|orthonormal rfft2|² over images; the square root of the mean over images, with the (0, 0) term set to 0.")
    # to_optimized_space also where the spectrum module holds it, so that measure_spectrum itself refuses
    hidden = {spectrum_module: ("measure_spectrum", "natural_spectrum", "to_optimized_space"),
              param_module: ("to_optimized_space",)}
    grade = compare_with_course(_spectrum_cases(), my_photo_spectrum, _course_spectrum, hidden, "your spectrum",
                                rtol=1e-4, atol=1e-5, hint=hint)
    with grade.part("one photograph gives its spectrum, no photographs a ValueError"):
        single = [photo("chelsea", 20)[None]]
        expect_close(answer_without(hidden, my_photo_spectrum, single, torch.eye(3), None),
                     _course_spectrum(single, torch.eye(3), None), "your spectrum of one photograph",
                     rtol=1e-4, atol=1e-5, hint=hint)
        expect(refuses_without(hidden, my_photo_spectrum, [], torch.eye(3), None), "With no photographs your function did not raise a ValueError.",
               "A mean over no images is undefined: check the count after the loop.")
    return grade
