"""Self-checks for the exercises of lesson 09 (your own model and data set): a confusion matrix, a training step,
a weight-banding score, a branch census's chance tail, a wrapped network, class purity, a layer's strongest kernels,
a branch census and the untrained twin's batch-norm statistics.

Each check calls the student's function on networks and data the notebook never shows (an untrained
small network on shapes of another seed, hand-built networks whose predictions are known, fresh
copies of small networks stepped side by side) and compares it with the course's implementation here.
"""
from __future__ import annotations

import copy
import functools
import sys
from typing import Callable

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from ..activations import capture
from ..models import CircuitModel
from ..wrapping import wrap_model
from ..training import LabelledImages, evaluation, fitting, shapes_data, untrained_classifier
from ..training.evaluation import class_purity
from ..training.fitting import calibrate_batch_norm
from ..training.networks import SmallConvNet
from .. import branches
from ..weights import banding
from ..weights.banding import band_shares, strongest_kernels
from ..branches import census_counts
from . import ExerciseError, Grade, exercise, expect, expect_close, one_number, passed
from .withheld import answer_without, compare_with_course


#: This module: its confusion_counts and training_step are the course's answers, withheld while the student's run.
_COURSE = sys.modules[__name__]


def predictions(model: CircuitModel, data: LabelledImages, batch_size: int = 256) -> torch.Tensor:
    """The class index the network predicts for every image of ``data`` (on the CPU)."""
    with torch.no_grad():
        return torch.cat([model(data.images[start : start + batch_size]).argmax(1).cpu()
                          for start in range(0, len(data), batch_size)])


def confusion_counts(model: CircuitModel, data: LabelledImages) -> np.ndarray:
    """How many images of each true class (rows) the network gives each class (columns): (classes, classes)."""
    k = len(data.classes)
    pairs = data.labels.cpu() * k + predictions(model, data)
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


def _banding_cases() -> dict[str, list[tuple[torch.Tensor]]]:
    """Convolution weights the lesson never shows, each built to catch one way of getting the score wrong."""
    generator = torch.Generator().manual_seed(2024)
    stripes = torch.randn(6, 4, 3, 1, generator=generator).expand(6, 4, 3, 3)
    offsets = 2 * torch.randn(6, 4, 1, 1, generator=generator)
    strong = 4 * torch.randn(3, 2, 1, 5, generator=generator).expand(3, 2, 5, 5)  # a few loud vertical-stripe kernels
    faint = 0.2 * torch.randn(3, 2, 5, 5, generator=generator)  # beside many faint random ones
    return {
        "horizontal stripes on top of a constant offset per kernel": [(stripes + offsets,)],
        "random 5x5 kernels": [(torch.randn(8, 5, 5, 5, generator=generator),)],
        "a few strong vertical-stripe kernels among faint random ones": [(torch.cat([strong, faint], dim=1),)],
        "rectangular 3x5 kernels with a horizontal tilt": [
            (torch.randn(4, 3, 3, 5, generator=generator) + torch.linspace(-1, 1, 3).view(1, 1, 3, 1),)],
    }


@exercise(points=3)
def check_band_shares(my_band_shares: Callable) -> Grade:
    """Exercise 3: my_band_shares(weight) returns the (horizontal, vertical) shares of a layer's centred kernel energy."""
    return compare_with_course(
        _banding_cases(), my_band_shares, band_shares, {banding: ("band_shares", "network_band_shares")},
        "(horizontal, vertical) shares", rtol=1e-3, atol=1e-4,
        hint="Centre each kernel on its own mean (weight.mean(dim=(2, 3), keepdim=True)); the horizontal part is the "
             "row means (mean over dim 3) repeated along each row. Sum the parts' squares over every kernel, then "
             "divide by the sum of all centred squares.")


#: Per part, (channels in the layer, channels in the branch, family size, members found in the branch): cases the
#: lesson never shows, each catching one slip: a tail far out (a binomial, drawing with repeats, is off there), a middle
#: count (P(X = k) instead of P(X >= k); > instead of >=), and the two ends (no member required: certain; more members
#: than the branch holds: impossible) beside an ordinary count, so that no constant passes a part.
_TAIL_CASES = {
    "7 of 9 units in a branch with a quarter of 320 channels": [(320, 80, 9, 7)],
    "3 of 12 units in a branch of 40 out of 200": [(200, 40, 12, 3)],
    "5 of 6 units in a branch holding half of 64 channels": [(64, 32, 6, 5)],
    "the ends: 0 of 4 units required, 3 of 8 units in a branch of 2, beside 2 of 5 in a branch of 10 out of 50":
        [(50, 10, 4, 0), (30, 2, 8, 3), (50, 10, 5, 2)],
}


@exercise(points=2)
def check_chance_tail(my_chance_tail: Callable) -> Grade:
    """Exercise 4: my_chance_tail(total, width, drawn, members) is the chance that ``drawn`` of ``total`` channels, chosen
    at random without repeats, put at least ``members`` into a branch of ``width`` channels."""
    return compare_with_course(  # withholding _draws_with withholds at_least_by_chance and branch_census too
        _TAIL_CASES, my_chance_tail, branches.at_least_by_chance, {branches: ("_draws_with",)}, "the probability",
        rtol=1e-6, atol=1e-12,
        hint="Count the draws: choose k of the branch's channels and the rest from outside it, C(width, k) * C(total - "
             "width, drawn - k), for every k from members up, over C(total, drawn) draws in all (math.comb).")


def _purity_cases() -> dict[str, tuple[torch.Tensor, torch.Tensor, int]]:
    """Held-out (peaks (images, units), labels, count): a hand-made layer with a pure, a mixed and a silent unit, random
    peaks of 5 classes, and the single strongest image."""
    generator = torch.Generator().manual_seed(909)
    labels = torch.arange(30) % 3
    ranks = torch.rand(30, 4, generator=generator)
    ranks[:, 0] += 2 * (labels == 1)  # unit 0's strongest images are all of class 1
    ranks[:, 2] = -ranks[:, 2]  # unit 2 never fires
    random_labels = torch.randint(5, (50,), generator=generator)
    return {
        "30 images of 3 classes: a unit that prefers one class, two mixed units and a silent one, top 10": (
            ranks, labels, 10),
        "50 images of 5 classes, 10 random units, top 7": (torch.rand(50, 10, generator=generator), random_labels, 7),
        "the single strongest image of each unit, beside a silent unit": (
            torch.cat([torch.rand(12, 3, generator=generator), torch.zeros(12, 1)], 1), torch.arange(12) % 4, 1),
    }


@exercise(points=3)
def check_class_purity(my_class_purity: Callable) -> Grade:
    """Exercise 7: my_class_purity(peaks, labels, count): per unit, the share of its strongest images in their most common
    class (NaN for a unit that never fires)."""
    grade = Grade()
    hint = ("For each unit (column): if its largest peak is not above 0, NaN; else take the indices of its `count` "
            "largest peaks, count their labels per class (np.bincount) and divide the largest count by `count`.")
    for name, (peaks, labels, count) in _purity_cases().items():
        with grade.part(name):
            expected = class_purity(peaks, labels, count)
            answer = answer_without({evaluation: ("class_purity", "top_examples_purity")}, my_class_purity, peaks, labels,
                                    count)
            got = np.asarray(answer.detach().cpu() if isinstance(answer, torch.Tensor) else answer, dtype=np.float64)
            expect(got.shape == expected.shape,
                   f"Return one purity per unit, shape {expected.shape}; yours has shape {got.shape}.", hint)
            expect(bool((np.isnan(got) == np.isnan(expected)).all()),
                   "Your NaN values are not where the course's are: NaN belongs exactly to the units that never fire.",
                   hint)
            known = ~np.isnan(expected)
            expect_close(got[known], expected[known], "the purities of the units that fire", rtol=1e-6, atol=1e-9,
                         hint=hint)
    return grade


def _kernel_cases() -> dict[str, list[tuple[torch.Tensor, int]]]:
    """Held-out (weight, count) cases, every kernel's energy distinct (no ties), each part built to catch a slip."""
    generator = torch.Generator().manual_seed(4242)
    with torch.random.fork_rng(devices=[]):  # the lesson's random stream is left as it was
        torch.manual_seed(7)
        untrained = SmallConvNet(5, width=4).conv4.weight.detach().clone()  # the lesson's architecture, never trained
    pattern = 0.3 * torch.randn(4, 3, 3, 3, generator=generator)
    offsets = torch.linspace(-3, 3, 12)[torch.randperm(12, generator=generator)].view(4, 3, 1, 1)  # loud means, faint shapes
    spread = torch.where(torch.rand(2, 3, 5, 5, generator=generator) < 0.5, -1.0, 1.0)
    spread = spread * torch.linspace(0.8, 1.1, 6).view(2, 3, 1, 1)  # many moderate values: large sums of absolute values
    spikes = 0.05 * torch.randn(2, 3, 5, 5, generator=generator)
    spikes[:, :, 2, 2] += torch.linspace(5.5, 7.0, 6).view(2, 3)  # one loud value each: larger sums of squares
    return {
        "conv4 of an untrained network of the lesson's architecture (seed 7): the 6 strongest, and the single strongest":
            [(untrained, 6), (untrained, 1)],
        "3x3 kernels on large constant offsets: the 4 strongest, and all 12 in order": [(pattern + offsets, 4),
                                                                                     (pattern + offsets, 12)],
        "5x5 kernels, one loud value each among spread-out ones: the 5 strongest; rectangular 3x5 kernels: 3": [
            (torch.cat([spread, spikes], dim=1), 5), (torch.randn(3, 4, 3, 5, generator=generator), 3)],
    }


@exercise(points=3)
def check_strongest_kernels(my_strongest_kernels: Callable) -> Grade:
    """Exercise 8: my_strongest_kernels(weight, count) returns the ``count`` centred spatial kernels of a convolution
    weight with the most energy, largest first, shape (count, height, width)."""
    return compare_with_course(
        _kernel_cases(), my_strongest_kernels, strongest_kernels, {banding: ("strongest_kernels",)},
        "the strongest centred kernels", rtol=1e-4, atol=1e-6,
        hint="Flatten (out, in) into one list of kernels (weight.flatten(0, 1)), subtract each kernel's own mean, take the "
             "sum of squares of each centred kernel, and keep the kernels with the largest sums first (argsort, "
             "descending=True).")


@exercise
def check_wrapped(module: torch.nn.Module, answer: CircuitModel) -> bool:
    """Exercise 6: ``module`` wrapped with wrap_model, its layer "second" reading the output of the module's second ReLU."""
    expect(isinstance(answer, CircuitModel), f"wrap_model returns a CircuitModel; you passed {type(answer).__name__}.",
           "my_wrapped = wrap_model(exercise_module, {...}, input_size=32)")
    expect(answer.module is module, "Wrap the module you were given, not a new copy of it.")
    expect("second" in answer.layer_names, f"The wrapped model has no layer called 'second' (its layers: {answer.layer_names}).",
           "The dictionary given to wrap_model maps the course's names to module paths: {'first': ..., 'second': ...}.")
    relus = [m for m in module.modules() if isinstance(m, torch.nn.ReLU)]
    expect(len(relus) >= 2, "The module should have two ReLUs.")
    x = torch.rand(2, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    seen: list[torch.Tensor] = []
    hook = relus[1].register_forward_hook(lambda _m, _i, output: seen.append(output.detach().clone()))
    try:
        with torch.no_grad():
            module(answer.preprocess(x))
    finally:
        hook.remove()
    want = seen[0]
    with torch.no_grad():
        got = capture(answer, x, "second")["second"]
    expect(got.shape == want.shape, f"Layer 'second' gives maps of shape {tuple(got.shape[1:])}, but the second ReLU's are "
           f"{tuple(want.shape[1:])}.", "print(exercise_module) lists the module paths: '0', '1', ...")
    expect(bool((got >= 0).all()), "Layer 'second' has negative values: it reads a layer before the ReLU.",
           "Point it at the second ReLU itself.")
    expect(torch.allclose(got, want, atol=1e-5), "Layer 'second' does not read the second ReLU's output.",
           "print(exercise_module) lists the module paths: '0', '1', ...")
    return passed(f"{answer.name}'s layer 'second' is the second ReLU: every course tool can use it now.")


#: Per part, (branch widths in the layer's order, the family's channels): layers and families the lesson never shows,
#: each catching one slip: a crowded branch whose corrected p-value is far below 1 (the smallest tail, not the
#: largest; times the number of branches), members on the branches' first and last channels (an off-by-one at a
#: boundary), a family spread as chance would spread it (the corrected p-value is capped at 1) and AlexNet-like halves.
_CENSUS_CASES = {
    "a crowded third branch of four (widths 64, 128, 32, 32), family listed out of order": [
        ([64, 128, 32, 32], [200, 195, 223, 10, 220, 199, 201, 208, 215])],
    "members on the first and last channel of each branch (widths 10, 20, 30)": [
        ([10, 20, 30], [0, 9, 10, 29, 30, 59, 31])],
    "a family spread as chance would spread it (widths 16, 48, 64, 32): the p-value is capped at 1": [
        ([16, 48, 64, 32], [3, 20, 40, 60, 70, 90, 100, 110, 130, 150])],
    "two halves of 48 channels (AlexNet's two GPUs), 5 of 6 units in the second, and a single unit": [
        ([48, 48], [50, 60, 70, 80, 95, 3]), ([48, 48], [47])],
}


@exercise(points=4)
def check_branch_census(my_branch_census: Callable) -> Grade:
    """Exercise 9: my_branch_census(widths, channels) returns the members per branch, the counts chance would give and
    the census's p-value (the smallest branch tail times the number of branches, at most 1)."""
    grade = Grade()
    hint = ("Branch i holds the channels from sum(widths[:i]) up to, not including, sum(widths[:i + 1]). Chance puts "
            "(family size) x width / (all channels) into a branch. Each branch's tail is the chance of at least its "
            "count (exercise 4); the census's p-value is the smallest tail times the number of branches, at most 1.")
    for name, cases in _CENSUS_CASES.items():
        with grade.part(name):
            for widths, channels in cases:
                members, expected, p_value = census_counts(widths, channels)
                answer = answer_without({branches: ("census_counts", "branch_census")}, my_branch_census, widths,
                                        channels)
                expect(isinstance(answer, (tuple, list)) and len(answer) == 3,
                       "Return three things: (members per branch, expected per branch, p-value).", hint)
                expect_close(answer[0], members, "the members per branch", rtol=0, atol=1e-9, hint=hint)
                expect_close(answer[1], expected, "the counts chance would give", rtol=1e-6, atol=1e-9, hint=hint)
                expect_close(one_number(answer[2], "p-value", hint), p_value, "the census's p-value", rtol=1e-6,
                             atol=1e-15, hint=hint)
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
