"""Tuning tools and the curve-family finder on a small network whose units are built by hand."""
import math

import numpy as np
import pytest
import torch
from torch import nn

from helpers.models import Unit, wrap_model
from helpers.stimuli.curves import curve, line
from helpers.tuning import (
    angle_difference,
    centred_examples,
    find_curve_family,
    joint_rotation_tuning,
    largest_gap,
    orientation_selectivity,
    orientation_tuning,
    place_on_receptive_field,
    preferred_orientation,
    recentre,
    resolve_units,
    rotate_about,
    rotation_tuning,
    unit_responses,
)

KERNEL = 21
CURVE_ORIENTATIONS = [0, 45, 90, 135, 180, 225, 270, 315]
LINE_ANGLES = [0, 45, 90, 135]
NOISE_UNITS = 4
SIZE = 64


def template(image: torch.Tensor) -> torch.Tensor:
    """A zero-mean filter matching dark ink on a white background, for each RGB channel."""
    ink = 1.0 - image.mean(0)
    ink = ink - ink.mean()
    return (-ink / ink.norm()).expand(3, -1, -1) / 3


def build_handmade_network():
    """Channels 0-7: arcs at 0, 45, ..., 315 degrees; 8-11: straight lines; 12-15: random filters.

    Like real detectors, the arc and line units are thresholded templates: a first convolution
    matches the template, a ReLU with a bias of minus half the perfect match removes weak partial
    matches, and an identity 1x1 convolution + ReLU is the layer the finder screens.
    """
    stimuli = [curve(KERNEL, orientation=o, radius=6, length=14, width=2) for o in CURVE_ORIENTATIONS]
    stimuli += [line(KERNEL, angle=a, length=14, width=2) for a in LINE_ANGLES]
    filters = [template(image) for image in stimuli]
    generator = torch.Generator().manual_seed(0)
    filters += [torch.randn(3, KERNEL, KERNEL, generator=generator) * 0.05 for _ in range(NOISE_UNITS)]
    match = nn.Conv2d(3, len(filters), KERNEL, padding=KERNEL // 2)
    combine = nn.Conv2d(len(filters), len(filters), 1)
    with torch.no_grad():
        match.weight.copy_(torch.stack(filters))
        perfect = torch.stack([(f * image).sum() for f, image in zip(filters, stimuli)])  # template . its own drawing
        match.bias.zero_()
        match.bias[: len(stimuli)] = -0.5 * perfect
        combine.weight.copy_(torch.eye(len(filters))[:, :, None, None])
        combine.bias.fill_(-0.1)  # silent parts give a negative pre-activation
    module = nn.Sequential(match, nn.ReLU(), combine, nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten())
    return wrap_model(module, {"detectors": "3"}, name="handmade", input_size=SIZE)


@pytest.fixture(scope="module")
def handmade():
    """The hand-built curve network (see :func:`build_handmade_network`)."""
    return build_handmade_network()


def test_placement_is_the_centre_units_receptive_field(handmade) -> None:
    placement = place_on_receptive_field(handmade, "detectors")
    assert placement.size == SIZE and placement.extent == KERNEL
    assert placement.center == (32.5, 32.5)  # the centre unit (row 32) sees rows 22..42
    assert placement.pixels(0.5) == pytest.approx(10.5)


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


def test_unit_responses_layer_units_neighbourhood_and_pre_activation(handmade) -> None:
    placement = place_on_receptive_field(handmade, "detectors")
    images = placement.draw("curve", {"orientation": [0, 180]}, radius=6, length=14, width=2).images
    everything = unit_responses(handmade, "detectors", images)
    some = unit_responses(handmade, ["detectors:3", Unit("detectors", 0)], images, batch_size=1)
    assert everything.shape == (2, 16)
    assert torch.allclose(some, everything[:, [3, 0]])
    wider = unit_responses(handmade, "detectors", images, neighbourhood=2)
    whole = unit_responses(handmade, "detectors", images, at="max")
    assert bool((wider >= everything).all()) and bool((whole >= wider).all())
    pre = unit_responses(handmade, "detectors", images, pre_activation=True)
    assert float(pre.min()) < 0 and torch.allclose(pre.clamp_min(0), everything, atol=1e-6)
    # The arc at 0 degrees drives unit 0 (built for it) far more than unit 4 (built for the opposite arc).
    assert pre[0, 0] > 2 * pre[0, 4]


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


def test_rotating_a_curve_turns_its_orientation() -> None:
    center = (40.5, 30.5)
    original = curve(80, orientation=20, radius=15, length=40, width=3, center=center)[None]
    rotated = rotate_about(original, 70, center)
    expected = curve(80, orientation=90, radius=15, length=40, width=3, center=center)
    assert (rotated[0] - expected).abs().mean() < 0.01
    assert torch.allclose(rotate_about(original, 0, center), original, atol=1e-5)


def test_recentre_moves_a_point_onto_the_receptive_field(handmade) -> None:
    placement = place_on_receptive_field(handmade, "detectors")
    image = curve(100, orientation=0, radius=6, length=14, width=2, center=(70.5, 20.5))
    moved = recentre(image, (70.5, 20.5), placement)
    assert moved.shape == (3, SIZE, SIZE)
    assert torch.allclose(moved, curve(SIZE, orientation=0, radius=6, length=14, width=2, center=placement.center), atol=1e-6)


def test_centred_examples_put_the_firing_spot_on_the_receptive_field(handmade) -> None:
    from helpers.dataset_examples import scan_layer
    from helpers.images import RandomCrops

    scene = torch.ones(3, 160, 160)
    for orientation, spot in zip((0, 90, 200), ((40.5, 50.5), (100.5, 60.5), (70.5, 120.5))):
        scene = torch.minimum(scene, curve(160, orientation=orientation, radius=6, length=14, width=2, center=spot))
    source = RandomCrops({"arcs": scene}, count=12, size=SIZE, scales=(0.4, 0.6), seed=0)
    found = scan_layer(handmade, "detectors", source, top_k=4, band_k=2, cache=False, progress=False)
    placement = place_on_receptive_field(handmade, "detectors")
    images = centred_examples(found, 0, 3, placement, margin=placement.extent / 2)
    assert 1 <= len(images) <= 3 and images.shape[1:] == (3, SIZE, SIZE)
    # Shifted onto the centre, each example drives unit 0 exactly as much as it did where it was found.
    # (A margin of half the field keeps exactly the examples whose whole receptive field is inside the image.)
    inside = lambda box: box[0] >= 0 and box[1] >= 0 and box[2] <= SIZE and box[3] <= SIZE  # noqa: E731
    kept = [value for value, (row, col) in zip(found.top_values(0).tolist(), found.top_positions(0).tolist())
            if inside(found.patch_box(row, col))][: len(images)]
    responses = unit_responses(handmade, "detectors:0", images)[:, 0]
    assert torch.allclose(responses, torch.tensor(kept), atol=1e-4)
    with pytest.raises(ValueError, match="which must be"):
        centred_examples(found, 0, 1, placement, which="middle")


def test_rotation_shifts_which_member_responds(handmade) -> None:
    placement = place_on_receptive_field(handmade, "detectors")
    example = curve(SIZE, orientation=0, radius=6, length=14, width=2, center=placement.center)
    angles = list(range(0, 360, 45))
    responses = rotation_tuning(handmade, "detectors", example, angles, placement.center)
    assert responses.shape == (1, 8, 16)
    winners = responses[0, :, :8].argmax(1)
    assert winners.tolist() == list(range(8))  # rotating by 45 k hands the stimulus to unit k


def test_joint_rotation_tuning_tiles_the_circle(handmade) -> None:
    placement = place_on_receptive_field(handmade, "detectors")
    units = [f"detectors:{c}" for c in range(8)]
    # Each member's "examples": arcs at its orientation, on a noisy background (a stand-in for photographs).
    generator = torch.Generator().manual_seed(1)
    examples = []
    for o in CURVE_ORIENTATIONS:
        arcs = torch.stack([curve(SIZE, orientation=o, radius=r, length=14, width=2, center=placement.center) for r in (5, 6, 8)])
        examples.append((arcs * 0.8 + 0.2 * torch.rand(arcs.shape, generator=generator)).clamp(0, 1))
    joint = joint_rotation_tuning(handmade, units, CURVE_ORIENTATIONS, examples, range(0, 360, 15), placement.center)
    assert joint.responses.shape == (8, 24, 8)
    orientations, binned = joint.by_orientation()
    assert len(orientations) == 24 and binned.shape == (24, 8)
    assert angle_difference(joint.peak_orientations("argmax"), CURVE_ORIENTATIONS).max() <= 15
    assert largest_gap(joint.peak_orientations()) <= 60
    # Other members' arcs, rotated into a unit's orientation, are enough to find its preference.
    assert angle_difference(joint.peak_orientations(exclude_own=True), CURVE_ORIENTATIONS).max() <= 15


def test_bad_input_is_explained(handmade) -> None:
    with pytest.raises(ValueError, match="at least 4"):
        find_curve_family(handmade, "detectors", orientations=2)
    with pytest.raises(ValueError, match=r"\(N, 3, H, W\)"):
        unit_responses(handmade, "detectors", torch.zeros(2, 1, 8, 8))
    with pytest.raises(ValueError, match="at must be"):
        unit_responses(handmade, "detectors", torch.zeros(1, 3, 8, 8), at="mean")
    with pytest.raises(ValueError, match="No units"):
        resolve_units(handmade, [])
    with pytest.raises(KeyError, match="no layer"):
        resolve_units(handmade, "conv9")
    with pytest.raises(ValueError, match="one preferred orientation"):
        joint_rotation_tuning(handmade, ["detectors:0"], [0, 90], [torch.zeros(1, 3, SIZE, SIZE)], [0], (32.5, 32.5))
    assert math.isfinite(largest_gap([0, 180]))


# --- contrast polarity ----------------------------------------------------------------------
def build_mixed_polarity_network():
    """The hand-built network with unit 6 (the 270° arc) turned round: it answers light arcs on a dark ground only."""
    model = build_handmade_network()
    with torch.no_grad():
        model.module[0].weight[6].neg_()  # the zero-mean template of a light arc is minus the dark one's
    return model


SCREEN = dict(orientations=24, radii=(0.15, 0.3, 0.5), length=0.65, width=0.1)


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
    import helpers.tuning as tuning

    calls = []
    original = tuning.unit_responses

    def counting(model, units, stimuli, **options):
        calls.append(len(stimuli))
        return original(model, units, stimuli, **options)

    monkeypatch.setattr(tuning, "unit_responses", counting)
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
