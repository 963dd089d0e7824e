"""Lesson 08's exercise checks (helpers.checks.universality): the course's method gets full marks, plausible
wrong methods lose points, the placeholder is "not attempted"."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from helpers.checks.universality import check_correlation_matrix, check_linear_cka
from helpers.universality import correlation_matrix, linear_cka


def cka(x: torch.Tensor, y: torch.Tensor) -> float:
    """Linear CKA as a student writes it: centred Gram matrices, normalized inner product."""
    x, y = x - x.mean(0), y - y.mean(0)
    k, l = x @ x.T, y @ y.T
    return float((k * l).sum() / (k.norm() * l.norm()))


def uncentred_cka(x: torch.Tensor, y: torch.Tensor) -> float:
    k, l = x @ x.T, y @ y.T
    return float((k * l).sum() / (k.norm() * l.norm()))


def correlations(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    def standardize(x: torch.Tensor) -> torch.Tensor:
        x = x - x.mean(0)
        norm = x.norm(dim=0)
        return torch.where(norm > 1e-12, x / norm.clamp_min(1e-300), torch.zeros_like(x))

    return standardize(a).T @ standardize(b)


def test_the_course_method_gets_full_marks(strict: None) -> None:
    assert check_linear_cka(cka)
    assert check_correlation_matrix(correlations)


def test_the_course_implementation_is_withheld(exercise_probe) -> None:
    # Lesson 08 imports helpers.universality for section 4's baseline: its CKA and correlations are no answer.
    exercise_probe.rejected(check_linear_cka, linear_cka)
    exercise_probe.rejected(check_correlation_matrix, correlation_matrix)


@pytest.mark.parametrize("wrong", [
    uncentred_cka,                                          # forgets to centre
    lambda x, y: linear_cka(x, y, debiased=True),           # another estimator
    lambda x, y: float(torch.corrcoef(torch.stack([(x @ x.T).flatten(), (y @ y.T).flatten()]))[0, 1]),  # Gram correlation
    lambda x, y: 1.0,                                       # the invariance cases only
])
def test_wrong_cka_methods_lose_points(wrong) -> None:
    score = check_linear_cka(wrong)
    assert 0 <= score < check_linear_cka.points


def test_a_constant_one_earns_nothing() -> None:
    assert check_linear_cka.__wrapped__(lambda x, y: 1.0).fraction == 0  # each invariance case shares its part


@pytest.mark.parametrize("wrong", [
    lambda a, b: (a - a.mean(0)).T @ (b - b.mean(0)),                       # covariance, not correlation
    lambda a, b: np.corrcoef(a.T.numpy(), b.T.numpy())[: a.shape[1], a.shape[1]:],  # NaN for a dead unit
    lambda a, b: correlations(b, a),                                        # the wrong way round
])
def test_wrong_correlation_methods_lose_points(wrong) -> None:
    with np.errstate(all="ignore"):
        score = check_correlation_matrix(wrong)
    assert score < check_correlation_matrix.points


def test_placeholder_is_not_attempted(exercise_probe) -> None:
    exercise_probe.not_attempted(lambda: check_linear_cka(...), lambda: check_correlation_matrix(lambda a, b: None))


def test_a_result_that_is_not_a_number_loses_points() -> None:
    assert check_linear_cka(lambda x, y: {"cka": 1.0}) == 0


def shuffled_best(a: torch.Tensor, b: torch.Tensor, per_image: int, seed: int) -> np.ndarray:
    """The shuffled-images baseline as a student writes it: whole images of B moved, then the best matches."""
    from helpers.universality import match_units

    images = len(b) // per_image
    order = np.random.default_rng(seed).permutation(images)
    return match_units(a, b.reshape(images, per_image, -1)[order].reshape(b.shape)).best_correlation


def through_the_course(a, b, per_image, seed):  # looked up in the module, as lesson 08 does
    import helpers.universality

    return helpers.universality.shuffled_match(a, b, samples_per_image=per_image, seed=seed).best_correlation


def test_shuffled_baseline_check(exercise_probe) -> None:
    from helpers.checks.universality import check_shuffled_best
    from helpers.universality import match_units

    assert check_shuffled_best(shuffled_best)

    def single_rows(a, b, per_image, seed):
        return match_units(a, b[np.random.default_rng(seed).permutation(len(b))]).best_correlation

    def another_generator(a, b, per_image, seed):
        images = len(b) // per_image
        order = torch.randperm(images, generator=torch.Generator().manual_seed(seed))
        return match_units(a, b.reshape(images, per_image, -1)[order].reshape(b.shape)).best_correlation

    wrong = [single_rows, another_generator, through_the_course,
             lambda a, b, per_image, seed: match_units(a, b).best_correlation,  # no shuffle
             lambda a, b, per_image, seed: shuffled_best(b, a, per_image, seed)]  # A and B swapped
    for answer in wrong:
        exercise_probe.rejected(check_shuffled_best, answer)
    assert 0 < check_shuffled_best.__wrapped__(single_rows).fraction < 1  # right only with one sample per image
    exercise_probe.not_attempted(lambda: check_shuffled_best(...), lambda: check_shuffled_best(lambda *a: None))


def student_colour_and_dc(filter_rgb, *, grey_denominator=False, rgb_dc=False):
    """The two filter fractions as a student writes them; the keywords make its near misses."""
    import numpy as np

    w = np.asarray(filter_rgb, dtype=np.float64)
    energy = (w ** 2).sum()
    if energy <= 1e-20:
        return 0.0, 0.0
    grey = w.mean(0)
    colour = ((w - grey) ** 2).sum() / ((grey ** 2).sum() * 3 if grey_denominator else energy)
    source = w if rgb_dc else grey
    source_energy = (source ** 2).sum()
    dc = source.mean() ** 2 * source.size / source_energy if source_energy > 1e-20 else 0.0
    return float(colour), float(dc)


def test_colour_and_dc_check(exercise_probe) -> None:
    from helpers.checks.universality import check_colour_and_dc
    from helpers.zoo import load_model

    model = load_model("efficientnet_lite0", weights="random", device="cpu", verbose=False)
    assert check_colour_and_dc(student_colour_and_dc, model) == 3

    def course(filter_rgb):  # the course's measure, reached through its module while the student's function runs
        import helpers.universality

        found = helpers.universality.filter_properties(filter_rgb)
        return found.colour_fraction, found.dc_fraction

    def without_dead_filter(filter_rgb):
        import numpy as np

        w = np.asarray(filter_rgb, dtype=np.float64)
        grey = w.mean(0)
        return float(((w - grey) ** 2).sum() / (w ** 2).sum()), float(grey.mean() ** 2 * grey.size / (grey ** 2).sum())

    wrong = [lambda f: student_colour_and_dc(f, grey_denominator=True),  # over the grey energy, not the filter's
             lambda f: student_colour_and_dc(f, rgb_dc=True),  # DC of the colour filter, not of its grey part
             lambda f: student_colour_and_dc(f)[::-1],  # (dc, colour)
             without_dead_filter, course]
    for answer in wrong:
        exercise_probe.rejected(check_colour_and_dc, answer, model)
    for colour, dc in [(0.0, 0.0), (1.0, 0.0), (0.0, 1.0), (0.5, 0.5)]:
        assert check_colour_and_dc.__wrapped__(lambda f, a=(colour, dc): a, model).fraction == 0
    exercise_probe.not_attempted(lambda: check_colour_and_dc(..., model), lambda: check_colour_and_dc(lambda f: None, model))


def student_orientedness(filter_rgb, fft_size, *, centre=True, grey_part=True, disk=True, pad=True, turn=2,
                         stripes=True, flip=True):
    """A filter's orientedness and orientation as a student writes it; the keywords make its near misses."""
    w = np.asarray(filter_rgb, dtype=np.float64)
    size = fft_size if pad else w.shape[-1]
    power = 0.0
    for picture in [w.mean(0)] if grey_part else list(w):
        power = power + np.abs(np.fft.fft2(picture - picture.mean() if centre else picture, s=(size, size))) ** 2
    frequencies = np.fft.fftfreq(size)
    fy, fx = np.meshgrid(frequencies, frequencies, indexing="ij")
    if disk:
        power = np.where(fy**2 + fx**2 <= 0.25, power, 0.0)
    total = power.sum()
    if total <= 1e-20:
        return 0.0, 0.0
    resultant = (power * np.exp(turn * 1j * np.arctan2(fy, fx))).sum() / total
    degrees = np.degrees(np.angle(resultant)) / 2 * (-1 if flip else 1) + (90 if stripes else 0)
    return float(abs(resultant)), float(degrees % 180)


def test_orientedness_check(exercise_probe) -> None:
    from helpers.checks.universality import check_orientedness
    from helpers.zoo import load_model

    model = load_model("efficientnet_lite0", weights="random", device="cpu", verbose=False)
    assert check_orientedness(student_orientedness, model) == 4
    assert check_orientedness(lambda f, n: student_orientedness(f.flip(-1).flip(-2), n), model) == 4  # turned by 180°

    def through_the_course(filter_rgb, fft_size):  # reached through the module, or through the classifier
        import helpers.universality

        found = helpers.universality.classify_filters(filter_rgb[None])[0]
        return found.orientedness, found.orientation

    wrong = [lambda f, n: student_orientedness(f, n, centre=False),  # the grey part's mean left in (power at f = 0)
             lambda f, n: student_orientedness(f, n, disk=False),  # the square's corners counted
             lambda f, n: student_orientedness(f, n, pad=False),  # the spectrum of a k x k grid only
             lambda f, n: student_orientedness(f, n, turn=1),  # e^{iθ}: a real filter's spectrum cancels out
             lambda f, n: student_orientedness(f, n, stripes=False),  # the frequency's direction, not the stripes'
             lambda f, n: student_orientedness(f, n, flip=False),  # rows counted upwards
             lambda f, n: student_orientedness(f, n)[::-1],
             lambda f, n: helpers_universality().filter_orientation(f, n), through_the_course]
    for answer in wrong:
        with np.errstate(all="ignore"):
            exercise_probe.rejected(check_orientedness, answer, model)
    colour_blind = check_orientedness.__wrapped__(lambda f, n: student_orientedness(f, n, grey_part=False), model)
    assert 0 < colour_blind.fraction < 1  # every channel's power: right only for grey filters
    for constant in [(0.0, 0.0), (1.0, 90.0), (0.5, 45.0), (0.3, 135.0)]:
        assert check_orientedness.__wrapped__(lambda f, n, a=constant: a, model).fraction == 0
    exercise_probe.not_attempted(lambda: check_orientedness(..., model),
                                 lambda: check_orientedness(lambda f, n: None, model))


def helpers_universality():
    import helpers.universality

    return helpers.universality


def test_the_course_orientation_is_no_answer_even_taken_before_the_check(exercise_probe) -> None:
    # Lesson 08 imports helpers.universality: the function object itself, passed as the answer, earns nothing.
    from helpers.checks.universality import check_orientedness
    from helpers.universality import filter_orientation
    from helpers.zoo import load_model

    model = load_model("efficientnet_lite0", weights="random", device="cpu", verbose=False)
    exercise_probe.rejected(check_orientedness, filter_orientation, model)


def student_depth_agreement(matrix, depth_a, depth_b, tolerance, far, *, strict=False, distant_is_not_near=False,
                            columns=False):
    """The three numbers of the CKA claims as a student writes them; the keywords make its near misses."""
    gap = np.abs(depth_a[:, None] - depth_b[None, :])
    near = gap < tolerance if strict else gap <= tolerance
    distant = ~near if distant_is_not_near else gap >= far
    if columns:  # each layer of B's best partner in A, instead of each layer of A's in B
        share = np.mean(np.abs(depth_a[matrix.argmax(0)] - depth_b) <= tolerance)
    else:
        share = np.mean(np.abs(depth_b[matrix.argmax(1)] - depth_a) <= tolerance)
    return float(matrix[near].mean()), float(matrix[distant].mean()), float(share)


def test_depth_agreement_check(exercise_probe) -> None:
    from helpers.checks.universality import check_depth_agreement
    from helpers.stats import depth_agreement

    assert check_depth_agreement(student_depth_agreement) == 3
    wrong = [lambda *a: student_depth_agreement(*a, strict=True), lambda *a: student_depth_agreement(*a, columns=True),
             lambda *a: student_depth_agreement(*a, distant_is_not_near=True),
             lambda m, da, db, t, f: (float(m.mean()), float(m.mean()), 1.0),
             lambda *a: student_depth_agreement(*a)[::-1], depth_agreement]
    for answer in wrong:
        exercise_probe.rejected(check_depth_agreement, answer)
    for constant in [(0.5, 0.5, 1.0), (0.8, 0.3, 1.0), (0.0, 0.0, 0.0)]:
        assert check_depth_agreement.__wrapped__(lambda *a, c=constant: c).fraction == 0
    exercise_probe.not_attempted(lambda: check_depth_agreement(...), lambda: check_depth_agreement(lambda *a: None))


def student_one_to_one(correlations, *, by_row=False, absolute=False, rows_only=False):
    """Greedy one-to-one pairs as a student writes them; the keywords make its near misses."""
    left = np.array(correlations, dtype=np.float64)
    left = np.abs(left) if absolute else left
    pairs = []
    for step in range(left.shape[0] if rows_only else min(left.shape)):
        if by_row:  # each row in turn takes its best free column
            row, column = step, int(np.argmax(left[step]))
        else:
            row, column = np.unravel_index(np.argmax(left), left.shape)
        pairs.append((int(row), int(column)))
        left[row, :] = -np.inf
        left[:, column] = -np.inf
    return pairs


def test_one_to_one_check(exercise_probe) -> None:
    from scipy.optimize import linear_sum_assignment

    from helpers.checks.universality import check_one_to_one
    from helpers.stats import greedy_pairs

    assert check_one_to_one(student_one_to_one) == 3

    def hungarian(correlations):  # the best total, strongest pair first
        rows, columns = linear_sum_assignment(correlations, maximize=True)
        order = np.argsort(-correlations[rows, columns], kind="stable")
        return np.stack([rows[order], columns[order]], 1)

    wrong = [lambda c: student_one_to_one(c, by_row=True), lambda c: student_one_to_one(c, absolute=True),
             lambda c: student_one_to_one(c, rows_only=True), hungarian,
             lambda c: np.stack([np.arange(len(c)), np.argmax(c, 1)], 1),  # best match: a unit of B used twice
             lambda c: sorted(student_one_to_one(c)),  # in row order, not strongest first
             greedy_pairs]
    for answer in wrong:
        with np.errstate(all="ignore"):
            exercise_probe.rejected(check_one_to_one, answer)
    assert check_one_to_one.__wrapped__(lambda c: [(0, 0), (1, 1)]).fraction == 0
    exercise_probe.not_attempted(lambda: check_one_to_one(...), lambda: check_one_to_one(lambda c: None))


def test_greedy_pairs_and_depth_agreement_on_small_cases() -> None:
    from helpers.stats import depth_agreement, greedy_pairs

    assert greedy_pairs(np.array([[0.9, 0.8], [0.7, 0.1]])).tolist() == [[0, 0], [1, 1]]
    assert greedy_pairs(torch.tensor([[0.1, 0.2, 0.9]])).tolist() == [[0, 2]]
    assert greedy_pairs(np.zeros((3, 0))).shape == (0, 2)
    with pytest.raises(ValueError):
        greedy_pairs(np.array([[np.nan, 1.0]]))
    depths = np.array([0.0, 0.5, 1.0])
    same, distant, share = depth_agreement(np.eye(3) + 0.1, depths, depths, 0.15, 0.4)
    assert (same, distant, share) == pytest.approx((1.1, 0.1, 1.0))
    assert depth_agreement(np.eye(3)[::-1], depths, depths, 0.15, 0.4)[2] == pytest.approx(1 / 3)
    with pytest.raises(ValueError):
        depth_agreement(np.eye(2), depths, depths)


def student_debiased_cka(x, y, *, zero_diagonal=True, middle=True, guard=True):
    """Debiased CKA as a student writes it; the keywords make its near misses."""
    def hsic(k, l):
        n = k.shape[0]
        if zero_diagonal:
            k, l = k - torch.diag(torch.diag(k)), l - torch.diag(torch.diag(l))
        row_k, row_l = k.sum(1), l.sum(1)
        value = (k * l).sum() - 2 / (n - 2) * (row_k @ row_l)
        if middle:
            value = value + row_k.sum() * row_l.sum() / ((n - 1) * (n - 2))
        return value / (n * (n - 3))

    x, y = torch.as_tensor(x).double(), torch.as_tensor(y).double()
    if guard and len(x) < 4:
        raise ValueError("too few examples")
    k, l = x @ x.T, y @ y.T
    norm = torch.sqrt(hsic(k, k) * hsic(l, l))
    return float(hsic(k, l) / norm) if norm > 0 else 0.0


def test_debiased_cka_check_grades_the_answer_and_its_near_misses(exercise_probe) -> None:
    from helpers.checks.universality import check_debiased_cka

    assert check_debiased_cka(student_debiased_cka) == 4

    def course(*args):  # the course's estimator, reached through its module while the student's function runs
        import helpers.universality

        return helpers.universality.linear_cka(*args, debiased=True)

    wrong = [lambda x, y: student_debiased_cka(x, y, zero_diagonal=False),  # the diagonal's bias kept
             lambda x, y: student_debiased_cka(x, y, middle=False),  # a term of the estimator left out
             lambda x, y: student_debiased_cka(x, y, guard=False),  # 3 examples give a number (or NaN)
             lambda x, y: cka(torch.as_tensor(x).double(), torch.as_tensor(y).double()),  # plain CKA
             course]
    for answer in wrong:
        with np.errstate(all="ignore"):
            exercise_probe.rejected(check_debiased_cka, answer)
    for constant in (0.0, 1.0):
        assert check_debiased_cka.__wrapped__(lambda x, y, c=constant: c).fraction == 0
    exercise_probe.not_attempted(lambda: check_debiased_cka(...), lambda: check_debiased_cka(lambda x, y: None))
