"""helpers.stats: correlation, standardizing, kurtosis and circular statistics, each checked against a known answer."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from helpers.stats import (
    average_ranks, circular_concentration, circular_mean, correlation_columns, kurtosis, pearson, rank_correlation,
    standardize_columns,
)


def test_pearson_matches_numpy_and_is_zero_for_a_constant():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=50), rng.normal(size=50)
    assert pearson(a, b) == pytest.approx(np.corrcoef(a, b)[0, 1], abs=1e-12)
    assert pearson(torch.tensor(a), torch.tensor(2 * a + 1)) == pytest.approx(1.0)
    assert pearson([1, 1, 1], [1, 2, 3]) == 0.0
    with pytest.raises(ValueError, match="same length"):
        pearson([1, 2], [1, 2, 3])


def test_correlation_columns_matches_numpy_and_zeroes_constant_columns():
    generator = torch.Generator().manual_seed(0)
    a, b = torch.randn(40, 3, generator=generator, dtype=torch.float64), torch.randn(40, 2, generator=generator, dtype=torch.float64)
    a[:, 2] = 5.0
    expected = np.corrcoef(a[:, :2].numpy().T, b.numpy().T)[:2, 2:]
    found = correlation_columns(a, b)
    assert np.allclose(found[:2].numpy(), expected) and torch.equal(found[2], torch.zeros(2, dtype=torch.float64))
    standard = standardize_columns(a)
    assert torch.allclose(standard[:, :2].norm(dim=0), torch.ones(2, dtype=torch.float64))
    assert torch.allclose(standard.mean(0), torch.zeros(3, dtype=torch.float64), atol=1e-12)


def test_circular_mean_wraps_around_and_concentration_reads_the_spread():
    wrapped = circular_mean([350.0, 10.0], np.array([[1.0], [1.0]]))[0]
    assert min(wrapped, 360.0 - wrapped) == pytest.approx(0.0, abs=1e-9)  # 0, not the arithmetic mean 180
    assert circular_mean([0.0, 90.0], np.array([[1.0], [1.0]]))[0] == pytest.approx(45.0)
    weights = np.array([[1.0, 1.0, 0.0], [0.0, 1.0, 0.0]])  # columns: one angle, two opposite angles, nothing
    assert np.allclose(circular_concentration([0.0, 180.0], weights), [1.0, 0.0, 0.0])


def test_average_ranks_share_ties_like_scipy():
    scipy_stats = pytest.importorskip("scipy.stats")
    x = torch.tensor([[3.0, 1.0], [1.0, 1.0], [3.0, 1.0], [2.0, 1.0], [0.5, 1.0]])
    expected = scipy_stats.rankdata(x.numpy(), axis=0) - 1  # scipy counts from 1
    assert np.allclose(average_ranks(x).numpy(), expected)
    assert average_ranks(x)[:, 1].tolist() == [2.0] * 5  # a constant column: one shared rank


def test_rank_correlation_is_spearman_per_column_and_zero_for_a_constant():
    scipy_stats = pytest.importorskip("scipy.stats")
    generator = torch.Generator().manual_seed(3)
    a = torch.randn(40, 3, generator=generator)
    b = torch.stack([torch.exp(a[:, 0]), torch.randint(0, 3, (40,), generator=generator).float(), -a[:, 2] ** 3], 1)
    got = rank_correlation(a, b)
    expected = [scipy_stats.spearmanr(a[:, j].numpy(), b[:, j].numpy())[0] for j in range(3)]
    assert np.allclose(got.numpy(), expected)
    assert got[0] == pytest.approx(1.0) and got[2] == pytest.approx(-1.0)
    assert rank_correlation(a, torch.ones(40, 3)).tolist() == [0.0, 0.0, 0.0]
    with pytest.raises(ValueError, match="same shape"):
        rank_correlation(a, b[:, :2])


def test_kurtosis_is_the_fourth_standardized_moment_and_zero_for_a_constant():
    import scipy.stats

    values = torch.randn(500, 3, generator=torch.Generator().manual_seed(4), dtype=torch.float64)
    values[:, 1] = values[:, 1].exp()  # heavy tailed
    values[:, 2] = 2.0
    expected = scipy.stats.kurtosis(values[:, :2].numpy(), axis=0, fisher=False)
    assert torch.allclose(kurtosis(values)[:2], torch.tensor(expected))
    assert float(kurtosis(values)[2]) == 0.0
