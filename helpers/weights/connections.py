"""Strongest connections: the units a unit reads or feeds most through its expanded weights, and family usage."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
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
    model: CircuitModel, unit: str | Unit, count: int = 8, *, from_layer: str | None = None, method: Method = "auto"
) -> Connections:
    """The ``count`` units of ``from_layer`` (default: the layer before) that excite / inhibit ``unit`` most."""
    unit = model.unit(unit)
    from_layer = from_layer or previous_layer(model, unit.layer)
    grids = expanded_weights(model, from_layer, unit.layer, method=method, to_channels=[unit.channel])[0]
    return _rank(unit, from_layer, grids, count)


def strongest_outputs(
    model: CircuitModel, unit: str | Unit, count: int = 8, *, to_layer: str | None = None, method: Method = "auto"
) -> Connections:
    """The ``count`` units of ``to_layer`` (default: the layer after) that ``unit`` excites / inhibits most."""
    unit = model.unit(unit)
    to_layer = to_layer or next_layer(model, unit.layer)
    grids = expanded_weights(model, unit.layer, to_layer, method=method)[:, unit.channel]
    return _rank(unit, to_layer, grids, count)


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


def _strongest_input_means(net_weights: np.ndarray, selectivity: np.ndarray, count: int) -> np.ndarray:
    """(units,) the mean score of each unit's ``count`` strongest excitatory inputs."""
    return selectivity[np.argsort(-net_weights, axis=1)[:, :count]].mean(1)


def input_selectivity_test(
    net_weights: np.ndarray, selectivity: np.ndarray, family_channels: Sequence[int], *, count: int = 8,
    draws: int = 2000, seed: int = 0,
) -> tuple[float, float]:
    """Are a family's strongest excitatory inputs more selective than random units'? (family mean, permutation p).

    ``net_weights`` (units, inputs) are expanded weights summed over space, ``selectivity`` (inputs,) a score of
    each input unit; each unit's ``count`` largest net weights are its strongest inputs. The p-value is the
    share (add-one) of ``draws`` random sets of as many non-family units whose mean is at least the family's.
    """
    net_weights, selectivity = np.asarray(net_weights, dtype=np.float64), np.asarray(selectivity, dtype=np.float64)
    family = np.asarray(family_channels, dtype=int)
    if net_weights.ndim != 2 or net_weights.shape[1] != len(selectivity) or len(family) == 0:
        raise ValueError("Give net_weights (units, inputs), selectivity (inputs,) and at least one family channel.")
    per_unit = _strongest_input_means(net_weights, selectivity, count)
    others = np.setdiff1d(np.arange(len(net_weights)), family)
    rng = np.random.default_rng(seed)
    random_sets = np.array([per_unit[rng.choice(others, len(family), replace=False)].mean() for _ in range(draws)])
    value = float(per_unit[family].mean())
    return value, float((np.sum(random_sets >= value) + 1) / (draws + 1))
