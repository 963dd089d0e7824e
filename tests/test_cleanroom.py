"""The hand-built curve detector (helpers.cleanroom)."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from helpers.cleanroom import (
    ComparisonSet, CurveDetectorSettings, cleanroom_responses, compare_responses, curve_kernel, family_matches, match_family,
    held_out_comparison, match_summary, pearson, screen_comparison, settings_from, tuning_pairs,
)
from helpers.stimuli.curves import curve, line

SIZE = 96
SETTINGS = CurveDetectorSettings(radius=14, arc_length=30, line_scale=1.5)


def arcs(orientations, radius=14.0):
    return torch.stack([curve(SIZE, orientation=o, radius=radius, length=30, width=3) for o in orientations])


def test_prefers_curves_over_lines() -> None:
    for orientation in (0.0, 90.0, 225.0):
        preferred = cleanroom_responses(arcs([orientation]), orientation, SETTINGS)[0, 0]
        tangent = line(SIZE, angle=orientation + 90, length=30, width=3)
        straight = cleanroom_responses(tangent[None], orientation, SETTINGS)[0, 0]
        assert preferred > 0
        assert straight < 0.3 * preferred


def test_opposite_curve_is_inhibited() -> None:
    response = cleanroom_responses(arcs([270.0]), 90.0, SETTINGS)[0, 0]
    assert response < 0
    assert cleanroom_responses(arcs([270.0]), 90.0, SETTINGS, rectify=True)[0, 0] == 0


@pytest.mark.parametrize("orientation", [0.0, 67.5, 180.0, 292.5])
def test_preferred_orientation_follows_the_setting(orientation) -> None:
    angles = np.arange(16) * 22.5
    responses = cleanroom_responses(arcs(angles), orientation, SETTINGS)[:, 0]
    assert angles[int(responses.argmax())] == orientation


def test_polarity_does_not_matter() -> None:
    dark = curve(SIZE, orientation=45, radius=14, length=30, width=3)
    light = curve(SIZE, orientation=45, radius=14, length=30, width=3, foreground=1.0, background=0.0)
    a, b = cleanroom_responses(torch.stack([dark, light]), 45.0, SETTINGS)[:, 0]
    assert math.isclose(float(a), float(b), rel_tol=1e-4)


def test_deterministic() -> None:
    images = arcs([30.0, 150.0])
    first = cleanroom_responses(images, [30.0, 150.0], SETTINGS)
    assert torch.equal(first, cleanroom_responses(images, [30.0, 150.0], SETTINGS))
    assert torch.equal(curve_kernel(SETTINGS), curve_kernel(SETTINGS))


def test_kernel_balance_and_bad_settings() -> None:
    kernel = curve_kernel(CurveDetectorSettings(inhibition=0.0, cross_inhibition=0.0))
    assert kernel.min() >= 0 and math.isclose(float(kernel.sum()), 1.0, rel_tol=1e-5)
    balanced = curve_kernel(CurveDetectorSettings(inhibition=1.0, cross_inhibition=0.0))
    assert abs(float(balanced.sum())) < 1e-5
    with pytest.raises(ValueError, match="radius must be positive"):
        CurveDetectorSettings(radius=0)
    with pytest.raises(ValueError, match="Unknown cleanroom settings"):
        settings_from(radious=3)


def test_matching_a_family_of_itself_is_perfect() -> None:
    angles = np.arange(8) * 45.0
    images = torch.cat([arcs(angles, r) for r in (10.0, 14.0, 20.0)])
    real = cleanroom_responses(images, [0.0, 90.0], SETTINGS).numpy()
    comparison = ComparisonSet("self", images, real, np.array([0.0, 90.0]), (SIZE / 2, SIZE / 2), ("a", "b"))
    assert np.allclose(match_family(comparison, SETTINGS).correlations, 1.0)
    assert match_family(comparison, SETTINGS, orientation_offset=180).mean < 0
    assert pearson([1, 2, 3], [2, 4, 6]) == pytest.approx(1.0) and pearson([1, 1, 1], [1, 2, 3]) == 0.0
    with pytest.raises(ValueError, match="of one shape"):
        compare_responses(real, real[:, :1])


def test_screen_comparison_redraws_the_screen_exactly() -> None:
    from handmade_curves import build_handmade_network

    from helpers.families import find_curve_family

    model = build_handmade_network()
    family = find_curve_family(model, "detectors", orientations=8, radii=(0.15, 0.3), length=0.65, width=0.1)
    comparison = screen_comparison(family)
    screen = family.screen
    assert len(comparison.images) == screen.curve.shape[0] * screen.curve.shape[1] + screen.line.shape[0] * screen.line.shape[1]
    assert np.allclose(family.responses(model, comparison.images), comparison.real, atol=1e-4)

    held_out = held_out_comparison(comparison, [screen.polarity_screen(screen.polarities[0])] * len(family), family.channels,
                                   name="again")  # one polarity's screen for every member
    assert held_out.name == "again" and held_out.images is comparison.images
    assert held_out.real.shape == comparison.real.shape
    with pytest.raises(ValueError, match="one screen and one channel per member"):
        held_out_comparison(comparison, [screen], family.channels)

    settings = settings_from(radius=float(screen.radii[1]))
    orientations, real, built, labels = tuning_pairs(family, comparison, settings, count=3)
    shown = np.linspace(0, len(family) - 1, min(3, len(family))).round().astype(int)
    assert real.shape == built.shape == (len(screen.orientations), len(shown)) and len(labels) == len(shown)
    assert np.array_equal(real, screen.curve[:, 1][:, np.array(family.channels)[shown]])
    drawn = comparison.images[1: len(screen.orientations) * 2: 2]  # the curves at the second radius
    assert np.allclose(built, cleanroom_responses(drawn, np.asarray(family.orientations)[shown], settings,
                                                  center=comparison.center).numpy())

    # Lesson 03's comparisons in one call: the screen, the images and the held-out screens, each matched both ways.
    images = comparison.images[:5]
    synthetic, natural, matches = family_matches(model, family, settings, images, [screen] * len(family))
    assert synthetic.name == comparison.name and np.array_equal(synthetic.real, comparison.real)
    assert np.allclose(natural.real, family.responses(model, images)) and natural.name == "natural patches"
    assert list(matches) == [comparison.name, "natural patches", "other polarity"]
    assert np.allclose(matches["natural patches"][1].correlations,
                       match_family(natural, settings, orientation_offset=180).correlations)
    assert list(family_matches(model, family, settings, images)[2]) == [comparison.name, "natural patches"]


def test_match_summary_prints_both_ways() -> None:
    angles = np.arange(8) * 45.0
    images = torch.cat([arcs(angles, r) for r in (10.0, 14.0)])
    real = cleanroom_responses(images, [0.0, 90.0], SETTINGS).numpy()
    comparison = ComparisonSet("self", images, real, np.array([0.0, 90.0]), (SIZE / 2, SIZE / 2), ("a", "b"))
    line = match_summary("self", match_family(comparison, SETTINGS), match_family(comparison, SETTINGS, orientation_offset=180))
    assert line.startswith("             self: mean r = +1.000 (100% of units positive); turned 180°: -")
