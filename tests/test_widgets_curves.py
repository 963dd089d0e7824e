"""The curve explorer: moving a slider redraws the curve and recomputes the family's responses."""
import numpy as np
import pytest
from matplotlib.figure import Figure
from handmade_curves import CURVE_ORIENTATIONS, build_handmade_network

from helpers.families import find_curve_family
from helpers.widgets.curves import curve_explorer, family_curve_response


@pytest.fixture(scope="module")
def model_and_family():
    model = build_handmade_network()
    family = find_curve_family(model, "detectors", orientations=24, radii=(0.15, 0.3, 0.5), length=0.65, width=0.1)
    assert sorted(family.channels) == list(range(8))
    return model, family


def test_response_follows_the_curve_orientation(model_and_family) -> None:
    model, family = model_and_family
    for orientation in (0, 135, 270):
        image, values = family_curve_response(model, family, orientation, curvature=1 / 6, width=2)
        size = family.screen.placement.size
        assert image.shape == (3, size, size) and values.shape == (8,)
        assert CURVE_ORIENTATIONS[family.channels[int(np.argmax(values))]] == orientation


def test_zero_curvature_is_a_line_and_negative_is_refused(model_and_family) -> None:
    model, family = model_and_family
    _, straight = family_curve_response(model, family, 90, curvature=0.0, width=2)
    _, curved = family_curve_response(model, family, 90, curvature=1 / 6, width=2)
    assert straight.max() < 0.5 * curved.max()  # the hand-built curve units barely see a straight line
    with pytest.raises(ValueError, match="curvature must be >= 0"):
        family_curve_response(model, family, 90, curvature=-0.1, width=2)


def test_sliders_redraw_the_figure(model_and_family) -> None:
    model, family = model_and_family
    explorer = curve_explorer(model, family)
    assert isinstance(explorer.result, Figure) and explorer.calls == 1
    assert all(not getattr(control, "continuous_update", False) for control in explorer.controls.values())
    explorer.controls["orientation"].value = 225
    assert explorer.calls == 2
    bars = [patch.get_height() for patch in explorer.result.axes[1].patches]
    _, expected = family_curve_response(model, family, 225, **{k: explorer.values()[k] for k in ("curvature", "width")})
    assert np.allclose(bars, expected)
    assert family.units[int(np.argmax(bars))].channel == CURVE_ORIENTATIONS.index(225)
    explorer.controls["width"].value = 4.0
    assert explorer.calls == 3 and explorer.values()["width"] == 4.0
    # The contrast control redraws light on dark and subtracts the dark blank.
    assert list(explorer.controls["polarity"].options) == list(family.screen.polarities)
    explorer.controls["polarity"].value = "light"
    image, expected = family_curve_response(model, family, 225, explorer.values()["curvature"], 4.0, "light")
    assert explorer.calls == 4 and float(image.mean()) < 0.5
    assert np.allclose([patch.get_height() for patch in explorer.result.axes[1].patches], expected)
