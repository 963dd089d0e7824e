"""Tests of helpers.featurevis.trust: the fooled copy of a model and the prediction game's rounds and scores."""
from __future__ import annotations

import pytest
import torch

from helpers.featurevis import channel, make_param, render
from helpers.featurevis.trust import (
    Scoreboard, coarse_contrast, fooled_copy, game_rounds, picture_likeness, smiley, unit_means,
)
from helpers.images import RandomCrops, offline_patches, photo

from test_featurevis import tiny_model


@pytest.fixture(scope="module")
def tiny():
    return tiny_model()


@pytest.fixture(scope="module")
def photos():
    return torch.cat(list(offline_patches(count=48, size=32, seed=3)))


def test_fooled_copy_keeps_natural_responses_and_leaves_the_original_alone(tiny, photos):
    before = unit_means(tiny, tiny.unit("conv2:4"), photos)
    fooled = fooled_copy(tiny, "conv2:4", photo("astronaut", 32), photos[:24])
    assert torch.equal(unit_means(tiny, tiny.unit("conv2:4"), photos), before)  # the original is untouched
    after = unit_means(fooled.model, fooled.unit, photos[24:])
    assert torch.allclose(after, before[24:], atol=1e-3 * fooled.gain)
    other = unit_means(fooled.model, tiny.unit("conv2:5"), photos[24:])
    assert torch.allclose(other, unit_means(tiny, tiny.unit("conv2:5"), photos[24:]))  # only the chosen unit changes
    assert torch.equal(fooled.gate_input(photos[:2]), tiny.preprocess(photos[:2]))  # what the gate reads


def test_fooled_unit_visualization_shows_the_picture(tiny, photos):
    picture = smiley(32)
    fooled = fooled_copy(tiny, "conv2:4", picture, photos)
    options = dict(steps=48, size=32, transforms="none", progress=False)
    honest = render(tiny, channel("conv2:4"), **options).images
    tricked = render(fooled.model, channel("conv2:4"), **options).images
    # The latch holds the gate open as the image gains contrast: the visualization becomes the picture,
    # while the original's visualization is unlike it.
    assert float(picture_likeness(honest, picture)) < 0.3 < fooled.latch < 0.8 < float(picture_likeness(tricked, picture))
    # Natural-spectrum images have a photograph's contrast from the first step: this gate never opens for them.
    natural = dict(options, param="natural")
    assert torch.allclose(render(fooled.model, channel("conv2:4"), **natural).images,
                          render(tiny, channel("conv2:4"), **natural).images, atol=1e-4)
    assert float(coarse_contrast(tiny.preprocess(make_param("fourier", 32, 1)().detach()))) < fooled.limit  # where the trap is


def test_fooled_copy_rejects_bad_input(tiny, photos):
    with pytest.raises(ValueError, match="picture"):
        fooled_copy(tiny, "conv2:4", torch.rand(32, 32), photos)
    with pytest.raises(ValueError, match="calibration"):
        fooled_copy(tiny, "conv2:4", photo("astronaut", 32), photos[:1])
    with pytest.raises(ValueError, match="flat"):
        fooled_copy(tiny, "conv2:4", photo("astronaut", 32), torch.cat([photos[:3], torch.full((1, 3, 32, 32), 0.5)]))
    with pytest.raises(ValueError, match="latch_margin"):
        fooled_copy(tiny, "conv2:4", smiley(32), photos, latch_margin=1.5)
    with pytest.raises(ValueError, match="already looks like the picture"):
        fooled_copy(tiny, "conv2:4", smiley(32), torch.cat([photos[:3], smiley(32)[None]]))


def test_game_rounds_pair_a_high_photo_with_a_low_one(tiny):
    source = RandomCrops({"coffee": photo("coffee"), "chelsea": photo("chelsea")}, count=40, size=32, batch_size=16)
    rounds = game_rounds(tiny, "conv2", [1, 6], source, per_unit=4, seed=0)
    images = torch.cat(list(source))
    assert len(rounds) == 8 and {r.unit for r in rounds} == {1, 6}
    for game in rounds:
        responses = unit_means(tiny, tiny.unit("conv2", game.unit), images)
        assert torch.allclose(unit_means(tiny, tiny.unit("conv2", game.unit), game.photos), game.responses)
        assert game.answer == int(game.responses.argmax())
        assert float(game.responses.max()) >= float(responses.quantile(0.85))
        assert float(game.responses.min()) <= float(responses.median())
    with pytest.raises(ValueError, match="20 photographs"):
        game_rounds(tiny, "conv2", [1], RandomCrops({"c": photo("coffee")}, count=5, size=32))


def test_scoreboard_scores_each_reference_kind(tiny):
    source = RandomCrops({"coffee": photo("coffee"), "chelsea": photo("chelsea")}, count=40, size=32)
    rounds = game_rounds(tiny, "conv2", [2], source, per_unit=4)
    board = Scoreboard()
    for index, game in enumerate(rounds):
        board.record(index, "natural", game.answer)
        board.record(index, "synthetic", 1 - game.answer if index < 3 else game.answer)
    assert board.accuracy(rounds) == {"natural": (1.0, 4), "synthetic": (0.25, 4)}
    with pytest.raises(ValueError, match="0 \\(left\\) or 1"):
        board.record(0, "natural", 2)


def test_smiley_is_a_picture_in_range():
    face = smiley(40)
    assert face.shape == (3, 40, 40) and 0 <= float(face.min()) and float(face.max()) <= 1
    assert float(face[:, 20, 20].sum()) > float(face[:, 0, 0].sum())  # a bright face on a dark blue ground
    with pytest.raises(ValueError, match="size"):
        smiley(4)
