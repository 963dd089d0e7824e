"""Lesson 02's exercise checks: the right answer passes, plausible wrong answers and typed-in guesses fail,
the placeholder reports "not attempted". Run on the hand-built curve network (eight arcs 45° apart)."""
import numpy as np
import pytest
from handmade_curves import build_handmade_network, build_mixed_polarity_network

from helpers.checks import ExerciseError, NotAttempted
from helpers.checks.curves import (
    check_largest_gap, check_rotation_prediction, check_strongest_member, strongest_member_response,
)
from helpers.families import find_curve_family
from helpers.tuning import angle_difference

SCREEN = dict(orientations=24, radii=(0.15, 0.3, 0.5), length=0.65, width=0.1)


pytestmark = pytest.mark.usefixtures("strict")  # as when grading: a wrong answer raises


@pytest.fixture(scope="module")
def model_and_family():
    model = build_mixed_polarity_network()  # seven dark arcs and one light arc: the family mixes polarities
    family = find_curve_family(model, "detectors", **SCREEN)
    assert len(family) == 8
    return model, family


@pytest.fixture(scope="module")
def uneven():
    """A family whose gaps differ: drop two members of the hand-built family so one arc is wider."""
    model = build_handmade_network()
    family = find_curve_family(model, "detectors", **SCREEN)
    return family.subset([0, 1, 3, 4, 5, 7])


def test_largest_gap_right_answer_and_guesses(uneven) -> None:
    ordered = np.sort(uneven.orientations % 360)
    right = float(np.max(np.diff(np.append(ordered, ordered[0] + 360))))
    assert check_largest_gap(uneven, right)
    inner = float(np.diff(ordered).max())  # forgetting the arc that wraps around
    wrong = [inner, right - 5, right + 5, 45.0, 90.0, 0.0, 360.0, 180.0, right / 2, -right]
    for answer in wrong:
        if abs(answer - right) < 0.5:
            continue
        with pytest.raises(ExerciseError):
            check_largest_gap(uneven, answer)
    for bad in ("90", None, float("nan"), True):
        with pytest.raises(ExerciseError):
            check_largest_gap(uneven, bad)


def test_wrapping_gap_gets_its_own_message() -> None:
    family = find_curve_family(build_handmade_network(), "detectors", **SCREEN).subset([1, 2, 3, 4, 5])  # 45..225°
    ordered = np.sort(family.orientations)
    with pytest.raises(ExerciseError, match="wraps around|missing"):
        check_largest_gap(family, float(np.diff(ordered).max()))


def test_strongest_member_right_answer_and_every_other_member(model_and_family) -> None:
    model, family = model_and_family
    responses = strongest_member_response(model, family, 200, "dark")
    right = family.units[int(np.argmax(responses))]
    assert check_strongest_member(model, family, right)
    assert check_strongest_member(model, family, str(right))
    for unit in family.units:
        if unit != right:
            with pytest.raises(ExerciseError) as error:
                check_strongest_member(model, family, unit)
            assert str(right) not in str(error.value)  # the message never names the right member
    for bad in (200, "detectors:99", "nonsense", family.units[0].channel):
        with pytest.raises(ExerciseError):
            check_strongest_member(model, family, bad)


def test_rotation_prediction_right_answer_and_every_other_member(model_and_family) -> None:
    _, family = model_and_family
    target = (family.orientations[0] + 90) % 360
    right = family.units[int(np.argmin(angle_difference(family.orientations, target)))]
    assert check_rotation_prediction(family, right)
    clockwise = family.units[int(np.argmin(angle_difference(family.orientations, (family.orientations[0] - 90) % 360)))]
    with pytest.raises(ExerciseError, match="clockwise"):
        check_rotation_prediction(family, clockwise)
    for unit in family.units:
        if unit != right:
            with pytest.raises(ExerciseError) as error:
                check_rotation_prediction(family, unit)
            assert str(right) not in str(error.value)
    with pytest.raises(ExerciseError):
        check_rotation_prediction(family, 90)


def test_placeholders_are_not_attempted(model_and_family, monkeypatch, capsys) -> None:
    model, family = model_and_family
    for call in (lambda: check_largest_gap(family, ...), lambda: check_strongest_member(model, family, ...),
                 lambda: check_rotation_prediction(family, ...)):
        with pytest.raises(NotAttempted):
            call()
    monkeypatch.delenv("CIRCUITS_STRICT")
    for call in (lambda: check_largest_gap(family, ...), lambda: check_strongest_member(model, family, ...),
                 lambda: check_rotation_prediction(family, ...)):
        assert not call()
        assert "Not attempted yet" in capsys.readouterr().out
    assert not check_rotation_prediction(family, family.units[0])  # wrong, not strict: printed, not raised
    assert "Not right yet" in capsys.readouterr().out
