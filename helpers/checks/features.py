"""Self-checks for lesson 01's exercises, "Features are the fundamental unit"."""
from __future__ import annotations

import math

import torch

from ..dataset_examples import DatasetExamples
from ..models import CircuitModel
from . import expect, passed


def check_top_in_standard_deviations(examples: DatasetExamples, channel: int, answer: float) -> bool:
    """Exercise 1: how many standard deviations above its mean activation is the unit's top example?"""
    expect(isinstance(answer, (int, float)) or (isinstance(answer, torch.Tensor) and answer.numel() == 1),
           f"Answer with one number, not {type(answer).__name__}.")
    answer = float(answer)
    stats = examples.summary(channel)
    expected = (stats["top_value"] - stats["mean"]) / stats["std"]
    expect(math.isfinite(answer), f"Your answer is {answer}; it should be a finite number.")
    expect(abs(answer - stats["top_value"] / stats["std"]) > 1e-6 or abs(stats["mean"]) < 1e-9,
           "You divided the top value by the standard deviation but forgot to subtract the mean first.")
    expect(abs(answer - (stats["top_value"] - stats["mean"])) > 1e-6 or abs(stats["std"] - 1) < 1e-9,
           "You subtracted the mean but did not divide by the standard deviation.")
    expect(abs(answer - expected) <= 1e-3 * max(1.0, abs(expected)),
           f"Your answer is {answer:.3f}; the unit's top example lies {expected:.3f} standard deviations above its mean.",
           "Use examples.top_values(channel)[0], examples.mean[channel] and examples.std[channel].")
    return passed(f"The top example is {expected:.1f} standard deviations above the mean: a rare, strong response.")


def check_mix_vector(model: CircuitModel, layer: str, first: int, second: int, vector: torch.Tensor) -> bool:
    """Exercise 2: a channel-space vector that mixes exactly two neurons of ``layer`` with positive weights."""
    vector = torch.as_tensor(vector, dtype=torch.float32).flatten()
    channels = model.channels(layer)
    expect(vector.numel() == channels, f"Your vector has {vector.numel()} entries; layer {layer!r} has {channels} channels.",
           "Start from torch.zeros(model.channels(layer)).")
    expect(bool(vector[first] > 0) and bool(vector[second] > 0),
           f"Both neurons need a positive weight: yours are {float(vector[first]):.3g} (unit {first}) and "
           f"{float(vector[second]):.3g} (unit {second}).")
    others = vector.clone()
    others[[first, second]] = 0
    expect(bool(others.abs().max() == 0), f"Only units {first} and {second} should have a weight; "
           f"{int((others != 0).sum())} other entries are non-zero.")
    return passed("A direction that is neither neuron: its visualization shows what the two have in common, and more.")


def check_receptive_patch(examples: DatasetExamples, channel: int, patch: torch.Tensor) -> bool:
    """Exercise 3: crop the unit's best image to the receptive field of the position where it fires most."""
    expect(isinstance(patch, torch.Tensor) and patch.dim() == 3 and patch.shape[0] == 3,
           "Give the patch as a (3, height, width) tensor.")
    expected = examples.top_patches(channel, 1)[0]
    expect(tuple(patch.shape) == tuple(expected.shape),
           f"Your patch is {tuple(patch.shape[1:])} pixels; the receptive field is {tuple(expected.shape[1:])}.",
           "Take the box from examples.patch_box(row, col) at examples.top_positions(channel)[0].")
    expect(torch.allclose(patch, expected, atol=1e-6),
           "The patch has the right size but not the right pixels: is it the top image (examples.top_indices(channel)[0]) "
           "cut at the top position's box, padded with 0.5 outside the image?",
           "helpers.dataset_examples.crop_box(image, box) cuts and pads.")
    return passed("That is the patch the unit sees when it fires most: nothing outside it can change the activation.")
