"""High-low frequency detectors: screen every unit of a layer with frequency boundaries, and pick the family.

A high-low frequency detector fires when its receptive field holds fine texture on one side and
smooth texture on the other (:mod:`helpers.stimuli.boundaries` draws such images). The screen here
works like the curve screen (:mod:`helpers.families.curves`), from the same generic tools
(:func:`~helpers.probing.unit_responses`, :func:`~helpers.tuning.orientation_selectivity`,
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

from dataclasses import dataclass, field
from typing import ClassVar, Sequence

import numpy as np
import torch

from ..models import CircuitModel
from ..probing import place_on_receptive_field, unit_responses
from ..stimuli.boundaries import frequency_boundary
from ..tuning import orientation_selectivity, preferred_orientation
from .base import Family, Screen, Threshold, find_family, member_field


@dataclass(kw_only=True)
class HighLowScreen(Screen):
    """Every unit of a layer against frequency boundaries and two same-texture controls."""

    high_frequency: float
    ratio: float
    tuning_curves: np.ndarray  # (O, C) mean response per orientation
    fine_control: np.ndarray  # (C,) fine texture on both sides
    smooth_control: np.ndarray  # (C,) smooth texture on both sides
    peak: np.ndarray  # (C,) best boundary response
    boundary_selectivity: np.ndarray  # (C,)
    every_seed: np.ndarray  # (C,) bool: the best boundary beats both controls for every noise sample on its own

    selectivity_name: ClassVar[str] = "boundary_selectivity"

    def tuning(self) -> np.ndarray:
        """Tuning curves (O, C): every unit's mean response to boundaries whose fine side faces each orientation."""
        return self.tuning_curves


@dataclass(kw_only=True)
class HighLowFamily(Family):
    """A layer's high-low frequency detectors, sorted by preferred orientation (the direction of the fine side)."""

    boundary_selectivity: np.ndarray = member_field()  # (F,)
    screen: HighLowScreen = field(repr=False)

    kind: ClassVar[str] = "high-low"
    thresholds: ClassVar[tuple[Threshold, ...]] = (
        Threshold("peak", 0.5, strict=True, name="min_response"),  # it fires on its best boundary
        Threshold("boundary_selectivity", 0.6),
        Threshold("orientation_selectivity", 0.5),
        Threshold("every_seed", False, name="every_seed"),  # True: its best boundary beats both controls for every sample
    )


def check_frequencies(high_frequency: float, ratio: float) -> None:
    """Raise a clear error unless 0 < ``high_frequency`` <= 0.5 cycles per pixel and ``ratio`` (high / low) > 1."""
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
    ``pre_activation`` and ``neighbourhood`` choose what is read (see :func:`helpers.probing.unit_responses`).
    """
    if orientations < 4:
        raise ValueError(f"orientations must be at least 4 (evenly spaced around 360 degrees), not {orientations}.")
    seed_list = list(range(seeds)) if isinstance(seeds, int) else [int(s) for s in seeds]
    if not seed_list:
        raise ValueError(f"seeds must be a count of at least 1 or a non-empty list of seeds, not {seeds}.")
    check_frequencies(high_frequency, ratio)
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
        layer=placement.layer, placement=placement, pre_activation=pre_activation, orientations=angles,
        high_frequency=high_frequency, ratio=ratio, tuning_curves=tuning, fine_control=fine, smooth_control=smooth,
        peak=peak, boundary_selectivity=boundary_sel, orientation_selectivity=orient_sel, preferred=preferred, score=score,
        every_seed=every_seed,
    )


def high_low_family(screen: HighLowScreen, max_units: int | None = None, **thresholds: float | bool) -> HighLowFamily:
    """Pick the high-low family from a finished screen (no new forward pass): :meth:`Family.pick` with the
    thresholds of :attr:`HighLowFamily.thresholds` (e.g. ``min_response=0.0, every_seed=True``)."""
    return HighLowFamily.pick(screen, max_units, **thresholds)


def find_high_low_family(model: CircuitModel, layer: str, **options) -> HighLowFamily:
    """Screen a layer and return its high-low family: ``options`` go to :func:`screen_high_low` (what is drawn)
    and :func:`high_low_family` (the thresholds)."""
    return find_family(model, layer, screen_high_low, HighLowFamily, options)


def high_low_screen_options(model: CircuitModel) -> dict[str, object]:
    """Options for :func:`find_high_low_family` that compare models fairly.

    Stimuli at the model's own input size (so a 32-pixel network sees what it was trained on), a
    frequency ratio of 6, four noise samples, and a member must fire on its best boundary and beat
    both textures alone for every sample, with boundary selectivity at least 0.5.
    """
    return {"size": model.input_size, "ratio": 6.0, "seeds": 4, "every_seed": True, "min_response": 0.0, "min_boundary_selectivity": 0.5}
