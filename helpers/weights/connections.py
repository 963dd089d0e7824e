"""Strongest connections: the units a unit reads or feeds most through its expanded weights, and family usage."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import torch

from ..layers import next_layer, previous_layer
from ..models import CircuitModel, Unit
from .expanded import Method, expanded_weights


@dataclass(frozen=True)
class Connection:
    """One connection: the unit at the other end, its summed weight, and its k x k weights."""

    unit: Unit
    strength: float
    weights: torch.Tensor


@dataclass(frozen=True)
class Connections:
    """A unit's strongest excitatory (largest positive summed weight) and inhibitory (most negative) connections."""

    unit: Unit
    other_layer: str
    excitatory: list[Connection]
    inhibitory: list[Connection]


def _rank(unit: Unit, other_layer: str, grids: torch.Tensor, count: int) -> Connections:
    if count < 1:
        raise ValueError(f"count must be at least 1, not {count}.")
    # Net weight over the window: a unit that excites at some offsets and inhibits at others
    # (every input of an EfficientNet depthwise kernel with mixed signs) counts by its balance.
    net = grids.sum(dim=(1, 2))
    count = min(count, grids.shape[0])

    def pick(descending: bool) -> list[Connection]:
        order = torch.argsort(net, descending=descending)[:count]
        return [Connection(Unit(other_layer, int(i)), float(net[i]), grids[i]) for i in order if (net[i] > 0) == descending]

    return Connections(unit, other_layer, pick(True), pick(False))


def strongest_inputs(
    model: CircuitModel, unit: str | Unit, k: int = 8, *, from_layer: str | None = None, method: Method = "auto"
) -> Connections:
    """The ``k`` units of ``from_layer`` (default: the layer before) that excite / inhibit ``unit`` most."""
    unit = model.unit(unit)
    from_layer = from_layer or previous_layer(model, unit.layer)
    grids = expanded_weights(model, from_layer, unit.layer, method=method, to_channels=[unit.channel])[0]
    return _rank(unit, from_layer, grids, k)


def strongest_outputs(
    model: CircuitModel, unit: str | Unit, k: int = 8, *, to_layer: str | None = None, method: Method = "auto"
) -> Connections:
    """The ``k`` units of ``to_layer`` (default: the layer after) that ``unit`` excites / inhibits most."""
    unit = model.unit(unit)
    to_layer = to_layer or next_layer(model, unit.layer)
    grids = expanded_weights(model, unit.layer, to_layer, method=method)[:, unit.channel]
    return _rank(unit, to_layer, grids, k)


def family_usage(
    model: CircuitModel, family: Sequence[str | Unit], *, to_layer: str | None = None, method: Method = "auto"
) -> torch.Tensor:
    """How much each unit of ``to_layer`` reads a family: the L2 norm of its weights from all family members."""
    units = [model.unit(u) for u in family]
    layers = {u.layer for u in units}
    if len(layers) != 1:
        raise ValueError(f"A family lives in one layer; got units from {sorted(layers)}.")
    layer = layers.pop()
    to_layer = to_layer or next_layer(model, layer)
    weights = expanded_weights(model, layer, to_layer, method=method)[:, [u.channel for u in units]]
    return weights.flatten(1).norm(dim=1)
