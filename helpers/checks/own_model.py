"""Self-checks for the exercises of lesson 08 (your own model and data set)."""
from __future__ import annotations

import numpy as np
import torch

from . import expect, passed
from ..models import CircuitModel
from ..training import LabelledImages, TrainingResult


def check_width(result: TrainingResult, width: int) -> bool:
    """Exercise 1: a network trained with ``width`` has width, 2x, 4x and 4x channels in conv1..conv4."""
    expect(isinstance(result, TrainingResult), f"Pass the result of trained_model(...), not {type(result).__name__}.")
    got = [result.model.channels(name) for name in ("conv1", "conv2", "conv3", "conv4")]
    want = [width, 2 * width, 4 * width, 4 * width]
    expect(got == want, f"The network's channel counts are {got}; width={width} gives {want}.",
           "Train it with trained_model(**{**settings, 'width': WIDTH}).")
    steps = result.history["step_loss"]
    expect(np.mean(steps[-3:]) < np.mean(steps[:3]),
           "Its loss did not go down during training.", "Train for more epochs.")
    return passed(f"width {width}: channels {got}, held-out accuracy {result.test_accuracy:.0%}.")


def class_mean_activation(model: CircuitModel, data: LabelledImages, layer: str) -> np.ndarray:
    """Mean activation (over images of each class and positions) of every unit of ``layer``: (classes, C)."""
    from ..activations import capture

    with torch.no_grad():
        maps = capture(model, data.images, layer)[layer].mean(dim=(2, 3))
    return np.stack([maps[data.labels == c].mean(0).numpy() for c in range(len(data.classes))])


def check_top_unit_for_class(answer: int, model: CircuitModel, data: LabelledImages, layer: str, class_name: str) -> bool:
    """Exercise 2: the unit of ``layer`` whose mean activation on ``class_name`` images is highest."""
    expect(class_name in data.classes, f"{class_name!r} is not a class of this data set: {data.classes}.")
    means = class_mean_activation(model, data, layer)[data.classes.index(class_name)]
    expect(isinstance(answer, (int, np.integer)) and 0 <= int(answer) < len(means),
           f"Answer with a channel number of {layer}, 0..{len(means) - 1}.")
    best = int(means.argmax())
    expect(int(answer) == best, f"Unit {layer}:{answer} averages {means[int(answer)]:.3f} on {class_name} images; another unit averages more.",
           "Capture the layer on the images of that class, average over images and positions, take the argmax.")
    return passed(f"{layer}:{best} is the unit that responds most to {class_name}s (mean {means[best]:.3f}).")


def check_wrapped(model: CircuitModel, image_size: int) -> bool:
    """Exercise 3: your own module wrapped with wrap_model runs and has at least two layers."""
    expect(isinstance(model, CircuitModel), f"wrap_model returns a CircuitModel; you passed {type(model).__name__}.",
           "model = wrap_model(my_module, layers=[...], input_size=...)")
    expect(len(model.layers) >= 2, f"The wrapped model has {len(model.layers)} layer(s); name at least two.")
    shapes = model.layer_shapes(image_size)
    expect(all(len(s) == 3 for s in shapes.values()), "Every layer should give (channels, height, width) maps.")
    logits = model(torch.rand(2, 3, image_size, image_size))
    expect(logits.dim() == 2 and logits.shape[0] == 2, f"The model should return one row of logits per image, got {tuple(logits.shape)}.")
    return passed(f"{model.name} is wrapped with layers {model.layer_names}; every course tool can use it.")
