"""Lesson 10's exercise 8: a weight edit as a context manager that restores the weights exactly, also on an error.

The check enters the student's ``with`` block with edits the lesson never makes (a hand-built network's kernels and
biases, a batch norm's buffers, blocks that raise, the active model's weights far from the curve layer) and compares the
logits inside and after it, whether the error came out, and whether every tensor came back, with the course's
:func:`~helpers.interventions.replaced_weights` (withheld while the student's function runs).
"""
from __future__ import annotations

import importlib
from typing import Callable

import numpy as np
import torch
from torch import nn

from ...interventions import logits_of
from ...models import CircuitModel
from ...wrapping import wrap_model
from .. import ExerciseError, Grade, call_answer, exercise, expect
from ..withheld import compare_with_course
from .hooks_and_measures import SIZE, hand_built_network, random_images


class _InsideTheBlock(Exception):
    """Raised by a check inside the student's ``with`` block: the weights must come back all the same."""


def _edit_trial(edit: Callable, net: CircuitModel, edits: dict, images: torch.Tensor, raising: bool) -> torch.Tensor:
    """Run ``edit(net, edits)`` as a ``with`` block: the logits inside, the logits after it, whether an error raised in
    the block came out of it (1 or 0), and whether every parameter and buffer is bitwise what it was (1 or 0)."""
    before = {name: tensor.detach().clone() for name, tensor in (*net.module.named_parameters(), *net.module.named_buffers())}
    manager = call_answer(edit, net, edits)
    expect(hasattr(manager, "__enter__") and hasattr(manager, "__exit__"),
           f"Your function should return a context manager (for a `with` block), not {type(manager).__name__}.",
           "Decorate a generator with @contextmanager (it yields once, between the edit and the restoring), or return "
           "an object with __enter__ and __exit__.")
    inside, came_out = None, 0.0
    try:
        with manager:
            inside = logits_of(net, images)
            if raising:
                raise _InsideTheBlock("raised inside the block by the check")
    except _InsideTheBlock:
        came_out = 1.0
    except ExerciseError:
        raise
    except Exception as error:  # the student's context manager failed on the way in or out
        raise ExerciseError(f"Your context manager raised {type(error).__name__}: {error}") from error
    expect(inside is not None, "The body of the `with` block never ran.")
    after = logits_of(net, images)
    current = dict((*net.module.named_parameters(), *net.module.named_buffers()))
    restored = all(torch.equal(current[name].detach(), value) for name, value in before.items())
    for name, value in before.items():  # a wrong answer must not leave the network changed for the next case
        with torch.no_grad():
            current[name].copy_(value)
    return torch.cat([inside.flatten(), after.flatten(), torch.tensor([came_out, float(restored)], device=inside.device)])


def normed_network() -> CircuitModel:
    """A small network with a batch norm (buffers: its running mean and variance): 3 -> 5 units, 3x3, BN, ReLU."""
    generator = torch.Generator().manual_seed(1020)
    conv, norm, head = nn.Conv2d(3, 5, 3, padding=1), nn.BatchNorm2d(5), nn.Linear(5, 4)
    with torch.no_grad():
        for tensor in (*conv.parameters(), *head.parameters(), norm.weight, norm.bias, norm.running_mean):
            tensor.copy_(torch.randn(tensor.shape, generator=generator))
        norm.running_var.copy_(torch.rand(5, generator=generator) + 0.5)
    module = nn.Sequential(conv, norm, nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), head).eval()
    return wrap_model(module, {"a": "2"}, name="hand_built_normed", input_size=SIZE)


def _model_edits(model: CircuitModel, seed: int) -> dict:
    """Edits of the active model's weights the lesson never makes: one output channel of two convolutions, far apart
    in depth, rewritten, and one entry of a batch norm's running mean or a bias (a buffer where the model has one)."""
    rng = np.random.default_rng(seed)
    generator = torch.Generator().manual_seed(seed)
    named = dict(model.module.named_parameters())
    convs = [name for name, tensor in named.items() if tensor.dim() == 4]
    edits: dict = {}
    for name in (convs[len(convs) // 10], convs[(3 * len(convs)) // 4]):
        channel = int(rng.integers(named[name].shape[0]))
        edits[name] = (channel, 0.5 * torch.randn(named[name].shape[1:], generator=generator))
    vectors = [name for name, tensor in dict(model.module.named_buffers()).items() if name.endswith("running_mean")]
    vectors = vectors or [name for name, tensor in named.items() if tensor.dim() == 1]
    name = vectors[len(vectors) // 2]
    edits[name] = ((slice(0, 3),), torch.tensor([2.0, -1.0, 0.5]))
    return edits


def _weight_edit_parts(model: CircuitModel) -> dict[str, list[tuple]]:
    """Held-out (network, edits, images, raise inside the block), by part."""
    small, normed = hand_built_network(), normed_network()
    return {
        "a hand-built network, one unit's kernel and bias rewritten": [
            (small, {"2.weight": (1, torch.full((4, 3, 3), 0.3)), "2.bias": (1, -0.5)}, random_images(small, 3, 80), False),
            (small, {"0.weight": ((slice(None), 0), torch.tensor([[0.0], [2.0], [-1.0], [1.0]])[..., None])},
             random_images(small, 2, 81), False),
        ],
        "a batch norm's buffers (its running mean and variance) and slices given as tuples": [
            (normed, {"1.running_mean": (slice(1, 3), torch.tensor([1.5, -2.0])), "1.running_var": (4, 0.05),
                      "0.weight": ((2, slice(None), 0), 0.7)}, random_images(normed, 3, 82), False),
        ],
        "a block that raises an error: the error comes out and the weights still come back": [
            (normed, {"1.weight": ([0, 3], torch.tensor([-1.0, 3.0])), "1.running_mean": (0, 4.0)}, random_images(normed, 2, 83),
             True),
            (small, {"2.weight": (0, torch.zeros(4, 3, 3)), "2.bias": (0, 2.0)}, random_images(small, 2, 84), True),
        ],
        f"{model.name}'s weights in layers this lesson does not study, and a running mean (or a bias)": [
            (model, _model_edits(model, 91), random_images(model, 2, 85), False),
            (model, _model_edits(model, 92), random_images(model, 1, 86), True),
        ],
    }


@exercise(points=4)
def check_weight_edit(my_replaced_weights: Callable, model: CircuitModel) -> Grade:
    """Exercise 8: my_replaced_weights(model, edits) returns a context manager that overwrites parameter (or buffer)
    slices inside its ``with`` block and restores them exactly on the way out, also when the block raises."""
    edits_module = importlib.import_module("helpers.interventions.edits")
    course = edits_module.replaced_weights
    hidden = {edits_module: ("replaced_weights",)}

    def yours(net: CircuitModel, edits: dict, images: torch.Tensor, raising: bool) -> torch.Tensor:
        expect(my_replaced_weights is not course and getattr(my_replaced_weights, "__wrapped__", None) is not course,
               "Your answer is the course's own replaced_weights; this exercise asks you to write it yourself.")
        return _edit_trial(my_replaced_weights, net, edits, images, raising)

    return compare_with_course(
        _weight_edit_parts(model), yours, lambda *case: _edit_trial(course, *case), hidden,
        "the logits inside and after your block, whether an error in it came out, and whether the weights came back",
        rtol=1e-5, atol=1e-5,
        hint="Look tensors up by name among model.module's named parameters AND buffers; copy each original slice's "
             "tensor (clone) before writing under torch.no_grad(); write them back in a `finally:` around the yield, "
             "so they come back also when the block raises, and do not catch the block's error.")
