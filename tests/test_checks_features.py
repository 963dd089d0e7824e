"""Lesson 01's exercise checks: the right answer passes, plausible wrong answers all fail, the
placeholder ``...`` reports "not attempted". A tiny hand-built network and noise images keep it quick."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from helpers.checks import ExerciseError, NotAttempted
from helpers.checks.features import check_mix_vector, check_receptive_patch, check_top_in_standard_deviations
from helpers.dataset_examples import crop_box, scan_layer
from helpers.images import RandomCrops
from helpers.models import wrap_model


pytestmark = pytest.mark.usefixtures("strict")  # as when grading: a wrong answer raises


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    module = nn.Sequential(nn.Conv2d(3, 6, 3, padding=1), nn.ReLU(), nn.Conv2d(6, 10, 3, stride=2, padding=1), nn.ReLU(),
                           nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(10, 4))
    return wrap_model(module, {"conv1": "1", "conv2": "3"}, name="tiny-features", input_size=32)


@pytest.fixture(scope="module")
def examples(model):
    photos = {"noise": torch.rand(3, 80, 80, generator=torch.Generator().manual_seed(0))}
    source = RandomCrops(photos, count=24, size=32, scales=(0.3, 1.0), seed=0, batch_size=8)
    return scan_layer(model, "conv2", source, top_k=4, band_k=4, cache=False, progress=False)


def z(examples, c: int) -> float:
    return (float(examples.top_values(c)[0]) - float(examples.mean[c])) / float(examples.std[c])


# --- exercise 1 -----------------------------------------------------------------------------------------
def test_ex1_right_answer_passes(examples) -> None:
    assert check_top_in_standard_deviations(examples, 3, z(examples, 3))
    assert check_top_in_standard_deviations(examples, 3, torch.tensor(z(examples, 3)))


def test_ex1_wrong_answers_fail(examples) -> None:
    c = 3
    top, mean, std = float(examples.top_values(c)[0]), float(examples.mean[c]), float(examples.std[c])
    wrong = [top / std, top - mean, (top - mean) / std ** 2, top, mean, std, 0.0, 3.0, 4.0, 5.0, 10.0,
             z(examples, c) + 0.1, *(z(examples, other) for other in range(examples.channels) if other != c and float(examples.std[other]) > 0),
             float("nan"), "4", True, [z(examples, c)]]
    for answer in wrong:
        with pytest.raises(ExerciseError):
            check_top_in_standard_deviations(examples, c, answer)


def test_ex1_message_does_not_give_the_answer(examples, monkeypatch, capsys) -> None:
    monkeypatch.delenv("CIRCUITS_STRICT")
    assert not check_top_in_standard_deviations(examples, 3, 1.2345)
    assert f"{z(examples, 3):.2f}" not in capsys.readouterr().out


# --- exercise 2 -----------------------------------------------------------------------------------------
def vec(model, **weights) -> torch.Tensor:
    v = torch.zeros(model.channels("conv2"))
    for key, value in weights.items():
        v[int(key[1:])] = value
    return v


def test_ex2_right_answer_passes(model) -> None:
    assert check_mix_vector(model, "conv2", 2, 5, vec(model, c2=1.0, c5=0.5))


def test_ex2_wrong_answers_fail(model) -> None:
    wrong = [vec(model, c2=1.0, c5=1.0), vec(model, c2=0.5, c5=1.0), vec(model, c2=2.0, c5=1.0), vec(model, c2=1.0),
             vec(model, c5=0.5), vec(model, c2=1.0, c5=-0.5), vec(model, c2=1.0, c5=0.5, c7=0.1),
             vec(model, c3=1.0, c5=0.5), torch.zeros(5), torch.ones(model.channels("conv2")), [1.0, 0.5], 1.0]
    for answer in wrong:
        with pytest.raises(ExerciseError):
            check_mix_vector(model, "conv2", 2, 5, answer)


# --- exercise 3 -----------------------------------------------------------------------------------------
def right_patch(examples, c: int) -> torch.Tensor:
    index = int(examples.top_indices(c)[0])
    row, col = examples.top_positions(c)[0].tolist()
    return crop_box(examples.source[index], examples.patch_box(row, col))


def test_ex3_right_answer_passes(examples) -> None:
    assert check_receptive_patch(examples, 4, right_patch(examples, 4))


def test_ex3_wrong_answers_fail(examples) -> None:
    c = 4
    index = int(examples.top_indices(c)[0])
    row, col = examples.top_positions(c)[0].tolist()
    second = examples.top_patches(c, 2)[1]
    box = examples.patch_box(row, col)
    shifted = (box[0] + 1, box[1], box[2] + 1, box[3])
    wrong = [examples.source[index], second, crop_box(examples.source[index], shifted),
             crop_box(examples.source[index], box, pad_value=0.0), torch.full_like(second, 0.5),
             right_patch(examples, (c + 1) % examples.channels), right_patch(examples, c)[:, :-1, :-1], 0.5]
    for answer in wrong:
        if isinstance(answer, torch.Tensor) and answer.shape == second.shape and torch.allclose(answer, right_patch(examples, c)):
            continue  # the same patch reached another way (e.g. no padding needed): not a wrong answer
        with pytest.raises(ExerciseError):
            check_receptive_patch(examples, c, answer)


# --- not attempted --------------------------------------------------------------------------------------
def test_placeholder_is_not_attempted(model, examples, monkeypatch, capsys) -> None:
    for call in (lambda: check_top_in_standard_deviations(examples, 3, ...),
                 lambda: check_mix_vector(model, "conv2", 2, 5, ...),
                 lambda: check_receptive_patch(examples, 4, ...)):
        with pytest.raises(NotAttempted):
            call()
    monkeypatch.delenv("CIRCUITS_STRICT")
    for call in (lambda: check_top_in_standard_deviations(examples, 3, ...),
                 lambda: check_mix_vector(model, "conv2", 2, 5, ...),
                 lambda: check_receptive_patch(examples, 4, ...)):
        assert not call()
        assert "Not attempted yet" in capsys.readouterr().out


def test_patch_activations_reproduce_the_scan(model, examples) -> None:
    """Pasted where the scan saw them, the top patches give back the scan's own top values (where the
    scan's box lies inside the image, so the network's own padding played no part)."""
    size, compared = examples.image_size, 0
    for c in range(examples.channels):
        again = examples.patch_activations(model, c, examples.top_patches(c, 4))
        for j, (row, col) in enumerate(examples.top_positions(c, 4).tolist()):
            top, left, bottom, right = examples.patch_box(row, col)
            if top >= 0 and left >= 0 and bottom <= size and right <= size:
                assert abs(float(again[j]) - float(examples.top_values(c)[j])) < 1e-5, (c, j)
                compared += 1
    assert compared >= 5
