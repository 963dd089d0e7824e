"""Self-checks for the curve-circuits lesson's exercises (lesson 03).

Each check calls the student's function on cases the notebook never shows (other blocks and channels, a
small hand-built block whose answer is known, random weight tables) and compares it with the course's
implementation; messages say how far off an answer is, never the answer.
"""
from __future__ import annotations

import math
from typing import Callable

import numpy as np
import torch
from torch import nn

from .. import cleanroom
from ..cleanroom import line_filters, quadrature_energy
from ..models import CircuitModel
from ..weights import equivariance
from ..weights.equivariance import spatial_pattern
from ..wrapping import wrap_model
from . import ExerciseError, Grade, call_answer, exercise, expect, expect_close
from .withheld import answer_without, compare_with_course


class _Block(nn.Module):
    """A hand-built EfficientNet-style block: 1x1 expansion, batch norm, ReLU6, depthwise kxk, batch norm, ReLU6, 1x1 projection, batch norm."""

    def __init__(self, channels: int, hidden: int, kernel: int, generator: torch.Generator) -> None:
        super().__init__()
        self.conv_pw, self.bn1 = nn.Conv2d(channels, hidden, 1, bias=False), nn.BatchNorm2d(hidden)
        self.act1 = nn.ReLU6()
        self.conv_dw = nn.Conv2d(hidden, hidden, kernel, padding=kernel // 2, groups=hidden, bias=False)
        self.bn2, self.act2 = nn.BatchNorm2d(hidden), nn.ReLU6()
        self.conv_pwl, self.bn3 = nn.Conv2d(hidden, channels, 1, bias=False), nn.BatchNorm2d(channels)
        with torch.no_grad():
            for module in self.modules():
                if isinstance(module, nn.Conv2d):
                    module.weight.copy_(torch.randn(module.weight.shape, generator=generator) / math.sqrt(module.weight[0].numel()))
                elif isinstance(module, nn.BatchNorm2d):
                    for name in ("weight", "bias", "running_mean"):
                        getattr(module, name).copy_(torch.randn(module.num_features, generator=generator) * 0.5 + (name == "weight"))
                    module.running_var.copy_(torch.rand(module.num_features, generator=generator) + 0.5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.bn3(self.conv_pwl(self.act2(self.bn2(self.conv_dw(self.act1(self.bn1(self.conv_pw(x))))))))


def _two_blocks(seed: int, kernel: int, device: torch.device) -> tuple[CircuitModel, _Block, _Block]:
    """Two hand-built blocks in a row, wrapped so that the course's linearized expanded weights apply."""
    generator = torch.Generator().manual_seed(seed)
    first, second = _Block(4, 6, 3, generator), _Block(4, 5, kernel, generator)
    module = nn.Sequential(nn.Conv2d(3, 4, 1), first, second, nn.AdaptiveAvgPool2d(1), nn.Flatten()).eval().to(device)
    model = wrap_model(module, {"first": "1.act2", "second": "2.act2"}, name="two_blocks", input_size=32)
    return model, first, second


@exercise(points=3)
def check_block_expanded_weight(my_block_expanded_weight: Callable, model: CircuitModel) -> Grade:
    """Exercise 1: the k x k expanded weight from one block's expanded activation to the next block's, composed by hand."""
    from ..weights import unit_weights

    grade = Grade()
    hint = "Fold every batch-norm scale (weight / sqrt(running_var + eps)) into its convolution; ignore the shifts."
    for seed, kernel, (i, o) in ((11, 3, (2, 4)), (12, 5, (5, 1))):
        hand_built, first, second = _two_blocks(seed, kernel, model.device)
        with grade.part(f"a hand-built pair of blocks ({kernel}x{kernel} depthwise), channels {i} -> {o}"):
            answer = call_answer(my_block_expanded_weight, first, second, i, o)
            expect_close(answer, unit_weights(hand_built, f"first:{i}", f"second:{o}", method="linearized"), "The grid",
                         rtol=1e-3, hint=hint)
    with grade.part("a pair of blocks whose answer is known: identities, depthwise kernel 1..9, batch norms scaling by 2"):
        _, first, second = _two_blocks(13, 3, model.device)
        with torch.no_grad():
            for block in (first, second):
                for bn in (block.bn1, block.bn2, block.bn3):
                    bn.weight.fill_(2.0)
                    bn.running_var.fill_(1.0 - bn.eps)
            first.conv_pwl.weight.copy_(torch.eye(4, 6)[:, :, None, None])
            second.conv_pw.weight.copy_(torch.eye(5, 4)[:, :, None, None])
            second.conv_dw.weight.copy_(torch.arange(1.0, 10.0).reshape(1, 1, 3, 3).expand(5, 1, 3, 3))
        known = 8.0 * torch.arange(1.0, 10.0).reshape(3, 3)  # three batch norms, each x2, on the kernel 1..9
        expect_close(call_answer(my_block_expanded_weight, first, second, 3, 3), known, "The grid", hint=hint)
    if model.name.startswith("efficientnet_lite"):
        generator = np.random.default_rng(7)
        for source, target in (("blocks.4.0", "blocks.4.1"), ("blocks.2.0", "blocks.2.1")):
            i, o = (int(generator.integers(model.channels(layer))) for layer in (source, target))
            with grade.part(f"{model.name}: {source}:{i} -> {target}:{o}"):
                blocks = [model.module.blocks[int(name.split(".")[1])][int(name.split(".")[2])] for name in (source, target)]
                answer = call_answer(my_block_expanded_weight, *blocks, i, o)
                expect_close(answer, unit_weights(model, f"{source}:{i}", f"{target}:{o}"), "The grid", rtol=1e-3, hint=hint)
    return grade


@exercise(points=3)
def check_selectivity_test(my_selectivity_test: Callable) -> Grade:
    """Exercise 2: the permutation test of whether a family's strongest inputs are more selective than random units'."""
    from ..weights import connections

    grade = Grade()
    rng = np.random.default_rng(5)
    cases = []
    for units, inputs, family_size, count in ((60, 40, 6, 8), (90, 70, 10, 5)):
        net, selectivity = rng.normal(size=(units, inputs)), rng.uniform(size=inputs)
        family = rng.choice(units, family_size, replace=False)
        cases.append((f"random weights, {units} units, family of {family_size}, top {count}", net, selectivity, family, count))
    net, selectivity = rng.normal(size=(50, 30)), rng.uniform(0, 0.3, size=30)
    selectivity[:5] = 1.0  # the family reads only these five selective inputs: p must be as small as 2000 draws allow
    net[:6, :5] += 10.0
    cases.append(("a family built to read the five most selective inputs", net, selectivity, np.arange(6), 5))
    for name, net, selectivity, family, count in cases:
        with grade.part(name):
            # withholding _strongest_input_means withholds input_selectivity_test and family_input_selectivity too
            answer = answer_without({connections: ("_strongest_input_means", "_against_random_sets")}, my_selectivity_test, net, selectivity,
                                    family, count=count, draws=2000, seed=0)
            expect(isinstance(answer, tuple) and len(answer) == 2, "Return a pair (family mean, p-value).")
            value, p = connections.input_selectivity_test(net, selectivity, family, count=count, draws=2000, seed=0)
            expect_close(float(answer[0]), value, "The family's mean selectivity", rtol=1e-6,
                         hint="Each unit's strongest inputs are its `count` largest net weights (excitatory, not absolute).")
            expect(abs(float(answer[1]) - p) <= 0.04, "The p-value is not what 2000 random sets of non-family units give.",
                   "Draw sets of as many units as the family, from units outside it; p = (hits + 1) / (draws + 1).")
    return grade




def _line_energy_cases() -> dict[str, list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]]:
    """Held-out (images, even filters, odd filters): a coloured line touching the border, photograph-like noise, and a
    flat image beside a chequerboard, each with its own number of directions and filter scale."""
    generator = torch.Generator().manual_seed(303)
    stroke = torch.ones(1, 3, 20, 24)
    stroke[:, :, :, 3:5] = torch.tensor([0.9, 0.1, 0.2])[:, None, None]  # a red vertical line near the left border
    checks = ((torch.arange(16)[:, None] // 2 + torch.arange(16)[None, :] // 2) % 2).float().expand(3, 16, 16)
    return {
        "a coloured line by the border of a 20 x 24 image, 8 directions": [(stroke, *line_filters(8, 1.0))],
        "two 30 x 30 noise images, 12 directions, wider filters": [
            (torch.rand(2, 3, 30, 30, generator=generator), *line_filters(12, 2.0))],
        "a flat grey image and a chequerboard, 6 directions": [
            (torch.stack([torch.full((3, 16, 16), 0.5), checks]), *line_filters(6, 1.5))],
    }


@exercise(points=3)
def check_line_energy(my_line_energy: Callable) -> Grade:
    """Exercise 4: my_line_energy(images, even, odd): the hand-built detector's first layer, oriented line energy."""
    return compare_with_course(
        _line_energy_cases(), my_line_energy, quadrature_energy,
        {cleanroom: ("line_energy", "quadrature_energy", "cleanroom_responses")}, "your line energy", rtol=1e-4,
        atol=1e-4,
        hint="Average the three colour channels into one grey channel (N, 1, H, W); pad it by half the filter size on "
             "every side, repeating the border pixels (mode='replicate'); convolve with the even and with the odd "
             "filters; the energy is sqrt(even² + odd²), one map per direction.")


def _pattern_cases(model: CircuitModel) -> dict[str, list[tuple[torch.Tensor]]]:
    """Held-out weights (C_from, k, k): rank-one grids whose inputs lean excitatory or inhibitory (the sign rule decides
    the pattern), random grids of other sizes, and first-layer filters of the active model (3 colour inputs)."""
    generator = torch.Generator().manual_seed(3300)
    arc = torch.tensor([[0.0, 1.0, 2.0], [1.0, 0.5, -1.0], [-1.0, -2.0, 0.3]])
    mostly_excitatory = torch.tensor([2.0, -0.5, 1.0, 0.3])[:, None, None] * arc
    mostly_inhibitory = torch.tensor([0.5, -2.0, 1.0])[:, None, None] * arc.T  # one input inhibits more than two excite
    stem = next(m for m in model.module.modules() if isinstance(m, nn.Conv2d)).weight.detach().cpu().float()
    picked = torch.randperm(stem.shape[0], generator=generator)[:2]
    return {
        "one 3 x 3 pattern times inputs that mostly excite, and one times inputs that mostly inhibit": [
            (mostly_excitatory,), (mostly_inhibitory,)],
        "random weights: 6 inputs of 5 x 5, and 10 inputs of 3 x 3": [
            (torch.randn(6, 5, 5, generator=generator),), (torch.randn(10, 3, 3, generator=generator),)],
        f"two first-layer filters of {model.name} (3 colour inputs each)": [(stem[int(i)],) for i in picked],
    }


@exercise(points=3)
def check_spatial_pattern(my_spatial_pattern: Callable, model: CircuitModel) -> Grade:
    """Exercise 5: my_spatial_pattern(grids): the main k x k pattern of a unit's weights (C_from, k, k), scaled by its
    singular value and signed so that its excitatory inputs outweigh its inhibitory ones."""
    return compare_with_course(
        _pattern_cases(model), my_spatial_pattern, spatial_pattern,
        {equivariance: ("spatial_pattern", "rank_one", "weight_equivariance")}, "your pattern", rtol=1e-4, atol=1e-5,
        hint="Reshape the grids to one row per input (C_from, k*k) and take the SVD: the pattern is the first right "
             "singular vector times the first singular value, reshaped to (k, k). Its inputs' numbers are the first "
             "left singular vector: if their negative entries outweigh their positive ones, flip the pattern's sign.")


def _client_cases() -> dict[str, list[tuple]]:
    """Held-out (grids, family channels, sets, seed): random weights of two sizes, and hand-built layers whose family is
    read by one dedicated client (p as small as the sets allow) or evenly by every reader (p near 1)."""
    rng = np.random.default_rng(606)
    dedicated = rng.normal(size=(30, 24, 3, 3)) * 0.3
    dedicated[4, :5] += 3.0  # reader 4 takes the family (units 0..4) and no one else does
    even = rng.normal(size=(20, 36, 3, 3)) * 0.3
    even[:, 10:16] = 1.0  # every reader takes the family (units 10..15) alike
    return {
        "random weights: 40 readers of 30 units (3 x 3), a family of 5, 200 sets": [
            (rng.normal(size=(40, 30, 3, 3)), [2, 7, 11, 19, 23], 200, 1)],
        "random weights: 25 readers of 50 units (5 x 5), a family of 8, 300 sets, another seed": [
            (rng.standard_t(3, size=(25, 50, 5, 5)), [0, 4, 9, 16, 25, 33, 40, 49], 300, 7)],
        "a family read by one dedicated client, and one read evenly by every reader": [
            (dedicated, [0, 1, 2, 3, 4], 150, 0), (even, list(range(10, 16)), 120, 2)],
    }


def _concentration_pair(answer: object) -> np.ndarray:
    """The student's (concentration, p) as two numbers."""
    if not (isinstance(answer, (tuple, list)) and len(answer) == 2):
        raise ExerciseError("Return a pair (the family's concentration, the p-value).")
    return np.array([float(answer[0]), float(answer[1])])


@exercise(points=3)
def check_client_concentration(my_client_concentration: Callable) -> Grade:
    """Exercise 6: my_client_concentration(grids, family_channels, sets, seed): argument 6's test of whether a family's
    readers in the next layer are more concentrated than those of random sets of as many other units."""
    from ..weights import connections

    return compare_with_course(
        _client_cases(), my_client_concentration, connections.client_concentration_test,
        {connections: ("client_concentration_test", "family_clients", "_set_concentration", "_against_random_sets")},
        "your (concentration, p)", rtol=1e-6, atol=1e-6, read=_concentration_pair,
        hint="A reader's usage of a set of units is the L2 norm of all its weights from them (square, sum over the set "
             "and the k x k window, square root); the concentration is the top reader's usage over the mean reader's. "
             "Draw each random set with generator.choice(others, len(family_channels), replace=False) from the units "
             "outside the family, generator = np.random.default_rng(seed), and count p = (hits + 1) / (sets + 1).")


def _alignment_cases() -> dict[str, list[tuple]]:
    """Held-out (net_weights, family channels, family orientations, preferred, curve channels, count): random weights
    of two sizes, orientations on both sides of 0°/360°, and members with fewer excitatory (or inhibitory) inputs than
    ``count``, so that the sign of a weight, not its rank alone, decides."""
    rng = np.random.default_rng(707)
    few = rng.normal(size=(5, 20)) * 0.2
    few[0] = -np.abs(few[0])
    few[0, [3, 8, 15]] = [0.9, 0.5, 0.3]  # member 0: only three excitatory inputs
    few[3] = np.abs(few[3])
    few[3, [1, 12]] = [-0.8, -0.4]  # member 3: only two inhibitory inputs
    near_zero = rng.normal(size=(6, 24))
    return {
        "random weights: 30 units reading 40 inputs (12 curve units), a family of 4, top 8; 50 units reading 60, top 5": [
            (rng.normal(size=(30, 40)), [3, 11, 17, 26], rng.uniform(0, 360, 4), rng.uniform(0, 360, 40),
             rng.choice(40, 12, replace=False), 8),
            (rng.standard_t(3, size=(50, 60)), [0, 9, 21, 33, 48], rng.uniform(0, 360, 5), rng.uniform(0, 360, 60),
             rng.choice(60, 25, replace=False), 5)],
        "orientations on both sides of 0° (350° against 10°)": [
            (near_zero, [1, 4], np.array([350.0, 5.0]), rng.choice([0.0, 10.0, 20.0, 340.0, 355.0, 190.0], 24),
             np.arange(0, 24, 2), 6)],
        "members with only three excitatory or two inhibitory inputs, top 6": [
            (few, [0, 3], np.array([30.0, 200.0]), rng.uniform(0, 360, 20), np.arange(20), 6)],
    }


def _alignment_pair(answer: object) -> np.ndarray:
    """The (excitatory, inhibitory) differences as one row: each sorted (the order is not asked), split by a -1."""
    if not (isinstance(answer, (tuple, list)) and len(answer) == 2):
        raise ExerciseError("Return a pair (excitatory differences, inhibitory differences), two 1-D arrays.")
    try:
        parts = [np.sort(np.asarray(part, dtype=np.float64).ravel()) for part in answer]
    except (TypeError, ValueError):
        raise ExerciseError("Each half of the pair should be a 1-D array of orientation differences (numbers).") from None
    return np.concatenate([parts[0], [-1.0], parts[1]])


@exercise(points=3)
def check_curve_input_alignment(my_curve_input_alignment: Callable) -> Grade:
    """Exercise 7: my_curve_input_alignment(net_weights, family_channels, family_orientations, preferred, curve_channels,
    count): the orientation differences between each member and the curve units among its strongest excitatory and
    strongest inhibitory inputs ("aligned excitation, opposite inhibition")."""
    from ..weights import connections, curve_wiring

    return compare_with_course(
        _alignment_cases(), my_curve_input_alignment,
        lambda *case: _alignment_pair(curve_wiring.curve_input_alignment(*case)),
        {curve_wiring: ("curve_input_alignment",), connections: ("family_input_selectivity",)},
        "your orientation differences (each half sorted)", rtol=1e-6, atol=1e-6, read=_alignment_pair,
        hint="For each member, rank its inputs by net weight: the `count` largest are its strongest excitatory inputs "
             "(keep only those with a positive weight), the `count` most negative its strongest inhibitory ones (keep "
             "only negative weights). Of those, keep the curve units, and take the unsigned orientation difference "
             "with the member, wrapped into [0, 180]: 350° and 10° are 20° apart.")


def _profile_cases() -> dict[str, list[tuple]]:
    """Held-out (net_weights, member orientations, source channels, source orientations, bin width): random weights
    whose members differ in scale, members whose strongest input is not a curve unit or inhibits, and orientation
    differences of exactly 180° and across 0°/360°. Every band holds pairs."""
    rng = np.random.default_rng(808)
    scales = np.array([0.1, 1.0, 5.0, 0.5, 2.0, 20.0])[:, None]
    strongest = rng.normal(size=(4, 30)) * 0.3
    strongest[0, 2], strongest[1, 5], strongest[2, 7] = 4.0, -6.0, -3.0  # not curve units (curve units: 10..29)
    strongest[3, 12] = -5.0  # a curve unit that inhibits
    return {
        "random weights: 6 members of different scales reading 50 inputs (16 curve units), bands of 45°; "
        "8 members, 30 inputs, bands of 30°": [
            (rng.normal(size=(6, 50)) * scales, rng.uniform(0, 360, 6), rng.choice(50, 16, replace=False),
             rng.uniform(0, 360, 16), 45.0),
            (rng.normal(size=(8, 30)), rng.uniform(0, 360, 8), np.arange(10, 30, 2), rng.uniform(0, 360, 10), 30.0)],
        "members whose strongest input is not a curve unit, or inhibits": [
            (strongest, np.array([0.0, 90.0, 180.0, 270.0]), np.arange(10, 30), rng.uniform(0, 360, 20), 45.0)],
        "differences of exactly 180° and across 0° (350° against 10°), bands of 60°": [
            (rng.normal(size=(3, 12)), np.array([350.0, 10.0, 100.0]), np.arange(0, 12, 2),
             np.array([10.0, 170.0, 280.0, 190.0, 50.0, 355.0]), 60.0)],
    }


@exercise(points=3)
def check_weight_by_orientation_difference(my_weight_by_orientation_difference: Callable) -> Grade:
    """Exercise 8: my_weight_by_orientation_difference(net_weights, member_orientations, source_channels,
    source_orientations, bin_width): the mean scaled weight from the curve units below to a family, in bands of
    orientation difference."""
    from ..weights import curve_wiring

    return compare_with_course(
        _profile_cases(), my_weight_by_orientation_difference, curve_wiring.weight_by_orientation_difference,
        {curve_wiring: ("weight_by_orientation_difference", "curve_to_curve_weights")}, "your profile", rtol=1e-6,
        atol=1e-6,
        hint="Divide each member's row by its largest absolute net weight over *every* input (not only the curve "
             "units), then keep the curve units' columns. A pair's band is its unsigned orientation difference, wrapped "
             "into [0, 180], floor-divided by bin_width; a difference of exactly 180° belongs to the last band. "
             "Return the mean weight of each band, 180 / bin_width numbers.")


def _pair_cases(model: CircuitModel) -> dict[str, list[tuple]]:
    """Held-out (grids (units, C_from, k, k), orientations): rotated copies of one unit, random grids of other sizes,
    orientations across 0°/360°, and units of the active model's curve layer the lesson does not group."""
    from ..layers import curve_layer, previous_layer
    from ..weights import expanded_weights

    generator = torch.Generator().manual_seed(909)
    base = torch.randn(3, 5, 5, generator=generator)
    angles = [0.0, 90.0, 180.0, 270.0]
    copies = torch.stack([equivariance.rotate_grids(base, angle) for angle in angles])
    layer = curve_layer(model)
    chosen = sorted({round(i * (model.channels(layer) - 1) / 3) for i in (0.4, 1.1, 2.2, 2.9)})  # units 1, 2, ... apart
    real = expanded_weights(model, previous_layer(model, layer), layer, to_channels=chosen).cpu()
    return {
        "one unit's weights rotated by 0°, 90°, 180° and 270° (at those orientations, and in another order)": [
            (copies, angles), (copies[[2, 0, 3]], [180.0, 0.0, 270.0])],
        "random grids: 5 units of 4 inputs, 7 x 7, and 3 units of 6 inputs, 3 x 3": [
            (torch.randn(5, 4, 7, 7, generator=generator), [10.0, 75.0, 140.0, 200.0, 330.0]),
            (torch.randn(3, 6, 3, 3, generator=generator), [45.0, 90.0, 300.0])],
        "orientations on both sides of 0° (350° and 10°), two units": [
            (torch.randn(2, 3, 5, 5, generator=generator), [350.0, 10.0])],
        f"units of {model.name}'s {layer} at made-up orientations": [(real, [0.0, 60.0, 150.0, 250.0][: len(chosen)])],
    }


@exercise(points=4)
def check_pair_correlations(my_pair_correlations: Callable, model: CircuitModel) -> Grade:
    """Exercise 9: my_pair_correlations(grids, orientations): for every pair i < j of units, the correlation of unit i's
    weights rotated by orientations[j] - orientations[i] with unit j's, and without rotating, (pairs, 2)."""
    return compare_with_course(
        _pair_cases(model), my_pair_correlations, equivariance.pair_correlations,
        {equivariance: ("pair_correlations", "weight_equivariance", "family_equivariance")},
        "your (pairs, 2) correlations", rtol=1e-4, atol=1e-4,
        hint="Loop over the pairs i < j in order (0, 1), (0, 2), ..., (1, 2), ...: rotate ALL of unit i's grids by "
             "orientations[j] - orientations[i] with rotate_grids, and take the Pearson correlation of every number of "
             "the rotated weights with every number of unit j's (flattened, each minus its mean); then the same without "
             "rotating. One row (rotated, unrotated) per pair.")
