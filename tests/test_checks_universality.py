"""Lesson 07's exercise checks (helpers.checks.universality): the right answer passes, plausible wrong
answers (typed-in constants, the neighbouring answer, another layer's or another model's answer) all
fail, and the placeholder ``...`` reports "not attempted" without stopping the lesson."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from helpers.checks import ExerciseError
from helpers.checks.universality import (
    check_cka_invariances, check_most_similar_layer, check_separated_share, separated_share,
)
from helpers.training import SmallConvNet, wrap_small_net
from helpers.universality import CKAResult, linear_cka


pytestmark = pytest.mark.usefixtures("strict")  # as when grading: a wrong answer raises






# --- exercise 1: the most similar layer -----------------------------------------------------------------
def _cka_result(seed: int = 0) -> CKAResult:
    rng = np.random.default_rng(seed)
    matrix = rng.uniform(0.1, 0.9, size=(5, 7))
    return CKAResult(matrix, "a", "b", [f"a{i}" for i in range(5)], [f"b{j}" for j in range(7)],
                     np.linspace(0, 1, 5), np.linspace(0, 1, 7), False)


def test_most_similar_layer(exercise_probe):
    result = _cka_result()
    for row, layer in enumerate(result.layers_a):
        best = result.layers_b[int(result.matrix[row].argmax())]
        assert check_most_similar_layer(result, layer, best)
        for wrong in result.layers_b:
            if wrong != best:
                exercise_probe.rejected(check_most_similar_layer, result, layer, wrong)  # every other column, neighbours included
        worst = result.layers_b[int(result.matrix[row].argmin())]
        assert "another layer" in str(pytest.raises(ExerciseError, check_most_similar_layer, result, layer, worst).value)
    # another row's answer, the row's own name, an index instead of a name, a layer of the wrong model
    first, second = result.layers_b[int(result.matrix[0].argmax())], result.layers_b[int(result.matrix[1].argmax())]
    if first != second:
        exercise_probe.rejected(check_most_similar_layer, result, "a1", first)
    for wrong in ("a1", int(result.matrix[1].argmax()), "b9", None):
        exercise_probe.rejected(check_most_similar_layer, result, "a1", wrong)
    exercise_probe.not_attempted(lambda: check_most_similar_layer(result, "a1", ...))


def test_most_similar_layer_message_does_not_give_the_answer():
    result = _cka_result(1)
    best = result.layers_b[int(result.matrix[2].argmax())]
    wrong = next(name for name in result.layers_b if name != best)
    with pytest.raises(ExerciseError) as caught:
        check_most_similar_layer(result, "a2", wrong)
    assert best not in str(caught.value)


# --- exercise 2: the share of stem filters that separate colour from luminance ---------------------------------
@pytest.fixture(scope="module")
def stem_model():
    """A small network whose 10 first-layer filters are 2 pure colour, 3 pure grey and 5 mixed."""
    torch.manual_seed(0)
    net = SmallConvNet(3, width=10)
    pattern = torch.randn(10, 5, 5, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        weight = torch.zeros(10, 3, 5, 5)
        weight[:2, 0], weight[:2, 1] = pattern[:2], -pattern[:2]  # red against green: no grey part
        weight[2:5] = pattern[2:5, None]  # the same in R, G and B: grey
        weight[5:, 0] = pattern[5:]  # red only: two thirds of the energy in colour
        net.conv1.weight.copy_(weight)
    return wrap_small_net(net, ["a", "b", "c"], 32, name="stem")


def test_separated_share(stem_model, exercise_probe):
    colour, grey, either = separated_share(stem_model)
    assert (colour, grey, either) == (pytest.approx(0.2), pytest.approx(0.3), pytest.approx(0.5))
    assert check_separated_share(stem_model, either)
    assert check_separated_share(stem_model, np.float64(either))
    wrong = [k / 10 for k in range(11) if k != 5]  # every other share, the neighbours 0.4 and 0.6 included
    wrong += [colour, grey, 1 - colour, 5, 10, 0.5 + 1e-3, -0.5, 50.0, "0.5", None, [either], float("nan"), True]
    for answer in wrong:
        exercise_probe.rejected(check_separated_share, stem_model, answer)
    with pytest.raises(ExerciseError, match="only one of the two"):
        check_separated_share(stem_model, grey)
    exercise_probe.not_attempted(lambda: check_separated_share(stem_model, ...))


def test_separated_share_of_another_model_is_rejected(stem_model, exercise_probe):
    other = wrap_small_net(SmallConvNet(3, width=10), ["a", "b", "c"], 32, name="other")  # random: few separated
    assert separated_share(other)[2] != pytest.approx(separated_share(stem_model)[2])
    exercise_probe.rejected(check_separated_share, other, separated_share(stem_model)[2])
    assert check_separated_share(other, separated_share(other)[2])


# --- exercise 3: CKA's invariances, recomputed from the student's own copies --------------------------------------
@pytest.fixture(scope="module")
def cka_setup():
    features = torch.randn(200, 16, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    rotation, _ = torch.linalg.qr(torch.randn(16, 16, generator=torch.Generator().manual_seed(1), dtype=torch.float64))
    stretch = torch.diag(torch.logspace(0, 2, 16, dtype=torch.float64))
    copies = (features @ rotation, 5 * features, features @ stretch)
    values = tuple(linear_cka(features, copy) for copy in copies)
    return features, rotation, stretch, copies, values


def test_cka_invariances_right_answer(cka_setup):
    features, rotation, stretch, copies, values = cka_setup
    assert check_cka_invariances(features, *copies, values)
    assert check_cka_invariances(features, *copies, list(values))
    other_copies = (features @ rotation.T, -0.5 * features, features @ torch.diag(torch.linspace(1, 30, 16, dtype=torch.float64)))
    assert check_cka_invariances(features, *other_copies, tuple(linear_cka(features, c) for c in other_copies))


def test_cka_invariances_rejects_typed_numbers_and_wrong_copies(cka_setup, monkeypatch, exercise_probe):
    features, rotation, stretch, copies, values = cka_setup
    rotated, scaled, stretched = copies
    typed = [(1.0, 1.0, 0.5), (1.0, 1.0, 0.0), (1.0, 1.0, 1.0), (1.0, 1.0, round(values[2], 2)), (0.5, 0.5, 0.5),
             (1, 1, 0), (values[2], 1.0, 1.0), tuple(reversed(values))]
    for answer in typed:  # typed-in constants and the values in the wrong order
        exercise_probe.rejected(check_cka_invariances, features, *copies, answer)
    debiased = tuple(linear_cka(features, copy, debiased=True) for copy in copies)
    exercise_probe.rejected(check_cka_invariances, features, *copies, debiased)  # the other estimator
    other_stretch = features @ torch.diag(torch.logspace(0, 1, 16, dtype=torch.float64))
    exercise_probe.rejected(check_cka_invariances, features, *copies, (1.0, 1.0, linear_cka(features, other_stretch)))  # another stretch's value
    for wrong_copies in [
        (features, scaled, stretched),  # "rotated" by the identity
        (features @ stretch, scaled, stretched),  # not a rotation
        (rotated, features, stretched),  # scaled by 1
        (rotated, features @ rotation, stretched),  # a rotation, not a scaling
        (rotated, scaled, 3 * features),  # a "stretch" that does not stretch unevenly
        (rotated, scaled, features @ rotation),
        (rotated[:, :8], scaled, stretched),  # wrong shape
        (rotated.numpy().tolist(), scaled, stretched),  # not a matrix
    ]:
        exercise_probe.rejected(check_cka_invariances, features, *wrong_copies, values)
    nan_copy = stretched.clone()
    nan_copy[0, 0] = float("nan")
    exercise_probe.rejected(check_cka_invariances, features, rotated, scaled, nan_copy, values)
    exercise_probe.rejected(check_cka_invariances, features, *copies, values[:2])
    exercise_probe.rejected(check_cka_invariances, features, *copies, 1.0)
    exercise_probe.not_attempted(lambda: check_cka_invariances(features, ..., ..., ..., ...))
    monkeypatch.setenv("CIRCUITS_STRICT", "1")
    exercise_probe.not_attempted(lambda: check_cka_invariances(features, *copies, ...))


def test_wrong_answer_outside_strict_mode_prints_and_returns_false(cka_setup, monkeypatch, capsys):
    features, _rotation, _stretch, copies, _values = cka_setup
    monkeypatch.delenv("CIRCUITS_STRICT")
    assert not check_cka_invariances(features, *copies, (1.0, 1.0, 0.5))
    assert "Not right yet" in capsys.readouterr().out
