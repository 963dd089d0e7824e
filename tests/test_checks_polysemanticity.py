"""Lesson 06's exercise checks (helpers.checks.polysemanticity): the course's method earns full marks,
neighbouring or simplified methods and typed-in numbers lose points, the course's own helpers with another
signature fail, and the placeholder reports "not attempted" without stopping the lesson."""
from __future__ import annotations

import math

import pytest
import torch

from helpers.checks.polysemanticity import check_effective_number, check_facet_score
from helpers.dataset_examples import DatasetExamples, FieldGeometry
from helpers.polysemanticity import FeatureMaps, facet_scores, unit_facets


@pytest.fixture
def facets():
    """12 images with 8-number feature vectors; two units with different top examples."""
    generator = torch.Generator().manual_seed(0)
    maps = torch.randn(12, 8, 1, 1, generator=generator)
    features = FeatureMaps("penultimate", maps, maps.mean(dim=(0, 2, 3)))
    top_index = torch.tensor([[0, 1, 2, 3, 4, 5], [6, 7, 8, 9, 10, 11]])
    examples = DatasetExamples(
        model_name="synthetic", layer="layer", source_key="synthetic", settings={}, num_images=12, map_size=(1, 1),
        image_size=8, geometry=FieldGeometry(8, 8, 0.0, 0.0, 4.0), top_value=torch.full((2, 6), 5.0), top_index=top_index,
        top_position=torch.zeros(2, 6, 2, dtype=torch.long), band_value=torch.zeros(2, 0),
        band_index=torch.zeros(2, 0, dtype=torch.long), band_position=torch.zeros(2, 0, 2, dtype=torch.long),
        band_limits=torch.zeros(2, 2), hist_counts=torch.zeros(2, 2, dtype=torch.long),
        hist_low=torch.zeros(2, dtype=torch.float64), hist_width=torch.ones(2, dtype=torch.float64),
        mean=torch.zeros(2), std=torch.ones(2), firing_fraction=torch.ones(2),
    )
    return examples, features


def facet_score(points: torch.Tensor) -> torch.Tensor:
    """The course's method, written as a student would."""
    unit = torch.nn.functional.normalize(points, dim=1)
    similarity = unit @ unit.T
    k = len(points)
    return 1 - (similarity.sum() - similarity.trace()) / (k * (k - 1))


def test_facet_score(facets, exercise_probe):
    examples, features = facets
    assert check_facet_score(facet_score, examples, features)
    assert check_facet_score(lambda p: float(facet_score(p)), examples, features)

    def with_diagonal(points):
        unit = torch.nn.functional.normalize(points, dim=1)
        return 1 - (unit @ unit.T).mean()

    def not_normalized(points):
        similarity = points @ points.T
        k = len(points)
        return 1 - (similarity.sum() - similarity.trace()) / (k * (k - 1))

    def distance(points):
        return torch.pdist(torch.nn.functional.normalize(points, dim=1)).mean()

    wrong = [with_diagonal, not_normalized, distance, lambda p: 0.5, lambda p: 1.0, lambda p: 0.0,
             lambda p: float(facet_score(p)) + 0.01, facet_scores, unit_facets, 0.7]
    for answer in wrong:
        score = check_facet_score.__wrapped__(answer, examples, features) if callable(answer) else None
        exercise_probe.rejected(check_facet_score, answer, examples, features)
        if score is not None:
            assert score.fraction < 1
    exercise_probe.not_attempted(lambda: check_facet_score(..., examples, features),
                                 lambda: check_facet_score(lambda p: None, examples, features))


def effective(labels: torch.Tensor) -> float:
    shares = torch.unique(labels, return_counts=True)[1].float() / len(labels)
    return math.exp(float(-(shares * shares.log()).sum()))


def test_effective_number(exercise_probe):
    assert check_effective_number(effective)

    def distinct(labels):
        return float(len(torch.unique(labels)))

    def exp_of_bits(labels):  # entropy in bits, then exp: mixes two bases
        shares = torch.unique(labels, return_counts=True)[1].float() / len(labels)
        return math.exp(float(-(shares * shares.log2()).sum()))

    def inverse_simpson(labels):
        shares = torch.unique(labels, return_counts=True)[1].float() / len(labels)
        return float(1 / shares.square().sum())

    def bincount_from_zero(labels):  # empty groups counted as 0 * log 0 -> NaN
        shares = torch.bincount(labels).float() / len(labels)
        return math.exp(float(-(shares * shares.log()).sum()))

    for answer in [distinct, exp_of_bits, inverse_simpson, bincount_from_zero, lambda labels: 3.0, 3.0]:
        exercise_probe.rejected(check_effective_number, answer)
    exercise_probe.not_attempted(lambda: check_effective_number(...))
