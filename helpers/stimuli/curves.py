"""Synthetic curves, lines, corners, circles and spirals, drawn anti-aliased from distance fields.

Every function returns one image in the course's type: a float tensor (3, size, size) in [0, 1].
Shapes are drawn from their exact (or, for spirals, near-exact) distance field: a pixel's ink is
``clip(width / 2 - distance + 0.5, 0, 1)``, a one-pixel box filter across the stroke's edge, so edge
pixels get intermediate values. Drawing is deterministic: the same arguments give the same pixels.

Conventions (all angles in degrees, all lengths in pixels):

- Pixel (row i, column j) is the square whose centre is at ``x = j + 0.5, y = i + 0.5``.
  ``center=(x, y)`` is in these coordinates and defaults to the middle of the image.
- Angles are measured **counter-clockwise from "pointing right"**, as on a clock face seen by the
  student: 0 = right, 90 = up, 180 = left, 270 = down (the screen's y axis points down, so
  "up" means towards row 0).
- A curve's **orientation** is the direction its convex side faces: the direction from the centre
  of its circle to the midpoint of the arc. Orientation 90 is an arch (∩), 270 a bowl (∪),
  0 a ``)`` and 180 a ``(``. The tangent at the midpoint runs along ``orientation ± 90``.
  A curve is placed so that its **midpoint** sits at ``center``.
- A corner's orientation is defined the same way: the direction its apex points (a ∧ is 90).
- A line's ``angle`` is the direction it runs (defined modulo 180).
"""
from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F

Colour = float | Sequence[float]

__all__ = [
    "curve", "line", "corner", "circle", "spiral", "blank",
    "StimulusSet", "stimulus_grid", "DRAWERS",
]


# --- painting a distance field -------------------------------------------------------------
def _pixel_grid(size: int, center: tuple[float, float] | None) -> tuple[np.ndarray, np.ndarray, float, float]:
    """Pixel-centre coordinates (x, y) of a size x size image, and the drawing centre."""
    if not isinstance(size, (int, np.integer)) or size < 4:
        raise ValueError(f"size must be an integer of at least 4 pixels, not {size!r}.")
    cx, cy = (size / 2, size / 2) if center is None else (float(center[0]), float(center[1]))
    coords = np.arange(size, dtype=np.float64) + 0.5
    x, y = np.meshgrid(coords, coords)  # x varies along columns, y along rows
    return x, y, cx, cy


def _colour(value: Colour, name: str) -> torch.Tensor:
    tensor = torch.as_tensor(value, dtype=torch.float32).flatten()
    if tensor.numel() == 1:
        tensor = tensor.repeat(3)
    if tensor.numel() != 3 or not bool(((tensor >= 0) & (tensor <= 1)).all()):
        raise ValueError(f"{name} must be a grey level or an (r, g, b) triple, each in [0, 1]; got {value!r}.")
    return tensor.view(3, 1, 1)


def _gaussian_blur(ink: torch.Tensor, sigma: float) -> torch.Tensor:
    """Blur an (H, W) map with a separable Gaussian of ``sigma`` pixels (edges replicated)."""
    radius = max(1, math.ceil(3 * sigma))
    taps = torch.arange(-radius, radius + 1, dtype=torch.float32)
    kernel = torch.exp(-0.5 * (taps / sigma) ** 2)
    kernel = kernel / kernel.sum()
    image = ink[None, None]
    image = F.conv2d(F.pad(image, (radius, radius, 0, 0), mode="replicate"), kernel.view(1, 1, 1, -1))
    image = F.conv2d(F.pad(image, (0, 0, radius, radius), mode="replicate"), kernel.view(1, 1, -1, 1))
    return image[0, 0]


def _paint(distance: np.ndarray, width: float, foreground: Colour, background: Colour, blur: float) -> torch.Tensor:
    """Turn a distance-to-the-shape map into an anti-aliased (3, H, W) image."""
    if width <= 0:
        raise ValueError(f"width must be positive (pixels), not {width!r}.")
    if blur < 0:
        raise ValueError(f"blur must be a non-negative Gaussian sigma in pixels, not {blur!r}.")
    ink = torch.from_numpy(np.clip(width / 2 - distance + 0.5, 0.0, 1.0).astype(np.float32))
    if blur > 0:
        ink = _gaussian_blur(ink, blur)
    fg, bg = _colour(foreground, "foreground"), _colour(background, "background")
    return (bg + ink[None] * (fg - bg)).clamp(0, 1)


def _direction(degrees: float) -> tuple[float, float]:
    """Unit vector (dx, dy) in pixel coordinates (y down) for an angle counter-clockwise from right."""
    radians = math.radians(degrees)
    return math.cos(radians), -math.sin(radians)


def _segment_distance(x: np.ndarray, y: np.ndarray, start: tuple[float, float], end: tuple[float, float]) -> np.ndarray:
    """Distance from every pixel centre to the segment start-end."""
    sx, sy = start
    dx, dy = end[0] - sx, end[1] - sy
    length2 = dx * dx + dy * dy
    t = np.zeros_like(x) if length2 == 0 else np.clip(((x - sx) * dx + (y - sy) * dy) / length2, 0.0, 1.0)
    return np.hypot(x - (sx + t * dx), y - (sy + t * dy))


def _check_positive(**values: float) -> None:
    for name, value in values.items():
        if not value > 0:
            raise ValueError(f"{name} must be positive, not {value!r}.")


# --- shapes --------------------------------------------------------------------------------
def curve(
    size: int = 224,
    orientation: float = 90.0,
    radius: float = 30.0,
    length: float = 60.0,
    width: float = 3.0,
    center: tuple[float, float] | None = None,
    foreground: Colour = 0.0,
    background: Colour = 1.0,
    blur: float = 0.0,
) -> torch.Tensor:
    """An arc of a circle of ``radius`` and arc ``length`` whose convex side faces ``orientation``.

    The arc's midpoint is at ``center``. ``radius=math.inf`` draws a straight segment (the limit
    of zero curvature) along the tangent; an arc longer than the circle is the full circle.
    """
    _check_positive(radius=radius, length=length)
    x, y, mx, my = _pixel_grid(size, center)
    ux, uy = _direction(orientation)
    if math.isinf(radius):
        tx, ty = _direction(orientation + 90)
        half = length / 2
        distance = _segment_distance(x, y, (mx - tx * half, my - ty * half), (mx + tx * half, my + ty * half))
        return _paint(distance, width, foreground, background, blur)
    cx, cy = mx - radius * ux, my - radius * uy  # centre of the circle
    half_span = min(length / radius, 2 * math.pi) / 2
    vx, vy = x - cx, y - cy
    angle = np.arctan2(-vy, vx)  # counter-clockwise from right, y up
    offset = np.angle(np.exp(1j * (angle - math.radians(orientation))))  # wrapped to (-pi, pi]
    on_arc = np.abs(offset) <= half_span
    distance = np.abs(np.hypot(vx, vy) - radius)
    if half_span < math.pi:
        ends = []
        for sign in (-1, 1):
            ex, ey = _direction(orientation + sign * math.degrees(half_span))
            ends.append(np.hypot(x - (cx + radius * ex), y - (cy + radius * ey)))
        distance = np.where(on_arc, distance, np.minimum(*ends))
    return _paint(distance, width, foreground, background, blur)


def line(
    size: int = 224,
    angle: float = 0.0,
    length: float | None = None,
    width: float = 3.0,
    center: tuple[float, float] | None = None,
    foreground: Colour = 0.0,
    background: Colour = 1.0,
    blur: float = 0.0,
) -> torch.Tensor:
    """A straight line running in direction ``angle`` through ``center``; ``length=None`` crosses the whole image."""
    x, y, cx, cy = _pixel_grid(size, center)
    half = 2.0 * size if length is None else length / 2
    if length is not None:
        _check_positive(length=length)
    tx, ty = _direction(angle)
    distance = _segment_distance(x, y, (cx - tx * half, cy - ty * half), (cx + tx * half, cy + ty * half))
    return _paint(distance, width, foreground, background, blur)


def corner(
    size: int = 224,
    orientation: float = 90.0,
    angle: float = 90.0,
    length: float = 60.0,
    width: float = 3.0,
    center: tuple[float, float] | None = None,
    foreground: Colour = 0.0,
    background: Colour = 1.0,
    blur: float = 0.0,
) -> torch.Tensor:
    """Two straight arms meeting at ``center`` with opening ``angle``, the apex pointing towards ``orientation``.

    Each arm is ``length / 2`` long, so a corner has the same total length as a curve of ``length``;
    ``angle=180`` is a straight segment.
    """
    _check_positive(length=length)
    if not 0 < angle <= 180:
        raise ValueError(f"angle (the corner's opening) must be in (0, 180] degrees, not {angle!r}.")
    x, y, vx, vy = _pixel_grid(size, center)
    arms = []
    for sign in (-1, 1):
        dx, dy = _direction(orientation + 180 + sign * angle / 2)
        arms.append(_segment_distance(x, y, (vx, vy), (vx + dx * length / 2, vy + dy * length / 2)))
    return _paint(np.minimum(*arms), width, foreground, background, blur)


def circle(
    size: int = 224,
    radius: float = 30.0,
    width: float = 3.0,
    center: tuple[float, float] | None = None,
    filled: bool = False,
    foreground: Colour = 0.0,
    background: Colour = 1.0,
    blur: float = 0.0,
) -> torch.Tensor:
    """A circle outline of ``radius`` around ``center`` (a disc of that radius when ``filled``)."""
    _check_positive(radius=radius)
    x, y, cx, cy = _pixel_grid(size, center)
    rho = np.hypot(x - cx, y - cy)
    if filled:  # a disc: shift the signed distance so that ink is 1 inside and fades over one pixel at the rim
        return _paint(rho - radius + width / 2, width, foreground, background, blur)
    return _paint(np.abs(rho - radius), width, foreground, background, blur)


def spiral(
    size: int = 224,
    inner_radius: float = 5.0,
    outer_radius: float = 60.0,
    turns: float = 3.0,
    start_angle: float = 0.0,
    width: float = 3.0,
    center: tuple[float, float] | None = None,
    clockwise: bool = False,
    foreground: Colour = 0.0,
    background: Colour = 1.0,
    blur: float = 0.0,
) -> torch.Tensor:
    """An Archimedean spiral from ``inner_radius`` to ``outer_radius`` in ``turns`` turns around ``center``.

    The distance to the spiral is the radial gap to the nearest winding times the cosine of the
    spiral's pitch angle, exact for a circle and within a few percent for the pitches drawn here.
    """
    _check_positive(outer_radius=outer_radius, turns=turns)
    if not 0 <= inner_radius < outer_radius:
        raise ValueError(f"Need 0 <= inner_radius < outer_radius, got {inner_radius!r} and {outer_radius!r}.")
    x, y, cx, cy = _pixel_grid(size, center)
    vx, vy = x - cx, y - cy
    rho = np.hypot(vx, vy)
    sign = -1.0 if clockwise else 1.0
    total = 2 * math.pi * turns
    growth = (outer_radius - inner_radius) / total  # radius gained per radian
    phase = np.mod(sign * (np.arctan2(-vy, vx) - math.radians(start_angle)), 2 * math.pi)
    distance = np.full(rho.shape, np.inf)
    for winding in range(math.ceil(turns) + 1):
        travelled = phase + 2 * math.pi * winding
        valid = travelled <= total
        gap = np.abs(rho - (inner_radius + growth * travelled))
        distance = np.where(valid, np.minimum(distance, gap), distance)
    distance = distance * np.cos(np.arctan2(growth, np.maximum(rho, 1e-6)))
    for fraction in (0.0, 1.0):  # round caps at both ends
        ex, ey = _direction(start_angle + sign * math.degrees(total * fraction))
        r = inner_radius + (outer_radius - inner_radius) * fraction
        distance = np.minimum(distance, np.hypot(x - (cx + r * ex), y - (cy + r * ey)))
    return _paint(distance, width, foreground, background, blur)


def blank(size: int = 224, background: Colour = 1.0) -> torch.Tensor:
    """An empty image of the background colour: the baseline every response is compared to."""
    _pixel_grid(size, None)
    return _colour(background, "background").expand(3, size, size).clone()


DRAWERS: dict[str, Callable[..., torch.Tensor]] = {
    "curve": curve, "line": line, "corner": corner, "circle": circle, "spiral": spiral, "blank": blank,
}


# --- grids over parameters -----------------------------------------------------------------
@dataclass
class StimulusSet:
    """A batch of stimuli drawn over a grid of parameters.

    ``images`` is (N, 3, S, S) with N the product of the swept axes' lengths, in row-major order
    (the last axis varies fastest); ``axes`` maps each swept parameter to its values; ``fixed``
    holds the parameters shared by every image.
    """

    kind: str
    images: torch.Tensor
    axes: dict[str, np.ndarray]
    fixed: dict[str, object]

    @property
    def shape(self) -> tuple[int, ...]:
        """Lengths of the swept axes, in order."""
        return tuple(len(values) for values in self.axes.values())

    def __len__(self) -> int:
        return self.images.shape[0]

    def values(self, name: str) -> np.ndarray:
        """The value of a swept parameter for every image, shape (N,)."""
        if name not in self.axes:
            raise KeyError(f"{name!r} is not swept here; swept: {list(self.axes)}.")
        grids = np.meshgrid(*self.axes.values(), indexing="ij")
        return grids[list(self.axes).index(name)].reshape(-1)

    def reshape(self, per_image: np.ndarray | torch.Tensor) -> np.ndarray | torch.Tensor:
        """Reshape a per-image array (N, ...) to the grid (*shape, ...), e.g. responses (N, U) -> (A, B, U)."""
        if per_image.shape[0] != len(self):
            raise ValueError(f"Expected {len(self)} rows (one per image), got {per_image.shape[0]}.")
        return per_image.reshape(*self.shape, *per_image.shape[1:])


def stimulus_grid(kind: str | Callable[..., torch.Tensor], sweep: dict[str, Sequence[float]], **fixed: object) -> StimulusSet:
    """Draw ``kind`` (a name in :data:`DRAWERS` or a drawing function) at every combination of ``sweep``.

    Example: ``stimulus_grid("curve", {"orientation": range(0, 360, 15), "radius": [10, 20, 40]}, size=224)``.
    """
    draw = DRAWERS.get(kind) if isinstance(kind, str) else kind
    if draw is None:
        raise ValueError(f"Unknown stimulus kind {kind!r}; choose one of {', '.join(DRAWERS)} or pass a function.")
    if not sweep:
        raise ValueError("sweep must name at least one parameter with a list of values.")
    overlap = set(sweep) & set(fixed)
    if overlap:
        raise ValueError(f"Parameters {sorted(overlap)} are both swept and fixed; give each only once.")
    axes = {name: np.asarray(list(values), dtype=np.float64) for name, values in sweep.items()}
    for name, values in axes.items():
        if values.ndim != 1 or len(values) == 0:
            raise ValueError(f"sweep[{name!r}] must be a non-empty list of numbers.")
    images = [draw(**fixed, **dict(zip(axes, combo))) for combo in itertools.product(*(v.tolist() for v in axes.values()))]
    return StimulusSet(getattr(draw, "__name__", str(kind)), torch.stack(images), axes, dict(fixed))
