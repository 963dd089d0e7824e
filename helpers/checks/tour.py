"""Self-checks for lesson 00's exercises: a forward hook that captures a layer, the strongest units, the top classes,
a chain's receptive field, a network's random-weights twin.

Each check runs the student's function on inputs the notebook never shows (other layers, another photograph, a
small hand-built network) and compares it with the course's own implementation (:func:`helpers.activations.capture`,
:func:`helpers.activations.chain_receptive_field`, :func:`helpers.zoo.reinitialized`).
"""
from __future__ import annotations

from typing import Callable

import torch
from torch import nn

from .. import activations as activations_module
from .. import zoo as zoo_module
from ..activations import capture, chain_receptive_field
from ..images import photo
from ..models import CircuitModel
from ..wrapping import wrap_model
from . import ExerciseError, Grade, NotAttempted, call_answer, exercise, expect, expect_close
from .withheld import answer_without, compare_with_course


def _hooks(module: nn.Module) -> int:
    """How many forward hooks (and pre-hooks) are registered anywhere in ``module``."""
    return sum(len(m._forward_hooks) + len(m._forward_pre_hooks) for m in module.modules())


def _tiny_network(device: torch.device) -> CircuitModel:
    """A seeded three-layer network whose layers' inputs and outputs all differ (ReLU, tanh, a pooling)."""
    generator = torch.Generator().manual_seed(7)
    module = nn.Sequential(nn.Conv2d(3, 5, 3, padding=1), nn.ReLU(), nn.Conv2d(5, 4, 3, stride=2), nn.Tanh(),
                           nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 3))
    with torch.no_grad():
        for parameter in module.parameters():
            parameter.copy_(torch.randn(parameter.shape, generator=generator) * 0.5)
    return wrap_model(module.to(device), {"relu": "1", "conv2": "2", "tanh": "3"}, name="tiny-tour", input_size=16)


def _compare_capture(my_capture: Callable, model: CircuitModel, images: torch.Tensor, layer: str, what: str) -> None:
    """The student's hook on one layer against ``capture`` (inputs preprocessed as the model does)."""
    expected = capture(model, images, layer)[layer]
    before = _hooks(model.module)
    with torch.no_grad():
        inputs = model.preprocess(model.prepare_input(images))
    got = call_answer(my_capture, model.module, inputs, model.layer(layer).module_path)
    expect(isinstance(got, torch.Tensor), f"{what}: return the captured activations as a tensor, not {type(got).__name__}.")
    expect(_hooks(model.module) == before, f"{what}: your hook is still registered after the function returned.",
           "Keep the handle that register_forward_hook returns and call handle.remove() (a try/finally is safest).")
    expect_close(got, expected, what, rtol=1e-4, atol=1e-5,
                 hint="A forward hook receives (module, inputs, output): keep the output, not the inputs.")


@exercise(points=3)
def check_capture_hook(my_capture: Callable, model: CircuitModel) -> Grade:
    """Exercise 1: my_capture(module, inputs, path) returns the output of the submodule ``path`` (a forward hook)."""
    grade = Grade()
    tiny = _tiny_network(model.device)
    images = torch.rand(2, 3, 16, 16, generator=torch.Generator().manual_seed(3))
    for layer in ("relu", "tanh"):
        with grade.part(f"a small hand-built network, module {tiny.layer(layer).module_path!r}"):
            _compare_capture(my_capture, tiny, images, layer, f"hand-built network, {layer}")
    names = model.layer_names
    held_out = [names[0], names[len(names) // 2 + 1]]  # the first layer and one past the middle
    picture = photo("astronaut", 96)[None]
    for layer in held_out:
        with grade.part(f"{model.name}, layer {layer}"):
            _compare_capture(my_capture, model, picture, layer, f"{model.name} {layer}")
    return grade


def _reference_strongest(maps: torch.Tensor, k: int) -> list[int]:
    """The course's reading: each channel's maximum over positions, the k largest first."""
    return maps.flatten(1).amax(1).topk(k).indices.tolist()


def _expect_channels(answer: object, maps: torch.Tensor, k: int, what: str) -> None:
    expect(isinstance(answer, (list, tuple, torch.Tensor)),
           f"{what}: return a list of channel numbers, not {type(answer).__name__}.")
    got = [int(c) for c in (answer.tolist() if isinstance(answer, torch.Tensor) else answer)]
    expect(len(got) == k, f"{what}: you returned {len(got)} channels; {k} were asked for.")
    expected = _reference_strongest(maps, k)
    expect(set(got) == set(expected), f"{what}: {len(set(got) - set(expected))} of your {k} channels are not among the "
           "strongest.", "Strongest means the largest value anywhere on the channel's map (a maximum over positions), "
           "not its mean or its centre.")
    expect(got == expected, f"{what}: the right channels, in the wrong order.", "Strongest first.")


@exercise(points=2)
def check_strongest_units(my_strongest_units: Callable, model: CircuitModel) -> Grade:
    """Exercise 2: my_strongest_units(maps, k): the k channels whose maximum over positions is largest, strongest first."""
    grade = Grade()
    # Hand-built maps where the channel with the highest mean, the highest centre and the highest peak all differ.
    maps = torch.zeros(4, 5, 5)
    maps[0] += 1.0            # highest mean, flat
    maps[1, 2, 2] = 2.0       # highest centre
    maps[2, 0, 4] = 3.0       # highest peak, in a corner
    maps[3, 4, 0] = 2.5       # second peak
    with grade.part("hand-built maps (peak, centre and mean disagree)"):
        _expect_channels(call_answer(my_strongest_units, maps.clone(), 2), maps, 2, "hand-built maps")
    layer = model.layer_names[len(model.layer_names) // 3]
    held_out = capture(model, photo("astronaut", 96)[None], layer)[layer][0]
    with grade.part(f"{model.name} {layer} on a photograph the lesson does not use"):
        _expect_channels(call_answer(my_strongest_units, held_out.clone(), 3), held_out, 3, f"{layer}")
    return grade


def _expect_classes(answer: object, expected: list[tuple[str, float]], what: str) -> None:
    expect(isinstance(answer, (list, tuple)) and all(isinstance(p, (list, tuple)) and len(p) == 2 for p in answer),
           f"{what}: return a list of (label, probability) pairs.")
    expect(len(answer) == len(expected), f"{what}: you returned {len(answer)} classes; {len(expected)} were asked for.")
    expect([label for label, _ in answer] == [label for label, _ in expected],
           f"{what}: the classes (or their order) differ from the model's most probable ones.",
           "Most probable first: the k largest probabilities, in decreasing order.")
    expect_close(torch.tensor([float(p) for _, p in answer]), torch.tensor([p for _, p in expected]), f"{what} probabilities",
                 rtol=1e-4, atol=1e-6, hint="Probabilities come from a softmax over all classes of the logits.")


@exercise(points=2)
def check_top_classes(my_top_classes: Callable, model: CircuitModel) -> Grade:
    """Exercise 3: my_top_classes(logits, labels, k): the k most probable (label, probability) pairs of one image."""
    grade = Grade()
    generator = torch.Generator().manual_seed(21)
    labels = [f"class {i}" for i in range(12)]
    logits = torch.randn(12, generator=generator) * 4
    probabilities = logits.softmax(-1)
    values, indices = probabilities.topk(4)
    with grade.part("hand-built logits of 12 classes"):
        _expect_classes(call_answer(my_top_classes, logits.clone(), list(labels), 4),
                        [(labels[i], float(p)) for p, i in zip(values, indices)], "hand-built logits")
    picture = photo("astronaut", model.input_size)[None]
    with grade.part(f"{model.name} on a photograph the lesson does not use"):
        with torch.no_grad():
            held_out = model(picture)[0].cpu()
        _expect_classes(call_answer(my_top_classes, held_out.clone(), list(model.labels), 3),
                        model.top_classes(picture, count=3)[0], model.name)
    return grade


def _chain(*layers: nn.Module) -> nn.Sequential:
    return nn.Sequential(*layers)


def _receptive_field_cases() -> dict[str, list[tuple[nn.Sequential]]]:
    """Held-out chains: strided convolutions with a non-linearity or a batch norm between them, poolings (max and
    average, a kernel given as a pair), dilated convolutions. Each part's chains have different answers."""
    conv = nn.Conv2d
    return {
        "strided convolutions (the step grows after each stride)": [
            (_chain(conv(3, 4, 3), nn.ReLU(), conv(4, 4, 3, stride=2), nn.ReLU(), conv(4, 4, 5)),),
            (_chain(conv(3, 4, 7, stride=2, padding=3), nn.BatchNorm2d(4), conv(4, 4, 3, stride=2), conv(4, 2, 3)),),
        ],
        "poolings between the convolutions": [
            (_chain(conv(3, 4, 3), nn.MaxPool2d(2), conv(4, 4, 3), nn.AvgPool2d(3, stride=2), conv(4, 4, 1)),),
            (_chain(conv(3, 4, 5, stride=2), nn.Tanh(), nn.MaxPool2d((3, 3), stride=(2, 2), padding=1), conv(4, 4, 3)),),
        ],
        "dilated convolutions": [
            (_chain(conv(3, 4, 3, dilation=2), conv(4, 4, 3, stride=2), nn.ReLU(), conv(4, 4, 3, dilation=3)),),
            (_chain(conv(3, 4, 3, stride=2), nn.MaxPool2d(3, stride=1, dilation=2), conv(4, 4, 5, dilation=2)),),
        ],
    }


def _size_and_step(answer: object) -> torch.Tensor:
    """The student's (size, step) as a tensor of two numbers; anything else is a clear mistake."""
    if isinstance(answer, (tuple, list)) and len(answer) == 2 and not any(isinstance(v, bool) for v in answer):
        try:
            return torch.tensor([float(v) for v in answer], dtype=torch.float64)
        except (TypeError, ValueError, RuntimeError):
            pass
    raise ExerciseError(f"Return two numbers, (size, step), not {answer!r:.60}.")


@exercise(points=3)
def check_receptive_field(my_receptive_field: Callable) -> Grade:
    """Exercise 5: my_receptive_field(layers): (size, step) in input pixels of a unit at the end of an nn.Sequential."""
    return compare_with_course(
        _receptive_field_cases(), my_receptive_field,
        lambda layers: torch.tensor(chain_receptive_field(layers), dtype=torch.float64),
        {activations_module: ("chain_receptive_field", "receptive_field")}, "your (size, step)", rtol=0, atol=0.5,
        hint="Walk the layers in order, keeping the field's size and the step between neighbouring units (both 1 at "
             "the input). A kernel widens the field by (kernel - 1) * dilation steps of the layers before it; only "
             "then does its stride multiply the step. A pooling is a kernel too; a ReLU or a batch norm changes nothing.",
        read=_size_and_step)


class _Fixed(nn.Module):
    """A layer with a weight of its own and no ``reset_parameters``: a twin cannot redraw it."""

    def __init__(self, channels: int):
        super().__init__()
        self.scale = nn.Parameter(torch.full((channels, 1, 1), 2.0))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.scale


def _trained(module: nn.Module, seed: int) -> nn.Module:
    """``module`` with made-up "trained" weights and batch-norm statistics, far from any initialisation."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for tensor in [*module.parameters(), *(b for b in module.buffers() if b.is_floating_point())]:
            tensor.copy_(torch.rand(tensor.shape, generator=generator) + 3.0)
    return module


def _twin_networks(seed: int) -> list[nn.Module]:
    """Two small "trained" networks the lesson never shows: convolutions with a batch norm and a linear read-out;
    a grouped convolution, a group norm and a layer norm inside a nested block."""
    block = nn.Sequential(nn.Conv2d(4, 8, 3, groups=2), nn.GroupNorm(2, 8), nn.ReLU())
    return [_trained(nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.Conv2d(4, 6, 3, stride=2),
                                   nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(6, 5)), seed),
            _trained(nn.Sequential(nn.Conv2d(3, 4, 1), block, nn.Flatten(1, 2), nn.LayerNorm(8)), seed + 1)]


def _weights(module: object) -> torch.Tensor:
    """Every parameter and buffer of a returned network, in order, as one vector; anything else is a clear mistake."""
    if not isinstance(module, nn.Module):
        raise ExerciseError(f"Return the twin network (a torch.nn.Module), not {type(module).__name__}.")
    return torch.cat([torch.zeros(0, dtype=torch.float64),
                      *(value.detach().cpu().double().flatten() for value in module.state_dict().values())])


def _expect_twin(answer: object, expected: torch.Tensor, what: str) -> None:
    expect_close(_weights(answer), expected, what, rtol=0, atol=1e-12, hint=_TWIN_HINT)


_TWIN_HINT = ("Seed the random generator once, then call reset_parameters() on every submodule that has one, in the "
              "order named_modules() lists them (batch norms and layer norms too, not only convolutions).")


@exercise(points=4)
def check_random_twin(my_random_twin: Callable) -> Grade:
    """Exercise 6: my_random_twin(module, seed): a copy of a network with every weight redrawn, seeded, the original
    and the global random numbers untouched, and a network it cannot fully redraw refused. Every part needs the
    right twin too, so that no constant and no blanket refusal earns a point."""
    hidden = {zoo_module: ("reinitialized", "random_twin")}

    def course(network: nn.Module, seed: int) -> torch.Tensor:
        return _weights(zoo_module.reinitialized(network, seed))

    with torch.random.fork_rng():  # the check draws random numbers: the notebook's own stream stays as it was
        grade = compare_with_course(
            {"every weight redrawn as its layers initialise it (two networks, two seeds)":
                [(network, seed) for seed in (3, 11) for network in _twin_networks(seed)]},
            my_random_twin, course, hidden, "your twin's weights", rtol=0, atol=1e-12, hint=_TWIN_HINT, read=_weights)
        with grade.part("the network passed in is left as it was"):
            network = _twin_networks(5)[0]
            before, expected = _weights(network), course(network, 5)
            twin = answer_without(hidden, my_random_twin, network, 5)
            expect(twin is not network and torch.equal(_weights(network), before),
                   "Your function changed the network it was given: the trained model would be lost.",
                   "Redraw the weights of a copy (copy.deepcopy), never of the network itself.")
            _expect_twin(twin, expected, "your twin's weights")
        with grade.part("the random numbers drawn after it are the same as without it"):
            network = _twin_networks(7)[1]
            expected = course(network, 7)
            torch.manual_seed(123)
            numbers = torch.rand(6)
            torch.manual_seed(123)
            twin = answer_without(hidden, my_random_twin, network, 7)
            expect(torch.equal(torch.rand(6), numbers),
                   "After your function, the global random generator gives other numbers than before it: every "
                   "later random draw of the lesson would change.",
                   "Seed inside `with torch.random.fork_rng():`, which puts the generator back as it was.")
            _expect_twin(twin, expected, "your twin's weights")
        with grade.part("a network with a weight no reset_parameters redraws is refused (and the same without it "
                        "redrawn)"):
            network = _trained(nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU()), 9)
            _expect_twin(answer_without(hidden, my_random_twin, network, 9), course(network, 9), "your twin's weights")
            network.insert(1, _Fixed(4))
            try:
                answer_without(hidden, my_random_twin, network, 9)
            except NotAttempted:
                raise
            except ExerciseError as error:
                expect(isinstance(error.__cause__, ValueError), f"{error}\nRaise a ValueError naming the layer instead.")
            else:
                expect(False, "Your function returned a twin that still holds a trained weight (a layer with a "
                              "parameter of its own and no reset_parameters): that is no control.",
                       "Raise a ValueError for a submodule that has no reset_parameters but whose "
                       "parameters(recurse=False) is not empty.")
    return grade
