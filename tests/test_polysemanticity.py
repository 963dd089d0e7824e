"""Tests of helpers.polysemanticity on synthetic data with a known number of clusters."""
import itertools

import pytest
import torch
from torch import nn

from helpers.dataset_examples import DatasetExamples, FieldGeometry, scan_layer
from helpers.images import RandomCrops
from helpers.wrapping import wrap_model
from helpers.dictionary import peak_codes
from helpers.polysemanticity import (
    FeatureMaps,
    code_facet_scores,
    count_facets,
    effective_number,
    facet_diversity,
    facet_scores,
    feature_maps,
    kmeans,
    layer_facets,
    rank_polysemantic,
    silhouette,
    top_example_features,
    unit_facets,
)


def blobs(counts, dim=16, spread=0.05, seed=0):
    """Gaussian blobs around orthogonal centres, ``counts[i]`` points in blob i; returns points and true labels."""
    generator = torch.Generator().manual_seed(seed)
    centres = torch.eye(dim)[: len(counts)] * 3
    points = torch.cat([centres[i] + spread * torch.randn(n, dim, generator=generator) for i, n in enumerate(counts)])
    labels = torch.cat([torch.full((n,), i) for i, n in enumerate(counts)])
    return points, labels


def same_partition(found, truth) -> bool:
    """True when two labelings group the points the same way (cluster numbers may differ)."""
    return all((found[i] == found[j]) == (truth[i] == truth[j]) for i, j in itertools.combinations(range(len(truth)), 2))


def test_kmeans_recovers_separated_blobs_deterministically():
    points, truth = blobs([5, 7, 6])
    first = kmeans(points, 3, generator=torch.Generator().manual_seed(1))
    again = kmeans(points, 3, generator=torch.Generator().manual_seed(1))
    assert same_partition(first.labels, truth)
    assert torch.equal(first.labels, again.labels)
    assert sorted(first.sizes().tolist()) == [5, 6, 7]


def test_silhouette_is_high_for_true_clusters_and_low_for_a_split_blob():
    points, truth = blobs([6, 6])
    assert silhouette(points, truth) > 0.9
    blob, _ = blobs([12], spread=1.0)
    split = kmeans(blob, 2, generator=torch.Generator().manual_seed(0))
    assert silhouette(blob, split.labels) < 0.25
    with pytest.raises(ValueError, match="two clusters"):
        silhouette(points, torch.zeros(12))


def test_effective_number_counts_equally_common_groups():
    assert effective_number([0, 0, 1, 1, 2, 2]) == pytest.approx(3.0)
    assert effective_number([4] * 10) == pytest.approx(1.0)
    lopsided = effective_number([0] * 8 + [1, 2])
    assert 1.0 < lopsided < 2.0


@pytest.mark.parametrize("counts", [[12], [6, 6], [4, 4, 4], [5, 4, 4, 3]])
def test_count_facets_finds_the_number_of_blobs(counts):
    points, truth = blobs(counts, spread=0.3 if len(counts) == 1 else 0.05)
    found = count_facets(points, max_facets=5, generator=torch.Generator().manual_seed(0))
    assert found.count == len(counts)
    assert same_partition(found.labels, truth)


def test_facet_diversity_is_zero_for_identical_and_one_for_orthogonal_examples():
    assert facet_diversity(torch.ones(5, 3)) == pytest.approx(0.0, abs=1e-6)
    assert facet_diversity(torch.eye(4)) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="at least two"):
        facet_diversity(torch.ones(1, 3))


def synthetic_examples(top_index, top_value, mean, std, map_size=(2, 2)):
    """A DatasetExamples holding only what the facet scores read."""
    channels, k = top_index.shape
    return DatasetExamples(
        model_name="synthetic", layer="layer", source_key="synthetic", settings={}, num_images=int(top_index.max()) + 1,
        map_size=map_size, image_size=8, geometry=FieldGeometry(8, 8, 0.0, 0.0, 4.0),
        top_value=top_value, top_index=top_index, top_position=torch.zeros(channels, k, 2, dtype=torch.long),
        band_value=torch.zeros(channels, 0), band_index=torch.zeros(channels, 0, dtype=torch.long),
        band_position=torch.zeros(channels, 0, 2, dtype=torch.long), band_limits=torch.zeros(channels, 2),
        hist_counts=torch.zeros(channels, 2, dtype=torch.long), hist_low=torch.zeros(channels, dtype=torch.float64),
        hist_width=torch.ones(channels, dtype=torch.float64), mean=mean, std=std, firing_fraction=torch.ones(channels),
    )


@pytest.fixture
def three_kinds():
    """12 images of three kinds (4 each) and three units: one kind only, all three kinds, and an unselective one."""
    points, kinds = blobs([4, 4, 4], dim=8)
    maps = points[:, :, None, None].expand(12, 8, 1, 1).clone()
    features = FeatureMaps("penultimate", maps, torch.zeros(8))
    top_index = torch.tensor([[0, 1, 2, 3, 0, 1], [0, 4, 8, 1, 5, 9], [2, 6, 10, 3, 7, 11]])
    top_value = torch.tensor([[9.0] * 6, [8.0] * 6, [1.1] * 6])
    examples = synthetic_examples(top_index, top_value, mean=torch.tensor([1.0, 1.0, 1.0]), std=torch.ones(3))
    return examples, features


def test_feature_maps_read_the_place_a_unit_fired():
    maps = torch.arange(2 * 3 * 2 * 2, dtype=torch.float32).view(2, 3, 2, 2)
    features = FeatureMaps("penultimate", maps, torch.zeros(3))
    vector = features.at(torch.tensor([1]), torch.tensor([[3, 0]]), map_size=(4, 4))  # row 3 of 4 -> row 1 of 2
    assert torch.allclose(vector[0], torch.nn.functional.normalize(maps[1, :, 1, 0], dim=0))


def test_facet_scores_and_ranking_find_the_mixed_unit(three_kinds):
    examples, features = three_kinds
    scores = facet_scores(examples, features)
    assert scores[0] < 0.01 and scores[1] > 0.6
    ranking = rank_polysemantic(examples, features, count=3)
    assert [str(unit) for unit, _ in ranking] == ["layer:1", "layer:0"]  # unit 2 is not selective
    report = unit_facets(examples, features, 1, generator=torch.Generator().manual_seed(0))
    assert report.facets == 3 and report.effective_facets == pytest.approx(3.0)
    assert unit_facets(examples, features, 0).facets == 1
    assert torch.allclose(top_example_features(examples, features, 1, 2), features.at(
        torch.tensor([0, 4]), torch.zeros(2, 2, dtype=torch.long), (2, 2)))


def test_layer_facets_rank_within_the_selective_units(three_kinds):
    examples, features = three_kinds
    facets = layer_facets(examples, features, count=3)
    assert torch.equal(facets.scores, facet_scores(examples, features)) and facets.selective.tolist() == [True, True, False]
    assert facets.ranking == rank_polysemantic(examples, features, count=3)
    assert (facets.polysemantic, facets.monosemantic) == (1, 0)  # unit 2 mixes kinds too, but is not selective
    assert (facets.rank_of(1), facets.rank_of(0)) == (0, 1)
    assert facets.among_top(1, 0.5) and not facets.among_top(0, 0.5) and not facets.among_top(2, 1.0)
    assert set(facets.marked()) == {"layer:1", "layer:0"} and "1 of 2 selective units" in facets.rank_summary(0)
    assert "2 of 3 units are selective" in facets.summary()
    nothing = layer_facets(examples, features, min_selectivity=50.0)  # no unit selective: all units are the pool
    assert bool(nothing.pool.all()) and nothing.ranking == [] and "no selective unit" in nothing.summary()


def test_code_facet_scores_agree_with_the_examples_route(three_kinds):
    _, features = three_kinds  # 12 images of three kinds, 1x1 maps
    codes = torch.zeros(12, 3)
    codes[[0, 1, 2, 3], 0] = torch.tensor([4.0, 3.0, 2.0, 1.0])  # column 0: the four images of kind 0
    codes[[0, 4, 8, 1], 1] = torch.tensor([4.0, 3.0, 2.0, 1.0])  # column 1: images of all three kinds
    codes[5, 2] = 1.0  # column 2: active on one image only
    scores = code_facet_scores(peak_codes(codes, (1, 1)), features, count=4)
    assert scores[0] < 0.01 and scores[1] > 0.5 and torch.isnan(scores[2])
    expected = facet_diversity(features.at(torch.tensor([0, 4, 8, 1]), torch.zeros(4, 2, dtype=torch.long), (1, 1)))
    assert float(scores[1]) == pytest.approx(expected)
    with pytest.raises(ValueError, match="at least two"):
        code_facet_scores(peak_codes(codes, (1, 1)), features, count=1)


def tiny_classifier():
    torch.manual_seed(0)
    module = nn.Sequential(
        nn.Conv2d(3, 6, 3, padding=1), nn.ReLU(), nn.Conv2d(6, 5, 1), nn.ReLU(),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(5, 4),
    )
    return wrap_model(module, {"conv1": "1", "conv2": "3"}, name="tiny_classifier", input_size=16)


def test_end_to_end_on_a_tiny_network(tmp_path):
    model = tiny_classifier()
    photos = {"noise": torch.rand(3, 40, 40, generator=torch.Generator().manual_seed(0))}
    source = RandomCrops(photos, count=24, size=16, seed=0, batch_size=8)
    examples = scan_layer(model, "conv1", source, max_examples=6, cache_dir=tmp_path, progress=False)
    features = feature_maps(model, source, progress=False)
    assert features.layer == "conv2" and features.maps.shape == (24, 5, 16, 16)
    scores = facet_scores(examples, features)
    assert scores.shape == (6,) and bool(((scores >= 0) & (scores <= 2)).all())
    assert len(rank_polysemantic(examples, features, count=2, min_selectivity=-10)) == 2
    # Several layers from one pass give the same maps as one pass per layer.
    from helpers.polysemanticity import feature_maps_of

    both = feature_maps_of(model, source, ["conv1", "conv2"], progress=False)
    assert torch.allclose(both["conv2"].maps, features.maps) and torch.allclose(both["conv2"].mean, features.mean)
    assert torch.allclose(both["conv1"].maps, feature_maps(model, source, "conv1", progress=False).maps)


def test_feature_maps_leave_an_unreadable_image_at_zero_in_its_place(tmp_path):
    from PIL import Image

    from helpers.images import ImageFolder
    from helpers.polysemanticity import feature_maps_of

    model = tiny_classifier()
    Image.new("RGB", (20, 20), (200, 40, 90)).save(tmp_path / "a.png")
    (tmp_path / "b.png").write_bytes(b"not an image")
    Image.new("RGB", (20, 20), (10, 160, 220)).save(tmp_path / "c.png")
    folder = ImageFolder(tmp_path, size=16)
    maps = feature_maps_of(model, folder, ["conv1", "conv2"], progress=False)
    readable = feature_maps(model, ImageFolder(tmp_path, size=16), "conv2", progress=False).maps
    assert maps["conv2"].maps.shape[0] == 3 and not bool(maps["conv2"].maps[1].any())  # b.png: zero, in its place
    assert torch.allclose(maps["conv2"].maps, readable)
    assert bool(maps["conv1"].maps[0].any()) and bool(maps["conv1"].maps[2].any())
    kept = maps["conv2"].maps[[0, 2]]
    assert torch.allclose(maps["conv2"].mean, kept.mean(dim=(0, 2, 3)))  # the mean of the images read, not of the zeros
