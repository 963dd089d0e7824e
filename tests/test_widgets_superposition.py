"""Tests of helpers.widgets.superposition: move the sparsity slider, check the looked-up model's figure."""
import matplotlib

matplotlib.use("Agg")

import pytest
import torch

from helpers.superposition import ToyModelSweep, feature_importance, represented_features
from helpers.widgets.superposition import sparsity_explorer


def hand_made_sweep(n_hidden: int) -> ToyModelSweep:
    """Two 'trained' 5-feature models without training: dense keeps m features, sparse keeps all 5."""
    dense = torch.zeros(n_hidden, 5)
    dense[:, :n_hidden] = torch.eye(n_hidden)
    sparse = torch.randn(n_hidden, 5, generator=torch.Generator().manual_seed(0))
    sparse = sparse / sparse.norm(dim=0)
    return ToyModelSweep(weights=torch.stack([dense, sparse]), biases=torch.zeros(2, 5),
                         sparsities=torch.tensor([0.0, 0.9]), importance=feature_importance(5), final_loss=torch.zeros(2))


def test_slider_looks_up_the_model_for_each_sparsity():
    sweep, planar = hand_made_sweep(3), hand_made_sweep(2)
    explorer = sparsity_explorer(sweep, planar)
    assert explorer.result.sparsity == 0.0
    assert explorer.result.represented == 3 and explorer.result.planar_represented == 2
    explorer.controls["sparsity"].value = 0.9
    assert explorer.result.sparsity == pytest.approx(0.9)
    assert explorer.result.represented == int(represented_features(sweep.weights[1])) == 5
    assert explorer.result.planar_represented == 5
    assert explorer.calls == 2


def test_explorer_starts_at_the_asked_sparsity_and_works_without_a_planar_sweep():
    explorer = sparsity_explorer(hand_made_sweep(3), sparsity=0.85)
    assert explorer.result.sparsity == pytest.approx(0.9)
    assert not hasattr(explorer.result, "planar_represented")


def test_mismatched_sweeps_are_refused():
    planar = hand_made_sweep(2)
    planar.sparsities = torch.tensor([0.0, 0.5])
    with pytest.raises(ValueError, match="same sparsities"):
        sparsity_explorer(hand_made_sweep(3), planar)


def test_lesson_figures_draw_from_hand_made_data():
    from helpers.plotting.superposition import (
        class_votes_figure, clustered_examples_figure, dimensionality_figure, facet_score_figure, phase_change_figure,
        planar_geometry_figure,
    )

    planar = hand_made_sweep(2)
    assert len(planar_geometry_figure(planar, [0.0, 0.9]).axes) == 2
    assert len(phase_change_figure(hand_made_sweep(3)).axes) == 2
    assert len(dimensionality_figure(planar).axes) == 1
    assert len(facet_score_figure(torch.rand(20), {"unit": 0.5}).axes) == 1
    figure = clustered_examples_figure(torch.rand(5, 3, 8, 8), torch.tensor([0, 1, 1, 0, 2]), per_row=3)
    assert len(figure.axes) == 9  # three clusters, one row each
    assert len(class_votes_figure([torch.rand(10), torch.rand(10)], ["a", "b"], [f"class {i}" for i in range(10)]).axes) == 2
    with pytest.raises(ValueError, match="2 hidden dimensions"):
        planar_geometry_figure(hand_made_sweep(3), [0.0])


def test_dictionary_explorer_shows_the_feature_of_each_rank_for_each_unit():
    from helpers.dictionary import SparseDictionary, peak_codes
    from helpers.widgets.superposition import dictionary_explorer
    from helpers.images import RandomCrops

    # 3 units, 4 features: feature f writes onto unit f % 3 with weight 1 (feature 3 also onto unit 0, weaker).
    directions = torch.tensor([[1.0, 0, 0], [0, 1, 0], [0, 0, 1], [0.6, 0.8, 0]])
    dictionary = SparseDictionary(directions.clone(), torch.zeros(4), directions, torch.zeros(3), scale=1.0, l1=0.0)
    source = RandomCrops({"noise": torch.rand(3, 32, 32, generator=torch.Generator().manual_seed(0))}, count=5, size=8)
    activations = torch.rand(5 * 4, 3, generator=torch.Generator().manual_seed(1))  # 5 images of 2x2 positions
    units, features = peak_codes(activations, (2, 2)), peak_codes(dictionary.encode(activations), (2, 2))
    explorer = dictionary_explorer(dictionary, activations, units, features, source, "layer", per_row=3)
    share = dictionary.contributions(activations, 0)
    assert explorer.result.unit == 0 and explorer.result.feature == int(share.argmax())
    explorer.controls["rank"].value = 2
    assert explorer.result.feature == int(share.argsort(descending=True)[1])
    explorer.controls["rank"].value = 1
    explorer.controls["unit"].value = 2
    assert explorer.result.unit == 2 and explorer.result.feature == 2  # only feature 2 writes onto unit 2
    assert explorer.calls == 4


def test_unit_and_features_figure_and_spread_loadings_figure_draw_from_hand_made_data():
    from types import SimpleNamespace

    from helpers.images import RandomCrops
    from helpers.plotting.superposition import spread_loadings_figure, unit_and_features_figure

    source = RandomCrops({"noise": torch.rand(3, 32, 32, generator=torch.Generator().manual_seed(0))}, count=5, size=8)
    unit_images = torch.tensor([[0, 1, 2], [3, -1, -1]])  # two units' top images
    feature_images = torch.tensor([[4, 2, -1], [-1, -1, -1], [1, 0, 3]])  # feature 1 never active
    unit = SimpleNamespace(channel=1, __str__=lambda self: "layer:1")
    figure = unit_and_features_figure(source, unit_images, feature_images, unit, [2, 1], torch.tensor([0.2, 0.0, 0.6]))
    assert len(figure.axes) == 3 * 6  # the unit's row and two features' rows, six images wide
    titles = [ax.get_title(loc="left") for ax in figure.axes if ax.get_title(loc="left")]
    assert titles[1].startswith("dictionary feature 2: 75%") and titles[2].endswith("(never active)")

    directions = torch.eye(5)[[0, 1, 2]] + 0.1
    found = SimpleNamespace(channels=[2, 0, 1], orientations=[10.0, 20.0, 30.0])
    figure = spread_loadings_figure(directions, found, torch.tensor([1, 3, 2]), marked=[0], count=2)
    assert [ax.get_title() for ax in figure.axes] == ["live feature 0 · 20° · 3 units hold half",
                                                      "live feature 1 · 30° · 2 units hold half"]
