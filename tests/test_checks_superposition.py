"""Lesson 07's exercise checks (helpers.checks.superposition): the course's method earns full marks, the
usual slips (a missing ReLU, importance or centre, a sum for a mean) and the course's own helpers called with
the exercise's signature lose points, and the placeholder ``...`` reports "not attempted" without stopping the lesson."""
from __future__ import annotations

import math

import pytest
import torch

from helpers.checks.superposition import (
    check_dictionary_loss, check_dictionary_step, check_feature_dimensionality, check_square_of_pairs, check_toy_loss,
)
from helpers.dictionary import dictionary_loss, dictionary_step, train_sparse_dictionary
from helpers.superposition import feature_dimensionality, toy_loss, train_toy_models


pytestmark = pytest.mark.usefixtures("strict")  # as when grading: a wrong answer raises


def polygon(count: int, start: float = 0.0) -> torch.Tensor:
    angles = torch.tensor([start + 2 * math.pi * i / count for i in range(count)])
    return torch.stack([angles.cos(), angles.sin()])


# --- exercise 3: the square of antipodal pairs ---------------------------------------------------
def test_square_of_pairs(exercise_probe):
    assert check_square_of_pairs(torch.tensor([[1.0, -1.0, 0.0, 0.0], [0.0, 0.0, 1.0, -1.0]]))
    assert check_square_of_pairs(polygon(4, 0.3)[:, [0, 2, 1, 3]])  # any rotation, any order
    wrong = [
        polygon(5)[:, :4],  # four corners of a pentagon
        polygon(4) * 0.3,  # a square, but features barely represented
        torch.tensor([[1.0, -1.0, 0.7071, -0.7071], [0.0, 0.0, 0.7071, -0.7071]]),  # pairs at 45 degrees
        torch.tensor([[1.0, 0.0, 1.0, 0.0], [0.0, 1.0, 0.0, 1.0]]),  # features duplicated, not opposed
        torch.eye(2, 4),  # two features dropped
        torch.tensor([[1.0, -1.0, 0.0], [0.0, 0.0, 1.0]]),  # wrong shape
        [[1.0, -1.0, 0.0, 0.0], [0.0, 0.0, 1.0, -1.0]],  # not a tensor
    ]
    for answer in wrong:
        exercise_probe.rejected(check_square_of_pairs, answer)
    exercise_probe.not_attempted(lambda: check_square_of_pairs(...))


# --- exercise 1: the toy model's loss ------------------------------------------------------------
def toy(weights, bias, features, importance):
    rebuilt = torch.relu(features @ weights.T @ weights + bias)
    return (importance * (rebuilt - features) ** 2).mean()


def test_toy_loss(exercise_probe):
    assert check_toy_loss(toy)
    assert check_toy_loss(lambda *args: float(toy(*args)))
    wrong = [
        lambda w, b, x, i: ((x @ w.T @ w + b - x) ** 2 * i).mean(),  # no ReLU on the read-out
        lambda w, b, x, i: ((torch.relu(x @ w.T @ w + b) - x) ** 2).mean(),  # importance forgotten
        lambda w, b, x, i: (i * (torch.relu(x @ w.T @ w + b) - x) ** 2).sum(1).mean(),  # summed over features
        lambda w, b, x, i: (i ** 2 * (torch.relu(x @ w.T @ w + b) - x) ** 2).mean(),  # importance squared
        lambda w, b, x, i: (i * (torch.relu(x @ w.T @ w) - x) ** 2).mean(),  # bias forgotten
        lambda w, b, x, i: 0.1,
        toy_loss,  # the course's stacked helper does not take one model's tensors
    ]
    for answer in wrong:
        exercise_probe.rejected(check_toy_loss, answer)
    exercise_probe.not_attempted(lambda: check_toy_loss(...), lambda: check_toy_loss(lambda *args: None))


# --- exercise 2: a sparse dictionary's loss -------------------------------------------------------
def sparse_loss(batch, encoder, encoder_bias, directions, centre, l1):
    codes = torch.relu((batch - centre) @ encoder.T + encoder_bias)
    rebuilt = centre + codes @ directions
    return (rebuilt - batch).square().sum(1).mean() + l1 * codes.sum(1).mean()


@pytest.fixture(scope="module")
def trained():
    generator = torch.Generator().manual_seed(0)
    directions = torch.nn.functional.normalize(torch.randn(12, 6, generator=generator), dim=1)
    vectors = (torch.rand(400, 12, generator=generator) * (torch.rand(400, 12, generator=generator) < 0.2)) @ directions
    return train_sparse_dictionary(vectors, 12, steps=60, generator=generator, progress=False), vectors


def test_dictionary_loss(trained, exercise_probe):
    dictionary, vectors = trained
    assert check_dictionary_loss(sparse_loss, dictionary, vectors)
    wrong = [
        lambda b, e, eb, d, c, l1: ((torch.relu(b @ e.T + eb) @ d - b).square().sum(1).mean()
                                    + l1 * torch.relu(b @ e.T + eb).sum(1).mean()),  # centre forgotten
        lambda b, e, eb, d, c, l1: ((c + torch.relu((b - c) @ e.T + eb) @ d - b).square().mean()
                                    + l1 * torch.relu((b - c) @ e.T + eb).sum(1).mean()),  # mean over units
        lambda b, e, eb, d, c, l1: (c + torch.relu((b - c) @ e.T + eb) @ d - b).square().sum(1).mean(),  # no L1
        lambda b, e, eb, d, c, l1: ((c + ((b - c) @ e.T + eb) @ d - b).square().sum(1).mean()
                                    + l1 * ((b - c) @ e.T + eb).abs().sum(1).mean()),  # no ReLU on the codes
        lambda *args: torch.tensor(float(sparse_loss(*args))),  # right value, but no gradient
        dictionary_loss,  # the course's helper takes its parameters by name
    ]
    for answer in wrong:
        exercise_probe.rejected(check_dictionary_loss, answer, dictionary, vectors)
    exercise_probe.not_attempted(lambda: check_dictionary_loss(..., dictionary, vectors))


def _dimensionality(weights, *, normalize=True, include_self=True, rows=False):
    weights = weights.T if rows else weights
    norms = weights.norm(dim=0)
    directions = weights / norms.clamp(min=1e-12) if normalize else weights
    overlaps = (directions.T @ weights) ** 2
    total = overlaps.sum(1) if include_self else overlaps.sum(1) - overlaps.diagonal()
    shares = norms ** 2 / total.clamp(min=1e-12)
    return torch.where(norms > 1e-6, shares, torch.zeros_like(shares))


def test_feature_dimensionality_full_marks_and_wrong_methods() -> None:
    assert check_feature_dimensionality(_dimensionality) == 3
    for wrong in (lambda w: _dimensionality(w, normalize=False), lambda w: _dimensionality(w, include_self=False),
                  lambda w: _dimensionality(w, rows=True), lambda w: w.norm(dim=0) ** 2):
        with pytest.raises(AssertionError):
            check_feature_dimensionality(wrong)
    with pytest.raises(AssertionError, match="the course's own implementation"):
        check_feature_dimensionality(feature_dimensionality)


def test_toy_sweeps_give_their_dimensionalities_trained_and_before_training() -> None:
    sweep = train_toy_models(5, 2, [0.0, 0.9], steps=50, progress=False)
    assert torch.equal(sweep.dimensionality, feature_dimensionality(sweep.weights))
    assert torch.equal(sweep.initial_dimensionality, feature_dimensionality(sweep.initial_weights))


# --- exercise 6: one training step of a sparse dictionary -----------------------------------------
def student_step(batch, encoder, encoder_bias, directions, centre, optimizer, l1, *, clear=True, renormalize=True,
                 dim=1, loss_after=False):
    """The course's step as a student would write it; the keywords make its near misses."""
    loss = sparse_loss(batch, encoder, encoder_bias, directions, centre, l1)
    if clear:
        optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    if renormalize:
        with torch.no_grad():
            directions /= directions.norm(dim=dim, keepdim=True)
    if loss_after:
        return float(sparse_loss(batch, encoder, encoder_bias, directions, centre, l1))
    return loss.item()


def test_dictionary_step(trained, exercise_probe):
    dictionary, vectors = trained
    assert check_dictionary_step(student_step, dictionary, vectors) == 3
    wrong = [
        lambda *args: student_step(*args, clear=False),  # gradients pile up from step to step
        lambda *args: student_step(*args, renormalize=False),  # the L1 price dodged by growing directions
        lambda *args: student_step(*args, dim=0),  # columns normalized instead of rows
        lambda *args: student_step(*args, loss_after=True),  # the loss after the step
        dictionary_step,  # the course's own step is withheld while the student's runs
    ]
    for answer in wrong:
        exercise_probe.rejected(check_dictionary_step, answer, dictionary, vectors)
    exercise_probe.not_attempted(lambda: check_dictionary_step(..., dictionary, vectors))
    exercise_probe.not_attempted(lambda: check_dictionary_step(lambda *args: None, dictionary, vectors))


def test_training_takes_a_students_step_and_refuses_one_that_returns_nothing():
    vectors = torch.rand(64, 5, generator=torch.Generator().manual_seed(3))

    def train(step):
        return train_sparse_dictionary(vectors, 8, steps=20, generator=torch.Generator().manual_seed(4), progress=False,
                                       step=step)

    course, mine = train(None), train(student_step)
    assert torch.allclose(course.directions, mine.directions, atol=1e-5)
    assert not torch.allclose(course.directions, train(lambda *a: student_step(*a, renormalize=False)).directions,
                              atol=1e-3)
    with pytest.raises(ValueError, match="should return the batch's loss"):
        train(lambda *args: None)
    with pytest.raises(ValueError, match="step must be a function"):
        train(3)


def student_units_to_hold(directions, share, *, squared=True, largest_first=True, normalize=True, count_reaching=True):
    """The count written as a student would, with switches for the usual slips."""
    loadings = directions.square() if squared else directions.abs()
    ordered = loadings.sort(1, descending=largest_first).values
    running = ordered.cumsum(1) / (ordered.sum(1, keepdim=True) if normalize else 1.0)
    return (running < share).sum(1) + (1 if count_reaching else 0)


def test_units_to_hold(trained, exercise_probe):
    from helpers.checks.superposition import check_units_to_hold
    from helpers.dictionary import units_to_hold

    dictionary, _ = trained
    hand_built = torch.tensor([[0.0, 0.0, 5.0, 0.0, 0.0, 0.0], [1.0, 2.0, 3.0, 4.0, 5.0, 6.0],
                               [-4.0, 1.0, 1.0, 1.0, 0.0, 0.0], [1.0, -1.0, 1.0, -1.0, 1.0, 0.5]])
    assert units_to_hold(hand_built, 0.5).tolist() == [1, 2, 1, 3]  # the check's hand-built counts, worked by hand
    assert units_to_hold(hand_built, 0.9).tolist() == [1, 4, 3, 5]
    assert check_units_to_hold(student_units_to_hold, dictionary) == 3

    def course(directions, share):  # the course's function, reached through its module while the student's runs
        import helpers.dictionary

        return helpers.dictionary.units_to_hold(directions, share)

    wrong = [lambda d, s: student_units_to_hold(d, s, squared=False),  # absolute loadings, not their squares
             lambda d, s: student_units_to_hold(d, s, largest_first=False),  # smallest loadings first
             lambda d, s: student_units_to_hold(d, s, normalize=False),  # a share of 1, right only for unit length
             lambda d, s: student_units_to_hold(d, s, count_reaching=False),  # the unit that reaches it left out
             course]
    for answer in wrong:
        exercise_probe.rejected(check_units_to_hold, answer, dictionary)
    for constant in (1, 2, 3):
        exercise_probe.rejected(check_units_to_hold, lambda d, s, c=constant: torch.full((len(d),), c), dictionary)
    exercise_probe.not_attempted(lambda: check_units_to_hold(..., dictionary),
                                 lambda: check_units_to_hold(lambda d, s: None, dictionary))


# --- exercise 8: antipodal partners ----------------------------------------------------------------
def student_partners(weights, threshold, cosine, *, directions=True, both_kept=True, most_opposite=True,
                     all_columns=True):
    """The partners written as a student would, with switches for the usual slips."""
    norms = weights.norm(dim=0)
    kept = norms > threshold
    if not all_columns:  # partners looked up among the kept features only, indexed there
        partners = torch.full((weights.shape[1],), -1)
        partners[kept] = student_partners(weights[:, kept], threshold, cosine)
        return partners
    unit = weights / norms.clamp(min=1e-12) if directions else weights
    cosines = unit.T @ unit
    cosines = torch.where((kept[:, None] & kept[None, :]) if both_kept else kept[:, None], cosines, torch.inf)
    cosines.fill_diagonal_(torch.inf)
    if most_opposite:
        best = cosines.min(dim=1)
        return torch.where(best.values < cosine, best.indices, -1)
    below = cosines < cosine  # the first feature below the cosine
    return torch.where(below.any(1), below.int().argmax(1), -1)


def test_antipodal_partners(exercise_probe):
    from helpers.checks.superposition import check_antipodal_partners
    from helpers.superposition import antipodal_partners

    square = torch.tensor([[1.0, -1.0, 0.0, 0.0, 0.1], [0.0, 0.0, 1.0, -1.0, 0.0]])
    assert antipodal_partners(square).tolist() == [1, 0, 3, 2, -1]  # worked by hand; the short fifth is dropped
    assert antipodal_partners(polygon(5)).tolist() == [-1] * 5  # a pentagon has no antipodal pair
    assert check_antipodal_partners(student_partners) == 3

    def course(weights, threshold, cosine):  # the course's function, reached through its module
        import helpers.superposition

        return helpers.superposition.antipodal_partners(weights, threshold, cosine)

    wrong = [lambda w, t, c: student_partners(w, t, c, directions=False),  # dot products: length counts
             lambda w, t, c: student_partners(w, t, c, both_kept=False),  # a dropped feature can be a partner
             lambda w, t, c: student_partners(w, t, c, most_opposite=False),  # the first feature below the cosine
             lambda w, t, c: student_partners(w, t, c, all_columns=False),  # indices among the kept features only
             lambda w, t, c: student_partners(w, t, -0.996),  # the cosine argument ignored
             lambda w, t, c: student_partners(w, 0.5, c),  # the threshold argument ignored
             lambda w, t, c: student_partners(w, t, c) >= 0,  # who has a partner, not which
             course]
    for answer in wrong:
        exercise_probe.rejected(check_antipodal_partners, answer)
    for constant in (-1, 0):
        exercise_probe.rejected(check_antipodal_partners, lambda w, t, c, k=constant: torch.full((w.shape[1],), k))
    exercise_probe.not_attempted(lambda: check_antipodal_partners(...),
                                 lambda: check_antipodal_partners(lambda w, t, c: None))


# --- exercise 9: how far from a regular polygon ----------------------------------------------------
def student_polygon_deviation(weights, sides, threshold, *, wrap=True, absolute=True, largest=True, drop_short=True,
                              infinite=True, degrees=True):
    """The deviation written as a student would, with switches for the usual slips."""
    kept = weights[:, weights.norm(dim=0) > threshold] if drop_short else weights
    if kept.shape[1] != sides and infinite:
        return float("inf")
    angles = torch.atan2(kept[1], kept[0]) % (2 * math.pi)
    angles = (torch.rad2deg(angles) if degrees else angles).sort().values
    full_turn = 360 if degrees else 2 * math.pi
    gaps = torch.diff(torch.cat([angles, angles[:1] + full_turn])) if wrap else torch.diff(angles)
    differences = gaps - full_turn / sides
    differences = differences.abs() if absolute else differences
    return float(differences.max() if largest else differences.mean())


def test_polygon_deviation(exercise_probe):
    from helpers.checks.superposition import check_polygon_deviation
    from helpers.superposition import polygon_deviation

    def at(*degrees):
        return torch.tensor([[math.cos(math.radians(d)) for d in degrees], [math.sin(math.radians(d)) for d in degrees]])

    assert polygon_deviation(at(0, 72, 144, 216, 250)) == pytest.approx(38.0, abs=1e-3)  # worked by hand: 250 -> 360
    assert polygon_deviation(at(30, 100, 170, 240, 300)) == pytest.approx(18.0, abs=1e-3)  # the gap across 0°
    assert check_polygon_deviation(student_polygon_deviation) == 3

    def course(weights, sides, threshold):  # the course's function, reached through its module
        import helpers.superposition

        return helpers.superposition.polygon_deviation(weights, sides, threshold)

    wrong = [lambda w, s, t: student_polygon_deviation(w, s, t, wrap=False),  # the gap across 0° left out
             lambda w, s, t: student_polygon_deviation(w, s, t, absolute=False),  # a gap too small goes unseen
             lambda w, s, t: student_polygon_deviation(w, s, t, largest=False),  # the mean difference
             lambda w, s, t: student_polygon_deviation(w, s, t, drop_short=False),  # short features counted
             lambda w, s, t: student_polygon_deviation(w, s, t, infinite=False),  # a number when the count is wrong
             lambda w, s, t: student_polygon_deviation(w, s, t, degrees=False),  # radians
             lambda w, s, t: student_polygon_deviation(w, s, 0.5),  # the threshold argument ignored
             course]
    for answer in wrong:
        exercise_probe.rejected(check_polygon_deviation, answer)
    for constant in (0.0, float("inf")):
        exercise_probe.rejected(check_polygon_deviation, lambda w, s, t, k=constant: k)
    exercise_probe.not_attempted(lambda: check_polygon_deviation(...),
                                 lambda: check_polygon_deviation(lambda w, s, t: None))


# --- exercise 10: training one toy model ------------------------------------------------------------
def student_trainer(n_hidden, sparsity, importance, steps, generator, batch_size=256, lr=1e-2, *, clear=True,
                    train_bias=True, weighted=True, zero_start=False, relu=True, flip=False):
    """The loop written as a student would, with switches for the usual slips."""
    n_features = len(importance)
    bound = (6 / (n_features + n_hidden)) ** 0.5
    start = torch.zeros(n_hidden, n_features) if zero_start else \
        (torch.rand(n_hidden, n_features, generator=generator) * 2 - 1) * bound
    weights, bias = start.requires_grad_(), torch.zeros(n_features, requires_grad=True)
    optimizer = torch.optim.AdamW([weights, bias] if train_bias else [weights], lr=lr)
    for _ in range(steps):
        values = torch.rand(batch_size, n_features, generator=generator)
        present = torch.rand(batch_size, n_features, generator=generator)
        features = values * ((present < sparsity) if flip else (present >= sparsity))
        rebuilt = features @ weights.T @ weights + bias
        rebuilt = torch.relu(rebuilt) if relu else rebuilt
        loss = ((importance if weighted else 1) * (rebuilt - features) ** 2).mean()
        if clear:
            optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return weights.detach(), bias.detach()


def test_train_toy_model(exercise_probe):
    from helpers.checks.superposition import check_train_toy_model

    assert check_train_toy_model(student_trainer) == 4

    def course(*args):  # the course's trainer, reached through its module
        import helpers.superposition

        return helpers.superposition.train_toy_model(*args, progress=False)

    wrong = [lambda *a: student_trainer(*a, clear=False),  # gradients pile up from step to step
             lambda *a: student_trainer(*a, train_bias=False),  # the bias never learns to filter interference
             lambda *a: student_trainer(*a, weighted=False),  # every feature equally important
             lambda *a: student_trainer(*a, zero_start=True),  # W = 0 never moves
             lambda *a: student_trainer(*a, relu=False),  # no ReLU on the read-out
             lambda *a: student_trainer(*a, flip=True),  # a feature present with probability `sparsity`
             lambda *a: student_trainer(*a[:3], 1, *a[4:]),  # the steps argument ignored: one step
             course]
    for answer in wrong:
        exercise_probe.rejected(check_train_toy_model, answer)
    exercise_probe.rejected(check_train_toy_model, lambda m, s, i, *rest: (torch.zeros(m, len(i)), torch.zeros(len(i))))
    exercise_probe.not_attempted(lambda: check_train_toy_model(...),
                                 lambda: check_train_toy_model(lambda *args: None))


# --- exercise 11: a dictionary's account of a layer ----------------------------------------------------------------
def student_account(vectors, dictionary, min_share=1e-3, *, around_mean=True, pooled=True, strict_share=True,
                    share=True, codes_above=True):
    """The account written as a student would, with switches for the usual slips."""
    codes = dictionary.encode(vectors)
    error = (vectors - dictionary.decode(codes)).square()
    spread = (vectors - vectors.mean(0)) if around_mean else vectors
    if pooled:
        explained = 1 - error.sum() / spread.square().sum()
    else:  # each unit's fraction, averaged over units
        explained = (1 - error.sum(0) / spread.square().sum(0)).mean()
    active = codes > 0 if codes_above else codes >= 0
    density = active.float().mean(0) if share else active.float().sum(0)
    dead = (density < min_share) if strict_share else (density <= min_share)
    return float(active.sum(1).float().mean()), float(explained), int(dead.sum())


def test_dictionary_account(trained, exercise_probe):
    from helpers.checks.superposition import check_dictionary_account, hand_built_dictionary
    from helpers.dictionary import dictionary_account

    dictionary, vectors = trained
    hand, eight = hand_built_dictionary()
    features_active, explained, dead = dictionary_account(eight, hand, 0.25)
    assert features_active == pytest.approx(7 / 8) and dead == 1  # worked by hand: codes on 5, 2 and 0 of 8 vectors
    assert dictionary_account(eight, hand, 0.2501)[2] == 2  # the second feature's density is exactly 0.25
    assert dictionary.explained_variance(vectors) == pytest.approx(dictionary_account(vectors, dictionary)[1])
    assert check_dictionary_account(student_account, dictionary, vectors) == 4

    def course(*args):  # the course's account, reached through its module
        import helpers.dictionary

        return helpers.dictionary.dictionary_account(*args)

    wrong = [lambda *a: student_account(*a, around_mean=False),  # the spread around 0, not around the mean
             lambda *a: student_account(*a, pooled=False),  # each unit's fraction averaged: small units count as much
             lambda *a: student_account(*a, strict_share=False),  # a feature on exactly min_share counted dead
             lambda *a: student_account(*a, share=False),  # a count of vectors compared with a share
             lambda *a: student_account(*a, codes_above=False),  # zero codes counted as active
             lambda v, d, s: (d.active_per_input(v), d.explained_variance(v), d.features - len(d.live_directions(v, s))),
             course]
    for answer in wrong:
        exercise_probe.rejected(check_dictionary_account, answer, dictionary, vectors)
    exercise_probe.rejected(check_dictionary_account, lambda v, d, s: (1.0, 0.5, 0), dictionary, vectors)
    exercise_probe.not_attempted(lambda: check_dictionary_account(..., dictionary, vectors),
                                 lambda: check_dictionary_account(lambda *a: None, dictionary, vectors))


# --- exercise 12: the largest interference of a kept feature --------------------------------------------------------
def student_interference(weights, threshold=0.5, *, directions=True, both_directions=False, off_diagonal=True,
                         kept_only=True, none_kept=0.0):
    """The largest interference written as a student would, with switches for the usual slips."""
    norms = weights.norm(dim=0)
    unit = weights / norms.clamp(min=1e-12)
    overlaps = (unit.T @ (unit if both_directions else weights)) if directions else weights.T @ weights
    squared = overlaps.square()
    per_feature = squared.sum(1) - (squared.diagonal() if off_diagonal else 0)
    kept = norms > threshold if kept_only else torch.ones_like(norms, dtype=torch.bool)
    return float(per_feature[kept].max()) if bool(kept.any()) else none_kept


def test_largest_interference(exercise_probe):
    from helpers.checks.superposition import check_largest_interference
    from helpers.checks.superposition.interference import columns
    from helpers.superposition import largest_interference

    assert largest_interference(columns([0, 90, 30], [1.0, 2.0, 1.5])) == pytest.approx(1.75)  # worked by hand
    assert largest_interference(columns([0, 90, 45], [1.0, 1.0, 0.4])) == pytest.approx(0.08)  # (0.4 cos 45°)²
    assert check_largest_interference(student_interference) == 3

    def course(weights, threshold):  # the course's function, reached through its module
        import helpers.superposition

        return helpers.superposition.largest_interference(weights, threshold)

    wrong = [lambda w, t: student_interference(w, t, directions=False),  # W_i · W_j: a long feature's length counts
             lambda w, t: student_interference(w, t, both_directions=True),  # cosines: the lengths of the W_j ignored
             lambda w, t: student_interference(w, t, off_diagonal=False),  # the feature's own length in the sum
             lambda w, t: student_interference(w, t, kept_only=False),  # dropped features' interference counted
             lambda w, t: student_interference(w, t, none_kept=float("nan")),  # nothing kept: NaN, not 0
             course]
    for answer in wrong:
        exercise_probe.rejected(check_largest_interference, answer)
    exercise_probe.rejected(check_largest_interference, lambda w, t: 0.0)
    exercise_probe.not_attempted(lambda: check_largest_interference(...),
                                 lambda: check_largest_interference(lambda *a: None))


# --- exercise 13: a toy model's kept features found by directions, against the principal axes -----------------------
def student_cosines(activations, directions, weights, threshold=0.5, *, centre=True, both_signs=True,
                    unit_directions=True, absolute=False, kept_only=True):
    """Each kept feature's best cosine with the directions and with the principal axes, written as a student would,
    with switches for the usual slips."""
    kept = weights.T[weights.norm(dim=0) > threshold] if kept_only else weights.T
    kept = kept / kept.norm(dim=1, keepdim=True).clamp(min=1e-12)
    found = directions / directions.norm(dim=1, keepdim=True) if unit_directions else directions
    cosines = kept @ found.T
    _, _, axes = torch.linalg.svd(activations - activations.mean(0) if centre else activations, full_matrices=False)
    axes = torch.cat([axes, -axes]) if both_signs else axes
    return (cosines.abs() if absolute else cosines).max(1).values, (kept @ axes.T).max(1).values


def test_kept_feature_cosines(exercise_probe):
    from helpers.checks.superposition import check_kept_feature_cosines
    from helpers.checks.superposition.interference import columns
    from helpers.superposition_studies import kept_feature_cosines

    pair = columns([0, 180, 90, 45], [1.0, 1.0, 1.5, 0.3])
    directions = torch.tensor([[2.0, 0.0], [0.0, -0.5], [1.2, 1.6]])
    activations = torch.tensor([[3.0, 0.0], [-3.0, 0.0], [0.0, 1.0], [0.0, -1.0]])  # principal axes: x, then y
    found, principal = kept_feature_cosines(activations, directions, pair, 0.5)  # worked by hand: 45° is dropped
    assert found.tolist() == pytest.approx([1.0, 0.0, 0.8]) and principal.tolist() == pytest.approx([1.0, 1.0, 1.0])
    assert check_kept_feature_cosines(student_cosines) == 3

    def course(activations, directions, weights, threshold):  # the course's function, reached through its module
        import helpers.superposition_studies

        return helpers.superposition_studies.kept_feature_cosines(activations, directions, weights, threshold)

    wrong = [lambda *a: student_cosines(*a, centre=False),  # the first axis points at the activations' mean
             lambda *a: student_cosines(*a, both_signs=False),  # an axis has no sign: a feature along -axis scores -1
             lambda *a: student_cosines(*a, unit_directions=False),  # a dot product with long directions, not a cosine
             lambda *a: student_cosines(*a, absolute=True),  # a direction pointing away from a feature counted as found
             lambda *a: student_cosines(*a, kept_only=False),  # the dropped features scored too
             course]
    for answer in wrong:
        exercise_probe.rejected(check_kept_feature_cosines, answer)
    exercise_probe.rejected(check_kept_feature_cosines, lambda *a: (torch.ones(3), torch.ones(3)))
    exercise_probe.not_attempted(lambda: check_kept_feature_cosines(...),
                                 lambda: check_kept_feature_cosines(lambda *a: None))
