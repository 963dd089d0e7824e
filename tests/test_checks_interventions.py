"""Lesson 09's exercise checks: the right answer passes, plausible wrong answers all fail, the placeholder
``...`` reports "not attempted". The hand-built network of test_interventions keeps it quick."""
from __future__ import annotations

import pytest
import torch
from test_interventions import hand_built, images

from helpers.checks import ExerciseError, NotAttempted
from helpers.checks.interventions import check_prediction_kl, check_strongest_member_ablation, check_top_attribution
from helpers.interventions import (
    ablated, attribution, layer_means, logits_of, make_probe, prediction_change, probe_responses, response_damage,
)


pytestmark = pytest.mark.usefixtures("strict")  # as when grading: a wrong answer raises


@pytest.fixture(scope="module")
def model():
    return hand_built()


@pytest.fixture(scope="module")
def setting(model):
    probe = make_probe(model.units("b", [0]), {"curves": images(6, seed=3)}, torch.full((3, 8, 8), 0.5))
    means = layer_means(model, "a", images(8, seed=4))
    candidates = model.units("a")
    return probe, candidates, means


def changes(model, setting):
    probe, candidates, means = setting
    intact = probe_responses(model, probe)
    return {u: response_damage(probe, intact, probe_responses(model, probe, ablate=[u], means=means))["curves"] for u in candidates}


# --- exercise 1 -----------------------------------------------------------------------------------------
def test_ex1_right_answer_passes(model, setting) -> None:
    found = changes(model, setting)
    best = max(found, key=found.get)
    assert check_strongest_member_ablation(model, *setting, best)
    assert check_strongest_member_ablation(model, *setting, str(best))


def test_ex1_wrong_answers_fail(model, setting) -> None:
    found = changes(model, setting)
    best = max(found, key=found.get)
    wrong = [u for u in found if u != best] + ["b:0", "a:9", "nonsense", None, 3, best.channel]
    for answer in wrong:
        with pytest.raises(ExerciseError):
            check_strongest_member_ablation(model, *setting, answer)


def test_ex1_message_does_not_give_the_answer(model, setting, monkeypatch, capsys) -> None:
    monkeypatch.delenv("CIRCUITS_STRICT")
    found = changes(model, setting)
    best = max(found, key=found.get)
    wrong = min(found, key=found.get)
    assert not check_strongest_member_ablation(model, *setting, wrong)
    assert str(best) not in capsys.readouterr().out


# --- exercise 2 -----------------------------------------------------------------------------------------
def kl_truth(model, units, x) -> float:
    reference = logits_of(model, x)
    with ablated(model, units):
        return prediction_change(reference, logits_of(model, x)).kl


def test_ex2_right_answer_passes(model) -> None:
    x, units = images(5, seed=6), model.units("a", [1, 2])
    truth = kl_truth(model, units, x)
    assert truth > 0
    assert check_prediction_kl(model, units, x, truth)
    assert check_prediction_kl(model, units, x, torch.tensor(truth))


def test_ex2_wrong_answers_fail(model) -> None:
    x, units = images(5, seed=6), model.units("a", [1, 2])
    truth = kl_truth(model, units, x)
    reference = logits_of(model, x)
    means = layer_means(model, "a", x)
    with ablated(model, units, mode="mean", means=means):
        mean_ablated = prediction_change(reference, logits_of(model, x)).kl
    with ablated(model, units):
        zeroed = logits_of(model, x)
    reverse = prediction_change(zeroed, reference).kl  # KL the wrong way round
    summed = truth * len(x)
    other_units = kl_truth(model, model.units("a", [0]), x)
    for answer in [0.0, 1.0, -truth, mean_ablated, reverse, summed, other_units, truth * 1.01, float("nan"), "0.1", True, [truth]]:
        with pytest.raises(ExerciseError):
            check_prediction_kl(model, units, x, answer)


# --- exercise 3 -----------------------------------------------------------------------------------------
def test_ex3_right_answer_passes_and_wrong_ones_fail(model) -> None:
    x = images(1, seed=7)
    position = (4, 4)
    row = attribution(model, "b:0", x, [position]).per_input[0]
    best = int(row.argmax())
    assert check_top_attribution(model, "b:0", x, position, best)
    assert check_top_attribution(model, "b:0", x, position, torch.tensor(best))
    for answer in [c for c in range(4) if c != best] + [4, -1, float(best), str(best), None, True]:
        with pytest.raises(ExerciseError):
            check_top_attribution(model, "b:0", x, position, answer)


def test_placeholders_report_not_attempted(model, setting, monkeypatch, capsys) -> None:
    x = images(1, seed=7)
    with pytest.raises(NotAttempted):
        check_strongest_member_ablation(model, *setting, ...)
    with pytest.raises(NotAttempted):
        check_prediction_kl(model, model.units("a", [1]), x, ...)
    with pytest.raises(NotAttempted):
        check_top_attribution(model, "b:0", x, (4, 4), ...)
    monkeypatch.delenv("CIRCUITS_STRICT")
    assert not check_strongest_member_ablation(model, *setting, ...)
    assert not check_prediction_kl(model, model.units("a", [1]), x, ...)
    assert not check_top_attribution(model, "b:0", x, (4, 4), ...)
    assert capsys.readouterr().out.count("Not attempted yet") == 3


# --- the lesson's matched controls ---------------------------------------------------------------------
def test_input_strength_is_the_weight_norm_onto_the_clients(model) -> None:
    from helpers.interventions import input_strength

    # b:0 reads every a unit with weight 1, b:1 reads a:1 with weight 2: a:1 feeds the pair with norm sqrt(5).
    strength = input_strength(model, "a", model.units("b", [0, 1]))
    assert strength == pytest.approx([1.0, 5 ** 0.5, 1.0, 1.0], rel=1e-4)
    assert input_strength(model, "a", model.units("b", [1])) == pytest.approx([0.0, 2.0, 0.0, 0.0], abs=1e-5)


def test_matched_units_are_distinct_non_members_closest_in_the_key(model) -> None:
    import numpy as np

    from helpers.interventions import matched_units

    key = np.array([0.0, 10.0, 1.0, 2.0])
    rng = np.random.default_rng(0)
    assert matched_units(model, "a", [0], key, rng, pool=1) == model.units("a", [2])
    assert matched_units(model, "a", [1], key, rng, pool=1) == model.units("a", [3])
    # two members: each gets its own unit, never a member, never the same unit twice
    assert matched_units(model, "a", [0, 2], key, rng, pool=1) == model.units("a", [3, 1])
    drawn = {u.channel for _ in range(20) for u in matched_units(model, "a", [0], key, rng, pool=2)}
    assert drawn == {2, 3}
