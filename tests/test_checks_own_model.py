"""Lesson 09's exercise checks (helpers.checks.own_model): the course's method gets full marks, plausible wrong
methods lose points, the placeholder is "not attempted"."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn
from torch.nn import functional as F

from helpers import wrap_model
from helpers.branches import at_least_by_chance, branch_census, census_counts
from helpers.checks.own_model import (
    check_band_shares, check_branch_census, check_chance_tail, check_confusion_matrix, check_training_step,
    check_twin_batch_norm, check_wrapped, confusion_counts, training_step,
)
from helpers.models import Branch, Layer
from helpers.training import SmallConvNet, shapes_data, untrained_classifier
from helpers.training.fitting import calibrate_batch_norm
from helpers.weights.banding import band_shares


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
    assert check_band_shares(band_shares) and check_band_shares(loop_band_shares)


def loop_band_shares(weight: torch.Tensor) -> tuple[float, float]:
    """The band score written another way: kernel by kernel, with explicit row and column patterns."""
    rows = columns = energy = 0.0
    for kernel in weight.flatten(0, 1):
        centred = kernel - kernel.mean()
        rows += float((centred.mean(1, keepdim=True).expand_as(centred) ** 2).sum())
        columns += float((centred.mean(0, keepdim=True).expand_as(centred) ** 2).sum())
        energy += float((centred ** 2).sum())
    return rows / energy, columns / energy


def _shares(weight: torch.Tensor, centre: bool = True, per_kernel: bool = False) -> tuple[float, float]:
    centred = weight - weight.mean(dim=(2, 3), keepdim=True) if centre else weight
    rows = (centred.mean(3) ** 2).sum(2) * weight.shape[3]
    columns = (centred.mean(2) ** 2).sum(2) * weight.shape[2]
    energy = (centred ** 2).sum(dim=(2, 3))
    if per_kernel:
        return float((rows / energy).mean()), float((columns / energy).mean())
    return float(rows.sum() / energy.sum()), float(columns.sum() / energy.sum())


@pytest.mark.parametrize("wrong", [
    lambda w: _shares(w, centre=False),          # the kernel's mean counts as a band
    lambda w: _shares(w, per_kernel=True),       # faint kernels weigh as much as strong ones
    lambda w: _shares(w)[::-1],                  # rows and columns swapped
    lambda w: (float(w.mean()), float(w.std())),  # a number that is not the score
])
def test_wrong_band_scores_lose_points(wrong) -> None:
    assert check_band_shares(wrong) < check_band_shares.points


def test_band_shares_check_withholds_the_course_function(exercise_probe) -> None:
    def course(weight):  # the course's function, reached through its module while the student's runs
        import helpers.weights.banding

        return helpers.weights.banding.band_shares(weight)

    exercise_probe.rejected(check_band_shares, course)


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
    exercise_probe.not_attempted(lambda: check_confusion_matrix(...), lambda: check_training_step(lambda *a: None),
                                 lambda: check_band_shares(lambda weight: None))


def _module():
    return nn.Sequential(nn.Conv2d(3, 6, 3, padding=1), nn.BatchNorm2d(6), nn.ReLU(),
                         nn.Conv2d(6, 12, 3, padding=1), nn.BatchNorm2d(12), nn.ReLU(),
                         nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(12, 4)).eval()


def test_wrapped(strict: None) -> None:
    torch.manual_seed(0)
    module = _module()
    module[4].running_mean.fill_(0.3)  # so that the batch norm's output has negative values
    assert check_wrapped(module, wrap_model(module, {"first": "2", "second": "5"}, input_size=32))
    wrong = [
        wrap_model(module, {"first": "2", "second": "4"}, input_size=32),  # the batch norm, before the ReLU
        wrap_model(module, {"first": "2", "second": "3"}, input_size=32),  # the convolution
        wrap_model(module, {"first": "0", "second": "2"}, input_size=32),  # the first ReLU
        wrap_model(_module(), {"first": "2", "second": "5"}, input_size=32),  # another module
        module, "5", 5,
    ]
    for answer in wrong:
        with pytest.raises(AssertionError):
            check_wrapped(module, answer)


def _tail(total: int, width: int, drawn: int, members: int, *, exactly: bool = False, repeats: bool = False) -> float:
    """The chance tail, or one of the slips a student makes."""
    from math import comb
    top = members + 1 if exactly else min(width, drawn) + 1
    if repeats:
        share = width / total
        return sum(comb(drawn, k) * share ** k * (1 - share) ** (drawn - k) for k in range(members, top))
    return sum(comb(width, k) * comb(total - width, drawn - k) for k in range(members, top)) / comb(total, drawn)


def test_chance_tail_check_gives_the_course_method_and_scipy_full_marks(strict: None) -> None:
    from scipy.stats import hypergeom

    assert check_chance_tail(_tail)
    assert check_chance_tail(lambda total, width, drawn, members: float(hypergeom.sf(members - 1, total, width, drawn)))


@pytest.mark.parametrize("wrong", [
    lambda t, w, d, m: _tail(t, w, d, m, repeats=True),   # drawing with repeats (a binomial)
    lambda t, w, d, m: _tail(t, w, d, m, exactly=True),   # P(X = k) instead of P(X >= k)
    lambda t, w, d, m: _tail(t, w, d, m + 1),             # > instead of >=
])
def test_wrong_chance_tails_lose_points(wrong) -> None:
    assert check_chance_tail(wrong) < check_chance_tail.points


def test_chance_tail_refuses_the_course_implementation(capsys: pytest.CaptureFixture) -> None:
    layer = Layer("toy", "toy", 10, branches=(Branch("a", 0, 4), Branch("b", 4, 10)))

    def through_the_census(total, width, drawn, members):
        return branch_census(layer, list(range(members))).counts[0].p_value

    for borrowed in (at_least_by_chance, through_the_census):
        assert check_chance_tail(borrowed) < check_chance_tail.points / 2
        assert "the course's own implementation" in capsys.readouterr().out


def student_purity(peaks, labels, count, *, strongest=True, silent_nan=True, per_class_of_layer=False):
    """Top-example class purity as a student writes it; the keywords make its near misses."""
    purity = []
    for unit in range(peaks.shape[1]):
        column = peaks[:, unit]
        if silent_nan and float(column.max()) <= 0:
            purity.append(float("nan"))
            continue
        top = column.argsort(descending=strongest)[:count]
        counts = np.bincount(labels[top].numpy(), minlength=int(labels.max()) + 1)
        purity.append(counts.max() / (len(counts) if per_class_of_layer else count))
    return np.array(purity)


def test_class_purity_check(exercise_probe) -> None:
    from helpers.checks.own_model import check_class_purity

    assert check_class_purity(student_purity) == 3

    def course(peaks, labels, count):  # the course's function, reached through its module while the student's runs
        import helpers.training.evaluation

        return helpers.training.evaluation.class_purity(peaks, labels, count)

    wrong = [lambda *a: student_purity(*a, strongest=False),  # the weakest images
             lambda *a: student_purity(*a, silent_nan=False),  # a silent unit scored like the others
             lambda *a: student_purity(*a, per_class_of_layer=True),  # divided by the number of classes
             course]
    for answer in wrong:
        exercise_probe.rejected(check_class_purity, answer)
    exercise_probe.not_attempted(lambda: check_class_purity(...), lambda: check_class_purity(lambda *a: None))


def student_kernels(weight, count, *, centre=True, largest_first=True, squares=True, own_mean=True):
    """The strongest centred kernels as a student writes them; the keywords make its near misses."""
    kernels = weight.flatten(0, 1)
    mean = kernels.mean(dim=(1, 2), keepdim=True) if own_mean else kernels.mean()
    centred = kernels - mean if centre else kernels
    energy = (centred ** 2).sum(dim=(1, 2)) if squares else centred.abs().sum(dim=(1, 2))
    return centred[energy.argsort(descending=largest_first)[:count]]


def loop_kernels(weight, count):
    """The same procedure kernel by kernel in plain Python: full marks too."""
    found = []
    for o in range(weight.shape[0]):
        for i in range(weight.shape[1]):
            kernel = weight[o, i] - weight[o, i].mean()
            found.append((float((kernel ** 2).sum()), kernel))
    return torch.stack([kernel for _, kernel in sorted(found, key=lambda pair: -pair[0])[:count]])


def test_strongest_kernels_by_hand() -> None:
    from helpers.weights.banding import strongest_kernels

    weight = torch.zeros(1, 3, 2, 2)
    weight[0, 0] = torch.tensor([[1.0, 1.0], [1.0, 1.0]]) * 9  # flat: no energy once centred
    weight[0, 1] = torch.tensor([[1.0, 0.0], [0.0, 0.0]])  # a small spot
    weight[0, 2] = torch.tensor([[2.0, 2.0], [0.0, 0.0]]) + 5  # a horizontal band on an offset
    assert torch.equal(strongest_kernels(weight, 2), torch.stack([weight[0, 2] - 6, weight[0, 1] - 0.25]))
    for count, error in ((0, ValueError), (4, ValueError), (2.0, TypeError)):
        with pytest.raises(error, match="count"):
            strongest_kernels(weight, count)
    with pytest.raises(ValueError, match="out, in, height, width"):
        strongest_kernels(weight[0], 1)


def test_strongest_kernels_check(exercise_probe) -> None:
    from helpers.checks.own_model import check_strongest_kernels

    assert check_strongest_kernels(student_kernels) == 3 and check_strongest_kernels(loop_kernels) == 3

    def course(weight, count):  # the course's function, reached through its module while the student's runs
        import helpers.weights.banding

        return helpers.weights.banding.strongest_kernels(weight, count)

    def through_the_figure(weight, count):  # the lesson's figure reaches the course's function too
        from helpers.plotting.own_model import strongest_kernels_figure
        module = nn.Sequential(nn.Conv2d(weight.shape[1], weight.shape[0], tuple(weight.shape[2:]), bias=False))
        with torch.no_grad():
            module[0].weight.copy_(weight)
        figure = strongest_kernels_figure({"net": wrap_model(module, {"conv": "0"}, input_size=8)}, count)
        return torch.stack([torch.as_tensor(ax.images[0].get_array().data) for ax in figure.axes])

    wrong = [lambda w, c: student_kernels(w, c, centre=False),  # not centred: the offset counts as energy
             lambda w, c: student_kernels(w, c, largest_first=False),  # smallest first
             lambda w, c: student_kernels(w, c, squares=False),  # energy as the sum of absolute values
             lambda w, c: student_kernels(w, c, own_mean=False),  # centred on the whole weight's mean
             course, through_the_figure]
    for answer in wrong:
        exercise_probe.rejected(check_strongest_kernels, answer)
    for constant in (0.0, 1.0):
        exercise_probe.rejected(check_strongest_kernels, lambda w, c, v=constant: torch.full((c, *w.shape[2:]), v))
    exercise_probe.not_attempted(lambda: check_strongest_kernels(...), lambda: check_strongest_kernels(lambda w, c: None))


@pytest.mark.parametrize("slip", [{"centre": False}, {"largest_first": False}, {"squares": False}, {"own_mean": False}])
def test_near_miss_kernels_lose_points(slip) -> None:
    from helpers.checks.own_model import check_strongest_kernels

    assert check_strongest_kernels(lambda w, c: student_kernels(w, c, **slip)) < check_strongest_kernels.points


# --- exercise 9: a branch census -------------------------------------------------------------------------------
def _census(widths, channels, *, correct: bool = True, cap: bool = True, shares: bool = False, boundary: int = 0,
            largest: bool = False):
    """A branch census written from its definition, or one of the slips a student makes."""
    channels, total = set(channels), sum(widths)
    members, expected, tails, start = [], [], [], 0
    for width in widths:
        inside = sum(start <= channel < start + width + boundary for channel in channels)
        members.append(inside)
        expected.append(width / total if shares else len(channels) * width / total)
        tails.append(at_least_by_chance(total, width, len(channels), inside))
        start += width
    p_value = (max if largest else min)(tails) * (len(widths) if correct else 1)
    return members, expected, min(1.0, p_value) if cap else p_value


def test_census_counts_is_branch_census_on_plain_numbers() -> None:
    layer = Layer("mixed", "mixed", 256, branches=(Branch("a", 0, 64), Branch("b", 64, 192), Branch("c", 192, 256)))
    members, expected, p_value = census_counts([64, 128, 64], [1, 70, 200, 201, 255, 63])
    census = branch_census(layer, [1, 70, 200, 201, 255, 63])
    assert members == [c.members for c in census.counts] and expected == [c.expected for c in census.counts]
    assert p_value == census.p_value


def test_branch_census_check(exercise_probe) -> None:
    assert check_branch_census(census_counts) and check_branch_census(_census)

    def course(widths, channels):  # the course's census, reached through its module while the student's runs
        import helpers.branches

        return helpers.branches.census_counts(widths, channels)

    exercise_probe.rejected(check_branch_census, course)
    exercise_probe.rejected(check_branch_census, lambda widths, channels: ([0] * len(widths), [0.0] * len(widths), 1.0))
    exercise_probe.not_attempted(lambda: check_branch_census(lambda widths, channels: None))


@pytest.mark.parametrize("slip", [
    {"correct": False},   # the smallest tail without the correction for several branches
    {"cap": False},       # a corrected p-value above 1
    {"shares": True},     # the branch's share instead of the count chance gives
    {"boundary": 1},      # a branch's first channel after it counted in it too
    {"largest": True},    # the largest tail instead of the smallest
])
def test_near_miss_censuses_lose_points(slip) -> None:
    assert check_branch_census(lambda widths, channels: _census(widths, channels, **slip)) < check_branch_census.points


# --- exercise 10: the untrained twin's batch norm ------------------------------------------------------------
def _calibrated(net, images, batch_size, *, reset: bool = True, momentum=None, train: bool = True, batches: bool = True,
                evaluation: bool = True):
    """The twin's batch-norm statistics set as the course does, or with one of the slips a student makes."""
    norms = [module for module in net.modules() if isinstance(module, nn.BatchNorm2d)]
    for module in norms:
        if reset:
            module.reset_running_stats()
        module.momentum = momentum
    if train:
        net.train()
    with torch.no_grad():
        for start in range(0, len(images), batch_size if batches else len(images)):
            net(images[start : start + (batch_size if batches else len(images))])
    for module in norms:
        module.momentum = 0.1
    return net.eval() if evaluation else net


def test_twin_batch_norm_check(exercise_probe) -> None:
    assert check_twin_batch_norm(calibrate_batch_norm) and check_twin_batch_norm(_calibrated)

    def course(net, images, batch_size):  # the course's function, reached through its module while the student's runs
        import helpers.training.fitting

        return helpers.training.fitting.calibrate_batch_norm(net, images, batch_size)

    exercise_probe.rejected(check_twin_batch_norm, course)
    exercise_probe.rejected(check_twin_batch_norm, lambda net, images, batch_size: net)  # nothing set
    exercise_probe.not_attempted(lambda: check_twin_batch_norm(lambda net, images, batch_size: None))


@pytest.mark.parametrize("slip", [
    {"reset": False},      # the statistics the network held are averaged in
    {"momentum": 0.1},     # PyTorch's exponential average: the last batches weigh most
    {"train": False},      # in evaluation mode a batch norm does not update its statistics
    {"batches": False},    # one pass over every image: not the average over batches the course takes
    {"evaluation": False},  # the control left in training mode
])
def test_near_miss_twins_lose_points(slip) -> None:
    answer = lambda net, images, batch_size: _calibrated(net, images, batch_size, **slip)  # noqa: E731
    assert check_twin_batch_norm(answer) < check_twin_batch_norm.points


def test_untrained_classifier_is_unchanged_by_calibrate_batch_norm() -> None:
    """The refactored twin equals the twin built inline as before (reset, cumulative average, momentum 0.1 back)."""
    data = shapes_data(count=60, seed=5)
    twin = untrained_classifier(data, width=4, seed=3, test_fraction=0.25).model
    train, _ = data.split(0.25, seed=3)
    torch.manual_seed(3)
    net = SmallConvNet(len(data.classes), 4)
    _calibrated(net, (train.images - 0.5) / 0.5, 256)
    for mine, theirs in zip(net.state_dict().values(), twin.module.state_dict().values()):
        assert torch.equal(mine, theirs)


# --- exercise 11: accuracy per class with its Wilson interval -------------------------------------------------------
def student_class_accuracy(predicted, labels, classes, z=1.96, *, wilson=True, per_true_class=True, use_z=True,
                           nan_when_empty=True, wilson_centre=True):
    """The intervals written as a student would, with switches for the usual slips."""
    z = z if use_z else 1.96
    accuracy, low, high = (np.full(classes, np.nan if nan_when_empty else 0.0) for _ in range(3))
    for c in range(classes):
        mine = (labels == c) if per_true_class else (predicted == c)
        n = int(mine.sum())
        if n == 0:
            continue
        p = float(((predicted if per_true_class else labels)[mine] == c).double().mean())
        k = z * z / n if wilson else 0.0
        centre = (p + k / 2) / (1 + k) if wilson_centre else p
        half = z * np.sqrt(p * (1 - p) / n + k / (4 * n)) / (1 + k)
        accuracy[c], low[c], high[c] = p, centre - half, centre + half
    return accuracy, low, high


def test_class_accuracy_interval_by_hand() -> None:
    from helpers.training.evaluation import class_accuracy_interval

    accuracy, low, high = class_accuracy_interval(torch.tensor([0] * 10 + [0, 0, 2, 2]), torch.tensor([0] * 10 + [1] * 4), 3)
    assert accuracy[0] == 1 and low[0] == pytest.approx(10 / (10 + 1.96 ** 2)) and high[0] == pytest.approx(1)
    assert accuracy[1] == 0 and low[1] == pytest.approx(0) and 0 < high[1] < 1  # never right: [0, 0.49], not 0 +- 0
    assert np.isnan([accuracy[2], low[2], high[2]]).all()  # no image of class 2


def test_class_accuracy_check(exercise_probe) -> None:
    from helpers.checks.own_model import check_class_accuracy
    from helpers.training.evaluation import class_accuracy_interval

    assert check_class_accuracy(class_accuracy_interval) == 4 and check_class_accuracy(student_class_accuracy) == 4

    def course(predicted, labels, classes, z):  # the course's function, reached through its module
        import helpers.training.evaluation

        return helpers.training.evaluation.class_accuracy_interval(predicted, labels, classes, z)

    exercise_probe.rejected(check_class_accuracy, course)
    for constant in (0.5, 1.0):
        exercise_probe.rejected(check_class_accuracy, lambda p, l, k, z, c=constant: (np.full(k, c),) * 3)
    exercise_probe.not_attempted(lambda: check_class_accuracy(...),
                                 lambda: check_class_accuracy(lambda p, l, k, z: None))


@pytest.mark.parametrize("slip", [
    {"wilson": False},          # the textbook interval p +- z sqrt(p (1 - p) / n): nothing around 10 right of 10
    {"per_true_class": False},  # the share of the images predicted as c that are right (precision, not accuracy)
    {"use_z": False},           # 95% whatever z asks for
    {"nan_when_empty": False},  # 0 for a class with no image: an accuracy that was never measured
    {"wilson_centre": False},   # Wilson's half-width around p, not around Wilson's centre
])
def test_near_miss_class_accuracies_lose_points(slip) -> None:
    from helpers.checks.own_model import check_class_accuracy

    answer = lambda p, l, k, z: student_class_accuracy(p, l, k, z, **slip)  # noqa: E731
    assert check_class_accuracy(answer) < check_class_accuracy.points


def student_epoch(net, train, test, optimizer, schedule, batch_size, generator, *, shuffle=True, normalize=True,
                  schedule_step=True, eval_mode=True, keep_last=True, zero_grad=True):
    """Exercise 12 written as the course does; each keyword switched off is a typical mistake."""
    net.train()
    order = torch.randperm(len(train.images), generator=generator) if shuffle else torch.arange(len(train.images))
    scale = (lambda x: (x - 0.5) / 0.5) if normalize else (lambda x: x)
    losses = []
    stop = len(order) if keep_last else len(order) - len(order) % batch_size
    for start in range(0, stop, batch_size):
        chosen = order[start : start + batch_size]
        loss = nn.functional.cross_entropy(net(scale(train.images[chosen])), train.labels[chosen])
        if zero_grad:
            optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if schedule_step:
            schedule.step()
        losses.append(loss.item())
    if eval_mode:
        net.eval()
    with torch.no_grad():
        predicted = net(scale(test.images)).argmax(1)
    return losses, float((predicted == test.labels).float().mean())


def test_training_epoch_check(exercise_probe) -> None:
    from helpers.checks.own_model import check_training_epoch

    assert check_training_epoch(student_epoch) == check_training_epoch.points == 3
    exercise_probe.not_attempted(lambda: check_training_epoch(...), lambda: check_training_epoch(lambda *a: None))


def test_near_miss_epochs_lose_points_and_the_course_earns_nothing() -> None:
    import importlib

    from helpers.checks.own_model import check_training_epoch

    for slip in ("shuffle", "normalize", "schedule_step", "eval_mode", "keep_last"):
        score = check_training_epoch(lambda *a, s=slip: student_epoch(*a, **{s: False}))
        assert score < check_training_epoch.points, (slip, score)

    def through_course(net, train, test, optimizer, schedule, batch_size, generator):
        fitting = importlib.import_module("helpers.training.fitting")
        return fitting.train_epoch(net, train, optimizer, schedule, batch_size, generator), fitting.evaluate(net, test)[1]

    assert check_training_epoch(through_course) == 0
    assert check_training_epoch(lambda net, train, test, *rest: ([2.0] * -(-len(train.images) // rest[2]), 0.5)) == 0
