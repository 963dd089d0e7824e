"""helpers.interventions on a hand-built network whose answers are known exactly."""
from __future__ import annotations

import importlib

import numpy as np
import pytest
import torch
from torch import nn

from helpers import capture, wrap_model
from helpers.dataset_examples import model_fingerprint
from helpers.interventions import (
    ablated, ablation_prediction_change, attribution, layer_means, logits_of, patched, prediction_change, replaced_weights, spliced,
)

SIZE = 8


def hand_built() -> "object":
    """a (3 -> 4 units, 1x1, + ReLU), b (4 -> 2 units, 3x3, + ReLU), then a linear classifier.

    a:i copies colour channel i % 3 (times i + 1); b:0 sums every a unit over its 3x3 window with
    weight 1 at the centre and 0 elsewhere, so b:0 = a:0 + a:1 + a:2 + a:3 at each position; b:1
    reads only a:1, with weight 2.
    """
    torch.manual_seed(0)
    first = nn.Conv2d(3, 4, 1, bias=False)
    second = nn.Conv2d(4, 2, 3, padding=1, bias=True)
    with torch.no_grad():
        first.weight.zero_()
        for i in range(4):
            first.weight[i, i % 3] = i + 1
        second.weight.zero_()
        second.weight[0, :, 1, 1] = 1.0
        second.weight[1, 1, 1, 1] = 2.0
        second.bias.copy_(torch.tensor([0.5, -0.25]))
    module = nn.Sequential(first, nn.ReLU(), second, nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(2, 3))
    return wrap_model(module, {"a": "1", "b": "3"}, name="hand_built", input_size=SIZE)


def images(count: int = 3, seed: int = 1) -> torch.Tensor:
    return torch.rand(count, 3, SIZE, SIZE, generator=torch.Generator().manual_seed(seed))


def test_zero_ablation_removes_exactly_the_units_contribution() -> None:
    model, x = hand_built(), images()
    before = capture(model, x, ["a", "b"], pre_activation=True)
    a = capture(model, x, "a")["a"]
    with ablated(model, ["a:1"]):
        after = capture(model, x, ["a", "b"])
        after_pre = capture(model, x, "b", pre_activation=True)["b"]
    assert torch.all(after["a"][:, 1] == 0) and torch.equal(after["a"][:, [0, 2, 3]], a[:, [0, 2, 3]])
    assert torch.allclose(after_pre[:, 0], before["b"][:, 0] - a[:, 1], atol=1e-6)
    assert torch.allclose(after_pre[:, 1], torch.full_like(after_pre[:, 1], -0.25))  # b:1 read only a:1
    # the pre-activation of the ablated layer itself is untouched: ablation acts on the unit's output
    with ablated(model, "a:1"):
        assert torch.equal(capture(model, x, "a", pre_activation=True)["a"], before["a"])


def test_mean_ablation_uses_the_data_mean() -> None:
    model, data = hand_built(), images(5, seed=2)
    means = layer_means(model, "a", data, batch_size=2)
    a = capture(model, data, "a")["a"]
    assert torch.allclose(means, a.mean(dim=(0, 2, 3)), atol=1e-6)
    with ablated(model, ["a:0", "a:3"], mode="mean", means=means):
        after = capture(model, images(), "a")["a"]
    assert torch.allclose(after[:, 0], torch.full_like(after[:, 0], float(means[0])))
    assert torch.allclose(after[:, 3], torch.full_like(after[:, 3], float(means[3])))
    with pytest.raises(ValueError, match="means"):
        with ablated(model, "a:0", mode="mean"):
            pass


def test_restore_is_exact_also_after_an_exception() -> None:
    model, x = hand_built(), images()
    logits = model(x)
    fingerprint = model_fingerprint(model)
    modules = dict(model.module.named_modules())
    with pytest.raises(RuntimeError, match="inside"):
        with ablated(model, ["a:0", "b:1"]), patched(model, "a", images(1, seed=5)):
            assert model_fingerprint(model) != fingerprint  # a cached scan of the intact network is never reused
            raise RuntimeError("inside the block")
    with pytest.raises(RuntimeError, match="inside"):
        with replaced_weights(model, {"2.weight": (0, torch.zeros(4, 3, 3))}):
            assert not torch.equal(model(x), logits)
            raise RuntimeError("inside the block")
    assert torch.equal(model(x), logits)
    assert model_fingerprint(model) == fingerprint
    assert dict(model.module.named_modules()).keys() == modules.keys()
    assert all(modules[name] is module for name, module in model.module.named_modules())


def test_empty_ablation_changes_nothing() -> None:
    model, x = hand_built(), images()
    with ablated(model, []):
        assert torch.equal(model(x), hand_built()(x))


def test_patching_reproduces_the_source_activation() -> None:
    model, x, source = hand_built(), images(3), images(3, seed=9)
    wanted = capture(model, source, ["a", "b"])
    with patched(model, "a", source):
        got = capture(model, x, ["a", "b"])
    assert torch.equal(got["a"], wanted["a"])
    assert torch.allclose(got["b"], wanted["b"], atol=1e-6)  # b depends only on a: the whole downstream follows
    with patched(model, "a", source[:1], channels=[1]):  # one image patched into all, one channel only
        partial = capture(model, x, "a")["a"]
    assert torch.equal(partial[:, 1], wanted["a"][:1, 1].expand_as(partial[:, 1]))
    assert torch.equal(partial[:, 0], capture(model, x, "a")["a"][:, 0])


def test_splice_puts_a_function_of_the_image_in_place_of_units() -> None:
    model, x = hand_built(), images()
    with spliced(model, "a", [2], lambda im, size: im[:, :1] * 10, key="ten times red"):
        got = capture(model, x, "a")["a"]
    assert torch.allclose(got[:, 2], x[:, 0] * 10)
    with pytest.raises(ValueError, match="must return"):
        with spliced(model, "a", [2, 3], lambda im, size: im[:, :1]):
            capture(model, x, "a")


def test_replaced_weights_and_restore() -> None:
    model, x = hand_built(), images()
    before = capture(model, x, "b")["b"]
    new = torch.zeros(4, 3, 3)
    new[3, 1, 1] = 1.0  # b:1 now copies a:3 (4 x the red... channel 0) instead of 2 x a:1
    with replaced_weights(model, {"2.weight": (1, new), "2.bias": (1, 0.0)}):
        after = capture(model, x, ["a", "b"])
    assert torch.allclose(after["b"][:, 1], after["a"][:, 3].clamp(min=0), atol=1e-6)
    assert torch.equal(capture(model, x, "b")["b"], before)


def test_attribution_splits_a_unit_into_its_inputs() -> None:
    model, x = hand_built(), images(2)
    a = capture(model, x, "a")["a"]
    found = attribution(model, "b:0", x, positions=[(3, 4), (0, 0)])
    assert found.maps.shape == (2, 4, SIZE, SIZE)
    assert torch.allclose(found.per_input[0], a[0, :, 3, 4], atol=1e-6)  # weight 1 at the centre: activation itself
    assert torch.allclose(found.total, torch.stack([a[0, :, 3, 4].sum(), a[1, :, 0, 0].sum()]), atol=1e-5)
    one = attribution(model, "b:1", x)
    assert torch.allclose(one.per_input[:, 1], 2 * a[:, 1].flatten(1).amax(1), atol=1e-5)
    assert torch.all(one.per_input[:, [0, 2, 3]] == 0)
    assert one.share_on([1]).tolist() == [1.0, 1.0] and one.strongest_inputs(0, 1) == [1]


def test_prediction_change_of_an_ablation_against_the_intact_network() -> None:
    model, x = hand_built(), images(6, seed=3)
    intact = logits_of(model, x)
    nothing = ablation_prediction_change(model, x, [])
    assert nothing.kl == pytest.approx(0.0, abs=1e-7) and nothing.agreement == 1.0
    with ablated(model, ["a:0", "a:1"]):
        by_hand = prediction_change(intact, logits_of(model, x))
    assert by_hand.kl > 0
    assert ablation_prediction_change(model, x, ["a:0", "a:1"], mode="zero") == by_hand
    assert ablation_prediction_change(model, x, ["a:0", "a:1"], mode="zero", intact=intact) == by_hand
    means = layer_means(model, "a", images(5, seed=2))
    with ablated(model, ["a:2"], mode="mean", means=means):
        held = prediction_change(intact, logits_of(model, x))
    assert ablation_prediction_change(model, x, ["a:2"], means=means, intact=intact) == held
    assert torch.equal(logits_of(model, x), intact)  # the network is restored


class TopExamples:
    """A stand-in for a dataset scan of layer b: each unit's top images and where it fired most in each."""

    def __init__(self, x: torch.Tensor, positions: list[tuple[int, int]]) -> None:
        self.x, self.positions = x, positions

    def top_images(self, channel: int, count: int) -> torch.Tensor:
        return self.x[:count]

    def top_positions(self, channel: int, count: int) -> torch.Tensor:
        return torch.tensor(self.positions[:count])


def test_top_example_values_read_each_unit_at_its_top_positions_with_an_ablation() -> None:
    from helpers.interventions import top_example_values

    model, x = hand_built(), images(3, seed=4)
    scan = TopExamples(x, [(1, 2), (5, 5), (0, 7)])
    b = capture(model, x, "b")["b"]
    intact = top_example_values(model, model.units("b", [0, 1]), scan, 2)
    assert intact.tolist() == pytest.approx([float(b[0, c, 1, 2] + b[1, c, 5, 5]) for c in (0, 1)], abs=1e-5)
    means = layer_means(model, "a", images(5, seed=2))
    held = top_example_values(model, model.units("b", [1]), scan, 3, ablate=["a:1"], means=means)
    assert held[0] == pytest.approx(3 * max(2 * float(means[1]) - 0.25, 0.0), abs=1e-5)  # b:1 = relu(2 a:1 - 0.25)
    assert torch.equal(capture(model, x, "b")["b"], b)  # the network is restored


def test_attribution_concentration_on_chosen_inputs_relative_to_chance() -> None:
    module = importlib.import_module("helpers.interventions.attribution")  # not the function of that name
    from helpers.interventions import attribution_concentration, top_example_attributions

    model, x = hand_built(), images(2, seed=5)
    scan = TopExamples(x, [(2, 3), (6, 1)])
    found = top_example_attributions(model, ["b:0", "b:1"], scan, 2)
    assert [f.positions for f in found] == [[(2, 3), (6, 1)]] * 2
    # b:1 reads only a:1: all of its attribution is on a:1, 4 times chance (1 input of 4), none on a:0
    assert attribution_concentration(model, ["b:1"], scan, [1], 2).tolist() == pytest.approx([4.0])
    assert attribution_concentration(model, ["b:1"], scan, [0, 2], 2).tolist() == [0.0]
    on_all = attribution_concentration(model, ["b:0", "b:1"], scan, [0, 1, 2, 3], 2)
    assert on_all.tolist() == pytest.approx([1.0, 1.0])  # every input: the share is 1, and so is chance
    assert np.allclose(module.concentration([f.maps for f in found], [0]),
                       [np.mean(f.share_on([0])) * 4 for f in found])
    silent = torch.full((2, 4, 3, 3), -1.0)  # nothing positive: a share of 0, not 0 / 0
    assert module.concentration([silent], [0, 1]).tolist() == [0.0]


def test_excited_clients_are_the_heaviest_readers_that_the_stimuli_excite() -> None:
    from helpers.interventions import excited_clients, make_probe, probe_responses
    from helpers.weights import family_usage

    model, x = hand_built(), images(4, seed=6)
    blank = torch.zeros(3, SIZE, SIZE)
    clients, usage = excited_clients(model, ["a:1", "a:3"], "b", x, blank, 5)
    assert np.allclose(usage, family_usage(model, ["a:1", "a:3"]).numpy())
    assert usage[1] > usage[0] > 0  # b:1 reads a:1 with weight 2, b:0 reads a:1 and a:3 with weight 1
    pool = model.units("b", [1, 0])
    probe = make_probe(pool, {"x": x}, blank)
    excited = [u for u, best in zip(pool, probe.evoked(probe_responses(model, probe), "x").max(0)) if best > 0]
    assert clients == excited and len(clients) == 2
    assert excited_clients(model, ["a:1", "a:3"], "b", x, blank, 1)[0] == excited[:1]
    assert excited_clients(model, ["a:1", "a:3"], "b", x, blank, 5, candidates=1)[0] == excited[:1]


def test_member_attribution_figure_shows_the_strongest_inputs_of_each_top_example() -> None:
    from matplotlib import pyplot as plt

    from helpers.plotting.interventions import member_attribution_figure

    class WithPatches(TopExamples):
        def top_patches(self, channel: int, count: int) -> torch.Tensor:
            return self.x[:count, :, :4, :4]

    model, x = hand_built(), images(3, seed=7)
    figure = member_attribution_figure(model, model.unit("b:0"), WithPatches(x, [(1, 1), (4, 6), (7, 7)]), [2],
                                       images=2, inputs=3)
    assert len(figure.axes) == 2 * (1 + 3) and "b:0" in figure.texts[0].get_text() + figure._suptitle.get_text()
    assert sum("(curve)" in ax.get_title() for ax in figure.axes) == 2  # input 2 is among every row's strongest three
    plt.close(figure)
    empty = member_attribution_figure(model, None, WithPatches(x, []), [])
    assert len(empty.axes) == 1
    plt.close(empty)


def test_probe_damage_measures_an_ablation_or_an_edit_against_the_intact_responses() -> None:
    from helpers.interventions import make_probe, probe_damage, probe_responses, response_damage
    from helpers.interventions.experiments import relative_change

    model, x = hand_built(), images(4, seed=7)
    probe = make_probe(model.units("b", [0, 1]), {"x": x[:3], "y": x[3:]}, torch.zeros(3, SIZE, SIZE))
    intact = probe_responses(model, probe)
    zeros = torch.zeros(4)  # layer a's "means": a mean ablation to 0
    damage, changed = probe_damage(model, probe, intact, ablate=["a:1"], means=zeros)
    assert np.array_equal(changed, probe_responses(model, probe, ablate=["a:1"], means=zeros))
    assert damage == response_damage(probe, intact, changed)
    rows = [0, 1, 2, len(intact) - 1]
    assert damage["x"] == relative_change(intact[rows], changed[rows]) > 0
    edited, _ = probe_damage(model, probe, intact, edit=ablated(model, ["a:1"], mode="zero"))
    assert edited == damage  # the zero ablation of a ReLU unit inside a with block: the same change
    assert probe_damage(model, probe, intact)[0] == {"x": 0.0, "y": 0.0}  # no intervention: nothing changed


def test_relative_change_by_hand_and_share_lost() -> None:
    from helpers.interventions import share_lost
    from helpers.interventions.experiments import relative_change

    intact = np.array([[4.0, 2.0, 3.0], [5.0, 1.0, 3.0], [1.0, 1.0, 3.0]])  # last row: the blank image; unit 2 unmoved
    changed = np.array([[4.0, 1.5, 9.0], [0.0, 1.0, 0.0], [1.0, 1.0, 1.0]])
    assert relative_change(intact, changed) == 0.75  # unit 0: 5 / 5, unit 1: 0.5 / 1, unit 2 left out
    assert np.isnan(relative_change(intact[:, 2:], changed[:, 2:]))
    lost = share_lost(np.array([2.0, 0.0, -1.0]), np.array([0.5, 1.0, -2.0]))
    assert lost[0] == 0.75 and np.isnan(lost[1]) and lost[2] == -1.0


def test_evoked_strength_is_the_norm_of_each_units_evoked_response() -> None:
    from helpers.interventions import evoked_strength, make_probe, probe_responses

    model, x = hand_built(), images(3, seed=8)
    blank = torch.full((3, SIZE, SIZE), 0.5)
    strength = evoked_strength(model, "b", x, blank)
    responses = probe_responses(model, make_probe(model.units("b", [0, 1]), {"x": x}, blank))
    assert strength.shape == (2,) and np.allclose(strength, np.linalg.norm(responses[:-1] - responses[-1], axis=0))
    assert np.all(evoked_strength(model, "b", blank[None].repeat(2, 1, 1, 1), blank) == 0)  # the blank evokes nothing


def test_mean_ablation_weights_equal_the_activation_ablation_and_come_back() -> None:
    from helpers.interventions import mean_ablation_weights

    class NormAct(nn.BatchNorm2d):  # EfficientNet-Lite's BatchNormAct2d: the layer is its .act
        def __init__(self, channels: int) -> None:
            super().__init__(channels)
            self.act = nn.ReLU6()

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.act(super().forward(x))

    torch.manual_seed(3)
    module = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), NormAct(4), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 2)).eval()
    with torch.no_grad():
        module[1].running_mean.uniform_(-0.5, 0.5)
        module[1].bias.uniform_(0.5, 1.0)
    model = wrap_model(module, {"n": "1.act"}, name="normed", input_size=SIZE)
    x = images(3, seed=8)
    means = layer_means(model, "n", images(4, seed=9))
    edits = mean_ablation_weights(model, ["n:0", "n:2"], means)
    assert set(edits) == {"1.weight", "1.bias"} and edits["1.weight"][0] == [0, 2]
    with ablated(model, ["n:0", "n:2"], mode="mean", means=means):
        expected = logits_of(model, x)
    intact = logits_of(model, x)
    with replaced_weights(model, edits):
        assert torch.allclose(logits_of(model, x), expected, atol=1e-6)
    assert torch.equal(logits_of(model, x), intact)
    with pytest.raises(NotImplementedError):
        mean_ablation_weights(hand_built(), ["a:0"], torch.zeros(4))
    with pytest.raises(ValueError, match="one per unit"):
        mean_ablation_weights(model, ["n:0"], torch.zeros(3))


def test_matched_comparison_stands_out_beyond_the_draws_spread() -> None:
    from helpers.interventions import MatchedComparison, make_probe, matched_comparison, probe_damage, probe_responses

    spread = np.array([0.1, 0.2, 0.3])
    assert MatchedComparison(0.5, spread).limit == pytest.approx(max(0.3, 0.2 + 2 * spread.std()))
    assert MatchedComparison(0.5, spread).beyond and not MatchedComparison(0.3, spread).beyond
    assert MatchedComparison(0.4, spread).ratio == pytest.approx(2.0)
    assert "3 draws" in str(MatchedComparison(0.5, spread)) and "no control draws" in str(MatchedComparison(0.5, np.array([])))
    assert not MatchedComparison(float("nan"), spread).beyond
    model, x = hand_built(), images(4, seed=10)
    probe = make_probe(model.units("b", [0, 1]), {"curves": x}, torch.zeros(3, SIZE, SIZE))
    intact, means = probe_responses(model, probe), layer_means(model, "a", images(4, seed=11))
    found = matched_comparison(model, probe, intact, ["a:1"], 2, means=means, matched_on=np.arange(4.0), seed=1)
    assert found.value == probe_damage(model, probe, intact, ablate=["a:1"], means=means)[0]["curves"]
    assert len(found.spread) == 2 and np.all(np.isfinite(found.spread))


def test_random_prediction_changes_and_concentration_baselines() -> None:
    from helpers.interventions import ConcentrationBaselines, concentration_baselines, random_prediction_changes
    from helpers.interventions.attribution import attribution_concentration

    model, x = hand_built(), images(3, seed=12)
    means = layer_means(model, "a", x)
    changes = random_prediction_changes(model, x, "a", 1, 3, exclude=[0], means=means)
    assert len(changes) == 3 and all(c.kl >= 0 and 0 <= c.agreement <= 1 for c in changes)
    scan = TopExamples(x, [(2, 3), (6, 1), (4, 4)])
    found = concentration_baselines(model, ["b:1"], scan, [1], 2, matched_on=np.array([0.0, 1.0]), draws=2, exclude=[1])
    assert isinstance(found, ConcentrationBaselines) and found.units.tolist() == pytest.approx([4.0])
    assert found.units.tolist() == attribution_concentration(model, ["b:1"], scan, [1], 2).tolist()
    assert found.random.tolist() == attribution_concentration(model, ["b:0"], scan, [1], 2).tolist()  # the only other unit
    assert len(found.matched) == 2 and len(found.maps) == 1 and "per draw" in str(found)


def test_probe_tuning_figure_reads_the_evoked_responses_of_one_group() -> None:
    from matplotlib import pyplot as plt

    from helpers.interventions import make_probe, probe_responses
    from helpers.plotting.interventions import probe_tuning_figure

    model, x = hand_built(), images(4, seed=13)
    probe = make_probe(model.units("b", [0, 1]), {"curves": x}, torch.zeros(3, SIZE, SIZE))
    intact = probe_responses(model, probe)
    figure = probe_tuning_figure(probe, np.arange(4) * 90.0, {"intact": intact, "twice": 2 * intact}, title="t")
    assert len(figure.axes) == 2 and np.allclose(figure.axes[0].lines[0].get_ydata(), probe.evoked(intact, "curves")[:, 0])
    plt.close(figure)


def test_ablation_reference_and_listed_units_comparison() -> None:
    from helpers.interventions import (
        ablation_reference, listed_units_comparison, make_probe, matched_comparison, probe_responses,
    )

    model, x = hand_built(), images(5, seed=14)
    means = layer_means(model, "a", x)
    probe = make_probe(model.units("b", [0, 1]), {"curves": images(3, seed=15)}, torch.zeros(3, SIZE, SIZE))
    reference_means, intact = ablation_reference(model, probe, "a", x)
    assert torch.equal(reference_means, means) and np.array_equal(intact, probe_responses(model, probe))
    found, inside = listed_units_comparison(model, probe, intact, ["a:1", "a:2"], 2, family=["a:2", "a:3"], means=means,
                                            matched_on=np.arange(4.0), seed=3)
    assert inside == 1
    expected = matched_comparison(model, probe, intact, ["a:1", "a:2"], 2, means=means, matched_on=np.arange(4.0), seed=3)
    assert found.value == expected.value and np.array_equal(found.spread, expected.spread)
    empty = make_probe([], {"curves": images(2, seed=16)}, torch.zeros(3, SIZE, SIZE))
    assert listed_units_comparison(model, empty, probe_responses(model, empty), ["a:1"], 2, family=[], means=means,
                                   matched_on=np.arange(4.0)) == (None, 0)


def test_matched_channels_draw_free_near_non_members() -> None:
    from helpers.interventions import matched_channels

    key = np.array([0.0, 10.0, 1.0, 11.0, 2.0, 12.0])
    assert matched_channels(key, [0, 1], np.random.default_rng(0), pool=1) == [2, 3]  # nearest non-member each
    drawn = matched_channels(key, [0, 1], np.random.default_rng(0), pool=2)
    assert drawn[0] in (2, 4) and drawn[1] in (3, 5) and len(set(drawn)) == 2
    assert matched_channels(np.arange(3.0), [0, 1], np.random.default_rng(0), pool=1) == [2]  # runs out of free units


def test_lesson_10_verdicts_keep_the_claims_comparisons(monkeypatch: pytest.MonkeyPatch) -> None:
    from helpers.interventions import MatchedComparison, ablation_verdicts, article_curve_verdicts, verdicts

    family = {"curves": 0.9, "natural patches": 0.2}
    draws = {"curves": np.array([0.1, 0.2, 0.15]), "natural patches": np.array([0.2, 0.25, 0.15])}
    found = ablation_verdicts(family, draws, 0.4, -0.1, measured=True)
    assert found["beyond"] == (True, f"family {MatchedComparison(0.9, draws['curves'])}")
    assert found["specific"][0] and found["splice"] == (True, "undone 40%; turned 180°: -10%")
    assert not any(passed for passed, _ in ablation_verdicts(family, draws, 0.4, -0.1, measured=False).values())
    assert not ablation_verdicts(family, draws, 0.4, 0.2, measured=True)["splice"][0]  # the turned splice undid some too

    class Model:
        def units(self, layer, channels):
            return [f"{layer}:{c}" for c in channels]

    monkeypatch.setattr(verdicts, "listed_units_comparison",
                        lambda *args, **kwargs: (MatchedComparison(0.9, draws["curves"]), 7))
    article = article_curve_verdicts(Model(), None, None, 3, family=[], means=None, matched_on=None)
    assert article["beyond"][0] and article["inside"] == (True, "7 of 10 in the family")
    monkeypatch.setattr(verdicts, "listed_units_comparison", lambda *args, **kwargs: (None, 5))
    article = article_curve_verdicts(Model(), None, None, 3, family=[], means=None, matched_on=None)
    assert article == {"beyond": (False, "no clients found"), "inside": (False, "5 of 10 in the family")}
