"""Self-checks for the high-low frequency lesson's exercises.

The function exercises are called on cases the notebook never shows (other sizes and directions, hand-made
tuning curves, non-negative matrices, hand-built held-out screens, textures and ramps cut into patches) and compared
with the course's implementation; an NMF is judged by how well its non-negative factors rebuild the matrix, against the course's own factorization
with the same steps. Band-limited noise is compared pixel by pixel with the course's texture from the same seed.
Messages never give the answer.
"""
from __future__ import annotations

from typing import Callable

import numpy as np
import torch

from .. import frequency as frequency_module
from .. import tuning as tuning_module
from ..frequency import fine_side_lean, frequency_map, held_out_verdict
from ..stimuli import boundaries
from ..stimuli.boundaries import half_plane_mask
from ..tuning import angle_difference, orientation_selectivity, preferred_orientation
from ..weights import nmf as nmf_module
from ..weights.nmf import nmf
from . import ExerciseError, Grade, exercise, expect, expect_close, one_number
from .withheld import answer_without, compare_with_course

Number = (int, float, np.floating, np.integer)


def _known_boundary(size: int, orientation: float) -> tuple[torch.Tensor, ...]:
    """Two textures (a checkerboard and a smooth ramp), the course's composite of them, and the pixels away from the boundary."""
    rows, cols = torch.meshgrid(torch.arange(size), torch.arange(size), indexing="ij")
    fine = ((rows + cols) % 2).float()
    smooth = torch.linspace(0.2, 0.8, size)[None, :].expand(size, size).clone()
    mask = half_plane_mask(size, orientation)
    x, y = cols + 0.5 - size / 2, size / 2 - (rows + 0.5)
    distance = x * np.cos(np.radians(orientation)) + y * np.sin(np.radians(orientation))
    return fine, smooth, mask * fine + (1 - mask) * smooth, distance.abs() > 6  # the soft step is flat by then


@exercise(points=3)
def check_boundary(my_boundary: Callable) -> Grade:
    """Exercise 1: one texture on the side a direction points to, the other texture on the other side."""
    grade = Grade()
    for size, orientation in ((40, 90.0), (64, 30.0), (57, 250.0)):
        with grade.part(f"{size} px, fine side at {orientation:.0f}°"):
            fine, smooth, truth, away = _known_boundary(size, orientation)
            # withholding _coordinates withholds half_plane_mask too
            answer = answer_without({boundaries: ("_coordinates",)}, my_boundary, fine, smooth, orientation)
            expect(isinstance(answer, torch.Tensor) and tuple(answer.shape) == (size, size),
                   f"Return one ({size}, {size}) tensor, like the textures.")
            expect_close(answer[away], truth[away], "Away from the boundary line, the image", atol=1e-3,
                         hint="The side the direction points to: x * cos(angle) + y * sin(angle) > 0, with y growing upwards "
                              "(rows grow downwards) and x, y measured from the image's centre.")
    return grade


@exercise(points=3)
def check_side_selectivity(my_side_selectivity: Callable) -> Grade:
    """Exercise 2: a unit's preferred side and how sharply it prefers it, from a tuning curve over the full circle."""
    grade = Grade()
    rng = np.random.default_rng(3)
    angles = {24: np.arange(24) * 15.0, 12: np.arange(12) * 30.0}
    bump = lambda centre, a: np.exp(np.cos(np.radians(a - centre)) * 2.0)  # noqa: E731
    cases = {
        "a one-sided bump at 100° on a floor": (bump(100, angles[24]) + 0.5, angles[24]),
        "two opposite bumps (a texture boundary, both polarities)": (bump(40, angles[24]) + bump(220, angles[24]), angles[24]),
        "an uneven curve sampled every 30°": (rng.gamma(2.0, size=12), angles[12]),
        "a tuning curve with negative responses": (rng.normal(size=24) + bump(300, angles[24]), angles[24]),
    }
    for name, (tuning, orientations) in cases.items():
        with grade.part(name):
            # withholding _upper_half withholds preferred_orientation and orientation_selectivity too
            answer = answer_without({tuning_module: ("_upper_half",)}, my_side_selectivity, tuning, orientations)
            expect(isinstance(answer, tuple) and len(answer) == 2, "Return a pair (preferred orientation in degrees, selectivity).")
            preferred = float(preferred_orientation(tuning, orientations)[0])
            selectivity = float(orientation_selectivity(tuning, orientations)[0])
            expect_close(float(answer[1]), selectivity, "The selectivity", atol=1e-3,
                         hint="Only the part of the curve above half its peak counts (negative responses as 0); "
                              "the selectivity is the length of the weighted vector sum over the total weight.")
            if selectivity > 0.05:  # a direction only means something when the curve has one
                expect(float(angle_difference(float(answer[0]), preferred)) < 0.5,
                       "The preferred orientation is off: it should be the direction of the weighted vector sum, in [0, 360).")
    return grade


def _nmf_cases() -> dict[str, tuple[torch.Tensor, int]]:
    """Non-negative matrices the lesson never shows, with the number of factors asked for."""
    generator = torch.Generator().manual_seed(404)
    exact = torch.rand(25, 2, generator=generator, dtype=torch.float64) @ torch.rand(2, 12, generator=generator, dtype=torch.float64)
    holes = torch.rand(16, 10, generator=generator, dtype=torch.float64)
    holes[3], holes[:, 7] = 0.0, 0.0  # a row and a column of zeros: updates must not divide by zero
    return {
        "an exact product of two non-negative parts (25 x 12, 2 factors)": (exact, 2),
        "split weights: 9 positions x 40 inputs, 2 factors": (torch.rand(9, 40, generator=generator, dtype=torch.float64) ** 3, 2),
        "a matrix with a zero row and a zero column (16 x 10, 3 factors)": (holes, 3),
        "a tall matrix, one factor (60 x 8)": (torch.rand(60, 8, generator=generator, dtype=torch.float64), 1),
    }


def _relative_error(matrix: torch.Tensor, left: torch.Tensor, right: torch.Tensor) -> float:
    return float(((matrix - left @ right) ** 2).sum() / (matrix ** 2).sum())


@exercise(points=3)
def check_nmf(my_nmf: Callable) -> Grade:
    """Exercise 3: my_nmf(matrix, factors, steps, seed) returns non-negative (m, r) and (r, n) factors whose product
    rebuilds the matrix about as well as the course's multiplicative updates do in the same number of steps."""
    grade = Grade()
    hint = ("Start from random non-negative factors; at every step multiply right by (leftᵀ M) / (leftᵀ left right) and "
            "left by (M rightᵀ) / (left right rightᵀ), with a tiny number added to each denominator.")
    for name, (matrix, factors) in _nmf_cases().items():
        with grade.part(name):
            # withholding _updated withholds nmf and weight_factors too
            answer = answer_without({nmf_module: ("_updated",)}, my_nmf, matrix, factors, steps=500, seed=7)
            expect(isinstance(answer, (tuple, list)) and len(answer) == 2,
                   "Return two tensors: the left factor (m, r) and the right factor (r, n).")
            left, right = (torch.as_tensor(part).detach().double().cpu() for part in answer)
            expect(tuple(left.shape) == (matrix.shape[0], factors) and tuple(right.shape) == (factors, matrix.shape[1]),
                   f"The factors should have shapes ({matrix.shape[0]}, {factors}) and ({factors}, {matrix.shape[1]}); "
                   f"yours are {tuple(left.shape)} and {tuple(right.shape)}.")
            expect(bool(torch.isfinite(left).all() and torch.isfinite(right).all()), "Your factors hold NaN or infinite values.", hint)
            expect(bool((left >= 0).all() and (right >= 0).all()), "NMF's factors must be non-negative; yours have negative entries.", hint)
            reference = _relative_error(matrix, *nmf(matrix, factors, steps=500, seed=7))
            error = _relative_error(matrix, left, right)
            expect(error <= 1.2 * reference + 0.01,
                   f"Your factors rebuild the matrix with a relative squared error of {error:.3g}, well above what 500 "
                   "multiplicative updates reach.", hint)
    return grade


def _lean_cases() -> dict[str, list[tuple[torch.Tensor, np.ndarray, float]]]:
    """Held-out (weights (C, k, k), preference (C,), orientation), two per part with different answers."""
    generator = torch.Generator().manual_seed(4004)
    split = torch.zeros(3, 5, 5)
    split[0, :2] = 1.0  # a fine input read in the top rows
    split[1, 3:] = 0.5  # a smooth input read in the bottom rows
    split[2] = 0.2  # an indifferent input everywhere
    preference = np.array([0.9, -0.8, 0.0])
    random = torch.randn(10, 7, 7, generator=generator, dtype=torch.float64)
    random_preference = np.random.default_rng(4004).uniform(-1, 1, 10)
    even = torch.randn(4, 4, 4, generator=generator, dtype=torch.float64)
    even_preference = np.array([1.0, -1.0, 0.5, 0.0])
    return {
        "a 5 x 5 detector reading a fine input above and a smooth one below, facing up and facing right": [
            (split, preference, 90.0), (split, preference, 0.0)],
        "the same facing down, and ten random 7 x 7 inputs at 30°": [
            (split, preference, 270.0), (random, random_preference, 30.0)],
        "an even 4 x 4 window at 135°, and the random inputs at 200°": [
            (even, even_preference, 135.0), (random, random_preference, 200.0)],
    }


@exercise(points=3)
def check_side_lean(my_side_lean: Callable) -> Grade:
    """Exercise 5: my_side_lean(weights, preference, orientation): how far a detector's frequency-weighted map leans
    toward the side its orientation points to."""
    def course(weights: torch.Tensor, preference: np.ndarray, orientation: float) -> float:
        return fine_side_lean(frequency_map(weights, preference), orientation)

    hidden = {frequency_module: ("frequency_map", "fine_side_lean", "side_weights", "_toward")}
    return compare_with_course(
        _lean_cases(), my_side_lean, course, hidden, "your lean", rtol=1e-5, atol=1e-8, read=one_number,
        hint="Sum the input grids weighted by their preferences into one (k, k) map; measure every position's offset "
             "from the window's centre ((k - 1) / 2, also for an even k) with x to the right and y UP (rows grow "
             "downwards); the lean is the sum of map x (x cos θ + y sin θ).")


def _verdict_cases() -> dict[str, list[tuple]]:
    """Held-out (screened, held_out, peak, fine_control, smooth_control, tolerance) for families the lesson never
    shows, two per part with different answers, so that no constant earns a part."""
    rng = np.random.default_rng(6006)
    count = 40
    random_members = (rng.uniform(0, 360, count), rng.uniform(0, 360, count), rng.normal(0.5, 0.5, count),
                      rng.normal(0.3, 0.4, count), rng.normal(0.3, 0.4, count))
    steady = np.ones(5), np.full(5, 0.2), np.full(5, 0.1)  # peak, fine, smooth: every member beats its controls
    return {
        "orientations either side of 0° (= 360°), and the opposite side": [
            (np.array([350.0, 10.0, 5.0, 170.0, 90.0]), np.array([15.0, 345.0, 300.0, 190.0, 95.0]), *steady, 30.0),
            (np.array([0.0, 359.0, 200.0, 30.0, 120.0]), np.array([359.0, 0.0, 20.0, 60.5, 300.0]), *steady, 30.0)],
        "controls: one beaten and not the other, a silent member, a tie": [
            (np.full(5, 45.0), np.full(5, 50.0), np.array([1.1, 1.0, 0.5, 0.0, 0.3]),
             np.array([0.5, 1.2, 0.1, -0.2, 0.3]), np.array([1.5, 0.2, 0.1, -0.1, 0.1]), 30.0),
            (np.full(4, 300.0), np.full(4, 280.0), np.array([-0.1, 0.8, 0.6, 2.0]),
             np.array([-0.3, 0.9, 0.2, 1.0]), np.array([-0.5, 0.1, 0.7, 1.5]), 30.0)],
        "other tolerances (15° and 45°), differences exactly at the tolerance, and 40 random members": [
            (np.array([100.0, 100.0, 350.0, 0.0]), np.array([115.0, 116.0, 5.0, 330.0]), *(v[:4] for v in steady), 15.0),
            (*random_members, 45.0)],
    }


def _two_masks(answer: object) -> np.ndarray:
    """The student's (same_orientation, beats_controls) as one (2, F) array of 0s and 1s."""
    message = "Return a pair (same_orientation, beats_controls): two boolean arrays with one value per member."
    if not (isinstance(answer, (tuple, list)) and len(answer) == 2):
        raise ExerciseError(message)
    try:
        masks = [np.asarray(part.detach().cpu() if isinstance(part, torch.Tensor) else part) for part in answer]
        return np.stack([mask.astype(np.float64) for mask in masks])
    except (TypeError, ValueError, RuntimeError):
        raise ExerciseError(message) from None


@exercise(points=3)
def check_held_out_verdict(my_held_out_verdict: Callable) -> Grade:
    """Exercise 6: my_held_out_verdict(screened, held_out, peak, fine_control, smooth_control, tolerance): member by
    member, whether the screen's preferred orientation and its need for the frequency change hold on held-out textures."""
    hidden = {frequency_module: ("held_out_verdict", "held_out_check", "angle_difference"),
              tuning_module: ("angle_difference",)}
    return compare_with_course(
        _verdict_cases(), my_held_out_verdict, held_out_verdict, hidden, "your verdicts", rtol=0.0, atol=1e-9,
        read=_two_masks,
        hint="Measure the difference of two orientations around the circle (it is never more than 180°) and keep a member "
             "within the tolerance, the tolerance included; a member beats its controls when its peak is above zero and "
             "above the larger of the two same-texture controls.")


def _fraction_cases() -> dict[str, list[tuple]]:
    """Held-out (patch, cutoff) patches the lesson never shows, cases with different answers in every part."""
    generator = torch.Generator().manual_seed(7007)
    ramp = torch.linspace(0.1, 0.9, 40)[None, :].expand(30, 40).clone()  # smooth: only the cut edges are sharp
    tilted = torch.linspace(0.2, 0.7, 24)[:, None] + torch.linspace(0.0, 0.2, 36)[None, :]
    noise = 0.5 + 0.1 * boundaries.band_limited_noise(48, 0.2, seed=3)[:40, :28]
    diagonal = 0.5 + 0.2 * boundaries.grating(32, 0.1 * np.sqrt(2), 45.0)  # 0.1 cycle/px along each axis
    at_cutoff = 0.5 + 0.1 * boundaries.band_limited_noise(32, 0.125, seed=5)
    colour = torch.stack([0.5 + 0.1 * boundaries.band_limited_noise(36, 0.3, seed=1),
                          0.5 + 0.1 * boundaries.band_limited_noise(36, 0.05, seed=2), torch.full((36, 36), 0.4)])
    speckled = torch.rand(3, 20, 44, generator=generator, dtype=torch.float64)
    speckled[1] = speckled[0]
    return {
        "smooth ramps, whose only sharp change is the patch's cut edge (30 x 40 and 24 x 36)": [
            (ramp, 0.125), (tilted, 0.1)],
        "band-limited noise in a 40 x 28 patch, at cutoffs 1/8 and 0.2": [(noise, 0.125), (noise, 0.2)],
        "a diagonal grating (0.1 cycle/px along each axis) and a 32 x 32 patch with power right at the cutoff": [
            (diagonal, 0.125), (at_cutoff, 0.125)],
        "colour patches (3, H, W) and a flat patch": [
            (colour, 0.125), (speckled, 0.25), (torch.full((3, 16, 16), 0.5), 0.125)],
    }


@exercise(points=4)
def check_high_frequency_fraction(my_high_frequency_fraction: Callable) -> Grade:
    """Exercise 7: my_high_frequency_fraction(patch, cutoff): the share of a patch's mean-removed, Hann-windowed power
    above ``cutoff`` cycles per pixel."""
    hidden = {boundaries: ("high_frequency_fraction", "side_fractions")}
    return compare_with_course(
        _fraction_cases(), my_high_frequency_fraction, boundaries.high_frequency_fraction, hidden,
        "your high-frequency share", rtol=1e-4, atol=1e-6, read=one_number,
        hint="Average the colour channels first, remove the mean, multiply by the outer product of two symmetric Hann "
             "windows (periodic=False), then compare the power above the cutoff, by the distance sqrt(fx² + fy²) from "
             "zero frequency (strictly above), with all the power, in float64; a flat patch has share 0.")


def _noise_cases() -> dict[str, list[tuple]]:
    """Held-out textures: other sizes (an odd one), frequencies and seeds at one octave; other bandwidths; a band
    narrower than the frequency grid beside a flat texture. Each part's cases differ, so no constant earns it."""
    return {
        "one octave at other sizes, frequencies and seeds": [(48, 0.2, 3), (33, 0.31, 2), (64, 0.05, 5)],
        "other bandwidths (half an octave, two octaves)": [(64, 0.25, 4, 0.5), (40, 0.1, 1, 2.0)],
        "a band narrower than the frequency grid, and a flat texture": [(16, 0.3, 0, 0.05), (24, 0.0, 1)],
    }


def _texture_answer(answer: object) -> torch.Tensor:
    """The student's texture as a float tensor; anything else is a clear mistake."""
    if isinstance(answer, np.ndarray):
        answer = torch.from_numpy(answer)
    if not isinstance(answer, torch.Tensor):
        raise ExerciseError(f"Return the texture as a (size, size) tensor, not {type(answer).__name__}.")
    return answer.detach().cpu().double()


@exercise(points=3)
def check_band_noise(my_band_noise: Callable) -> Grade:
    """Exercise 8: my_band_noise(size, frequency, seed=0, bandwidth=1.0): the course's band-limited noise texture."""
    return compare_with_course(
        _noise_cases(), my_band_noise, lambda *args: boundaries.band_limited_noise(*args).double(),
        {boundaries: ("band_limited_noise", "_texture", "frequency_boundary", "boundary_grid")}, "your texture",
        rtol=1e-4, atol=1e-4, read=_texture_answer,
        hint="White noise from np.random.default_rng(seed).standard_normal((size, size)); keep the Fourier "
             "coefficients whose distance from zero frequency, sqrt(fx² + fy²) in cycles per pixel, lies within the "
             "band (bandwidth octaves centred on the frequency, both ends included); back with the inverse FFT's real "
             "part, then mean 0 and standard deviation 1.")
