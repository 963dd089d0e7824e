"""Lesson 11's widgets: setting a control's value recomputes the wrapped pure function."""
from __future__ import annotations

import pytest
import torch
from matplotlib.figure import Figure

from helpers.featurevis.trust import Scoreboard, game_rounds
from helpers.images import RandomCrops, photo
from helpers.widgets.trust import METHODS, NOT_YET, bench_image, game_figure, lab_bench, prediction_game

from test_featurevis import tiny_model


@pytest.fixture(scope="module")
def tiny():
    return tiny_model()


def test_bench_image_renders_every_method_and_reacts_to_the_switches(tiny):
    cat = photo("chelsea", 32)
    for method in METHODS:
        bench = bench_image(tiny, "conv2", 3, method, cat, steps=6)
        assert bench.method == method and bench.image.shape == (3, 32, 32)
        assert 0 <= float(bench.image.min()) and float(bench.image.max()) <= 1
        assert bench.std == pytest.approx(float(bench.image.std()))
    plain = bench_image(tiny, "conv2", 3, "fourier", cat, steps=6)
    assert not torch.equal(plain.image, bench_image(tiny, "conv2", 3, "fourier", cat, steps=6, decorrelate=False).image)
    assert not torch.equal(plain.image, bench_image(tiny, "conv2", 3, "fourier", cat, steps=6, transforms=False).image)
    accentuated = bench_image(tiny, "conv2", 3, "accentuation", cat, steps=6)
    assert float((accentuated.image - cat).abs().mean()) < 0.1  # starts from the photo and stays close
    with pytest.raises(ValueError, match="method must be one of"):
        bench_image(tiny, "conv2", 3, "magic", cat)


def test_lab_bench_recomputes_when_a_switch_changes(tiny):
    explorer = lab_bench(tiny, "conv2", [1, 4], photo("chelsea", 32), steps=4)
    assert isinstance(explorer.result, Figure) and explorer.calls == 1
    explorer.controls["method"].value = "natural spectrum"
    explorer.controls["redirect"].value = False
    assert explorer.calls == 3
    assert "conv2:1 (transforms, decorrelate)" in explorer.result._suptitle.get_text()
    explorer.controls["unit"].value = 4
    assert "conv2:4" in explorer.result._suptitle.get_text()
    assert all(not control.continuous_update for control in explorer.controls.values() if hasattr(control, "continuous_update"))


@pytest.fixture(scope="module")
def game(tiny):
    source = RandomCrops({"coffee": photo("coffee"), "chelsea": photo("chelsea")}, count=40, size=32, batch_size=16)
    rounds = game_rounds(tiny, "conv2", [2, 5], source, per_unit=2)
    references = {u: {"synthetic": torch.rand(2, 3, 32, 32), "natural": torch.rand(3, 3, 32, 32)} for u in (2, 5)}
    return rounds, references


def test_game_view_records_a_choice_and_scores_it(game):
    rounds, references = game
    board = Scoreboard()
    figure = game_figure(rounds, references, board, 0, "natural", NOT_YET)
    assert isinstance(figure, Figure) and board.choices == {}
    right = ("left", "right")[rounds[1].answer]
    game_figure(rounds, references, board, 1, "natural", right)
    assert board.accuracy(rounds) == {"natural": (1.0, 1)}
    with pytest.raises(ValueError, match="round_index"):
        game_figure(rounds, references, board, len(rounds), "natural", NOT_YET)


def test_prediction_game_scores_per_kind_and_resets_the_choice_each_round(game):
    rounds, references = game
    explorer = prediction_game(rounds, references)
    wrong = ("right", "left")[rounds[0].answer]
    explorer.controls["choice"].value = wrong
    assert explorer.scoreboard.accuracy(rounds) == {"synthetic": (0.0, 1)}
    explorer.controls["round_index"].value = 1
    assert explorer.controls["choice"].value == NOT_YET  # a new round starts unanswered
    explorer.controls["kind"].value = "natural"
    explorer.controls["choice"].value = ("left", "right")[rounds[1].answer]
    assert explorer.scoreboard.accuracy(rounds) == {"natural": (1.0, 1), "synthetic": (0.0, 1)}
    assert "model's answer" in explorer.result._suptitle.get_text()


def test_game_references_give_each_unit_three_kinds():
    from helpers.widgets.trust import game_references

    spectra, fourier = torch.rand(2, 3, 16, 16), 0.5 + 0.01 * torch.rand(2, 3, 16, 16)
    natural = {4: torch.rand(4, 3, 16, 16), 9: torch.rand(4, 3, 16, 16)}
    references = game_references([4, 9], spectra, fourier, natural)
    assert set(references) == {4, 9} and set(references[9]) == {"synthetic", "natural", "both"}
    assert torch.equal(references[9]["synthetic"][0], spectra[1]) and references[9]["both"].shape == (4, 3, 16, 16)
    assert float(references[4]["synthetic"][1].std()) > float(fourier[0].std())  # the faint Fourier image is stretched
