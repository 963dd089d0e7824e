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
    assert check_linear_cka(cka) and check_linear_cka(linear_cka)
    assert check_correlation_matrix(correlations) and check_correlation_matrix(correlation_matrix)


@pytest.mark.parametrize("wrong", [
    uncentred_cka,                                          # forgets to centre
    lambda x, y: linear_cka(x, y, debiased=True),           # another estimator
    lambda x, y: float(torch.corrcoef(torch.stack([(x @ x.T).flatten(), (y @ y.T).flatten()]))[0, 1]),  # Gram correlation
    lambda x, y: 1.0,                                       # the invariance cases only
])
def test_wrong_cka_methods_lose_points(wrong) -> None:
    score = check_linear_cka(wrong)
    assert 0 <= score < check_linear_cka.points


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
