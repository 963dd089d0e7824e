"""Lesson 00's exercise checks: the course's method gets full marks, neighbouring methods lose points,
the placeholder reports "not attempted". A tiny wrapped network keeps it quick."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from helpers.checks.tour import check_capture_hook, check_strongest_units
from helpers.wrapping import wrap_model


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    module = nn.Sequential(nn.Conv2d(3, 6, 3, padding=1), nn.ReLU(), nn.Conv2d(6, 8, 3, stride=2, padding=1), nn.ReLU(),
                           nn.Conv2d(8, 8, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 4))
    return wrap_model(module, name="tiny-tour-test", input_size=32)


def solution_capture(module, inputs, path):
    store = {}
    handle = module.get_submodule(path).register_forward_hook(lambda m, i, output: store.update(out=output))
    try:
        with torch.no_grad():
            module(inputs)
    finally:
        handle.remove()
    return store["out"]


def input_capture(module, inputs, path):
    store = {}
    handle = module.get_submodule(path).register_forward_hook(lambda m, i, output: store.update(out=i[0]))
    try:
        module(inputs)
    finally:
        handle.remove()
    return store["out"]


def leaky_capture(module, inputs, path):
    store = {}
    module.get_submodule(path).register_forward_hook(lambda m, i, output: store.update(out=output))
    module(inputs)
    return store["out"]


def test_capture_right_answer_passes(model, strict) -> None:
    assert check_capture_hook(solution_capture, model)


@pytest.mark.parametrize("wrong", [input_capture, leaky_capture, lambda module, inputs, path: module(inputs)])
def test_capture_wrong_methods_lose_points(model, wrong) -> None:
    assert not check_capture_hook(wrong, model)


def solution_strongest(maps, k):
    return maps.flatten(1).amax(1).topk(k).indices.tolist()


def test_strongest_right_answer_passes(model, strict) -> None:
    assert check_strongest_units(solution_strongest, model)


@pytest.mark.parametrize("wrong", [
    lambda maps, k: maps.flatten(1).mean(1).topk(k).indices.tolist(),
    lambda maps, k: maps[:, maps.shape[1] // 2, maps.shape[2] // 2].topk(k).indices.tolist(),
    lambda maps, k: maps.flatten(1).amax(1).topk(k, largest=False).indices.tolist(),
    lambda maps, k: list(reversed(solution_strongest(maps, k))),
])
def test_strongest_wrong_methods_lose_points(model, wrong) -> None:
    assert not check_strongest_units(wrong, model)


def test_placeholders_are_not_attempted(model, capsys) -> None:
    assert not check_capture_hook(lambda module, inputs, path: None, model)
    assert not check_strongest_units(..., model)
    assert "Not attempted yet" in capsys.readouterr().out


def solution_top_classes(logits, labels, k):
    values, indices = logits.softmax(-1).topk(k)
    return [(labels[int(i)], float(p)) for p, i in zip(values, indices)]


def test_top_classes_right_answer_passes(model, strict) -> None:
    from helpers.checks.tour import check_top_classes
    assert check_top_classes(solution_top_classes, model)


@pytest.mark.parametrize("wrong", [
    lambda logits, labels, k: [(labels[int(i)], float(p)) for p, i in zip(*logits.sigmoid().topk(k))],
    lambda logits, labels, k: [(labels[int(i)], float(p)) for p, i in zip(*logits.topk(k))],
    lambda logits, labels, k: list(reversed(solution_top_classes(logits, labels, k))),
    lambda logits, labels, k: solution_top_classes(logits, labels, k + 1),
])
def test_top_classes_wrong_methods_lose_points(model, wrong) -> None:
    from helpers.checks.tour import check_top_classes
    assert not check_top_classes(wrong, model)
