"""Lesson 06's exercise checks (helpers.checks.polysemanticity): the course's method earns full marks,
neighbouring or simplified methods and typed-in numbers lose points, the course's own helpers with another
signature fail, and the placeholder reports "not attempted" without stopping the lesson."""
from __future__ import annotations

import math

import pytest
import torch

from helpers.checks.polysemanticity import check_effective_number, check_facet_score, check_lloyd_step
from helpers.dataset_examples import DatasetExamples, FieldGeometry
from helpers.polysemanticity import FeatureMaps, facet_scores, kmeans, unit_facets


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
    assert check_effective_number.__wrapped__(lambda labels: 1.0).fraction == 0  # a single group shares its part
    exercise_probe.not_attempted(lambda: check_effective_number(...))


def student_lloyd_step(points: torch.Tensor, centroids: torch.Tensor):
    """The course's step, written as a student would (squared distances by broadcasting, a loop over clusters)."""
    labels = ((points[:, None, :] - centroids[None]) ** 2).sum(-1).argmin(1)
    updated = centroids.clone()
    for j in range(len(centroids)):
        if (labels == j).any():
            updated[j] = points[labels == j].mean(0)
    return labels, updated


def test_lloyd_step(facets, exercise_probe):
    examples, features = facets
    assert check_lloyd_step(student_lloyd_step, examples, features)

    def empty_is_nan(points, centroids):
        labels = torch.cdist(points, centroids).argmin(1)
        return labels, torch.stack([points[labels == j].mean(0) for j in range(len(centroids))])

    def old_labels_after_update(points, centroids):  # labels measured against the moved centroids
        updated = student_lloyd_step(points, centroids)[1]
        return torch.cdist(points, updated).argmin(1), updated

    def higher_index_on_ties(points, centroids):
        labels = len(centroids) - 1 - torch.cdist(points, centroids).flip(1).argmin(1)
        return labels, torch.stack([points[labels == j].mean(0) if (labels == j).any() else centroids[j]
                                    for j in range(len(centroids))])

    def through_the_course(points, centroids):  # looked up in the module, as the lesson (which never imports it) must
        import helpers.polysemanticity

        return helpers.polysemanticity.lloyd_step(points, centroids)

    def whole_kmeans(points, centroids):
        clustering = kmeans(points, len(centroids), generator=torch.Generator().manual_seed(0))
        return clustering.labels, clustering.centroids

    for answer in (empty_is_nan, old_labels_after_update, higher_index_on_ties, through_the_course, whole_kmeans,
                   lambda p, c: (torch.zeros(len(p), dtype=torch.long), c)):
        exercise_probe.rejected(check_lloyd_step, answer, examples, features)
        assert check_lloyd_step.__wrapped__(answer, examples, features).fraction < 1
    assert check_lloyd_step.__wrapped__(empty_is_nan, examples, features).fraction > 0  # right where no cluster is empty
    exercise_probe.not_attempted(lambda: check_lloyd_step(..., examples, features),
                                 lambda: check_lloyd_step(lambda p, c: None, examples, features))


def student_gram_diversity(activations, *, centred=True, cosine=True, self_included=False):
    """The diversity objective's value as a student writes it; the keywords make its near misses."""
    count = activations.shape[0]
    if count < 2:
        return activations.new_zeros(count)
    flat = activations.flatten(2)
    if centred:
        flat = flat - flat.mean(dim=2, keepdim=True)
    gram = (flat @ flat.transpose(1, 2)).flatten(1)
    if cosine:
        gram = gram / gram.norm(dim=1, keepdim=True)
    similarity = gram @ gram.T
    if self_included:
        return -similarity.mean(1)
    return -(similarity.sum(1) - similarity.diagonal()) / (count - 1)


def test_gram_diversity(exercise_probe):
    from helpers.checks.interventions import hand_built_network
    from helpers.checks.polysemanticity import check_gram_diversity

    model = hand_built_network()
    assert check_gram_diversity(student_gram_diversity, model) == 3

    def course(activations):  # the course's objective, reached through its module while the student's function runs
        import helpers.featurevis.objectives

        return helpers.featurevis.objectives.gram_diversity(activations)

    def detached(activations):  # the right numbers, but no gradient for the optimizer
        return student_gram_diversity(activations).detach()

    wrong = [lambda a: student_gram_diversity(a, centred=False),  # raw Gram matrices, dominated by the means
             lambda a: student_gram_diversity(a, cosine=False),  # dot products, not cosines
             lambda a: student_gram_diversity(a, self_included=True),  # each image compared with itself too
             detached, course]
    for answer in wrong:
        exercise_probe.rejected(check_gram_diversity, answer, model)
    for constant in (-1.0, 0.0, -0.5):
        assert check_gram_diversity.__wrapped__(lambda a, c=constant: torch.full((a.shape[0],), c), model).fraction == 0
    exercise_probe.not_attempted(lambda: check_gram_diversity(..., model),
                                 lambda: check_gram_diversity(lambda a: None, model))


def student_class_set_reading(votes, classes, count=10, *, axis=0, unbiased=True, standardize=True, largest=True):
    """A unit's reading of a set of classes as a student writes it; the keywords make its near misses."""
    spread = votes.std(axis, keepdim=True, unbiased=unbiased)
    standardized = (votes - votes.mean(axis, keepdim=True)) / spread if standardize else votes
    chosen = torch.tensor(classes)
    top = votes.topk(count, dim=0, largest=largest).indices
    return torch.stack([standardized[chosen].mean(0), torch.isin(top, chosen).to(votes.dtype).mean(0)])


def test_class_set_reading_check(exercise_probe) -> None:
    from helpers.checks.interventions import hand_built_network
    from helpers.checks.polysemanticity import check_class_set_reading

    model = hand_built_network()
    assert check_class_set_reading(student_class_set_reading, model) == 3

    def course(*args):  # the course's reading, reached through its module
        import helpers.class_votes

        return helpers.class_votes.class_set_reading(*args)

    wrong = [lambda *a: student_class_set_reading(*a, axis=1),  # standardized over units instead of classes
             lambda *a: student_class_set_reading(*a, unbiased=False),  # the standard deviation without n - 1
             lambda *a: student_class_set_reading(*a, standardize=False),  # raw votes
             lambda *a: student_class_set_reading(*a, largest=False),  # the lowest-voted classes
             course]
    for answer in wrong:
        exercise_probe.rejected(check_class_set_reading, answer, model)
    for constant in (0.0, 0.5, 1.0):
        assert check_class_set_reading.__wrapped__(
            lambda v, c, k, x=constant: torch.full((2, v.shape[1]), x), model).fraction == 0
    exercise_probe.not_attempted(lambda: check_class_set_reading(..., model),
                                 lambda: check_class_set_reading(lambda *a: None, model))


def student_silhouette(points, labels, *, leave_self_out=True, single_scores=0.0, nearest=True, squared=False,
                       normalized=True):
    """The mean silhouette as a student writes it; the keywords make its near misses."""
    distance = torch.cdist(points, points) ** (2 if squared else 1)
    values = []
    for i in range(len(points)):
        own = labels == labels[i]
        if int(own.sum()) == 1:
            values.append(single_scores)
            continue
        inside = float(distance[i, own].sum()) / (int(own.sum()) - (1 if leave_self_out else 0))
        others = [float(distance[i, labels == c].mean()) for c in labels.unique() if c != labels[i]]
        outside = min(others) if nearest else float(distance[i, ~own].mean())
        values.append((outside - inside) / (max(outside, inside) if normalized else 1.0))
    return sum(values) / len(values)


def test_silhouette_check(facets, exercise_probe):
    from helpers.checks.polysemanticity import check_silhouette

    examples, features = facets
    assert check_silhouette(student_silhouette, examples, features) == 4

    def course(points, labels):  # the course's silhouette, reached through its module
        import helpers.polysemanticity

        return helpers.polysemanticity.silhouette(points, labels)

    wrong = [lambda p, l: student_silhouette(p, l, leave_self_out=False),  # its own zero distance averaged in
             lambda p, l: student_silhouette(p, l, nearest=False),  # all other clusters pooled, not the nearest
             lambda p, l: student_silhouette(p, l, squared=True),  # squared distances
             lambda p, l: student_silhouette(p, l, normalized=False),  # b - a without dividing by max(a, b)
             course]
    for answer in wrong:
        exercise_probe.rejected(check_silhouette, answer, examples, features)
    assert check_silhouette.__wrapped__(lambda p, l: student_silhouette(p, l, single_scores=1.0), examples,
                                        features).fraction < 1  # a point alone in its cluster scores 0
    for constant in (0.0, 0.5, 1.0):
        assert check_silhouette.__wrapped__(lambda p, l, c=constant: c, examples, features).fraction == 0
    exercise_probe.not_attempted(lambda: check_silhouette(..., examples, features),
                                 lambda: check_silhouette(lambda p, l: None, examples, features))


def student_facet_ranking(points, top_values, mean, std, count=5, min_selectivity=2.0, *, column=-1,
                          descending=True, keep_all=False, selective_only=True, diagonal=False):
    """The course's ranking as a student writes it (a loop over units); the keywords make its near misses."""
    k = points.shape[1]
    scores = []
    for rows in points:
        unit = torch.nn.functional.normalize(rows, dim=1)
        similarity = unit @ unit.T
        scores.append(float(1 - similarity.mean()) if diagonal else
                      float(1 - (similarity.sum() - similarity.trace()) / (k * (k - 1))))
    scores = torch.tensor(scores)
    selective = (top_values[:, column] - mean) / std.clamp_min(1e-6) >= min_selectivity
    if not selective_only:
        selective = torch.ones_like(selective)
    order = sorted(torch.nonzero(selective).flatten().tolist(), key=lambda c: float(scores[c]), reverse=descending)
    if keep_all:  # pads with units that are not selective
        order += [c for c in range(len(scores)) if c not in order]
    return torch.tensor([[c, float(scores[c])] for c in order[:count]]).reshape(-1, 2)


def test_facet_ranking_check(facets, exercise_probe):
    from helpers.checks.polysemanticity import check_facet_ranking

    examples, features = facets
    assert check_facet_ranking(student_facet_ranking, examples, features) == 4

    def course(*args):  # the course's ranking, reached through its module
        import helpers.polysemanticity

        return helpers.polysemanticity.facet_ranking(*args)

    wrong = [lambda *a: student_facet_ranking(*a, column=0),  # selective by the best example instead of the k-th
             lambda *a: student_facet_ranking(*a, descending=False),  # most monosemantic first
             lambda *a: student_facet_ranking(*a, keep_all=True),  # count rows even when fewer units are selective
             lambda *a: student_facet_ranking(*a, selective_only=False),  # every unit ranked
             lambda *a: student_facet_ranking(*a, diagonal=True),  # each example's similarity to itself averaged in
             course]
    for answer in wrong:
        exercise_probe.rejected(check_facet_ranking, answer, examples, features)
    assert check_facet_ranking.__wrapped__(lambda *a: torch.zeros(3, 2), examples, features).fraction == 0
    exercise_probe.not_attempted(lambda: check_facet_ranking(..., examples, features),
                                 lambda: check_facet_ranking(lambda *a: None, examples, features))
