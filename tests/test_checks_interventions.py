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


def prediction_change(intact: torch.Tensor, changed: torch.Tensor) -> tuple[float, float]:
    """The course's measure as a student writes it: KL(intact || changed) from log-probabilities, top-1 agreement."""
    log_p, log_q = intact.log_softmax(-1), changed.log_softmax(-1)
    return float((log_p.exp() * (log_p - log_q)).sum(-1).mean()), float((intact.argmax(-1) == changed.argmax(-1)).float().mean())


def test_prediction_change_check(exercise_probe) -> None:
    from helpers.checks.interventions import check_prediction_change

    assert check_prediction_change(prediction_change)

    def from_probabilities(intact, changed):  # softmax, then log: 0 * log 0 is NaN for confident predictions
        p, q = intact.softmax(-1), changed.softmax(-1)
        return float((p * (p.log() - q.log())).sum(-1).mean()), prediction_change(intact, changed)[1]

    def course(intact, changed):  # looked up in the package, as lesson 10 does
        import helpers.interventions

        result = helpers.interventions.prediction_change(intact, changed)
        return result.kl, result.agreement

    wrong = [from_probabilities, course,
             lambda intact, changed: prediction_change(changed, intact),  # KL the other way round
             lambda intact, changed: (prediction_change(intact, changed)[0], 1 - prediction_change(intact, changed)[1]),
             lambda intact, changed: (0.0, 1.0)]  # "nothing changed"
    for answer in wrong:
        exercise_probe.rejected(check_prediction_change, answer)
    exercise_probe.not_attempted(lambda: check_prediction_change(...), lambda: check_prediction_change(lambda p, q: None))


def student_attribution(path, inputs, channel, positions, *, own_positions=True, times_input=True):
    """Activation times gradient as a student writes it; the keywords make its near misses."""
    inputs = inputs.detach()
    copy = inputs.clone().requires_grad_(True)
    out = path(copy)
    picked = [out[n, channel, row, col] for n, (row, col) in enumerate(positions if own_positions else positions[:1] * len(positions))]
    torch.stack(picked).sum().backward()
    return inputs * copy.grad if times_input else copy.grad


def test_attribution_check(exercise_probe, model) -> None:
    from helpers.checks.interventions import check_attribution
    from helpers.interventions import attribution

    assert check_attribution(student_attribution, model) == 3

    def whole_map(path, inputs, channel, positions):  # the gradient of the unit summed over every position
        copy = inputs.detach().clone().requires_grad_(True)
        path(copy)[:, channel].sum().backward()
        return inputs * copy.grad

    def course_attribution(path, inputs, channel, positions):  # the course's helper, reached through its module
        import helpers.interventions.attribution as module

        return module.input_times_gradient(path, inputs, channel, positions)

    wrong = [lambda *a: student_attribution(*a, own_positions=False),  # the first image's position for every image
             lambda *a: student_attribution(*a, times_input=False),  # the gradient alone (the expanded weight)
             whole_map, course_attribution, attribution]
    for answer in wrong:
        exercise_probe.rejected(check_attribution, answer, model)
    exercise_probe.not_attempted(lambda: check_attribution(..., model), lambda: check_attribution(lambda *a: None, model))
