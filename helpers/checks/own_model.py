"""Self-checks for the exercises of lesson 08 (your own model and data set).

Each check recomputes the right answer from the network and images passed in, so it works for any
settings, any seed and any data set, and rejects answers typed in from another run.
"""
from __future__ import annotations

import numpy as np
import torch

from . import exercise, expect, passed
from ..activations import capture
from ..models import CircuitModel
from ..training import LabelledImages


def predictions(model: CircuitModel, data: LabelledImages, batch_size: int = 256) -> torch.Tensor:
    """The class index the network predicts for every image of ``data``."""
    with torch.no_grad():
        return torch.cat([model(data.images[start : start + batch_size]).argmax(1) for start in range(0, len(data), batch_size)])


def _class_name(answer: object, data: LabelledImages, what: str) -> str:
    expect(isinstance(answer, str), f"Answer with a class name (a string such as {data.classes[0]!r}), not {type(answer).__name__}.")
    expect(answer in data.classes, f"{answer!r} is not a class of this data set.", f"The classes are {data.classes}.")
    return answer


@exercise
def check_most_confused(model: CircuitModel, data: LabelledImages, true_class: str, answer: str) -> bool:
    """Exercise 1: the class that the network most often predicts, wrongly, for images of ``true_class``."""
    expect(true_class in data.classes, f"{true_class!r} is not a class of this data set: {data.classes}.")
    answer = _class_name(answer, data, "confused")
    index = data.classes.index(true_class)
    predicted = predictions(model, data)[data.labels == index]
    counts = torch.bincount(predicted, minlength=len(data.classes)).numpy().astype(float)
    expect(answer != true_class, f"{true_class!r} is the right class; the question asks which WRONG class it is taken for.",
           "Leave out the predictions that are right before counting.")
    counts[index] = -1
    expect(counts.max() > 0, f"The network gets every {true_class} image right: it takes them for no other class.",
           "Ask about a class it gets wrong sometimes (the one with the lowest accuracy).")
    mine = counts[data.classes.index(answer)]
    expect(mine == counts.max(),
           f"The network takes {int(mine)} of the {len(predicted)} {true_class} images for {answer!r}; another class is chosen more often.",
           f"Predict every {true_class} image (model(images).argmax(1)), then count the predictions per class.")
    return passed(f"{true_class} images are most often mistaken for {answer} ({int(mine)} of {len(predicted)}).")


def class_mean_activation(model: CircuitModel, data: LabelledImages, layer: str) -> np.ndarray:
    """Mean activation (over images of each class and positions) of every unit of ``layer``: (classes, C)."""
    with torch.no_grad():
        maps = torch.cat([capture(model, data.images[start : start + 256], layer)[layer].mean(dim=(2, 3))
                          for start in range(0, len(data), 256)])
    return np.stack([maps[data.labels == c].mean(0).numpy() for c in range(len(data.classes))])


@exercise
def check_top_unit_for_class(model: CircuitModel, data: LabelledImages, layer: str, class_name: str, answer: int) -> bool:
    """Exercise 2: the unit of ``layer`` whose mean activation on ``class_name`` images is highest."""
    expect(class_name in data.classes, f"{class_name!r} is not a class of this data set: {data.classes}.")
    means = class_mean_activation(model, data, layer)[data.classes.index(class_name)]
    expect(isinstance(answer, (int, np.integer)) and not isinstance(answer, bool) and 0 <= int(answer) < len(means),
           f"Answer with a channel number of {layer}, an int from 0 to {len(means) - 1}.")
    best = int(means.argmax())
    expect(int(answer) == best,
           f"Unit {layer}:{answer} averages {means[int(answer)]:.3f} on {class_name} images; another unit averages more.",
           "Capture the layer on the images of that class only, average over images and positions, take the argmax.")
    return passed(f"{layer}:{best} is the unit that responds most to {class_name}s (mean {means[best]:.3f}).")


@exercise
def check_wrapped(module: torch.nn.Module, answer: CircuitModel) -> bool:
    """Exercise 3: ``module`` wrapped with wrap_model, its layer "second" reading the output of the module's second ReLU."""
    expect(isinstance(answer, CircuitModel), f"wrap_model returns a CircuitModel; you passed {type(answer).__name__}.",
           "answer = wrap_model(exercise_module, {...}, input_size=32)")
    expect(answer.module is module, "Wrap the module you were given, not a new copy of it.")
    expect("second" in answer.layer_names, f"The wrapped model has no layer called 'second' (its layers: {answer.layer_names}).",
           "The dictionary given to wrap_model maps the course's names to module paths: {'first': ..., 'second': ...}.")
    relus = [m for m in module.modules() if isinstance(m, torch.nn.ReLU)]
    expect(len(relus) >= 2, "The module should have two ReLUs.")
    x = torch.rand(2, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    seen: list[torch.Tensor] = []
    hook = relus[1].register_forward_hook(lambda _m, _i, output: seen.append(output.detach().clone()))
    try:
        with torch.no_grad():
            module(answer.preprocess(x))
    finally:
        hook.remove()
    want = seen[0]
    with torch.no_grad():
        got = capture(answer, x, "second")["second"]
    expect(got.shape == want.shape, f"Layer 'second' gives maps of shape {tuple(got.shape[1:])}, but the second ReLU's are "
           f"{tuple(want.shape[1:])}.", "print(exercise_module) lists the module paths: '0', '1', ...")
    expect(bool((got >= 0).all()), "Layer 'second' has negative values: it reads a layer before the ReLU.",
           "Point it at the second ReLU itself.")
    expect(torch.allclose(got, want, atol=1e-5), "Layer 'second' does not read the second ReLU's output.",
           "print(exercise_module) lists the module paths: '0', '1', ...")
    return passed(f"{answer.name}'s layer 'second' is the second ReLU: every course tool can use it now.")
