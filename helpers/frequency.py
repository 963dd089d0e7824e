"""High-low frequency detectors, measured further: how they answer frequency ratios, photographs and their weights.

The family itself (the screen of a layer with frequency boundaries, and the members it picks) lives in
:mod:`helpers.families.high_low`. Here, for a family's members:

- :func:`ratio_tuning`, :func:`frequency_preference`: responses as the frequency ratio changes; each
  unit's preference for fine or smooth texture (:func:`describe_preference` counts the clear ones);
- :func:`side_weights`: whether the previous layer's high-frequency units feed the detector's fine side (per
  detector, :func:`frequency_map` and its :func:`fine_side_lean`);
- :func:`blurred_photo_responses`, :func:`sharp_side_sweep`: the same test on photographs blurred on one side;
- :func:`held_out_check`, :func:`above_chance_p`: the members on textures the screen never used (member by member,
  :func:`held_out_verdict`: the course's answer to the lesson's exercise 6, which the lesson never calls itself);
- the lesson's plumbing and its claims' measurements: :func:`describe_layers` (the screened layers),
  :func:`strongest_or_best` (the units the lesson studies), :func:`first_layers_share`, :func:`ratio_growth`,
  :func:`paper_units_found`, and :func:`made_up_detector` (weights with two known parts, for the NMF exercise).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch

from .families.high_low import HighLowFamily, check_frequencies, high_low_family, screen_high_low
from .layers import previous_layer
from .models import CircuitModel, Unit
from .probing import place_on_receptive_field, unit_responses
from .stimuli.boundaries import blur_half_plane, frequency_boundary
from .tuning import angle_difference
from .weights import expanded_weights
from .weights.nmf import WeightFactors, weight_factors


def _units_with_orientations(model: CircuitModel, units: Sequence[str | Unit], orientations: Sequence[float]) -> list[Unit]:
    """The checked units, after making sure there is one orientation per unit."""
    units = [model.unit(u) for u in units]
    if len(orientations) != len(units):
        raise ValueError(f"Give one orientation per unit: {len(units)} units, {len(orientations)} orientations.")
    return units


def ratio_tuning(
    model: CircuitModel,
    units: Sequence[str | Unit],
    orientations: Sequence[float],
    ratios: Sequence[float],
    *,
    high_frequency: float = 0.25,
    seeds: int = 2,
    size: int = 96,
) -> np.ndarray:
    """(R, U) responses of units to boundaries at their own orientation, for each frequency ratio (1 = no boundary)."""
    units = _units_with_orientations(model, units, orientations)
    if not ratios or min(ratios) < 1:
        raise ValueError(f"ratios must be >= 1 (high / low frequency), got {list(ratios)}.")
    out = np.zeros((len(ratios), len(units)))
    centers = {layer: place_on_receptive_field(model, layer, size).center for layer in {u.layer for u in units}}
    for column, (unit, angle) in enumerate(zip(units, orientations)):
        center = centers[unit.layer]
        images = torch.stack([
            frequency_boundary(size, float(angle), high_frequency, high_frequency / r, center=center, seed=s)
            for r in ratios for s in range(seeds)
        ])
        values = unit_responses(model, [unit], images).numpy()[:, 0]
        out[:, column] = values.reshape(len(ratios), seeds).mean(1)
    return out


def frequency_preference(
    model: CircuitModel, layer: str, *, high_frequency: float = 0.25, ratio: float = 8.0, seeds: int = 2, size: int = 96
) -> np.ndarray:
    """(C,) per unit, in [-1, 1]: (fine - smooth) / (fine + smooth) response to one texture filling the image.

    +1: a high-frequency unit (fires only on fine texture), -1: a low-frequency unit, 0: either or none.
    """
    check_frequencies(high_frequency, ratio)
    textures = [frequency_boundary(size, 0.0, f, f, seed=s) for f in (high_frequency, high_frequency / ratio) for s in range(seeds)]
    responses = unit_responses(model, layer, torch.stack(textures)).numpy().astype(np.float64)
    fine, smooth = responses[:seeds].mean(0).clip(0, None), responses[seeds:].mean(0).clip(0, None)
    total = fine + smooth
    return np.where(total > 0, (fine - smooth) / np.maximum(total, 1e-12), 0.0)


def describe_preference(preference: np.ndarray, layer: str, *, clear: float = 0.5) -> str:
    """One line: how many units of ``layer`` have a clear :func:`frequency_preference` (beyond ``±clear``) each way."""
    preference = np.asarray(preference)
    return (f"{layer}: {np.sum(preference > clear)} high-frequency and {np.sum(preference < -clear)} low-frequency units "
            f"(preference beyond ±{clear:g}) of {len(preference)}")


@dataclass
class SideWeights:
    """How each detector reads the previous layer's high- and low-frequency units, and where."""

    units: list[Unit]
    from_layer: str
    orientations: np.ndarray  # (U,) preferred orientation of each detector, degrees
    frequency_maps: torch.Tensor  # (U, k, k): sum over input units of (frequency preference x weight)
    dipole: np.ndarray  # (U,) how far the map's weight lies toward the fine side (> 0: as predicted)

    @property
    def agreement(self) -> float:
        """Share of detectors whose high-frequency inputs sit on their fine side (dipole > 0)."""
        return float((self.dipole > 0).mean())

    @property
    def leaning(self) -> int:
        """How many detectors' high-frequency inputs sit on their fine side (dipole > 0)."""
        return int((self.dipole > 0).sum())

    @property
    def chance_p(self) -> float:
        """One-sided binomial p-value of :attr:`leaning` against chance (half the detectors)."""
        return above_chance_p(self.leaning, len(self.units))

    def describe(self) -> str:
        """One line: how many detectors lean toward their fine side, against chance (one-sided binomial test)."""
        return (f"Detectors whose frequency-weighted inputs lean toward their fine side: {self.leaning} of {len(self.units)} "
                f"({self.agreement:.0%}; chance: 50%, one-sided binomial p = {self.chance_p:.2g})")


def side_weights(
    model: CircuitModel,
    units: Sequence[str | Unit],
    orientations: Sequence[float],
    preference: np.ndarray,
    *,
    from_layer: str | None = None,
) -> SideWeights:
    """Weigh each detector's expanded weights by the inputs' :func:`frequency_preference` and measure the side they favour.

    The map ``sum_c preference[c] * W[c]`` is positive where high-frequency inputs excite (or
    low-frequency inputs inhibit); its dipole along the detector's orientation is positive when that
    happens on the fine side, as the paper's account predicts.
    """
    units = _units_with_orientations(model, units, orientations)
    if len({u.layer for u in units}) != 1:
        raise ValueError("All detectors must come from one layer.")
    layer = units[0].layer
    from_layer = from_layer or previous_layer(model, layer)
    if len(preference) != model.channels(from_layer):
        raise ValueError(f"preference must have one value per unit of {from_layer} ({model.channels(from_layer)}), got {len(preference)}.")
    weights = expanded_weights(model, from_layer, layer, to_channels=[u.channel for u in units]).double()
    maps = torch.stack([frequency_map(grids, preference) for grids in weights])
    dipole = [fine_side_lean(grid, angle) for grid, angle in zip(maps, orientations)]
    return SideWeights(units, from_layer, np.asarray(orientations, dtype=np.float64), maps.float(), np.array(dipole))


def frequency_map(weights: torch.Tensor, preference: np.ndarray | torch.Tensor) -> torch.Tensor:
    """One detector's expanded weights from C inputs (C, k, k), each weighted by the input's frequency preference (C,)
    and summed: (k, k), positive where high-frequency inputs excite (or low-frequency inputs inhibit)."""
    return torch.einsum("c,chw->hw", torch.as_tensor(preference, dtype=weights.dtype, device=weights.device), weights)


def fine_side_lean(grid: torch.Tensor, angle: float) -> float:
    """The dipole of a (k, k) map along ``angle`` (degrees, counter-clockwise, y up): the sum of each value times its
    position's offset from the window's centre in that direction; > 0 when the map's weight lies on that side."""
    return float((grid * _toward(grid.shape, angle).to(grid)).sum())


def _toward(shape: Sequence[int], angle: float) -> torch.Tensor:
    """(k, k) each position's offset from the window's centre along ``angle`` (degrees; > 0 on that side)."""
    k_rows, k_cols = shape[-2:]
    rows, cols = torch.meshgrid(torch.arange(k_rows, dtype=torch.float64), torch.arange(k_cols, dtype=torch.float64), indexing="ij")
    x, y = cols - (k_cols - 1) / 2, (k_rows - 1) / 2 - rows
    return x * math.cos(math.radians(angle)) + y * math.sin(math.radians(angle))


@dataclass
class SideFactors:
    """Each detector's expanded weights in two NMF factors: where each lies and which frequencies it reads."""

    units: list[Unit]
    factors: list[WeightFactors]
    position: np.ndarray  # (U, 2) each factor's mean offset toward the fine side (window pixels)
    reads: np.ndarray  # (U, 2) each factor's channel profile weighted by the inputs' frequency preference, per unit of |profile|

    @property
    def fine_minus_smooth(self) -> np.ndarray:
        """(U,) frequency read by the factor on the fine side minus the factor on the other side (> 0: as the paper says)."""
        fine = self.position.argmax(1)
        rows = np.arange(len(fine))
        return self.reads[rows, fine] - self.reads[rows, 1 - fine]

    def describe(self) -> str:
        """One line: in how many detectors the factor on the fine side reads higher frequencies, against chance."""
        higher = int((self.fine_minus_smooth > 0).sum())
        return (f"the factor on the fine side reads higher frequencies than the other in {higher} of {len(self.units)} "
                f"detectors (binomial p = {above_chance_p(higher, len(self.units)):.2g}); median difference "
                f"{np.median(self.fine_minus_smooth):+.3f}")


def side_factors(model: CircuitModel, sides: SideWeights, preference: np.ndarray, *, steps: int = 300) -> SideFactors:
    """Factor each detector of :func:`side_weights` into two NMF parts (:mod:`helpers.weights.nmf`) and read each part's side and frequency."""
    layer = sides.units[0].layer
    weights = expanded_weights(model, sides.from_layer, layer, to_channels=[u.channel for u in sides.units])
    preference = np.asarray(preference, dtype=np.float64)
    factors, position, reads = [], [], []
    for grids, angle in zip(weights, sides.orientations):
        found = weight_factors(grids, 2, steps=steps)
        toward = _toward(grids.shape, float(angle)).float()
        factors.append(found)
        position.append([float((m * toward).sum() / m.sum().clamp(min=1e-9)) for m in found.spatial])
        reads.append([float(p.double().numpy() @ preference / max(float(p.abs().sum()), 1e-9)) for p in found.channels])
    return SideFactors(list(sides.units), factors, np.array(position), np.array(reads))


def blurred_photo_responses(
    model: CircuitModel,
    units: Sequence[str | Unit],
    orientations: Sequence[float],
    photos: Sequence[torch.Tensor],
    sigma: float = 3.0,
) -> tuple[np.ndarray, np.ndarray]:
    """(U, P) responses to photos kept sharp on each unit's fine side and blurred on the other, and with the sides swapped."""
    units = _units_with_orientations(model, units, orientations)
    if not photos:
        raise ValueError("Give at least one square (3, S, S) photograph.")
    size = photos[0].shape[-1]
    preferred, swapped = np.zeros((len(units), len(photos))), np.zeros((len(units), len(photos)))
    centers = {layer: place_on_receptive_field(model, layer, size).center for layer in {u.layer for u in units}}
    for row, (unit, angle) in enumerate(zip(units, orientations)):
        center = centers[unit.layer]
        sharp = torch.stack([blur_half_plane(p, sigma, float(angle), center=center) for p in photos])
        other = torch.stack([blur_half_plane(p, sigma, float(angle) + 180.0, center=center) for p in photos])
        values = unit_responses(model, [unit], torch.cat([sharp, other])).numpy()[:, 0]
        preferred[row], swapped[row] = values[: len(photos)], values[len(photos) :]
    return preferred, swapped


def sharp_side_sweep(
    model: CircuitModel, unit: str | Unit, photo: torch.Tensor, orientations: Sequence[float], sigma: float = 3.0
) -> np.ndarray:
    """(O,) one unit's response to ``photo`` kept sharp on the side at each orientation and blurred on the other.

    The half-plane boundary runs through the centre of the unit's receptive field, so the sweep reads
    which side of its field the unit wants the fine detail on, on a photograph instead of a synthetic texture.
    """
    unit = model.unit(unit)
    if not len(orientations):
        raise ValueError("Give at least one orientation (degrees) for the sharp side.")
    center = place_on_receptive_field(model, unit.layer, photo.shape[-1]).center
    images = torch.stack([blur_half_plane(photo, sigma, float(a), center=center) for a in orientations])
    return unit_responses(model, [unit], images).numpy()[:, 0].astype(np.float64)


@dataclass
class HeldOutCheck:
    """A family's members measured again on textures the screen never used (new noise, other frequencies)."""

    units: list[Unit]
    screened: np.ndarray  # (F,) preferred orientation from the screen, degrees
    held_out: np.ndarray  # (F,) preferred orientation on the held-out textures, degrees
    peak: np.ndarray  # (F,) response to the preferred held-out boundary
    fine_control: np.ndarray  # (F,) response to held-out fine texture everywhere
    smooth_control: np.ndarray  # (F,) response to held-out smooth texture everywhere
    tolerance: float
    same_orientation: np.ndarray  # (F,) bool: the held-out preference lies within ``tolerance`` degrees of the screened one
    beats_controls: np.ndarray  # (F,) bool: the held-out preferred boundary beats both held-out same-texture controls

    def describe(self) -> str:
        """One line: how many members keep their orientation and still need the frequency change."""
        count = len(self.units)
        if not count:
            return "No members to test on held-out textures."
        return (f"{int(self.same_orientation.sum())} of {count} members keep their preferred orientation within "
                f"{self.tolerance:.0f}°, {int(self.beats_controls.sum())} of {count} still beat both same-texture controls")

    @property
    def arguments(self) -> tuple:
        """(screened, held_out, peak, fine_control, smooth_control, tolerance): what :func:`held_out_verdict` reads."""
        return self.screened, self.held_out, self.peak, self.fine_control, self.smooth_control, self.tolerance

    def beside(self, verdicts: tuple) -> str:
        """Two lines: someone's ``(same_orientation, beats_controls)`` verdicts counted, then :meth:`describe`."""
        same, beats = (int(np.sum(np.asarray(v, dtype=bool))) for v in verdicts)
        count = len(self.units)
        return (f"yours: {same} of {count} keep their orientation, {beats} of {count} beat both controls\n"
                f"course: {self.describe()}")


def held_out_check(
    family: HighLowFamily, model: CircuitModel, *, high_frequency: float = 0.18, ratio: float = 6.0,
    seeds: Sequence[int] = (101, 102), tolerance: float = 30.0,
) -> HeldOutCheck:
    """Screen the family's layer again with new noise seeds and another frequency pair, and compare each member.

    An empty family gives an empty check (no member, nothing screened again)."""
    screen = family.screen
    if not len(family):
        empty = np.zeros(0)
        return HeldOutCheck([], empty, empty, empty, empty, empty, tolerance, empty.astype(bool), empty.astype(bool))
    again = screen_high_low(model, family.layer, orientations=len(screen.orientations), high_frequency=high_frequency,
                            ratio=ratio, seeds=list(seeds), size=screen.placement.size)
    channels = family.channels
    measured = (np.asarray(family.orientations, dtype=np.float64), again.preferred[channels], again.peak[channels],
                again.fine_control[channels], again.smooth_control[channels])
    return HeldOutCheck(list(family.units), *measured, tolerance, *held_out_verdict(*measured, tolerance))


def held_out_verdict(
    screened: np.ndarray, held_out: np.ndarray, peak: np.ndarray, fine_control: np.ndarray, smooth_control: np.ndarray,
    tolerance: float = 30.0,
) -> tuple[np.ndarray, np.ndarray]:
    """Member by member, does the screen's verdict hold on held-out textures? Two (F,) bool arrays:

    - ``same_orientation``: the held-out preferred orientation lies within ``tolerance`` degrees of the screened one,
      measured around the circle (350° and 10° are 20° apart);
    - ``beats_controls``: the response to the preferred held-out boundary (``peak``) is above zero and above both
      same-texture controls (fine texture everywhere, smooth texture everywhere).

    The course's answer to the high-low lesson's exercise 6; the lesson calls :func:`held_out_check`, which uses it.
    """
    screened, held_out, peak, fine_control, smooth_control = (
        np.asarray(values, dtype=np.float64) for values in (screened, held_out, peak, fine_control, smooth_control))
    same_orientation = angle_difference(held_out, screened) <= tolerance
    beats_controls = (peak > np.maximum(fine_control, smooth_control)) & (peak > 0)
    return same_orientation, beats_controls


def above_chance_p(successes: int, trials: int, chance: float = 0.5) -> float:
    """One-sided binomial p-value: the probability of at least ``successes`` in ``trials`` at rate ``chance`` (1.0 with no trials)."""
    if trials <= 0:
        return 1.0
    if not 0 <= successes <= trials:
        raise ValueError(f"successes must be between 0 and trials ({trials}), not {successes}.")
    return float(sum(math.comb(trials, k) * chance**k * (1 - chance) ** (trials - k) for k in range(successes, trials + 1)))


def describe_layers(model: CircuitModel, families: dict[str, HighLowFamily]) -> str:
    """One line per screened layer: its depth, how many of its units the family holds, and the largest orientation gap."""
    return "\n".join(
        f"{layer:<12} depth {model.depth_fraction(layer):.2f}: {len(family):>3} of {model.channels(layer):>4} units "
        f"({family.fraction:.0%}), largest orientation gap {family.largest_gap():.0f}°" for layer, family in families.items())


def strongest_or_best(model: CircuitModel, family: HighLowFamily, count: int) -> tuple[list[Unit], list[float]]:
    """The family's ``count`` strongest members, or, when it is empty, the ``count`` units of its layer with the best
    screen scores; with each unit's preferred orientation (degrees) from the screen."""
    screen = family.screen
    if len(family):
        units = family.strongest(count)
    else:
        units = [model.unit(family.layer, int(c)) for c in np.argsort(-screen.score, kind="stable")[:count]]
    return units, [float(screen.preferred[u.channel]) for u in units]


def first_layers_share(model: CircuitModel, families: dict[str, HighLowFamily], below: float = 0.1) -> float:
    """The largest share of units in the family among the screened layers shallower than ``below`` of the depth."""
    early = [family.fraction for layer, family in families.items() if model.depth_fraction(layer) < below]
    if not early:
        raise ValueError(f"No screened layer lies above {below:.0%} of the depth: screen the first layers too.")
    return float(max(early))


def ratio_growth(responses: np.ndarray) -> tuple[float, float]:
    """From :func:`ratio_tuning`'s (R, U) responses (ratios ascending, the first ratio 1): the share of units that
    respond more at the largest ratio than at ratio 1, and the median over units of the response at ratio 1 as a share
    of the unit's peak (a peak at or below 0 counts as 1e-9)."""
    responses = np.asarray(responses, dtype=np.float64)
    if responses.ndim != 2 or len(responses) < 2 or responses.shape[1] == 0:
        raise ValueError(f"responses must be (ratios, units) with at least two ratios and one unit, not {responses.shape}.")
    grows = float(np.mean(responses[-1] > responses[0]))
    silent = float(np.median(responses[0] / np.maximum(responses.max(0), 1e-9)))
    return grows, silent


def paper_units_found(model: CircuitModel, families: dict[str, HighLowFamily], layer: str, channels: Sequence[int],
                      **screen_options: object) -> list[int]:
    """Which of the paper's ``channels`` of ``layer`` the screen puts in the family: read from ``families`` when it
    holds ``layer``, else from a new :func:`screen_high_low` of it with ``screen_options``. Sorted."""
    family = families[layer] if layer in families else high_low_family(screen_high_low(model, layer, **screen_options))
    return sorted(set(int(c) for c in channels) & set(family.channels))


def made_up_detector(window: int = 7, inputs: int = 20, *, noise: float = 0.05, seed: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    """A made-up detector's non-negative weights with two known parts: its left columns read the first half of the
    inputs, its right columns the second half, plus a little uniform noise. Returns the (window * window, inputs)
    matrix NMF takes apart and the two true (window, window) spatial parts."""
    if window < 3 or inputs < 2:
        raise ValueError(f"window must be at least 3 pixels and inputs at least 2, not {window} and {inputs}.")
    parts = torch.zeros(2, window, window)
    parts[0, :, : window // 2], parts[1, :, window - window // 2 :] = 1.0, 1.0
    profiles = torch.zeros(2, inputs)
    profiles[0, : inputs // 2], profiles[1, inputs // 2 :] = 1.0, 1.0
    matrix = parts.flatten(1).T @ profiles
    return matrix + noise * torch.rand(matrix.shape, generator=torch.Generator().manual_seed(seed)), parts
