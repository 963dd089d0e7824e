"""Self-checks for lesson 02's exercises, one module per kind of exercise.

:mod:`.stimuli_and_tuning`: exercises 1-3 and 5-9 (a curve stimulus, a tuning curve's preferred orientation and
selectivity, the neighbour test's count, argument 4's hand-over, the other polarity, the tuning by the turned curve's
orientation, an image turned about a point); :mod:`.screen`: exercise 10 (the screen's scores of every unit);
:mod:`.centring`: exercise 11 (photographs centred on a receptive field).
Everything a lesson or a test imports is re-exported here.
"""
from .centring import centring_cases, check_centre_examples
from .screen import check_screen_scores, screen_cases
from .stimuli_and_tuning import (
    CURVE_CASES, check_curve, check_hand_over, check_neighbour_hits, check_orientation_selectivity,
    check_orientation_tuning, check_polarity_hold_out, check_preferred_orientation, check_rotate_about,
)

__all__ = [
    "CURVE_CASES", "check_curve", "check_preferred_orientation", "check_orientation_selectivity", "check_neighbour_hits",
    "check_hand_over", "check_polarity_hold_out", "check_orientation_tuning", "check_rotate_about",
    "check_screen_scores", "screen_cases", "check_centre_examples", "centring_cases",
]
