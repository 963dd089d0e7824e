"""Guess-rejection tests of lesson 08's exercise checks, on a tiny network and a few shapes."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from helpers import wrap_model
from helpers.checks.own_model import (
    check_most_confused, check_top_unit_for_class, check_wrapped, class_mean_activation, predictions,
)
from helpers.training import shapes_data, untrained_classifier


pytestmark = pytest.mark.usefixtures("strict")  # as when grading: a wrong answer raises


@pytest.fixture(scope="module")
def data():
    return shapes_data(count=96, size=16, seed=3)


@pytest.fixture(scope="module")
def model(data):
    return untrained_classifier(data, width=4, seed=0).model


def _confusions(model, data, true_class):
    index = data.classes.index(true_class)
    counts = torch.bincount(predictions(model, data)[data.labels == index], minlength=len(data.classes))
    counts[index] = -1
    return counts


def test_most_confused(model, data):
    for true_class in data.classes:
        counts = _confusions(model, data, true_class)
        best = int(counts.argmax())
        if counts[best] <= 0:  # no mistakes on this class: no answer is right
            for name in data.classes:
                with pytest.raises(AssertionError):
                    check_most_confused(model, data, true_class, name)
            continue
        assert check_most_confused(model, data, true_class, data.classes[best])
        for index, name in enumerate(data.classes):  # every other class fails, the right one itself too
            if counts[index] < counts[best]:
                with pytest.raises(AssertionError):
                    check_most_confused(model, data, true_class, name)
        for guess in (0, best, None, true_class.upper()):
            with pytest.raises(AssertionError):
                check_most_confused(model, data, true_class, guess)


def test_most_confused_depends_on_the_network(data):
    """An answer read off another network (another seed) fails where the two networks disagree."""
    a, b = (untrained_classifier(data, width=4, seed=s).model for s in (0, 5))
    disagree = 0
    for true_class in data.classes:
        ca, cb = _confusions(a, data, true_class), _confusions(b, data, true_class)
        answer_b = data.classes[int(cb.argmax())]
        if ca[data.classes.index(answer_b)] < ca.max():
            disagree += 1
            with pytest.raises(AssertionError):
                check_most_confused(a, data, true_class, answer_b)
    assert disagree >= 1


def test_top_unit_for_class(model, data):
    means = class_mean_activation(model, data, "conv4")
    for class_index, name in enumerate(data.classes):
        best = int(means[class_index].argmax())
        assert check_top_unit_for_class(model, data, "conv4", name, best)
        for unit in range(means.shape[1]):  # every other unit fails
            if means[class_index, unit] < means[class_index, best]:
                with pytest.raises(AssertionError):
                    check_top_unit_for_class(model, data, "conv4", name, unit)
        # the unit of another class (the overall strongest, another class's best), out-of-range numbers, other types
        for guess in [int(means.mean(0).argmax()), int(means[(class_index + 1) % len(data.classes)].argmax()),
                      -1, means.shape[1], float(best), str(best), True]:
            if guess == best and type(guess) is int:
                continue
            with pytest.raises(AssertionError):
                check_top_unit_for_class(model, data, "conv4", name, guess)


def _module():
    return nn.Sequential(nn.Conv2d(3, 6, 3, padding=1), nn.BatchNorm2d(6), nn.ReLU(),
                         nn.Conv2d(6, 12, 3, padding=1), nn.BatchNorm2d(12), nn.ReLU(),
                         nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(12, 4)).eval()


def test_wrapped():
    torch.manual_seed(0)
    module = _module()
    module[4].running_mean.fill_(0.3)  # so that the batch norm's output has negative values
    assert check_wrapped(module, wrap_model(module, {"first": "2", "second": "5"}, input_size=32))
    assert check_wrapped(module, wrap_model(module, {"second": "5"}, input_size=32, mean=(0.5,) * 3, std=(0.25,) * 3))
    wrong = [
        wrap_model(module, {"first": "2", "second": "4"}, input_size=32),  # the batch norm, before the ReLU
        wrap_model(module, {"first": "2", "second": "3"}, input_size=32),  # the convolution
        wrap_model(module, {"first": "0", "second": "2"}, input_size=32),  # the first ReLU
        wrap_model(module, {"first": "2", "third": "5"}, input_size=32),  # no layer called second
        wrap_model(_module(), {"first": "2", "second": "5"}, input_size=32),  # another module
        module, "5", 5,
    ]
    for answer in wrong:
        with pytest.raises(AssertionError):
            check_wrapped(module, answer)


def test_placeholders_are_not_attempted(model, data, exercise_probe):
    calls = [lambda: check_most_confused(model, data, "circle", ...),
             lambda: check_top_unit_for_class(model, data, "conv4", "circle", ...),
             lambda: check_wrapped(_module(), ...)]
    exercise_probe.not_attempted(*calls)
