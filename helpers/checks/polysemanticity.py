"""Checks of lesson 06's exercises (polysemantic neurons): the student's facet score, effective number of facets,
k-means step, the diversity objective's Gram similarity, a unit's reading of a set of classes and the silhouette of
clustered examples, each called on
held-out inputs and compared with :mod:`helpers.polysemanticity`, :func:`helpers.featurevis.objectives.gram_diversity`
and :func:`helpers.class_votes.class_set_reading`."""
from __future__ import annotations

from typing import Callable

import torch

from .. import class_votes as votes_module
from .. import polysemanticity
from ..activations import capture
from ..featurevis import objectives
from ..featurevis.objectives import gram_diversity
from ..class_votes import class_set_reading, classifier_weights
from ..images import offline_patches
from ..layers import layer_at_depth
from ..models import CircuitModel
from ..dataset_examples import DatasetExamples
from ..polysemanticity import (
    FeatureMaps, effective_number, facet_diversity, kmeans, selective_units, silhouette, top_example_features,
)
from . import Grade, exercise, expect, expect_close
from .withheld import answer_without, compare_with_course

_FACET_HINT = ("Scale every row to length 1, take all dot products at once with a matrix product, and average "
               "1 - similarity over the pairs of DIFFERENT examples only (leave out the diagonal).")


def _clusters(sizes: tuple[int, ...], dim: int, scale: float, generator: torch.Generator) -> torch.Tensor:
    """Points in tight groups around random directions, each row rescaled by a random length (not unit length)."""
    centres = torch.randn(len(sizes), dim, generator=generator)
    points = torch.cat([centre + 0.05 * torch.randn(size, dim, generator=generator) for centre, size in zip(centres, sizes)])
    return points * (scale * torch.rand(len(points), 1, generator=generator) + 0.5)


@exercise(points=3)
def check_facet_score(facet_score: Callable, examples: DatasetExamples, features: FeatureMaps) -> Grade:
    """Exercise 1: the facet score of a set of examples (mean 1 - cosine similarity over pairs of different rows)."""
    generator = torch.Generator().manual_seed(2606)
    cases = {
        "one tight group of 6 examples, rows of different lengths": _clusters((6,), 24, 5.0, generator),
        "three groups of 4 (a polysemantic unit by construction)": _clusters((4, 4, 4), 24, 3.0, generator),
        "two examples only": torch.randn(2, 9, generator=generator),
        "random points, 11 examples of 40 numbers": torch.randn(11, 40, generator=generator),
    }
    # Units of the lesson's own layer that the notebook never scores one by one.
    selective = torch.nonzero(selective_units(examples)).flatten()
    pool = selective if len(selective) >= 2 else torch.arange(examples.channels)
    for number, channel in enumerate(pool[torch.randperm(len(pool), generator=generator)[:2]].tolist(), 1):
        cases[f"the top examples of another unit of {examples.layer} ({number})"] = top_example_features(
            examples, features, channel)
    return compare_with_course({name: [(points,)] for name, points in cases.items()}, facet_score, facet_diversity,
                               {polysemanticity: ("facet_diversity",)}, "your facet score", rtol=1e-3, atol=1e-4,
                               hint=_FACET_HINT)


@exercise(points=2)
def check_effective_number(effective_facets: Callable) -> Grade:
    """Exercise 2: the effective number of facets of a unit's clustered examples (exp of the entropy of group shares)."""
    generator = torch.Generator().manual_seed(606)
    cases = {  # a single group shares its part with an ordinary case, so that a constant 1 earns nothing
        "three equal groups": [torch.tensor([0, 1, 2] * 4)],
        "one big group and two stragglers": [torch.tensor([0] * 10 + [1, 2])],
        "labels that do not start at 0 and skip numbers": [torch.tensor([7, 7, 9, 9, 9, 3])],
        "a single group, and 40 random labels of 5 groups": [torch.full((8,), 4),
                                                             torch.randint(5, (40,), generator=generator)],
    }
    return compare_with_course(
        {name: [(labels,) for labels in label_sets] for name, label_sets in cases.items()}, effective_facets,
        effective_number, {polysemanticity: ("effective_number",)}, "your effective number", rtol=1e-3, atol=1e-5,
        hint="Turn the labels into the share of examples in each group, compute the entropy -sum(p log p) with the "
             "natural logarithm, and take exp of it.")


def _lloyd_cases(examples: DatasetExamples, features: FeatureMaps) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """Held-out (points, centroids): groups, an empty cluster, exact ties, and another unit's top examples."""
    generator = torch.Generator().manual_seed(6060)
    centres = 3 * torch.randn(3, 5, generator=generator)
    groups = torch.cat([centre + 0.4 * torch.randn(10, 5, generator=generator) for centre in centres])
    starts = centres + torch.randn(3, 5, generator=generator)
    halfway = torch.tensor([[0.0, 0.0], [0.0, 0.0], [0.5, 0.0], [-2.0, 0.0], [0.0, 4.0], [0.0, 2.5]])
    cases = {
        "three groups of 10 in 5 dimensions, centroids started off-centre": (groups, starts),
        "a fourth centroid that no point is nearest to": (groups, torch.cat([starts, torch.full((1, 5), 50.0)])),
        "points exactly halfway between two centroids": (halfway, torch.tensor([[-1.0, 0.0], [1.0, 0.0], [0.0, 5.0]])),
    }
    selective = torch.nonzero(selective_units(examples)).flatten()
    pool = selective if len(selective) else torch.arange(examples.channels)
    channel = int(pool[torch.randint(len(pool), (1,), generator=generator)])
    points = top_example_features(examples, features, channel)
    starts = points[[0, len(points) // 2, len(points) - 1]].clone()
    cases[f"the top examples of another unit of {examples.layer}, 3 of them as centroids"] = (points, starts)
    return cases


@exercise(points=3)
def check_lloyd_step(my_lloyd_step: Callable, examples: DatasetExamples, features: FeatureMaps) -> Grade:
    """Exercise 3: one step of k-means (assign each point to its nearest centroid, move each centroid to its points' mean)."""
    grade = Grade()
    for name, (points, centroids) in _lloyd_cases(examples, features).items():
        with grade.part(name):
            labels, updated = polysemanticity.lloyd_step(points, centroids)
            answer = answer_without({polysemanticity: ("lloyd_step", "kmeans")}, my_lloyd_step, points, centroids)
            expect(isinstance(answer, tuple) and len(answer) == 2,
                   f"Your function should return two things, (labels, centroids); it returned {type(answer).__name__}.")
            got_labels = torch.as_tensor(answer[0]).flatten()
            expect(got_labels.shape == labels.shape and bool((got_labels.long() == labels).all()),
                   "Some points are assigned to the wrong centroid.",
                   "Label each point with the index of its nearest centroid (Euclidean distance); on an exact tie "
                   "the lower index, as argmin gives.")
            expect_close(answer[1], updated, "your new centroids", rtol=1e-4, atol=1e-5,
                         hint="Each centroid moves to the mean of the points labelled with it; a centroid with no "
                              "points keeps its place (a mean of nothing is NaN).")
    return grade


def _diversity_cases(model: CircuitModel) -> dict[str, list[torch.Tensor]]:
    """Held-out activations (n, C, h, w), two per part with different answers, so that no constant earns a part."""
    generator = torch.Generator().manual_seed(6006)
    pattern = torch.randn(1, 5, 6, 6, generator=generator)
    offsets = torch.tensor([40.0, -25.0, 10.0, 0.0, 60.0])[None, :, None, None]
    shifted = torch.randn(3, 5, 6, 6, generator=generator) + offsets  # large channel means: centring matters
    layer = layer_at_depth(model, 0.5)
    photos = torch.cat(list(offline_patches(count=3, size=model.input_size, seed=66)))
    with torch.inference_mode():
        real = capture(model, photos.to(model.device), layer)[layer].detach().cpu().clone()
    return {
        "three identical images, and three images whose channels have large means": [pattern.repeat(3, 1, 1, 1),
                                                                                      shifted],
        "five random images of 6 channels, and a single image": [torch.randn(5, 6, 7, 7, generator=generator),
                                                                 torch.randn(1, 4, 3, 3, generator=generator)],
        f"{model.name}'s {layer} on three photographs, and two random images": [
            real, torch.rand(2, 8, 5, 5, generator=generator)],
    }


@exercise(points=3)
def check_gram_diversity(my_gram_diversity: Callable, model: CircuitModel) -> Grade:
    """Exercise 5: my_gram_diversity(activations): per image, minus the mean cosine similarity of its centred Gram
    matrix to the other images' (the diversity objective's value)."""
    hint = ("Flatten each channel's map, subtract each channel's mean over positions, form each image's C x C Gram "
            "matrix, flatten and scale every Gram matrix to length 1, take all dot products at once, and average each "
            "row over the OTHER images (n - 1 of them); one image alone scores 0. Use torch operations throughout: the "
            "value is an objective that gradients flow through.")
    hidden = {objectives: ("gram_diversity",)}
    parts = {name: [(activations,) for activations in batches] for name, batches in _diversity_cases(model).items()}
    grade = compare_with_course(parts, my_gram_diversity, gram_diversity, hidden, "your diversity values",
                                rtol=1e-4, atol=1e-5, hint=hint)
    with grade.part("the gradient the optimizer gets from your value"):
        activations = torch.randn(4, 6, 5, 5, generator=torch.Generator().manual_seed(6007), requires_grad=True)
        answer = answer_without(hidden, my_gram_diversity, activations)
        expect(isinstance(answer, torch.Tensor) and answer.requires_grad,
               "Your value is not a tensor that gradients flow through: the optimizer could not use it.", hint)
        mine = torch.autograd.grad(answer.sum(), activations)[0]
        reference = torch.autograd.grad(gram_diversity(activations).sum(), activations)[0]
        expect_close(mine, reference, "the gradient of your values", rtol=1e-3, atol=1e-5, hint=hint)
    return grade


def _vote_cases(model: CircuitModel) -> dict[str, list[tuple[torch.Tensor, list[int], int]]]:
    """Held-out (votes, classes, count) triples, two per part with different answers: hand-built votes of 12 classes
    (no two classes tied within a unit, so every top set is unambiguous), random votes of other sizes, the active
    model's classifier."""
    generator = torch.Generator().manual_seed(907)
    hand = torch.zeros(12, 4)
    hand[:, 0] = torch.arange(12.0)  # a ramp: the top classes are the last ones
    hand[:, 1] = torch.tensor([5.0, 4.0, 0, 0, 0, 0, 0, 0, 0, 0, 3.0, 0]) + 0.01 * torch.arange(12.0)  # three strong
    hand[:, 2] = -(torch.arange(12.0) - 5.5) ** 2  # a peak in the middle classes
    hand[:, 3] = torch.randn(12, generator=generator)
    skewed = torch.randn(40, 9, generator=generator) * torch.linspace(0.5, 3.0, 9) + torch.linspace(-1.0, 1.0, 9)
    weights = classifier_weights(model)
    classes = weights.shape[0]
    ten = min(10, classes // 2)  # ten classes, or fewer on a model with few classes
    return {
        "hand-built votes of 12 classes: a ramp, three strong classes, a peak in the middle": [
            (hand, [0, 1, 10], 3), (hand, [9, 10, 11, 5], 4)],
        "random votes of 40 classes by 9 units of different spreads, and of 25 by 30 units": [
            (skewed, [2, 3, 5, 7, 11, 13], 5), (torch.randn(25, 30, generator=generator), [0, 24], 10)],
        f"{model.name}'s classifier weights, read for its first and its last {ten} classes": [
            (weights, list(range(ten)), ten), (weights, list(range(classes - ten, classes)), ten)],
    }


@exercise(points=3)
def check_class_set_reading(my_class_set_reading: Callable, model: CircuitModel) -> Grade:
    """Exercise 6: my_class_set_reading(votes, classes, count): each unit's standardized vote for a set of classes
    and the set's share among its top-voted classes, (2, units)."""
    return compare_with_course(
        _vote_cases(model), my_class_set_reading, class_set_reading,
        {votes_module: ("class_set_reading", "class_set_circuit")}, "your (2, units) reading", rtol=1e-4, atol=1e-5,
        hint="Row 0: standardize each unit's column over the classes (minus votes.mean(0), over votes.std(0)) "
             "and average the rows of the set. Row 1: the share of the set among each unit's `count` "
             "top-voted classes (votes.topk(count, dim=0)). Stack the two rows.")


def _silhouette_cases(examples: DatasetExamples, features: FeatureMaps) -> dict[str, list[tuple[torch.Tensor, torch.Tensor]]]:
    """Held-out (points, labels), two per part with different answers: separated groups of unequal sizes, a cluster of
    one point and labels that are not 0, 1, 2, groupings that are not real, and k-means groups of another unit's top
    examples."""
    generator = torch.Generator().manual_seed(6071)
    sizes = (3, 5, 8)
    apart = torch.cat([4 * centre + torch.randn(size, 6, generator=generator)
                       for centre, size in zip(torch.eye(6)[:3], sizes)])
    touching = torch.cat([torch.randn(6, 4, generator=generator), torch.randn(7, 4, generator=generator) + 1.5])
    by_size = torch.cat([torch.full((size,), group) for group, size in enumerate(sizes)])
    single = torch.cat([torch.randn(4, 3, generator=generator), torch.tensor([[6.0, 0.0, 0.0]]),
                        torch.randn(5, 3, generator=generator) + torch.tensor([0.0, 5.0, 0.0])])
    cloud = torch.randn(14, 5, generator=generator)
    selective = torch.nonzero(selective_units(examples)).flatten()
    pool = selective if len(selective) >= 2 else torch.arange(examples.channels)
    channels = pool[torch.randperm(len(pool), generator=generator)[:2]].tolist()
    real = []
    for channel, clusters in zip(channels, (3, 2)):
        points = top_example_features(examples, features, channel)
        labels = kmeans(points, min(clusters, len(points) - 1), generator=generator).labels
        if len(labels.unique()) < 2:  # identical examples (a dead unit of random weights): halves instead
            labels = torch.arange(len(points)) % 2
        real.append((points, labels))
    return {
        "three separated groups of 3, 5 and 8 points, and two groups that touch": [
            (apart, by_size), (touching, torch.tensor([0] * 6 + [1] * 7))],
        "a cluster of a single point, and labels 7, 3 and 12 instead of 0, 1, 2": [
            (single, torch.tensor([0] * 4 + [1] + [2] * 5)), (apart, torch.tensor([7, 3, 12])[by_size])],
        "one round cloud cut in two by a plane, and points labelled at random": [
            (cloud, (cloud[:, 0] > 0).long()), (cloud, torch.randint(3, (14,), generator=generator))],
        f"k-means groups of the top examples of two other units of {examples.layer}": real,
    }


@exercise(points=4)
def check_silhouette(my_silhouette: Callable, examples: DatasetExamples, features: FeatureMaps) -> Grade:
    """Exercise 7: my_silhouette(points, labels): the mean silhouette of a grouping of points (Euclidean distances; a
    point alone in its cluster scores 0)."""
    return compare_with_course(
        {name: list(cases) for name, cases in _silhouette_cases(examples, features).items()}, my_silhouette, silhouette,
        {polysemanticity: ("silhouette", "count_facets", "unit_facets")}, "your silhouette", rtol=1e-3, atol=1e-4,
        hint="For each point: a = its mean distance to the OTHER points of its own cluster (leave itself out), b = its "
             "mean distance to the points of the nearest OTHER cluster (the smallest such mean), and (b - a) / max(a, b). "
             "A point alone in its cluster scores 0. Return the mean over all points.")


def _ranking_cases(examples: DatasetExamples, features: FeatureMaps) -> dict[str, list[tuple]]:
    """Held-out (points, top_values, mean, std, count, min_selectivity): a hand-built layer whose most diverse unit is
    not selective and one of whose units is selective only by its best example, fewer selective units than asked for
    (one of them with activations that never vary), random layers of other sizes and bars, and the lesson's layer."""
    generator = torch.Generator().manual_seed(6088)

    def layer(channels: int, count: int, d: int) -> torch.Tensor:  # each unit's examples spread by its own amount
        spread = torch.rand(channels, 1, 1, generator=generator) * 2
        return torch.randn(channels, 1, d, generator=generator) + spread * torch.randn(channels, count, d, generator=generator)

    hand = layer(6, 5, 8)
    hand[2] = torch.randn(5, 8, generator=generator) * 5  # the most diverse unit, made not selective below
    values = torch.linspace(6.0, 3.0, 5).repeat(6, 1)
    values[2] = torch.linspace(2.5, 1.0, 5)
    values[4] = torch.linspace(5.0, 1.5, 5)  # selective by its best example only
    zeros, ones = torch.zeros(6), torch.ones(6)
    flat_values = values.clone()
    flat_values[[0, 1, 3]] = 1.0  # three units not selective, ...
    flat_values[5] = 0.5  # ... and one whose activations never vary (std 0) but sit above its mean at its top examples
    std = ones.clone()
    std[5] = 0.0
    big = layer(20, 7, 16)
    big_values = (torch.rand(20, 7, generator=generator) * 4).sort(dim=1, descending=True).values
    small = layer(9, 3, 5)
    small_values = (torch.rand(9, 3, generator=generator) * 6).sort(dim=1, descending=True).values
    points = torch.stack([top_example_features(examples, features, c) for c in range(examples.channels)])
    real = (points, examples.top_value[:, :points.shape[1]], examples.mean, examples.std)
    return {
        "a hand-built layer of 6 units: the most diverse one not selective, one selective by its best example only": [
            (hand, values, zeros, ones, 3, 2.0), (hand, values, zeros, ones, 2, 2.0)],
        "fewer selective units than asked for, one of them with activations that never vary": [
            (hand, flat_values, zeros, std, 5, 2.0)],
        "random layers of 20 and 9 units, bars of 1 and 3 standard deviations": [
            (big, big_values, torch.rand(20, generator=generator), torch.rand(20, generator=generator) + 0.5, 6, 1.0),
            (small, small_values, torch.rand(9, generator=generator), torch.rand(9, generator=generator) + 0.2, 4, 3.0)],
        f"the top examples of every unit of {examples.layer}, 8 units at bars of 2 and 1 standard deviations": [
            real + (8, 2.0), real + (8, 1.0)],
    }


@exercise(points=4)
def check_facet_ranking(my_facet_ranking: Callable, examples: DatasetExamples, features: FeatureMaps) -> Grade:
    """Exercise 8: my_facet_ranking(points, top_values, mean, std, count, min_selectivity): the (n, 2) rows (channel,
    facet score) of the most polysemantic selective units of a layer, most polysemantic first."""
    return compare_with_course(
        _ranking_cases(examples, features), my_facet_ranking, polysemanticity.facet_ranking,
        {polysemanticity: ("facet_ranking", "rank_polysemantic", "layer_facets")}, "your ranking (channel, score rows)",
        rtol=1e-4, atol=1e-4,
        hint="Score every unit (the facet score of its k rows), keep only the units whose LAST (k-th) top value lies "
             "min_selectivity standard deviations above their mean, sort the kept units by score, highest first, and "
             "return at most count rows of (channel, score): fewer when fewer units are selective.")
