"""Tests of helpers.frequency on conftest's ``high_low_model``, a tiny hand-built network with known high-low frequency detectors."""
import numpy as np
import pytest

from helpers.families import find_high_low_family, high_low_family, screen_high_low
from helpers.frequency import (
    blurred_photo_responses, describe_preference, frequency_preference, ratio_tuning, side_factors, side_weights,
)
from helpers.layers import layers_near_depth
from helpers.stimuli.boundaries import frequency_boundary


def test_screen_finds_the_two_detectors_and_not_the_texture_unit(high_low_model):
    screen = screen_high_low(high_low_model, "highlow", orientations=8, seeds=2, size=high_low_model.input_size)
    assert screen.tuning().shape == (8, 3)
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


def test_find_family_passes_options_to_both_steps(high_low_model):
    family = find_high_low_family(high_low_model, "highlow", orientations=8, size=high_low_model.input_size, min_response=0.0, max_units=1)
    assert len(family) == 1


def test_seed_lists_and_the_every_seed_rule(high_low_model):
    screen = screen_high_low(high_low_model, "highlow", orientations=8, seeds=[3, 7], size=None, pre_activation=True)
    assert screen.placement.size == high_low_model.input_size
    assert screen.every_seed[:2].all() and not screen.every_seed[2]  # the texture unit never beats its controls
    strict = high_low_family(screen, min_response=0.0, min_boundary_selectivity=-1, min_orientation_selectivity=0, every_seed=True)
    assert sorted(strict.channels) == [0, 1]
    with pytest.raises(ValueError, match="seeds"):
        screen_high_low(high_low_model, "highlow", seeds=[])


def test_response_grows_with_the_frequency_ratio(high_low_model):
    curves = ratio_tuning(high_low_model, ["highlow:0", "highlow:1"], [0.0, 180.0], [1, 2, 4, 8], size=high_low_model.input_size)
    assert curves.shape == (4, 2)
    assert np.all(np.diff(curves[:, 0]) > 0)
    assert curves[0, 0] < 0.2 * curves[-1, 0]


def test_frequency_preference_and_weights_point_to_the_fine_side(high_low_model):
    preference = frequency_preference(high_low_model, "energy", size=high_low_model.input_size)
    assert np.all(preference > 0.5)  # both energy units are high-frequency units (one position, two textures)
    sides = side_weights(high_low_model, ["highlow:0", "highlow:1"], [0.0, 180.0], preference)
    assert sides.frequency_maps.shape == (2, 15, 15)
    assert np.all(sides.dipole > 0) and sides.agreement == 1.0
    wrong = side_weights(high_low_model, ["highlow:0"], [180.0], preference)
    assert wrong.dipole[0] < 0
    assert sides.leaning == 2 and wrong.leaning == 0
    assert sides.describe().endswith("2 of 2 (100%; chance: 50%, one-sided binomial p = 0.25)")
    assert describe_preference(preference, "energy") == "energy: 2 high-frequency and 0 low-frequency units (preference beyond ±0.5) of 2"


def test_nmf_factors_put_the_high_frequency_part_on_the_fine_side(high_low_model):
    preference = frequency_preference(high_low_model, "energy", size=high_low_model.input_size)
    sides = side_weights(high_low_model, ["highlow:0", "highlow:1"], [0.0, 180.0], preference)
    found = side_factors(high_low_model, sides, preference)
    assert found.position.shape == found.reads.shape == (2, 2)
    assert all(f.explained > 0.99 for f in found.factors)  # excites on one side, inhibits on the other: two parts
    assert np.all(found.fine_minus_smooth > 0)  # the excitatory part lies on the fine side and reads high frequencies
    turned = side_factors(high_low_model, side_weights(high_low_model, ["highlow:0"], [180.0], preference), preference)
    assert turned.fine_minus_smooth[0] < 0
    assert found.describe().startswith("the factor on the fine side reads higher frequencies than the other in 2 of 2 detectors")
    assert "in 0 of 1 detectors" in turned.describe()


def test_side_figures_show_the_units_asked_for(high_low_model):
    import matplotlib.pyplot as plt

    from helpers.plotting.frequency import detectors_side_maps_figure, side_factors_figure

    preference = frequency_preference(high_low_model, "energy", size=high_low_model.input_size)
    sides = side_weights(high_low_model, ["highlow:0", "highlow:1"], [0.0, 180.0], preference)
    one = [high_low_model.unit("highlow:1")]
    figure = detectors_side_maps_figure(sides, one)
    assert [ax.get_title() for ax in figure.axes] == ["highlow:1"]
    figure = side_factors_figure(side_factors(high_low_model, sides, preference, steps=50), one)
    titles = [ax.get_title() for ax in figure.axes]
    assert len(titles) == 2 and any(t.startswith("fine side, reads +") for t in titles)
    with pytest.raises(ValueError, match="not measured by side_weights"):
        detectors_side_maps_figure(side_weights(high_low_model, ["highlow:0"], [0.0], preference), one)
    plt.close("all")


def test_held_out_verdict_measures_around_the_circle_and_against_both_controls():
    from helpers.frequency import held_out_verdict

    same, beats = held_out_verdict([350.0, 10.0, 90.0, 0.0], [20.0, 330.0, 91.0, 180.0], [1.0, 1.0, 0.0, 2.0],
                                   [0.5, 1.5, -1.0, 1.0], [0.5, 0.2, -1.0, 2.5], tolerance=30.0)
    assert same.tolist() == [True, False, True, False]
    assert beats.tolist() == [True, False, False, False]


def test_blurred_photographs_follow_the_fine_side(high_low_model):
    texture = frequency_boundary(high_low_model.input_size, 0, 0.3, 0.3, seed=5)  # fine detail everywhere, like a sharp photo
    preferred, swapped = blurred_photo_responses(high_low_model, ["highlow:0"], [0.0], [texture], sigma=2.0)
    assert preferred.shape == (1, 1) and preferred[0, 0] > 2 * swapped[0, 0]


def test_depth_helpers(high_low_model):
    assert high_low_model.depth_fraction("energy") == 0.0 and high_low_model.depth_fraction("highlow") == 1.0
    assert layers_near_depth(high_low_model, 0.5, 1.0) == ["highlow"]
    with pytest.raises(ValueError, match="depth range"):
        layers_near_depth(high_low_model, 0.8, 0.2)


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda m: screen_high_low(m, "highlow", orientations=2), "orientations"),
        (lambda m: screen_high_low(m, "highlow", ratio=0.5), "ratio"),
        (lambda m: ratio_tuning(m, ["highlow:0"], [0.0, 1.0], [1, 2]), "one orientation per unit"),
        (lambda m: side_weights(m, ["highlow:0"], [0.0], np.zeros(5)), "one value per unit"),
    ],
)
def test_bad_input_is_explained(high_low_model, call, message):
    with pytest.raises(ValueError, match=message):
        call(high_low_model)


def test_sharp_side_sweep_and_held_out_check(high_low_model):
    from helpers.frequency import above_chance_p, held_out_check, sharp_side_sweep

    texture = frequency_boundary(high_low_model.input_size, 0, 0.3, 0.3, seed=5)
    sweep = sharp_side_sweep(high_low_model, "highlow:0", texture, [0, 90, 180, 270], sigma=2.0)
    assert sweep.shape == (4,) and int(np.argmax(sweep)) == 0
    family = high_low_family(screen_high_low(high_low_model, "highlow", orientations=12, seeds=2, size=48), min_response=0.0)
    held = held_out_check(family, high_low_model, high_frequency=0.35, ratio=6.0)
    assert held.same_orientation.all() and held.beats_controls.all() and "2 of 2" in held.describe()
    assert held.peak.shape == held.fine_control.shape == held.smooth_control.shape == (2,)
    assert above_chance_p(10, 10) == pytest.approx(2 ** -10) and above_chance_p(0, 0) == 1.0
    assert above_chance_p(5, 10) > 0.5


def test_the_lessons_plumbing_and_claim_measurements(high_low_model):
    import matplotlib.pyplot as plt

    from helpers.frequency import (
        describe_layers, first_layers_share, held_out_check, made_up_detector, paper_units_found, ratio_growth,
        strongest_or_best,
    )
    from helpers.plotting.frequency import found_parts_figure, screened_layers_figure

    options = dict(orientations=8, seeds=2, size=high_low_model.input_size)
    screen = screen_high_low(high_low_model, "highlow", **options)
    family, empty = high_low_family(screen, min_response=0.0), high_low_family(screen, min_response=1e9)
    families = {"energy": empty, "highlow": family}  # the first layer's screen stands in: its units have no field
    lines = describe_layers(high_low_model, families).splitlines()
    assert len(lines) == 2 and lines[1].startswith("highlow") and "2 of    3 units (67%)" in lines[1]
    assert first_layers_share(high_low_model, families) == 0.0
    with pytest.raises(ValueError, match="first layers"):
        first_layers_share(high_low_model, {"highlow": families["highlow"]})
    units, orientations = strongest_or_best(high_low_model, family, 1)
    assert units == family.strongest(1) and orientations == [float(screen.preferred[units[0].channel])]
    units, orientations = strongest_or_best(high_low_model, empty, 2)
    assert [u.channel for u in units] == list(np.argsort(-screen.score, kind="stable")[:2]) and len(orientations) == 2
    held = held_out_check(empty, high_low_model)
    assert held.units == [] and held.describe() == "No members to test on held-out textures."
    assert len(held.arguments) == 6 and held.arguments[-1] == 30.0
    assert held.beside((np.array([], bool), np.array([], bool))).startswith("yours: 0 of 0")
    assert paper_units_found(high_low_model, families, "highlow", (0, 2, 1)) == [0, 1]
    assert paper_units_found(high_low_model, {}, "highlow", (2,), **options) == []
    grows, silent = ratio_growth(np.array([[0.0, 1.0, 2.0], [1.0, 0.5, 4.0]]))
    assert grows == pytest.approx(2 / 3) and silent == pytest.approx(0.5)  # ratio 1 as a share of peak: 0, 1, 0.5
    with pytest.raises(ValueError, match="two ratios"):
        ratio_growth(np.ones((1, 3)))
    matrix, parts = made_up_detector(window=5, inputs=4, noise=0.0)
    assert matrix.shape == (25, 4) and parts.shape == (2, 5, 5)
    assert parts[0, :, :2].eq(1).all() and parts[0, :, 2:].eq(0).all() and parts[1, :, 3:].eq(1).all()
    assert matrix[0].tolist() == [1.0, 1.0, 0.0, 0.0] and matrix[4].tolist() == [0.0, 0.0, 1.0, 1.0]
    assert [ax.get_title() for ax in found_parts_figure(parts, matrix[:, [0, 2]]).axes] == [
        "true part 1", "true part 2", "your factor 1", "your factor 2"]
    assert len(screened_layers_figure(high_low_model, families).axes) == 1
    plt.close("all")
