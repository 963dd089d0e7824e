"""Tests of helpers.widgets.frequency on conftest's ``high_low_model``: set the sliders, check the wrapped function's result."""
import pytest

from helpers.probing import unit_responses
from helpers.widgets.frequency import boundary_explorer, boundary_figure, boundary_stimuli


def boundary_response(model, unit, orientation, ratio):
    """The reference: the unit's mean centre response to the explorer's stimuli, computed without the widget."""
    images = boundary_stimuli(model, unit, orientation, ratio, 1.0, 0.25, 2, 96)
    return float(unit_responses(model, [model.unit(unit)], images).mean())


def test_sliders_drive_the_pure_function(high_low_model):
    explorer = boundary_explorer(high_low_model, "highlow:0", orientation=0, ratio=8.0)
    assert explorer.result.response == pytest.approx(boundary_response(high_low_model, "highlow:0", 0, 8.0))
    first = explorer.result.response
    explorer.controls["orientation"].value = 180  # fine side now on the wrong side for this unit
    assert explorer.result.response == pytest.approx(boundary_response(high_low_model, "highlow:0", 180, 8.0))
    assert explorer.result.response < 0.2 * first
    explorer.controls["orientation"].value = 0
    explorer.controls["ratio"].value = 1.0  # the same texture on both sides: no boundary
    assert explorer.result.response < 0.2 * first
    explorer.controls["contrast"].value = 0.0
    assert explorer.result.response == pytest.approx(0.0, abs=1e-6)
    assert explorer.calls == 5
    assert all(not getattr(c, "continuous_update", False) for c in explorer.controls.values())


def test_figure_reports_its_response(high_low_model):
    fig = boundary_figure(high_low_model, "highlow:1", 180, 16.0)
    assert fig.response == pytest.approx(boundary_response(high_low_model, "highlow:1", 180, 16.0))
    assert fig.response > 0


def test_bad_ratio_is_explained(high_low_model):
    with pytest.raises(ValueError, match="ratio"):
        boundary_response(high_low_model, "highlow:0", 0, 0.5)
