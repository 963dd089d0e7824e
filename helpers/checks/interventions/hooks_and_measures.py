"""Lesson 10's exercises 1-7: an ablation and a patch, each written as a forward hook, the change in the network's
predictions, an attribution (activation times gradient), how much of a unit's attribution falls on chosen inputs (its
concentration), and how much an intervention changed a group of units' evoked responses.

Each hook check registers the student's hook on layers the notebook never uses (a small hand-built network
whose answer is known, and other layers and units of the active model), runs the network and compares
its logits with the course's own ``with``-block interventions (:func:`~helpers.interventions.ablated`,
:func:`~helpers.interventions.patched`). Every tensor is made on the model's device.
"""
from __future__ import annotations

import importlib
from typing import Callable, Sequence

import numpy as np
import torch
from torch import nn

from ... import interventions
from ...activations import capture
from ...images import offline_patches
from ...interventions import ablated, experiments, logits_of, patched
from ...interventions.attribution import attribution, concentration, input_times_gradient
from ...layers import layer_at_depth, previous_layer
from ...models import CircuitModel
from ...weights import linearized_forward
from ...wrapping import wrap_model
from .. import ExerciseError, Grade, call_answer, exercise, expect, expect_close
from ..withheld import answer_without, compare_with_course

SIZE = 8


def hand_built_network() -> CircuitModel:
    """a (3 -> 4 units, 1x1, ReLU) and b (4 -> 2 units, 3x3, ReLU), then a linear classifier: a:i copies colour i % 3."""
    first, second = nn.Conv2d(3, 4, 1, bias=False), nn.Conv2d(4, 2, 3, padding=1)
    head = nn.Linear(2, 3)
    with torch.no_grad():
        first.weight.zero_()
        for i in range(4):
            first.weight[i, i % 3] = i + 1
        second.weight.copy_(torch.linspace(-1, 1, second.weight.numel()).reshape(second.weight.shape))
        second.bias.copy_(torch.tensor([0.5, -0.25]))
        head.weight.copy_(torch.tensor([[1.0, -1.0], [0.5, 2.0], [-1.0, 0.25]]))
        head.bias.zero_()
    module = nn.Sequential(first, nn.ReLU(), second, nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), head).eval()
    return wrap_model(module, {"a": "1", "b": "3"}, name="hand_built", input_size=SIZE)


def random_images(model: CircuitModel, count: int, seed: int) -> torch.Tensor:
    size = model.input_size
    return torch.rand(count, 3, size, size, generator=torch.Generator().manual_seed(seed)).to(model.device)


def _layer_module(model: CircuitModel, layer: str) -> nn.Module:
    return model.module.get_submodule(model.layer(layer).module_path)


def _with_hook(model: CircuitModel, layer: str, hook: object, images: torch.Tensor) -> torch.Tensor:
    expect(callable(hook), f"Your function should return a hook (a function), not {type(hook).__name__}.",
           "Define `def hook(module, inputs, output): ...` inside your function and return it.")
    handle = _layer_module(model, layer).register_forward_hook(hook)
    try:
        return logits_of(model, images)
    except Exception as error:  # the student's hook failed inside the forward pass
        expect(False, f"Running the network with your hook raised {type(error).__name__}: {error}")
    finally:
        handle.remove()


def _held_out_units(model: CircuitModel, depth: float, count: int, seed: int) -> tuple[str, list[int]]:
    layer = layer_at_depth(model, depth)
    channels = np.random.default_rng(seed).choice(model.channels(layer), size=min(count, model.channels(layer)), replace=False)
    return layer, sorted(int(c) for c in channels)


@exercise(points=3)
def check_ablation_hook(my_ablation_hook: Callable, model: CircuitModel) -> Grade:
    """Exercise 1: my_ablation_hook(channels, values) returns a forward hook that holds those channels of a layer at values."""
    grade = Grade()
    hint = ("The hook gets (module, inputs, output): return a copy of output whose channels (dimension 1) hold "
            "values, one per channel, the same at every image and position.")
    small = hand_built_network()
    cases: list[tuple[str, CircuitModel, str, list[int], str]] = [
        ("a hand-built network, two units zeroed", small, "a", [1, 3], "zero"),
        ("a hand-built network, one unit held at a value", small, "b", [0], "mean"),
    ]
    for depth, seed, mode in ((0.2, 1, "zero"), (0.6, 2, "mean")):
        layer, channels = _held_out_units(model, depth, 5, seed)
        cases.append((f"{model.name}'s {layer}, five units {'zeroed' if mode == 'zero' else 'held at values'}",
                      model, layer, channels, mode))
    for index, (name, net, layer, channels, mode) in enumerate(cases):
        with grade.part(name):
            images = random_images(net, 4, seed=40 + index)
            values = (torch.zeros(len(channels)) if mode == "zero" else
                      torch.rand(len(channels), generator=torch.Generator().manual_seed(50 + index)) + 0.5).to(net.device)
            means = torch.zeros(net.channels(layer), device=net.device)
            means[channels] = values
            with ablated(net, net.units(layer, channels), mode=mode, means=means if mode == "mean" else None):
                reference = logits_of(net, images)
            hook = call_answer(my_ablation_hook, list(channels), values.clone())
            expect_close(_with_hook(net, layer, hook, images), reference, "the logits with your hook", rtol=1e-4, atol=1e-5,
                         hint=hint)
    return grade


@exercise(points=2)
def check_patch_hook(my_patch_hook: Callable, model: CircuitModel) -> Grade:
    """Exercise 2: my_patch_hook(source_activation, channels) returns a forward hook that puts the source's activation in those channels."""
    grade = Grade()
    hint = ("Return a copy of output whose channels hold source_activation's same channels (dimension 1); one source "
            "image broadcasts over the whole batch.")
    small = hand_built_network()
    cases: list[tuple[str, CircuitModel, str, Sequence[int], int]] = [
        ("a hand-built network, two units patched image by image", small, "a", [0, 2], 3),
        ("a hand-built network, one source image for the whole batch", small, "b", [1], 1),
    ]
    layer, channels = _held_out_units(model, 0.4, 6, seed=3)
    cases.append((f"{model.name}'s {layer}, six units patched", model, layer, channels, 3))
    for index, (name, net, layer, channels, sources) in enumerate(cases):
        with grade.part(name):
            images, source = random_images(net, 3, seed=60 + index), random_images(net, sources, seed=70 + index)
            with patched(net, layer, source, list(channels)):
                reference = logits_of(net, images)
            with torch.inference_mode():
                activation = capture(net, source, layer)[layer].clone()
            hook = call_answer(my_patch_hook, activation, list(channels))
            expect_close(_with_hook(net, layer, hook, images), reference, "the logits with your hook", rtol=1e-4, atol=1e-5,
                         hint=hint)
    return grade


def hand_built_logits() -> tuple[torch.Tensor, torch.Tensor]:
    """Three images of three classes whose KL is known by hand (logits = log-probabilities plus a constant per image).

    Image 1: p = (1/2, 1/4, 1/4), q = (1/8, 1/2, 3/8), the top class moves; image 2: p = q = (0.1, 0.6, 0.3); image 3:
    p = (1/4, 1/4, 1/2), q = (1/8, 3/8, 1/2), the top class stays. Two of three keep their top class.
    """
    p = torch.tensor([[1 / 2, 1 / 4, 1 / 4], [0.1, 0.6, 0.3], [1 / 4, 1 / 4, 1 / 2]])
    q = torch.tensor([[1 / 8, 1 / 2, 3 / 8], [0.1, 0.6, 0.3], [1 / 8, 3 / 8, 1 / 2]])
    return p.log() + torch.tensor([[2.0], [-1.0], [0.5]]), q.log() + torch.tensor([[-3.0], [0.25], [1.0]])


def _model_logits(model: CircuitModel, depth: float, seed: int, count: int = 8) -> tuple[torch.Tensor, torch.Tensor]:
    """The active model's logits on photographs the lesson never shows, intact and with a quarter of a layer zeroed."""
    layer, channels = _held_out_units(model, depth, max(1, model.channels(layer_at_depth(model, depth)) // 4), seed)
    images = torch.cat(list(offline_patches(count=count, size=model.input_size, seed=seed)))
    intact = logits_of(model, images)
    with ablated(model, model.units(layer, channels)):
        return intact, logits_of(model, images)


def _logit_parts(model: CircuitModel) -> dict[str, list[tuple[torch.Tensor, torch.Tensor]]]:
    """Held-out (intact, changed) logits, by part: random logits, no change in the softmax, confident predictions,
    a hand-built pair, and the active model's logits with units ablated."""
    generator = torch.Generator().manual_seed(1010)
    small = 3 * torch.randn(12, 10, generator=generator)
    flips = 2 * torch.randn(20, 7, generator=generator)
    many = 4 * torch.randn(5, 1000, generator=generator)
    same = torch.randn(9, 6, generator=generator)
    shift = 50 * torch.randn(9, 1, generator=generator)
    mixed = torch.randn(10, 4, generator=generator)
    confident = 100 * torch.randn(8, 5, generator=generator)
    unchanged = torch.randn(6, 5, generator=generator)
    return {
        "random logits of other sizes, classes and seeds, with changes that flip some top classes": [
            (small, small + torch.randn(12, 10, generator=generator)),
            (flips, torch.randn(20, 7, generator=generator)),
            (many, many + 3 * torch.randn(5, 1000, generator=generator)),
        ],
        "an unchanged copy, and logits shifted by a constant per image (the same softmax), beside changed images": [
            (same, same.clone()),
            (same, same + shift),
            (mixed, torch.cat([mixed[:4] + shift[:4], mixed[4:].flip(-1)])),
        ],
        "confident predictions (logits in the hundreds) beside images the change leaves alone": [
            (torch.cat([confident, unchanged]), torch.cat([confident[:, torch.randperm(5, generator=generator)], unchanged])),
        ],
        "a hand-built pair whose KL is known": [hand_built_logits()],
        f"{model.name}'s logits on photographs, with units of two layers zeroed": [
            _model_logits(model, 0.3, seed=21), _model_logits(model, 0.75, seed=22),
        ],
    }


@exercise(points=5)
def check_prediction_change(my_prediction_change: Callable, model: CircuitModel) -> Grade:
    """Exercise 4: mean KL(intact || changed) of the class distributions (nats), and the share of unchanged top-1 classes."""
    grade = Grade()
    hint = ("Work with log-probabilities (log_softmax): KL(p || q) = sum over classes of p (log p - log q) in nats, with p "
            "the intact network's; then the mean over images. Agreement is the share of images whose argmax is the same.")
    hidden = {experiments: ("prediction_change", "ablation_prediction_change")}
    for name, cases in _logit_parts(model).items():
        with grade.part(name):
            for intact, changed in cases:
                expected = experiments.prediction_change(intact, changed)
                answer = answer_without(hidden, my_prediction_change, intact, changed)
                expect(isinstance(answer, (tuple, list)) and len(answer) == 2,
                       f"Your function should return two numbers, (kl, agreement); it returned {type(answer).__name__}.")
                expect_close(answer[0], expected.kl, "KL divergence", rtol=1e-3, atol=1e-5, hint=hint)
                expect_close(answer[1], expected.agreement, "top-1 agreement", rtol=0, atol=1e-6, hint=hint)
    return grade


def _attribution_cases(model: CircuitModel) -> dict[str, tuple[Callable, torch.Tensor, int, list[tuple[int, int]]]]:
    """Held-out (path, inputs, channel, positions): small linear paths with biases and strides, and a unit of the
    active model seen through its linearized path from the layer before."""
    generator = torch.Generator().manual_seed(1011)
    conv = nn.Conv2d(4, 3, 3, padding=1)
    strided = nn.Sequential(nn.Conv2d(3, 2, 3, stride=2, padding=1), nn.AvgPool2d(2))
    for module in (conv, strided):
        for parameter in module.parameters():
            parameter.data.copy_(torch.randn(parameter.shape, generator=generator))
    layer = layer_at_depth(model, 0.7)
    source = previous_layer(model, layer)
    size = model.input_size
    images = torch.rand(2, 3, size, size, generator=generator).to(model.device)
    with torch.inference_mode():
        maps = capture(model, images, [source, layer])
    inputs, output = maps[source].clone(), maps[layer]
    channel = int(torch.randint(model.channels(layer), (1,), generator=generator))
    where = output[:, channel].flatten(1).argmax(1)
    width = output.shape[-1]
    return {
        "a 3x3 convolution with a bias, a unit in the corner of one image and inside the other": (
            conv, torch.rand(2, 4, 6, 6, generator=generator), 1, [(0, 0), (3, 4)]),
        "a strided convolution and an average pool, three images": (
            strided, torch.rand(3, 3, 12, 12, generator=generator), 0, [(1, 2), (0, 0), (2, 1)]),
        f"{model.name}'s {layer}:{channel} from {source}, at its strongest position in two images": (
            lambda x: linearized_forward(model, source, layer, x, size), inputs, channel,
            [(int(i) // width, int(i) % width) for i in where]),
    }


@exercise(points=3)
def check_attribution(my_attribution: Callable, model: CircuitModel) -> Grade:
    """Exercise 5: my_attribution(path, inputs, channel, positions): each input's activation times the gradient of one
    output unit at one position per image."""
    attribution_module = importlib.import_module("helpers.interventions.attribution")
    hidden = {attribution_module: ("input_times_gradient", "attribution"), interventions: ("attribution",)}
    parts = {name: [case] for name, case in _attribution_cases(model).items()}
    return compare_with_course(
        parts, my_attribution, input_times_gradient, hidden, "your attribution maps", rtol=1e-4, atol=1e-6,
        hint="Make a copy of inputs that requires a gradient, run path on it, pick out[n, channel, row_n, col_n] for "
             "every image n at ITS position, backward their sum, and multiply the gradient by the inputs.")


def _hand_built_maps() -> list[torch.Tensor]:
    """Two units whose concentration on input 0 (of 4) is worked out by hand, each input spread over a 2x2 map.

    Unit 1, image 1: input totals (3, 1, -2, 0), input 0 is +4 at one position and -1 at another: share 3/4;
    image 2: totals (0, 2, 2, -5): share 0; mean 3/8, over chance 1/4: 1.5. Unit 2, one image, totals (1, 1, 1, 1):
    share 1/4, concentration 1.0.
    """
    first = torch.zeros(2, 4, 2, 2)
    first[0, 0, 0, 0], first[0, 0, 1, 1] = 4.0, -1.0
    first[0, 1, 0, 1], first[0, 2, 1, 0] = 1.0, -2.0
    first[1, 1, 0, 0], first[1, 2] = 2.0, 0.5
    first[1, 3, 1, 1] = -5.0
    second = torch.full((1, 4, 2, 2), 0.25)
    return [first, second]


def _random_maps(generator: torch.Generator, counts: Sequence[int], inputs: int, size: int, scale: float = 1.0,
                 offset: float = 0.0) -> list[torch.Tensor]:
    return [scale * torch.randn(count, inputs, size, size, generator=generator) + offset for count in counts]


def _model_maps(model: CircuitModel, depth: float, seed: int) -> tuple[list[torch.Tensor], list[int]]:
    """The active model's attribution maps of two units of a layer this lesson does not study, on photographs it never
    shows (each read where it fires most), and a third of the layer before's channels."""
    layer = layer_at_depth(model, depth)
    source = previous_layer(model, layer)
    rng = np.random.default_rng(seed)
    images = torch.cat(list(offline_patches(count=2, size=model.input_size, seed=seed)))
    units = model.units(layer, rng.choice(model.channels(layer), size=2, replace=False))
    channels = sorted(int(c) for c in rng.choice(model.channels(source), size=max(1, model.channels(source) // 3),
                                                  replace=False))
    return [attribution(model, unit, images).maps for unit in units], channels


def _concentration_parts(model: CircuitModel) -> dict[str, list[tuple[list[torch.Tensor], list[int]]]]:
    """Held-out (maps per unit, channels), by part."""
    generator = torch.Generator().manual_seed(1012)
    # an input that carries the unit in one place and works against it in another: its positions must be summed first
    cancelling = torch.randn(3, 6, 3, 3, generator=generator).abs()
    cancelling[:, :, 0] *= -1.5
    silent = torch.randn(3, 5, 2, 2, generator=generator)
    silent[1] = -silent[1].abs()  # an image where no input carries anything positive
    return {
        "hand-built maps whose concentration is worked out by hand": [(_hand_built_maps(), [0])],
        "random maps of other sizes, numbers of units and images, and inputs, with negative contributions": [
            (_random_maps(generator, [2, 3, 1], 16, 3), [1, 5, 9]),
            (_random_maps(generator, [4, 4], 40, 2, scale=2.0, offset=0.3), list(range(0, 40, 4))),
        ],
        "inputs positive at some positions and negative at others, and an image where nothing is positive": [
            ([cancelling, cancelling.flip(1)], [0, 2]),
            ([silent, silent[:2].clone()], [3]),
        ],
        f"{model.name}'s attribution maps of two units of a layer this lesson does not study": [
            _model_maps(model, 0.55, seed=31),
        ],
    }


@exercise(points=4)
def check_concentration(my_concentration: Callable, model: CircuitModel) -> Grade:
    """Exercise 6: my_concentration(maps_per_unit, channels): per unit, the mean over its images of the share of its
    positive attribution carried by ``channels``, over their share of the input layer."""
    attribution_module = importlib.import_module("helpers.interventions.attribution")
    hidden = {attribution_module: ("concentration", "positive_share", "attribution_concentration")}
    return compare_with_course(
        _concentration_parts(model), my_concentration, concentration, hidden, "your concentrations", rtol=1e-4,
        atol=1e-6,
        hint="For each unit: sum each input's map over positions, keep the positive totals, and per image take the "
             "share of their sum that falls on `channels` (0 when nothing is positive); average over the unit's "
             "images and divide by len(channels) / (number of inputs).")


def hand_built_responses() -> tuple[np.ndarray, np.ndarray]:
    """Two units, two stimuli and the blank image, worked out by hand.

    Unit 1: evoked intact (3, 4) (norm 5), changed (3, -1): its change (0, -5) is as large as its response, 1.0.
    Unit 2: evoked intact (1, 0), changed (0.5, 0): 0.5. Mean over the units: 0.75.
    """
    intact = np.array([[4.0, 2.0], [5.0, 1.0], [1.0, 1.0]])  # blank row (1, 1): evoked (3, 1) and (4, 0)
    changed = np.array([[4.0, 1.5], [0.0, 1.0], [1.0, 1.0]])  # evoked (3, 0.5) and (-1, 0)
    return intact, changed


def _response_parts() -> dict[str, list[tuple[np.ndarray, np.ndarray]]]:
    """Held-out (intact, changed) responses, by part: rows are stimuli, the blank image last; columns are units."""
    rng = np.random.default_rng(1017)

    def pair(stimuli: int, units: int, blank: float, change: float) -> tuple[np.ndarray, np.ndarray]:
        intact = rng.normal(size=(stimuli + 1, units))
        intact[-1] += blank
        return intact, intact + change * rng.normal(size=intact.shape)

    silent_intact, silent_changed = pair(6, 4, 0.0, 0.3)
    silent_intact[:, 1] = silent_intact[-1, 1]  # unit 1 answers every stimulus as it answers the blank image
    silent_changed[:, 1] += 0.2 * rng.normal(size=len(silent_changed))
    scales = np.array([0.05, 1.0, 30.0])
    sized_intact = rng.normal(size=(9, 3)) * scales
    sized_changed = sized_intact + rng.normal(size=(9, 3)) * scales[::-1] * 0.1
    return {
        "hand-built responses whose change is worked out by hand": [hand_built_responses()],
        "random responses of other numbers of stimuli, units and seeds, the blank image's response far from 0": [
            pair(5, 3, 2.5, 0.4), pair(12, 7, -1.5, 0.1), pair(3, 1, 4.0, 1.0),
        ],
        "a unit the stimuli leave unmoved (its evoked response 0) beside units that respond": [
            (silent_intact, silent_changed),
        ],
        "units whose responses differ a thousandfold in size, each changed by its own share": [
            (sized_intact, sized_changed), (sized_intact[:, ::-1].copy(), sized_changed.copy()),
        ],
    }


def _one_number(answer: object) -> float:
    """The student's answer as one float; anything else (a dict, an array of several numbers) is a wrong answer."""
    try:
        value = np.asarray(answer, dtype=float)
    except (TypeError, ValueError):
        value = None
    if value is None or value.ndim != 0:
        raise ExerciseError(f"my_response_change should return one number (a float), not {type(answer).__name__}.")
    return float(value)


@exercise(points=4)
def check_response_change(my_response_change: Callable) -> Grade:
    """Exercise 7: my_response_change(intact, changed): how much the units' evoked responses changed, one float.

    Per unit, ||evoked change|| / ||intact evoked response|| over the stimuli (rows: stimuli, then the blank image);
    the mean over the units the stimuli move."""
    hidden = {experiments: ("relative_change", "response_damage", "probe_damage", "random_ablation_damage")}
    return compare_with_course(
        _response_parts(), my_response_change, experiments.relative_change, hidden, "your response change",
        rtol=1e-6, atol=1e-9, read=_one_number,
        hint="Subtract the blank image's row (the last) from the other rows, for intact and changed alike; then per "
             "unit (column) the norm of the evoked change over the stimuli divided by the norm of the intact evoked "
             "response; average over the units whose intact evoked response is not 0.")

