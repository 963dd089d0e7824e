"""Lesson 05's measurements moved out of the notebook: the mutual mirror pairs, head units by dog imagery, scores on
each unit's top images, the claims' verdicts, the first wide layer, the lesson's small figures, the union reading, the
union and inhibition reports and the lines that print a student's result beside the lesson's. On
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


def test_union_reading_is_what_pair_weights_read():
    from helpers.union_weights import union_reading

    generator = torch.Generator().manual_seed(3)
    from_a, from_b = torch.randn(4, 7, generator=generator), torch.randn(4, 7, generator=generator)
    order = torch.tensor([2, 0, 6, 1, 5, 3, 4])
    symmetry, shuffled, (target, pair) = union_reading(from_a, from_b, order)
    expected = [float(np.corrcoef(from_a[t], from_b[t])[0, 1]) for t in range(4)]
    assert symmetry.tolist() == pytest.approx(expected, abs=1e-5)
    other = {2: 4, 0: 2, 6: 0, 1: 6, 5: 1, 3: 5, 4: 3}  # pair order[i] takes the B of pair order[i - 1]
    crossed = [float(np.corrcoef(from_a[t], from_b[t, [other[p] for p in range(7)]])[0, 1]) for t in range(4)]
    assert shuffled.tolist() == pytest.approx(crossed, abs=1e-5)
    evenness = torch.minimum(from_a, from_b)
    assert float(evenness[target, pair]) == float(evenness.max())
    weights = PairWeights([], [], from_a, from_b)  # the lesson's class reads the same, its control with a seeded order
    seeded = torch.randperm(7, generator=torch.Generator().manual_seed(0))
    assert torch.equal(weights.symmetry(), symmetry)
    assert torch.equal(weights.symmetry(shuffled=True), union_reading(from_a, from_b, seeded)[1])
    assert weights.most_even() == (target, pair)


def test_claims_verdicts_moved_out_of_the_claims_cell():
    from helpers.mirror import PairPictures
    from helpers.union_weights import inhibition_verdict

    won = PairPictures([], {}, torch.tensor([[2.0, 1.0], [3.0, 0.5], [1.0, 2.0], [4.0, 1.0]]))
    assert won.verdict(min_pairs=4, min_share=0.75) == (True, "3 of 4 directed pairs")
    assert not won.verdict(min_pairs=5, min_share=0.75)[0] and not won.verdict(min_pairs=4, min_share=0.8)[0]
    assert PairPictures([], {}, torch.zeros(0, 2)).verdict() == (False, "0 of 0 directed pairs")
    assert inhibition_verdict(None, 6, 6) == (False, "no mirror pairs in one of the layers")
    inhibition = PathwayInhibition(0.5, -0.4, np.zeros(99), np.linspace(-0.3, 0.3, 99))
    assert inhibition_verdict(inhibition, 6, 5) == inhibition.verdict(6, 5, min_pairs=5, max_p=0.05)


def test_background_crops(monkeypatch):
    import helpers.dog_imagery as dog_imagery

    photos = {name: torch.rand(3, 40, 50) for name in dog_imagery.BACKGROUND_PHOTOS}
    monkeypatch.setattr(dog_imagery, "sample_photos", lambda names: {name: photos[name] for name in names})
    crops = dog_imagery.background_crops(16, count=5)
    assert crops.shape == (5, 3, 16, 16) and torch.equal(crops, dog_imagery.background_crops(16, count=5))


def test_union_and_inhibition_reports(model, capsys):
    from helpers.mirror import mirror_test
    from helpers.plotting.dog_heads import dog_imagery_figure, inhibition_report, union_report

    assert union_report(model, [], model.units("merge"), "merge") is None
    assert "merge: 3 active mirror-invariant units" in capsys.readouterr().out
    weights = union_report(model, [("heads:0", "heads:1")], model.units("merge"), "merge")
    out = capsys.readouterr().out
    assert weights.most_even() == (2, 0) and "Most even union: merge:2 takes +1.000 from heads:0 and +1.000 from heads:1" in out
    assert len(plt.get_fignums()) == 2
    plt.close("all")
    images = mixed_arrows()
    first, second = (mirror_test(model, model.units(layer), images) for layer in ("heads", "merge"))
    assert inhibition_report(model, first, second, [], [("merge:0", "merge:1")], draws=5) is None
    assert "Mirror pairs in heads: 0, in merge: 1" in capsys.readouterr().out
    found = inhibition_report(model, first, second, [("heads:0", "heads:1")], [("merge:0", "merge:1")], draws=5)
    assert found.cross < 0 and "1 pairs in heads, 1 in merge: same-side weight" in capsys.readouterr().out
    plt.close("all")
    labelled = types.SimpleNamespace(labels=["pug", "beagle"])
    assert dog_imagery_figure(labelled, torch.zeros(0, 3, 8, 8), []) is None
    figure = dog_imagery_figure(labelled, torch.rand(2, 3, 8, 8), [1, 0])
    assert [ax.get_title() for ax in figure.axes[:2]] == ["beagle", "pug"]
    plt.close(figure)


def test_results_beside_the_course(capsys):
    from helpers.mirror import PairPictures
    from helpers.plotting import dog_heads as shown

    copies = TransformedCopies("rotation", np.array([0.9, 0.6, 0.2, 0.1]), np.zeros(4), np.zeros(4))
    shown.copies_beside_the_course(None, copies, "conv")
    shown.copies_beside_the_course(torch.tensor([0.9, 0.1, 0.7, 0.2]), copies, "conv")
    paired = PairPictures([("a", "b")], {}, torch.tensor([[2.0, 1.0], [1.0, 3.0]]))
    shown.partner_answers_beside_the_course(None, PairPictures([], {}, torch.zeros(0, 2)), "heads")
    shown.partner_answers_beside_the_course(..., paired, "heads")
    shown.partner_answers_beside_the_course(torch.tensor([[2.0, 1.0], [3.0, 1.0]]), paired, "heads")
    partners = MirrorPartners("x", [Unit("x", c) for c in range(4)], torch.eye(4), torch.zeros(4))
    shown.mirror_pairs_beside_the_course(None, partners, [(0, 1)])
    shown.mirror_pairs_beside_the_course([(0, 1), (2, 3)], partners, [(0, 1)])
    weights = PairWeights([], [Unit("m", 0), Unit("m", 1)], torch.tensor([[1.0, 2.0, 3.0], [0.0, 1.0, 0.5]]),
                          torch.tensor([[1.0, 2.5, 3.0], [1.0, 0.0, 0.2]]))
    shown.union_reading_beside_the_course(None, None)
    shown.union_reading_beside_the_course(None, weights)
    shown.union_reading_beside_the_course((torch.zeros(2), torch.ones(2), (0, 2)), weights)
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("Write my_transform_weights (exercise 3)")
    assert lines[1] == "conv, a quarter turn: with your functions 50% of the units have a copy (median best r 0.20); " \
                       "section 9: 50% (median 0.40)"
    assert lines[2] == "No mirror pairs in heads: nothing to test with your function."
    assert lines[3].startswith("Write my_partner_answers (exercise 7)")
    assert lines[4].endswith("more in 2 of 2 directed pairs; section 6: 1 of 2")
    assert lines[5].startswith("Write my_mirror_pairs (exercise 8)")
    assert lines[6] == "x: with your function 2 mutual mirror pairs (100% of the units); section 6: 1 (50%)"
    assert lines[7].startswith("Section 7 found no pairs") and lines[8].startswith("Write my_union_reading (exercise 9)")
    assert lines[9].startswith("With your function: median +0.00 (another pair's B: +1.00), most even union m:0 with pair 2")
    assert lines[10].startswith("Section 7:") and lines[10].endswith("most even union m:0 with pair 2")
