"""A weight explorer's data: a unit's strongest inputs with one colour scale for all their grids."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from ..models import CircuitModel, Unit
from .connections import Connection, strongest_inputs
from .expanded import Method


@dataclass(frozen=True)
class WeightView:
    """What the weight explorer shows for one unit: its strongest inputs and their k x k weights."""

    unit: Unit
    from_layer: str
    connections: list[Connection]
    kind: str
    vmax: float


def weight_view(
    model: CircuitModel,
    unit: str | Unit,
    count: int = 8,
    *,
    kind: Literal["excitatory", "inhibitory"] = "excitatory",
    from_layer: str | None = None,
    method: Method = "auto",
) -> WeightView:
    """The strongest ``count`` excitatory or inhibitory inputs of a unit, with one colour scale for all grids."""
    if kind not in ("excitatory", "inhibitory"):
        raise ValueError(f"kind must be 'excitatory' or 'inhibitory', not {kind!r}.")
    found = strongest_inputs(model, unit, count, from_layer=from_layer, method=method)
    connections = found.excitatory if kind == "excitatory" else found.inhibitory
    vmax = max(float(c.weights.abs().max()) for c in connections) or 1.0
    return WeightView(found.unit, found.other_layer, connections, kind, vmax)
