"""Lesson 03's exercise checks: right answers pass, guesses and neighbouring answers fail, placeholders are
"not attempted". Small fixtures: a tiny random convolutional network, and the hand-built curve network."""
from dataclasses import replace

import pytest
import torch
from handmade_curves import build_handmade_network
from test_weights import tiny_network

from helpers.checks import ExerciseError
from helpers.checks.circuits import check_composed_weight, check_inhibition_effect, check_strongest_input
from helpers.cleanroom import match_family, screen_comparison, settings_for_family
from helpers.families import find_curve_family
from helpers.weights import expanded_weights, unit_weights


pytestmark = pytest.mark.usefixtures("strict")  # as when grading: a wrong answer raises


@pytest.fixture(scope="module")
def tiny():
    return tiny_network(seed=3)


def test_strongest_input_right_answer_and_every_other_input(tiny) -> None:
    sums = expanded_weights(tiny, "a", "b", to_channels=[2])[0].sum(dim=(1, 2))
    right = int(sums.argmax())
    assert check_strongest_input(tiny, "b:2", f"a:{right}")
    for channel in range(tiny.channels("a")):
        if channel != right:
            with pytest.raises(ExerciseError) as error:
                check_strongest_input(tiny, "b:2", f"a:{channel}")
            assert f"a:{right}" not in str(error.value)
    weakest = int(sums.argmin())  # the strongest *inhibitory* input, a plausible confusion
    with pytest.raises(ExerciseError):
        check_strongest_input(tiny, "b:2", f"a:{weakest}")
    for bad in (f"c:{right}", f"b:{right}", right, "a:99", "a-0"):
        with pytest.raises(ExerciseError):
            check_strongest_input(tiny, "b:2", bad)


def test_composed_weight_right_answer_and_wrong_grids(tiny) -> None:
    truth = unit_weights(tiny, "a:1", "b:2")
    assert check_composed_weight(tiny, "a:1", "b:2", truth.clone())
    wrong = [-truth, 2 * truth, truth.T.contiguous() if not torch.allclose(truth, truth.T) else truth + 1,
             unit_weights(tiny, "a:0", "b:2"), unit_weights(tiny, "a:1", "b:1"), torch.zeros_like(truth),
             truth[:2, :2], truth.flatten()]
    for grid in wrong:
        with pytest.raises(ExerciseError):
            check_composed_weight(tiny, "a:1", "b:2", grid)
    with pytest.raises(ExerciseError, match="opposite sign"):
        check_composed_weight(tiny, "a:1", "b:2", -truth)
    with pytest.raises(ExerciseError):
        check_composed_weight(tiny, "a:1", "b:2", truth.numpy())


def test_composed_weight_on_efficientnet_by_hand() -> None:
    from helpers import load_model

    lite0 = load_model("efficientnet_lite0", verbose=False)
    scale = lambda bn: bn.weight / torch.sqrt(bn.running_var + bn.eps)  # noqa: E731
    source, target = lite0.module.blocks[3][1], lite0.module.blocks[3][2]
    project = scale(source.bn3)[:, None] * source.conv_pwl.weight[:, :, 0, 0]
    expand = scale(target.bn1)[:, None] * target.conv_pw.weight[:, :, 0, 0]
    grid = (scale(target.bn2)[20] * target.conv_dw.weight[20, 0] * (expand @ project)[20, 5]).detach()
    assert check_composed_weight(lite0, "blocks.3.1:5", "blocks.3.2:20", grid)
    no_bn = (target.conv_dw.weight[20, 0] * (target.conv_pw.weight[:, :, 0, 0] @ source.conv_pwl.weight[:, :, 0, 0])[20, 5]).detach()
    with pytest.raises(ExerciseError):  # forgetting the batch norms
        check_composed_weight(lite0, "blocks.3.1:5", "blocks.3.2:20", no_bn)
    with pytest.raises(ExerciseError):  # the transposed entry [5, 20]
        check_composed_weight(lite0, "blocks.3.1:5", "blocks.3.2:20",
                              (scale(target.bn2)[20] * target.conv_dw.weight[20, 0] * (expand @ project)[5, 20]).detach())


@pytest.fixture(scope="module")
def comparison_and_base():
    family = find_curve_family(build_handmade_network(), "detectors", orientations=8, radii=(0.15, 0.3), length=0.65, width=0.1)
    return screen_comparison(family), settings_for_family(family)


def test_inhibition_effect_right_answer_and_near_misses(comparison_and_base) -> None:
    comparison, base = comparison_and_base
    right = match_family(comparison, replace(base, inhibition=0.0, cross_inhibition=0.0)).mean
    assert check_inhibition_effect(comparison, base, right)
    with_inhibition = match_family(comparison, base).mean
    with pytest.raises(ExerciseError, match="the default inhibition"):
        check_inhibition_effect(comparison, base, with_inhibition)
    for kind in ("inhibition", "cross_inhibition"):
        half = match_family(comparison, replace(base, **{kind: 0.0})).mean
        if abs(half - right) >= 1e-3:
            with pytest.raises(ExerciseError):
                check_inhibition_effect(comparison, base, half)
    for guess in (0.0, 0.5, 1.0, -1.0, right + 0.01, right - 0.01, round(right, 1) + 0.05):
        with pytest.raises(ExerciseError):
            check_inhibition_effect(comparison, base, guess)
    with pytest.raises(ExerciseError):
        check_inhibition_effect(comparison, base, "0.5")


def test_placeholders_are_not_attempted(tiny, comparison_and_base, monkeypatch, capsys, exercise_probe) -> None:
    comparison, base = comparison_and_base
    calls = (lambda: check_strongest_input(tiny, "b:2", ...), lambda: check_composed_weight(tiny, "a:1", "b:2", ...),
             lambda: check_inhibition_effect(comparison, base, ...), lambda: check_inhibition_effect(None, base, ...))
    exercise_probe.not_attempted(*calls)
    monkeypatch.delenv("CIRCUITS_STRICT")
    assert not check_inhibition_effect(comparison, base, 0.123)
    assert "Not right yet" in capsys.readouterr().out
