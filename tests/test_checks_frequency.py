"""The high-low lesson's exercise checks: the right answer passes, every plausible wrong answer fails, `...` is "not attempted".

Run in strict mode (CIRCUITS_STRICT=1), where a wrong answer raises. The network is the tiny hand-built
``high_low_model`` of conftest.py: ``highlow:0`` wants its fine side at 0 degrees.
"""
import numpy as np
import pytest

from helpers.checks import ExerciseError, NotAttempted
from helpers.checks.frequency import check_fine_on_top, check_preferred_orientation, check_sharp_side
from helpers.frequency import sharp_side_sweep
from helpers.stimuli.boundaries import frequency_boundary


pytestmark = pytest.mark.usefixtures("strict")  # as when grading: a wrong answer raises


def test_fine_on_top_accepts_only_the_top(monkeypatch):
    assert check_fine_on_top(frequency_boundary(96, 90, 0.25, 0.03))
    assert check_fine_on_top(frequency_boundary(64, 90, 0.3, 0.03, seed=4))
    for orientation in range(0, 360, 30):  # every other orientation of a 30-degree sweep fails
        if orientation != 90:
            with pytest.raises(ExerciseError):
                check_fine_on_top(frequency_boundary(96, orientation, 0.25, 0.03))
    for wrong in (frequency_boundary(96, 0, 0.25, 0.25), frequency_boundary(96, 0, 0.03, 0.03), np.zeros((3, 96, 96)), 90):
        with pytest.raises(ExerciseError):  # one texture everywhere, not an image, a typed number
            check_fine_on_top(wrong)


def test_preferred_orientation_within_half_a_step():
    angles = np.arange(0, 360, 15)
    curve = np.maximum(np.cos(np.radians(angles - 60)), 0)
    assert check_preferred_orientation(60, curve, angles)
    assert check_preferred_orientation(float(angles[np.argmax(curve)]), curve, angles)
    for answer in angles:  # the neighbours (45, 75) and everything further fail
        if answer != 60:
            with pytest.raises(ExerciseError, match="not where this curve peaks"):
                check_preferred_orientation(float(answer), curve, angles)
    with pytest.raises(ExerciseError):
        check_preferred_orientation("60", curve, angles)
    skewed = np.array([0, 0, 0, 1.0, 0.9, 0.8, 0.0, 0, 0, 0, 0, 0])  # argmax 90, circular mean 115
    coarse = np.arange(0, 360, 30)
    assert check_preferred_orientation(90, skewed, coarse) and check_preferred_orientation(115, skewed, coarse)
    for answer in (0, 30, 60, 150, 180, 210, 240, 270, 300, 330):  # more than one step from both answers
        with pytest.raises(ExerciseError):
            check_preferred_orientation(answer, skewed, coarse)


def test_sharp_side_only_the_best_direction(high_low_model):
    texture = frequency_boundary(high_low_model.input_size, 0, 0.3, 0.3, seed=5)  # fine detail everywhere, like a sharp photo
    directions = np.arange(0, 360, 15)
    sweep = sharp_side_sweep(high_low_model, "highlow:0", texture, directions, sigma=2.0)
    best = float(directions[np.argmax(sweep)])
    assert best in (0.0, 15.0, 345.0)
    assert check_sharp_side(high_low_model, "highlow:0", texture, best, sigma=2.0)
    failures = 0
    for answer in range(0, 360, 30):
        if abs((answer - best + 180) % 360 - 180) > 7.5:
            with pytest.raises(ExerciseError):
                check_sharp_side(high_low_model, "highlow:0", texture, float(answer), sigma=2.0)
            failures += 1
    assert failures >= 11
    other = float(directions[np.argmax(sharp_side_sweep(high_low_model, "highlow:1", texture, directions, sigma=2.0))])
    with pytest.raises(ExerciseError):  # the mirror unit's answer is not this unit's
        check_sharp_side(high_low_model, "highlow:0", texture, other, sigma=2.0)


def test_placeholder_is_not_attempted(monkeypatch, high_low_model, capsys):
    with pytest.raises(NotAttempted):
        check_fine_on_top(...)
    with pytest.raises(NotAttempted):
        check_preferred_orientation(..., np.ones(12), np.arange(0, 360, 30))
    with pytest.raises(NotAttempted):
        check_sharp_side(high_low_model, "highlow:0", frequency_boundary(48, 0, 0.3, 0.3), ...)
    monkeypatch.setenv("CIRCUITS_STRICT", "")
    assert not check_sharp_side(high_low_model, "highlow:0", frequency_boundary(48, 0, 0.3, 0.3), ...)
    assert not check_preferred_orientation(200.0, np.maximum(np.cos(np.radians(np.arange(0, 360, 30))), 0), np.arange(0, 360, 30))
    out = capsys.readouterr().out
    assert "Not attempted yet" in out and "Not right yet" in out
