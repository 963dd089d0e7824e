"""Lesson 07's one-call measurements (helpers.superposition_studies): each returns what the lesson used to compute
inline, seeded, and its summaries name what they count."""
from __future__ import annotations

import pytest
import torch


@pytest.fixture(scope="module")
def handmade_screen():
    """The hand-built curve network of tests/handmade_curves.py and its curve family (as in tests/test_dictionary.py)."""
    from handmade_curves import build_handmade_network

    from helpers.families import find_curve_family

    model = build_handmade_network()
    return model, find_curve_family(model, "detectors", orientations=24, radii=(0.15, 0.3, 0.5), length=0.65, width=0.1)


def test_toy_recovery_finds_a_toy_models_directions_beyond_its_baselines() -> None:
    from helpers.superposition_studies import toy_recovery

    weights = torch.nn.functional.normalize(torch.randn(3, 6, generator=torch.Generator().manual_seed(5)), dim=0)
    weights[:, 5] = 0.1 * weights[:, 5]  # a dropped feature: not among the kept directions
    found = toy_recovery(weights, 0.9, features=12, l1=0.3, steps=600, count=2048, progress=False)
    assert found.kept_directions.shape == (5, 3) and found.recovered.shape == (5,)
    assert torch.allclose(found.activations, found.features @ weights.T)
    assert float(found.recovered.median()) > 0.95
    assert float(found.recovered.median()) > float(found.baselines["principal axes (±)"].median()) + 0.1
    assert "5 features kept in 3 dimensions" in found.summary()


def test_curve_directions_screen_a_dictionary_and_its_two_controls(handmade_screen) -> None:
    from helpers.superposition_studies import curve_directions
    from helpers.tuning import largest_gap

    _, family = handmade_screen
    units = family.screen.curve.shape[-1]
    generator = torch.Generator().manual_seed(6)
    vectors = torch.relu(torch.randn(512, units, generator=generator))  # any non-negative vectors: the plumbing
    found = curve_directions(vectors, family, features=8, l1=0.05, steps=30, progress=False)
    assert set(found.direction_sets) == {"dictionary", "shuffled-data dictionary", "random directions"}
    assert found.direction_sets["random directions"].shape == (8, units)
    assert all(directions.shape[1] == units for directions in found.direction_sets.values())
    assert found.neuron_gap == family.largest_gap()
    for name, curve_like in found.curve_like.items():
        assert set(curve_like.channels) <= set(range(len(found.direction_sets[name])))
        assert found.pooled_gap[name] == largest_gap(list(family.orientations) + list(curve_like.orientations))
        assert name in found.summary()



def test_middle_model_has_the_most_antipodal_pairs_between_the_ends() -> None:
    from helpers.superposition import ToyModelSweep
    from helpers.superposition_studies import middle_model, sticky_summary

    pair = torch.tensor([[1.0, -1.0, 0.0], [0.0, 0.0, 1.0]])  # one antipodal pair, one feature alone
    none = torch.tensor([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    weights = torch.stack([pair, none, pair, pair, pair])  # the ends do not count; equals: the one nearest `near`
    sweep = ToyModelSweep(weights, torch.zeros(5, 3), torch.tensor([0.0, 0.3, 0.5, 0.8, 0.9]), torch.ones(3),
                          torch.zeros(5))
    assert middle_model(sweep, near=0.75) == 3 and middle_model(sweep, near=0.4) == 2
    with pytest.raises(ValueError, match="at least 3"):
        middle_model(ToyModelSweep(weights[:2], torch.zeros(2, 3), torch.tensor([0.0, 0.9]), torch.ones(3), torch.zeros(2)))
    summary = sticky_summary(torch.tensor([0.5, 0.5, 0.51, 0.4, 0.9]), tolerance=0.03)
    assert "antipodal pair" in summary and "   3 features within 0.03" in summary
    assert summary.splitlines()[-1].startswith("80% of 5 kept features")


def test_facet_comparison_picks_the_highest_scored_unit() -> None:
    from helpers.superposition_studies import FacetComparison

    facets = FacetComparison(torch.tensor([0.2, float("nan"), 0.7, 0.1]), torch.tensor([0.1, 0.05]), count=4)
    assert facets.most_polysemantic() == 2
    assert "units 0.200 (3 active on at least 4 images)" in facets.summary() and "(2 of 2)" in facets.summary()
    assert FacetComparison(torch.full((3,), float("nan")), torch.zeros(1), 4).most_polysemantic() == 0


def test_a_students_result_is_printed_beside_the_courses_or_asked_for(capsys) -> None:
    from helpers.superposition_studies import beside_the_course

    beside_the_course("D_i", torch.tensor([0.4, 0.41]), torch.tensor([0.4, 0.4]), exercise=3)
    beside_the_course("deviations", [1.0, None], [1.0, 2.0], exercise=9)
    beside_the_course("D_i", ..., [1.0], exercise=3)
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["your", "D_i:", "[0.4,", "0.41]"] and lines[1].startswith("the course's D_i:")
    assert lines[2] == "Write exercise 9 above to see your deviations here."
    assert lines[3] == "Write exercise 3 above to see your D_i here."


def _pair_sweep():
    from helpers.superposition import ToyModelSweep

    pair = torch.tensor([[1.0, -1.0, 0.0], [0.0, 0.0, 1.0]])  # one antipodal pair, one feature alone
    dense = torch.tensor([[1.0, 0.0, 0.1], [0.0, 1.0, 0.0]])  # two orthogonal features kept, the third dropped
    return ToyModelSweep(torch.stack([dense, pair, pair]), torch.zeros(3, 3), torch.tensor([0.0, 0.5, 0.9]),
                         torch.ones(3), torch.zeros(3))


def test_regime_ends_count_the_kept_features_and_the_dense_models_interference() -> None:
    from helpers.superposition_studies import regime_ends

    kept, worst, sparse_kept = regime_ends(_pair_sweep())
    assert (kept, sparse_kept) == (2, 3) and worst == pytest.approx(0.01)  # (Ŵ_0 · W_2)² = 0.1², the short one


def test_layer_dictionary_counts_dead_features() -> None:
    from helpers.superposition_studies import layer_dictionary

    maps = torch.relu(torch.randn(6, 5, 4, 4, generator=torch.Generator().manual_seed(3)))
    found = layer_dictionary(maps, per_image=8, l1=0.05, lr=1e-2, steps=5, batch_size=16, features=7, progress=False)
    dead = int((found.codes > 0).float().mean(0).lt(1e-3).sum())
    assert found.dead_features == dead and f"{dead} dead features" in found.summary()
    assert found.rebuilt == pytest.approx(found.dictionary.explained_variance(found.activations))


def test_a_students_step_partners_and_training_are_shown_beside_the_courses(capsys) -> None:
    from helpers.dictionary import dictionary_step
    from helpers.superposition_studies import (
        partners_beside_the_course, recovery_with_step, toy_recovery, training_beside_the_course,
    )

    weights = torch.nn.functional.normalize(torch.randn(2, 4, generator=torch.Generator().manual_seed(5)), dim=0)
    toy = toy_recovery(weights, 0.8, features=6, l1=0.3, steps=15, count=256, progress=False)
    assert recovery_with_step(toy, dictionary_step, l1=0.3, steps=15, progress=False) == pytest.approx(
        float(toy.recovered.median()))  # the course's own step: the same start and batches, the same dictionary
    assert recovery_with_step(toy, lambda *args: 1 / 0, l1=0.3, steps=15, progress=False) is None
    sweep = _pair_sweep()
    partners_beside_the_course(torch.tensor([1, 0, -1]), sweep, 1, pairs=1)
    partners_beside_the_course(None, sweep, 1, pairs=1)
    training_beside_the_course((sweep.weights[2], sweep.biases[2]), sweep, 2)
    training_beside_the_course(None, sweep, 2)
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("median best cosine") and "Write my_dictionary_step above" in lines[1]
    assert "your partners [1, 0, -1]; 2 features with a partner, against the lesson's 1" in lines[2]
    assert lines[3] == "D_i of the features you paired: [0.5, 0.5]"
    assert lines[4] == "Write my_antipodal_partners above to find the pairs yourself."
    assert lines[5].split(":")[-1].strip() == lines[6].split(":")[-1].strip()  # the sweep's own model: the same readout
    assert lines[7] == "Write exercise 10 above to see your features kept and loss at S = 0.900 here."


# --- the verdicts of the lesson's claims, on hand-built inputs -------------------------------------------------------

class _Found:
    """A stand-in for a CurveFamily: the channels and orientations the curve verdicts read."""

    def __init__(self, channels: list[int], orientations: list[float]) -> None:
        self.channels, self.orientations = channels, orientations

    def __len__(self) -> int:
        return len(self.channels)

    def largest_gap(self) -> float:
        from helpers.tuning import largest_gap

        return largest_gap(self.orientations)


def test_curve_verdicts_count_fill_the_gap_and_spread() -> None:
    from helpers.superposition_studies import CurveDirections

    spread = torch.tensor([[0.6, 0.5, 0.4, 0.3]]).repeat(12, 1)  # two units hold half; largest loading on unit 0
    alone = torch.tensor([[0.0, 0.0, 1.0, 0.0]]).repeat(3, 1)  # one unit, not a curve neuron
    curve = CurveDirections(_Found([0, 1], [0, 180]), None, None,
                            {"dictionary": spread, "shuffled-data dictionary": alone, "random directions": alone[:2]},
                            {"dictionary": _Found(list(range(12)), [30 * i for i in range(12)]),
                             "shuffled-data dictionary": _Found([0, 1, 2], [0, 1, 2]),
                             "random directions": _Found([0, 1], [90, 270])})
    curve.summary = lambda: "the summary"  # the dictionary's own line needs a trained one
    assert curve.count_verdict(min_found=10, times=3) == (True, "the summary")  # 12 >= 10, >= 3 * 2, > 3
    assert not curve.count_verdict(min_found=13, times=3)[0] and not curve.count_verdict(min_found=10, times=7)[0]
    assert curve.gap_verdict(margin=5) == (True, "the summary")  # 30° against the neurons' 180° and random's 90°
    assert not curve.gap_verdict(margin=160)[0]
    passed, detail = curve.spread_verdict(min_median=2)
    assert passed and detail == ("median units holding half: 2; largest loading on a curve neuron: dictionary 100%, "
                                 "random directions 0%, shuffled-data dictionary 0%")
    assert not curve.spread_verdict(min_median=3)[0]


def test_layer_facet_and_toy_recovery_verdicts() -> None:
    from helpers.superposition_studies import FacetComparison, LayerDictionary, ToyRecovery

    def layer(features_active: float, rebuilt_shuffled: float) -> LayerDictionary:
        found = LayerDictionary(torch.zeros(2, 3), None, None, 40.0, features_active, 0.7, rebuilt_shuffled, 0)
        found.summary = lambda: "the summary"
        return found

    assert layer(3.0, 0.5).verdict(fewer=10, min_rebuilt=0.5, margin=0.1) == (True, "the summary")
    assert not layer(4.5, 0.5).verdict()[0] and not layer(3.0, 0.65).verdict()[0]
    assert not layer(3.0, 0.5).verdict(min_rebuilt=0.75)[0]
    facets = FacetComparison(torch.tensor([0.5, 0.6, float("nan")]), torch.tensor([0.3, 0.35]), count=4)
    assert facets.verdict(margin=0.1) == (True, "median facet score: features 0.300, units 0.500")
    assert not facets.verdict(margin=0.25)[0]

    def toy(kept: int, baseline: float) -> ToyRecovery:
        found = ToyRecovery(torch.zeros(8, 2), None, None, torch.zeros(kept, 2), torch.full((kept,), 0.99),
                            {"principal axes (±)": torch.full((kept,), 0.5), "random": torch.full((kept,), baseline)})
        found.summary = lambda: "the summary"
        return found

    assert toy(5, 0.7).verdict(times=2, min_cosine=0.95, margin=0.2) == (True, "the summary")
    assert not toy(4, 0.7).verdict()[0] and not toy(5, 0.8).verdict()[0]  # 4 is not more than 2 * 2; 0.99 - 0.8 < 0.2
    assert not toy(5, 0.7).verdict(min_cosine=0.995)[0]


def _sweep(weights: list[torch.Tensor], initial: float = 0.01):
    """A sweep of the given models (sparsities spread over [0, 0.9]) whose untrained models keep no feature."""
    from helpers.superposition import ToyModelSweep

    stacked = torch.stack(weights)
    return ToyModelSweep(stacked, torch.zeros(len(weights), stacked.shape[-1]), torch.linspace(0, 0.9, len(weights)),
                         torch.ones(stacked.shape[-1]), torch.zeros(len(weights)), initial_weights=initial * stacked)


def test_toy_model_verdicts() -> None:
    import math

    from helpers.superposition_studies import (
        antipodal_verdict, neurons_verdict, pentagon_verdict, regime_verdict, sticky_verdict,
    )

    assert regime_verdict(_pair_sweep(), max_interference=0.1, extra=0) == (
        True, "m = 2: dense keeps 2 (largest interference 0.010), sparsest keeps 3")
    assert not regime_verdict(_pair_sweep(), extra=2)[0] and not regime_verdict(_pair_sweep(), max_interference=0.01)[0]

    pair = torch.tensor([[1.0, -1.0, 0.0], [0.0, 0.0, 1.0]])  # one antipodal pair (D_i 1/2 each), one feature alone
    pentagon = torch.tensor([[math.cos(2 * math.pi * i / 5) for i in range(5)],
                             [math.sin(2 * math.pi * i / 5) for i in range(5)]])
    planar = _sweep([torch.zeros(2, 5), pentagon])
    assert pentagon_verdict(planar, 1, sides=5, max_deviation=10) == (
        True, "trained: 5 kept, largest deviation 0.0°; untrained: 0 kept, deviation inf°")
    assert not pentagon_verdict(_sweep([pentagon, pentagon], initial=1.0), 1)[0]  # the untrained one is regular too
    assert not pentagon_verdict(planar, 0)[0]

    pairs = _sweep([pair, pair, pair, pair])
    assert antipodal_verdict(pairs, 1, cosine=-0.996, tolerance=0.05, min_pairs=2, times=2) == (
        True, "antipodal pairs in the middle models: trained 2, untrained 0; D_i of the paired features at S = 0.300: "
              "[0.5, 0.5]")
    assert not antipodal_verdict(pairs, 1, min_pairs=3)[0]
    assert not antipodal_verdict(_sweep([pair, pair, pair, pair], initial=1.0), 1)[0]  # as many pairs untrained

    assert sticky_verdict(_sweep([pair, pair, pair]), other=0.6, tolerance=0.03, min_count=6) == (
        True, "features within 0.03 of 1/2: 6; of 0.6: 0; of 1/2 before training: 0")
    assert not sticky_verdict(_sweep([pair, pair, pair]), min_count=7)[0]

    dense, sparse = torch.tensor([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]), torch.tensor([[1.0, 1.0, 0.0], [0.0, 1.0, 1.0]])
    assert neurons_verdict(_sweep([dense, sparse]), min_mean=2) == (
        True, "features per neuron: dense [1, 1], sparse [2, 2]")
    assert not neurons_verdict(_sweep([dense, sparse]), min_mean=2.5)[0]
    assert not neurons_verdict(_sweep([sparse, sparse]))[0]  # two features on a neuron of the dense model


def _stand_in_curve(found_in_dictionary: int = 12):
    from helpers.superposition_studies import CurveDirections

    spread = torch.tensor([[0.6, 0.5, 0.4, 0.3]]).repeat(12, 1)
    alone = torch.tensor([[0.0, 0.0, 1.0, 0.0]]).repeat(3, 1)
    return CurveDirections(_Found([0, 1], [0, 180]), None, None,
                           {"dictionary": spread, "shuffled-data dictionary": alone, "random directions": alone[:2]},
                           {"dictionary": _Found(list(range(found_in_dictionary)),
                                                 [30 * i for i in range(found_in_dictionary)]),
                            "shuffled-data dictionary": _Found([0, 1, 2], [0, 1, 2]),
                            "random directions": _Found([0, 1], [90, 270])})


def test_the_lessons_figures_and_units_beside_the_course_read_the_studies(capsys) -> None:
    from types import SimpleNamespace

    from matplotlib import pyplot as plt

    from helpers.dictionary import PeakCodes, SparseDictionary, units_to_hold
    from helpers.plotting.superposition import curve_coverage_figure, curve_spread_figure, polysemantic_unit_figure
    from helpers.superposition_studies import units_beside_the_course

    curve = _stand_in_curve()
    legend = [text.get_text() for text in curve_coverage_figure(curve, "a layer").axes[0].get_legend().get_texts()]
    assert legend == ["curve neurons (2)", "dictionary: curve-like (12)", "shuffled-data dictionary: curve-like (3)",
                      "random directions: curve-like (2)"]
    assert curve_spread_figure(curve, count=2) is not None and curve_spread_figure(_stand_in_curve(0)) is None
    units_beside_the_course(lambda directions, share: units_to_hold(directions, share), curve, share=0.5)
    units_beside_the_course(lambda directions, share: None, curve)
    units_beside_the_course(units_to_hold, _stand_in_curve(0))
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "The dictionary has no curve-like direction on this model: nothing to show."
    assert lines[1].split(":")[-1].strip() == lines[2].split(":")[-1].strip()  # the course's own count: the same
    assert lines[3] == "Write exercise 7 above to see your counts here."
    assert lines[4] == "The dictionary has no curve-like direction on this model: nothing to count."

    directions = torch.tensor([[1.0, 0.0], [0.0, 1.0], [0.6, 0.8]])
    dictionary = SparseDictionary(directions.clone(), torch.zeros(3), directions, torch.zeros(2), 1.0, 0.1)
    values = torch.rand(8, 3, generator=torch.Generator().manual_seed(0))
    peaks = {"units": PeakCodes(values[:, :2], torch.zeros(8, 2, dtype=torch.long), (2, 2)),
             "features": PeakCodes(values, torch.zeros(8, 3, dtype=torch.long), (2, 2))}
    source = SimpleNamespace(images=lambda indices: torch.rand(len(indices), 3, 8, 8))
    unit = SimpleNamespace(channel=1, __str__=lambda self: "unit 1")
    figure = polysemantic_unit_figure(source, peaks, dictionary, torch.rand(20, 2), unit, features=2, per_row=3)
    titles = [ax.get_title(loc="left") for ax in figure.axes if ax.get_title(loc="left")]
    assert sum("dictionary feature" in title for title in titles) == 2
    plt.close("all")
