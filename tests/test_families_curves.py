"""The curve family (helpers/families/curves.py) on the hand-built curve network."""
import numpy as np
import pytest

from handmade_curves import CURVE_ORIENTATIONS, SCREEN, build_handmade_network, build_mixed_polarity_network
from helpers.families import find_curve_family
from helpers.probing import unit_responses
from helpers.stimuli.curves import curve
from helpers.tuning import angle_difference


@pytest.fixture(scope="module")
def handmade():
    """The hand-built curve network (see :func:`handmade_curves.build_handmade_network`)."""
    return build_handmade_network()


def test_finder_recovers_the_curve_units_and_their_orientations(handmade) -> None:
    family = find_curve_family(handmade, "detectors", orientations=24, radii=(0.15, 0.3, 0.5), length=0.65, width=0.1)
    assert sorted(family.channels) == list(range(8)), family.table()
    truth = np.array(CURVE_ORIENTATIONS, dtype=float)[family.channels]
    assert angle_difference(family.orientations, truth).max() < 8.0
    assert np.all(np.diff(family.orientations) > 0)  # sorted around the circle
    assert family.largest_gap() == pytest.approx(45, abs=10)
    screen = family.screen
    # Line units: a straight line drives them as well as any curve, so their curve selectivity is low.
    assert screen.curve_selectivity[8:12].max() < 0.3
    assert screen.curve_selectivity[:8].min() > 0.3
    assert screen.curve.shape == (24, 3, 16) and screen.line.shape == (12, 3, 16) and screen.corner.shape == (24, 3, 16)
    assert family.tuning().shape == (24, 8)


def test_stricter_thresholds_and_max_units_shrink_the_family(handmade) -> None:
    family = find_curve_family(handmade, "detectors", orientations=16, radii=(0.3,), length=0.65, width=0.1, max_units=3)
    assert len(family) == 3 and set(family.channels) <= set(range(8))
    assert np.all(np.diff(family.orientations) > 0)


def test_finder_screens_both_polarities_and_records_each_members_better_one() -> None:
    mixed = build_mixed_polarity_network()
    family = find_curve_family(mixed, "detectors", **SCREEN)
    assert sorted(family.channels) == list(range(8)), family.table()
    polarity = dict(zip(family.channels, family.polarity))
    assert polarity[6] == "light" and all(polarity[c] == "dark" for c in range(8) if c != 6)
    assert family.polarity_counts() == {"dark": 7, "light": 1}
    truth = np.array(CURVE_ORIENTATIONS, dtype=float)[family.channels]
    assert angle_difference(family.orientations, truth).max() < 8.0  # the light unit keeps its orientation
    screen = family.screen
    assert screen.polarities == ("dark", "light")
    assert screen.polarity_screen("light").style["foreground"] == 1.0 and screen.polarity_screen("light").style["background"] == 0.0
    assert screen.polarity_screen("dark").curve_selectivity[6] < 0.3 < screen.polarity_screen("light").curve_selectivity[6]
    assert "light" in family.table() and family.spread(4).polarity.shape == (len(family.spread(4)),)
    # One polarity only: the turned unit is missed in dark drawings and is the only member in light ones.
    assert 6 not in find_curve_family(mixed, "detectors", polarity="dark", **SCREEN).channels
    assert find_curve_family(mixed, "detectors", polarity="light", **SCREEN).channels == [6]
    # Explicit colours keep the old one-polarity behaviour.
    inverted = find_curve_family(mixed, "detectors", foreground=1.0, background=0.0, **SCREEN)
    assert inverted.channels == [6] and list(inverted.polarity) == ["light"]
    with pytest.raises(ValueError, match="polarity"):
        find_curve_family(mixed, "detectors", polarity="both", foreground=1.0, **SCREEN)
    with pytest.raises(ValueError, match="polarity"):
        find_curve_family(mixed, "detectors", polarity="sideways", **SCREEN)


def test_both_polarities_are_screened_in_one_batched_pass(monkeypatch) -> None:
    import helpers.families.curves as curves

    calls = []
    original = curves.unit_responses

    def counting(model, units, stimuli, **options):
        calls.append(len(stimuli))
        return original(model, units, stimuli, **options)

    monkeypatch.setattr(curves, "unit_responses", counting)
    find_curve_family(build_mixed_polarity_network(), "detectors", **SCREEN)
    one = find_curve_family(build_mixed_polarity_network(), "detectors", polarity="dark", **SCREEN)
    assert len(calls) == 2 and calls[0] == 2 * calls[1]  # one call, twice the drawings
    assert len(one) == 7


def test_responses_subtract_the_blank_of_the_polarity_drawn() -> None:
    mixed = build_mixed_polarity_network()
    family = find_curve_family(mixed, "detectors", **SCREEN)
    placement = family.screen.placement
    light = family.style("light")
    image = curve(placement.size, orientation=270, radius=0.3 * placement.extent, center=placement.center, **light)
    responses = family.responses(mixed, image[None], polarity="light")[0]
    assert family.units[int(np.argmax(responses))].channel == 6
    raw = unit_responses(mixed, family.units, image[None], pre_activation=family.screen.pre_activation).numpy()[0]
    assert np.allclose(responses, raw - family.screen.polarity_screen("light").blank[family.channels])


def test_bad_input_is_explained(handmade) -> None:
    with pytest.raises(ValueError, match="at least 4"):
        find_curve_family(handmade, "detectors", orientations=2)
    with pytest.raises(TypeError, match="Unknown option.*radius.*allowed:.*radii"):
        find_curve_family(handmade, "detectors", radius=0.2)


def test_the_drawing_is_one_frozen_object_apart_from_the_family_thresholds(handmade) -> None:
    import dataclasses

    from helpers.families import CurveDrawing, CurveFamily, curve_family, screen_curves

    drawing = CurveDrawing(orientations=16, radii=[0.3], length=0.65, width=0.1)
    assert drawing.radii == (0.3,)
    with pytest.raises(dataclasses.FrozenInstanceError):
        drawing.orientations = 8
    screen = screen_curves(handmade, "detectors", drawing)
    found = find_curve_family(handmade, "detectors", orientations=16, radii=(0.3,), length=0.65, width=0.1)
    assert curve_family(screen).channels == found.channels
    assert np.array_equal(CurveFamily.passes(screen), CurveFamily.passes(found.screen))
    # a threshold reaches both the pick and the screen's choice of each unit's better polarity
    strict = screen_curves(handmade, "detectors", drawing, thresholds={"min_strength": 10.0})
    assert not CurveFamily.passes(strict, min_strength=10.0).any()
    with pytest.raises(ValueError, match="at least 4"):
        CurveDrawing(orientations=2)
    with pytest.raises(ValueError, match="not both"):
        CurveDrawing(polarity="dark", foreground=1.0)
    with pytest.raises(TypeError, match="Unknown threshold"):
        CurveFamily.passes(screen, min_sharpness=0.5)
