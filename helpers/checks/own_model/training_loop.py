"""Lesson 09's checks on training and evaluation: a confusion matrix (exercise 1), a training step (exercise 2), the
untrained twin's batch-norm statistics (exercise 10) and per-class accuracy with its confidence interval (exercise 11).

Each check calls the student's function on networks and data the notebook never shows (an untrained small network on
shapes of another seed, hand-built networks whose predictions are known, fresh copies of small networks stepped side
by side) and compares it with the course's implementation.
"""
from __future__ import annotations

import copy
import functools
import sys
import warnings
from typing import Callable

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from ...models import CircuitModel
from ...wrapping import wrap_model
from ...training import LabelledImages, evaluation, fitting, shapes_data, untrained_classifier
from ...training.fitting import calibrate_batch_norm
from ...training.networks import SmallConvNet
from .. import ExerciseError, Grade, exercise, expect, expect_close
from ..withheld import answer_without, compare_with_course


#: This module: its confusion_counts and training_step are the course's answers, withheld while the student's run.
_COURSE = sys.modules[__name__]


def confusion_counts(model: CircuitModel, data: LabelledImages) -> np.ndarray:
    """How many images of each true class (rows) the network gives each class (columns): (classes, classes)."""
    k = len(data.classes)
    pairs = data.labels.cpu() * k + evaluation.predicted_classes(model, data)
    return torch.bincount(pairs, minlength=k * k).reshape(k, k).numpy()


def training_step(net: nn.Module, images: torch.Tensor, labels: torch.Tensor, optimizer: torch.optim.Optimizer) -> float:
    """One step of gradient descent on the cross-entropy of ``net``'s logits; returns the loss before the step."""
    loss = F.cross_entropy(net(images), labels)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    return float(loss.item())


def _always(class_index: int, classes: list[str], size: int) -> CircuitModel:
    """A hand-built network that gives every image the same class: its confusion matrix is known."""
    head = nn.Linear(2, len(classes))
    with torch.no_grad():
        head.weight.zero_()
        head.bias.zero_()
        head.bias[class_index] = 1.0
    module = nn.Sequential(nn.Conv2d(3, 2, 1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), head).eval()
    return wrap_model(module, {"conv": "1"}, name=f"always_{classes[class_index]}", input_size=size, labels=classes)


@functools.cache
def _confusion_cases() -> dict[str, tuple[CircuitModel, LabelledImages]]:
    """Held-out (network, data) cases, built once: the check hands out deep copies."""
    data = shapes_data(count=96, seed=77)
    few = shapes_data(count=40, seed=78, classes=["circle", "line", "corner"])
    return {
        "an untrained small network on shapes it never saw": (untrained_classifier(data, width=4, seed=5).model, data),
        "a network that always answers one class": (_always(2, list(few.classes), few.size), few),
        "another network on three classes": (untrained_classifier(few, width=4, seed=6).model, few),
    }


@exercise(points=2)
def check_confusion_matrix(my_confusion_matrix: Callable) -> Grade:
    """Exercise 1: my_confusion_matrix(net, data) counts the images of each true class (rows) given each class (columns)."""
    grade = Grade()
    hint = "Predict every image (net(images).argmax(1)); add 1 at [true label, predicted class] for each image."
    for name, case in _confusion_cases().items():
        with grade.part(name):
            net, images = copy.deepcopy(case)  # an answer that changes the network or the data changes only its copy
            answer = answer_without({_COURSE: ("confusion_counts",)}, my_confusion_matrix, net, images)
            expect_close(answer, confusion_counts(net, images), "confusion matrix", rtol=0, atol=0.5, hint=hint)
    return grade


def _stepped(step: Callable, net: nn.Module, batches: list[tuple[torch.Tensor, torch.Tensor]],
             make_optimizer: Callable[[nn.Module], torch.optim.Optimizer], returns_loss: bool) -> tuple[list[float], nn.Module]:
    net = copy.deepcopy(net)
    optimizer = make_optimizer(net)
    losses = []
    for images, labels in batches:
        loss = (answer_without({_COURSE: ("training_step",)}, step, net, images, labels, optimizer) if returns_loss
                else step(net, images, labels, optimizer))
        try:
            losses.append(float(loss))
        except (TypeError, ValueError, RuntimeError):
            raise ExerciseError(f"Your function should return the loss: one number, not {type(loss).__name__}.") from None
    return losses, net


@exercise(points=3)
def check_training_step(my_training_step: Callable) -> Grade:
    """Exercise 2: my_training_step(net, images, labels, optimizer) takes one gradient step on the cross-entropy and returns the loss."""
    grade = Grade()
    hint = ("Compute the logits and F.cross_entropy, clear the old gradients (optimizer.zero_grad()), "
            "loss.backward(), optimizer.step(), and return loss.item().")
    data = shapes_data(count=48, seed=91)
    inputs = (data.images - 0.5) / 0.5
    batches = [(inputs[i : i + 16], data.labels[i : i + 16]) for i in range(0, 48, 16)]
    torch.manual_seed(3)
    small = SmallConvNet(len(data.classes), width=4).train()
    torch.manual_seed(4)
    linear = nn.Sequential(nn.Flatten(), nn.Linear(3 * data.size * data.size, len(data.classes)))
    cases = {
        "a small conv network, three steps of SGD with momentum":
            (small, lambda net: torch.optim.SGD(net.parameters(), lr=0.05, momentum=0.9)),
        "the same network, three steps of Adam": (small, lambda net: torch.optim.Adam(net.parameters(), lr=1e-3)),
        "a linear classifier, three steps of plain SGD": (linear, lambda net: torch.optim.SGD(net.parameters(), lr=0.1)),
    }
    for name, (net, make_optimizer) in cases.items():
        with grade.part(name):
            losses, theirs = _stepped(my_training_step, net, batches, make_optimizer, returns_loss=True)
            reference_losses, ours = _stepped(training_step, net, batches, make_optimizer, returns_loss=False)
            expect_close(losses, reference_losses, "the returned losses", rtol=1e-4, atol=1e-6, hint=hint)
            for (parameter, mine), theirs_parameter in zip(ours.named_parameters(), theirs.parameters()):
                expect_close(theirs_parameter.detach(), mine.detach(), f"the weights {parameter} after the steps",
                             rtol=1e-3, atol=1e-6, hint=hint)
    return grade


@functools.cache
def _twin_cases() -> dict[str, tuple[nn.Module, torch.Tensor, int, torch.Tensor]]:
    """Held-out (network, normalized images, batch size, other images to run it on): a fresh network of the lesson's
    architecture, one whose batch norms already hold statistics, and a hand-built network of another shape. Built
    once; the check hands out copies (the networks by ``copy.deepcopy``, the images by ``answer_without``)."""
    generator = torch.Generator().manual_seed(1010)
    data = shapes_data(count=110, seed=64)
    images = (data.images - 0.5) / 0.5
    with torch.random.fork_rng(devices=[]):  # the lesson's random stream is left as it was
        torch.manual_seed(11)
        fresh = SmallConvNet(len(data.classes), width=4)
        torch.manual_seed(12)
        used = SmallConvNet(len(data.classes), width=4).train()
        with torch.no_grad():  # statistics from other, brighter images: they must be forgotten
            for start in range(0, 60, 20):
                used(images[start : start + 20] + 1.0)
        torch.manual_seed(13)
        hand_built = nn.Sequential(nn.Conv2d(3, 5, 3), nn.BatchNorm2d(5), nn.ReLU(), nn.Conv2d(5, 6, 3, stride=2),
                                   nn.BatchNorm2d(6), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(6, 2))
    for net in (fresh, used, hand_built):
        net.eval()  # as a network is handed over: the answer must switch the batch norms to training mode itself
    other = 0.5 * torch.randn(8, 3, 20, 20, generator=generator) + 0.3
    return {
        "a fresh network of the lesson's architecture (width 4, seed 11): 100 images in batches of 32": (
            fresh, images[:100], 32, images[100:]),
        "a network whose batch norms already hold other statistics: 90 images in batches of 25": (
            used, images[10:100], 25, images[100:]),
        "a hand-built network (two convolutions, each with a batch norm) on 20-pixel images in batches of 7": (
            hand_built, 0.5 * torch.randn(30, 3, 20, 20, generator=generator) + 0.3, 7, other),
    }


def _statistics(net: nn.Module) -> list[torch.Tensor]:
    return [value for module in net.modules() if isinstance(module, nn.BatchNorm2d)
            for value in (module.running_mean, module.running_var)]


@exercise(points=3)
def check_twin_batch_norm(my_calibrate_batch_norm: Callable) -> Grade:
    """Exercise 10: my_calibrate_batch_norm(net, images, batch_size) sets every batch norm's running statistics to the
    equal-weight average over the batches of ``images`` (forgetting what it held) and returns ``net`` in evaluation
    mode."""
    grade = Grade()
    hint = ("For every nn.BatchNorm2d: reset_running_stats() and momentum = None (an equal-weight average over batches). "
            "Then net.train(), and under torch.no_grad() run the images batch by batch; give each batch norm its momentum "
            "back and return net.eval().")
    for name, (net, images, batch_size, other) in _twin_cases().items():
        with grade.part(name):
            ours = calibrate_batch_norm(copy.deepcopy(net), images.clone(), batch_size)
            theirs = answer_without({fitting: ("calibrate_batch_norm", "untrained_classifier")},
                                    my_calibrate_batch_norm, copy.deepcopy(net), images, batch_size)
            expect(isinstance(theirs, nn.Module), f"Return the network; yours returned {type(theirs).__name__}.", hint)
            expect(not theirs.training, "The network you return is still in training mode: a control is run in "
                   "evaluation mode, with the statistics you set.", hint)
            for index, (got, want) in enumerate(zip(_statistics(theirs), _statistics(ours))):
                expect_close(got, want, f"the running {'variance' if index % 2 else 'mean'} of batch norm {index // 2 + 1}",
                             rtol=1e-4, atol=1e-6, hint=hint)
            with torch.no_grad():
                expect_close(theirs(other), ours(other), "the calibrated network's logits on other images", rtol=1e-3,
                             atol=1e-5, hint=hint)
    return grade


def _accuracy_cases() -> dict[str, list[tuple[torch.Tensor, torch.Tensor, int, float]]]:
    """Held-out (predicted, labels, classes, z) cases, each built to catch one slip: classes always and never right (the
    textbook interval shrinks to nothing there), accuracy per true class rather than per predicted class, z other than
    1.96, a class with no image, images in no particular order."""
    generator = torch.Generator().manual_seed(1111)
    labels = torch.randint(5, (400,), generator=generator)
    right = torch.rand(400, generator=generator) < torch.tensor([0.9, 0.7, 0.5, 0.3, 0.6])[labels]
    wrong = torch.where(torch.rand(400, generator=generator) < 0.7, 0, torch.randint(5, (400,), generator=generator))
    shuffled = torch.randperm(60, generator=generator)
    few = torch.tensor([0] * 30 + [1] * 20 + [2] * 10)
    few_right = torch.tensor([0] * 27 + [1] * 3 + [1] * 12 + [2] * 8 + [2] * 1 + [0] * 9)
    return {
        "3 classes of 10, 6 and 8 images: always right, never right, half right (z = 1.96)": [
            (torch.tensor([0] * 10 + [2] * 6 + [2, 0] * 4), torch.tensor([0] * 10 + [1] * 6 + [2] * 8), 3, 1.96)],
        "400 images of 5 classes, most mistakes answered as class 0: 99% intervals (z = 2.576)": [
            (torch.where(right, labels, wrong), labels, 5, 2.576)],
        "4 classes, one with no image and one with a single image (z = 1)": [
            (torch.tensor([0] * 20 + [1] * 5 + [1] * 5 + [0] * 2 + [3]), torch.tensor([0] * 25 + [1] * 7 + [3]), 4, 1.0)],
        "60 images of 3 classes in no particular order, 90% intervals (z = 1.645)": [
            (few_right[shuffled], few[shuffled], 3, 1.645)],
    }


def _as_array(value: object, what: str, hint: str) -> np.ndarray:
    try:
        return np.asarray(value.detach().cpu() if isinstance(value, torch.Tensor) else value, dtype=np.float64)
    except (TypeError, ValueError, RuntimeError):
        raise ExerciseError(f"{what}: expected one number per class, got {type(value).__name__}. {hint}") from None


@exercise(points=4)
def check_class_accuracy(my_class_accuracy: Callable) -> Grade:
    """Exercise 11: my_class_accuracy(predicted, labels, classes, z) returns per class (accuracy, low, high): the share
    of the class's images predicted as it and its Wilson score interval, NaN for a class with no image."""
    grade = Grade()
    hint = ("For each class c: its images are labels == c (n of them); p is the share of them predicted as c. With "
            "k = z * z / n: centre (p + k / 2) / (1 + k), half-width z * sqrt(p (1 - p) / n + k / (4 n)) / (1 + k). "
            "NaN everywhere for a class with no image.")
    hidden = {evaluation: ("class_accuracy_interval", "compare_class_accuracy")}
    for name, cases in _accuracy_cases().items():
        with grade.part(name):
            for predicted, labels, classes, z in cases:
                expected = evaluation.class_accuracy_interval(predicted, labels, classes, z)
                answer = answer_without(hidden, my_class_accuracy, predicted, labels, classes, z)
                expect(isinstance(answer, (tuple, list)) and len(answer) == 3,
                       "Return three things, each with one value per class: (accuracy, low, high).", hint)
                for got, want, what in zip(answer, expected, ("the accuracy per class", "the intervals' lower ends",
                                                              "the intervals' upper ends")):
                    got = _as_array(got, what, hint)
                    expect(got.shape == want.shape, f"{what}: give one value per class, shape {want.shape}; yours has "
                           f"shape {got.shape}.", hint)
                    expect(bool((np.isnan(got) == np.isnan(want)).all()),
                           f"{what}: NaN belongs exactly to the classes with no image, and only to them.", hint)
                    known = ~np.isnan(want)
                    expect_close(got[known], want[known], what, rtol=1e-6, atol=1e-9, hint=hint)
    return grade


@functools.cache
def _epoch_data(count: int, seed: int, held_out: float) -> tuple[LabelledImages, LabelledImages]:
    """Small shapes (16 px) split into training and held-out images, drawn once per case (a held-out set this small
    would be noise for a real accuracy, and the split says so; here it only has to be the same for both answers)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return shapes_data(count=count, size=16, seed=seed).split(held_out, seed=seed)


def _epoch_trial(epoch: Callable, count: int, seed: int, held_out: float, batch_size: int, optimizer_kind: str,
                 epochs: int, student: bool) -> torch.Tensor | None:
    """``epochs`` calls of ``epoch`` on a fresh small network (one optimizer, schedule and generator for all of them):
    every step's loss, the held-out accuracy after each epoch, then every weight and batch-norm statistic at the end."""
    train, test = _epoch_data(count, seed, held_out)
    torch.manual_seed(seed)
    net = SmallConvNet(len(train.classes), width=2, size=16)
    if optimizer_kind == "adam":
        optimizer = torch.optim.Adam(net.parameters(), lr=3e-3)
        schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1 - step / 40)
    else:
        optimizer = torch.optim.SGD(net.parameters(), lr=0.05, momentum=0.9)
        schedule = torch.optim.lr_scheduler.StepLR(optimizer, step_size=2, gamma=0.5)
    generator = torch.Generator().manual_seed(seed + 1)
    numbers = []
    for _ in range(epochs):
        if student:
            answer = epoch(net, train, test, optimizer, schedule, batch_size, generator)
            if answer is None:
                return None
            try:
                losses, accuracy = answer
                numbers += [float(loss) for loss in losses] + [float(accuracy)]
            except (TypeError, ValueError, RuntimeError):
                raise ExerciseError("Your function should return (the list of step losses, the held-out accuracy), not "
                                    f"{type(answer).__name__}.") from None
        else:
            numbers += epoch(net, train, optimizer, schedule, batch_size, generator) + [fitting.evaluate(net, test)[1]]
    state = [tensor.detach().double().flatten() for tensor in net.state_dict().values() if tensor.is_floating_point()]
    return torch.cat([torch.tensor(numbers, dtype=torch.float64), *state])


@functools.cache
def _course_epoch(*case: object) -> torch.Tensor:
    """The course's epoch on one case, computed once (it is deterministic): what every answer is compared with."""
    return _epoch_trial(fitting.train_epoch, *case, student=False)  # type: ignore[arg-type]


@exercise(points=3)
def check_training_epoch(my_training_epoch: Callable) -> Grade:
    """Exercise 12: my_training_epoch(net, train, test, optimizer, schedule, batch_size, generator) trains one epoch on
    shuffled, normalized batches and returns the step losses and the held-out accuracy measured in evaluation mode."""
    parts = {
        "batches that divide the images evenly, Adam with a linearly decaying learning rate": [
            (40, 101, 0.2, 8, "adam", 1),
        ],
        "a last batch smaller than the others, SGD with momentum and a step schedule": [
            (38, 102, 0.25, 8, "sgd", 1),
            (29, 103, 0.3, 6, "adam", 1),
        ],
        "two epochs in a row from one generator (a new order each epoch), held-out sets of other sizes": [
            (36, 104, 0.2, 12, "sgd", 2),
            (44, 105, 0.35, 10, "adam", 2),
        ],
    }

    def yours(*case: object) -> torch.Tensor | None:
        return _epoch_trial(my_training_epoch, *case, student=True)  # type: ignore[arg-type]

    return compare_with_course(
        parts, yours, _course_epoch, {fitting: _EPOCH_HIDDEN},
        "your step losses and held-out accuracy, then the weights and batch-norm statistics after the epoch",
        rtol=1e-4, atol=1e-5,
        hint="net.train(); order = torch.randperm(len(train), generator=generator); for each batch of the order: images "
             "normalized as (x - 0.5) / 0.5, cross-entropy, zero_grad, backward, optimizer.step(), schedule.step(), keep "
             "loss.item(). Then net.eval() and, under torch.no_grad(), the share of the held-out images whose largest "
             "logit is their label.")


_EPOCH_HIDDEN = ("train_epoch", "evaluate", "_evaluate", "train_classifier", "untrained_classifier")
