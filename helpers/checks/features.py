"""Self-checks for lesson 01's exercises: the Fourier parameterization, a plain optimization loop, decorrelated colour,
the smoothness of filters, the scrambling test's rank correlation, an image's share of fine detail, how far units
are more heavy-tailed than random directions, the dataset-example scan's streaming top examples, and a chain of
transforms folded into one resampling.

Each check runs the student's function on inputs the notebook never shows (other sizes and seeds, other units, a
small hand-built network) and compares it with the course's implementation (:mod:`helpers.featurevis`,
:mod:`helpers.weights.smoothness`, :mod:`helpers.stats`, :mod:`helpers.featurevis.fragility`, :mod:`helpers.neuron_basis`,
:mod:`helpers.dataset_examples.scan`, :mod:`helpers.featurevis.transforms`).
"""
from __future__ import annotations

import importlib
from typing import Callable

import torch
from torch import nn

from ..activations import capture, layer_vectors
from ..dataset_examples.scan import strongest_examples
from ..featurevis import channel, render
from ..featurevis.fragility import high_frequency_share
from ..featurevis.param import FourierImage, PixelImage, colour_matrix_from_images, imagenet_colour_matrix
from ..featurevis.transforms import transform_chain
from ..images import offline_patches
from ..models import CircuitModel, Unit
from ..neuron_basis import kurtosis_beyond_random, random_directions
from ..probing import default_pre_activation, unit_responses
from ..stats import rank_correlation
from ..weights import smoothness
from ..weights.smoothness import neighbour_correlation
from ..wrapping import wrap_model
from . import ExerciseError, Grade, exercise, expect, expect_close
from .withheld import answer_without, compare_with_course

# The modules, not the package's functions of the same names: their implementations are withheld in exercises 1-3, 6-8 and 10.
render_module = importlib.import_module("..featurevis.render", __package__)
param_module = importlib.import_module("..featurevis.param", __package__)
stats_module = importlib.import_module("..stats", __package__)
scrambling_module = importlib.import_module("..scrambling", __package__)
fragility_module = importlib.import_module("..featurevis.fragility", __package__)
neuron_basis_module = importlib.import_module("..neuron_basis", __package__)
scan_module = importlib.import_module("..dataset_examples.scan", __package__)
transforms_module = importlib.import_module("..featurevis.transforms", __package__)


@exercise(points=3)
def check_fourier_image(my_fourier_image: Callable) -> Grade:
    """Exercise 1: my_fourier_image(spectrum, size): the image (before colour mixing) from scaled Fourier coefficients."""
    grade = Grade()
    for size, count, seed in ((24, 1, 11), (33, 2, 12), (50, 1, 13)):  # even and odd sizes, never the lesson's
        reference = FourierImage(size, count, generator=torch.Generator().manual_seed(seed), std=1.0)
        with grade.part(f"{count} image(s) of {size} x {size} px, seed {seed}"):
            spectrum = reference.spectrum.detach().clone()
            got = answer_without({param_module: ("FourierImage",)}, my_fourier_image, spectrum, size)
            expect(isinstance(got, torch.Tensor), f"Return a tensor, not {type(got).__name__}.")
            expect_close(got, reference.decorrelated().detach(), f"size {size}", rtol=1e-3, atol=1e-5,
                         hint="Scale each coefficient by 1 / frequency (the lowest frequency for the constant term), "
                              "normalized to a mean square of 1, then take the orthonormal inverse real FFT.")
    return grade


def _objective(model: CircuitModel, image: torch.Tensor, unit: Unit) -> float:
    """The unit's channel averaged over positions (before its non-linearity when there is one)."""
    maps = capture(model, image[None], unit.layer, pre_activation=default_pre_activation(model, unit.layer))[unit.layer]
    return float(maps[0, unit.channel].mean())


def _tiny_network(device: torch.device) -> CircuitModel:
    """A seeded two-layer network: its units respond to colour and orientation at 32 px."""
    generator = torch.Generator().manual_seed(5)
    module = nn.Sequential(nn.Conv2d(3, 6, 5, padding=2), nn.ReLU(), nn.Conv2d(6, 8, 3, stride=2, padding=1), nn.ReLU(),
                           nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 2))
    with torch.no_grad():
        for parameter in module.parameters():
            parameter.copy_(torch.randn(parameter.shape, generator=generator) * 0.3)
    return wrap_model(module.to(device), {"conv2": "3"}, name="tiny-features", input_size=32)


def _held_out_units(model: CircuitModel) -> list[Unit]:
    """Two units of a layer the lesson does not render by hand: early, so the check stays cheap."""
    layer = model.layer_names[min(2, len(model.layer_names) - 1)]
    channels = model.channels(layer)
    return [model.unit(layer, channels // 3), model.unit(layer, (2 * channels) // 3)]


@exercise(points=3)
def check_visualize(my_visualize: Callable, model: CircuitModel, steps: int = 48, size: int = 64) -> Grade:
    """Exercise 2: my_visualize(model, unit, steps, size, seed) optimizes an image that makes the unit fire."""
    grade = Grade()
    tiny = _tiny_network(model.device)
    cases = [(tiny, tiny.unit("conv2", 3), 32), *((model, unit, size) for unit in _held_out_units(model))]
    for network, unit, side in cases:
        with grade.part(f"{network.name} unit {unit}"):
            course = render(network, channel(unit), steps=steps, size=side, seed=1, progress=False, param="fourier",
                            pre_activation=default_pre_activation(network, unit.layer)).images[0]
            grey = torch.full((3, side, side), 0.5)
            start, target = _objective(network, grey, unit), _objective(network, course, unit)
            # withholding BatchedObjectives makes the course's render() refuse: the loop must be the student's
            image = answer_without({render_module: ("BatchedObjectives",)}, my_visualize, network, unit, steps=steps,
                                   size=side, seed=1)
            expect(isinstance(image, torch.Tensor), f"Return the image as a tensor, not {type(image).__name__}.")
            image = image.detach().cpu().float()
            image = image[0] if image.dim() == 4 and image.shape[0] == 1 else image
            expect(tuple(image.shape) == (3, side, side),
                   f"Your image has shape {tuple(image.shape)}; a (3, {side}, {side}) image was expected.")
            expect(bool(torch.isfinite(image).all()) and float(image.min()) >= 0 and float(image.max()) <= 1,
                   "Your image must hold finite values in [0, 1].", "Pass the parameterization through a sigmoid.")
            reached = _objective(network, image, unit)
            share = (reached - start) / max(target - start, 1e-6)
            expect(share >= 0.6, f"Your image raises the unit {share:.0%} as far above a grey image as the course's "
                   "render does (at least 60% is needed).",
                   "Maximize the activation (minimize its negative) with Adam for all the steps, on the channel's mean "
                   "over positions, reading the layer with capture(..., grad=True).")
    return grade


@exercise(points=2)
def check_colour_image(my_colour_image: Callable) -> Grade:
    """Exercise 3: my_colour_image(raw, colour_matrix): mix decorrelated colours into RGB and squash them into [0, 1]."""
    grade = Grade()
    generator = torch.Generator().manual_seed(31)
    photos = torch.rand(4, 3, 16, 16, generator=generator) ** torch.tensor([1.0, 2.0, 0.5]).view(1, 3, 1, 1)
    matrices = {"ImageNet's colour matrix": imagenet_colour_matrix(),
                "a matrix from other images' colours": colour_matrix_from_images(photos),
                "a lopsided hand-built matrix": torch.tensor([[2.0, 0.1, 0.0], [0.5, 1.0, 0.3], [0.0, -0.4, 0.2]])}
    for name, matrix in matrices.items():
        with grade.part(name):
            reference = PixelImage(12, 2, colour_matrix=matrix, std=1.0, generator=generator)
            raw = reference.decorrelated().detach().clone()
            got = answer_without({param_module: ("PixelImage", "FourierImage")}, my_colour_image, raw, matrix)
            expect(isinstance(got, torch.Tensor), f"Return a tensor, not {type(got).__name__}.")
            expect_close(got, reference().detach(), name, rtol=1e-4, atol=1e-5,
                         hint="Scale the matrix so that its longest column has length 1, mix the channels of every "
                              "pixel with it (RGB = M @ raw), then apply a sigmoid.")
    return grade


def _smoothness_cases(model: CircuitModel) -> dict[str, list[tuple[torch.Tensor]]]:
    """Held-out filters (out, in, kh, kw), two sets per part with different answers, so that no constant earns a part."""
    generator = torch.Generator().manual_seed(101)
    y, x = torch.meshgrid(torch.arange(5.0), torch.arange(5.0), indexing="ij")
    blob = torch.exp(-((x - 2) ** 2 + (y - 1.5) ** 2) / 3)
    chequer = (x + y) % 2 * 2 - 1
    hand_made = torch.stack([torch.stack([blob, 0.5 * blob, -blob]), torch.stack([chequer, chequer, 0.2 * blob])])
    ramp = torch.stack([x + 0.1 * y, torch.full((5, 5), 3.0), y]).unsqueeze(0)  # one channel constant: mean removed
    convolutions = [m for m in model.module.modules() if isinstance(m, nn.Conv2d) and m.kernel_size[0] > 1]
    deeper = convolutions[min(1, len(convolutions) - 1)].weight.detach().cpu()[:24]
    return {
        "a blob and a chequerboard, in 3 channels of different signs": [(hand_made,), (ramp,)],
        "random 7 x 7 filters of 4 channels, and a ramp beside a constant channel": [
            (torch.randn(6, 4, 7, 7, generator=generator),), (torch.cat([ramp, -ramp]),)],
        f"filters of another convolution of {model.name}, and 3 x 3 random filters": [
            (deeper,), (torch.randn(5, 2, 3, 3, generator=generator),)],
    }


@exercise(points=3)
def check_neighbour_correlation(my_neighbour_correlation: Callable, model: CircuitModel) -> Grade:
    """Exercise 5: my_neighbour_correlation(weights): per filter, how strongly neighbouring weights agree."""
    return compare_with_course(
        _smoothness_cases(model), my_neighbour_correlation, neighbour_correlation,
        {smoothness: ("neighbour_correlation", "filter_smoothness")},
        "your neighbour correlations", rtol=1e-4, atol=1e-5,
        hint="Subtract each channel's mean over its kh x kw positions; multiply every weight by its right-hand neighbour "
             "and by the one below it, sum all those products over channels and positions, and divide by the filter's "
             "sum of squares (summed over channels too): one number per filter.")


def _ranking_cases(model: CircuitModel) -> dict[str, list[tuple[torch.Tensor, torch.Tensor]]]:
    """Held-out (images, units) table pairs, two per part with different answers: bent responses, where Pearson's
    correlation is not Spearman's; ties and a dead unit; and another layer's responses to other photographs."""
    generator = torch.Generator().manual_seed(601)
    a = torch.randn(30, 5, generator=generator)
    bent = torch.stack([torch.exp(3 * a[:, 0]), a[:, 1] ** 3, -torch.exp(2 * a[:, 2]),
                        a[:, 3] + 0.8 * torch.randn(30, generator=generator), torch.randn(30, generator=generator)], 1)
    small = torch.randn(9, 3, generator=generator)
    levels = torch.randint(0, 3, (24, 4), generator=generator).float()  # many ties: a unit that is often at 0, 1 or 2
    noisy = levels + torch.randint(0, 2, (24, 4), generator=generator).float()
    levels[:, 3] = 0.0  # a unit dead on every image
    steps = torch.arange(12.0).repeat_interleave(2)[:, None].repeat(1, 2)  # pairs tied, in order
    photographs = torch.cat(list(offline_patches(count=12, size=64, seed=77)))
    twins = scrambling_module.phase_scrambled(photographs, torch.Generator().manual_seed(78))
    layer = model.layer_names[min(1, len(model.layer_names) - 1)]
    units = model.units(layer)[:24]
    pre_activation = default_pre_activation(model, layer)
    originals, scrambled = (unit_responses(model, units, images, at="max", pre_activation=pre_activation).cpu()
                            for images in (photographs, twins))
    return {
        "responses bent by a monotone function (30 images x 5 units), and a small 9 x 3 table": [
            (a, bent), (small, -small ** 3 + 0.1 * small)],
        "tied responses and a unit dead on every image": [(levels, noisy), (steps, (steps - 5.2).abs())],
        f"{len(units)} units of {model.name}'s {layer} on 12 other photographs and their twins, and the same reversed": [
            (originals, scrambled), (originals, -scrambled)],
    }


@exercise(points=3)
def check_rank_correlation(my_rank_correlation: Callable, model: CircuitModel) -> Grade:
    """Exercise 6: my_rank_correlation(a, b): per unit (column), Spearman's correlation of its two columns of responses."""
    import scipy.stats

    library = importlib.import_module(scipy.stats.spearmanr.__module__)  # and scipy.stats, which re-exports it
    return compare_with_course(
        _ranking_cases(model), my_rank_correlation, rank_correlation,
        {stats_module: ("rank_correlation",), scrambling_module: ("scrambling_test",), library: ("spearmanr",)},
        "your rank correlations", rtol=1e-5, atol=1e-6,
        hint="Rank each column of a and of b separately (0 for the smallest value; tied values get the mean of the ranks "
             "they span), then take Pearson's correlation of each unit's two columns of ranks: one number per unit, 0 "
             "for a column that never varies.")


def _detail_cases() -> dict[str, list[tuple[torch.Tensor, float]]]:
    """Held-out (images, cutoff) pairs, two per part with different answers: smoothed noise of other sizes (one with
    frequencies exactly on the cutoff), gratings whose shares are known, and photographs."""
    generator = torch.Generator().manual_seed(701)
    noise = torch.rand(2, 3, 24, 24, generator=generator)
    smooth = nn.functional.avg_pool2d(torch.rand(1, 3, 37, 37, generator=generator), 5, stride=1)  # 33 x 33
    y, x = torch.meshgrid(torch.arange(32.0), torch.arange(32.0), indexing="ij")
    fine_rows = torch.cos(2 * torch.pi * 0.375 * y)  # 12 cycles in 32 rows: all above a cutoff of 0.25
    coarse_columns = torch.cos(2 * torch.pi * 0.125 * x)  # 4 cycles: all below it
    offsets = torch.tensor([0.5, 0.2, 0.8]).view(3, 1, 1)  # a colour on which the gratings sit
    mixed = offsets + 0.1 * torch.stack([fine_rows + 2 * coarse_columns, coarse_columns, 3 * fine_rows])
    gratings = torch.stack([offsets + 0.2 * fine_rows, offsets + 0.2 * coarse_columns, offsets.expand(3, 32, 32)])
    photographs = torch.cat(list(offline_patches(count=3, size=40, seed=91)))
    return {
        "noise of 24 x 24 px (frequencies on the cutoff of 0.25), and smoothed noise of 33 x 33 px at 0.1": [
            (noise, 0.25), (smooth, 0.1)],
        "gratings across rows and columns on a colour, a plain colour, and a mix of them": [
            (gratings, 0.25), (mixed, 0.25)],
        "one photograph of 40 x 40 px (3, H, W) and three at a cutoff of 0.4": [
            (photographs[0], 0.25), (photographs, 0.4)],
    }


@exercise(points=3)
def check_high_frequency_share(my_high_frequency_share: Callable) -> Grade:
    """Exercise 7: my_high_frequency_share(images, cutoff): each image's share of spectral energy above the cutoff."""
    return compare_with_course(
        _detail_cases(), my_high_frequency_share, high_frequency_share,
        {fragility_module: ("high_frequency_share", "fragility")},
        "your high-frequency shares", rtol=1e-4, atol=1e-6,
        hint="Remove each channel's mean, take torch.fft.fft2 over the last two dimensions, square the magnitudes and "
             "add the channels; a frequency is high when |fy| or |fx| (torch.fft.fftfreq) is strictly above the cutoff. "
             "Divide the high energy by all of it: one number per image, 0 for an image that never varies.")


def _tails_cases(model: CircuitModel) -> dict[str, list[tuple[torch.Tensor, torch.Tensor]]]:
    """Held-out (activations, directions) pairs, two per part with different answers: hand-built units with heavy and
    light tails and a dead one; Gaussian units; and another layer of the model on other photographs."""
    generator = torch.Generator().manual_seed(801)
    gaussian = torch.randn(600, 6, generator=generator, dtype=torch.float64)
    sparse = gaussian.clone()
    sparse[:, :3] = torch.relu(gaussian[:, :3] - 1.5) * 4  # quiet on most positions, strong on a few
    sparse[:, 3] = 0.25  # a unit dead on these positions
    spikes = torch.where(torch.rand(400, 5, generator=generator) < 0.03, 5.0, 0.0).double() + \
        0.1 * torch.randn(400, 5, generator=generator, dtype=torch.float64)
    quiet = gaussian[:300, :4].clone()
    quiet[:, 1] = 0.0  # another unit dead on these positions
    layer = model.layer_names[min(3, len(model.layer_names) - 1)]
    photographs = torch.cat(list(offline_patches(count=6, size=64, seed=93)))
    maps = capture(model, photographs, layer, pre_activation=default_pre_activation(model, layer))[layer]
    activations = layer_vectors(maps).double().cpu()
    return {
        "6 hand-built units (three sparse, two Gaussian, one dead) and 5 units with rare spikes": [
            (sparse, random_directions(6, 40, seed=3)), (spikes, random_directions(5, 60, seed=4))],
        "Gaussian units against 30 directions, and three beside a dead one against 90": [
            (gaussian, random_directions(6, 30, seed=5)), (quiet, random_directions(4, 90, seed=6))],
        f"{model.name}'s {layer} on 6 other photographs, against 50 and 120 directions": [
            (activations, random_directions(activations.shape[1], 50, seed=7)),
            (activations[::2], random_directions(activations.shape[1], 120, seed=8))],
    }


@exercise(points=3)
def check_kurtosis_beyond_random(my_kurtosis_beyond_random: Callable, model: CircuitModel) -> Grade:
    """Exercise 8: my_kurtosis_beyond_random(activations, directions): each active unit's kurtosis minus the 95th
    percentile of the random directions' kurtosis."""
    import scipy.stats

    library = importlib.import_module(scipy.stats.kurtosis.__module__)  # and scipy.stats, which re-exports it
    return compare_with_course(
        _tails_cases(model), my_kurtosis_beyond_random, kurtosis_beyond_random,
        {neuron_basis_module: ("kurtosis_beyond_random", "units_against_random_directions"),
         stats_module: ("kurtosis",), library: ("kurtosis",)},
        "your kurtosis gaps", rtol=1e-4, atol=1e-6,
        hint="Leave out the units whose standard deviation is at most 1e-6; the kurtosis of a column is the mean of its "
             "centred values to the 4th power over the square of their mean square (means over positions, no n - 1). "
             "Project the activations on the directions (activations @ directions), take the 95th percentile of their "
             "kurtosis (torch.quantile), and subtract it from every active unit's kurtosis.")


def _stream(sizes: list[int], channels: int, rows: int, cols: int, seed: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Seeded batches of maps (B, channels, rows, cols) of the given sizes, with source indices out of order."""
    generator = torch.Generator().manual_seed(seed)
    order = torch.randperm(sum(sizes), generator=generator) + 100
    starts = torch.tensor([0, *sizes]).cumsum(0).tolist()
    return [(order[start:start + size], torch.randn(size, channels, rows, cols, generator=generator))
            for start, size in zip(starts, sizes)]


def _example_cases() -> dict[str, list[tuple[list, int]]]:
    """Held-out streams: one batch where one image holds a unit's two highest values (an image counts once); five
    batches of different sizes with the strongest images early, late and in between; maps that are not square."""
    (indices, maps), = _stream([6], 3, 4, 4, seed=9)
    maps[2, 0, 1, 3], maps[2, 0, 3, 0], maps[4, 1, 0, 0] = 9.0, 8.5, 7.0  # image 2 peaks twice on unit 0
    return {
        "one batch in which an image holds a unit's two highest values": [([(indices, maps)], 3)],
        "five batches of different sizes, their source indices out of order": [
            (_stream([3, 1, 4, 2, 5], 6, 5, 5, seed=31), 4), (_stream([2, 2, 7], 4, 3, 3, seed=32), 2)],
        "maps that are not square (3 x 7 and 6 x 2)": [
            (_stream([4, 4], 3, 3, 7, seed=33), 2), (_stream([3, 5], 2, 6, 2, seed=34), 3)],
    }


def _examples_read(answer: object) -> torch.Tensor:
    """The student's (values (C, k), indices (C, k), positions (C, k, 2)) as one flat tensor, after checking shapes."""
    if not (isinstance(answer, (tuple, list)) and len(answer) == 3):
        raise ExerciseError("Return three tensors: values (C, k), image indices (C, k), positions (C, k, 2).")
    try:
        values, images, positions = (torch.as_tensor(part).detach().cpu().double() for part in answer)
    except (TypeError, ValueError, RuntimeError):
        raise ExerciseError("Return three tensors: values (C, k), image indices (C, k), positions (C, k, 2).") from None
    if values.dim() != 2 or images.shape != values.shape or positions.shape != (*values.shape, 2):
        raise ExerciseError(f"Your shapes {tuple(values.shape)}, {tuple(images.shape)}, {tuple(positions.shape)} do not "
                            "fit: values (C, k), image indices (C, k) and positions (C, k, 2), one row per unit.")
    return torch.cat([values.flatten(), images.flatten(), positions.flatten()])


@exercise(points=3)
def check_strongest_examples(my_strongest_examples: Callable) -> Grade:
    """Exercise 9: my_strongest_examples(batches, k): per unit the k images whose maximum is largest, kept batch by
    batch: values (C, k), source indices (C, k), (row, column) of each image's maximum (C, k, 2)."""
    def course(batches: list, count: int) -> torch.Tensor:
        return torch.cat([part.double().flatten() for part in strongest_examples(batches, count)])

    return compare_with_course(
        _example_cases(), my_strongest_examples, course, {scan_module: ("strongest_examples", "_merge_top")},
        "your values, image indices and positions", rtol=0, atol=1e-5, read=_examples_read,
        hint="For each image, each unit's maximum over all positions and where it is (row = flat index // width, "
             "column = flat index % width); an image counts once per unit. Join those candidates to the k kept so "
             "far and keep the k largest, strongest first, carrying each one's source index (from the batch's "
             "indices, not its place in the batch) and position along.")


def _chain_cases() -> dict[str, list[tuple[torch.Tensor, list, float]]]:
    """Held-out (images, steps, fill), two per part: single steps; chains whose order matters; chains like a render's."""
    generator = torch.Generator().manual_seed(1001)
    colour, grey, large = (torch.rand(shape, generator=generator) for shape in ((2, 3, 24, 24), (1, 1, 17, 17), (4, 3, 40, 40)))
    return {
        "one step: a shift of 2.5 px right and 1.5 px up (fill 0.5), a zoom out by 0.7 on an odd size (fill 0.2)": [
            (colour, [("shift", (2.5, -1.5))], 0.5), (grey, [("scale", 0.7)], 0.2)],
        "a rotation of 30 degrees, and a shift, a quarter turn, a shift and a zoom (fill 0)": [
            (grey, [("rotate", 30.0)], 0.5), (colour, [("shift", (3.0, 0.0)), ("rotate", 90.0), ("shift", (0.0, 2.0)), ("scale", 1.25)], 0.0)],
        "chains like a render's: jitter, scale, rotation, jitter on 4 colour images (fill 1), the same reversed": [
            (large, [("shift", (-4.0, 2.0)), ("scale", 1.05), ("rotate", -5.0), ("shift", (2.0, -2.0))], 1.0),
            (large[:1], [("shift", (2.0, -2.0)), ("rotate", -5.0), ("scale", 1.05), ("shift", (-4.0, 2.0))], 0.5)],
    }


@exercise(points=3)
def check_transform_chain(my_transform_chain: Callable) -> Grade:
    """Exercise 10: my_transform_chain(images, steps, fill): a fixed chain of shifts, zooms and rotations applied to
    a batch in one resampling, the picture outside the image filled with ``fill``."""
    return compare_with_course(
        _chain_cases(), my_transform_chain, transform_chain,
        {transforms_module: ("transform_chain", "Compose", "_resample_folded")},
        "your transformed images", rtol=0, atol=1e-4,
        hint="Fold the steps into one matrix and one offset, the first step first: a later step's shift is seen "
             "through the earlier steps' matrices. Offsets are in pixels, affine_grid (align_corners=False) measures "
             "in half image sides; outside the image must come out as fill, not 0. Resample once, not once per step.")
