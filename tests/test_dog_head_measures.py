"""Lesson 05's measurements moved out of the notebook: the mutual mirror pairs, head units by dog imagery, scores on
each unit's top images, the claims' verdicts, the first wide layer, and the lesson's two small figures. On
test_mirror.py's hand-built network (``heads:0`` / ``heads:1`` answer a left / right arrow, ``merge:2`` is their union)
and small hand-made tables."""
import types

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch
from test_mirror import build_network, left_arrows, mixed_arrows

from helpers.mirror import MirrorPartners, mirror_score, mirror_test, mutual_pairs, top_image_scores
from helpers.models import Unit
from helpers.union_weights import PairWeights, PathwayInhibition
from helpers.weights.equivariance import TransformedCopies


@pytest.fixture(scope="module")
def model():
    return build_network()


def test_mutual_pairs_keep_mutual_partners_that_beat_themselves_best_first():
    correlation = torch.full((6, 6), 0.1)
    for (a, b), value in {(0, 3): 0.8, (3, 0): 0.85, (1, 4): 0.9, (4, 1): 0.92, (2, 5): 0.6, (5, 2): 0.9,
                          (2, 2): 0.5, (5, 5): 0.7}.items():
        correlation[a, b] = value
    assert mutual_pairs(correlation) == [(1, 4), (0, 3)]  # (2, 5): 5 follows itself (0.7) more than 2 follows it (0.6)
    assert mutual_pairs(correlation, min_correlation=0.85) == [(1, 4)]
    correlation[1, 1] = 0.3
    assert mutual_pairs(correlation, max_self=0.2) == [(0, 3)]
    one_way = torch.tensor([[0.0, 0.7, 0.1], [0.1, 0.0, 0.8], [0.1, 0.75, 0.0]])  # 0 -> 1, but 1 <-> 2
    assert mutual_pairs(one_way) == [(1, 2)]
    partners = MirrorPartners("x", [Unit("x", c) for c in range(3)], one_way, torch.zeros(3))
    assert partners.pairs() == [(Unit("x", 1), Unit("x", 2))]  # the lesson's method reads the same selection


def test_units_gaining_rank_units_by_their_gain_over_a_background(model):
    from helpers.dog_imagery import units_gaining

    left = left_arrows(4)
    units, gain = units_gaining(model, "heads", left, left.flip(-1), count=2)
    assert units[0] == model.unit("heads:0") and gain.shape == (3,)  # the left unit gains on left arrows over right ones
    assert float(gain[0]) > 0 > float(gain[1]) and float(gain[2]) == 0
    none, zero = units_gaining(model, "heads", torch.zeros(0, 3, 32, 32), left, count=2)
    assert len(none) == 2 and float(zero.abs().sum()) == 0


def test_top_image_scores_read_only_each_units_top_images(model):
    images = mixed_arrows()
    test = mirror_test(model, model.units("heads"), images)
    every = top_image_scores(test, ["heads:0", "heads:1"], count=len(images))
    assert every.tolist() == pytest.approx(test.left_score[:2].tolist())  # all images: the plain left score
    top = top_image_scores(test, ["heads:1", "heads:0"], count=1)  # each unit on the one image it answers most
    for score, row in zip(top.tolist(), (1, 0)):
        best = int(test.on_left[row].argmax())
        assert score == pytest.approx(float(mirror_score(test.on_left[row, best : best + 1], test.on_right[row, best : best + 1])))
    assert float(top[1]) == pytest.approx(1.0)  # the left unit's best image is a left arrow, which mirrored it ignores


def test_dog_imagery_without_classes_or_photographs(monkeypatch, tmp_path):
    import helpers.dog_imagery as dog_imagery

    model = types.SimpleNamespace(labels=["cat", "pug"])
    rendered = []
    monkeypatch.setattr(dog_imagery, "render", lambda model, objectives, **options: rendered.append(options)
                        or types.SimpleNamespace(images=torch.zeros(len(objectives), 3, 8, 8)))
    images, classes = dog_imagery.dog_class_visualizations(model, ["pug", "beagle"], steps=2, size=8, progress=False)
    assert classes == [1] and images.shape == (1, 3, 8, 8) and rendered == [{"steps": 2, "size": 8, "progress": False}]
    images, classes = dog_imagery.dog_class_visualizations(model, ["beagle"], steps=2, size=8)
    assert classes == [] and images.shape == (0, 3, 8, 8)
    monkeypatch.setattr(dog_imagery, "DATASETS_DIR", tmp_path)
    assert dog_imagery.imagewoof_photos(16, max_images=4).shape == (0, 3, 16, 16)


def test_article_units_verdict(monkeypatch):
    import helpers.mirror

    scores = torch.tensor([0.8, 0.7, 0.9, 0.6, 0.1, 0.2])  # the four oriented units, then the two invariant ones
    monkeypatch.setattr(helpers.mirror, "orientation_per_image", lambda *args, **options: scores)
    gain = {"mixed4a": torch.zeros(512), "mixed4b": torch.zeros(512)}
    for name in ("mixed4a:222", "mixed4a:308", "mixed4b:429", "mixed4b:443"):
        layer, channel = name.split(":")
        gain[layer][int(channel)] = 1.0
    holds, line = helpers.mirror.article_units_verdict(None, gain, torch.zeros(2, 3, 8, 8), steps=2, size=8)
    assert holds and "oriented 0.75, invariant 0.15" in line
    gain["mixed4b"][443] = -1.0  # one of the four is no longer a head unit
    assert not helpers.mirror.article_units_verdict(None, gain, torch.zeros(2, 3, 8, 8), steps=2, size=8)[0]
    holds, line = helpers.mirror.article_units_verdict(None, gain, torch.zeros(0, 3, 8, 8), steps=2, size=8)
    assert not holds and "no dog imagery" in line


def test_verdicts_of_the_claims():
    inhibition = PathwayInhibition(0.5, -0.4, np.zeros(99), np.linspace(-0.3, 0.3, 99))
    assert inhibition.p == pytest.approx(0.01)
    assert inhibition.verdict(6, 5)[0] and not inhibition.verdict(6, 4)[0]  # too few pairs in one layer
    assert not PathwayInhibition(0.5, -0.1, np.zeros(99), np.linspace(-0.3, 0.3, 99)).verdict(6, 6)[0]
    assert "p = 0.010" in inhibition.describe() and "cross weight -0.400" in inhibition.describe()
    from_a = torch.randn(4, 12, generator=torch.Generator().manual_seed(0))
    assert PairWeights([], [], from_a, from_a).union_verdict()[0]
    assert not PairWeights([], [], from_a, -from_a).union_verdict()[0]
    found = TransformedCopies("rotation", np.array([0.9, 0.6, 0.2, 0.1]), np.zeros(4), np.array([0.5, 0.7, 0.1, 0.0]))
    holds, line = found.verdict(0.5, 0.5, layer="conv")
    assert holds and "50% of 4 units of conv" in line and "50%" in found.describe(0.5)
    assert not found.verdict(0.5, 0.75)[0]


def test_first_wide_layer_and_the_figures(model):
    from helpers.mirror import own_image_test
    from helpers.plotting.dog_heads import oriented_and_invariant_figure
    from helpers.plotting.equivariance import weight_pictures_figure
    from helpers.weights.equivariance import first_wide_layer

    assert first_wide_layer(model, min_width=9)[0] == "merge"  # 7 x 7, then 9 x 9 through the 3 x 3 convolution
    name, weights = first_wide_layer(model, min_width=7)
    assert name == "heads" and weights.shape == (3, 3, 7, 7)
    arrow = left_arrows(1)[0]
    units = [model.unit("heads:0"), model.unit("merge:2")]
    test = own_image_test(model, units, torch.stack([arrow, arrow]))
    figure = oriented_and_invariant_figure(test, {unit: arrow for unit in units})
    assert figure.axes[0].get_title().startswith("heads:0") and figure.axes[2].get_title().startswith("merge:2")
    plt.close(figure)
    with pytest.raises(ValueError, match="two units"):
        oriented_and_invariant_figure(test.subset(units[:1]), {})
    plt.close(weight_pictures_figure([weights[0], -weights[0]], ["a", "b"]))
