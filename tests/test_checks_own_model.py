"""Lesson 09's exercise checks (helpers.checks.own_model): the course's method gets full marks, plausible wrong
methods lose points, the placeholder is "not attempted"."""
from __future__ import annotations

import pytest
import torch
from torch.nn import functional as F

from helpers.checks.own_model import check_confusion_matrix, check_training_step, confusion_counts, training_step


def confusion(net, data) -> torch.Tensor:
    with torch.no_grad():
        guesses = net(data.images).argmax(1)
    counts = torch.zeros(len(data.classes), len(data.classes), dtype=torch.long)
    for truth, guess in zip(data.labels, guesses):
        counts[truth, guess] += 1
    return counts


def test_the_course_method_gets_full_marks(strict: None) -> None:
    assert check_confusion_matrix(confusion) and check_confusion_matrix(confusion_counts)
    assert check_training_step(training_step)


@pytest.mark.parametrize("wrong", [
    lambda net, data: confusion(net, data).T,                                         # rows and columns swapped
    lambda net, data: confusion(net, data) / confusion(net, data).sum(1, keepdim=True).clamp(min=1),  # shares
])
def test_wrong_confusion_matrices_lose_points(wrong) -> None:
    assert check_confusion_matrix(wrong) < check_confusion_matrix.points


def no_zero_grad(net, images, labels, optimizer) -> float:
    loss = F.cross_entropy(net(images), labels)
    loss.backward()
    optimizer.step()
    return loss.item()


def no_step(net, images, labels, optimizer) -> float:
    optimizer.zero_grad()
    loss = F.cross_entropy(net(images), labels)
    loss.backward()
    return loss.item()


def squared_error(net, images, labels, optimizer) -> float:
    optimizer.zero_grad()
    loss = F.mse_loss(net(images).softmax(1), F.one_hot(labels, net(images).shape[1]).float())
    loss.backward()
    optimizer.step()
    return loss.item()


@pytest.mark.parametrize("wrong", [no_zero_grad, no_step, squared_error])
def test_wrong_training_steps_lose_points(wrong) -> None:
    assert check_training_step(wrong) < check_training_step.points


def test_placeholder_is_not_attempted(exercise_probe) -> None:
    exercise_probe.not_attempted(lambda: check_confusion_matrix(...), lambda: check_training_step(lambda *a: None))
