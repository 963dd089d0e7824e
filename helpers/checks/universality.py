"""Self-checks for the exercises of lesson 08 (universality): linear CKA, unit correlations, the shuffled-images
baseline, the two fractions that sort first-layer filters, a filter's orientedness, what a CKA matrix says about
depth, one-to-one unit pairs and debiased CKA, written by the student.

Each check calls the student's function on matrices the notebook never shows (other sizes, hand-built
cases whose answer is known: a rotation, a rescaling, a stretch, a shifted mean, a dead unit) and
compares the result with the course's implementation in :mod:`helpers.universality` (or :mod:`helpers.stats`), which
is withheld while the student's function runs (lesson 08 imports the module for section 4's baseline).
"""
from __future__ import annotations

from typing import Callable

import numpy as np
import torch

from .. import stats, universality
from ..models import CircuitModel
from ..universality import correlation_matrix, filter_orientation, filter_properties, first_layer_filters, linear_cka
from . import Grade, exercise, expect, expect_close, one_number
from .withheld import answer_without, compare_with_course, refuses_without



def _latent_pair(count: int, width_a: int, width_b: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Two activation-like matrices (ReLU of random read-outs) of the same examples, sharing a latent cause."""
    generator = torch.Generator().manual_seed(seed)
    latent = torch.randn(count, 6, generator=generator, dtype=torch.float64)
    read_a = torch.randn(6, width_a, generator=generator, dtype=torch.float64)
    read_b = torch.randn(6, width_b, generator=generator, dtype=torch.float64)
    noise = torch.randn(count, width_b, generator=generator, dtype=torch.float64)
    return (latent @ read_a).clamp(min=0), (latent @ read_b + noise).clamp(min=0)


def _orthogonal(size: int, seed: int) -> torch.Tensor:
    q, _ = torch.linalg.qr(torch.randn(size, size, generator=torch.Generator().manual_seed(seed), dtype=torch.float64))
    return q


@exercise(points=3)
def check_linear_cka(my_linear_cka: Callable) -> Grade:
    """Exercise 1: my_linear_cka(features_a, features_b) returns the linear CKA of two (N, d) representations."""
    hint = "Centre each column, form the Gram matrices K = X Xᵀ and L = Y Yᵀ, then <K, L> / (‖K‖ ‖L‖) (Frobenius)."
    a, b = _latent_pair(70, 24, 9, seed=11)
    x = torch.randn(50, 10, generator=torch.Generator().manual_seed(12), dtype=torch.float64)
    stretch = torch.diag(torch.logspace(0, 2, 10, dtype=torch.float64)) @ _orthogonal(10, 13)
    # Each invariance case (CKA exactly 1) shares its part with an ordinary one, so that a constant 1 earns nothing.
    cases = {
        "two activation matrices of different widths, and the same layer rotated by an orthogonal matrix (CKA is "
        "invariant to it)": [(a, b), (x, x @ _orthogonal(10, 14))],
        "the same layer scaled by one number (invariant), and stretched by an arbitrary linear map (not invariant)": [
            (x, 3.7 * x), (x, x @ stretch)],
        "features whose columns have large non-zero means": [(a + 5.0, b)],
        "a few examples of a wide layer": [(a[:12], b[:12] @ torch.randn(9, 40, generator=torch.Generator().manual_seed(15),
                                                                          dtype=torch.float64))],
    }
    return compare_with_course(cases, my_linear_cka, linear_cka, {universality: ("linear_cka", "cka_from_grams")}, "CKA",
                               rtol=1e-4, atol=1e-6, hint=hint, read=lambda answer: one_number(answer, hint=hint))


@exercise(points=2)
def check_correlation_matrix(my_correlation_matrix: Callable) -> Grade:
    """Exercise 2: my_correlation_matrix(responses_a, responses_b) returns the (Ca, Cb) Pearson correlations of their columns."""
    hint = ("Subtract each column's mean, divide by its norm, then multiply: Aᵀ B. A column that never varies "
            "correlates 0 with everything (no NaN).")
    a, b = _latent_pair(90, 5, 8, seed=21)
    dead = b.clone()
    dead[:, 2] = 0.0  # a dead unit: it never fires on these images
    cases = {
        "two layers of different widths": [(a, b)],
        "a unit and an affine copy of it (correlation 1)": [(a, 2.5 * a + 3.0)],
        "a unit and its negative (correlation -1)": [(a, -a)],
        "a dead unit (constant responses)": [(a, dead)],
    }
    hidden = {universality: ("correlation_matrix",), stats: ("correlation_columns",)}
    return compare_with_course(cases, my_correlation_matrix, correlation_matrix, hidden, "correlations",
                               rtol=1e-4, atol=1e-6, hint=hint)


def _gridded_pair(images: int, cells: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Responses (images x cells, units) of two layers sharing a latent cause and a response to the grid position."""
    generator = torch.Generator().manual_seed(seed)
    a, b = _latent_pair(images * cells, 6, 8, seed)
    position = torch.randn(cells, 1, generator=generator, dtype=torch.float64).repeat(images, 1)
    return a + 2 * position * torch.rand(1, 6, generator=generator, dtype=torch.float64), \
        b + 2 * position * torch.rand(1, 8, generator=generator, dtype=torch.float64)


@exercise(points=3)
def check_shuffled_best(my_shuffled_best: Callable) -> Grade:
    """Exercise 4: my_shuffled_best(responses_a, responses_b, samples_per_image, seed), the shuffled-images baseline."""
    hint = ("Shuffle whole images of B, not single rows: reshape B to (images, samples_per_image, units), index the "
            "first axis with np.random.default_rng(seed).permutation(images), reshape back, then take each unit of A's "
            "best correlation with a unit of B.")
    cases = {
        "one sample per image, seed 3": [(*_latent_pair(60, 5, 7, seed=31), 1, 3)],
        "9 grid cells per image, seed 5: an image's cells stay together": [(*_gridded_pair(12, 9, seed=32), 9, 5)],
        "4 grid cells per image, seed 11": [(*_gridded_pair(20, 4, seed=33), 4, 11)],
    }

    def course(first: torch.Tensor, second: torch.Tensor, per_image: int, seed: int) -> torch.Tensor:
        return universality.shuffled_match(first, second, samples_per_image=per_image, seed=seed).best_correlation

    return compare_with_course(cases, my_shuffled_best, course, {universality: ("shuffled_match",)}, "best correlations",
                               rtol=1e-4, atol=1e-6, hint=hint)


def _filter_cases(model: CircuitModel) -> dict[str, list[np.ndarray]]:
    """Held-out (3, k, k) filters, two per part with different fractions, so that no constant answer earns a part."""
    rng = np.random.default_rng(808)
    y, x = np.mgrid[-3:4, -3:4].astype(np.float64)
    opponent = np.stack([np.exp(-(x**2 + y**2) / 4), -np.exp(-(x**2 + y**2) / 4), np.zeros((7, 7))])
    blob = np.repeat((np.exp(-(x**2 + y**2) / 6) + 0.05 * rng.standard_normal((7, 7)))[None], 3, axis=0)
    gabor = np.cos(1.3 * x) * np.exp(-(x**2 + y**2) / 5) + 0.1
    tinted = np.stack([1.2 * gabor, gabor, 0.7 * gabor]) + 0.05
    stem = first_layer_filters(model).detach().cpu().double().numpy()
    picked = rng.choice(len(stem), size=2, replace=False)
    return {
        "a red-green opponent filter and a grey blob (7 x 7)": [opponent, blob],
        "a tinted grey stripe pattern (7 x 7) and random colours (5 x 5)": [tinted, rng.standard_normal((3, 5, 5))],
        f"a dead filter, and two first-layer filters of {model.name}": [np.zeros((3, 3, 3)), stem[picked[0]],
                                                                        stem[picked[1]]],
    }


@exercise(points=3)
def check_colour_and_dc(my_colour_and_dc: Callable, model: CircuitModel) -> Grade:
    """Exercise 5: my_colour_and_dc(filter_rgb): the colour fraction and the DC fraction of one (3, k, k) filter."""
    grade = Grade()
    hint = ("grey = the mean over the 3 colour channels (a (k, k) filter); colour fraction = energy of (w - grey) over "
            "the energy of w; DC fraction = (mean of grey)² times its number of pixels over the energy of grey; a "
            "filter (or grey filter) with no energy gets 0, not NaN.")
    for name, filters in _filter_cases(model).items():
        with grade.part(name):
            for weights in filters:
                reference = filter_properties(weights)
                answer = answer_without({universality: ("filter_properties",)}, my_colour_and_dc, torch.from_numpy(weights))
                expect(isinstance(answer, tuple) and len(answer) == 2,
                       f"Return two numbers, (colour fraction, DC fraction); got {type(answer).__name__}.")
                expect_close(one_number(answer[0], hint=hint), reference.colour_fraction, "the colour fraction",
                             rtol=1e-5, atol=1e-7, hint=hint)
                expect_close(one_number(answer[1], hint=hint), reference.dc_fraction, "the DC fraction",
                             rtol=1e-5, atol=1e-7, hint=hint)
    return grade


def _orientation_cases(model: CircuitModel) -> dict[str, list[tuple[torch.Tensor, int]]]:
    """Held-out (filter, fft_size) cases, two or three per part with different answers, so that no constant earns a part."""
    rng = np.random.default_rng(806)
    y, x = np.mgrid[-3:4, -3:4].astype(np.float64)
    y = -y  # counter-clockwise angles, with rows growing downwards
    window = np.exp(-(x**2 + y**2) / 6)

    def stripes(degrees: float, wavelength: float = 3.5) -> np.ndarray:
        across = np.radians(degrees + 90)
        return window * np.cos(2 * np.pi * (x * np.cos(across) + y * np.sin(across)) / wavelength)

    def grey(picture: np.ndarray) -> np.ndarray:
        return np.repeat(picture[None], 3, axis=0)

    edge = grey(np.tanh(1.5 * x) * window)
    centre_surround = grey(np.exp(-(x**2 + y**2) / 2) - 0.45 * np.exp(-(x**2 + y**2) / 8))
    flat = np.stack([np.full((7, 7), 0.75), np.full((7, 7), -0.5), np.full((7, 7), 0.5)])  # colour, no pattern
    opponent = np.stack([stripes(90), -stripes(90), np.zeros((7, 7))]) + 0.3 * grey(stripes(30))
    tinted = np.stack([1.3, 1.0, 0.6])[:, None, None] * stripes(125)
    stem = first_layer_filters(model).detach().cpu().double().numpy()
    pick = rng.choice(len(stem), size=2, replace=False)
    cases = {
        "grey patterns (7 x 7): a vertical edge and stripes at 30° and at 160°": [
            (edge, 32), (grey(stripes(30)), 32), (grey(stripes(160)), 32)],
        "a pattern on a bright offset, a centre-surround, and a flat colour with no pattern": [
            (grey(stripes(60)) + 0.8, 32), (centre_surround, 32), (flat, 32)],
        "colour: a tinted stripe pattern, and red-green vertical stripes over faint grey stripes at 30°": [
            (tinted, 32), (opponent, 32)],
        f"other sizes: random 3 x 3 and 11 x 11 filters (fft_size 16 and 64), two stem filters of {model.name}": [
            (rng.standard_normal((3, 3, 3)), 16), (rng.standard_normal((3, 11, 11)), 64),
            (stem[pick[0]], 24), (stem[pick[1]], 32)],
    }
    return {name: [(torch.from_numpy(w), size) for w, size in part] for name, part in cases.items()}


def _on_the_circle(answer: object, hint: str) -> np.ndarray:
    """(orientedness, orientedness·cos 2φ, orientedness·sin 2φ): orientations 0° and 180° agree, and an orientation
    matters as much as the filter prefers it."""
    expect(isinstance(answer, (tuple, list)) and len(answer) == 2,
           f"Return two numbers, (orientedness, orientation in degrees); got {type(answer).__name__}.", hint)
    strength, degrees = one_number(answer[0], hint=hint), one_number(answer[1], hint=hint)
    doubled = np.radians(2 * degrees)
    return np.array([strength, strength * np.cos(doubled), strength * np.sin(doubled)])


@exercise(points=4)
def check_orientedness(my_orientedness: Callable, model: CircuitModel) -> Grade:
    """Exercise 6: my_orientedness(filter_rgb, fft_size): (orientedness, orientation) of one (3, k, k) filter."""
    hint = ("Take the grey part (the channel mean) minus its own mean, the power |FFT|² zero-padded to fft_size x "
            "fft_size, keep the frequencies with fy² + fx² <= 0.25, and average e^{2iθ} (θ = atan2(fy, fx)) weighted by "
            "the power: orientedness = |R|, orientation = (-angle(R)/2 in degrees + 90) mod 180; no pattern gives (0, 0).")

    def course(filter_rgb: torch.Tensor, fft_size: int) -> np.ndarray:
        return _on_the_circle(filter_orientation(filter_rgb, fft_size), hint)

    return compare_with_course(_orientation_cases(model), my_orientedness, course,
                               {universality: ("filter_orientation", "_power_by_angle")}, "(orientedness, orientation) on the circle",
                               rtol=1e-5, atol=1e-6, hint=hint, read=lambda answer: _on_the_circle(answer, hint))


def _cka_like(rows: int, columns: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A layer-by-layer similarity matrix (rows x columns) with a noisy same-depth band, and the layers' relative depths."""
    rng = np.random.default_rng(seed)
    depth_a, depth_b = np.linspace(0, 1, rows), np.sort(rng.uniform(0, 1, columns))
    band = np.exp(-((depth_a[:, None] - depth_b[None, :]) / 0.3) ** 2)
    return 0.2 + 0.6 * band + 0.15 * rng.random((rows, columns)), depth_a, depth_b


@exercise(points=3)
def check_depth_agreement(my_depth_agreement: Callable) -> Grade:
    """Exercise 7: my_depth_agreement(matrix, depth_a, depth_b, tolerance, far): the three numbers of the CKA claims."""
    hint = ("gap = |depth_a[:, None] - depth_b[None, :]|; the same-depth mean over the entries with gap <= tolerance, the "
            "distant mean over gap >= far; each row's best column (argmax over B's layers) gives A's partner depth, "
            "and the share of rows whose partner lies within tolerance (<=) of their own depth.")
    quarters = np.arange(5) / 4  # depths 0, 0.25, ..., 1: gaps of exactly the tolerance
    edge = np.array([[0.9, 0.2, 0.1, 0.0, 0.3], [0.8, 0.5, 0.2, 0.1, 0.0], [0.1, 0.3, 0.4, 0.6, 0.2],
                     [0.0, 0.1, 0.2, 0.3, 0.7], [0.2, 0.0, 0.1, 0.5, 0.4]])
    cases = {
        "noisy CKA-like matrices of 9 x 6 and 5 x 12 layers, tolerance 0.15 and 0.2, far 0.4 and 0.5": [
            (*_cka_like(9, 6, 71), 0.15, 0.4), (*_cka_like(5, 12, 72), 0.2, 0.5)],
        "hand-made 5 x 5 matrix with depths in quarters: gaps of exactly the tolerance (0.25) and of far (0.5)": [
            (edge, quarters, quarters, 0.25, 0.5), (edge.T, quarters, quarters, 0.25, 0.75)],
        "a matrix whose best partners are at the wrong depth (anti-diagonal), 7 x 8": [
            (_cka_like(7, 8, 73)[0][:, ::-1], *_cka_like(7, 8, 73)[1:], 0.15, 0.4)],
    }

    def read(answer: object) -> np.ndarray:
        expect(isinstance(answer, (tuple, list)) and len(answer) == 3,
               f"Return three numbers (same-depth mean, distant mean, partner share); got {type(answer).__name__}.", hint)
        return np.array([one_number(value, hint=hint) for value in answer])

    return compare_with_course(cases, my_depth_agreement, lambda *args: np.array(stats.depth_agreement(*args)),
                               {stats: ("depth_agreement", "_depth_gaps")}, "(same-depth mean, distant mean, partner share)",
                               rtol=1e-6, atol=1e-9, hint=hint, read=read)


@exercise(points=3)
def check_one_to_one(my_one_to_one: Callable) -> Grade:
    """Exercise 8: my_one_to_one(correlations): greedy one-to-one pairs (unit of A, unit of B), strongest first."""
    hint = ("Copy the matrix; min(C_a, C_b) times: take the largest remaining entry (np.unravel_index of np.argmax), "
            "record (row, column), then set that whole row and that whole column to -inf. Compare signed correlations.")
    rng = np.random.default_rng(81)
    greedy_not_best = np.array([[0.9, 0.8], [0.7, 0.1]])  # the best total pairs (0, 1) and (1, 0); greedy does not
    rows_not_order = np.array([[0.5, 0.4, 0.1], [0.6, 0.9, 0.2], [0.3, 0.8, 0.7]])  # row by row is not greedy
    negative = np.array([[0.2, -0.95, 0.1], [0.6, 0.3, -0.2], [0.1, 0.5, 0.4]])  # an anti-correlated pair is no twin
    cases = {
        "hand-made 2 x 2 and 3 x 3 matrices where the best total, or pairing row by row, differs from greedy": [
            (greedy_not_best,), (rows_not_order,)],
        "a strongly anti-correlated pair, and a random 6 x 9 correlation-like matrix": [
            (negative,), (np.tanh(rng.normal(0, 0.6, (6, 9))),)],
        "more units in A than in B: a random 10 x 4 matrix, and one twice-used favourite column (7 x 5)": [
            (np.tanh(rng.normal(0, 0.6, (10, 4))),),
            (np.column_stack([0.9 - 0.05 * np.arange(7), rng.uniform(-0.3, 0.6, (7, 4))]),)],
    }

    def read(answer: object) -> np.ndarray:
        pairs = np.asarray(answer.detach().cpu() if isinstance(answer, torch.Tensor) else answer)
        expect(pairs.ndim == 2 and pairs.shape[1:] == (2,) and pairs.dtype.kind in "iuf",
               f"Return pairs of unit indices, shape (P, 2); got shape {pairs.shape}.", hint)
        return pairs.astype(np.float64)

    return compare_with_course(cases, my_one_to_one, stats.greedy_pairs, {stats: ("greedy_pairs", "_take_best")},
                               "the pairs (unit of A, unit of B)", rtol=0, atol=1e-9, hint=hint, read=read)


@exercise(points=4)
def check_debiased_cka(my_debiased_cka: Callable) -> Grade:
    """Exercise 9: my_debiased_cka(features_a, features_b): linear CKA from the unbiased HSIC estimator."""
    hint = ("Set the diagonals of both Gram matrices to 0 first, and use the one estimator (all three terms of the "
            "exercise's formula) for the cross term and for both norms; a layer that never varies gets 0, not NaN.")
    generator = torch.Generator().manual_seed(91)
    wide_a = torch.randn(10, 60, generator=generator, dtype=torch.float64)
    wide_b = torch.randn(10, 35, generator=generator, dtype=torch.float64)
    a, b = _latent_pair(40, 18, 7, seed=92)
    x = torch.randn(30, 8, generator=generator, dtype=torch.float64)
    cases = {
        "independent random representations: few examples (10), many features": [(wide_a, wide_b), (wide_a.abs(), wide_b)],
        "two activation matrices sharing a latent cause, with large column means, and a dead layer (all zeros)": [
            (a, b), (a + 4.0, b - 2.0), (a, torch.zeros(40, 5, dtype=torch.float64))],
        "the same layer rotated and rescaled (CKA exactly 1), and stretched (not 1)": [
            (x, 2.5 * x @ _orthogonal(8, 93)),
            (x, x @ torch.diag(torch.logspace(0, 2, 8, dtype=torch.float64)) @ _orthogonal(8, 94))],
    }
    hidden = {universality: ("linear_cka", "cka_from_grams", "_hsic", "cka_matrix")}
    grade = compare_with_course(cases, my_debiased_cka, lambda first, second: linear_cka(first, second, debiased=True),
                                hidden, "debiased CKA", rtol=1e-4, atol=1e-6, hint=hint,
                                read=lambda answer: one_number(answer, hint=hint))
    few_a, few_b = _latent_pair(4, 6, 5, seed=95)
    with grade.part("the fewest examples: 4 give a number, 3 a ValueError (the estimator divides by N - 3)"):
        expect_close(one_number(answer_without(hidden, my_debiased_cka, few_a, few_b), hint=hint),
                     linear_cka(few_a, few_b, debiased=True), "debiased CKA of 4 examples", rtol=1e-4, atol=1e-6, hint=hint)
        expect(refuses_without(hidden, my_debiased_cka, few_a[:3], few_b[:3]), "With 3 examples your function did not raise a ValueError.",
               "Check the number of examples before the estimator: it needs N >= 4.")
    return grade
