"""Curve detectors: screen every unit of a layer with curves, lines and corners, and pick the curve family.

- :func:`screen_curves`: every unit against curves (every orientation x radii), straight lines of the
  same length, corners and a blank image, drawn on the centre unit's receptive field, in both contrast
  polarities, in one batched pass (a :class:`CurveScreen`);
- :func:`curve_family`: the units that pass the thresholds, from a finished screen;
- :func:`find_curve_family`: both at once;
- :func:`curve_screen_options`: options that suit a model's input size.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import ClassVar, Literal, Sequence

import numpy as np
import torch

from ..models import CircuitModel
from ..probing import Placement, default_pre_activation, fitting_size, place_on_receptive_field, unit_responses
from ..stimuli.curves import blank, line
from ..tuning import orientation_selectivity, preferred_orientation
from .base import Family, Screen, Threshold, find_family, member_field

#: The two contrast polarities of the curve screen and their (foreground, background) grey levels.
POLARITIES: tuple[str, ...] = ("dark", "light")
POLARITY_COLOURS: dict[str, tuple[float, float]] = {"dark": (0.0, 1.0), "light": (1.0, 0.0)}


def polarity_of(style: dict) -> str:
    """ "dark" when a style draws darker strokes than its background, else "light"."""
    return "dark" if float(np.mean(style.get("foreground", 0.0))) <= float(np.mean(style.get("background", 1.0))) else "light"


@dataclass(kw_only=True)
class CurveScreen(Screen):
    """Every unit of a layer against curves, lines and corners (what :func:`screen_curves` measured).

    Responses are relative to the blank image (``response - blank``), shaped with the stimulus axes
    first and the layer's channels last. Sizes are in pixels; orientations in degrees.
    """

    style: dict  # length, width (pixels), foreground and background of every stimulus
    radii: np.ndarray  # (R,) curve radii
    line_angles: np.ndarray  # (A,)
    line_offsets: np.ndarray  # (P,) shift of the line across itself
    corner_angles: np.ndarray  # (K,) opening angles
    curve: np.ndarray  # (O, R, C)
    line: np.ndarray  # (A, P, C)
    corner: np.ndarray  # (O, K, C)
    blank: np.ndarray  # (C,) raw response to the blank image
    curve_selectivity: np.ndarray  # (C,) (best curve - best line) / best curve
    corner_margin: np.ndarray  # (C,) (best curve - best corner) / best curve
    strength: np.ndarray  # (C,) best curve response / the layer's 90th percentile of it
    best_radius: np.ndarray  # (C,) radius of the strongest curve, pixels
    #: (C,) "dark" (dark curves on a light ground) or "light" (light on dark): the contrast polarity each unit's
    #: numbers come from (its better one when the screen drew both).
    polarity: np.ndarray | None = None
    #: per polarity screened: the screen of that polarity alone (its own style, blank and scores for every unit)
    by_polarity: dict = field(default_factory=dict, repr=False)

    selectivity_name: ClassVar[str] = "curve_selectivity"

    def __post_init__(self) -> None:
        if self.polarity is None:
            self.polarity = np.full(self.channels, polarity_of(self.style), dtype=object)

    def tuning(self) -> np.ndarray:
        """Orientation tuning curves (O, C): each unit's response at its best radius, per orientation."""
        index = np.abs(self.radii[:, None] - self.best_radius[None, :]).argmin(0)
        return np.take_along_axis(self.curve, index[None, None, :], axis=1)[:, 0]

    def baseline(self) -> np.ndarray:
        """(C,) the blank image's response (every number of the screen is relative to it)."""
        return self.blank

    @property
    def polarities(self) -> tuple[str, ...]:
        """The contrast polarities this screen drew ("dark", "light"), in drawing order."""
        return tuple(self.by_polarity) or (polarity_of(self.style),)

    def polarity_screen(self, polarity: str) -> "CurveScreen":
        """The screen of one polarity alone (every unit measured with dark-on-light or light-on-dark drawings)."""
        if polarity not in POLARITIES:
            raise ValueError(f"polarity must be one of {', '.join(POLARITIES)}, not {polarity!r}.")
        if polarity in self.by_polarity:
            return self.by_polarity[polarity]
        if not self.by_polarity and polarity == polarity_of(self.style):
            return self
        raise ValueError(f"This screen did not draw {polarity!r} curves (it drew {', '.join(self.polarities)}); "
                         "run find_curve_family(..., polarity='both').")


@dataclass(kw_only=True)
class CurveFamily(Family):
    """A layer's curve detectors, sorted by preferred orientation (counter-clockwise from 0 = right)."""

    curve_selectivity: np.ndarray = member_field()  # (F,)
    #: (F,) "dark" or "light": the contrast polarity in which each member was found (its better one)
    polarity: np.ndarray = member_field()
    screen: CurveScreen = field(repr=False)

    kind: ClassVar[str] = "curve"
    thresholds: ClassVar[tuple[Threshold, ...]] = (
        Threshold("score", 0.0, strict=True),  # active on its best curve, with some selectivity
        Threshold("curve_selectivity", 0.5),
        Threshold("corner_margin", 0.0),  # no corner beats its best curve
        Threshold("orientation_selectivity", 0.7),
        Threshold("strength", 0.5),
    )
    columns: ClassVar[tuple[tuple[str, str, str], ...]] = (("polarity", "polarity", "s"),)

    def polarity_counts(self) -> dict[str, int]:
        """How many members were found in each contrast polarity the screen drew, e.g. {"dark": 30, "light": 8}."""
        return {p: int(np.sum(self.polarity == p)) for p in self.screen.polarities}

    def style(self, polarity: str | None = None) -> dict:
        """Drawing options (length, width, foreground, background) of one polarity; default: the screen's first."""
        return dict(self.screen.polarity_screen(polarity).style if polarity else self.screen.style)

    def responses(self, model: CircuitModel, images: torch.Tensor, polarity: str | None = None) -> np.ndarray:
        """The members' responses (N, F) to images drawn at the screen's placement, minus the blank image's.

        The blank is the background the images were drawn on: ``polarity`` "dark" (light ground) or
        "light" (dark ground); by default each member's own polarity.
        """
        values = super().responses(model, images)
        if polarity is None:
            return values
        return values + self.screen.blank[self.channels] - self.screen.polarity_screen(polarity).blank[self.channels]


def screen_curves(
    model: CircuitModel,
    layer: str,
    *,
    orientations: int = 16,
    radii: Sequence[float] = (0.06, 0.1, 0.16, 0.25),
    length: float = 0.35,
    width: float = 0.03,
    line_offsets: Sequence[float] = (-0.08, 0.0, 0.08),
    corner_angles: Sequence[float] = (60.0, 90.0, 120.0),
    pre_activation: bool | None = None,
    neighbourhood: int = 0,
    size: int | None = None,
    foreground: float | None = None,
    background: float | None = None,
    polarity: Literal["both", "dark", "light"] | None = None,
    min_curve_selectivity: float = 0.5,
    min_orientation_selectivity: float = 0.7,
    min_strength: float = 0.5,
    batch_size: int = 64,
    progress: bool = False,
) -> CurveScreen:
    """Screen every unit of ``layer`` with curves, lines and corners (see :func:`find_curve_family` for the scores).

    **Contrast polarity.** By default (``polarity="both"``) every stimulus is drawn twice, dark on a
    light ground (``"dark"``: foreground 0, background 1) and light on a dark ground (``"light"``), in
    one batched pass; each unit is scored in both and keeps its better polarity (the one in which it
    passes the ``min_*`` thresholds, then the higher score), recorded in ``screen.polarity``;
    ``screen.polarity_screen(p)`` holds each polarity's own screen. Some units answer only one
    polarity, so a one-polarity screen would depend on which way round curves are drawn.
    ``polarity="dark"`` or ``"light"``, or explicit ``foreground``/``background`` values, screen one
    polarity only.

    Stimuli are centred on the centre unit's receptive field (:func:`~helpers.probing.place_on_receptive_field`),
    at ``size`` pixels (default: :func:`~helpers.probing.fitting_size`, which gives the same responses as
    full size); ``radii``, ``length``, ``width`` and ``line_offsets`` are fractions of its side. Each
    unit sees curves (``orientations`` evenly spaced around the circle x ``radii``), straight lines of
    the same length (``orientations // 2`` directions x ``line_offsets``), corners (``orientations`` x
    ``corner_angles``) and a blank image. All responses are taken relative to the blank image.
    """
    if orientations < 4:
        raise ValueError(f"orientations must be at least 4 (evenly spaced around 360 degrees), not {orientations}.")
    if not radii or min(radii) <= 0:
        raise ValueError(f"radii must be positive fractions of the receptive field, not {radii!r}.")
    if polarity not in (None, "both", *POLARITIES):
        raise ValueError(f"polarity must be 'both', 'dark' or 'light', not {polarity!r}.")
    if foreground is not None or background is not None:
        if polarity not in (None,):
            raise ValueError("Give either polarity= or explicit foreground/background colours, not both.")
        colours = {"custom": (0.0 if foreground is None else foreground, 1.0 if background is None else background)}
    else:
        wanted = POLARITIES if polarity in (None, "both") else (polarity,)
        colours = {p: POLARITY_COLOURS[p] for p in wanted}
    pre_activation = default_pre_activation(model, layer) if pre_activation is None else pre_activation
    placement = place_on_receptive_field(model, layer, size or fitting_size(model, layer))
    angles = np.arange(orientations) * 360.0 / orientations
    line_angles = angles[angles < 180]
    stroke = placement.pixels(length)
    radii_px = np.array([placement.pixels(r) for r in radii])
    offsets_px = np.array([placement.pixels(o) for o in line_offsets])

    batches, styles = [], {}
    for name, (fg, bg) in colours.items():
        style = {"width": placement.pixels(width), "foreground": fg, "background": bg}
        styles[name] = style
        curves = placement.draw("curve", {"orientation": angles, "radius": radii_px}, length=stroke, **style)
        lines = torch.stack([
            line(placement.size, angle=a, length=stroke, center=_shifted(placement.center, a + 90, offset), **style)
            for a in line_angles for offset in offsets_px
        ])
        corners = placement.draw("corner", {"orientation": angles, "angle": list(corner_angles)}, length=stroke, **style)
        batches.append(torch.cat([curves.images, lines, corners.images, blank(placement.size, bg)[None]]))
    per_polarity = batches[0].shape[0]
    # One batched pass for every polarity: every unit of the layer sees every drawing.
    responses = unit_responses(model, layer, torch.cat(batches), pre_activation=pre_activation, neighbourhood=neighbourhood,
                               batch_size=batch_size, progress=progress).numpy().astype(np.float64)

    parts = [responses[i * per_polarity : (i + 1) * per_polarity] for i in range(len(styles))]
    n_curve = len(angles) * len(radii_px)
    # Strength is measured against one yardstick for every polarity: the layer's typical best curve over all drawings.
    typical = typical_best_curve([(part[:n_curve] - part[-1]).max(0) for part in parts])
    screens = {
        name: score_screen(parts[index], placement, pre_activation, {"length": stroke, **style}, angles, radii_px,
                           line_angles, offsets_px, corner_angles, typical)
        for index, (name, style) in enumerate(styles.items())
    }
    if len(screens) == 1:
        return next(iter(screens.values()))
    return merge_polarities(screens, (min_curve_selectivity, min_orientation_selectivity, min_strength))


def score_screen(responses: np.ndarray, placement: Placement, pre_activation: bool, style: dict, angles: np.ndarray,
                  radii_px: np.ndarray, line_angles: np.ndarray, offsets_px: np.ndarray,
                  corner_angles: Sequence[float], typical: float | None = None) -> CurveScreen:
    """Scores of every unit from raw responses to [curves, lines, corners, blank] drawn in one polarity.

    ``typical``: the best-curve response that counts as strength 1 (default: this screen's 90th percentile).
    """
    n_curve, n_line = len(angles) * len(radii_px), len(line_angles) * len(offsets_px)
    baseline = responses[-1]
    relative = responses - baseline
    curve_part = relative[:n_curve].reshape(len(angles), len(radii_px), -1)
    line_part = relative[n_curve : n_curve + n_line].reshape(len(line_angles), len(offsets_px), -1)
    corner_part = relative[n_curve + n_line : -1].reshape(len(angles), len(corner_angles), -1)

    n_units = curve_part.shape[-1]
    best_curve = curve_part.reshape(-1, n_units).max(0)
    best_line = line_part.reshape(-1, n_units).max(0)
    best_corner = corner_part.reshape(-1, n_units).max(0)
    driven = best_curve > 0
    safe = np.maximum(best_curve, 1e-12)
    curve_selectivity = np.where(driven, (best_curve - best_line) / safe, -1.0).clip(-1, 1)
    corner_margin = np.where(driven, (best_curve - best_corner) / safe, -1.0).clip(-1, 1)
    radius_index = curve_part.max(0).argmax(0)  # (C,) the radius of each unit's strongest curve
    tuning = np.take_along_axis(curve_part, radius_index[None, None, :], axis=1)[:, 0]  # (O, C)
    selectivity = orientation_selectivity(tuning, angles)
    preferred = preferred_orientation(tuning, angles)
    best_radius = radii_px[radius_index]
    firing = responses[:n_curve].max(0) > 0  # after a ReLU-like non-linearity the unit is active on its best curve
    if typical is None:
        typical = typical_best_curve([best_curve])
    strength = np.where(driven, best_curve / max(typical, 1e-12), 0.0)
    score = np.where(firing & driven, np.clip(curve_selectivity, 0, None) * selectivity, 0.0)
    return CurveScreen(
        layer=placement.layer, placement=placement, pre_activation=pre_activation, style=style,
        orientations=angles,
        radii=radii_px, line_angles=line_angles, line_offsets=offsets_px, corner_angles=np.asarray(corner_angles, dtype=np.float64),
        curve=curve_part, line=line_part, corner=corner_part, blank=baseline, curve_selectivity=curve_selectivity,
        corner_margin=corner_margin, orientation_selectivity=selectivity, strength=strength, preferred=preferred,
        best_radius=best_radius, score=score,
    )


def typical_best_curve(best_curves: Sequence[np.ndarray]) -> float:
    """The 90th percentile of the units' best curve responses (minus blank) where positive, over every polarity drawn."""
    values = np.concatenate([b[b > 0] for b in best_curves])
    return float(np.percentile(values, 90)) if len(values) else 1.0


def _passes(screen: CurveScreen, min_curve_selectivity: float, min_orientation_selectivity: float, min_strength: float) -> np.ndarray:
    """(C,) whether each unit passes the family's rules in this screen, at these thresholds."""
    given = {"min_curve_selectivity": min_curve_selectivity, "min_orientation_selectivity": min_orientation_selectivity,
             "min_strength": min_strength}
    return np.all([rule.passes(screen, given.get(rule.option, rule.default)) for rule in CurveFamily.thresholds], axis=0)


def merge_polarities(screens: dict[str, CurveScreen], thresholds: tuple[float, float, float]) -> CurveScreen:
    """One screen that keeps, for each unit, its better polarity: the one it passes the thresholds in, then the higher score."""
    names = list(screens)
    keys = np.stack([_passes(screens[n], *thresholds) * 2.0 + screens[n].score for n in names])  # (P, C)
    choice = keys.argmax(0)  # ties go to the first polarity drawn ("dark")

    def pick(attribute: str) -> np.ndarray:
        stacked = np.stack([getattr(screens[n], attribute) for n in names])  # (P, ..., C)
        return np.take_along_axis(stacked, choice.reshape((1,) + (1,) * (stacked.ndim - 2) + (-1,)), axis=0)[0]

    first = screens[names[0]]
    merged = CurveScreen(
        layer=first.layer, placement=first.placement, pre_activation=first.pre_activation, style=dict(first.style),
        orientations=first.orientations, radii=first.radii, line_angles=first.line_angles, line_offsets=first.line_offsets,
        corner_angles=first.corner_angles,
        **{name: pick(name) for name in ("curve", "line", "corner", "blank", "curve_selectivity", "corner_margin",
                                          "orientation_selectivity", "strength", "preferred", "best_radius", "score")},
    )
    merged.polarity = np.array([polarity_of(screens[names[c]].style) for c in choice], dtype=object)
    merged.by_polarity = {polarity_of(screens[n].style): screens[n] for n in names}
    return merged


def curve_family(screen: CurveScreen, max_units: int | None = None, **thresholds: float) -> CurveFamily:
    """Pick the curve family from a finished screen (no new forward pass): :meth:`Family.pick` with the
    thresholds of :attr:`CurveFamily.thresholds` (e.g. ``min_curve_selectivity=0.6``)."""
    return CurveFamily.pick(screen, max_units, **thresholds)


def find_curve_family(model: CircuitModel, layer: str, **options) -> CurveFamily:
    """Screen every unit of ``layer`` and return its curve family, sorted by preferred orientation.

    ``options`` go to :func:`screen_curves` (what is drawn and read) and :func:`curve_family` (the
    thresholds, which the screen also uses to choose each unit's better polarity).

    Scores, per unit (responses minus the blank image's):

    - **curve selectivity** = (best curve - best line) / best curve: the share of its strongest
      curve response that no straight line reaches (1: lines do nothing; 0: a line does as well;
      negative: a line does better).
    - **corner margin** = (best curve - best corner) / best curve: negative when a corner beats
      every curve (a corner detector, not a curve detector). Curve detectors may like corners too.
    - **orientation selectivity**: :func:`~helpers.tuning.orientation_selectivity` of its tuning
      curve (responses to curves of its best radius at every orientation): 1 for a single
      orientation, 0 for none in particular (a line detector, which likes both sides of a curve,
      scores near 0).
    - **preferred orientation**: the circular mean of that tuning curve (:func:`~helpers.tuning.preferred_orientation`).
    - **strength**: its best curve response over the layer's 90th percentile of that number, so
      units our drawings barely move are not called curve detectors.

    Members: units active (positive after the non-linearity) on their best curve, with curve
    selectivity, orientation selectivity and strength above the thresholds and a corner margin
    >= 0; at most ``max_units`` of them, by score = curve selectivity x orientation selectivity.
    """
    return find_family(model, layer, screen_curves, CurveFamily, options)


def _shifted(center: tuple[float, float], direction: float, distance: float) -> tuple[float, float]:
    """``center`` moved ``distance`` pixels towards ``direction`` (degrees, counter-clockwise from right)."""
    radians = math.radians(direction)
    return center[0] + distance * math.cos(radians), center[1] - distance * math.sin(radians)


def curve_screen_options(model: CircuitModel) -> dict[str, object]:
    """Options for :func:`find_curve_family` (and :func:`screen_curves`) that suit the model's input size.

    The defaults draw strokes 3% of the receptive field wide, well below a pixel for a 32-pixel
    network; small inputs get thicker, longer strokes, the radii of the shapes it learned from, and a
    one-position tolerance around the centre.
    """
    if model.input_size >= 96:
        return {}
    return {"width": 0.08, "length": 0.5, "radii": (0.15, 0.25, 0.35, 0.5), "neighbourhood": 1}
