"""A curve detector written by hand ("artificial artificial neural network"), every weight set on purpose.

Curve Circuits (Cammarata et al., 2021) rebuilt InceptionV1's curve detectors with hand-set weights
and found they behave like the trained ones. This module does the same from the image up, in two
hand-made layers, so a student can change every setting and see what it does:

1. **Line detectors** (:func:`line_energy`): at each of ``orientations`` directions, a quadrature pair
   of oriented filters (a second derivative of a Gaussian across the line, which sees thin lines,
   and a first derivative, which sees edges), combined as an energy ``sqrt(even² + odd²)`` so that
   dark-on-light and light-on-dark strokes count the same. Grey level only: colour is ignored.
2. **The curve unit** (:func:`curve_kernel`): a weight map over (line orientation, position). Along
   an arc of ``radius`` whose convex side faces ``orientation`` and whose midpoint sits at the
   unit's centre, line detectors *tangent* to the arc excite the unit (orientation tuning width
   ``tangent_spread``). Along the mirror-image arc (the opposite curve, bulging the other way) the
   tangent line detectors inhibit it with strength ``inhibition``, and at every point of the arc
   line detectors *across* the tangent inhibit with strength ``cross_inhibition``.
   A straight line through the centre touches both arcs equally, so excitation and inhibition
   cancel; the opposite curve is inhibited outright; the preferred curve wins.

The unit's response to an image is the weight map applied at one position (the receptive-field
centre by default): a dot product, then a ReLU when ``rectify``. Angles follow
:mod:`helpers.stimuli.curves`: degrees counter-clockwise from "right", a curve's orientation being
the direction its convex side faces. Lengths are in pixels. Everything is deterministic.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, fields, replace
from typing import TYPE_CHECKING, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from .stats import pearson
from .stimuli.curves import line

if TYPE_CHECKING:  # only for type hints: the comparisons take a model and a family found by helpers.tuning
    from .models import CircuitModel
    from .families import CurveFamily, CurveScreen


@dataclass(frozen=True)
class CurveDetectorSettings:
    """Every hand-set parameter of the cleanroom curve detector (lengths in pixels, angles in degrees)."""

    orientation: float = 90.0  # the direction the preferred curve's convex side faces
    radius: float = 20.0  # radius of the preferred arc
    arc_length: float = 40.0  # how much of the arc (measured along it) excites the unit
    tangent_spread: float = 15.0  # orientation tuning width of the excitatory line detectors
    inhibition: float = 1.0  # weight of the opposite (mirror-image) arc, relative to the excitation
    cross_inhibition: float = 0.3  # weight of line detectors across the arc, relative to the excitation
    position_blur: float = 2.0  # how far off the arc (Gaussian sigma) a line still counts
    line_scale: float = 1.5  # sigma of the line detectors across the line
    orientations: int = 12  # number of line-detector directions over 180 degrees

    def __post_init__(self) -> None:
        for name in ("radius", "arc_length", "tangent_spread", "position_blur", "line_scale"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be positive, not {getattr(self, name)!r}.")
        for name in ("inhibition", "cross_inhibition"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be zero or positive (it is a strength), not {getattr(self, name)!r}.")
        if not isinstance(self.orientations, (int, np.integer)) or self.orientations < 4:
            raise ValueError(f"orientations must be an integer of at least 4, not {self.orientations!r}.")

    def rotated_to(self, orientation: float) -> "CurveDetectorSettings":
        """The same detector turned to prefer ``orientation``."""
        return replace(self, orientation=float(orientation) % 360)


def settings_from(**overrides: float) -> CurveDetectorSettings:
    """Settings with some fields changed, e.g. ``settings_from(radius=30)``; unknown names raise an error."""
    known = {f.name for f in fields(CurveDetectorSettings)}
    unknown = set(overrides) - known
    if unknown:
        raise ValueError(f"Unknown cleanroom settings {sorted(unknown)}; known: {sorted(known)}.")
    return CurveDetectorSettings(**overrides)


# --- stage 1: line detectors -------------------------------------------------------------------
def line_directions(count: int) -> np.ndarray:
    """The directions (degrees in [0, 180)) that the line detectors run along."""
    return np.arange(count) * 180.0 / count


def line_filters(count: int, scale: float, device: torch.device | str | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Even (line) and odd (edge) filters (count, 1, k, k), each zero-mean and unit-norm, one per direction, on ``device``."""
    radius = max(2, math.ceil(3.5 * scale))
    coords = torch.arange(-radius, radius + 1, dtype=torch.float64, device=device)
    y, x = torch.meshgrid(-coords, coords, indexing="ij")  # y up, as in the stimuli's angles
    evens, odds = [], []
    for direction in line_directions(count):
        angle = math.radians(direction)
        along = x * math.cos(angle) + y * math.sin(angle)
        across = -x * math.sin(angle) + y * math.cos(angle)
        envelope = torch.exp(-0.5 * (across / scale) ** 2 - 0.5 * (along / (2 * scale)) ** 2)
        even = (1 - (across / scale) ** 2) * envelope
        odd = across / scale * envelope
        evens.append(even - even.mean())
        odds.append(odd - odd.mean())
    stack = lambda filters: torch.stack([f / f.norm() for f in filters])[:, None].float()  # noqa: E731
    return stack(evens), stack(odds)


def line_energy(images: torch.Tensor, count: int = 12, scale: float = 1.5) -> torch.Tensor:
    """Oriented line/edge energy (N, count, H, W) of images (N, 3, H, W) in [0, 1]; polarity and colour ignored."""
    if images.dim() == 3:
        images = images[None]
    if images.dim() != 4 or images.shape[1] != 3:
        raise ValueError(f"images must be (N, 3, H, W) in [0, 1], got {tuple(images.shape)}.")
    return quadrature_energy(images, *line_filters(count, scale, images.device))


def quadrature_energy(images: torch.Tensor, even: torch.Tensor, odd: torch.Tensor) -> torch.Tensor:
    """Energy sqrt(even² + odd²) (N, count, H, W) of the images' grey level (N, 3, H, W) under a quadrature pair of
    filters (count, 1, k, k), the border repeated so that it reads as no edge: :func:`line_energy` with given filters."""
    grey = images.float().mean(dim=1, keepdim=True)
    pad = even.shape[-1] // 2
    padded = F.pad(grey, (pad, pad, pad, pad), mode="replicate")
    return torch.sqrt(F.conv2d(padded, even.to(grey)) ** 2 + F.conv2d(padded, odd.to(grey)) ** 2 + 1e-12)


# --- stage 2: the curve unit's weights ---------------------------------------------------------
def _orientation_tuning(directions: np.ndarray, tangent: np.ndarray, spread: float) -> np.ndarray:
    """How well line detectors (D,) match tangent directions (P,), modulo 180: (P, D) in [0, 1]."""
    difference = np.abs((directions[None, :] - tangent[:, None] + 90) % 180 - 90)
    return np.exp(-0.5 * (difference / spread) ** 2)


def _arc_points(orientation: float, radius: float, arc_length: float, step: float = 0.5) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Points (x, y up) along an arc whose midpoint is the origin, and the tangent direction at each."""
    half = min(arc_length / radius, 2 * math.pi) / 2
    count = max(3, int(math.ceil(2 * half * radius / step)) + 1)
    offsets = np.linspace(-half, half, count)
    facing = math.radians(orientation)
    angles = facing + offsets
    x = radius * (np.cos(angles) - math.cos(facing))
    y = radius * (np.sin(angles) - math.sin(facing))
    tangent = (np.degrees(angles) + 90) % 180
    return x, y, tangent


def curve_kernel(settings: CurveDetectorSettings = CurveDetectorSettings(), device: torch.device | str | None = None) -> torch.Tensor:
    """The curve unit's weights over (line direction, row, column): (orientations, k, k) on ``device``; red excites, blue inhibits.

    Excitation sums to 1; the opposite arc sums to ``-inhibition`` and the cross-oriented detectors to
    ``-cross_inhibition``, so the settings are relative strengths whatever the radius.
    """
    s = settings
    extent = int(math.ceil(min(s.arc_length / 2, 2 * s.radius) + 3 * s.position_blur)) + 1
    coords = np.arange(-extent, extent + 1, dtype=np.float64)
    directions = line_directions(s.orientations)

    def arc_map(orientation: float, tangent_offset: float) -> np.ndarray:
        x, y, tangent = _arc_points(orientation, s.radius, s.arc_length)
        tuning = _orientation_tuning(directions, (tangent + tangent_offset) % 180, s.tangent_spread)  # (P, D)
        # A Gaussian bump around each arc point, separable into rows (y) and columns (x).
        rows = np.exp(-0.5 * (coords[::-1][None, :] - y[:, None]) ** 2 / s.position_blur**2)  # (P, k), row 0 on top
        cols = np.exp(-0.5 * (coords[None, :] - x[:, None]) ** 2 / s.position_blur**2)  # (P, k)
        weights = ((tuning[:, :, None] * rows[:, None, :]).reshape(len(x), -1).T @ cols).reshape(len(directions), len(coords), len(coords))
        return weights / weights.sum()

    kernel = arc_map(s.orientation, 0.0)
    kernel = kernel - s.inhibition * arc_map(s.orientation + 180, 0.0)
    kernel = kernel - s.cross_inhibition * arc_map(s.orientation, 90.0)
    return torch.from_numpy(kernel).float().to(device)


# --- responses ---------------------------------------------------------------------------------
def _center_pixel(size: tuple[int, int], center: tuple[float, float] | None) -> tuple[int, int]:
    height, width = size
    cx, cy = (width / 2, height / 2) if center is None else center
    return int(math.floor(cy)), int(math.floor(cx))  # pixel (row, col) containing the point


def cleanroom_responses(
    images: torch.Tensor,
    orientations: Sequence[float] | float,
    settings: CurveDetectorSettings = CurveDetectorSettings(),
    *,
    center: tuple[float, float] | None = None,
    rectify: bool = False,
) -> torch.Tensor:
    """Responses (N, F) of hand-built curve units, one per orientation, at ``center`` (x, y) of images (N, 3, H, W).

    ``rectify=True`` applies the ReLU (the unit's firing); the default returns the pre-activation,
    whose negative values show the inhibition at work.
    """
    if isinstance(orientations, (int, float)):
        orientations = [orientations]
    if images.dim() == 3:
        images = images[None]
    row, col = _center_pixel(images.shape[-2:], center)
    kernels = torch.stack([curve_kernel(settings.rotated_to(o), images.device) for o in orientations])  # (F, D, k, k)
    half = kernels.shape[-1] // 2
    # Only the window the unit reads needs line detectors: cut it out (with the filters' margin) first.
    margin = half + line_filters(settings.orientations, settings.line_scale)[0].shape[-1] // 2
    padded = F.pad(images.float(), (margin, margin, margin, margin), mode="replicate")
    crop = padded[:, :, row : row + 2 * margin + 1, col : col + 2 * margin + 1]
    energy = line_energy(crop, settings.orientations, settings.line_scale)
    pad = margin - half
    window = energy[:, :, pad : pad + 2 * half + 1, pad : pad + 2 * half + 1]
    responses = torch.einsum("ndij,fdij->nf", window, kernels)
    return responses.clamp(min=0) if rectify else responses


# --- comparing with a real family --------------------------------------------------------------
@dataclass(frozen=True)
class Match:
    """How well hand-built units track real ones on one set of images."""

    correlations: np.ndarray  # (F,) per unit: Pearson r between the real and the hand-built unit over images
    real: np.ndarray  # (N, F) real responses
    cleanroom: np.ndarray  # (N, F) hand-built responses

    @property
    def mean(self) -> float:
        """The mean correlation over units."""
        return float(self.correlations.mean())


def compare_responses(real: np.ndarray | torch.Tensor, cleanroom: np.ndarray | torch.Tensor) -> Match:
    """Per-unit correlation of real responses (N, F) with hand-built responses (N, F)."""
    real = np.asarray(real, dtype=np.float64)
    cleanroom = np.asarray(cleanroom, dtype=np.float64)
    if real.shape != cleanroom.shape or real.ndim != 2:
        raise ValueError(f"Need two (N, F) arrays of one shape, got {real.shape} and {cleanroom.shape}.")
    correlations = np.array([pearson(real[:, f], cleanroom[:, f]) for f in range(real.shape[1])])
    return Match(correlations, real, cleanroom)


# --- the real family, measured once, for comparisons -------------------------------------------
@dataclass(frozen=True)
class ComparisonSet:
    """Images with the real units' responses to them, ready to compare any hand-built settings against."""

    name: str
    images: torch.Tensor  # (N, 3, H, W)
    real: np.ndarray  # (N, F) real responses (pre-activation)
    orientations: np.ndarray  # (F,) the real units' preferred orientations
    center: tuple[float, float]  # (x, y) where the real units look
    labels: tuple[str, ...]  # (F,) unit names


def settings_for_family(family: "CurveFamily", **overrides: float) -> CurveDetectorSettings:
    """Cleanroom settings at the scale of a family's screen: its typical radius, stroke length and width."""
    screen = family.screen
    radius = float(np.median(screen.best_radius[family.channels])) if len(family) else float(screen.radii.mean())
    scale = max(1.0, float(screen.style["width"]) / 2)
    base = {"radius": radius, "arc_length": float(screen.style["length"]), "line_scale": scale, "position_blur": scale}
    return settings_from(**{**base, **overrides})


def screen_comparison(family: "CurveFamily") -> ComparisonSet:
    """The family's own screen, curves (every orientation x radius) then straight lines (every angle x offset).

    The responses were measured by the screen already (relative to the blank image), so nothing runs the model.
    """
    screen = family.screen
    placement = screen.placement
    curves = placement.draw("curve", {"orientation": screen.orientations, "radius": screen.radii}, **screen.style)
    lines = []
    for angle in screen.line_angles:  # the screen shifts each line across itself by each offset
        across = math.radians(angle + 90)
        for offset in screen.line_offsets:
            center = (placement.center[0] + offset * math.cos(across), placement.center[1] - offset * math.sin(across))
            lines.append(line(placement.size, angle=float(angle), center=center, **screen.style))
    images = torch.cat([curves.images, torch.stack(lines)])
    channels = family.channels
    real = np.concatenate([screen.curve.reshape(-1, screen.curve.shape[-1])[:, channels],
                           screen.line.reshape(-1, screen.line.shape[-1])[:, channels]])
    return ComparisonSet("synthetic curves and lines", images, real, np.asarray(family.orientations, dtype=np.float64),
                         placement.center, tuple(str(u) for u in family.units))


def image_comparison(model: "CircuitModel", family: "CurveFamily", images: torch.Tensor, name: str = "natural patches") -> ComparisonSet:
    """The family's responses to any images (e.g. photo patches), read at its receptive-field centre."""
    real = family.responses(model, images)
    return ComparisonSet(name, images, real, np.asarray(family.orientations, dtype=np.float64),
                         family.screen.placement.center, tuple(str(u) for u in family.units))


def held_out_comparison(comparison: ComparisonSet, screens: Sequence["CurveScreen"], channels: Sequence[int],
                        name: str = "other polarity") -> ComparisonSet:
    """``comparison``'s drawings (a family's :func:`screen_comparison`) answered by each member in its own screen of
    ``screens`` (one per member, e.g. the contrast polarity it was not picked in), in the same order: curves, lines."""
    if len(screens) != len(channels) or len(channels) != comparison.real.shape[1]:
        raise ValueError(f"Give one screen and one channel per member of the comparison ({comparison.real.shape[1]}), "
                         f"not {len(screens)} and {len(channels)}.")
    real = np.stack([np.concatenate([s.curve[..., c].ravel(), s.line[..., c].ravel()]) for s, c in zip(screens, channels)], 1)
    if real.shape != comparison.real.shape:
        raise ValueError(f"The screens drew {real.shape[0]} stimuli, the comparison {comparison.real.shape[0]}: "
                         "give screens of the same family's screen.")
    return replace(comparison, name=name, real=real)


def match_summary(name: str, matched: Match, opposite: Match) -> str:
    """One printed line: the mean correlation of real and hand-built units, the share positive, and turned 180°."""
    return (f"{name:>17}: mean r = {matched.mean:+.3f} ({(matched.correlations > 0).mean():.0%} of units positive); "
            f"turned 180°: {opposite.mean:+.3f}")


def held_out_verdict(matched: Match, opposite: Match) -> tuple[bool, str]:
    """Lesson 03's argument 7 claim: (the hand-built units track the real ones, mean r above 0.3 and more than 80 % of
    the units positive, and turned 180° they anti-track, mean r below -0.2; the numbers)."""
    positive = float((matched.correlations > 0).mean())
    return (matched.mean > 0.3 and positive > 0.8 and opposite.mean < -0.2,
            f"mean r {matched.mean:+.3f}, {positive:.0%} positive, turned 180° {opposite.mean:+.3f}")


def family_matches(model: "CircuitModel", family: "CurveFamily", settings: CurveDetectorSettings, images: torch.Tensor,
                   held_out: Sequence["CurveScreen"] | None = None
                   ) -> tuple[ComparisonSet, ComparisonSet, dict[str, tuple[Match, Match]]]:
    """Lesson 03's argument 7: the family's screen and its responses to ``images`` as comparisons (and, given
    ``held_out`` screens, one per member, the screen's drawings answered in them), each matched with hand-built units at
    the members' orientations and turned 180°: (screen comparison, image comparison, {name: (matched, turned)})."""
    synthetic = screen_comparison(family)
    natural = image_comparison(model, family, images)
    comparisons = [synthetic, natural]
    if held_out is not None:
        comparisons.append(held_out_comparison(synthetic, held_out, family.channels))
    return synthetic, natural, {comparison.name: (match_family(comparison, settings),
                                                  match_family(comparison, settings, orientation_offset=180))
                                for comparison in comparisons}


def match_family(comparison: ComparisonSet, settings: CurveDetectorSettings, *, orientation_offset: float = 0.0) -> Match:
    """Correlate each real unit with a hand-built unit at its preferred orientation (plus ``orientation_offset``)."""
    built = cleanroom_responses(comparison.images, comparison.orientations + orientation_offset, settings, center=comparison.center)
    return compare_responses(comparison.real, built.cpu().numpy())


def tuning_pairs(family: "CurveFamily", comparison: ComparisonSet, settings: CurveDetectorSettings, count: int = 6
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[str]]:
    """``(orientations, real, hand_built, labels)`` for :func:`helpers.plotting.circuits.tuning_pair_figure`: up to
    ``count`` members spread over the family, their responses to the screen's curves at the radius closest to the
    hand-built radius (orientations, count), beside hand-built units at their preferred orientations on the same
    drawings. ``comparison`` is the family's :func:`screen_comparison` (its curves come first, then its lines)."""
    screen = family.screen
    radius = int(np.abs(screen.radii - settings.radius).argmin())
    shown = np.linspace(0, len(family) - 1, min(count, len(family))).round().astype(int)
    curves = comparison.images[: len(screen.orientations) * len(screen.radii)]
    drawn = curves.reshape(len(screen.orientations), len(screen.radii), *curves.shape[1:])[:, radius]
    built = cleanroom_responses(drawn, np.asarray(family.orientations)[shown], settings, center=comparison.center)
    labels = [f"{family.units[i].channel} ({family.orientations[i]:.0f}°)" for i in shown]
    return (screen.orientations, screen.curve[:, radius][:, np.array(family.channels)[shown]], built.cpu().numpy(),
            labels)
