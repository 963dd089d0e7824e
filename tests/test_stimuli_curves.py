"""Geometry, anti-aliasing and determinism of the synthetic curve stimuli."""
import math

import numpy as np
import pytest
import torch

from helpers.stimuli.curves import blank, circle, corner, curve, line, spiral, stimulus_grid

SIZE = 128


def ink(image: torch.Tensor) -> np.ndarray:
    """How much of the (black on white) stroke covers each pixel, (H, W) in [0, 1]."""
    return 1.0 - image.mean(0).numpy()


def pixel_xy(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    rows, cols = np.nonzero(mask)
    return cols + 0.5, rows + 0.5


def direction_deg(dx: float, dy: float) -> float:
    """Angle counter-clockwise from right, y up, of a pixel-coordinate vector (y down)."""
    return math.degrees(math.atan2(-dy, dx)) % 360


def angle_difference(a: float, b: float) -> float:
    return abs((a - b + 180) % 360 - 180)


@pytest.mark.parametrize("orientation", [0, 37, 90, 200, 270, 315])
@pytest.mark.parametrize("radius", [12.0, 30.0])
def test_curve_pixels_lie_on_the_circle_and_face_the_orientation(orientation: float, radius: float) -> None:
    center = (60.0, 70.0)
    image = curve(SIZE, orientation=orientation, radius=radius, length=40, width=3, center=center)
    cover = ink(image)
    rad = math.radians(orientation)
    circle_x, circle_y = center[0] - radius * math.cos(rad), center[1] + radius * math.sin(rad)
    x, y = pixel_xy(cover > 0.5)
    distances = np.hypot(x - circle_x, y - circle_y)
    assert np.all(np.abs(distances - radius) <= 1.5 + 0.5)  # half the width plus half a pixel's diagonal
    # The ink's centroid sits on the bisector, in the asked orientation seen from the circle's centre.
    weights = cover.flatten()
    xs, ys = np.meshgrid(np.arange(SIZE) + 0.5, np.arange(SIZE) + 0.5)
    centroid = (weights @ xs.flatten() / weights.sum(), weights @ ys.flatten() / weights.sum())
    assert angle_difference(direction_deg(centroid[0] - circle_x, centroid[1] - circle_y), orientation) < 2.0
    # The midpoint is inked.
    assert cover[int(center[1]), int(center[0])] > 0.5


def test_orientation_90_is_an_arch() -> None:
    cover = ink(curve(SIZE, orientation=90, radius=20, length=50))
    x, y = pixel_xy(cover > 0.5)
    assert y.mean() > SIZE / 2  # the ends hang below the midpoint, so the convex side faces up
    assert abs(x.mean() - SIZE / 2) < 1.0


def test_curve_ink_matches_length_times_width() -> None:
    for radius in (15.0, 40.0, math.inf):
        area = ink(curve(SIZE, orientation=30, radius=radius, length=60, width=4)).sum()
        assert area == pytest.approx(60 * 4 + math.pi * 2**2, rel=0.08)  # the stroke plus its round caps


def test_long_arc_closes_into_the_circle() -> None:
    full = curve(SIZE, orientation=0, radius=20, length=10_000, width=3)
    reference = circle(SIZE, radius=20, width=3, center=(SIZE / 2 - 20, SIZE / 2))
    assert torch.allclose(full, reference, atol=1e-5)


def test_line_pixels_lie_on_the_line() -> None:
    angle, center = 25.0, (50.0, 66.0)
    cover = ink(line(SIZE, angle=angle, width=3, center=center))
    x, y = pixel_xy(cover > 0.5)
    normal = (math.sin(math.radians(angle)), math.cos(math.radians(angle)))  # perpendicular to (cos, -sin)
    distance = np.abs((x - center[0]) * normal[0] + (y - center[1]) * normal[1])
    assert distance.max() <= 1.5 + 0.71
    assert x.min() < 5 and x.max() > SIZE - 5  # a line without a length crosses the image


def test_straight_curve_runs_along_the_tangent() -> None:
    straight = curve(SIZE, orientation=0, radius=math.inf, length=60, width=3)
    assert torch.allclose(straight, line(SIZE, angle=90, length=60, width=3), atol=1e-6)


def test_corner_points_towards_its_orientation() -> None:
    for orientation in (0, 90, 225):
        cover = ink(corner(SIZE, orientation=orientation, angle=90, length=60, width=3))
        x, y = pixel_xy(cover > 0.5)
        # The arms trail away from the apex, so the ink lies opposite to where the apex points.
        trail = direction_deg(x.mean() - SIZE / 2, y.mean() - SIZE / 2)
        assert angle_difference(trail, orientation + 180) < 3.0


def test_circle_and_spiral_radii() -> None:
    cover = ink(circle(SIZE, radius=25, width=3))
    x, y = pixel_xy(cover > 0.5)
    assert np.abs(np.hypot(x - SIZE / 2, y - SIZE / 2) - 25).max() <= 2.0
    disc = ink(circle(SIZE, radius=25, filled=True))
    assert disc[SIZE // 2, SIZE // 2] == pytest.approx(1.0) and disc.sum() == pytest.approx(math.pi * 25**2, rel=0.02)
    cover = ink(spiral(SIZE, inner_radius=5, outer_radius=50, turns=3, width=2))
    x, y = pixel_xy(cover > 0.5)
    radii = np.hypot(x - SIZE / 2, y - SIZE / 2)
    assert radii.min() < 7 and 48 < radii.max() < 52
    # Three turns of radius growing 15 px per turn: along any ray the windings are ~15 px apart.
    ray = cover[SIZE // 2, SIZE // 2 + 10 :]  # beyond the spiral's starting cap
    peaks = np.nonzero((ray[1:-1] > 0.5) & (ray[1:-1] >= ray[:-2]) & (ray[1:-1] >= ray[2:]))[0]
    assert len(peaks) == 3 and np.allclose(np.diff(peaks), 15, atol=2)


def test_anti_aliasing_gives_intermediate_values() -> None:
    values = ink(curve(SIZE, orientation=10, radius=20, length=60, width=2.5))
    assert ((values > 0.05) & (values < 0.95)).sum() > 20
    assert values.min() >= 0 and values.max() <= 1


def test_drawing_is_deterministic_and_in_range() -> None:
    first = curve(SIZE, orientation=123, radius=17, length=45, width=2, blur=1.5, foreground=(1, 0, 0), background=0.2)
    second = curve(SIZE, orientation=123, radius=17, length=45, width=2, blur=1.5, foreground=(1, 0, 0), background=0.2)
    assert torch.equal(first, second)
    assert first.shape == (3, SIZE, SIZE) and first.dtype == torch.float32
    assert 0 <= float(first.min()) and float(first.max()) <= 1
    first = curve(SIZE, orientation=123, radius=17, length=45, width=2, foreground=(1, 0, 0), background=0.2)
    # Red ink on a dark grey background: only the red channel rises above the background.
    assert float(first[0].max()) > 0.9 and float(first[1].max()) == pytest.approx(0.2, abs=1e-6)


def test_blur_spreads_ink_but_keeps_its_amount() -> None:
    sharp = ink(curve(SIZE, orientation=0, radius=20, length=50, width=3))
    soft = ink(curve(SIZE, orientation=0, radius=20, length=50, width=3, blur=2.0))
    assert soft.max() < sharp.max() and (soft > 0.01).sum() > (sharp > 0.01).sum()
    assert soft.sum() == pytest.approx(sharp.sum(), rel=0.02)


def test_blank_is_the_background() -> None:
    assert torch.equal(blank(16, background=0.25), torch.full((3, 16, 16), 0.25))


def test_grid_sweeps_two_parameters_in_row_major_order() -> None:
    grid = stimulus_grid("curve", {"orientation": [0, 90, 180], "radius": [10, 20]}, size=64, length=30)
    assert grid.shape == (3, 2) and grid.images.shape == (6, 3, 64, 64)
    assert grid.values("orientation").tolist() == [0, 0, 90, 90, 180, 180]
    assert grid.values("radius").tolist() == [10, 20, 10, 20, 10, 20]
    assert torch.equal(grid.images[3], curve(64, orientation=90, radius=20, length=30))
    assert grid.reshape(torch.arange(6)).tolist() == [[0, 1], [2, 3], [4, 5]]
    corners = stimulus_grid(corner, {"angle": [60, 120]}, size=64)
    assert corners.kind == "corner" and len(corners) == 2


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: curve(64, radius=0), "radius must be positive"),
        (lambda: curve(64, width=-1), "width must be positive"),
        (lambda: curve(3), "size must be"),
        (lambda: curve(64, foreground=(1, 0)), "foreground must be"),
        (lambda: corner(64, angle=200), "opening"),
        (lambda: spiral(64, inner_radius=30, outer_radius=20), "inner_radius"),
        (lambda: stimulus_grid("square", {"radius": [1]}), "Unknown stimulus kind"),
        (lambda: stimulus_grid("curve", {"radius": [1]}, radius=2), "both swept and fixed"),
        (lambda: stimulus_grid("curve", {"radius": []}), "non-empty"),
    ],
)
def test_bad_input_says_what_is_allowed(call, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        call()
