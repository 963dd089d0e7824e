"""Self-checks for lesson 02's exercises 1-9: drawing a curve stimulus, reading a tuning curve's preferred orientation and
selectivity, the neighbour test's count of hits, argument 4's hand-over, the family in its other polarity, argument
4's tuning by the rotated curve's orientation, and turning an image about a point.

Each check runs the student's function on inputs the notebook never shows (other sizes, radii, orientations,
centres; hand-built tuning curves, one wrapping around 0 degrees) and compares it with the course's own
implementation (:func:`helpers.stimuli.curves.curve`, :mod:`helpers.tuning`, :mod:`helpers.rotation`,
:func:`helpers.polarity_hold_out.polarity_hold_out_scores`).
"""
from __future__ import annotations

from typing import Callable

import numpy as np
import torch

from ... import rotation
from ... import polarity_hold_out as hold_out_module
from ...polarity_hold_out import polarity_hold_out_scores
from ...rotation import hand_over_misses, orientation_tuning, rotate_about
from ...stimuli import curves as curve_module
from ...stimuli.curves import curve
from ... import tuning
from ...tuning import angle_difference, neighbour_test, orientation_selectivity, preferred_orientation
from .. import ExerciseError, Grade, exercise, expect, expect_close, one_number
from ..withheld import answer_without, compare_with_course

#: Held-out curves: (size, orientation, radius, length, width, center), none of them drawn in the lesson.
CURVE_CASES = (
    (40, 30.0, 9.0, 20.0, 2.0, (18.5, 21.0)),
    (57, 250.0, 15.0, 30.0, 3.0, (30.0, 26.0)),
    (64, 135.0, 20.0, 40.0, 4.0, (32.0, 32.0)),
    (48, 350.0, 6.0, 16.0, 2.0, (22.0, 25.0)),
)


def _ink(image: torch.Tensor) -> torch.Tensor:
    """Where an image of dark strokes on a white ground holds ink (more than half dark), as a boolean map."""
    return (1 - image.float().mean(0)) > 0.5


@exercise(points=3)
def check_curve(my_curve: Callable) -> Grade:
    """Exercise 1: my_curve(size, orientation, radius, length, width, center) draws a dark arc on white."""
    grade = Grade()
    for size, orientation, radius, length, width, center in CURVE_CASES:
        with grade.part(f"{size} px, orientation {orientation:g}°, radius {radius:g}, width {width:g}"):
            got = answer_without({curve_module: ("curve",)}, my_curve, size=size, orientation=orientation, radius=radius,
                                 length=length, width=width, center=center)
            expect(isinstance(got, torch.Tensor), f"Return the image as a tensor, not {type(got).__name__}.")
            expect(tuple(got.shape) == (3, size, size),
                   f"Your image has shape {tuple(got.shape)}; a (3, {size}, {size}) image was expected.")
            expect(bool(torch.isfinite(got).all()) and float(got.min()) >= 0 and float(got.max()) <= 1,
                   "The image must hold values in [0, 1]: 0 for ink, 1 for the white ground.")
            mine = _ink(got.detach().cpu())
            course = _ink(curve(size, orientation=orientation, radius=radius, length=length, width=width, center=center))
            overlap = float((mine & course).sum()) / max(float((mine | course).sum()), 1.0)
            expect(overlap >= 0.7, f"Your stroke overlaps the course's by {overlap:.0%} (intersection over union; "
                   "at least 70% is needed).",
                   "The arc's midpoint sits at `center`; its circle's centre lies `radius` behind it, opposite the "
                   "orientation; angles turn counter-clockwise with y pointing up (rows grow downwards); the arc spans "
                   "length / radius radians; a pixel is ink within width / 2 of the circle.")
    return grade


def _bump(orientations: np.ndarray, peak: float, height: float = 1.0, width: float = 30.0) -> np.ndarray:
    """A smooth tuning bump on the circle (a von Mises shape) of ``height`` centred at ``peak`` degrees."""
    return height * np.exp((np.cos(np.radians(orientations - peak)) - 1) * (180 / (np.pi * width)) ** 2)


def tuning_cases() -> list[tuple[str, np.ndarray, np.ndarray]]:
    """Hand-built tuning curves where the argmax, a linear mean and an unthresholded circular mean all go wrong."""
    eight, sixteen = np.arange(0, 360, 45.0), np.arange(0, 360, 22.5)
    rng = np.random.default_rng(17)
    noisy = _bump(sixteen, 200.0) + 0.05 * rng.standard_normal(len(sixteen))
    return [
        ("a peak between two sampled orientations", eight, _bump(eight, 20.0)),
        ("a peak that wraps around 0°", sixteen, _bump(sixteen, 350.0) + _bump(sixteen, 5.0, 0.8)),
        ("a main peak and a weaker second bump", sixteen, _bump(sixteen, 100.0) + _bump(sixteen, 250.0, 0.45) + 0.2),
        ("a noisy curve with inhibition", sixteen, noisy - 0.5 * _bump(sixteen, 20.0)),
    ]


@exercise(points=3)
def check_preferred_orientation(my_preferred_orientation: Callable) -> Grade:
    """Exercise 2: my_preferred_orientation(responses, orientations): a tuning curve's preferred orientation, degrees."""
    grade = Grade()
    for name, orientations, responses in tuning_cases():
        with grade.part(name):
            # withholding _upper_half withholds preferred_orientation and orientation_selectivity too
            got = answer_without({tuning: ("_upper_half",)}, my_preferred_orientation, responses, orientations)
            value = one_number(got, "angle in degrees")
            expect(np.isfinite(value), "Your angle is not a finite number.")
            expected = float(preferred_orientation(responses, orientations)[0])
            off = float(angle_difference(value, expected))
            expect(off <= 2.0, f"Your preferred orientation is {off:.0f}° away from the course's reading of this curve.",
                   "Keep only what rises above half the peak (responses below 0 count as 0), add the orientations as "
                   "vectors on the circle weighted by that, and take the direction of the sum (np.angle, in [0, 360)).")
    return grade


def selectivity_cases() -> dict[str, list[tuple[np.ndarray, np.ndarray]]]:
    """Hand-built tuning curves whose selectivities span the range: sharp, broad, two opposite peaks, silent.

    Each part pairs two curves far apart on the scale (a selectivity near 1 with one near 0.75, one near 0.13 with
    0 for a silent unit), so that no constant answer earns a part."""
    sixteen = np.arange(0, 360, 22.5)
    return {
        "one sharp peak, and one broad peak on a raised floor": [
            (sixteen, _bump(sixteen, 60.0, width=20.0)), (sixteen, _bump(sixteen, 300.0, width=60.0) + 0.4)],
        "two opposite peaks (a line detector), and a unit that never responds": [
            (sixteen, _bump(sixteen, 45.0) + _bump(sixteen, 225.0, 0.9)), (sixteen, -np.ones(len(sixteen)))],
    }


@exercise(points=2)
def check_orientation_selectivity(my_orientation_selectivity: Callable) -> Grade:
    """Exercise 3: my_orientation_selectivity(responses, orientations): how sharply a tuning curve prefers one orientation."""
    grade = Grade()
    for name, curves in selectivity_cases().items():
        with grade.part(name):
            for orientations, responses in curves:
                got = answer_without({tuning: ("_upper_half",)}, my_orientation_selectivity, responses, orientations)
                value = one_number(got)
                expected = float(orientation_selectivity(responses, orientations)[0])
                expect(np.isfinite(value) and abs(value - expected) <= 0.02,
                       f"Your selectivity differs from the course's reading of one of these curves by "
                       f"{abs(value - expected):.2f}.",
                       "The same weights as the preferred orientation (what rises above half the peak, negatives as "
                       "0); the length of their vector sum divided by their plain sum; 0 for a unit that never "
                       "responds.")
    return grade


def neighbour_cases() -> dict[str, list[tuple[np.ndarray, list[int], np.ndarray, float]]]:
    """Held-out (responses (images, members), owner, orientations, tolerance) the lesson never builds, two per part
    with different counts, so that no constant answer earns a part."""
    rng = np.random.default_rng(202)
    orientations = np.array([0.0, 45.0, 90.0, 135.0, 180.0, 225.0, 270.0, 315.0])
    images = np.repeat(np.arange(8), 2)
    ring = np.abs((orientations[None, :] - orientations[images][:, None] + 180) % 360 - 180)
    tuned = np.exp(-(ring / 40.0) ** 2) + 0.05 * rng.standard_normal((16, 8))
    loud = tuned.copy()
    loud[:, 4] = 10 + 0.01 * rng.standard_normal(16)  # a member that answers everything strongly
    wrapped = np.array([350.0, 10.0, 100.0, 190.0, 280.0, 5.0])
    owners = [0, 1, 5, 2, 3, 4, 0, 1, 5, 2, 3, 4]
    near_zero = rng.standard_normal((12, 6)) + np.eye(6)[owners][:, [1, 0, 0, 3, 4, 2]]
    other = np.random.default_rng(1)
    silent = np.concatenate([other.random((10, 4)), np.zeros((10, 1))], axis=1)
    return {
        "8 members whose neighbours answer their images; preferred orientations across 0° with a tight tolerance": [
            (tuned, list(images), orientations, 45.0), (near_zero, owners, wrapped, 25.0)],
        "one member loud on every image; random responses of 5 members, one of them silent": [
            (loud, list(images), orientations, 45.0),
            (silent, [int(i) for i in other.integers(0, 5, 10)], np.array([30.0, 120.0, 200.0, 250.0, 330.0]), 60.0)],
    }


@exercise(points=2)
def check_neighbour_hits(my_neighbour_hits: Callable) -> Grade:
    """Exercise 5: my_neighbour_hits(responses, owner, orientations, tolerance): images whose strongest other member
    prefers an orientation within tolerance of their own member's."""
    grade = Grade()
    hint = ("Scale every member's column to mean 0 and standard deviation 1 over the images (leave a constant column's "
            "spread at 1); set each image's own member to -inf; take the argmax of each row; count the rows whose "
            "winner's orientation is within tolerance of the owner's, on the circle (angle_difference).")
    for name, cases in neighbour_cases().items():
        with grade.part(name):
            for responses, owner, orientations, tolerance in cases:
                expected = neighbour_test(responses, owner, orientations, tolerance, permutations=1).hits
                got = answer_without({tuning: ("neighbour_test",)}, my_neighbour_hits, responses, list(owner), orientations,
                                     tolerance)
                value = one_number(got, "count")
                expect(value == expected, f"Your count of hits is {'higher' if value > expected else 'lower'} than "
                       "the course's on one of these sets of images.", hint)
    return grade


def _turning_family(preferred: np.ndarray, angles: np.ndarray, sign: float, rng: np.random.Generator) -> np.ndarray:
    """responses[s, a, u] of a family whose members answer a curve near their own orientation, shown member s's
    examples turned by angles[a] (``sign`` -1: a family for which the examples turn the other way), with noise."""
    turned = (preferred[:, None] + sign * angles[None, :]) % 360
    distance = np.abs((preferred[None, None, :] - turned[:, :, None] + 180) % 360 - 180)
    return np.exp(-(distance / 35.0) ** 2) + 0.05 * rng.standard_normal(distance.shape)


def hand_over_cases() -> dict[str, list[tuple[np.ndarray, np.ndarray, np.ndarray]]]:
    """Held-out (responses (S, A, U), preferred (U,), angles (A,)) the lesson never builds, two per part with
    different misses, so that no constant answer earns a part."""
    rng = np.random.default_rng(404)
    three = np.array([350.0, 110.0, 230.0])  # across 0°: a difference that is not folded reads 340° for 20°
    quarter = np.array([0.0, 90.0, 270.0])
    winners = np.array([[0, 1, 2], [1, 1, 0], [2, 0, 0]])  # hand-built: which member answers each turned example
    by_hand = np.eye(3)[winners] + 0.01 * np.arange(3)[None, None, :]
    eight = np.sort(rng.uniform(0, 360, 8))
    steps = np.arange(0.0, 360.0, 30.0)
    return {
        "three members across 0°, hand-built winners, turned by 0°, 120° and 240° and by 0°, 90° and 270°": [
            (by_hand, three, np.array([0.0, 120.0, 240.0])), (by_hand, quarter, np.array([0.0, 90.0, 270.0]))],
        "8 members, 12 rotations: a family that hands over, and one whose examples turn the other way": [
            (_turning_family(eight, steps, 1.0, rng), eight, steps),
            (_turning_family(eight, steps, -1.0, rng), eight, steps)],
        "random responses of 5 members to 7 rotations, and of 4 members to 3": [
            (rng.standard_normal((5, 7, 5)), rng.uniform(0, 360, 5), np.arange(0.0, 315.0, 45.0)),
            (rng.random((4, 3, 4)), np.array([15.0, 100.0, 200.0, 300.0]), np.array([0.0, 20.0, 340.0]))],
    }


@exercise(points=3)
def check_hand_over(my_hand_over_misses: Callable) -> Grade:
    """Exercise 6: my_hand_over_misses(responses, preferred, angles): for each member's examples and each rotation, how
    far the strongest member's preferred orientation is from the turned curve's."""
    return compare_with_course(
        hand_over_cases(), my_hand_over_misses, hand_over_misses, {rotation: ("hand_over_misses", "hand_over")},
        "your misses", rtol=0, atol=1e-6,
        hint="For each source member s and rotation a, take the member u with the largest responses[s, a, u]; the turned "
             "curve's orientation is preferred[s] + angles[a]; the miss is the difference between preferred[u] and that "
             "orientation on the circle, folded into 0-180° (angle_difference). One row per source member, one column "
             "per rotation.")


def polarity_hold_out_cases() -> dict[str, list[tuple[np.ndarray, np.ndarray, np.ndarray]]]:
    """Held-out (selectivity, preferred, orientations) triples of families the lesson never screens, two per part with
    different answers: orientations and shifts across 0°; members exactly on the thresholds (selectivity 0, a shift of
    45°) and families with one or no member passing both; random families."""
    rng = np.random.default_rng(23)
    across = np.array([350.0, 10.0, 100.0, 190.0, 280.0])
    wrapped = np.array([5.0, 340.0, 120.0, 20.0, 275.0])  # 15°, 30°, 20°, 170° and 5° away on the circle
    spread = np.linspace(0.0, 337.5, 16)
    return {
        "five members across 0°, their shifts wrapping around the circle": [
            (np.array([0.4, 0.9, -0.2, 0.7, 0.3]), wrapped, across),
            (np.array([0.5, -0.1, 0.6, 0.8, 0.2]), across + np.array([-30.0, 60.0, 170.0, 200.0, 50.0]), across)],
        "members on the thresholds (selectivity 0, a shift of 45°), one member passing, none passing": [
            (np.array([0.0, 0.3, 0.3, 0.6]), np.array([10.0, 135.0, 226.0, 300.0]), np.array([10.0, 90.0, 180.0, 270.0])),
            (np.array([0.2, -0.5, 0.0]), np.array([200.0, 30.0, 60.0]), np.array([10.0, 30.0, 60.0]))],
        "random families of 16 and 40 members": [
            (rng.uniform(-0.3, 1.0, 16), (spread + rng.normal(0, 40, 16)) % 360, spread),
            (rng.uniform(-0.5, 1.0, 40), rng.uniform(0, 360, 40), np.sort(rng.uniform(0, 360, 40)))],
    }


@exercise(points=3)
def check_polarity_hold_out(my_polarity_hold_out: Callable) -> Grade:
    """Exercise 7: my_polarity_hold_out(selectivity, preferred, orientations): the family's three numbers in the
    polarity each member was not picked in."""
    return compare_with_course(
        polarity_hold_out_cases(), my_polarity_hold_out, polarity_hold_out_scores,
        {hold_out_module: ("polarity_hold_out_scores", "polarity_hold_out")}, "your three numbers", rtol=0, atol=1e-9,
        hint="Kept: the share of members whose selectivity is above 0. Same orientation: the share whose preferred "
             "orientation is at most 45° from their own on the circle (angle_difference). Gap: largest_gap of the own "
             "orientations of the members that pass both (360 when fewer than two do). Return the three as one array.")


def orientation_tuning_cases() -> dict[str, list[tuple[np.ndarray, np.ndarray, np.ndarray, bool]]]:
    """Held-out (responses (S, A, U), preferred (U,), angles (A,), exclude_own) the lesson never builds, two per part
    with different answers: members across 0° turned by quarters with and without their own examples; a family that
    hands over and one whose examples turn the other way; orientations off the bins, uneven counts per bin and empty
    bins. No orientation lies half-way between two bins."""
    rng = np.random.default_rng(808)
    across = np.array([350.0, 100.0, 200.0])
    quarters = np.arange(0.0, 360.0, 90.0)
    eight = np.sort(rng.uniform(0, 360, 8))
    steps = np.arange(0.0, 360.0, 30.0)
    uneven = np.array([12.0, 95.0, 170.0, 260.0, 301.0])
    return {
        "three members across 0°, turned by quarters, with and without their own examples": [
            (rng.random((3, 4, 3)), across, quarters, False), (rng.random((3, 4, 3)), across, quarters, True)],
        "8 members, 12 rotations, own examples left out: a family that hands over, one whose examples turn the other way": [
            (_turning_family(eight, steps, 1.0, rng), eight, steps, True),
            (_turning_family(eight, steps, -1.0, rng), eight, steps, True)],
        "orientations off the bins: 5 members turned by 45° steps (own left out), and by 0-60° only (some bins empty)": [
            (rng.standard_normal((5, 8, 5)), uneven, np.arange(0.0, 360.0, 45.0), True),
            (rng.standard_normal((5, 4, 5)), uneven, np.array([0.0, 20.0, 40.0, 60.0]), False)],
    }


def _orientation_table(answer: object) -> np.ndarray:
    """An (orientations, mean responses) pair as one (B, 1 + U) table: the bins' orientations in the first column."""
    if not isinstance(answer, (tuple, list)) or len(answer) != 2:
        raise ExerciseError("Return two things, (orientations, responses): the kept bins' orientations (B,) and the mean "
                            f"responses (B, members); got {type(answer).__name__}.")
    orientations, responses = (np.asarray(part.detach().cpu() if isinstance(part, torch.Tensor) else part, dtype=np.float64)
                               for part in answer)
    if orientations.ndim != 1 or responses.ndim != 2 or len(orientations) != len(responses):
        raise ExerciseError(f"Your orientations have shape {orientations.shape} and your responses {responses.shape}; "
                            "(B,) and (B, members) with the same B were expected.")
    return np.concatenate([orientations[:, None], responses], axis=1)


@exercise(points=3)
def check_orientation_tuning(my_orientation_tuning: Callable) -> Grade:
    """Exercise 8: my_orientation_tuning(responses, preferred, angles, exclude_own): every member's mean response by the
    orientation of the rotated curve, one bin every rotation step."""
    return compare_with_course(
        orientation_tuning_cases(), my_orientation_tuning,
        lambda *args: _orientation_table(orientation_tuning(*args)),
        {rotation: ("orientation_tuning", "joint_rotation_tuning")}, "your orientations and responses", rtol=0, atol=1e-9,
        read=_orientation_table,
        hint="Bins every step degrees from 0, the step being the smallest difference between the angles. Member s's "
             "examples turned by angles[a] show a curve facing preferred[s] + angles[a] (mod 360): add responses[s, a] "
             "to the nearest bin and count it, per member (leaving member s's own column out when exclude_own). Divide "
             "sums by counts, and keep only the bins where every member was counted at least once.")


def rotation_cases() -> dict[str, list[tuple[torch.Tensor, float, tuple[float, float]]]]:
    """Held-out (images (N, 3, H, W), degrees, center) the lesson never turns: smooth shapes (blobs of 6 px and more,
    a ridge, blurred noise) off the centre of the turn, so that a turn the wrong way, about the image's middle or with
    x and y swapped moves them far, while nearest-pixel sampling stays close."""
    ys, xs = torch.meshgrid(torch.arange(40.0) + 0.5, torch.arange(40.0) + 0.5, indexing="ij")

    def blob(x: float, y: float, sigma: float = 6.0, height: int = 40, width: int = 40) -> torch.Tensor:
        return torch.exp(-((xs[:height, :width] - x) ** 2 + (ys[:height, :width] - y) ** 2) / (2 * sigma ** 2))

    two = torch.stack([0.9 * blob(24, 10, height=32, width=32), 0.6 * blob(8, 22, height=32, width=32),
                       0.2 * torch.ones(32, 32)])[None]
    tall = torch.stack([
        torch.stack([blob(8, 30, height=40, width=28), 0.8 * blob(20, 10, height=40, width=28),
                     torch.exp(-((xs[:40, :28] - 0.5 * ys[:40, :28] - 4) ** 2) / 50)]),
        torch.stack([0.5 * torch.ones(40, 28), blob(14, 34, 7, 40, 28), blob(22, 6, 8, 40, 28)]),
    ])
    generator = torch.Generator().manual_seed(5)
    noise = torch.nn.functional.avg_pool2d(torch.rand(2, 3, 52, 52, generator=generator), 17, stride=1)
    smooth = (noise - noise.amin()) / (noise.amax() - noise.amin())
    return {
        "two blobs (32 x 32), turned 90° about the middle and 30° about (10, 20)": [
            (two, 90.0, (16.0, 16.0)), (two, 30.0, (10.0, 20.0))],
        "two tall images (40 x 28), turned 200° about (14.5, 22) and 315° about (20, 12)": [
            (tall, 200.0, (14.5, 22.0)), (tall, 315.0, (20.0, 12.0))],
        "smooth random images (36 x 36), turned 45° and -60° about (12, 24)": [
            (smooth, 45.0, (12.0, 24.0)), (smooth, -60.0, (12.0, 24.0))],
    }


def _inside(shape: tuple[int, ...], degrees: float, center: tuple[float, float], margin: float = 2.0) -> torch.Tensor:
    """(H, W): the output pixels whose source point lies at least ``margin`` pixels inside the image (the border's
    filling, mirrored or not, is not checked)."""
    height, width = shape[-2:]
    ys, xs = torch.meshgrid(torch.arange(height) + 0.5, torch.arange(width) + 0.5, indexing="ij")
    radians = np.radians(degrees)
    dx, dy = xs - center[0], ys - center[1]
    source_x = center[0] + dx * np.cos(radians) - dy * np.sin(radians)
    source_y = center[1] + dx * np.sin(radians) + dy * np.cos(radians)
    return (source_x >= margin) & (source_x <= width - margin) & (source_y >= margin) & (source_y <= height - margin)


@exercise(points=3)
def check_rotate_about(my_rotate_about: Callable) -> Grade:
    """Exercise 9: my_rotate_about(images, degrees, center): images turned counter-clockwise (y up) about a point."""
    grade = Grade()
    hint = ("For every output pixel (x, y) read the input at the point the turn carries onto it: with dx = x - cx and "
            "dy = y - cy, x' = cx + dx cos θ - dy sin θ and y' = cy + dx sin θ + dy cos θ (rows grow downwards, so this "
            "turns the picture counter-clockwise on the screen); pixel centres sit at j + 0.5, i + 0.5.")
    for name, cases in rotation_cases().items():
        with grade.part(name):
            for images, degrees, center in cases:
                got = answer_without({rotation: ("rotate_about", "rotation_tuning")}, my_rotate_about, images, degrees, center)
                expect(isinstance(got, torch.Tensor), f"Return the turned images as a tensor, not {type(got).__name__}.")
                expect(tuple(got.shape) == tuple(images.shape),
                       f"Your images have shape {tuple(got.shape)}; {tuple(images.shape)} (the input's) was expected.")
                inside = _inside(images.shape, degrees, center)
                expected = rotate_about(images, degrees, center)[..., inside]
                expect_close(got.detach().cpu().float()[..., inside], expected, "your turned images", rtol=0, atol=0.1,
                             hint=hint)
    return grade
