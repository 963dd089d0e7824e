"""Tests of helpers.mirror and helpers.union_weights on a tiny hand-built network whose left, right and union units are known.

Layer ``heads`` (conv 7x7 + ReLU): channel 0 matches a left-pointing arrow, channel 1 its mirror
image (a right-pointing arrow), channel 2 never fires. Layer ``merge`` (conv 3x3 + ReLU): channel 0
= left - right (the left path, inhibited by the right one), channel 1 = right - left, channel 2 =
left + right spread evenly over the kernel (the union).
"""
import pytest
import torch
from torch import nn

from helpers import wrap_model
from helpers.mirror import classify_mirror, mirror_score, mirror_test
from helpers.union_weights import excitation, inhibition, net_weight, union_summary, weights_between

ARROW = torch.tensor(
    [
        [0, 0, 0, 1, 0, 0, 0],
        [0, 0, 1, 0, 0, 0, 0],
        [0, 1, 0, 0, 0, 0, 0],
        [1, 1, 1, 1, 0, 0, 0],
        [0, 1, 0, 0, 0, 0, 0],
        [0, 0, 1, 0, 0, 0, 0],
        [0, 0, 0, 1, 0, 0, 0],
    ],
    dtype=torch.float32,
)  # points left


def build_network():
    template = ARROW - ARROW.mean()
    match = float((template * ARROW).sum())
    heads = nn.Conv2d(3, 3, 7, padding=3)
    merge = nn.Conv2d(3, 3, 3, padding=1)
    with torch.no_grad():
        heads.weight.zero_()
        heads.weight[0] = template / 3  # the same kernel on R, G and B
        heads.weight[1] = template.flip(-1) / 3
        heads.bias.copy_(torch.tensor([-0.6 * match, -0.6 * match, -1e3]))
        merge.weight.zero_()
        merge.bias.zero_()
        merge.weight[0, 0, 1, 1], merge.weight[0, 1, 1, 1] = 1.0, -1.0
        merge.weight[1, 1, 1, 1], merge.weight[1, 0, 1, 1] = 1.0, -1.0
        merge.weight[2, 0] = 1.0 / 9
        merge.weight[2, 1] = 1.0 / 9
    module = nn.Sequential(heads, nn.ReLU(), merge, nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(3, 2))
    return wrap_model(module, {"heads": "1", "merge": "3"}, name="tiny_heads", input_size=32)


@pytest.fixture(scope="module")
def model():
    return build_network()


def left_arrows(count: int = 6, size: int = 32) -> torch.Tensor:
    generator = torch.Generator().manual_seed(0)
    images = torch.zeros(count, 3, size, size)
    for i in range(count):
        top, left = torch.randint(2, size - 9, (2,), generator=generator).tolist()
        images[i, :, top : top + 7, left : left + 7] = ARROW
    return images


def test_the_template_is_asymmetric_enough_for_the_test():
    template = ARROW - ARROW.mean()
    assert float((template.flip(-1) * ARROW).sum()) < 0.6 * float((template * ARROW).sum())


@pytest.mark.parametrize("facing", ["left", "right"])
def test_mirror_test_sorts_the_known_units(model, facing):
    images = left_arrows() if facing == "left" else left_arrows().flip(-1)
    units = ["heads:0", "heads:1", "heads:2", "merge:0", "merge:1", "merge:2"]
    result = mirror_test(model, units, images, facing=facing)
    assert result.labels == ["left", "right", "silent", "left", "right", "invariant"]
    assert float(result.left_score[0]) == pytest.approx(1.0)
    assert float(result.left_score[1]) == pytest.approx(-1.0)
    assert abs(float(result.left_score[5])) < 0.05
    assert result.units_labelled("invariant") == [model.unit("merge:2")]
    assert result.image_scores.shape == (6, len(images))
    assert torch.allclose(result.image_scores[0], torch.ones(len(images)))  # every single pair: left only
    assert result.label_of("merge:1") == "right"
    assert "merge:2" in result.table()


def test_subset_and_most_oriented(model):
    result = mirror_test(model, ["heads:0", "heads:1", "heads:2", "merge:2"], left_arrows())
    part = result.subset(["merge:2", "heads:1"])
    assert part.labels == ["invariant", "right"]
    assert result.most_oriented("left", 1) == [model.unit("heads:0")]
    assert result.most_oriented("right", 1) == [model.unit("heads:1")]
    assert model.unit("heads:2") not in result.most_oriented("left", 4, min_peak=0.5)  # silent
    with pytest.raises(ValueError, match="not part"):
        result.subset(["merge:0"])


def test_labels_swap_when_the_facing_is_declared_wrong(model):
    result = mirror_test(model, ["heads:0", "heads:1", "merge:2"], left_arrows(), facing="right")
    assert result.labels == ["right", "left", "invariant"]


def test_scores_and_thresholds():
    on_left = torch.tensor([[3.0, 3.0], [1.0, 1.0], [1.5, 1.5], [0.0, 0.0]])
    on_right = torch.tensor([[1.0, 1.0], [3.0, 3.0], [1.0, 1.0], [0.0, 0.0]])
    scores = mirror_score(on_left, on_right)
    assert scores.tolist() == pytest.approx([0.5, -0.5, 0.2, 0.0])
    peaks = torch.maximum(on_left.amax(1), on_right.amax(1))
    assert classify_mirror(scores, peaks) == ["left", "right", "invariant", "silent"]
    assert classify_mirror(scores, peaks, threshold=0.1) == ["left", "right", "left", "silent"]
    with pytest.raises(ValueError, match="threshold"):
        classify_mirror(scores, peaks, threshold=1.5)


def test_union_unit_is_excited_by_both_cases_with_the_known_spatial_pattern(model):
    summary = union_summary(model, ["heads:0"], ["heads:1"], "merge:2")
    assert summary.excited_by_both
    assert summary.left_net == pytest.approx(1.0) and summary.right_net == pytest.approx(1.0)
    assert summary.balance == pytest.approx(1.0)
    assert torch.allclose(summary.left_map, torch.full((3, 3), 1 / 9))
    assert "from left" in summary.describe()
    one_sided = union_summary(model, ["heads:0"], ["heads:1"], "merge:0")
    assert one_sided.left_net > 0 > one_sided.right_net
    assert not one_sided.excited_by_both and one_sided.balance == 0.0


def test_excitation_and_inhibition_signs(model):
    weights = weights_between(model, ["heads:0", "heads:1"], ["merge:0", "merge:1", "merge:2"])
    assert weights.shape == (3, 2, 3, 3)
    assert torch.all(excitation(weights) >= 0) and torch.all(inhibition(weights) <= 0)
    assert torch.allclose(excitation(weights) + inhibition(weights), net_weight(weights))
    assert float(inhibition(weights)[0, 1]) == pytest.approx(-1.0)  # right inhibits the left path
    assert float(excitation(weights)[0, 0]) == pytest.approx(1.0)


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda m: mirror_test(m, ["heads:0"], left_arrows(), facing="up"), "facing"),
        (lambda m: mirror_test(m, ["heads:0"], left_arrows()[0]), "images"),
        (lambda m: weights_between(m, ["heads:0", "merge:0"], ["merge:1"]), "one layer"),
        (lambda m: weights_between(m, ["merge:0"], ["heads:1"]), "forward"),
        (lambda m: mirror_test(m, ["heads:9"], left_arrows()), "channels"),
    ],
)
def test_bad_input_is_explained(model, call, message):
    with pytest.raises(ValueError, match=message):
        call(model)


def mixed_arrows(count: int = 12) -> torch.Tensor:
    """Left arrows of varied contrast, half of them with a right arrow of another contrast beside them."""
    generator = torch.Generator().manual_seed(1)
    images = left_arrows(count) * (0.7 + 0.3 * torch.rand(count, 1, 1, 1, generator=generator))
    images[::2, :, 20:27, 22:29] += (0.7 + 0.3 * torch.rand(count // 2, 1, 1, 1, generator=generator)) * ARROW.flip(-1)
    return images.clamp(0, 1)


def test_own_image_test_and_mirror_partners(model):
    from helpers.mirror import own_image_test, partners_from_test

    arrow = left_arrows(1)[0]
    own = own_image_test(model, ["heads:0", "heads:1"], torch.stack([arrow, arrow.flip(-1)]))
    assert own.labels == ["left", "left"]  # each answers its own image and not the mirror image
    with pytest.raises(ValueError, match="one"):
        own_image_test(model, ["heads:0"], torch.stack([arrow, arrow]))
    images = mixed_arrows()
    partners = partners_from_test(mirror_test(model, model.units("heads"), images))
    assert partners.partner[:2].tolist() == [1, 0]  # the mirrored kernels follow each other exactly
    assert float(partners.partner_correlation[0]) == pytest.approx(1.0, abs=1e-4)
    assert partners.pairs() == [(model.unit("heads:0"), model.unit("heads:1"))]
    assert partners.pairs(max_self=float(partners.self_correlation[0]) - 0.01) == []
    assert "heads:0" in partners.table(partners.pairs())
    with pytest.raises(ValueError, match="ONE layer"):
        partners_from_test(mirror_test(model, ["heads:0", "merge:2"], images))


def test_pair_weights_read_the_union(model):
    from helpers.union_weights import pair_weights

    weights = pair_weights(model, [("heads:0", "heads:1")], model.units("merge"))
    assert weights.from_a[:, 0].tolist() == pytest.approx([1.0, -1.0, 1.0])  # merge 0: left - right, 1: right - left, 2: union
    assert weights.from_b[:, 0].tolist() == pytest.approx([-1.0, 1.0, 1.0])
    assert weights.most_even() == (2, 0)  # the union takes +1 from both members
    with pytest.raises(ValueError, match="pair"):
        pair_weights(model, [], model.units("merge"))


def test_pair_symmetry_against_shuffled_pairs():
    from helpers.union_weights import PairWeights

    generator = torch.Generator().manual_seed(0)
    from_a = torch.randn(5, 10, generator=generator)
    symmetric = PairWeights([], [], from_a, from_a + 0.01 * torch.randn(5, 10, generator=generator))
    assert float(symmetric.symmetry().min()) > 0.99
    assert float(symmetric.symmetry(shuffled=True).median()) < 0.9  # every A with another pair's B


def test_most_even_reads_target_and_pair():
    from helpers.union_weights import PairWeights

    from_a = torch.tensor([[1.0, 5.0, 0.2], [2.0, 0.1, 3.0]])  # (2 targets, 3 pairs)
    from_b = torch.tensor([[1.0, 0.5, 4.0], [2.5, 9.0, 2.5]])
    assert PairWeights([], [], from_a, from_b).most_even() == (1, 2)  # min(3.0, 2.5) is the largest weaker weight


def test_partner_answers_and_pair_pictures(model, monkeypatch):
    import types

    import helpers.mirror
    from helpers.mirror import mirror_pair_pictures, partner_answers
    from helpers.plotting.dog_heads import pair_pictures_figure

    left = left_arrows(2)
    pictures = {model.unit("heads:0"): left[0], model.unit("heads:1"): left[1].flip(-1)}
    answers = partner_answers(model, [("heads:0", "heads:1")], pictures)
    assert answers.shape == (2, 2)
    assert bool((answers[:, 0] > 0).all()) and bool((answers[:, 1] < 0).all())  # before the ReLU: inhibited on the picture
    assert partner_answers(model, [], pictures).shape == (0, 2)
    rendered = []  # rendering is tested with featurevis; here the members' pictures are known arrows

    def render_units(model, units, **options):
        rendered.append(([str(u) for u in units], options))
        return types.SimpleNamespace(images=torch.stack([left[0], left[1].flip(-1)]))

    monkeypatch.setattr(helpers.mirror, "render_units", render_units)
    paired = mirror_pair_pictures(model, [("heads:1", "heads:0")], steps=2, size=32, progress=False)
    assert rendered == [(["heads:0", "heads:1"], {"steps": 2, "size": 32, "progress": False})]  # one batch, in name order
    assert paired.answers.tolist() == partner_answers(model, [("heads:1", "heads:0")], pictures).tolist()
    assert paired.wins == [True, True]
    assert [str(u) for u in paired.units] == ["heads:0", "heads:1"] and paired.answers.shape == (2, 2)
    assert mirror_pair_pictures(model, [], steps=2, size=32, progress=False).answers.shape == (0, 2)
    figure = pair_pictures_figure(paired)
    assert [ax.get_title().split("\n")[0] for ax in figure.axes[:3]] == ["A = heads:1", "mirror(A's image)", "B = heads:0"]
    import matplotlib.pyplot as plt

    plt.close(figure)


def test_active_invariant_keeps_units_that_follow_themselves_and_respond():
    from helpers.mirror import MirrorPartners
    from helpers.models import Unit

    correlation = torch.diag(torch.tensor([0.95, 0.95, 0.3, 0.9, 0.99]))
    mean_response = torch.tensor([2.0, 0.1, 3.0, 1.5, 0.5])  # median 1.5: only units above it count as active
    partners = MirrorPartners("x", [Unit("x", c) for c in range(5)], correlation, mean_response)
    assert [u.channel for u in partners.active_invariant()] == [0]
    assert [u.channel for u in partners.active_invariant(min_self=0.2)] == [0, 2]


def test_orientation_per_image_with_and_without_images(model, monkeypatch):
    import types

    import helpers.mirror
    from helpers.mirror import orientation_per_image

    images = mixed_arrows()
    scores = orientation_per_image(model, ["heads:0", "merge:2"], images, steps=2, size=32)
    assert scores.tolist() == mirror_test(model, ["heads:0", "merge:2"], images).image_scores.abs().mean(1).tolist()
    assert float(scores[0]) > float(scores[1])  # the left unit is oriented image by image, the union is not
    arrow = left_arrows(1)[0]
    monkeypatch.setattr(helpers.mirror, "render_units",  # no images: each unit's own picture (known arrows here)
                        lambda model, units, **options: types.SimpleNamespace(images=torch.stack([arrow, arrow.flip(-1)])))
    own = orientation_per_image(model, ["heads:0", "heads:1"], torch.zeros(0, 3, 32, 32), steps=2, size=32)
    assert own.tolist() == pytest.approx([1.0, 1.0])
