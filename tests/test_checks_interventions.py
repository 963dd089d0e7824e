"""Lesson 10's exercise checks (helpers.checks.interventions): hooks written as the course does get full marks,
plausible wrong hooks lose points, the placeholder is "not attempted". A small random zoo network stands for
the active model."""
from __future__ import annotations

import pytest
import torch

from helpers.checks.interventions import check_ablation_hook, check_patch_hook, hand_built_network


@pytest.fixture(scope="module")
def model():
    return hand_built_network()


def ablation_hook(channels, values):
    def hook(_module, _inputs, output):
        output = output.clone()
        output[:, channels] = values.view(1, -1, 1, 1).to(output)
        return output
    return hook


def zeroing_hook(channels, values):
    def hook(_module, _inputs, output):
        output = output.clone()
        output[:, channels] = 0
        return output
    return hook


def no_return_hook(channels, values):
    def hook(_module, _inputs, output):
        output.clone()[:, channels] = values.view(1, -1, 1, 1)
    return hook


def patch_hook(source, channels):
    def hook(_module, _inputs, output):
        output = output.clone()
        output[:, channels] = source[:, channels].to(output)
        return output
    return hook


def whole_layer_patch(source, channels):
    return lambda _module, _inputs, output: source.expand_as(output).clone()


def test_the_course_method_gets_full_marks(strict: None, model) -> None:
    assert check_ablation_hook(ablation_hook, model)
    assert check_patch_hook(patch_hook, model)


@pytest.mark.parametrize("wrong", [zeroing_hook, no_return_hook, lambda channels, values: ablation_hook(channels[:1], values[:1])])
def test_wrong_ablations_lose_points(model, wrong) -> None:
    assert check_ablation_hook(wrong, model) < check_ablation_hook.points


@pytest.mark.parametrize("wrong", [whole_layer_patch, lambda source, channels: ablation_hook(channels, torch.zeros(len(channels)))])
def test_wrong_patches_lose_points(model, wrong) -> None:
    assert check_patch_hook(wrong, model) < check_patch_hook.points


def test_placeholder_is_not_attempted(exercise_probe, model) -> None:
    exercise_probe.not_attempted(lambda: check_ablation_hook(..., model), lambda: check_patch_hook(lambda *a: None, model))
