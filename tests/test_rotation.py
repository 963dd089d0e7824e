"""Rotated dataset examples (helpers/rotation.py) on the hand-built curve network."""
import numpy as np
import pytest
import torch

from handmade_curves import CURVE_ORIENTATIONS, SIZE, build_handmade_network
from helpers.probing import place_on_receptive_field, unit_responses
from helpers.stimuli.curves import curve
from helpers.rotation import (
    JointTuning, centred_examples, hand_over, hand_over_misses, joint_rotation_tuning, recentre, rotate_about, rotation_tuning,
)
from helpers.tuning import angle_difference, largest_gap


@pytest.fixture(scope="module")
def handmade():
    """The hand-built curve network (see :func:`handmade_curves.build_handmade_network`)."""
    return build_handmade_network()


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
    found = scan_layer(handmade, "detectors", source, max_examples=4, max_band_examples=2, cache=False, progress=False)
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
    # Turning a member's arcs hands the response to the member facing the turned arc, beyond chance (0.5 against 0.29
    # here: the hand-built members are broadly tuned, and noise decides some turns).
    turning = hand_over(joint)
    assert turning.misses.shape == (8, 24) and np.mean(turning.misses <= 45) > 1.5 * turning.chance
    assert turning.changes == 1.0


def test_hand_over_misses_are_measured_on_the_circle() -> None:
    preferred = np.array([350.0, 100.0, 200.0])
    angles = np.array([0.0, 30.0])
    responses = np.zeros((3, 2, 3))
    responses[0, 0, 0] = responses[0, 1, 1] = 1  # member 0's arc (350°) wins itself, then member 1 (100°) at 20°
    responses[1, :, 2] = responses[2, :, 2] = 1  # member 2 (200°) wins everything else
    expected = np.array([[0.0, 80.0], [100.0, 70.0], [0.0, 30.0]])
    assert np.allclose(hand_over_misses(responses, preferred, angles), expected)
    joint = JointTuning([], preferred, angles, responses)
    turning = hand_over(joint)
    assert np.allclose(turning.misses, expected) and turning.changes == 1 / 3
    # six turned curves (350, 20, 100, 130, 200, 230) against three members: within 45° in 6 of 18 pairings
    assert turning.chance == pytest.approx(6 / 18)


def test_bad_input_is_explained(handmade) -> None:
    with pytest.raises(ValueError, match="one preferred orientation"):
        joint_rotation_tuning(handmade, ["detectors:0"], [0, 90], [torch.zeros(1, 3, SIZE, SIZE)], [0], (32.5, 32.5))


def test_centre_examples_skip_points_near_the_border_and_mirror_the_rest() -> None:
    from helpers.rotation import centre_examples

    image = torch.arange(3 * 10 * 10, dtype=torch.float32).reshape(3, 10, 10) / 300
    centred = centre_examples([image, image, image], [(5.0, 5.0), (1.0, 5.0), (7.8, 2.6)], (4.0, 4.0), 8, margin=2.0)
    assert centred.shape == (2, 3, 8, 8)  # the second point lies 1 px from the border
    assert torch.equal(centred[0], image[:, 1:9, 1:9])  # moved by one pixel up and left
    assert torch.equal(centred[1][:, 1, :6], image[:, 0, 4:])  # (7.8, 2.6) moved by 4 px left (rounded) and 1 down
    assert torch.equal(centred[1][:, 0, :6], image[:, 1, 4:])  # row -1 reads row 1 (mirrored, the edge not repeated)
    assert torch.equal(centred[1][:, 0, 6], image[:, 1, 8])  # column 10 reads column 8
    assert centre_examples([image], [(0.5, 0.5)], (4.0, 4.0), 8, margin=1.0).shape == (0, 3, 8, 8)
