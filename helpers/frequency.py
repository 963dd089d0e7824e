"""High-low frequency detectors: find the family in a layer, measure it, and read how its weights build it.

A high-low frequency detector fires when its receptive field holds fine texture on one side and
smooth texture on the other (:mod:`helpers.stimuli.boundaries` draws such images). The screen here
works like :func:`helpers.tuning.find_curve_family`, from the same generic tools
(:func:`~helpers.tuning.unit_responses`, :func:`~helpers.tuning.orientation_selectivity`,
:func:`~helpers.tuning.preferred_orientation`): every unit of a layer sees frequency boundaries at
evenly spaced orientations (through the centre of its receptive field), and two controls with the
same texture on both sides (fine everywhere, smooth everywhere). Per unit:

- **boundary selectivity** = (best boundary - best control) / best boundary: the share of its
  strongest boundary response that neither texture alone gives (1: the change of frequency is what
  matters; 0 or less: one texture alone does as much);
- **orientation selectivity** (one minus the circular variance of its tuning curve over 360°): high
  when the unit wants the fine side in one direction only, not its mirror;
- **preferred orientation**: the direction (degrees counter-clockwise from right) of the fine side.

Members fire on their best boundary and pass both thresholds. Responses are read after the
non-linearity at the centre position.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import torch

from .models import CircuitModel, Unit
from .stimuli.boundaries import blur_half_plane, frequency_boundary
from .tuning import (
    OrientedFamily,
    Placement,
    orientation_selectivity,
    place_on_receptive_field,
    preferred_orientation,
    unit_responses,
)
from .weights import expanded_weights, previous_layer


def layers_near_depth(model: CircuitModel, low: float, high: float) -> list[str]:
    """The layers whose relative depth (:meth:`CircuitModel.depth_fraction`) lies in [low, high]."""
    if not 0 <= low <= high <= 1:
        raise ValueError(f"Need 0 <= low <= high <= 1 for a depth range, got {low}, {high}.")
    return [name for name in model.layer_names if low <= model.depth_fraction(name) <= high]


@dataclass
class HighLowScreen:
    """Every unit of a layer against frequency boundaries and two same-texture controls."""

    layer: str
    placement: Placement
    orientations: np.ndarray  # (O,) degrees: direction of the fine side
    high_frequency: float
    ratio: float
    tuning: np.ndarray  # (O, C) mean response per orientation
    fine_control: np.ndarray  # (C,) fine texture on both sides
    smooth_control: np.ndarray  # (C,) smooth texture on both sides
    peak: np.ndarray  # (C,) best boundary response
    boundary_selectivity: np.ndarray  # (C,)
    orientation_selectivity: np.ndarray  # (C,)
    preferred: np.ndarray  # (C,) degrees
    score: np.ndarray  # (C,) product of the two selectivities for units that fire, else 0
    every_seed: np.ndarray  # (C,) bool: the best boundary beats both controls for every noise sample on its own


@dataclass
class HighLowFamily(OrientedFamily):
    """A layer's high-low frequency detectors, sorted by preferred orientation."""

    layer: str
    units: list[Unit]
    orientations: np.ndarray  # (F,) preferred orientation of each member, degrees
    boundary_selectivity: np.ndarray  # (F,)
    orientation_selectivity: np.ndarray  # (F,)
    score: np.ndarray  # (F,)
    screen: HighLowScreen = field(repr=False)

    @property
    def fraction(self) -> float:
        """The share of the layer's units that are members."""
        return len(self.units) / self.screen.tuning.shape[1]

    def tuning(self) -> np.ndarray:
        """The members' tuning curves (O, F) over ``screen.orientations``."""
        return self.screen.tuning[:, self.channels]

    def strongest(self, count: int) -> list[Unit]:
        """The ``count`` members with the highest score, best first."""
        return [self.units[i] for i in np.argsort(-self.score, kind="stable")[:count]]

    def table(self) -> str:
        """One line per member: unit, preferred orientation and the two selectivities."""
        rows = [f"{'unit':<16} {'fine side at':>12} {'boundary sel.':>13} {'orient. sel.':>12}"]
        for unit, angle, b_sel, o_sel in zip(self.units, self.orientations, self.boundary_selectivity, self.orientation_selectivity):
            rows.append(f"{str(unit):<16} {angle:>11.0f}° {b_sel:>13.2f} {o_sel:>12.2f}")
        return "\n".join(rows)


def _check_frequencies(high_frequency: float, ratio: float) -> None:
    if not 0 < high_frequency <= 0.5:
        raise ValueError(f"high_frequency must be in (0, 0.5] cycles per pixel, not {high_frequency}.")
    if ratio <= 1:
        raise ValueError(f"ratio (high / low frequency) must be above 1, not {ratio}.")


def screen_high_low(
    model: CircuitModel,
    layer: str,
    *,
    orientations: int = 12,
    high_frequency: float = 0.25,
    ratio: float = 8.0,
    seeds: int | Sequence[int] = 2,
    size: int | None = 96,
    pre_activation: bool = False,
    neighbourhood: int = 0,
    batch_size: int = 64,
    progress: bool = False,
) -> HighLowScreen:
    """Screen every unit of ``layer`` with frequency boundaries (see the module docstring).

    Each orientation and control is averaged over noise textures: ``seeds`` is their number (seeds
    0, 1, ...) or the list of seeds. ``ratio`` is high / low frequency. ``size`` is the stimulus
    side in pixels (it must cover the receptive field; None: the model's input size).
    ``pre_activation`` and ``neighbourhood`` choose what is read (see :func:`helpers.tuning.unit_responses`).
    """
    if orientations < 4:
        raise ValueError(f"orientations must be at least 4 (evenly spaced around 360 degrees), not {orientations}.")
    seed_list = list(range(seeds)) if isinstance(seeds, int) else [int(s) for s in seeds]
    if not seed_list:
        raise ValueError(f"seeds must be a count of at least 1 or a non-empty list of seeds, not {seeds}.")
    _check_frequencies(high_frequency, ratio)
    placement = place_on_receptive_field(model, layer, size)
    size, samples = placement.size, len(seed_list)
    angles = np.arange(orientations) * 360.0 / orientations
    low_frequency = high_frequency / ratio
    boundaries = [
        frequency_boundary(size, float(a), high_frequency, low_frequency, center=placement.center, seed=s)
        for a in angles for s in seed_list
    ]
    controls = [
        frequency_boundary(size, a, f, f, seed=s) for f in (high_frequency, low_frequency) for a in (0.0, 90.0) for s in seed_list
    ]
    responses = unit_responses(
        model, layer, torch.stack(boundaries + controls), pre_activation=pre_activation, neighbourhood=neighbourhood,
        batch_size=batch_size, progress=progress,
    )
    responses = responses.numpy().astype(np.float64)
    count = len(boundaries)
    per_seed = responses[:count].reshape(orientations, samples, -1)  # (O, S, C)
    fine_per_seed, smooth_per_seed = responses[count:].reshape(2, 2, samples, -1).mean(1)  # (S, C) each
    tuning, fine, smooth = per_seed.mean(1), fine_per_seed.mean(0), smooth_per_seed.mean(0)
    peak = tuning.max(0)
    best = per_seed[tuning.argmax(0), :, np.arange(tuning.shape[1])].T  # (S, C) at each unit's best orientation
    every_seed = (best > np.maximum(fine_per_seed, smooth_per_seed)).all(0)
    boundary_sel = np.where(peak > 0, (peak - np.maximum(fine, smooth)) / np.maximum(peak, 1e-12), -1.0).clip(-1, 1)
    orient_sel = orientation_selectivity(tuning, angles)
    preferred = preferred_orientation(tuning, angles)
    score = np.where(peak > 0, boundary_sel.clip(0, None) * orient_sel, 0.0)
    return HighLowScreen(
        layer=placement.layer, placement=placement, orientations=angles, high_frequency=high_frequency, ratio=ratio,
        tuning=tuning, fine_control=fine, smooth_control=smooth, peak=peak, boundary_selectivity=boundary_sel,
        orientation_selectivity=orient_sel, preferred=preferred, score=score, every_seed=every_seed,
    )


def high_low_family(
    screen: HighLowScreen,
    min_boundary_selectivity: float = 0.6,
    min_orientation_selectivity: float = 0.5,
    min_response: float = 0.5,
    max_units: int | None = None,
    every_seed: bool = False,
) -> HighLowFamily:
    """Pick the family from a finished screen: units that fire (peak above ``min_response``) and pass both thresholds.

    ``every_seed=True`` also asks the best boundary to beat both controls for every noise sample on its own.
    """
    chosen = np.nonzero(
        (screen.peak > min_response)
        & (screen.boundary_selectivity >= min_boundary_selectivity)
        & (screen.orientation_selectivity >= min_orientation_selectivity)
        & (screen.every_seed | (not every_seed))
    )[0]
    chosen = chosen[np.argsort(-screen.score[chosen], kind="stable")][:max_units]
    chosen = chosen[np.argsort(screen.preferred[chosen], kind="stable")]
    return HighLowFamily(
        layer=screen.layer,
        units=[Unit(screen.layer, int(c)) for c in chosen],
        orientations=screen.preferred[chosen],
        boundary_selectivity=screen.boundary_selectivity[chosen],
        orientation_selectivity=screen.orientation_selectivity[chosen],
        score=screen.score[chosen],
        screen=screen,
    )


def find_high_low_family(model: CircuitModel, layer: str, **options) -> HighLowFamily:
    """Screen a layer and return its high-low family (options go to :func:`screen_high_low` or :func:`high_low_family`)."""
    pick = {k: options.pop(k) for k in ("min_boundary_selectivity", "min_orientation_selectivity", "min_response", "max_units", "every_seed") if k in options}
    return high_low_family(screen_high_low(model, layer, **options), **pick)


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
    _check_frequencies(high_frequency, ratio)
    textures = [frequency_boundary(size, 0.0, f, f, seed=s) for f in (high_frequency, high_frequency / ratio) for s in range(seeds)]
    responses = unit_responses(model, layer, torch.stack(textures)).numpy().astype(np.float64)
    fine, smooth = responses[:seeds].mean(0).clip(0, None), responses[seeds:].mean(0).clip(0, None)
    total = fine + smooth
    return np.where(total > 0, (fine - smooth) / np.maximum(total, 1e-12), 0.0)


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
    maps = torch.einsum("c,uchw->uhw", torch.as_tensor(preference, dtype=torch.float64), weights)
    k_rows, k_cols = maps.shape[-2:]
    rows, cols = torch.meshgrid(torch.arange(k_rows, dtype=torch.float64), torch.arange(k_cols, dtype=torch.float64), indexing="ij")
    x, y = cols - (k_cols - 1) / 2, (k_rows - 1) / 2 - rows
    dipole = []
    for grid, angle in zip(maps, orientations):
        toward = x * math.cos(math.radians(angle)) + y * math.sin(math.radians(angle))
        dipole.append(float((grid * toward).sum()))
    return SideWeights(units, from_layer, np.asarray(orientations, dtype=np.float64), maps.float(), np.array(dipole))


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
    beats_controls: np.ndarray  # (F,) bool: the held-out preferred boundary beats both held-out same-texture controls
    tolerance: float

    @property
    def same_orientation(self) -> np.ndarray:
        """(F,) bool: the held-out preference lies within ``tolerance`` degrees of the screened one."""
        from .tuning import angle_difference

        return angle_difference(self.held_out, self.screened) <= self.tolerance

    def describe(self) -> str:
        """One line: how many members keep their orientation and still need the frequency change."""
        count = len(self.units)
        return (f"{int(self.same_orientation.sum())} of {count} members keep their preferred orientation within "
                f"{self.tolerance:.0f}°, {int(self.beats_controls.sum())} of {count} still beat both same-texture controls")


def held_out_check(
    family: HighLowFamily, model: CircuitModel, *, high_frequency: float = 0.18, ratio: float = 6.0,
    seeds: Sequence[int] = (101, 102), tolerance: float = 30.0,
) -> HeldOutCheck:
    """Screen the family's layer again with new noise seeds and another frequency pair, and compare each member."""
    screen = family.screen
    again = screen_high_low(model, family.layer, orientations=len(screen.orientations), high_frequency=high_frequency,
                            ratio=ratio, seeds=list(seeds), size=screen.placement.size)
    channels = family.channels
    beats = again.peak[channels] > np.maximum(again.fine_control[channels], again.smooth_control[channels])
    return HeldOutCheck(list(family.units), np.asarray(family.orientations, dtype=np.float64), again.preferred[channels],
                        beats & (again.peak[channels] > 0), tolerance)


def above_chance_p(successes: int, trials: int, chance: float = 0.5) -> float:
    """One-sided binomial p-value: the probability of at least ``successes`` in ``trials`` at rate ``chance`` (1.0 with no trials)."""
    if trials <= 0:
        return 1.0
    if not 0 <= successes <= trials:
        raise ValueError(f"successes must be between 0 and trials ({trials}), not {successes}.")
    return float(sum(math.comb(trials, k) * chance**k * (1 - chance) ** (trials - k) for k in range(successes, trials + 1)))
