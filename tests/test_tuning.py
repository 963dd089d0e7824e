"""Orientation tuning curves and the circle's arithmetic (helpers/tuning.py)."""
import math

import numpy as np
import pytest

from handmade_curves import CURVE_ORIENTATIONS, build_handmade_network
from helpers.probing import place_on_receptive_field
from helpers.tuning import angle_difference, largest_gap, orientation_selectivity, orientation_tuning, preferred_orientation


@pytest.fixture(scope="module")
def handmade():
    """The hand-built curve network (see :func:`handmade_curves.build_handmade_network`)."""
    return build_handmade_network()


def test_tuning_curves_peak_at_the_built_orientation(handmade) -> None:
    placement = place_on_receptive_field(handmade, "detectors")
    orientations = np.arange(0, 360, 15)
    responses = orientation_tuning(handmade, [f"detectors:{c}" for c in range(8)], placement, orientations,
                                   radius=6, length=14, width=2)
    assert responses.shape == (24, 8)
    peaks = preferred_orientation(responses, orientations, method="argmax")
    assert np.allclose(peaks, CURVE_ORIENTATIONS)
    assert angle_difference(preferred_orientation(responses, orientations), CURVE_ORIENTATIONS).max() < 5
    # A unit built for one arc is silent (after its threshold) on the opposite arc.
    assert np.all(responses[orientations == 180, 0] <= 1e-6)


def test_circular_statistics() -> None:
    orientations = np.arange(0, 360, 10.0)
    cosine = np.cos(np.radians(orientations - 130))  # one broad peak at 130
    assert preferred_orientation(cosine, orientations)[0] == pytest.approx(130, abs=1e-6)
    assert orientation_selectivity(cosine, orientations)[0] > 0.5
    two_sided = np.abs(np.cos(np.radians(orientations - 30)))  # a line detector: peaks at 30 and 210
    assert orientation_selectivity(two_sided, orientations)[0] < 1e-9
    silent = np.zeros(len(orientations))
    assert orientation_selectivity(silent, orientations)[0] == 0
    assert largest_gap([10, 100, 350]) == pytest.approx(250)
    assert largest_gap([5]) == 360
    assert angle_difference(350, 10) == pytest.approx(20)
    with pytest.raises(ValueError, match="method"):
        preferred_orientation(cosine, orientations, method="median")
    with pytest.raises(ValueError, match="orientations"):
        preferred_orientation(cosine[:5], orientations)


def test_a_gap_between_two_orientations_is_finite() -> None:
    assert math.isfinite(largest_gap([0, 180]))


def test_screen_scores_read_curves_lines_and_corners_relative_to_the_blank() -> None:
    from helpers.tuning import screen_scores

    curve = np.zeros((4, 2, 3)) + 1.0
    curve[1, 1, 0] = 3.0  # unit 0: its strongest curve at orientation 1, radius 1
    curve[..., 2] = 0.5  # unit 2: no curve above its blank
    line = np.full((2, 3, 3), 1.0) + np.array([1.0, 2.0, 0.0])
    corner = np.full((4, 3, 3), 1.0) + np.array([0.5, -0.5, 0.0])
    selectivity, margin, tuning = screen_scores(curve, line, corner, np.array([1.0, 0.0, 1.0]))
    assert np.allclose(selectivity, [0.5, -1.0, -1.0]) and np.allclose(margin, [0.75, 0.5, -1.0])
    assert np.allclose(tuning[:, 0], [0.0, 2.0, 0.0, 0.0]) and tuning.shape == (4, 3)
