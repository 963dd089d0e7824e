"""Lesson 10's exercise 9: the mean a mean ablation holds units at, streamed over batches through a forward hook.

The check runs the student's function on networks, layers and batches the lesson never uses (constant-colour images on
a hand-built network whose means are worked out by hand, batches of unequal sizes after a ReLU and after a batch norm,
two layers of the active model far from the curve layer, and a batch that fails half-way) and compares the means with
the course's :func:`~helpers.interventions.layer_means` on the batches joined (withheld while the student's function
runs, with the lesson's :func:`~helpers.interventions.ablation_reference`), and whether an error came out and a hook
was left behind.
"""
from __future__ import annotations

import importlib
from typing import Callable

import torch

from ...layers import layer_at_depth
from ...models import CircuitModel
from .. import ExerciseError, Grade, NotAttempted, call_answer, exercise, expect
from ..withheld import compare_with_course
from .hooks_and_measures import SIZE, hand_built_network, random_images
from .weight_edit import normed_network


def _hooks(model: CircuitModel) -> dict[int, set]:
    """The forward hooks (and pre-hooks) on every module of the network, by module."""
    return {id(module): {*module._forward_hooks, *module._forward_pre_hooks} for module in model.module.modules()}


def _means_trial(function: Callable, model: CircuitModel, layer: str, batches: list[torch.Tensor], failing: bool,
                 student: bool) -> torch.Tensor:
    """The means ``function(model, layer, batches)`` returns (none when a batch is meant to fail), then whether an error
    came out (1 or 0) and how many hooks it left on the network (which are removed before the next case)."""
    before = _hooks(model)
    raised, means = 0.0, torch.zeros(0, dtype=torch.float64)
    try:
        answer = call_answer(function, model, layer, batches) if student else function(model, layer, batches)
        if not failing:
            means = torch.as_tensor(answer.detach().cpu() if isinstance(answer, torch.Tensor) else answer).double().flatten()
    except NotAttempted:
        raise
    except ExerciseError as error:
        if not (failing and isinstance(error.__cause__, (RuntimeError, ValueError))):
            raise  # the course's function withheld, or the student's code failed on a good batch
        raised = 1.0
    except (RuntimeError, ValueError):  # the course's function on the failing batch
        if not failing:
            raise
        raised = 1.0
    except (TypeError, AttributeError) as error:  # an answer that is not a tensor of numbers
        raise ExerciseError(f"Your function should return a tensor of means (C,), not {type(answer).__name__}.") from error
    left = 0
    for module in model.module.modules():  # a hook the answer forgot must not change the next case
        for hooks in (module._forward_hooks, module._forward_pre_hooks):
            for key in [key for key in hooks if key not in before.get(id(module), set())]:
                del hooks[key]
                left += 1
    return torch.cat([means, torch.tensor([raised, float(left)], dtype=torch.float64)])


def _colours(count: int, seed: int) -> torch.Tensor:
    """``count`` images each of one colour: on the hand-built network, unit a:i reads (i + 1) x colour i % 3 everywhere."""
    colours = torch.rand(count, 3, 1, 1, generator=torch.Generator().manual_seed(seed))
    return colours.expand(count, 3, SIZE, SIZE).clone()


def _means_parts(model: CircuitModel) -> dict[str, list[tuple]]:
    """Held-out (network, layer, batches, a batch fails), by part."""
    small, normed = hand_built_network(), normed_network()
    broken = torch.rand(2, 4, SIZE, SIZE)  # four colour channels: the network refuses this batch
    early, late = layer_at_depth(model, 0.1), layer_at_depth(model, 0.9)
    return {
        "constant-colour images on a hand-built network, whose means are worked out by hand": [
            (small, "a", [_colours(3, 70), _colours(1, 71)], False),
            (small, "a", [_colours(1, 72), _colours(2, 73), _colours(4, 74)], False),
        ],
        "batches of unequal sizes, after a ReLU and after a batch norm (a mean of batch means is not the mean)": [
            (small, "b", [random_images(small, 1, 75), random_images(small, 5, 76)], False),
            (normed, "a", [random_images(normed, 4, 77), random_images(normed, 1, 78), random_images(normed, 2, 79)], False),
        ],
        f"{model.name}: two layers far from the curve layer ({early}, {late}), batches of 1 and 2 images": [
            (model, early, [random_images(model, 1, 87), random_images(model, 2, 88)], False),
            (model, late, [random_images(model, 2, 89), random_images(model, 1, 90)], False),
        ],
        "no hook left behind, also when a batch fails half-way (and the error comes out)": [
            (small, "b", [random_images(small, 2, 93)], False),
            (normed, "a", [random_images(normed, 2, 94), broken], True),
        ],
    }


@exercise(points=4)
def check_layer_means(my_layer_means: Callable, model: CircuitModel) -> Grade:
    """Exercise 9: my_layer_means(model, layer, batches) streams each unit's mean activation over every image and
    position of the batches through a forward hook that it always removes."""
    edits = importlib.import_module("helpers.interventions.edits")
    experiments = importlib.import_module("helpers.interventions.experiments")
    layer_means = edits.layer_means
    hidden = {edits: ("layer_means",), experiments: ("ablation_reference",)}

    def course(net: CircuitModel, layer: str, batches: list[torch.Tensor]) -> torch.Tensor:
        return layer_means(net, layer, torch.cat(batches))  # a batch the network refuses cannot be joined either

    def yours(net: CircuitModel, layer: str, batches: list[torch.Tensor], failing: bool) -> torch.Tensor:
        expect(all(my_layer_means is not f and getattr(my_layer_means, "__wrapped__", None) is not f
                   for f in (layer_means, experiments.ablation_reference)),
               "Your answer is one of the course's own functions; this exercise asks you to write it yourself.")
        return _means_trial(my_layer_means, net, layer, batches, failing, student=True)

    return compare_with_course(
        _means_parts(model), yours, lambda *case: _means_trial(course, *case, student=False), hidden,
        "your means (one per unit), then whether the failing batch's error came out and how many hooks were left",
        rtol=1e-4, atol=1e-5,
        hint="Register a forward hook on model.module.get_submodule(model.layer(layer).module_path) that adds up each "
             "batch's per-channel sum and counts images x positions; run model(batch) for every batch; divide at the "
             "end (not a mean of batch means); remove the hook in a `finally:`.")
