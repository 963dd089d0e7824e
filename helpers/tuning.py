"""Tuning: how units respond to synthetic stimuli and to rotated photographs, and curve-family finding.

Everything here is batched: one forward pass per batch of stimuli reads *every* unit asked for
(a whole layer costs the same as one unit), through :func:`helpers.activations.capture`.

- :class:`Placement` / :func:`place_on_receptive_field` / :func:`fitting_size`: where to draw a
  stimulus so that a layer's centre unit sees it, scaled to the receptive field.
- :func:`unit_responses`: responses of units (or a whole layer) to any batch of stimuli;
  :func:`orientation_tuning`: responses to curves at every orientation.
- :func:`preferred_orientation`, :func:`orientation_selectivity`, :func:`largest_gap`: reading
  orientation tuning curves, where orientations are degrees on the full circle (see
  :mod:`helpers.stimuli.curves` for the convention: the direction a curve's convex side faces).
- :func:`find_curve_family`: screens every unit of a layer with curves, lines and corners and
  returns the units that prefer curves of one orientation, sorted around the circle.
- :func:`centred_examples`, :func:`rotation_tuning`, :func:`joint_rotation_tuning`: rotate real
  images about the receptive field's centre and measure every family member (the paper's
  "rotated dataset examples").
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Iterable, Literal, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from .activations import capture, receptive_field
from .models import CircuitModel, Unit
from .stimuli.curves import StimulusSet, blank, line, stimulus_grid

UnitsOrLayer = str | Unit | Sequence[str | Unit]


# --- where to draw -------------------------------------------------------------------------
@dataclass(frozen=True)
class Placement:
    """Where the centre unit of ``layer`` looks, for ``size``-pixel inputs.

    ``center`` is the (x, y) pixel position of the middle of its receptive field (pixel centres at
    half-integers, as in :mod:`helpers.stimuli.curves`); ``extent`` is the side of that field in
    pixels (clipped to the image). Stimulus sizes in this module are fractions of ``extent``.
    """

    layer: str
    size: int
    center: tuple[float, float]
    extent: float

    def pixels(self, fraction: float) -> float:
        """A length given as a fraction of the receptive field, in pixels."""
        return float(fraction) * self.extent

    def draw(self, kind: str, sweep: dict[str, Sequence[float]], **fixed: object) -> StimulusSet:
        """A :func:`~helpers.stimuli.curves.stimulus_grid` drawn at this size, centred on the receptive field."""
        return stimulus_grid(kind, sweep, size=self.size, center=self.center, **fixed)


def place_on_receptive_field(model: CircuitModel, layer: str, size: int | None = None) -> Placement:
    """The :class:`Placement` of ``layer``'s centre unit at ``size`` (default: the model's input size)."""
    size = int(size or model.input_size)
    top, left, bottom, right = receptive_field(model, layer, size)
    return Placement(model.layer(layer).name, size, ((left + right) / 2, (top + bottom) / 2), float(max(bottom - top, right - left)))


def fitting_size(model: CircuitModel, layer: str, multiple: int = 32) -> int:
    """The smallest input size (a multiple of ``multiple``, at most the model's) that holds the centre unit's whole receptive field.

    The centre unit sees nothing outside its receptive field, so a stimulus drawn at this size gives
    exactly the response it gives at full size, for less computation.
    """
    for size in range(multiple, model.input_size, multiple):
        top, left, bottom, right = receptive_field(model, layer, size)
        if top > 0 and left > 0 and bottom < size and right < size:
            return size
    return model.input_size


# --- responses -----------------------------------------------------------------------------
def resolve_units(model: CircuitModel, units_or_layer: UnitsOrLayer) -> list[Unit]:
    """Checked units from a layer name (all its channels), one unit, or a list of units."""
    if isinstance(units_or_layer, Unit):
        return [model.unit(units_or_layer)]
    if isinstance(units_or_layer, str):
        if ":" in units_or_layer:
            return [model.unit(units_or_layer)]
        return model.units(units_or_layer)
    units = [model.unit(u) for u in units_or_layer]
    if not units:
        raise ValueError("No units given: pass a layer name, a unit like 'blocks.3.1:7', or a list of units.")
    return units


def unit_responses(
    model: CircuitModel,
    units_or_layer: UnitsOrLayer,
    stimuli: torch.Tensor | StimulusSet,
    *,
    at: Literal["center", "max"] = "center",
    neighbourhood: int = 0,
    pre_activation: bool = False,
    batch_size: int = 64,
    progress: bool = False,
) -> torch.Tensor:
    """Responses (N, U) of units to N stimuli, one forward pass per batch for all units together.

    ``at="center"`` reads the centre position of each unit's map (the paper's neuron), or with
    ``neighbourhood=k`` the maximum over the (2k+1) x (2k+1) positions around it, which forgives a
    stimulus that lands a little off the centre; ``at="max"`` takes the maximum over the whole map.
    ``pre_activation=True`` reads values before the non-linearity (negative values show inhibition).
    """
    from tqdm.auto import tqdm

    images = stimuli.images if isinstance(stimuli, StimulusSet) else stimuli
    if images.dim() == 3:
        images = images[None]
    if images.dim() != 4 or images.shape[1] != 3:
        raise ValueError(f"stimuli must be images of shape (N, 3, H, W), got {tuple(images.shape)}.")
    if at not in ("center", "max"):
        raise ValueError(f"at must be 'center' or 'max', not {at!r}.")
    if neighbourhood < 0:
        raise ValueError(f"neighbourhood must be >= 0 positions, not {neighbourhood}.")
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, not {batch_size}.")
    units = resolve_units(model, units_or_layer)
    layers = list(dict.fromkeys(u.layer for u in units))
    outputs = []
    starts = range(0, images.shape[0], batch_size)
    with torch.inference_mode():
        for start in tqdm(starts, desc="responses", disable=not progress):
            maps = capture(model, images[start : start + batch_size], layers, pre_activation=pre_activation)
            columns = []
            for unit in units:
                value = maps[unit.layer][:, unit.channel].float()
                if at == "max":
                    columns.append(value.flatten(1).amax(1))
                    continue
                row, col = value.shape[1] // 2, value.shape[2] // 2
                window = value[:, max(row - neighbourhood, 0) : row + neighbourhood + 1, max(col - neighbourhood, 0) : col + neighbourhood + 1]
                columns.append(window.flatten(1).amax(1))
            outputs.append(torch.stack(columns, dim=1).cpu())
    return torch.cat(outputs).clone()


def default_pre_activation(model: CircuitModel, layer: str) -> bool:
    """True when the layer has a separate pre-activation (the tuning functions' default reading)."""
    return model.layer(layer).pre_activation_path is not None


# --- orientation tuning --------------------------------------------------------------------
def _as_numpy(values: np.ndarray | torch.Tensor) -> np.ndarray:
    return values.detach().cpu().numpy() if isinstance(values, torch.Tensor) else np.asarray(values)


def _resultant(responses: np.ndarray | torch.Tensor, orientations: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    """The part of tuning curves (O, U) above half their peak, summed as vectors around the circle, and its total."""
    values = np.clip(_as_numpy(responses).astype(np.float64), 0, None)
    angles = np.radians(np.asarray(orientations, dtype=np.float64))
    if values.ndim == 1:
        values = values[:, None]
    if values.shape[0] != len(angles):
        raise ValueError(f"responses have {values.shape[0]} rows but there are {len(angles)} orientations.")
    weights = np.clip(values - values.max(0) / 2, 0, None)  # only what rises above half the peak counts
    vector = (weights * np.exp(1j * angles)[:, None]).sum(0)
    return vector, weights.sum(0)


def preferred_orientation(
    responses: np.ndarray | torch.Tensor,
    orientations: Sequence[float],
    method: Literal["circular_mean", "argmax"] = "circular_mean",
) -> np.ndarray:
    """Each unit's preferred orientation in degrees [0, 360) from tuning curves (O, U).

    ``circular_mean`` (the default): the direction of the vector sum of the orientations, each
    weighted by how far its response rises above half the unit's peak (so a broad floor of weak
    responses does not pull the estimate; finer than the sampling step); ``argmax``: the
    orientation of the largest response. Subtract a baseline (e.g. the blank image's response) first.
    """
    values = _as_numpy(responses)
    if method == "argmax":
        column = values if values.ndim > 1 else values[:, None]
        return np.asarray(orientations, dtype=np.float64)[column.argmax(0)] % 360
    if method != "circular_mean":
        raise ValueError(f"method must be 'circular_mean' or 'argmax', not {method!r}.")
    vector, _ = _resultant(values, orientations)
    return np.degrees(np.angle(vector)) % 360


def orientation_selectivity(responses: np.ndarray | torch.Tensor, orientations: Sequence[float]) -> np.ndarray:
    """How sharply each unit prefers one orientation, in [0, 1], from tuning curves (O, U).

    The length of the mean vector of the orientations, each weighted by how far its response
    rises above half the unit's peak (one minus the circular variance of that upper half): near 1
    when the strong responses cluster around one orientation, near 0 when they are spread around the
    circle or sit at two opposite orientations (a line detector sees both sides of a curve).
    Units that never respond get 0.
    """
    vector, total = _resultant(responses, orientations)
    return np.where(total > 0, np.abs(vector) / np.maximum(total, 1e-12), 0.0)


def orientation_tuning(
    model: CircuitModel,
    units_or_layer: UnitsOrLayer,
    placement: Placement,
    orientations: Sequence[float] = tuple(range(0, 360, 15)),
    *,
    pre_activation: bool = False,
    **curve_style: object,
) -> np.ndarray:
    """Orientation tuning curves (O, U): responses to curves at each orientation, minus the blank image's.

    Curves are drawn at ``placement`` with ``curve_style`` (``radius``, ``length``, ``width``,
    ``foreground``, ``background``, ``blur``; pixels), one forward pass per batch for all units.
    """
    grid = placement.draw("curve", {"orientation": list(orientations)}, **curve_style)
    background = curve_style.get("background", 1.0)
    images = torch.cat([grid.images, blank(placement.size, background)[None]])
    values = unit_responses(model, units_or_layer, images, pre_activation=pre_activation).numpy().astype(np.float64)
    return values[:-1] - values[-1]


def largest_gap(orientations: Iterable[float]) -> float:
    """The widest arc of the circle (degrees) containing none of ``orientations`` (360 if there is one or none)."""
    angles = np.sort(np.asarray(list(orientations), dtype=np.float64) % 360)
    if len(angles) < 2:
        return 360.0
    return float(np.diff(np.concatenate([angles, angles[:1] + 360])).max())


def angle_difference(a: np.ndarray | float, b: np.ndarray | float) -> np.ndarray:
    """The unsigned difference between angles in degrees, in [0, 180]."""
    return np.abs((np.asarray(a) - np.asarray(b) + 180) % 360 - 180)


# --- the curve-family screen ---------------------------------------------------------------
@dataclass
class CurveScreen:
    """Every unit of a layer against curves, lines and corners (what :func:`find_curve_family` measured).

    Responses are relative to the blank image (``response - blank``), shaped with the stimulus axes
    first and the layer's channels last. Sizes are in pixels; orientations in degrees.
    """

    layer: str
    placement: Placement
    pre_activation: bool
    style: dict  # length, width (pixels), foreground and background of every stimulus
    orientations: np.ndarray  # (O,) curve and corner orientations
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
    orientation_selectivity: np.ndarray  # (C,) of the tuning curve at the best radius
    strength: np.ndarray  # (C,) best curve response / the layer's 90th percentile of it
    preferred: np.ndarray  # (C,) preferred orientation, degrees
    best_radius: np.ndarray  # (C,) radius of the strongest curve, pixels
    score: np.ndarray  # (C,) curve_selectivity * orientation_selectivity for units that fire, else 0
    #: (C,) "dark" (dark curves on a light ground) or "light" (light on dark): the contrast polarity each unit's
    #: numbers above come from (its better one when the screen drew both); None on screens made before polarities.
    polarity: np.ndarray | None = None
    #: per polarity screened: the screen of that polarity alone (its own style, blank and scores for every unit)
    by_polarity: dict = field(default_factory=dict, repr=False)

    def tuning(self) -> np.ndarray:
        """Orientation tuning curves (O, C): each unit's response at its best radius, per orientation."""
        index = np.abs(self.radii[:, None] - self.best_radius[None, :]).argmin(0)
        return np.take_along_axis(self.curve, index[None, None, :], axis=1)[:, 0]

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


class OrientedFamily:
    """What every family of orientation-tuned units shares (curve detectors, high-low detectors...).

    Subclasses are dataclasses with at least ``units`` (list of Unit) and ``orientations`` (degrees).
    """

    units: list[Unit]
    orientations: np.ndarray

    def __len__(self) -> int:
        return len(self.units)

    @property
    def channels(self) -> list[int]:
        """The members' channel indices, in family order."""
        return [u.channel for u in self.units]

    def largest_gap(self) -> float:
        """The widest arc of orientations (degrees) that no member prefers."""
        return largest_gap(self.orientations)


@dataclass
class CurveFamily(OrientedFamily):
    """A layer's curve detectors, sorted by preferred orientation (counter-clockwise from 0 = right)."""

    layer: str
    units: list[Unit]
    orientations: np.ndarray  # (F,) preferred orientation of each member, degrees
    curve_selectivity: np.ndarray  # (F,)
    orientation_selectivity: np.ndarray  # (F,)
    score: np.ndarray  # (F,)
    screen: CurveScreen = field(repr=False)
    #: (F,) "dark" or "light": the contrast polarity in which each member was found (its better one)
    polarity: np.ndarray | None = None

    def __post_init__(self) -> None:
        if self.polarity is None:
            fallback = self.screen.polarity[self.channels] if self.screen.polarity is not None else [polarity_of(self.screen.style)] * len(self.units)
            self.polarity = np.asarray(fallback, dtype=object)

    def tuning(self) -> np.ndarray:
        """The members' orientation tuning curves (O, F) over ``screen.orientations``."""
        return self.screen.tuning()[:, self.channels]

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
        values = unit_responses(model, self.units, images, pre_activation=self.screen.pre_activation)
        blank_values = self.screen.polarity_screen(polarity).blank if polarity else self.screen.blank
        return values.numpy().astype(np.float64) - blank_values[self.channels]

    def subset(self, indices: Sequence[int]) -> "CurveFamily":
        """The members at ``indices`` (positions in this family), in that order, as a family."""
        keep = [int(i) for i in indices]
        return CurveFamily(self.layer, [self.units[i] for i in keep], self.orientations[keep], self.curve_selectivity[keep],
                           self.orientation_selectivity[keep], self.score[keep], self.screen, self.polarity[keep])

    def spread(self, count: int) -> "CurveFamily":
        """At most ``count`` members spread around the circle: the best-scoring one in each of ``count`` equal sectors."""
        if count < 1:
            raise ValueError(f"count must be at least 1, not {count}.")
        sectors = np.floor((self.orientations % 360) / (360 / count)).astype(int)
        keep = [int(np.flatnonzero(sectors == s)[np.argmax(self.score[sectors == s])]) for s in np.unique(sectors)]
        return self.subset(keep)

    def table(self) -> str:
        """One line per member: unit, preferred orientation, scores and contrast polarity, ready to print."""
        rows = [f"{'unit':<16} {'orientation':>11} {'curve sel.':>10} {'orient. sel.':>12} {'polarity':>9}"]
        for unit, angle, curve_sel, orient_sel, polarity in zip(self.units, self.orientations, self.curve_selectivity,
                                                               self.orientation_selectivity, self.polarity):
            rows.append(f"{str(unit):<16} {angle:>10.0f}° {curve_sel:>10.2f} {orient_sel:>12.2f} {polarity:>9}")
        if not self.units:
            rows.append("(no member: no unit passed the screen's thresholds)")
        return "\n".join(rows)


def find_curve_family(
    model: CircuitModel,
    layer: str,
    *,
    orientations: int = 16,
    radii: Sequence[float] = (0.06, 0.1, 0.16, 0.25),
    length: float = 0.35,
    width: float = 0.03,
    line_offsets: Sequence[float] = (-0.08, 0.0, 0.08),
    corner_angles: Sequence[float] = (60.0, 90.0, 120.0),
    min_curve_selectivity: float = 0.5,
    min_orientation_selectivity: float = 0.7,
    min_strength: float = 0.5,
    max_units: int | None = None,
    pre_activation: bool | None = None,
    neighbourhood: int = 0,
    size: int | None = None,
    foreground: float | None = None,
    background: float | None = None,
    polarity: Literal["both", "dark", "light"] | None = None,
    batch_size: int = 64,
    progress: bool = False,
) -> CurveFamily:
    """Screen every unit of ``layer`` and return its curve family, sorted by preferred orientation.

    **Contrast polarity.** By default (``polarity="both"``) every stimulus is drawn twice, dark on a
    light ground (``"dark"``: foreground 0, background 1) and light on a dark ground (``"light"``), in
    one batched pass; each unit is scored in both and keeps its better polarity (the one in which it
    passes the thresholds, then the higher score), recorded in ``family.polarity`` and
    ``screen.polarity``; ``screen.polarity_screen(p)`` holds each polarity's own screen. Some units
    answer only one polarity, so a one-polarity screen would depend on which way round curves are
    drawn. ``polarity="dark"`` or ``"light"``, or explicit ``foreground``/``background`` values,
    screen one polarity only.

    Stimuli are centred on the centre unit's receptive field (:func:`place_on_receptive_field`), at
    ``size`` pixels (default: :func:`fitting_size`, which gives the same responses as full size);
    ``radii``, ``length``, ``width`` and ``line_offsets`` are fractions of its side. Each unit sees
    curves (``orientations`` evenly spaced around the circle x ``radii``), straight lines of the same
    length (``orientations // 2`` directions x ``line_offsets``), corners (``orientations`` x
    ``corner_angles``) and a blank image. All responses are taken relative to the blank image.

    Scores, per unit (responses minus the blank image's):

    - **curve selectivity** = (best curve - best line) / best curve: the share of its strongest
      curve response that no straight line reaches (1: lines do nothing; 0: a line does as well;
      negative: a line does better).
    - **corner margin** = (best curve - best corner) / best curve: negative when a corner beats
      every curve (a corner detector, not a curve detector). Curve detectors may like corners too.
    - **orientation selectivity**: :func:`orientation_selectivity` of its tuning curve (responses to
      curves of its best radius at every orientation): 1 for a single orientation, 0 for none in
      particular (a line detector, which likes both sides of a curve, scores near 0).
    - **preferred orientation**: the circular mean of that tuning curve (:func:`preferred_orientation`).
    - **strength**: its best curve response over the layer's 90th percentile of that number, so
      units our drawings barely move are not called curve detectors.

    Members: units active (positive after the non-linearity) on their best curve, with curve
    selectivity, orientation selectivity and strength above the thresholds and a corner margin
    >= 0; at most ``max_units`` of them, by score = curve selectivity x orientation selectivity.
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
    screens = {}
    for index, (name, style) in enumerate(styles.items()):
        screens[name] = score_screen(
            parts[index], placement, pre_activation,
            {"length": stroke, **style}, angles, radii_px, line_angles, offsets_px, corner_angles, typical,
        )
        screens[name].polarity = np.full(len(screens[name].score), polarity_of(style), dtype=object)
    if len(screens) == 1:
        screen = next(iter(screens.values()))
    else:
        screen = merge_polarities(screens, (min_curve_selectivity, min_orientation_selectivity, min_strength))
    return family_from_screen(screen, min_curve_selectivity, min_orientation_selectivity, min_strength, max_units)



#: The two contrast polarities of the curve screen and their (foreground, background) grey levels.
POLARITIES: tuple[str, ...] = ("dark", "light")
POLARITY_COLOURS: dict[str, tuple[float, float]] = {"dark": (0.0, 1.0), "light": (1.0, 0.0)}


def polarity_of(style: dict) -> str:
    """ "dark" when a style draws darker strokes than its background, else "light"."""
    return "dark" if float(np.mean(style.get("foreground", 0.0))) <= float(np.mean(style.get("background", 1.0))) else "light"


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
    """(C,) whether each unit passes the family's thresholds in this screen."""
    return ((screen.score > 0) & (screen.curve_selectivity >= min_curve_selectivity) & (screen.corner_margin >= 0)
            & (screen.orientation_selectivity >= min_orientation_selectivity) & (screen.strength >= min_strength))


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


def family_from_screen(
    screen: CurveScreen,
    min_curve_selectivity: float = 0.5,
    min_orientation_selectivity: float = 0.7,
    min_strength: float = 0.5,
    max_units: int | None = None,
) -> CurveFamily:
    """Pick a family from a finished screen with other thresholds (no new forward pass)."""
    chosen = np.nonzero(
        (screen.score > 0)
        & (screen.curve_selectivity >= min_curve_selectivity)
        & (screen.corner_margin >= 0)
        & (screen.orientation_selectivity >= min_orientation_selectivity)
        & (screen.strength >= min_strength)
    )[0]
    chosen = chosen[np.argsort(-screen.score[chosen], kind="stable")][:max_units]
    chosen = chosen[np.argsort(screen.preferred[chosen], kind="stable")]
    return CurveFamily(
        layer=screen.layer,
        units=[Unit(screen.layer, int(c)) for c in chosen],
        orientations=screen.preferred[chosen],
        curve_selectivity=screen.curve_selectivity[chosen],
        orientation_selectivity=screen.orientation_selectivity[chosen],
        score=screen.score[chosen],
        screen=screen,
        polarity=(screen.polarity[chosen] if screen.polarity is not None
                  else np.full(len(chosen), polarity_of(screen.style), dtype=object)),
    )


def _shifted(center: tuple[float, float], direction: float, distance: float) -> tuple[float, float]:
    """``center`` moved ``distance`` pixels towards ``direction`` (degrees, counter-clockwise from right)."""
    radians = math.radians(direction)
    return center[0] + distance * math.cos(radians), center[1] - distance * math.sin(radians)


# --- rotating real images ------------------------------------------------------------------
def rotate_about(images: torch.Tensor, degrees: float, center: tuple[float, float]) -> torch.Tensor:
    """Rotate images (N, 3, H, W) counter-clockwise by ``degrees`` about ``center`` (x, y), mirroring at the border.

    A curve of orientation θ becomes a curve of orientation θ + degrees.
    """
    if images.dim() != 4:
        raise ValueError(f"images must be (N, 3, H, W), got {tuple(images.shape)}.")
    _, _, height, width = images.shape
    ys, xs = torch.meshgrid(torch.arange(height) + 0.5, torch.arange(width) + 0.5, indexing="ij")
    dx, dy = xs - center[0], ys - center[1]
    radians = math.radians(degrees)
    cos, sin = math.cos(radians), math.sin(radians)
    # Each output pixel reads the input at the point that the rotation carries onto it.
    source_x = center[0] + dx * cos - dy * sin
    source_y = center[1] + dx * sin + dy * cos
    grid = torch.stack([source_x / width * 2 - 1, source_y / height * 2 - 1], dim=-1)[None]
    grid = grid.expand(images.shape[0], -1, -1, -1).to(images.dtype)
    return F.grid_sample(images, grid, mode="bilinear", padding_mode="reflection", align_corners=False).clamp(0, 1)


def recentre(image: torch.Tensor, point: tuple[float, float], placement: Placement) -> torch.Tensor:
    """Shift a (3, H, W) image so that ``point`` (x, y) lands on the placement's centre, at its size (mirrored borders)."""
    size = placement.size
    shift_x = round(placement.center[0] - point[0])
    shift_y = round(placement.center[1] - point[1])
    _, height, width = image.shape
    ys = (torch.arange(size) - shift_y).clamp(-(height - 1), 2 * height - 2)
    xs = (torch.arange(size) - shift_x).clamp(-(width - 1), 2 * width - 2)
    mirror = lambda idx, n: torch.where(idx < 0, -idx, torch.where(idx >= n, 2 * (n - 1) - idx, idx))  # noqa: E731
    return image[:, mirror(ys, height)][:, :, mirror(xs, width)]


def centred_examples(
    examples,
    channel: int,
    k: int,
    placement: Placement,
    which: Literal["top", "band"] = "top",
    margin: float = 0.0,
) -> torch.Tensor:
    """A unit's top (or band) dataset examples from :func:`helpers.dataset_examples.scan_layer`, as whole images
    shifted so that the receptive field of the position where the unit fired lands on ``placement``'s centre.

    Examples whose receptive-field centre lies less than ``margin`` pixels from the photograph's
    border are skipped (there the unit sees the image's edge, and the shifted image would be mostly
    mirrored border). Returns (k', 3, S, S) with S the placement's size and k' <= k; ready for
    :func:`rotation_tuning` and :func:`joint_rotation_tuning`.
    """
    if which not in ("top", "band"):
        raise ValueError(f"which must be 'top' or 'band', not {which!r}.")
    source = examples.source
    if source is None:
        raise ValueError("These dataset examples have no image source attached; set .source to the scanned source.")
    indices = examples.top_indices(channel) if which == "top" else examples.band_indices(channel)
    positions = examples.top_positions(channel) if which == "top" else examples.band_positions(channel)
    images = []
    for index, (row, col) in zip(indices.tolist(), positions.tolist()):
        top, left, bottom, right = examples.patch_box(row, col)
        x, y = (left + right) / 2, (top + bottom) / 2
        if min(x, y, examples.image_size - x, examples.image_size - y) < margin:
            continue
        images.append(recentre(source[index], (x, y), placement))
        if len(images) == k:
            break
    if not images:
        return torch.empty(0, 3, placement.size, placement.size)
    return torch.stack(images)


def rotation_tuning(
    model: CircuitModel,
    units_or_layer: UnitsOrLayer,
    images: torch.Tensor,
    angles: Sequence[float],
    center: tuple[float, float],
    *,
    pre_activation: bool = False,
    neighbourhood: int = 0,
    batch_size: int = 64,
    progress: bool = False,
) -> torch.Tensor:
    """Responses (N, A, U) of units to N images each rotated by every angle about ``center``.

    Put the part of the image a unit should see at ``center`` (the receptive field's centre, see
    :func:`recentre`); responses are read at the centre position as in :func:`unit_responses`.
    """
    if images.dim() == 3:
        images = images[None]
    angles = [float(a) for a in angles]
    if not angles:
        raise ValueError("angles must list at least one rotation in degrees.")
    rotated = torch.stack([rotate_about(images, a, center) for a in angles], dim=1)  # (N, A, 3, H, W)
    flat = rotated.flatten(0, 1)
    responses = unit_responses(model, units_or_layer, flat, pre_activation=pre_activation, neighbourhood=neighbourhood,
                               batch_size=batch_size, progress=progress)
    return responses.view(images.shape[0], len(angles), -1)


@dataclass
class JointTuning:
    """Every family member's response to every member's examples, rotated.

    ``responses[s, a, u]`` is unit u's mean response to source unit s's examples rotated by
    ``angles[a]``; those stimuli have orientation ``preferred[s] + angles[a]`` (rotating an image
    turns its curves with it).
    """

    units: list[Unit]
    preferred: np.ndarray  # (U,) degrees, the orientation each member's examples are assumed to have
    angles: np.ndarray  # (A,) rotations, degrees
    responses: np.ndarray  # (U_sources, A, U)

    def by_orientation(self, step: float | None = None, exclude_own: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """Responses (B, U) binned by stimulus orientation (bin centres every ``step`` degrees, default the rotation step).

        With ``exclude_own`` each unit's curve leaves out its own examples, so its peak can only come
        from *other* members' photographs rotated into its orientation (a test that cannot be won by
        simply remembering its favourite images).
        """
        step = float(step or (np.diff(self.angles).min() if len(self.angles) > 1 else 360.0))
        bins = np.arange(0, 360, step)
        count = len(self.units)
        total = np.zeros((len(bins), count))
        seen = np.zeros((len(bins), count))
        for source, base in enumerate(self.preferred):
            use = np.ones(count)
            if exclude_own:
                use[source] = 0.0
            for a, angle in enumerate(self.angles):
                index = int(np.round(((base + angle) % 360) / step)) % len(bins)
                total[index] += self.responses[source, a] * use
                seen[index] += use
        filled = (seen > 0).all(1)
        return bins[filled], total[filled] / seen[filled]

    def peak_orientations(self, method: Literal["circular_mean", "argmax"] = "circular_mean", exclude_own: bool = False) -> np.ndarray:
        """Each member's preferred orientation read from the rotated real images (see :meth:`by_orientation`)."""
        orientations, responses = self.by_orientation(exclude_own=exclude_own)
        return preferred_orientation(responses - responses.min(0), orientations, method)


def joint_rotation_tuning(
    model: CircuitModel,
    units: Sequence[str | Unit],
    preferred: Sequence[float],
    examples: Sequence[torch.Tensor],
    angles: Sequence[float],
    center: tuple[float, float],
    *,
    pre_activation: bool = False,
    batch_size: int = 64,
    progress: bool = False,
) -> JointTuning:
    """Rotate each member's example images (already centred on ``center``) and record every member.

    ``examples[s]`` holds images (N_s, 3, H, W) that make member s fire, e.g. its top dataset
    examples passed through :func:`recentre`; ``preferred[s]`` is the orientation they are taken to
    have (the member's preferred orientation from synthetic curves).
    """
    units = resolve_units(model, list(units))
    if not len(units) == len(preferred) == len(examples):
        raise ValueError(f"Need one preferred orientation and one batch of examples per unit; got {len(units)} units, "
                         f"{len(preferred)} orientations and {len(examples)} example batches.")
    empty = [str(unit) for unit, batch in zip(units, examples) if len(batch) == 0]
    if empty:
        raise ValueError(f"No example images for {', '.join(empty)}: scan more images, or lower centred_examples' margin.")
    table = np.stack([
        rotation_tuning(model, units, batch, angles, center, pre_activation=pre_activation, batch_size=batch_size,
                        progress=progress).mean(0).numpy()
        for batch in examples
    ])
    return JointTuning(units, np.asarray(preferred, dtype=np.float64), np.asarray(angles, dtype=np.float64), table)


#: Where the course studies each model's curve family: the paper's layer for InceptionV1; for the
#: EfficientNet-Lites the layer whose screened family covered the circle best (lesson 02 shows the
#: screen of the candidate layers).
CURVE_LAYERS: dict[str, str] = {
    "inceptionv1": "mixed3b",
    "efficientnet_lite0": "blocks.3.2",
    "efficientnet_lite1": "blocks.3.2",
    "efficientnet_lite2": "blocks.3.2",
    # the Lites' stride (16) and relative depth (0.44); of features.7-10 the family that covered the circle best
    "mobilenet_v2": "features.8",
}


def curve_layer(model: CircuitModel) -> str:
    """The layer in which to look for ``model``'s curve detectors (mixed3b's counterpart if not listed)."""
    from .paper import equivalent_layer

    return CURVE_LAYERS.get(model.name) or equivalent_layer(model, "mixed3b")


# --- does a family's tuning predict which member answers an image? ------------------------------
@dataclass(frozen=True)
class NeighbourTest:
    """Outcome of :func:`neighbour_test`: how often the strongest *other* member faces the image's own member."""

    hits: int  # rows whose strongest other member prefers an orientation within ``tolerance`` of the row's member
    rows: int  # rows tested (images whose member had at least one other member to compare)
    chance: float  # the expected hit rate with the members' orientations shuffled
    p_value: float  # share of shuffles that reach as many hits (one-sided permutation test)
    tolerance: float

    @property
    def rate(self) -> float:
        """The share of rows that hit."""
        return self.hits / self.rows if self.rows else 0.0

    def __str__(self) -> str:
        return (f"{self.hits} of {self.rows} ({self.rate:.0%}) within {self.tolerance:.0f}°, chance {self.chance:.0%}, "
                f"permutation p = {self.p_value:.3g}")


def neighbour_test(
    responses: np.ndarray | torch.Tensor,
    owner: Sequence[int],
    orientations: Sequence[float],
    tolerance: float = 45.0,
    permutations: int = 2000,
    seed: int = 0,
) -> NeighbourTest:
    """Does each image's strongest *other* member prefer about the orientation of the member the image belongs to?

    ``responses`` (N, F): every member's response to N images (e.g. the members' feature
    visualizations, or their top dataset examples); ``owner[n]``: the member image n was made for or
    selected by. Each member's column is z-scored over the images (so a member that answers
    everything strongly does not always win); for image n the owner's own column is left out (it was
    selected or optimized for that member, so it would win for any network), and the strongest
    remaining member is compared with the owner: a hit when their preferred orientations lie within
    ``tolerance`` degrees. Chance and the p-value come from shuffling the orientations among members.
    """
    values = _as_numpy(responses).astype(np.float64)
    owner = np.asarray(owner, dtype=int)
    angles = np.asarray(orientations, dtype=np.float64)
    if values.ndim != 2 or values.shape[0] != len(owner) or values.shape[1] != len(angles):
        raise ValueError(f"responses must be (images, members) = ({len(owner)}, {len(angles)}), got {values.shape}.")
    if values.shape[1] < 2 or values.shape[0] == 0:
        return NeighbourTest(0, 0, 0.0, 1.0, tolerance)
    spread = values.std(0)
    z = (values - values.mean(0)) / np.where(spread > 0, spread, 1.0)
    z[np.arange(len(owner)), owner] = -np.inf
    winner = z.argmax(1)

    def hits(theta: np.ndarray) -> int:
        return int(np.sum(angle_difference(theta[winner], theta[owner]) <= tolerance))

    observed = hits(angles)
    rng = np.random.default_rng(seed)
    shuffled = np.array([hits(rng.permutation(angles)) for _ in range(permutations)])
    p_value = float((np.sum(shuffled >= observed) + 1) / (permutations + 1))
    return NeighbourTest(observed, len(owner), float(shuffled.mean() / len(owner)), p_value, tolerance)
