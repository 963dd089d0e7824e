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
