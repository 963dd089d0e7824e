"""Probing units: where to draw a stimulus for a layer, and how units respond to a batch of stimuli.

Everything here is batched: one forward pass per batch of stimuli reads *every* unit asked for
(a whole layer costs the same as one unit), through :func:`helpers.activations.stream`.

- :class:`Placement` / :func:`place_on_receptive_field` / :func:`fitting_size`: where to draw a
  stimulus so that a layer's centre unit sees it, scaled to its receptive field (measured once per
  model, layer and size: :func:`helpers.activations.receptive_field` keeps it on the model).
- :func:`resolve_units`: checked units from a layer name, one unit or a list.
- :func:`unit_responses`: responses (N, U) of units, or a whole layer, to any batch of stimuli.

Return types follow one rule across the helpers: activations and responses are torch tensors (what
the network computed); statistics read from them (tuning curves, selectivities, families) are numpy
arrays; a single number is a float.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import torch

from .activations import At, check_at, read_at, receptive_field, stream
from .models import CircuitModel, Unit
from .stimuli.curves import StimulusSet, stimulus_grid

UnitsOrLayer = str | Unit | Sequence[str | Unit]


@dataclass(frozen=True)
class Placement:
    """Where the centre unit of ``layer`` looks, for ``size``-pixel inputs.

    ``center`` is the (x, y) pixel position of the middle of its receptive field (pixel centres at
    half-integers, as in :mod:`helpers.stimuli.curves`); ``extent`` is the side of that field in
    pixels (clipped to the image). Stimulus sizes in this module are fractions of ``extent``.
    """

    layer: str
    size: int
    center: tuple[float, float]
    extent: float

    def pixels(self, fraction: float) -> float:
        """A length given as a fraction of the receptive field, in pixels."""
        return float(fraction) * self.extent

    def draw(self, kind: str, sweep: dict[str, Sequence[float]], **fixed: object) -> StimulusSet:
        """A :func:`~helpers.stimuli.curves.stimulus_grid` drawn at this size, centred on the receptive field."""
        return stimulus_grid(kind, sweep, size=self.size, center=self.center, **fixed)


def place_on_receptive_field(model: CircuitModel, layer: str, size: int | None = None) -> Placement:
    """The :class:`Placement` of ``layer``'s centre unit at ``size`` (default: the model's input size)."""
    size = int(size or model.input_size)
    top, left, bottom, right = receptive_field(model, layer, size)
    return Placement(model.layer(layer).name, size, ((left + right) / 2, (top + bottom) / 2), float(max(bottom - top, right - left)))


def fitting_size(model: CircuitModel, layer: str, multiple: int = 32) -> int:
    """The smallest input size (a multiple of ``multiple``, at most the model's) that holds the centre unit's whole receptive field.

    The centre unit sees nothing outside its receptive field, so a stimulus drawn at this size gives
    exactly the response it gives at full size, for less computation.
    """
    for size in range(multiple, model.input_size, multiple):
        top, left, bottom, right = receptive_field(model, layer, size)
        if top > 0 and left > 0 and bottom < size and right < size:
            return size
    return model.input_size


def resolve_units(model: CircuitModel, units_or_layer: UnitsOrLayer) -> list[Unit]:
    """Checked units from a layer name (all its channels), one unit, or a list of units."""
    if isinstance(units_or_layer, Unit):
        return [model.unit(units_or_layer)]
    if isinstance(units_or_layer, str):
        if ":" in units_or_layer:
            return [model.unit(units_or_layer)]
        return model.units(units_or_layer)
    units = [model.unit(u) for u in units_or_layer]
    if not units:
        raise ValueError("No units given: pass a layer name, a unit like 'blocks.3.1:7', or a list of units.")
    return units


def unit_responses(
    model: CircuitModel,
    units_or_layer: UnitsOrLayer,
    stimuli: torch.Tensor | StimulusSet,
    *,
    at: At = "center",
    neighbourhood: int = 0,
    pre_activation: bool = False,
    batch_size: int = 64,
    progress: bool = False,
) -> torch.Tensor:
    """Responses (N, U) of units to N stimuli, one forward pass per batch for all units together.

    Each unit's map is read by :func:`~helpers.activations.read_at`: ``at="center"`` reads its centre
    position (the paper's neuron), or with ``neighbourhood=k`` the maximum over the (2k+1) x (2k+1)
    positions around it, which forgives a stimulus that lands a little off the centre; ``at="max"`` the
    maximum over the whole map, ``at="mean"`` its mean. ``pre_activation=True`` reads values before the
    non-linearity (negative values show inhibition).
    """
    images = stimuli.images if isinstance(stimuli, StimulusSet) else stimuli
    if images.dim() == 3:
        images = images[None]
    if images.dim() != 4 or images.shape[1] != 3:
        raise ValueError(f"stimuli must be images of shape (N, 3, H, W), got {tuple(images.shape)}.")
    check_at(at, ("center", "max", "mean"))  # one number per unit and image
    if neighbourhood < 0:
        raise ValueError(f"neighbourhood must be >= 0 positions, not {neighbourhood}.")
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, not {batch_size}.")
    units = resolve_units(model, units_or_layer)
    layers = list(dict.fromkeys(u.layer for u in units))
    outputs = []
    for _, maps in stream(model, images, layers, batch_size=batch_size, pre_activation=pre_activation,
                          progress=progress, description="responses"):
        columns = [read_at(maps[unit.layer][:, unit.channel], at, neighbourhood=neighbourhood) for unit in units]
        outputs.append(torch.stack(columns, dim=1))
    return torch.cat(outputs).clone()


def default_pre_activation(model: CircuitModel, layer: str) -> bool:
    """True when the layer has a separate pre-activation (the tuning functions' default reading)."""
    return model.layer(layer).pre_activation_path is not None
