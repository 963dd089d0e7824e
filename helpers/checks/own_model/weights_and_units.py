"""Lesson 09's checks on weights and units: a weight-banding score (exercise 3), a branch census's chance tail
(exercise 4), a wrapped network (exercise 6), class purity (exercise 7), a layer's strongest kernels (exercise 8) and
a branch census (exercise 9). Each compares the student's function with the course's on cases the lesson never shows.
"""
from __future__ import annotations

from typing import Callable

import numpy as np
import torch

from ...activations import capture
from ...models import CircuitModel
from ...training import evaluation
from ...training.evaluation import class_purity
from ...training.networks import SmallConvNet
from ... import branches
from ...weights import banding
from ...weights.banding import band_shares, strongest_kernels
from ...branches import census_counts
from .. import Grade, exercise, expect, expect_close, one_number, passed
from ..withheld import answer_without, compare_with_course


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

