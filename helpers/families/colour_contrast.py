"""Colour-contrast detectors: units that fire on one colour on one side of their receptive field and its opponent on the other.

Early Vision (Olah et al., 2020) finds them in InceptionV1's first layers (conv2d0 to mixed3a). The
screen shows every unit of a layer straight boundaries between two opponent colours, through the
centre of its receptive field, at evenly spaced orientations, for each pair of colours in
``pairs`` (the first colour on the side the orientation points to, so the full circle covers both
ways round). Two controls per pair tell colour contrast apart from what else a unit may want:

- **each colour alone**, filling the image: a colour unit without a boundary fires on these too;
- **the same boundary in grey** (each colour replaced by its luminance): a luminance edge detector
  fires on this as much as on the colours.

Per unit (responses minus a mid-grey image's), at its best pair of colours:

- **colour selectivity** = (best boundary - best control) / best boundary: the share of its
  strongest response that neither colour alone nor the grey edge gives;
- **orientation selectivity** and **preferred orientation** of its tuning curve over 360°: which
  way round it wants the colours;
- **strength**: its best response over the layer's 90th percentile of that number.

This module is the smallest complete family: a :class:`~helpers.families.base.Screen`, a
:class:`~helpers.families.base.Family` and the three functions every family has. A new family is one
more file like it.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np
import torch

from ..models import CircuitModel
from ..probing import default_pre_activation, fitting_size, place_on_receptive_field, unit_responses
from ..stimuli.boundaries import half_plane_mask
from ..tuning import orientation_selectivity, preferred_orientation
from .base import Family, Screen, Threshold, find_family, member_field

Colour = tuple[float, float, float]

#: Opponent colour pairs (RGB in [0, 1]) drawn by default: red against green, blue against yellow.
OPPONENT_PAIRS: dict[str, tuple[Colour, Colour]] = {
    "red/green": ((0.85, 0.15, 0.15), (0.15, 0.65, 0.2)),
    "blue/yellow": ((0.15, 0.3, 0.9), (0.85, 0.8, 0.15)),
}
#: Luminance weights of the RGB channels (Rec. 601), for the grey control.
LUMINANCE = (0.299, 0.587, 0.114)


@dataclass(kw_only=True)
class ColourContrastScreen(Screen):
    """Every unit of a layer against colour boundaries, each colour alone and the boundary in grey."""

    pairs: tuple[str, ...]  # (P,) names of the colour pairs drawn
    boundaries: np.ndarray  # (P, O, C) responses to each pair's boundary at each orientation, minus the grey image's
    alone: np.ndarray  # (P, 2, C) responses to each colour of each pair filling the image
    grey: np.ndarray  # (P, O, C) responses to the same boundaries in grey
    blank: np.ndarray  # (C,) raw response to the mid-grey image
    best_pair: np.ndarray  # (C,) index of each unit's best pair
    pair: np.ndarray  # (C,) name of that pair
    peak: np.ndarray  # (C,) best boundary response
    colour_selectivity: np.ndarray  # (C,)
    strength: np.ndarray  # (C,)

    selectivity_name: ClassVar[str] = "colour_selectivity"

    def tuning(self) -> np.ndarray:
        """Tuning curves (O, C): each unit's response to its best pair's boundary at every orientation."""
        return np.take_along_axis(self.boundaries, self.best_pair[None, None, :], axis=0)[0]

    def baseline(self) -> np.ndarray:
        """(C,) the mid-grey image's response (every number of the screen is relative to it)."""
        return self.blank


@dataclass(kw_only=True)
class ColourContrastFamily(Family):
    """A layer's colour-contrast detectors, sorted by preferred orientation (the side the pair's first colour is on)."""

    colour_selectivity: np.ndarray = member_field()  # (F,)
    pair: np.ndarray = member_field()  # (F,) the pair of colours each member answers best
    screen: ColourContrastScreen = field(repr=False)

    kind: ClassVar[str] = "colour contrast"
    thresholds: ClassVar[tuple[Threshold, ...]] = (
        Threshold("score", 0.0, strict=True),  # it fires on its best boundary
        Threshold("colour_selectivity", 0.5),
        Threshold("orientation_selectivity", 0.5),
        Threshold("strength", 0.3),
    )
    columns: ClassVar[tuple[tuple[str, str, str], ...]] = (("colours", "pair", "s"),)


def colour_boundary(size: int, orientation: float, first: Colour, second: Colour,
                    center: tuple[float, float] | None = None) -> torch.Tensor:
    """A (3, S, S) image: ``first`` colour on the side ``orientation`` (degrees) points to, ``second`` on the other."""
    mask = half_plane_mask(size, orientation, center=center)
    a, b = (torch.tensor(c, dtype=torch.float32)[:, None, None] for c in (first, second))
    return mask * a + (1 - mask) * b


def as_grey(images: torch.Tensor) -> torch.Tensor:
    """Images (N, 3, H, W) with every pixel replaced by its luminance, in all three channels."""
    weights = torch.tensor(LUMINANCE, dtype=images.dtype)[None, :, None, None]
    return (images * weights).sum(1, keepdim=True).expand_as(images).contiguous()


def screen_colour_contrast(
    model: CircuitModel,
    layer: str,
    *,
    orientations: int = 12,
    pairs: dict[str, tuple[Colour, Colour]] | None = None,
    size: int | None = None,
    pre_activation: bool | None = None,
    neighbourhood: int = 0,
    batch_size: int = 64,
    progress: bool = False,
) -> ColourContrastScreen:
    """Screen every unit of ``layer`` with colour boundaries and their controls, in one batched pass (see the module docstring)."""
    if orientations < 4:
        raise ValueError(f"orientations must be at least 4 (evenly spaced around 360 degrees), not {orientations}.")
    pairs = dict(OPPONENT_PAIRS if pairs is None else pairs)
    if not pairs:
        raise ValueError("pairs must name at least one pair of colours, e.g. {'red/green': ((1, 0, 0), (0, 1, 0))}.")
    for name, colours in pairs.items():
        if len(colours) != 2 or any(len(c) != 3 or not all(0 <= v <= 1 for v in c) for c in colours):
            raise ValueError(f"Pair {name!r} must be two RGB colours with values in [0, 1], got {colours!r}.")
    pre_activation = default_pre_activation(model, layer) if pre_activation is None else pre_activation
    placement = place_on_receptive_field(model, layer, size or fitting_size(model, layer))
    size = placement.size
    angles = np.arange(orientations) * 360.0 / orientations
    boundaries = torch.stack([colour_boundary(size, float(a), *colours, center=placement.center)
                              for colours in pairs.values() for a in angles])
    alone = torch.stack([torch.tensor(c, dtype=torch.float32)[:, None, None].expand(3, size, size)
                         for colours in pairs.values() for c in colours])
    grey_image = torch.full((1, 3, size, size), 0.5)
    images = torch.cat([boundaries, alone, as_grey(boundaries), grey_image])
    responses = unit_responses(model, layer, images, pre_activation=pre_activation, neighbourhood=neighbourhood,
                               batch_size=batch_size, progress=progress).numpy().astype(np.float64)

    count, n_pairs = len(boundaries), len(pairs)
    blank = responses[-1]
    relative = responses[:-1] - blank
    on_boundary = relative[:count].reshape(n_pairs, orientations, -1)
    on_alone = relative[count : count + 2 * n_pairs].reshape(n_pairs, 2, -1)
    on_grey = relative[count + 2 * n_pairs :].reshape(n_pairs, orientations, -1)
    best_pair = on_boundary.max(1).argmax(0)  # (C,)
    units = np.arange(on_boundary.shape[-1])
    tuning = on_boundary[best_pair, :, units].T  # (O, C)
    peak = tuning.max(0)
    control = np.maximum(on_alone[best_pair, :, units].max(1), on_grey[best_pair, :, units].max(1))
    driven = peak > 0
    colour_sel = np.where(driven, (peak - np.maximum(control, 0)) / np.maximum(peak, 1e-12), -1.0).clip(-1, 1)
    typical = np.percentile(peak[driven], 90) if driven.any() else 1.0
    strength = np.where(driven, peak / max(float(typical), 1e-12), 0.0)
    orient_sel = orientation_selectivity(tuning, angles)
    firing = (responses[:count].reshape(n_pairs, orientations, -1)[best_pair, :, units].max(1)) > 0
    return ColourContrastScreen(
        layer=placement.layer, placement=placement, pre_activation=pre_activation, orientations=angles,
        orientation_selectivity=orient_sel, preferred=preferred_orientation(tuning, angles),
        score=np.where(firing & driven, colour_sel.clip(0, None) * orient_sel, 0.0),
        pairs=tuple(pairs), boundaries=on_boundary, alone=on_alone, grey=on_grey, blank=blank, best_pair=best_pair,
        pair=np.array(list(pairs), dtype=object)[best_pair], peak=peak, colour_selectivity=colour_sel, strength=strength,
    )


def colour_contrast_family(screen: ColourContrastScreen, max_units: int | None = None, **thresholds: float) -> ColourContrastFamily:
    """Pick the family from a finished screen (no new forward pass): :meth:`Family.pick` with the thresholds
    of :attr:`ColourContrastFamily.thresholds`."""
    return ColourContrastFamily.pick(screen, max_units, **thresholds)


def find_colour_contrast_family(model: CircuitModel, layer: str, **options) -> ColourContrastFamily:
    """Screen a layer and return its colour-contrast family: ``options`` go to :func:`screen_colour_contrast`
    (what is drawn) and :func:`colour_contrast_family` (the thresholds)."""
    return find_family(model, layer, screen_colour_contrast, ColourContrastFamily, options)
