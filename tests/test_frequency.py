"""Tests of helpers.frequency on a tiny hand-built network with known high-low frequency detectors.

Layer ``energy`` (3x3 Laplacian, both signs, + ReLU): fires on fine texture anywhere, so both its
units are high-frequency units. Layer ``highlow`` (15x15 + ReLU): unit 0 adds the energy on the
right half of its field and subtracts the left half (fine side at 0 degrees); unit 1 is its mirror
(fine side at 180 degrees); unit 2 reads the whole field evenly (a texture unit, no boundary).
"""
import numpy as np
import pytest
import torch
from torch import nn

from helpers import wrap_model
from helpers.frequency import (
    blurred_photo_responses,
    depth_fraction,
    find_high_low_family,
    frequency_preference,
    high_low_family,
    layers_near_depth,
    ratio_tuning,
    screen_high_low,
    side_weights,
)
from helpers.stimuli.boundaries import frequency_boundary

SIZE = 48


def build_high_low_network():
    """The tiny network described in the module docstring, wrapped for the course's tools."""
    laplacian = torch.tensor([[0.0, 1, 0], [1, -4, 1], [0, 1, 0]]) / 3
    energy = nn.Conv2d(3, 2, 3, padding=1, bias=False)
    highlow = nn.Conv2d(2, 3, 15, padding=7)
    with torch.no_grad():
        energy.weight[0] = laplacian
        energy.weight[1] = -laplacian
        highlow.weight.zero_()
        highlow.bias.fill_(-0.01)
        highlow.weight[0, :, :, 8:] = 1 / 105
        highlow.weight[0, :, :, :7] = -1 / 105
        highlow.weight[1] = highlow.weight[0].flip(-1)
        highlow.weight[2] = 1 / 225
    module = nn.Sequential(energy, nn.ReLU(), highlow, nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten())
    return wrap_model(module, {"energy": "1", "highlow": "3"}, name="tiny_highlow", input_size=SIZE)


@pytest.fixture(scope="module")
def model():
    return build_high_low_network()


def test_screen_finds_the_two_detectors_and_not_the_texture_unit(model):
    screen = screen_high_low(model, "highlow", orientations=8, seeds=2, size=SIZE)
    assert screen.tuning.shape == (8, 3)
    family = high_low_family(screen, min_response=0.0)
    assert sorted(family.channels) == [0, 1]
    assert list(family.orientations) == sorted(family.orientations)
    preferred = dict(zip(family.channels, family.orientations))
    assert abs(((preferred[0] + 180) % 360) - 180) < 10  # fine side to the right
    assert abs(preferred[1] - 180) < 10
    assert screen.boundary_selectivity[0] > 0.9 and screen.boundary_selectivity[2] < 0.3
    assert family.fraction == pytest.approx(2 / 3)
    assert family.largest_gap() == pytest.approx(180, abs=20)
    assert "highlow:0" in family.table()
    assert family.strongest(1)[0].channel in (0, 1)


def test_find_family_passes_options_to_both_steps(model):
    family = find_high_low_family(model, "highlow", orientations=8, size=SIZE, min_response=0.0, max_units=1)
    assert len(family) == 1


def test_response_grows_with_the_frequency_ratio(model):
    curves = ratio_tuning(model, ["highlow:0", "highlow:1"], [0.0, 180.0], [1, 2, 4, 8], size=SIZE)
    assert curves.shape == (4, 2)
    assert np.all(np.diff(curves[:, 0]) > 0)
    assert curves[0, 0] < 0.2 * curves[-1, 0]


def test_frequency_preference_and_weights_point_to_the_fine_side(model):
    preference = frequency_preference(model, "energy", size=SIZE)
    assert np.all(preference > 0.5)  # both energy units are high-frequency units (one position, two textures)
    sides = side_weights(model, ["highlow:0", "highlow:1"], [0.0, 180.0], preference)
    assert sides.frequency_maps.shape == (2, 15, 15)
    assert np.all(sides.dipole > 0) and sides.agreement == 1.0
    wrong = side_weights(model, ["highlow:0"], [180.0], preference)
    assert wrong.dipole[0] < 0


def test_blurred_photographs_follow_the_fine_side(model):
    texture = frequency_boundary(SIZE, 0, 0.3, 0.3, seed=5)  # fine detail everywhere, like a sharp photo
    preferred, swapped = blurred_photo_responses(model, ["highlow:0"], [0.0], [texture], sigma=2.0)
    assert preferred.shape == (1, 1) and preferred[0, 0] > 2 * swapped[0, 0]


def test_depth_helpers(model):
    assert depth_fraction(model, "energy") == 0.0 and depth_fraction(model, "highlow") == 1.0
    assert layers_near_depth(model, 0.5, 1.0) == ["highlow"]
    with pytest.raises(ValueError, match="depth range"):
        layers_near_depth(model, 0.8, 0.2)


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda m: screen_high_low(m, "highlow", orientations=2), "orientations"),
        (lambda m: screen_high_low(m, "highlow", ratio=0.5), "ratio"),
        (lambda m: ratio_tuning(m, ["highlow:0"], [0.0, 1.0], [1, 2]), "one orientation per unit"),
        (lambda m: side_weights(m, ["highlow:0"], [0.0], np.zeros(5)), "one value per unit"),
    ],
)
def test_bad_input_is_explained(model, call, message):
    with pytest.raises(ValueError, match=message):
        call(model)


def test_exercise_checks_accept_right_and_explain_wrong_answers(model):
    from helpers.checks import ExerciseError
    from helpers.checks.frequency import check_fine_on_top, check_preferred_orientation, check_sharp_side

    assert check_fine_on_top(frequency_boundary(64, 90, 0.3, 0.03))
    with pytest.raises(ExerciseError, match="not clearly on top"):
        check_fine_on_top(frequency_boundary(64, 270, 0.3, 0.03))
    angles = np.arange(0, 360, 30)
    curve = np.maximum(np.cos(np.radians(angles - 60)), 0)
    assert check_preferred_orientation(60, curve, angles)
    with pytest.raises(ExerciseError, match="away from"):
        check_preferred_orientation(240, curve, angles)
    texture = frequency_boundary(SIZE, 0, 0.3, 0.3, seed=5)
    assert check_sharp_side(model, "highlow:0", texture, 0.0, sigma=2.0)
    with pytest.raises(ExerciseError, match="prefers the other"):
        check_sharp_side(model, "highlow:0", texture, 180.0, sigma=2.0)
