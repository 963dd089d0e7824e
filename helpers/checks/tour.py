"""Self-checks for the tour notebook's exercises."""
from __future__ import annotations

import torch

from ..activations import capture
from ..models import CircuitModel, Unit
from ..layers import equivalent_layer
from . import exercise, expect, passed


@exercise
def check_unit_name(model: CircuitModel, answer: str, layer: str, channel: int) -> bool:
    """Exercise 1: write the paper-style name of ``channel`` in ``layer``."""
    expect(isinstance(answer, str), f"Give the name as a string, not {type(answer).__name__}.", "e.g. 'mixed3b:379'")
    expect(":" in answer, f"{answer!r} has no ':' between layer and channel.", "Units are written 'layer:channel'.")
    unit = Unit.parse(answer)
    expect(unit.layer == layer, f"The layer part is {unit.layer!r}, but the unit lives in {layer!r}.")
    expect(unit.channel == channel, f"The channel part is {unit.channel}, but we asked for channel {channel}.",
           "Channels are counted from 0.")
    model.unit(answer)
    return passed(f"{answer} is how the course (and the paper) names that unit.")


@exercise
def check_equivalent_layer(model: CircuitModel, answer: str) -> bool:
    """Exercise 2: the active model's layer with mixed3b's stride (8: a 28 x 28 map at 224 px)."""
    model.layer(answer)
    shape = model.layer_shapes(224)[answer]
    expect(shape[1] == 28, f"{answer} has a {shape[1]}x{shape[2]} map at 224 px; mixed3b's is 28x28.",
           "Look at model.summary(224) for layers with a 28 x 28 map.")
    best = equivalent_layer(model, "mixed3b")
    expect(answer == best, f"{answer} has the right stride, but it is not the last layer at that stride ({best}).",
           "mixed3b is the second (last) layer at stride 8 in InceptionV1.")
    return passed(f"{answer} plays mixed3b's role in {model.name}.")


@exercise
def check_strongest_unit(model: CircuitModel, image: torch.Tensor, layer: str, answer: int) -> bool:
    """Exercise 3: the unit of ``layer`` with the largest activation anywhere on ``image``."""
    maxima = capture(model, image[None], layer)[layer][0].flatten(1).amax(1)
    best = int(maxima.argmax())
    expect(isinstance(answer, int), f"Answer with a channel number (int), not {type(answer).__name__}.")
    expect(answer == best, f"Unit {answer} peaks at {float(maxima[answer]):.2f}, but another unit goes higher.",
           "Take the maximum over positions for every channel, then the argmax over channels.")
    return passed(f"{layer}:{best} fires hardest on this image (peak {float(maxima[best]):.2f}).")
