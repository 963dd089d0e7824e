"""Self-checks for lesson 01's exercises, "Features are the fundamental unit".

Each check recomputes the right answer from the student's own scan and model, so typed-in numbers, the
answer for another unit and the near misses a student is likely to make all fail, with a hint that does
not give the answer away.
"""
from __future__ import annotations

import math

import torch

from ..dataset_examples import DatasetExamples
from ..models import CircuitModel
from . import exercise, expect, passed


def _number(answer: object) -> float:
    expect(isinstance(answer, (int, float)) and not isinstance(answer, bool)
           or (isinstance(answer, torch.Tensor) and answer.numel() == 1),
           f"Answer with one number, not {type(answer).__name__}.")
    value = float(answer)  # type: ignore[arg-type]
    expect(math.isfinite(value), f"Your answer is {value}; it should be a finite number.")
    return value


def _close(a: float, b: float) -> bool:
    return abs(a - b) <= 1e-3 * max(1.0, abs(b))


@exercise
def check_top_in_standard_deviations(examples: DatasetExamples, channel: int, answer: float) -> bool:
    """Exercise 1: how many standard deviations above its mean activation is the unit's top example?"""
    value = _number(answer)
    stats = examples.summary(channel)
    expected = (stats["top_value"] - stats["mean"]) / stats["std"]
    if not _close(value, expected):
        expect(not _close(value, stats["top_value"] / stats["std"]),
               "You divided the top value by the standard deviation but forgot to subtract the mean first.")
        expect(not _close(value, stats["top_value"] - stats["mean"]),
               "You subtracted the mean but did not divide by the standard deviation.")
        expect(not _close(value, (stats["top_value"] - stats["mean"]) / stats["std"] ** 2),
               "You divided by the variance; divide by the standard deviation instead.")
        expect(False, f"{value:.3f} is not how far this unit's top example lies above its mean, in standard deviations.",
               "Compute it from the scan of this unit: (examples.top_values(channel)[0] - examples.mean[channel]) "
               "divided by examples.std[channel]; check that you used the right channel.")
    return passed(f"The top example is {expected:.1f} standard deviations above the mean: a rare, strong response "
                  "(4 standard deviations happen once in about 30,000 Gaussian draws).")


@exercise
def check_mix_vector(model: CircuitModel, layer: str, first: int, second: int, vector: torch.Tensor) -> bool:
    """Exercise 2: a channel-space vector of ``layer`` with weight 1 on ``first``, 0.5 on ``second``, 0 elsewhere."""
    expect(isinstance(vector, torch.Tensor), f"Give the vector as a torch tensor, not {type(vector).__name__}.",
           "Start from torch.zeros(model.channels(layer)).")
    vector = vector.detach().float().flatten()
    channels = model.channels(layer)
    expect(vector.numel() == channels, f"Your vector has {vector.numel()} entries; layer {layer!r} has {channels} channels.",
           "Start from torch.zeros(model.channels(layer)).")
    others = vector.clone()
    others[[first, second]] = 0
    expect(bool(others.abs().max() == 0), f"{int((others != 0).sum())} entries other than the two neurons are non-zero.",
           "Only the two neurons' entries should carry a weight.")
    a, b = float(vector[first]), float(vector[second])
    expect(a > 0 and b > 0, "Both neurons need a positive weight.")
    expect(not math.isclose(a, b, rel_tol=1e-6), "The two weights are equal: that is the even mix shown above, not this one.")
    expect(not math.isclose(a, 2 * b, rel_tol=1e-6) or math.isclose(a, 1.0, rel_tol=1e-6),
           "The ratio is right but the weights are scaled: give the first neuron exactly weight 1.")
    expect(math.isclose(a, 1.0, rel_tol=1e-6) and math.isclose(b, 0.5, rel_tol=1e-6),
           "The weights are not the ones asked for: is the larger weight on `first`, and the smaller on `second`?")
    return passed("A direction that is neither neuron: its visualization shows what the two have in common, and more.")


@exercise
def check_receptive_patch(examples: DatasetExamples, channel: int, patch: torch.Tensor) -> bool:
    """Exercise 3: crop the unit's best image to the receptive field of the position where it fires most."""
    expect(isinstance(patch, torch.Tensor) and patch.dim() == 3 and patch.shape[0] == 3,
           "Give the patch as a (3, height, width) tensor.")
    expected = examples.top_patches(channel, 1)[0]
    expect(tuple(patch.shape) == tuple(expected.shape),
           f"Your patch is {tuple(patch.shape[1:])} pixels, not the size of this layer's receptive field.",
           "Take the box from examples.patch_box(row, col) at examples.top_positions(channel)[0].")
    expect(torch.allclose(patch.float(), expected, atol=1e-6),
           "The patch has the right size but not the right pixels: is it the top image (examples.top_indices(channel)[0]) "
           "cut at the top position's box, padded with 0.5 outside the image?",
           "helpers.dataset_examples.crop_box(image, box) cuts and pads.")
    return passed("That is the patch the unit sees when it fires most: nothing outside it can change the activation.")
