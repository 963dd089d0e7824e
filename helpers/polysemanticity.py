"""Detecting polysemantic units: does a unit fire for one kind of thing, or for several unrelated ones?

A unit's top dataset examples are described by the network's *own* penultimate features (the last layer's activation
vector at the place the unit fired, minus its dataset mean, scaled to unit length), so "two examples look alike" means
"the network itself treats them alike". Then:

- :func:`facet_diversity` -- the *facet score* used for ranking: the mean cosine distance (1 - cosine similarity)
  between every pair of a unit's top examples. Near 0: all top examples are the same kind of thing; near 1: they are
  as unrelated as random images.
- :func:`count_facets` -- how many groups the top examples form: k-means for k = 2..max_facets, keeping the k with the
  best silhouette if it beats ``min_silhouette`` and the groups' centres are ``min_separation`` apart (otherwise 1
  group), and :func:`effective_number` of the groups' sizes (exp of the entropy: 3 equal groups give 3, one big group
  and two stragglers give about 1.5).
- :func:`rank_polysemantic` -- the units of a layer sorted by facet score, most polysemantic first
  (:func:`facet_ranking`: the same on tensors, only selective units).

Labels, where a data set has them (a class per image), can stand in for clusters:
``effective_number(labels_of_top_examples)``. k-means and the silhouette are written here in a few lines of torch.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import torch

from .activations import stream
from .dataset_examples import DatasetExamples
from .dictionary import PeakCodes
from .images import ImageSource
from .models import CircuitModel, Unit


# --- clustering ------------------------------------------------------------------------------

@dataclass
class Clustering:
    """Points grouped into clusters: a label per point (N,), the centroids (k, d) and the within-cluster squared distance."""

    labels: torch.Tensor
    centroids: torch.Tensor
    inertia: float

    @property
    def count(self) -> int:
        """Number of clusters."""
        return int(self.centroids.shape[0])

    def sizes(self) -> torch.Tensor:
        """How many points each cluster holds."""
        return torch.bincount(self.labels, minlength=self.count)


def _check_points(points: torch.Tensor) -> torch.Tensor:
    points = torch.as_tensor(points, dtype=torch.float32)
    if points.dim() != 2 or points.shape[0] == 0:
        raise ValueError(f"Points must be an (N, d) tensor with N >= 1, got shape {tuple(points.shape)}.")
    return points


def lloyd_step(points: torch.Tensor, centroids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """One iteration of k-means: each point's nearest centroid, then every centroid moved to the mean of its points.

    Returns (labels (N,), centroids (k, d)). A point exactly as near to two centroids takes the lower index; a centroid
    no point is nearest to stays where it is.
    """
    labels = torch.cdist(points, centroids).argmin(1)
    updated = torch.stack([
        points[labels == j].mean(0) if bool((labels == j).any()) else centroids[j] for j in range(len(centroids))
    ])
    return labels, updated


def kmeans(points: torch.Tensor, clusters: int, *, generator: torch.Generator, iterations: int = 50, restarts: int = 4) -> Clustering:
    """k-means (k-means++ starts, Lloyd's iterations), best of ``restarts`` runs; deterministic for a generator."""
    points = _check_points(points)
    if not 1 <= clusters <= points.shape[0]:
        raise ValueError(f"clusters must lie between 1 and the number of points ({points.shape[0]}), got {clusters}.")
    best: Clustering | None = None
    for _ in range(restarts):
        centroids = points[torch.randint(points.shape[0], (1,), generator=generator)]
        for _ in range(1, clusters):  # k-means++: the next start is far from the ones chosen so far
            distance = torch.cdist(points, centroids).min(1).values.square()
            if float(distance.sum()) == 0:
                choice = torch.randint(points.shape[0], (1,), generator=generator)
            else:
                choice = torch.multinomial(distance / distance.sum(), 1, generator=generator)
            centroids = torch.cat([centroids, points[choice]])
        for _ in range(iterations):
            updated = lloyd_step(points, centroids)[1]
            if torch.allclose(updated, centroids):
                break
            centroids = updated
        labels = torch.cdist(points, centroids).argmin(1)
        inertia = float((points - centroids[labels]).square().sum())
        if best is None or inertia < best.inertia:
            best = Clustering(labels, centroids, inertia)
    return best


def silhouette(points: torch.Tensor, labels: torch.Tensor) -> float:
    """Mean silhouette (-1..1): how much closer each point is to its own cluster than to the nearest other one."""
    points = _check_points(points)
    labels = torch.as_tensor(labels).long()
    clusters = labels.unique()
    if len(clusters) < 2:
        raise ValueError("The silhouette needs at least two clusters.")
    distance = torch.cdist(points, points)
    scores = torch.zeros(points.shape[0])
    for i in range(points.shape[0]):
        own = labels == labels[i]
        if int(own.sum()) == 1:
            continue  # a point alone in its cluster scores 0 by convention
        inside = distance[i, own].sum() / (own.sum() - 1)
        outside = min(float(distance[i, labels == c].mean()) for c in clusters if c != labels[i])
        scores[i] = (outside - inside) / max(outside, float(inside), 1e-12)
    return float(scores.mean())


def effective_number(labels: torch.Tensor | Sequence[int]) -> float:
    """exp(entropy) of the label proportions: the number of equally common groups that would be as mixed."""
    labels = torch.as_tensor(labels).long().flatten()
    if labels.numel() == 0:
        raise ValueError("No labels given.")
    shares = torch.bincount(labels - labels.min()).float()
    shares = shares[shares > 0] / labels.numel()
    return float(torch.exp(-(shares * shares.log()).sum()))


def count_facets(
    points: torch.Tensor,
    *,
    max_facets: int = 4,
    min_silhouette: float = 0.25,
    min_separation: float = 0.2,
    generator: torch.Generator | None = None,
) -> Clustering:
    """Group points into 1..max_facets clusters: the k with the best silhouette, if the clusters are real.

    A split counts only if its silhouette reaches ``min_silhouette`` *and* every two cluster centres
    are at least ``min_separation`` apart in cosine distance (the silhouette alone ignores scale, so
    it happily splits near-identical points); otherwise everything is one cluster.
    """
    points = _check_points(points)
    if max_facets < 1:
        raise ValueError(f"max_facets must be at least 1, got {max_facets}.")
    generator = generator if generator is not None else torch.Generator().manual_seed(0)
    single = Clustering(torch.zeros(points.shape[0], dtype=torch.long), points.mean(0, keepdim=True),
                        float((points - points.mean(0)).square().sum()))
    best, best_score = single, min_silhouette
    for k in range(2, min(max_facets, points.shape[0] - 1) + 1):
        clustering = kmeans(points, k, generator=generator)
        if len(clustering.labels.unique()) < k:
            continue
        centres = torch.nn.functional.normalize(clustering.centroids, dim=1)
        closest = 1 - (centres @ centres.T - 2 * torch.eye(k)).max()
        if float(closest) < min_separation:
            continue
        score = silhouette(points, clustering.labels)
        if score > best_score:
            best, best_score = clustering, score
    return best


def facet_diversity(points: torch.Tensor) -> float:
    """Facet score: mean cosine distance (1 - cosine similarity) over all pairs of points; 0 = all alike."""
    points = _check_points(points)
    if points.shape[0] < 2:
        raise ValueError("The facet score needs at least two examples.")
    return float(_mean_cosine_distance(points))


def _mean_cosine_distance(points: torch.Tensor) -> torch.Tensor:
    """Mean 1 - cosine similarity over pairs of different rows, for (..., k, d) stacks of k points."""
    unit = torch.nn.functional.normalize(points, dim=-1)
    similarity = unit @ unit.transpose(-1, -2)
    count = points.shape[-2]
    off_diagonal = similarity.sum(dim=(-2, -1)) - similarity.diagonal(dim1=-2, dim2=-1).sum(-1)
    return 1 - off_diagonal / (count * (count - 1))


# --- the network's own description of examples -----------------------------------------------

@dataclass
class FeatureMaps:
    """A layer's activation maps (N, C, h, w) for every image of a source, and their mean vector over all positions."""

    layer: str
    maps: torch.Tensor
    mean: torch.Tensor

    def at(self, image_indices: torch.Tensor, positions: torch.Tensor, map_size: tuple[int, int]) -> torch.Tensor:
        """Centred, unit-length feature vectors (k, C) at the places another layer's map (``map_size``) points to."""
        rows, cols = self.maps.shape[2:]
        row = ((positions[:, 0].float() + 0.5) * rows / map_size[0]).long().clamp(0, rows - 1)
        col = ((positions[:, 1].float() + 0.5) * cols / map_size[1]).long().clamp(0, cols - 1)
        vectors = self.maps[image_indices.long(), :, row, col] - self.mean
        return torch.nn.functional.normalize(vectors, dim=1)


def feature_maps(
    model: CircuitModel, source: ImageSource, layer: str | None = None, *, progress: bool = True
) -> FeatureMaps:
    """Activation maps of ``layer`` (default: the last, penultimate layer) for every image of ``source``."""
    layer = model.layer(layer or model.layer_names[-1]).name
    return feature_maps_of(model, source, [layer], progress=progress)[layer]


def feature_maps_of(
    model: CircuitModel, source: ImageSource, layers: Sequence[str], *, progress: bool = True
) -> dict[str, FeatureMaps]:
    """:func:`feature_maps` of several layers from ONE pass over ``source`` (it stops after the deepest)."""
    names = [model.layer(name).name for name in layers]
    if not names:
        raise ValueError("Name at least one layer.")
    maps: dict[str, list[torch.Tensor]] = {name: [] for name in names}
    read: list[torch.Tensor] = []
    for indices, captured in stream(model, source, names, progress=progress, description=f"features {', '.join(names)}"):
        for name in names:
            maps[name].append(captured[name])
        read.append(indices)
    order = torch.cat(read)
    every_image = len(order) == len(source) and torch.equal(order, torch.arange(len(source)))
    result = {}
    for name in names:
        found = torch.cat(maps.pop(name))  # each layer's batches are let go once joined: two copies at most, not three
        mean = found.mean(dim=(0, 2, 3)).clone()
        if not every_image:
            placed = torch.zeros((len(source),) + tuple(found.shape[1:]))  # unreadable images stay zero
            placed[order] = found
            found = placed
        result[name] = FeatureMaps(name, found, mean)
    return result


def top_example_features(examples: DatasetExamples, features: FeatureMaps, channel: int, count: int | None = None) -> torch.Tensor:
    """Centred unit-length penultimate features (count, C) of a unit's top dataset examples, where it fired."""
    indices = examples.top_indices(channel, count)
    if len(indices) and int(indices.max()) >= features.maps.shape[0]:
        raise ValueError("The dataset examples and the feature maps come from different image sources.")
    return features.at(indices, examples.top_positions(channel, count), examples.map_size)


# --- scores for units ------------------------------------------------------------------------

@dataclass
class FacetReport:
    """How polysemantic one unit looks: its facet score, its clusters of top examples and their effective number."""

    unit: Unit
    diversity: float
    clustering: Clustering
    effective_facets: float

    @property
    def facets(self) -> int:
        """Number of clusters found among the top examples."""
        return self.clustering.count


def unit_facets(
    examples: DatasetExamples,
    features: FeatureMaps,
    channel: int,
    *,
    count: int | None = None,
    max_facets: int = 4,
    min_silhouette: float = 0.25,
    min_separation: float = 0.2,
    generator: torch.Generator | None = None,
) -> FacetReport:
    """Facet score, clusters (see :func:`count_facets`) and effective number of clusters of one unit's top ``count`` examples."""
    points = top_example_features(examples, features, channel, count)
    clustering = count_facets(points, max_facets=max_facets, min_silhouette=min_silhouette,
                              min_separation=min_separation, generator=generator)
    return FacetReport(Unit(examples.layer, int(channel)), facet_diversity(points), clustering, effective_number(clustering.labels))


def _top_points(examples: DatasetExamples, features: FeatureMaps, max_examples: int | None) -> torch.Tensor:
    """The features (C, k, d) of every unit's top ``max_examples`` examples (default: all scanned)."""
    max_examples = min(max_examples or examples.top_index.shape[1], examples.top_index.shape[1])
    if max_examples < 2:
        raise ValueError(f"The facet score needs at least two top examples per unit, got max_examples={max_examples}.")
    if bool((examples.top_index[:, :max_examples] < 0).any()):
        raise ValueError(f"Some units have fewer than {max_examples} top examples (the source is too small); use a smaller max_examples.")
    indices = examples.top_index[:, :max_examples].flatten()
    positions = examples.top_position[:, :max_examples].reshape(-1, 2)
    return features.at(indices, positions, examples.map_size).view(examples.channels, max_examples, -1)


def facet_scores(examples: DatasetExamples, features: FeatureMaps, *, max_examples: int | None = None) -> torch.Tensor:
    """The facet score (mean pairwise cosine distance of top examples) of every unit of the scanned layer: (C,)."""
    return _mean_cosine_distance(_top_points(examples, features, max_examples))


def code_facet_scores(peaks: PeakCodes, features: FeatureMaps, count: int) -> torch.Tensor:
    """The facet score of every column of :class:`helpers.dictionary.PeakCodes` (a sparse dictionary's
    features, or a layer's own units, from :func:`helpers.dictionary.scan_peaks`), from each column's ``count``
    top images: (n,), NaN for a column active on fewer than ``count`` images. Scoring units and dictionary
    features the same way makes them comparable."""
    if count < 2:
        raise ValueError(f"The facet score needs at least two top examples, got count={count}.")
    images, positions = peaks.top(count)
    scores = torch.full((images.shape[0],), float("nan"))
    complete = (images >= 0).all(1)
    if bool(complete.any()):
        points = features.at(images[complete].flatten(), positions[complete].reshape(-1, 2), peaks.map_size)
        scores[complete] = _mean_cosine_distance(points.view(int(complete.sum()), count, -1))
    return scores


def selective_units(examples: DatasetExamples, *, rank: int | None = None, min_selectivity: float = 2.0) -> torch.Tensor:
    """(C,) True for units whose ``rank``-th best example (default: the last one scanned) lies ``min_selectivity`` standard deviations above their mean."""
    rank = min(rank or examples.top_value.shape[1], examples.top_value.shape[1])
    selectivity = (examples.top_value[:, rank - 1] - examples.mean) / examples.std.clamp_min(1e-6)
    return selectivity >= min_selectivity


def rank_polysemantic(
    examples: DatasetExamples, features: FeatureMaps, *, max_examples: int | None = None, count: int = 10, min_selectivity: float = 2.0
) -> list[tuple[Unit, float]]:
    """The ``count`` units of the scanned layer with the highest facet score, most polysemantic first (see
    :func:`facet_ranking`). Only *selective* units compete: a unit about as active everywhere (or saturated, with many
    tied top values) has arbitrary "top" examples, which would look maximally diverse."""
    if count < 1:
        raise ValueError(f"count must be at least 1, got {count}.")
    points = _top_points(examples, features, max_examples)
    ranked = facet_ranking(points, examples.top_value[:, :points.shape[1]], examples.mean, examples.std, count, min_selectivity)
    return [(Unit(examples.layer, int(channel)), score) for channel, score in ranked.tolist()]


def facet_ranking(points: torch.Tensor, top_values: torch.Tensor, mean: torch.Tensor, std: torch.Tensor,
                  count: int = 5, min_selectivity: float = 2.0) -> torch.Tensor:
    """Lesson 06's ranking of a layer: (n, 2) rows (channel, facet score) of the ``count`` selective units with the
    highest facet score, most polysemantic first, n = min(count, selective units). ``points`` (C, k, d): features of
    each unit's top k examples; ``top_values`` (C, k) their activations, best first; ``mean``, ``std`` (C,) each unit's.
    Selective: the k-th value lies ``min_selectivity`` standard deviations (at least 1e-6) above the mean."""
    scores = _mean_cosine_distance(points)
    selective = (top_values[:, -1] - mean) / std.clamp_min(1e-6) >= min_selectivity
    ranked = scores.masked_fill(~selective, float("-inf")).argsort(descending=True, stable=True)[: int(selective.sum())][:count]
    return torch.stack([ranked.to(scores.dtype), scores[ranked]], 1)


@dataclass
class LayerFacets:
    """Every unit of a scanned layer by facet score: the scores (C,), which units are selective (C,), the ``count``
    most polysemantic selective units, and the extreme units of the pool they are ranked in (the selective units;
    all units where a model has none, as random weights can)."""

    layer: str
    scores: torch.Tensor
    selective: torch.Tensor
    ranking: list[tuple[Unit, float]]

    @property
    def pool(self) -> torch.Tensor:
        """(C,) True for the units ranked: the selective ones, or every unit where none is selective."""
        return self.selective if bool(self.selective.any()) else torch.ones_like(self.selective)

    @property
    def polysemantic(self) -> int:
        """The channel of the pool's highest facet score."""
        return int(self.scores.masked_fill(~self.pool, float("-inf")).argmax())

    @property
    def monosemantic(self) -> int:
        """The channel of the pool's lowest facet score."""
        return int(self.scores.masked_fill(~self.pool, float("inf")).argmin())

    def rank_of(self, channel: int) -> int:
        """How many selective units score higher than ``channel`` (0: the most polysemantic)."""
        return int((self.scores[self.selective] > self.scores[channel]).sum())

    def among_top(self, channel: int, fraction: float) -> bool:
        """Whether ``channel`` is selective and fewer than ``fraction`` of the selective units score higher."""
        return bool(self.selective[channel]) and self.rank_of(channel) < int(self.selective.sum()) * fraction

    def rank_summary(self, channel: int) -> str:
        """``channel``'s facet score and how many of the selective units score higher."""
        return (f"facet score {float(self.scores[channel]):.3f}; {self.rank_of(channel)} of "
                f"{int(self.selective.sum())} selective units score higher")

    def marked(self) -> dict[str, float]:
        """The most polysemantic and the most monosemantic unit of the pool with their facet scores, for a figure."""
        return {f"{self.layer}:{c}": float(self.scores[c]) for c in (self.polysemantic, self.monosemantic)}

    def summary(self) -> str:
        """How many units are selective, the pool's median score, the ranking and the most monosemantic unit."""
        ranked = ", ".join(f"{unit} ({score:.3f})" for unit, score in self.ranking) or "no selective unit"
        return (f"{int(self.selective.sum())} of {len(self.scores)} units are selective; median facet score "
                f"{float(self.scores[self.pool].median()):.3f}\nmost polysemantic: {ranked}\n"
                f"most monosemantic: {self.layer}:{self.monosemantic} ({float(self.scores[self.monosemantic]):.3f})")


def layer_facets(examples: DatasetExamples, features: FeatureMaps, *, count: int = 5,
                 min_selectivity: float = 2.0) -> LayerFacets:
    """:func:`facet_scores`, :func:`selective_units` and :func:`rank_polysemantic` (``count`` units) of a scanned layer."""
    return LayerFacets(examples.layer, facet_scores(examples, features),
                       selective_units(examples, min_selectivity=min_selectivity),
                       rank_polysemantic(examples, features, count=count, min_selectivity=min_selectivity))
