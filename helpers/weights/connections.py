"""Strongest connections: the units a unit reads or feeds most through its expanded weights, family usage, and the
tests of a family's wiring against random sets of units (its inputs' selectivity, its clients' concentration)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np
import torch

from ..layers import next_layer, previous_layer
from ..models import CircuitModel, Unit
from .curve_wiring import curve_input_alignment
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


def _against_random_sets(
    score: Callable[[np.ndarray], float], family: np.ndarray, units: int, draws: int, seed: int | np.random.Generator,
) -> tuple[float, np.ndarray, float]:
    """The permutation test every family test here shares: the family's ``score`` (of an array of channels), the
    scores of ``draws`` random sets of as many of the other ``units`` (each ``generator.choice(others, len(family),
    replace=False)``, with ``np.random.default_rng(seed)`` unless ``seed`` is a generator already), and p, the share
    (add-one) of random sets scoring at least as high as the family."""
    others = np.setdiff1d(np.arange(units), family)
    generator = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    random_sets = np.array([score(generator.choice(others, len(family), replace=False)) for _ in range(draws)])
    value = score(family)
    return value, random_sets, float((np.sum(random_sets >= value) + 1) / (draws + 1))


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
    value, _, p = _against_random_sets(lambda channels: float(per_unit[channels].mean()), family, len(net_weights),
                                       draws, seed)
    return value, p


def _set_concentration(squared: np.ndarray, channels: np.ndarray) -> float:
    """How concentrated the readers of a set of units are: the top reader's L2 norm of weights from the set over the
    mean reader's. ``squared`` (readers, units) holds each reader's squared weights from each unit, summed over space."""
    reading = np.sqrt(squared[:, channels].sum(1))
    return float(reading.max() / reading.mean())


def _squared_and_family(grids: np.ndarray | torch.Tensor, family_channels: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
    """Argument checks shared by the client tests: (readers, units) squared weights and the family's channels."""
    grids = grids.detach().cpu().numpy() if isinstance(grids, torch.Tensor) else np.asarray(grids)
    family = np.asarray(family_channels, dtype=int)
    if grids.ndim != 4 or len(family) == 0 or len(family) >= grids.shape[1] or family.min() < 0 \
            or family.max() >= grids.shape[1]:
        raise ValueError("Give grids (readers, units, k, k) and at least one, but not every, unit's channel as the family.")
    return (grids.astype(np.float64) ** 2).sum(axis=(2, 3)), family


def client_concentration_test(
    grids: np.ndarray | torch.Tensor, family_channels: Sequence[int], sets: int = 500,
    seed: int | np.random.Generator = 0,
) -> tuple[float, float]:
    """Does a family have dedicated readers in the next layer? (concentration, permutation p), argument 6's test.

    ``grids`` (readers, units, k, k) are expanded weights from a layer to the next. Each reader's usage of a set
    of units is the L2 norm of its weights from all of them; the set's concentration is the top reader's usage
    over the mean reader's. p is the share (add-one) of ``sets`` random sets of as many non-family units, drawn
    with ``np.random.default_rng(seed)``, whose concentration is at least the family's.
    """
    squared, family = _squared_and_family(grids, family_channels)
    value, _, p = _against_random_sets(lambda channels: _set_concentration(squared, channels), family,
                                       squared.shape[1], sets, seed)
    return value, p


@dataclass(frozen=True)
class FamilyClients:
    """The readers of a family in the next layer (argument 6), against random sets of as many units of its layer.

    ``usage`` (readers,) is each reader's L2 norm of weights from the family, ``clients`` the heaviest readers'
    channels (heaviest first), ``concentration`` the top reader's usage over the mean, ``random_sets`` the
    concentrations of the random sets, ``p`` the share (add-one) of them at least as concentrated."""

    layer: str
    usage: np.ndarray
    clients: np.ndarray
    concentration: float
    random_sets: np.ndarray
    p: float

    def summary(self) -> str:
        """Two printed lines: the top clients, then the concentration against random sets."""
        return (f"usage of the family by {self.layer}: mean {self.usage.mean():.3f}; top clients: "
                + ", ".join(f"{c} ({self.usage[c]:.2f})" for c in self.clients)
                + f"\nconcentration (top client / mean): family {self.concentration:.2f}; random sets "
                  f"{self.random_sets.mean():.2f} (95th percentile {np.percentile(self.random_sets, 95):.2f}); "
                  f"p = {self.p:.4f}")


def family_clients(
    model: CircuitModel, family: Sequence[str | Unit], *, count: int = 8, sets: int = 500,
    seed: int | np.random.Generator = 0, to_layer: str | None = None, method: Method = "auto",
) -> FamilyClients:
    """The units of ``to_layer`` (default: the next layer) that read a family most, and whether the family's readers
    are more concentrated than those of ``sets`` random sets of as many other units of its layer (argument 6)."""
    units = [model.unit(u) for u in family]
    if len({u.layer for u in units}) != 1:
        raise ValueError(f"A family lives in one layer; got units from {sorted({u.layer for u in units})}.")
    if count < 1:
        raise ValueError(f"count must be at least 1, not {count}.")
    to_layer = to_layer or next_layer(model, units[0].layer)
    grids = expanded_weights(model, units[0].layer, to_layer, method=method)
    squared, channels = _squared_and_family(grids, [u.channel for u in units])
    usage = np.sqrt(squared[:, channels].sum(1))
    value, random_sets, p = _against_random_sets(lambda chosen: _set_concentration(squared, chosen), channels,
                                                 squared.shape[1], sets, seed)
    return FamilyClients(to_layer, usage, np.argsort(-usage)[:count], value, random_sets, p)


@dataclass(frozen=True)
class InputSelectivity:
    """Argument 5 measured on a layer: are a family's strongest excitatory inputs more orientation-selective than those
    of random sets of as many other units, and how do the curve units among its inputs face it?

    ``family_value`` is the family's mean selectivity of its ``count`` strongest excitatory inputs (NaN without a
    family), ``random_sets`` the same mean for each random set, ``p`` the share (add-one) at least as high;
    ``curve_share`` the share of those inputs that are curve units of the layer below, for the family and for the
    other units; ``aligned`` the orientation differences between each member and the curve units among its
    ``count`` strongest ``"excitatory"`` and ``"inhibitory"`` inputs (:func:`.curve_wiring.curve_input_alignment`)."""

    count: int
    family_value: float
    random_sets: np.ndarray
    p: float
    curve_share: tuple[float, float] | None
    aligned: dict[str, np.ndarray]

    def verdict(self, alpha: float, enough: bool = True) -> tuple[bool, str]:
        """Lesson 03's claim: (the family's inputs beat random sets at p < ``alpha``, and the family is ``enough``;
        the family's value, the random sets' mean and p)."""
        return (self.p < alpha and enough,
                f"family {self.family_value:.3f}, random sets {self.random_sets.mean():.3f}, p = {self.p:.4f}")

    def summary(self, family_size: int, source_layer: str) -> str:
        """The printed lines: the test, the share of curve inputs, the aligned and opposite curve inputs."""
        lines = [f"orientation selectivity of the top {self.count} excitatory inputs: curve family {self.family_value:.3f}; "
                 f"random sets of {family_size} other units {self.random_sets.mean():.3f} (95th percentile "
                 f"{np.percentile(self.random_sets, 95):.3f}); share of random sets at least as high: p = {self.p:.4f}"]
        if self.curve_share is not None:
            lines.append(f"share of those inputs that are curve units of {source_layer}: curve family "
                         f"{self.curve_share[0]:.3f}, other units {self.curve_share[1]:.3f}")
        lines += [f"{kind} curve inputs: {len(differences)} of them, mean orientation difference {np.mean(differences):.0f}°"
                  for kind, differences in self.aligned.items() if len(differences)]
        return "\n".join(lines)


def family_input_selectivity(
    model: CircuitModel, layer: str, family_channels: Sequence[int], family_orientations: Sequence[float],
    selectivity: np.ndarray, preferred: np.ndarray, curve_channels: Sequence[int], *, count: int = 8,
    draws: int = 2000, seed: int | np.random.Generator = 0, from_layer: str | None = None, method: Method = "auto",
) -> InputSelectivity:
    """Argument 5 on ``layer``'s family, read from the expanded weights from ``from_layer`` (default: the layer before).

    ``selectivity`` and ``preferred`` (inputs,) are the orientation selectivity and preferred orientation of every unit
    of ``from_layer`` (its screen's), ``curve_channels`` the curve units there. Each unit's strongest inputs are its
    ``count`` largest summed weights; random sets of as many non-family units are drawn ``draws`` times."""
    if count < 1 or draws < 1:
        raise ValueError(f"count and draws must be at least 1, not {count} and {draws}.")
    from_layer = from_layer or previous_layer(model, layer)
    net_weights = expanded_weights(model, from_layer, layer, method=method).sum(dim=(2, 3)).numpy()  # (units, inputs)
    selectivity, preferred = np.asarray(selectivity), np.asarray(preferred)
    if selectivity.shape != (net_weights.shape[1],) or preferred.shape != selectivity.shape:
        raise ValueError(f"Give selectivity and preferred for each of the {net_weights.shape[1]} units of {from_layer}.")
    family = np.asarray(family_channels, dtype=int)
    per_unit = _strongest_input_means(net_weights, selectivity, count)
    non_family = np.setdiff1d(np.arange(len(net_weights)), family)
    if len(family):
        value, random_sets, p = _against_random_sets(lambda channels: float(per_unit[channels].mean()), family,
                                                     len(net_weights), draws, seed)
    else:  # no family: nothing to test
        value, random_sets, p = float("nan"), np.full(draws, np.nan), 1.0
    top = np.argsort(-net_weights, axis=1)[:, :count]
    is_curve = np.isin(np.arange(net_weights.shape[1]), curve_channels)
    share = (float(is_curve[top[family]].mean()), float(is_curve[top[non_family]].mean())) if len(family) else None
    excitatory, inhibitory = curve_input_alignment(net_weights, family, family_orientations, preferred, curve_channels,
                                                   count)
    return InputSelectivity(count, value, random_sets, p, share, {"excitatory": excitatory, "inhibitory": inhibitory})
