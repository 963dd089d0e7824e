"""helpers.stats: correlation, standardizing and circular statistics, each checked against a known answer."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from helpers.stats import circular_concentration, circular_mean, correlation_columns, pearson, standardize_columns


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
