"""Curve detectors: screen every unit of a layer with curves, lines and corners, and pick the curve family.

- :func:`screen_curves`: every unit against curves (every orientation x radii), straight lines of the
  same length, corners and a blank image, drawn on the centre unit's receptive field, in both contrast
  polarities, in one batched pass (a :class:`CurveScreen`), as a :class:`CurveDrawing` says;
  :meth:`CurveScreen.along` re-scores a finished screen for directions of the layer instead of units;
- :func:`curve_family`: the units that pass the thresholds, from a finished screen;
- :func:`find_curve_family`: both at once;
- :func:`curve_screen_options`: options that suit a model's input size.
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import ClassVar, Literal, Sequence

import numpy as np
import torch

from ..models import CircuitModel
from ..probing import default_pre_activation, fitting_size, place_on_receptive_field, unit_responses
from ..stimuli.curves import blank, line
from ..tuning import orientation_selectivity, preferred_orientation, screen_scores
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

    def along(self, weights: torch.Tensor | np.ndarray, bias: torch.Tensor | np.ndarray | None = None,
              **thresholds: float) -> "CurveScreen":
        """This screen re-scored for linear read-outs ``weights @ x + bias`` of the screened layer's values x.

        ``weights`` (n, C) holds one read-out per row: dictionary directions, random directions, or the
        identity (which gives back the units' own screen). The read-outs are scored with the screen's own
        rules and yardstick (strength relative to the layer's *units*), each keeps its better polarity as
        units do (by the family's ``thresholds``, e.g. ``min_curve_selectivity``), and their "channels" are
        row indices, so :func:`curve_family` picks the curve-like ones. Read-outs are linear, so this is
        exact only for the values the directions live in: re-score the screen of the same reading
        (``pre_activation``) as the vectors a dictionary was trained on.
        """
        readout = np.asarray(torch.as_tensor(weights, dtype=torch.float64))
        channels = self.curve.shape[-1]
        if readout.ndim != 2 or readout.shape[1] != channels:
            raise ValueError(f"weights must be (n, {channels}): one read-out of the layer's {channels} units per row; "
                             f"got {tuple(readout.shape)}")
        offset = np.zeros(len(readout)) if bias is None else np.asarray(torch.as_tensor(bias, dtype=torch.float64))
        if offset.shape != (len(readout),):
            raise ValueError(f"bias must hold one number per read-out ({len(readout)}), got shape {offset.shape}")
        if len(readout) == 0:  # no read-out at all (e.g. a dictionary with no live feature): an empty screen
            empty = self.along(np.zeros((1, channels)), **thresholds)
            per_readout = ("curve", "line", "corner", "blank", "curve_selectivity", "corner_margin", "orientation_selectivity",
                           "strength", "preferred", "best_radius", "score", "polarity")
            return dataclasses.replace(empty, **{name: getattr(empty, name)[..., :0] for name in per_readout
                                                 if getattr(empty, name, None) is not None})
        polarities = dict(self.by_polarity) or {polarity_of(self.style): self}
        # The units' yardstick over every polarity drawn, as the screen itself measured it.
        typical = typical_best_curve([part.curve.reshape(-1, channels).max(0) for part in polarities.values()])
        screens = {}
        for name, part in polarities.items():
            raw = np.concatenate([part.curve.reshape(-1, channels), part.line.reshape(-1, channels),
                                  part.corner.reshape(-1, channels), np.zeros((1, channels))]) + part.blank
            screens[name] = _scored(raw @ readout.T + offset, part._layout(), typical)
            screens[name].polarity = np.full(len(readout), name, dtype=object)
        if len(screens) == 1:
            return next(iter(screens.values()))
        return merge_polarities(screens, thresholds)

    def _layout(self) -> dict:
        """What was drawn and how it was read (every field but the per-unit numbers): the frame of a re-scored screen."""
        return dict(layer=self.layer, placement=self.placement, pre_activation=self.pre_activation, style=dict(self.style),
                    orientations=self.orientations, radii=self.radii, line_angles=self.line_angles,
                    line_offsets=self.line_offsets, corner_angles=self.corner_angles)

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


@dataclass(frozen=True)
class CurveDrawing:
    """What the curve screen draws and how it reads each unit; sizes are fractions of the receptive field.

    ``orientations`` evenly spaced around the circle x ``radii`` for curves; lines of the same ``length``
    (``orientations // 2`` directions x ``line_offsets``); corners (``orientations`` x ``corner_angles``);
    strokes ``width`` wide. ``polarity`` "both" (default), "dark" or "light", or explicit ``foreground`` /
    ``background`` grey levels; ``size`` the input size (default: :func:`~helpers.probing.fitting_size`);
    ``pre_activation`` (default: before the non-linearity where the layer has one) and ``neighbourhood``
    as in :func:`~helpers.probing.unit_responses`.
    """

    orientations: int = 16
    radii: tuple[float, ...] = (0.06, 0.1, 0.16, 0.25)
    length: float = 0.35
    width: float = 0.03
    line_offsets: tuple[float, ...] = (-0.08, 0.0, 0.08)
    corner_angles: tuple[float, ...] = (60.0, 90.0, 120.0)
    pre_activation: bool | None = None
    neighbourhood: int = 0
    size: int | None = None
    foreground: float | None = None
    background: float | None = None
    polarity: Literal["both", "dark", "light"] | None = None

    def __post_init__(self) -> None:
        for name in ("radii", "line_offsets", "corner_angles"):
            object.__setattr__(self, name, tuple(getattr(self, name)))
        if self.orientations < 4:
            raise ValueError(f"orientations must be at least 4 (evenly spaced around 360 degrees), not {self.orientations}.")
        if not self.radii or min(self.radii) <= 0:
            raise ValueError(f"radii must be positive fractions of the receptive field, not {self.radii!r}.")
        if self.polarity not in (None, "both", *POLARITIES):
            raise ValueError(f"polarity must be 'both', 'dark' or 'light', not {self.polarity!r}.")
        if (self.foreground is not None or self.background is not None) and self.polarity is not None:
            raise ValueError("Give either polarity= or explicit foreground/background colours, not both.")

    def colours(self) -> dict[str, tuple[float, float]]:
        """{name: (foreground, background)} of each polarity drawn."""
        if self.foreground is not None or self.background is not None:
            return {"custom": (0.0 if self.foreground is None else self.foreground, 1.0 if self.background is None else self.background)}
        wanted = POLARITIES if self.polarity in (None, "both") else (self.polarity,)
        return {p: POLARITY_COLOURS[p] for p in wanted}


def screen_curves(
    model: CircuitModel,
    layer: str,
    drawing: CurveDrawing = CurveDrawing(),
    *,
    thresholds: dict[str, float] | None = None,
    batch_size: int = 64,
    progress: bool = False,
) -> CurveScreen:
    """Screen every unit of ``layer`` with the curves, lines and corners of ``drawing`` (see :func:`find_curve_family` for the scores).

    **Contrast polarity.** By default (``polarity="both"``) every stimulus is drawn twice, dark on a
    light ground (``"dark"``: foreground 0, background 1) and light on a dark ground (``"light"``), in
    one batched pass; each unit is scored in both and keeps its better polarity (the one in which it
    passes the family's ``thresholds``, e.g. ``{"min_strength": 0.6}``, then the higher score), recorded in
    ``screen.polarity``; ``screen.polarity_screen(p)`` holds each polarity's own screen. Some units
    answer only one polarity, so a one-polarity screen would depend on which way round curves are drawn.

    Stimuli are centred on the centre unit's receptive field (:func:`~helpers.probing.place_on_receptive_field`).
    All responses are taken relative to the blank image.
    """
    pre_activation = default_pre_activation(model, layer) if drawing.pre_activation is None else drawing.pre_activation
    placement = place_on_receptive_field(model, layer, drawing.size or fitting_size(model, layer))
    angles = np.arange(drawing.orientations) * 360.0 / drawing.orientations
    line_angles = angles[angles < 180]
    stroke = placement.pixels(drawing.length)
    radii_px = np.array([placement.pixels(r) for r in drawing.radii])
    offsets_px = np.array([placement.pixels(o) for o in drawing.line_offsets])

    batches, styles = [], {}
    for name, (fg, bg) in drawing.colours().items():
        style = {"width": placement.pixels(drawing.width), "foreground": fg, "background": bg}
        styles[name] = style
        curves = placement.draw("curve", {"orientation": angles, "radius": radii_px}, length=stroke, **style)
        lines = torch.stack([
            line(placement.size, angle=a, length=stroke, center=_shifted(placement.center, a + 90, offset), **style)
            for a in line_angles for offset in offsets_px
        ])
        corners = placement.draw("corner", {"orientation": angles, "angle": list(drawing.corner_angles)}, length=stroke, **style)
        batches.append(torch.cat([curves.images, lines, corners.images, blank(placement.size, bg)[None]]))
    per_polarity = batches[0].shape[0]
    # One batched pass for every polarity: every unit of the layer sees every drawing.
    responses = unit_responses(model, layer, torch.cat(batches), pre_activation=pre_activation, neighbourhood=drawing.neighbourhood,
                               batch_size=batch_size, progress=progress).numpy().astype(np.float64)

    parts = [responses[i * per_polarity : (i + 1) * per_polarity] for i in range(len(styles))]
    n_curve = len(angles) * len(radii_px)
    # Strength is measured against one yardstick for every polarity: the layer's typical best curve over all drawings.
    typical = typical_best_curve([(part[:n_curve] - part[-1]).max(0) for part in parts])
    layout = dict(layer=placement.layer, placement=placement, pre_activation=pre_activation, orientations=angles,
                  radii=radii_px, line_angles=line_angles, line_offsets=offsets_px,
                  corner_angles=np.asarray(drawing.corner_angles, dtype=np.float64))
    screens = {name: _scored(parts[index], {**layout, "style": {"length": stroke, **style}}, typical)
               for index, (name, style) in enumerate(styles.items())}
    if len(screens) == 1:
        return next(iter(screens.values()))
    return merge_polarities(screens, thresholds or {})


def _scored(responses: np.ndarray, layout: dict, typical: float) -> CurveScreen:
    """Scores of every unit from raw responses to [curves, lines, corners, blank] drawn in one polarity, in the
    frame ``layout`` (:meth:`CurveScreen._layout`); ``typical`` is the best-curve response that counts as strength 1."""
    angles, radii_px = layout["orientations"], layout["radii"]
    line_angles, offsets_px, corner_angles = layout["line_angles"], layout["line_offsets"], layout["corner_angles"]
    n_curve, n_line = len(angles) * len(radii_px), len(line_angles) * len(offsets_px)
    baseline = responses[-1]
    relative = responses - baseline
    curve_part = relative[:n_curve].reshape(len(angles), len(radii_px), -1)
    line_part = relative[n_curve : n_curve + n_line].reshape(len(line_angles), len(offsets_px), -1)
    corner_part = relative[n_curve + n_line : -1].reshape(len(angles), len(corner_angles), -1)

    curve_selectivity, corner_margin, tuning = screen_scores(curve_part, line_part, corner_part, 0.0)
    best_curve = curve_part.reshape(-1, curve_part.shape[-1]).max(0)
    driven = best_curve > 0
    radius_index = curve_part.max(0).argmax(0)  # (C,) the radius of each unit's strongest curve
    selectivity = orientation_selectivity(tuning, angles)
    preferred = preferred_orientation(tuning, angles)
    firing = responses[:n_curve].max(0) > 0  # after a ReLU-like non-linearity the unit is active on its best curve
    strength = np.where(driven, best_curve / max(typical, 1e-12), 0.0)
    score = np.where(firing & driven, np.clip(curve_selectivity, 0, None) * selectivity, 0.0)
    return CurveScreen(
        **layout, curve=curve_part, line=line_part, corner=corner_part, blank=baseline, curve_selectivity=curve_selectivity,
        corner_margin=corner_margin, orientation_selectivity=selectivity, strength=strength, preferred=preferred,
        best_radius=radii_px[radius_index], score=score,
    )


def typical_best_curve(best_curves: Sequence[np.ndarray]) -> float:
    """The 90th percentile of the units' best curve responses (minus blank) where positive, over every polarity drawn."""
    values = np.concatenate([b[b > 0] for b in best_curves])
    return float(np.percentile(values, 90)) if len(values) else 1.0


def merge_polarities(screens: dict[str, CurveScreen], thresholds: dict[str, float]) -> CurveScreen:
    """One screen that keeps, for each unit, its better polarity: the one it passes the family's ``thresholds`` in
    (:meth:`Family.passes`), then the higher score."""
    names = list(screens)
    keys = np.stack([CurveFamily.passes(screens[n], **thresholds) * 2.0 + screens[n].score for n in names])  # (P, C)
    choice = keys.argmax(0)  # ties go to the first polarity drawn ("dark")

    def pick(attribute: str) -> np.ndarray:
        stacked = np.stack([getattr(screens[n], attribute) for n in names])  # (P, ..., C)
        return np.take_along_axis(stacked, choice.reshape((1,) + (1,) * (stacked.ndim - 2) + (-1,)), axis=0)[0]

    first = screens[names[0]]
    merged = CurveScreen(
        **first._layout(),
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

    ``options`` are the fields of :class:`CurveDrawing` (what is drawn and read), :func:`screen_curves`'
    ``batch_size`` and ``progress``, and :func:`curve_family`'s ``max_units`` and thresholds (which the
    screen also uses to choose each unit's better polarity).

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
    return find_family(model, layer, screen_curves, CurveFamily, options, drawing=CurveDrawing)


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
