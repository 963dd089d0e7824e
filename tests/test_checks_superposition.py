"""Lesson 06's exercise checks (helpers.checks.superposition): the right answer passes, plausible wrong
answers (typed-in constants, neighbouring answers, another unit's answer, the usual slips) all fail,
and the placeholder ``...`` reports "not attempted" without stopping the lesson."""
from __future__ import annotations

import math

import pytest
import torch

from helpers.checks.superposition import (
    check_explained_variance, check_facet_score, check_first_superposition, check_largest_gap, check_square_of_pairs,
)
from helpers.dataset_examples import DatasetExamples, FieldGeometry
from helpers.dictionary import SparseDictionary
from helpers.polysemanticity import FeatureMaps, facet_diversity, top_example_features
from helpers.superposition import ToyModelSweep
from helpers.tuning import largest_gap


pytestmark = pytest.mark.usefixtures("strict")  # as when grading: a wrong answer raises






def polygon(count: int, start: float = 0.0) -> torch.Tensor:
    angles = torch.tensor([start + 2 * math.pi * i / count for i in range(count)])
    return torch.stack([angles.cos(), angles.sin()])


# --- exercise 1: the square of antipodal pairs ---------------------------------------------------
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


# --- exercise 2: the first sparsity with superposition --------------------------------------------
def sweep_keeping(kept: list[int], sparsities: list[float]) -> ToyModelSweep:
    """Toy models in 2 dimensions whose i-th copy represents kept[i] of 5 features."""
    weights = torch.zeros(len(kept), 2, 5)
    for copy, count in enumerate(kept):
        weights[copy, :, :count] = polygon(count) if count > 2 else torch.eye(2)[:, :count]
    return ToyModelSweep(weights, torch.zeros(len(kept), 5), torch.tensor(sparsities), torch.ones(5), torch.zeros(len(kept)))


def test_first_superposition(exercise_probe):
    sparsities = [0.0, 0.3, 0.5, 0.7, 0.9]
    sweep = sweep_keeping([2, 2, 2, 4, 5], sparsities)
    assert check_first_superposition(sweep, 0.7)
    assert check_first_superposition(sweep, sweep.sparsities[3])  # a tensor straight from the sweep
    for answer in [0.0, 0.3, 0.5, 0.9, 0.75, 0.95, 1.0, 3, 4, "0.7", [0.7], True]:
        exercise_probe.rejected(check_first_superposition, sweep, answer)
    # Another sweep's answer is wrong here, and this one's is wrong there.
    other = sweep_keeping([2, 2, 3, 4, 5], sparsities)
    assert check_first_superposition(other, 0.5)
    exercise_probe.rejected(check_first_superposition, other, 0.7)
    exercise_probe.not_attempted(lambda: check_first_superposition(sweep, ...))


# --- exercise 3: a facet score by hand ------------------------------------------------------------
@pytest.fixture
def facets():
    """12 images with 8-number feature vectors; units 0 and 1 have different top examples."""
    generator = torch.Generator().manual_seed(0)
    maps = torch.randn(12, 8, 1, 1, generator=generator)
    features = FeatureMaps("penultimate", maps, maps.mean(dim=(0, 2, 3)))
    top_index = torch.tensor([[0, 1, 2, 3, 4, 5], [6, 7, 8, 9, 10, 11]])
    examples = DatasetExamples(
        model_name="synthetic", layer="layer", source_key="synthetic", settings={}, num_images=12, map_size=(1, 1),
        image_size=8, geometry=FieldGeometry(8, 8, 0.0, 0.0, 4.0), top_value=torch.ones(2, 6), top_index=top_index,
        top_position=torch.zeros(2, 6, 2, dtype=torch.long), band_value=torch.zeros(2, 0),
        band_index=torch.zeros(2, 0, dtype=torch.long), band_position=torch.zeros(2, 0, 2, dtype=torch.long),
        band_limits=torch.zeros(2, 2), hist_counts=torch.zeros(2, 2, dtype=torch.long),
        hist_low=torch.zeros(2, dtype=torch.float64), hist_width=torch.ones(2, dtype=torch.float64),
        mean=torch.zeros(2), std=torch.ones(2), firing_fraction=torch.ones(2),
    )
    return examples, features


def test_facet_score(facets, exercise_probe):
    examples, features = facets
    k = 6
    points = top_example_features(examples, features, 0, k)
    similarity = points @ points.T
    right = float(1 - (similarity.sum() - similarity.trace()) / (k * (k - 1)))
    assert check_facet_score(examples, features, 0, k, right)
    assert check_facet_score(examples, features, 0, k, torch.tensor(right))
    with_diagonal = float(1 - similarity.sum() / k ** 2)
    similarity_only = float((similarity.sum() - similarity.trace()) / (k * (k - 1)))
    other_unit = facet_diversity(top_example_features(examples, features, 1, k))
    fewer = facet_diversity(top_example_features(examples, features, 0, k - 1))
    raw = examples.top_index[0]  # uncentred features
    uncentred = facet_diversity(features.maps[raw, :, 0, 0])
    for answer in [with_diagonal, similarity_only, other_unit, fewer, uncentred, 0.0, 0.5, 1.0, "0.9", [right]]:
        exercise_probe.rejected(check_facet_score, examples, features, 0, k, answer)
    exercise_probe.not_attempted(lambda: check_facet_score(examples, features, 0, k, ...))


# --- exercise 4: the variance a dictionary keeps --------------------------------------------------
def test_explained_variance(exercise_probe):
    eye = torch.eye(3)
    dictionary = SparseDictionary(eye, torch.zeros(3), eye, torch.zeros(3), scale=1.0, l1=0.0)
    vectors = torch.tensor([[1.0, 0.0, 2.0], [-1.0, 3.0, 0.0], [2.0, 1.0, -1.0], [0.5, 0.5, 0.5]])
    rebuilt = dictionary.decode(dictionary.encode(vectors))
    error = (vectors - rebuilt).square().sum()
    right = float(1 - error / (vectors - vectors.mean(0)).square().sum())
    assert check_explained_variance(dictionary, vectors, right)
    from_zero = float(1 - error / vectors.square().sum())
    ratio = float(error / (vectors - vectors.mean(0)).square().sum())
    active = dictionary.active_per_input(vectors)
    for answer in [from_zero, ratio, active, 1.0, 0.0, 0.5, right * 100, "0.6"]:
        exercise_probe.rejected(check_explained_variance, dictionary, vectors, answer)
    exercise_probe.not_attempted(lambda: check_explained_variance(dictionary, vectors, ...))


# --- exercise 5: the largest gap of neurons and features together ---------------------------------
def test_largest_gap(exercise_probe):
    neurons = [10.0, 40.0, 100.0, 200.0]  # largest gap 170 (from 200 round to 10)
    features = [250.0, 300.0]
    right = largest_gap(neurons + features)  # 100: from 100 to 200
    assert right == pytest.approx(100.0)
    assert check_largest_gap(neurons, features, right)
    assert check_largest_gap(neurons, features, 100)
    no_wrap = max(b - a for a, b in zip(sorted(neurons + features), sorted(neurons + features)[1:]))
    wrong = [largest_gap(neurons), largest_gap(features), 70.0, 60.0, 90.0, 360.0, 0.0, -100.0, 460.0, "100", [100.0]]
    assert no_wrap == pytest.approx(100.0)  # here the wrap-around arc is short; see the next case
    for answer in wrong:
        exercise_probe.rejected(check_largest_gap, neurons, features, answer)
    # A case where forgetting the wrap-around gives the wrong answer.
    neurons, features = [90.0, 120.0], [150.0, 200.0]
    right = largest_gap(neurons + features)  # 250: from 200 round to 90
    assert check_largest_gap(neurons, features, right)
    exercise_probe.rejected(check_largest_gap, neurons, features, 50.0)  # the largest gap without the wrap-around arc
    exercise_probe.not_attempted(lambda: check_largest_gap(neurons, features, ...))
