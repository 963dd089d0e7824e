"""Attribution: which inputs of the previous layer carry a unit's activation on an image (activation x expanded weight).

:func:`attribution` computes the maps; :func:`concentration` measures how much of a unit's positive attribution
falls on a chosen set of inputs (the previous layer's curve units), relative to their share of the layer, and
:func:`attribution_concentration` does both for units on their top dataset examples (lesson 10, section 7).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Sequence

import numpy as np
import torch

from ..activations import capture
from ..models import CircuitModel, Unit

if TYPE_CHECKING:
    from ..dataset_examples import DatasetExamples


@dataclass(frozen=True)
class Attribution:
    """How the inputs of the previous layer carry a unit's value at one position of each image.

    ``maps[n, i]`` is input ``i``'s activation times the weight through which the unit reads it, at
    each position of the input layer's map (zero outside the unit's window); summed, it is the
    unit's pre-activation along the linear path, minus what does not depend on the inputs (biases).
    """

    unit: Unit
    input_layer: str
    positions: list[tuple[int, int]]  # (row, col) of the unit read in each image
    maps: torch.Tensor  # (N, I, H, W)

    @property
    def per_input(self) -> torch.Tensor:
        """Total contribution (N, I) of each input unit."""
        return self.maps.sum(dim=(2, 3))

    @property
    def total(self) -> torch.Tensor:
        """The sum of all contributions (N,)."""
        return self.per_input.sum(1)

    def strongest_inputs(self, image: int = 0, count: int = 6) -> list[int]:
        """The ``count`` inputs that carry most of the unit's value in one image (largest positive contributions)."""
        return [int(i) for i in torch.argsort(self.per_input[image], descending=True)[:count]]

    def share_on(self, channels: Sequence[int]) -> np.ndarray:
        """Per image: the share of all positive contribution carried by ``channels`` (0 when there is none)."""
        return positive_share(self.maps, channels)


def attribution(
    model: CircuitModel,
    unit: str | Unit,
    images: torch.Tensor,
    positions: Sequence[tuple[int, int]] | None = None,
    *,
    from_layer: str | None = None,
) -> Attribution:
    """Activation x weight of every input of ``from_layer`` (default: the layer before) to ``unit``.

    ``positions``: the unit's (row, col) in each image; default the position where it fires most.
    The weights are the expanded weights seen from that position (the gradient of the linearized
    network, as :func:`helpers.weights.linearized_forward` builds it), so strides and pools are handled.
    """
    from ..layers import previous_layer
    from ..weights import linearized_forward

    unit = model.unit(unit)
    if images.dim() == 3:
        images = images[None]
    from_layer = from_layer or previous_layer(model, unit.layer)
    size = images.shape[-1]
    if images.shape[-2] != size:
        raise ValueError(f"attribution needs square images, got {tuple(images.shape[-2:])}.")
    with torch.inference_mode():
        maps = capture(model, images, [from_layer, unit.layer])
    inputs, own = maps[from_layer].detach().clone(), maps[unit.layer][:, unit.channel]
    if positions is None:
        flat = own.flatten(1).argmax(1)
        positions = [(int(i) // own.shape[2], int(i) % own.shape[2]) for i in flat]
    positions = [(int(r), int(c)) for r, c in positions]
    if len(positions) != images.shape[0]:
        raise ValueError(f"Give one (row, col) per image: {images.shape[0]} images, {len(positions)} positions.")
    contributions = input_times_gradient(lambda x: linearized_forward(model, from_layer, unit.layer, x, size), inputs,
                                         unit.channel, positions)
    return Attribution(unit, from_layer, positions, contributions.cpu())


def input_times_gradient(path: Callable[[torch.Tensor], torch.Tensor], inputs: torch.Tensor, channel: int,
                         positions: Sequence[tuple[int, int]]) -> torch.Tensor:
    """Each input's activation times the gradient of one output unit, read at one position per image (N, I, H, W).

    ``path`` maps the input layer's activations (N, I, H, W) to the unit's layer (N, C, h, w) and should be
    linear in them (as :func:`helpers.weights.linearized_forward` is): then the maps add up to the unit's value
    at its position, minus the part that does not depend on the inputs (biases).
    """
    inject = inputs.detach().clone().requires_grad_(True)
    with torch.enable_grad():
        out = path(inject)
        rows = torch.tensor([r for r, _ in positions], device=out.device)
        cols = torch.tensor([c for _, c in positions], device=out.device)
        out[torch.arange(len(positions), device=out.device), channel, rows, cols].sum().backward()
    return (inputs * inject.grad).detach()


def positive_share(maps: torch.Tensor, channels: Sequence[int]) -> np.ndarray:
    """Per image: the share of all positive contribution carried by ``channels`` (0 when there is none).

    ``maps`` (N, I, H, W) are attribution maps; each input's contribution is its map summed over positions, and
    only inputs whose total is positive count (those that carry the unit's value rather than work against it).
    """
    positive = maps.sum(dim=(2, 3)).clamp(min=0).double()
    total = positive.sum(1)
    part = positive[:, list(channels)].sum(1) if len(channels) else torch.zeros_like(total)
    return torch.where(total > 0, part / total.clamp(min=1e-30), torch.zeros_like(total)).cpu().numpy()


def concentration(maps_per_unit: Sequence[torch.Tensor], channels: Sequence[int]) -> np.ndarray:
    """Per unit: the mean over its images of the share of its positive attribution carried by ``channels``,
    divided by their share of the input layer (``len(channels) / I``; 1 is chance).

    ``maps_per_unit``: one attribution map (N_u, I, H, W) per unit (its own images), as :attr:`Attribution.maps`.
    This is the measure of lesson 10, section 7: does a curve unit draw on the previous layer's curve units more
    than their number explains?
    """
    values = []
    for maps in maps_per_unit:
        chance = len(channels) / maps.shape[1]
        values.append(float(np.mean(positive_share(maps, channels))) / chance)
    return np.array(values)


def top_example_attributions(model: CircuitModel, units: Sequence[str | Unit], scan: "DatasetExamples",
                             per_unit: int) -> list[Attribution]:
    """Each unit's :func:`attribution` on its ``per_unit`` top dataset examples of ``scan`` (a dataset scan of the
    units' layer), read where it fired most in each."""
    found = []
    for unit in units:
        unit = model.unit(unit)
        images = scan.top_images(unit.channel, per_unit)
        positions = [(int(r), int(c)) for r, c in scan.top_positions(unit.channel, per_unit).tolist()]
        found.append(attribution(model, unit, images, positions))
    return found


def attribution_concentration(model: CircuitModel, units: Sequence[str | Unit], scan: "DatasetExamples",
                              channels: Sequence[int], per_unit: int) -> np.ndarray:
    """Per unit: :func:`concentration` of its attribution on its top dataset examples (see
    :func:`top_example_attributions`) on ``channels`` of the layer before (1 is chance)."""
    return concentration([found.maps for found in top_example_attributions(model, units, scan, per_unit)], channels)


@dataclass(frozen=True)
class ConcentrationBaselines:
    """:func:`attribution_concentration` of some units beside two baselines drawn from their layer."""

    units: np.ndarray  # one per unit
    random: np.ndarray  # one per random unit (as many as the units)
    matched: np.ndarray  # one mean per draw of units matched to the units on a response
    maps: list[torch.Tensor]  # the units' attribution maps on their top examples, one (N, I, H, W) per unit

    def __str__(self) -> str:
        return (f"{np.mean(self.units):.2f} (median {np.median(self.units):.2f}), random units "
                f"{np.mean(self.random):.2f} (median {np.median(self.random):.2f}); units matched on the response, per "
                "draw: " + ", ".join(f"{v:.2f}" for v in self.matched))


def concentration_baselines(model: CircuitModel, units: Sequence[str | Unit], scan: "DatasetExamples",
                            channels: Sequence[int], per_unit: int, *, matched_on: np.ndarray, draws: int,
                            exclude: Sequence[int] = (), seed: int = 4) -> ConcentrationBaselines:
    """How much of ``units``' attribution on their top examples falls on ``channels`` (1 is chance), beside as many
    random units of their layer (not in ``exclude``) and ``draws`` sets of units matched to them on ``matched_on``
    (one number per channel, e.g. how strongly curves drive each unit: :func:`~.experiments.matched_units`)."""
    from .experiments import matched_units, random_units

    units = [model.unit(u) for u in units]
    if not units:
        raise ValueError("concentration_baselines needs at least one unit.")
    layer = units[0].layer
    maps = [found.maps for found in top_example_attributions(model, units, scan, per_unit)]
    members = concentration(maps, channels)
    chosen = random_units(model, layer, len(units), np.random.default_rng(seed), exclude)
    random = attribution_concentration(model, chosen, scan, channels, per_unit)
    matched = [attribution_concentration(model, matched_units(model, layer, [u.channel for u in units], matched_on,
                                                              np.random.default_rng(10 + draw)), scan, channels, per_unit).mean()
               for draw in range(draws)]
    return ConcentrationBaselines(members, random, np.asarray(matched), maps)
