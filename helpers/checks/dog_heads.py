"""Self-checks for the dog-head (unioning over cases) lesson's exercises: the mirror test, mirror partners,
transformed weights, the same-side and cross weights between mirrored pathways, a unit's best transformed copy,
a mirror pair tested on its members' pictures, the mutual mirror pairs of a layer, and a union read off its weights.

The function exercises are called on a small hand-built network whose left unit, right unit and union are
known, on hand-made responses with known partners, and on units the notebook never shows, and compared with
the course's implementation (:mod:`helpers.mirror`); the union choice is recomputed from the weights given.
"""
from __future__ import annotations

from typing import Callable

import numpy as np
import torch
from torch import nn

from .. import mirror, union_weights
from ..mirror import MirrorTest, mirror_test, mutual_pairs, partner_answers, partners_from_test
from ..models import CircuitModel, Unit
from ..stats import correlation_columns
from ..union_weights import same_and_cross, union_reading
from ..weights import equivariance
from ..weights.equivariance import TRANSFORMATIONS, best_other_match, transform_weights
from ..wrapping import wrap_model
from . import ExerciseError, Grade, exercise, expect, expect_close
from .withheld import answer_without, compare_with_course

Number = (int, float, np.floating, np.integer)


_ARROW = torch.tensor([[0, 0, 0, 1, 0, 0, 0], [0, 0, 1, 0, 0, 0, 0], [0, 1, 0, 0, 0, 0, 0], [1, 1, 1, 1, 0, 0, 0],
                       [0, 1, 0, 0, 0, 0, 0], [0, 0, 1, 0, 0, 0, 0], [0, 0, 0, 1, 0, 0, 0]], dtype=torch.float32)  # points left


def _arrow_network(device: torch.device) -> CircuitModel:
    """A known circuit: heads:0 answers a left arrow, heads:1 a right arrow; merge:0 = left - right, merge:1 = right - left, merge:2 = their union."""
    template = _ARROW - _ARROW.mean()
    heads, merge = nn.Conv2d(3, 3, 7, padding=3), nn.Conv2d(3, 3, 3, padding=1)
    with torch.no_grad():
        heads.weight.zero_()
        heads.weight[0], heads.weight[1] = template / 3, template.flip(-1) / 3
        heads.bias.copy_(torch.tensor([-0.6, -0.6, -1e3]) * float((template * _ARROW).sum()))
        merge.weight.zero_()
        merge.bias.zero_()
        merge.weight[0, 0, 1, 1], merge.weight[0, 1, 1, 1], merge.weight[1, 1, 1, 1], merge.weight[1, 0, 1, 1] = 1.0, -1.0, 1.0, -1.0
        merge.weight[2, :2] = 1.0 / 9
    module = nn.Sequential(heads, nn.ReLU(), merge, nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten()).to(device)
    return wrap_model(module, {"heads": "1", "merge": "3"}, name="arrows", input_size=32)


def _arrows(count: int, seed: int, right_share: float = 0.0) -> torch.Tensor:
    """Left arrows at random places on black; ``right_share`` of a right arrow beside each."""
    generator = torch.Generator().manual_seed(seed)
    images = torch.zeros(count, 3, 32, 32)
    for i in range(count):
        top, left = torch.randint(2, 16, (2,), generator=generator).tolist()
        images[i, :, top : top + 7, left : left + 7] = _ARROW
        images[i, :, 22:29, 22:29] += right_share * (i % 3) / 2 * _ARROW.flip(-1)
    return images.clamp(0, 1)


@exercise(points=3)
def check_mirror_test(my_mirror_test: Callable, model: CircuitModel, layer: str, images: torch.Tensor) -> Grade:
    """Exercise 1: each unit's left score from its responses to images (facing left) and to their mirror images."""
    grade = Grade()
    arrows = _arrow_network(model.device)
    hint = ("Read each unit's largest value over positions on the images and on image.flip(-1); "
            "sum each side's responses over the images (negatives as 0), then (L - R) / (L + R), 0 when both are 0.")
    chosen = np.random.default_rng(9).choice(model.channels(layer), min(6, model.channels(layer)), replace=False)
    cases = (("a known circuit: a left unit, a right unit, a union, a silent unit", arrows,
              ["heads:0", "heads:1", "merge:2", "heads:2"], _arrows(6, 1)),
             ("the same circuit on left arrows with a fainter right arrow beside some", arrows,
              ["heads:0", "heads:1", "merge:0", "merge:1", "merge:2"], _arrows(9, 2, right_share=0.9)),
             (f"{len(chosen)} other units of {layer} on your images", model, [str(u) for u in model.units(layer, chosen)], images))
    for name, network, units, pictures in cases:
        with grade.part(name):
            truth = mirror_test(network, units, pictures).left_score
            # withholding _balance withholds mirror_test(...).left_score and mirror_score too
            answer = answer_without({mirror: ("_balance",)}, my_mirror_test, network, units, pictures)
            expect_close(answer, truth, "The left scores", atol=1e-3, hint=hint)
    return grade


@exercise(points=3)
def check_mirror_partners(my_mirror_partners: Callable, test: MirrorTest) -> Grade:
    """Exercise 2: every unit's mirror partner, from responses (N, C) to images and to their mirror images."""
    grade = Grade()
    rng = np.random.default_rng(4)
    given = torch.as_tensor(rng.gamma(2.0, size=(40, 6)), dtype=torch.float32)
    swap = [3, 4, 2, 0, 1, 5]  # units 0 and 3, 1 and 4 are mirror pairs; 2 and 5 are mirror-invariant
    mirrored = given[:, swap] + 0.3 * torch.as_tensor(rng.normal(size=(40, 6)), dtype=torch.float32)
    built = MirrorTest([Unit("built", c) for c in range(6)], given.T, mirrored.T, 1 / 3, 1e-3)
    hint = ("Correlate unit a's responses to the images with unit b's responses to the mirror images, for every a and b "
            "(standardize each column over the images); a unit's partner is the best b other than a itself.")
    for name, case in (("six hand-made units: two mirror pairs and two invariant units", built),
                       (f"every unit of {test.units[0].layer}", test)):
        with grade.part(name):
            # withholding correlation_columns withholds partners_from_test(...).partner too
            answer = answer_without({mirror: ("correlation_columns",)}, my_mirror_partners, case.on_left.T, case.on_right.T)
            try:
                answer = torch.as_tensor(answer).detach().cpu().flatten()
            except (TypeError, ValueError, RuntimeError):
                expect(False, f"Return the partners as a tensor of channel numbers, not {type(answer).__name__}.")
            truth = partners_from_test(case).partner
            expect(answer.numel() == len(truth), f"Return one partner per unit ({len(truth)}), not {answer.numel()}.")
            active = (case.on_left.std(1) > 0) & (case.on_right.std(1) > 0)  # silent units have no correlation to rank
            expect_close(answer[active], truth[active], "The partners", atol=0, rtol=0, hint=hint)
    return grade


def _image_weights_cases() -> dict[str, torch.Tensor]:
    """Image-space weights the lesson never shows: random ones of odd and even size, and a hand-drawn unit."""
    generator = torch.Generator().manual_seed(55)
    drawn = torch.zeros(2, 3, 9, 9)
    drawn[0, 0, 1:8, 2] = 1.0  # a red vertical bar left of centre
    drawn[0, 2, 1, 2:7] = -0.5  # a blue-off bar along the top
    drawn[1, 1, 6, 1:5] = 1.0  # a green horizontal bar low on the left
    return {
        "random 7x7 weights of five units": torch.randn(5, 3, 7, 7, generator=generator),
        "random 8x8 weights (an even size)": torch.randn(4, 3, 8, 8, generator=generator),
        "two hand-drawn units (coloured bars off centre)": drawn,
    }


@exercise(points=3)
def check_transform_weights(my_transform_weights: Callable) -> Grade:
    """Exercise 3: my_transform_weights(weights, transformation) turns image-space weights a quarter turn, mirrors them
    left-right or turns their colours 120 degrees of hue."""
    grade = Grade()
    hints = {
        "rotation": "A quarter turn counter-clockwise as displayed (row 0 on top): torch.rot90 on the two spatial dimensions.",
        "reflection": "Left-right: flip the last (column) dimension only.",
        "hue": "A 120-degree turn about grey moves red to green, green to blue, blue to red: the weights of each colour "
               "channel move to the next channel (dimension 1).",
    }
    for name, weights in _image_weights_cases().items():
        for transformation in TRANSFORMATIONS:
            with grade.part(f"{name}, {transformation}"):
                answer = answer_without({equivariance: ("transform_weights",)}, my_transform_weights, weights,
                                        transformation)
                expect_close(answer, transform_weights(weights, transformation), f"the {transformation} of the weights",
                             rtol=1e-5, atol=1e-6, hint=hints[transformation])
    return grade


def _pathway_cases() -> dict[str, tuple[np.ndarray, np.ndarray, list[tuple[int, int]], list[tuple[int, int]]]]:
    """Held-out (weights (C2, C1), follows (C1, C2), first pairs, second pairs): layers of different widths, a later
    pair that must be swapped for one earlier pair and not for the other, and random layers."""
    rng = np.random.default_rng(505)
    weights = rng.normal(size=(5, 6))
    follows = rng.uniform(-0.2, 0.2, size=(6, 5))
    follows[0, 1] = follows[1, 0] = follows[2, 0] = follows[3, 1] = 0.9  # 0 and 2 follow 1 and 0: pair (0, 1) swapped
    wide = rng.normal(size=(12, 10)) * rng.uniform(0.2, 3.0, size=(12, 1))
    return {
        "a layer of 6 units into one of 5, one pair each way, one later pair": (
            weights, follows, [(0, 1), (2, 3)], [(0, 1)]),
        "the same layers, two later pairs, weights three times larger": (
            3 * weights, follows, [(0, 1), (2, 3), (5, 4)], [(0, 1), (4, 2)]),
        "random layers of 10 and 12 units, several pairs on each": (
            wide, rng.normal(size=(10, 12)), [(0, 9), (3, 4), (7, 1)], [(11, 2), (5, 6), (0, 8), (10, 3)]),
    }


@exercise(points=3)
def check_same_and_cross(my_same_and_cross: Callable) -> Grade:
    """Exercise 5: my_same_and_cross(weights, follows, first_pairs, second_pairs): mean same-side and cross weights."""
    grade = Grade()
    hint = ("For every earlier pair (a, b) and later pair (c, d): swap c and d when follows[a, d] + follows[b, c] is "
            "larger than follows[a, c] + follows[b, d]; same-side is the mean of weights[c, a] and weights[d, b] (rows "
            "are the later layer), cross of weights[d, a] and weights[c, b]; average over all pairs of pairs and divide "
            "by the mean absolute weight.")
    for name, (weights, follows, first_pairs, second_pairs) in _pathway_cases().items():
        with grade.part(name):
            expected = same_and_cross(weights, follows, first_pairs, second_pairs)
            answer = answer_without({union_weights: ("same_and_cross", "pathway_inhibition")}, my_same_and_cross, weights,
                                    follows, list(first_pairs), list(second_pairs))
            expect(isinstance(answer, tuple) and len(answer) == 2,
                   f"Return two numbers, (same, cross); your function returned {type(answer).__name__}.")
            expect_close(answer[0], expected[0], "the same-side weight", rtol=1e-6, atol=1e-9, hint=hint)
            expect_close(answer[1], expected[1], "the cross weight", rtol=1e-6, atol=1e-9, hint=hint)
    return grade


def _copy_cases(model: CircuitModel) -> dict[str, list[tuple[torch.Tensor, torch.Tensor]]]:
    """Held-out (transformed, weights) pairs, two per part with different answers: hand-drawn units with a turned copy
    and a mirror-symmetric unit (whose own weights would match it perfectly), random layers, and a layer of the model."""
    generator = torch.Generator().manual_seed(66)
    bar = torch.zeros(3, 7, 7)
    bar[0, 1:6, 2] = 1.0
    bar[2, 1, 2:5] = -0.5
    symmetric = torch.zeros(3, 7, 7)
    symmetric[1, 3, :] = 1.0  # a green horizontal bar: its mirror image is itself
    drawn = torch.stack([bar, 2 * torch.rot90(bar, 1, dims=(-2, -1)) + 0.1, symmetric, torch.randn(3, 7, 7, generator=generator)])
    random_layer = torch.randn(9, 3, 5, 5, generator=generator)
    first = next(m for m in model.module.modules() if isinstance(m, nn.Conv2d) and m.in_channels == 3)
    filters = first.weight.detach().cpu().float()[:16]
    return {
        "four hand-drawn units (a bar, its turned copy, a mirror-symmetric bar, noise), turned and mirrored": [
            (transform_weights(drawn, "rotation"), drawn), (transform_weights(drawn, "reflection"), drawn)],
        "random 5 x 5 weights of 9 units, mirrored and hue-turned": [
            (transform_weights(random_layer, "reflection"), random_layer), (transform_weights(random_layer, "hue"), random_layer)],
        f"the first {len(filters)} filters of {model.name}'s first convolution, turned and mirrored": [
            (transform_weights(filters, "rotation"), filters), (transform_weights(filters, "reflection"), filters)],
    }


@exercise(points=3)
def check_best_copy(my_best_copy: Callable, model: CircuitModel) -> Grade:
    """Exercise 6: my_best_copy(transformed, weights): per unit, the highest correlation of its transformed weights
    with another unit's weights."""
    return compare_with_course(
        _copy_cases(model), my_best_copy, lambda transformed, weights: best_other_match(transformed, weights).values,
        {equivariance: ("best_other_match", "transformed_copies", "transform_weights")}, "your best correlations",
        rtol=1e-4, atol=1e-5,
        hint="Flatten each unit's transformed weights and each unit's weights to one vector; centre each vector and scale "
             "it to length 1 (Pearson's correlation); the (U, U) table of dot products holds every pair. Leave out each "
             "unit's own weights (the diagonal) before taking each row's largest value.")


def _pair_picture_cases(model: CircuitModel, layer: str, images: torch.Tensor) -> dict[str, list[tuple]]:
    """Held-out (network, pairs, pictures) cases, two per part with different answers: the known arrow circuit's
    mirror pair on arrows drawn off centre (B's answer to A's own picture is below zero before the ReLU), its second
    layer's two pathways (and the union), and pairs of units of ``layer`` on the given images."""
    arrows = _arrow_network(model.device)
    left, right = _arrows(2, 7), _arrows(2, 8).flip(-1)  # left arrows and right arrows at random places
    heads = [arrows.unit("heads", c) for c in range(2)]
    merge = [arrows.unit("merge", c) for c in range(3)]
    chosen = [int(c) for c in np.random.default_rng(77).choice(model.channels(layer), min(6, model.channels(layer)),
                                                                   replace=False)]
    units = [model.unit(layer, c) for c in chosen]
    pictures = {unit: images[i % len(images)] for i, unit in enumerate(units)}
    others = {unit: images[(i + len(units)) % len(images)] for i, unit in enumerate(units)}  # other images
    pairs = [(units[i], units[i + 1]) for i in range(0, len(units) - 1, 2)]
    return {
        "a known mirror pair (a left-arrow unit, a right-arrow unit), arrows off centre": [
            (arrows, [(heads[0], heads[1])], {heads[0]: left[0], heads[1]: right[0]}),
            (arrows, [(heads[1], heads[0])], {heads[0]: 0.9 * left[1], heads[1]: 0.8 * right[1]})],  # fainter
        "the known circuit's second layer: its two pathways, and a pathway with the union": [
            (arrows, [(merge[0], merge[1])], {merge[0]: left[1], merge[1]: right[0]}),
            (arrows, [(merge[1], merge[0]), (merge[0], merge[2])], {merge[0]: left[0], merge[1]: right[1],
                                                                     merge[2]: right[0]})],
        f"{len(pairs)} pairs of other units of {layer} on your images": [
            (model, pairs, pictures), (model, pairs[::-1], others)],
    }


@exercise(points=3)
def check_partner_answers(my_partner_answers: Callable, model: CircuitModel, layer: str, images: torch.Tensor) -> Grade:
    """Exercise 7: my_partner_answers(model, pairs, pictures): (2P, 2), per pair B reading A's picture then A reading
    B's; each the reader's response (before its non-linearity) to the mirrored picture and to the picture as given."""
    return compare_with_course(
        _pair_picture_cases(model, layer, images), my_partner_answers, partner_answers,
        {mirror: ("partner_answers", "mirror_pair_pictures")}, "your answers", rtol=1e-4, atol=1e-4,
        hint="Two rows per pair (A, B): B reading A's picture, then A reading B's. Each row: the reader's response to "
             "picture.flip(-1), then to the picture, each its largest value over positions, read before the "
             "non-linearity (unit_responses(..., at=\"max\", pre_activation=True)).")


def _hand_made_tables() -> list[torch.Tensor]:
    """Two correlation tables whose mutual pairs are known by construction: in the first, (1, 4) follow each other
    better than (0, 3) (so the order is not the units' order) and (2, 5) are each other's partners but 5 follows itself
    better than 2 follows it; in the second, unit 0's partner is 1 but 1's is 2 (not mutual), and (3, 4) follow each
    other 0.95 one way and 0.6 the other (ranked by the weaker direction, below (1, 2))."""
    rng = np.random.default_rng(808)
    first = torch.as_tensor(rng.uniform(0.0, 0.3, size=(6, 6)), dtype=torch.float32)
    for (a, b), value in {(0, 3): 0.8, (3, 0): 0.85, (1, 4): 0.9, (4, 1): 0.92, (2, 5): 0.6, (5, 2): 0.9,
                          (0, 0): 0.2, (3, 3): 0.3, (1, 1): 0.1, (4, 4): 0.2, (2, 2): 0.5, (5, 5): 0.7}.items():
        first[a, b] = value
    second = torch.as_tensor(rng.uniform(-0.2, 0.2, size=(5, 5)), dtype=torch.float32)
    for (a, b), value in {(0, 1): 0.7, (1, 2): 0.8, (2, 1): 0.75, (3, 4): 0.95, (4, 3): 0.6, (0, 0): 0.3,
                          (1, 1): 0.1, (2, 2): 0.2, (3, 3): 0.1, (4, 4): 0.05}.items():
        second[a, b] = value
    return [first, second]


def _planted_table(units: int, seed: int) -> torch.Tensor:
    """The correlation table of random responses in which some units answer the mirror images as others answer the
    images (mirror pairs), some follow themselves (invariant), with noise."""
    rng = np.random.default_rng(seed)
    given = torch.as_tensor(rng.gamma(2.0, size=(50, units)))
    swap = np.arange(units)
    for a in range(0, units - 3, 3):  # every third unit stays; the two after it swap
        swap[a + 1], swap[a + 2] = a + 2, a + 1
    mirrored = given[:, swap] + torch.as_tensor(rng.normal(scale=rng.uniform(0.2, 1.5, size=units), size=(50, units)))
    return correlation_columns(given, mirrored).float()


def _layer_tables(test: MirrorTest) -> list[torch.Tensor]:
    """Two tables of subsets of a layer's units, each holding some of the layer's own mutual pairs (a pair stays
    mutual in any subset that keeps both members) among other units chosen at random."""
    correlation = partners_from_test(test).correlation
    pairs = mutual_pairs(correlation)
    rng = np.random.default_rng(88)
    tables = []
    for kept, share in ((pairs[::2], 0.3), (pairs[1::2], 0.5)):
        chosen = {u for pair in kept[:6] for u in pair} | set(rng.choice(len(correlation), int(share * len(correlation)),
                                                                          replace=False).tolist())
        rows = torch.as_tensor(sorted(chosen))
        tables.append(correlation[rows][:, rows])
    return tables


def _pairs_array(answer: object) -> np.ndarray:
    """A list of (a, b) pairs of channel numbers as a (P, 2) array."""
    try:
        return np.asarray(answer, dtype=np.float64).reshape(-1, 2)
    except (TypeError, ValueError, RuntimeError):
        raise ExerciseError("Return a list of (a, b) pairs of unit indices (whole numbers), such as [(1, 4), (0, 3)]; "
                            f"your function returned {type(answer).__name__}.") from None


@exercise(points=3)
def check_mirror_pairs(my_mirror_pairs: Callable, test: MirrorTest) -> Grade:
    """Exercise 8: my_mirror_pairs(correlation): the mutual mirror pairs (a, b), a < b, that follow each other better
    than themselves, best first."""
    parts = {
        "two hand-made tables (a one-way partner, a pair that follows itself, pairs out of order)":
            [(table,) for table in _hand_made_tables()],
        "random responses with planted mirror pairs, 9 and 14 units": [(_planted_table(9, 1),), (_planted_table(14, 2),)],
        f"two subsets of the units of {test.units[0].layer}": [(table,) for table in _layer_tables(test)],
    }
    return compare_with_course(
        parts, my_mirror_pairs, lambda correlation: _pairs_array(mutual_pairs(correlation)),
        {mirror: ("mutual_pairs", "partners_from_test")}, "your mirror pairs", rtol=0, atol=0, read=_pairs_array,
        hint="A unit's partner is the other unit with the largest correlation in its row (leave the diagonal out). Keep "
             "(a, b) with a < b only when b's partner is a too, and when the weaker of correlation[a, b] and "
             "correlation[b, a] is above the larger of the two diagonal values; sort by that weaker value, largest "
             "first.")


def _union_cases() -> dict[str, list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]]:
    """Held-out (from_a, from_b, order) cases, two per part with different answers: hand-built targets (a union, an
    anti-union, one that ignores B), random weights, and weights whose most even union is not where the largest
    single weight is (more pairs than targets, so that a (pair, target) read the wrong way round is seen)."""
    generator = torch.Generator().manual_seed(77)
    a = torch.tensor([[1.0, 2.0, 0.5, 3.0, 1.5], [0.2, -1.0, 0.8, 0.1, 0.6], [2.0, 0.3, 1.1, -0.4, 0.9]])
    hand = torch.stack([a[0] + 0.1, -a[1], 0.05 * torch.randn(5, generator=generator) + 0.3])
    random_a, random_b = torch.randn(6, 9, generator=generator) + 0.2, torch.randn(6, 9, generator=generator)
    uneven_a = torch.rand(4, 7, generator=generator)
    uneven_b = torch.rand(4, 7, generator=generator)
    uneven_a[0, 1], uneven_b[0, 1] = 5.0, 0.1  # the largest single weight, from a lopsided pair
    uneven_a[2, 5], uneven_b[2, 5] = 2.0, 1.9  # the largest weaker weight: the most even union
    return {
        "hand-built targets: a union, an anti-union, one that ignores B; two orders of the pairs": [
            (a, hand, torch.arange(5)), (a, hand, torch.tensor([3, 0, 4, 1, 2]))],
        "random weights of 6 targets from 9 pairs, two random orders": [
            (random_a, random_b, torch.randperm(9, generator=generator)),
            (random_b, random_a, torch.randperm(9, generator=generator))],
        "4 targets from 7 pairs, the most even union away from the largest weight": [
            (uneven_a, uneven_b, torch.randperm(7, generator=generator)), (uneven_b[:, :5], uneven_a[:, :5], torch.arange(5))],
    }


def _union_vector(answer: object) -> torch.Tensor:
    """(symmetry, shuffled, (target, pair)) as one vector, to compare with the course's in one go."""
    try:
        symmetry, shuffled, (target, pair) = answer
        return torch.cat([torch.as_tensor(symmetry, dtype=torch.float64).flatten(),
                          torch.as_tensor(shuffled, dtype=torch.float64).flatten(),
                          torch.tensor([float(target), float(pair)], dtype=torch.float64)])
    except (TypeError, ValueError, RuntimeError):
        raise ExerciseError("Return three things, (symmetry, shuffled, (target, pair)): two (T,) tensors and two whole "
                            f"numbers; your function returned {type(answer).__name__}.") from None


@exercise(points=3)
def check_union_reading(my_union_reading: Callable) -> Grade:
    """Exercise 9: my_union_reading(from_a, from_b, order): each target's correlation over pairs between its weights
    from A and from B, the same with another pair's B, and the most even union (target, pair)."""
    return compare_with_course(
        _union_cases(), my_union_reading, lambda *case: _union_vector(union_reading(*case)),
        {union_weights: ("union_reading", "pair_weights", "PairWeights")}, "your union reading", rtol=1e-5, atol=1e-6,
        read=_union_vector,
        hint="Correlate row t of from_a with row t of from_b over the pairs (subtract each row's mean first). For the "
             "control, pair order[i] takes the B of pair order[i - 1] (and order[0] that of the last in order). The most "
             "even union is where min(from_a, from_b) is largest: its row is the target, its column the pair.")
