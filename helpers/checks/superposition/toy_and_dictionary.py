"""Checks of lesson 07's exercises 1-10 (toy models of superposition and sparse dictionaries): a square of
antipodal pairs built by hand, the toy model's importance-weighted loss, a feature's dimensionality, a sparse
dictionary's loss and one training step of it, the units that hold a direction, the antipodal partners of a
toy model's features, how far a 2-D toy model is from a regular polygon and a toy model's training loop, each called
on held-out inputs and compared with :mod:`helpers.superposition` and :mod:`helpers.dictionary`."""
from __future__ import annotations

import functools
import math
from typing import Callable

import torch

from ... import dictionary as dictionary_module
from ...dictionary import SparseDictionary, dictionary_loss, dictionary_step, units_to_hold
from ... import superposition
from ...superposition import (
    antipodal_partners, feature_dimensionality, feature_norms, feature_importance, held_out_toy_loss, polygon_deviation,
    represented_features, sample_features, toy_loss, train_toy_model,
)
from .. import Grade, call_answer, exercise, expect, expect_close, one_number, passed
from ..withheld import answer_without, compare_with_course, withheld


@exercise
def check_square_of_pairs(weights: torch.Tensor) -> bool:
    """Exercise 4: a (2, 4) weight matrix placing 4 features as two antipodal pairs (a square), each D_i = 1/2."""
    expect(isinstance(weights, torch.Tensor) and tuple(weights.shape) == (2, 4),
           f"Give a (2, 4) tensor: 2 hidden dimensions, one column per feature; got {getattr(weights, 'shape', type(weights).__name__)}.")
    weights = weights.float()
    norms = feature_norms(weights)
    expect(bool(((norms - 1).abs() < 0.05).all()),
           f"Every feature should be represented with norm about 1; the norms are {[round(x, 2) for x in norms.tolist()]}.",
           "Use unit vectors as columns.")
    dims = feature_dimensionality(weights)
    expect(bool(((dims - 0.5).abs() < 0.02).all()),
           f"Each feature should get half a dimension (D_i = 1/2); yours get {[round(x, 3) for x in dims.tolist()]}.",
           "Two features that share a line point in opposite directions; the two lines are at a right angle.")
    unit = torch.nn.functional.normalize(weights, dim=0)
    cosines = unit.T @ unit
    expect(bool((cosines.min(1).values < -0.95).all()),
           "Some feature has no partner pointing the opposite way: two features on one line in the SAME direction "
           "are one feature written twice, not an antipodal pair.", "Make feature 1 the negative of feature 0.")
    return passed("Two antipodal pairs at right angles: four features in two dimensions, D_i = 1/2 each.")


def _scalar(answer: object) -> object:
    """A one-number answer (a float or a tensor of one element) as a 0-d tensor; anything else unchanged."""
    try:
        value = torch.as_tensor(answer.detach() if isinstance(answer, torch.Tensor) else answer)
    except (TypeError, ValueError, RuntimeError):
        return answer
    return value.reshape(()) if value.numel() == 1 else value


def _toy_case(n_features: int, n_hidden: int, sparsity: float, importance: torch.Tensor, seed: int,
              batch: int = 64) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """A random toy model (weights (m, n), a bias with negative entries) and a batch of its sparse features."""
    generator = torch.Generator().manual_seed(seed)
    weights = torch.randn(n_hidden, n_features, generator=generator) / n_hidden ** 0.5
    bias = 0.3 * torch.randn(n_features, generator=generator) - 0.1
    features = sample_features(batch, n_features, [sparsity], generator)[0]
    return weights, bias, features, importance


@exercise(points=3)
def check_toy_loss(loss: Callable) -> Grade:
    """Exercise 1: a toy model's loss: the importance-weighted squared error of ReLU(WᵀWx + b), averaged."""
    grade = Grade()
    eye = torch.eye(2, 3)
    cases = {
        "a hand-built model that drops its third feature": (
            eye, torch.tensor([0.0, -0.2, 0.0]), torch.tensor([[1.0, 0.5, 1.0], [0.0, 0.0, 0.5], [0.3, 0.0, 0.0]]),
            torch.tensor([1.0, 2.0, 4.0])),
        "20 features in 5 dimensions, importance 0.7^i": _toy_case(20, 5, 0.9, feature_importance(20, 0.7), 71),
        "7 features in 3 dimensions, dense, equal importance": _toy_case(7, 3, 0.0, torch.ones(7), 72),
        "12 features in 4 dimensions, some features unimportant": _toy_case(
            12, 4, 0.5, torch.tensor([1.0, 0.0] * 6), 73),
    }
    for name, (weights, bias, features, importance) in cases.items():
        with grade.part(name):
            answer = answer_without({superposition: ("toy_loss",)}, loss, weights, bias, features, importance)
            reference = toy_loss(weights[None], bias[None], features[None], importance)[0]
            expect_close(_scalar(answer),
                         reference, "your loss", rtol=1e-4,
                         hint="Rebuild x' = ReLU(Wᵀ (W x) + b) for every input of the batch, weight each feature's "
                              "squared error by its importance, and average over the batch AND the features.")
    return grade


def _dictionary_case(vectors: torch.Tensor, features: int, seed: int) -> dict[str, torch.Tensor]:
    """Random dictionary parameters (not trained) for vectors of the vectors' width, with a non-zero centre."""
    generator = torch.Generator().manual_seed(seed)
    width = vectors.shape[1]
    directions = torch.nn.functional.normalize(torch.randn(features, width, generator=generator), dim=1)
    return {"encoder": directions + 0.1 * torch.randn(features, width, generator=generator),
            "encoder_bias": 0.1 * torch.randn(features, generator=generator),
            "directions": directions, "centre": 0.1 * torch.randn(width, generator=generator)}


#: The course's dictionary training, withheld while the student's loss or step runs.
_DICTIONARY_HIDDEN = {dictionary_module: ("dictionary_loss", "dictionary_step", "train_sparse_dictionary")}


@exercise(points=3)
def check_dictionary_loss(loss: Callable, dictionary: SparseDictionary, vectors: torch.Tensor) -> Grade:
    """Exercise 2: a sparse dictionary's training loss: squared reconstruction error plus l1 times the codes' sum."""
    grade = Grade()
    generator = torch.Generator().manual_seed(707)
    width = dictionary.units
    held_out = vectors[torch.randperm(len(vectors), generator=generator)[:96]] / dictionary.scale
    trained = {"encoder": dictionary.encoder, "encoder_bias": dictionary.encoder_bias,
               "directions": dictionary.directions, "centre": dictionary.centre / dictionary.scale}
    toy = torch.rand(50, 6, generator=generator) * (torch.rand(50, 6, generator=generator) < 0.3)
    cases = {
        "your lesson's trained dictionary, on other activation vectors": (held_out, trained, 0.05),
        "the same dictionary with a stronger L1 price": (held_out, trained, 0.7),
        "a random dictionary of 10 features in 6 dimensions": (toy, _dictionary_case(toy, 10, 1), 0.1),
        f"a random dictionary of {width // 2 + 1} features on your layer, no L1": (
            held_out[:32], _dictionary_case(held_out, width // 2 + 1, 2), 0.0),
    }
    hint = ("codes = ReLU((x - centre) @ encoderᵀ + encoder_bias); rebuilt = centre + codes @ directions; sum the "
            "squared error over units, average over inputs, and add l1 times the average sum of the codes.")
    for name, (batch, parameters, l1) in cases.items():
        with grade.part(name):
            inputs = {key: value.detach().clone() for key, value in parameters.items()}
            answer = answer_without(_DICTIONARY_HIDDEN, loss, batch, inputs["encoder"], inputs["encoder_bias"],
                                    inputs["directions"], inputs["centre"], l1)
            reference = dictionary_loss(batch, l1=l1, **parameters)
            expect_close(_scalar(answer),
                         reference.detach(), "your loss", rtol=1e-4, hint=hint)
    with grade.part("training with your loss moves the directions as the course's loss does"):
        parameters = {key: value.detach().clone().requires_grad_(True) for key, value in _dictionary_case(toy, 8, 3).items()}
        answer = answer_without(_DICTIONARY_HIDDEN, loss, toy, parameters["encoder"], parameters["encoder_bias"],
                                parameters["directions"], parameters["centre"], 0.2)  # copies keep the gradient's path
        expect(isinstance(answer, torch.Tensor) and answer.requires_grad,
               "Your loss is not a tensor that gradients flow through: training could not use it.",
               "Compute it with torch operations on the given tensors (no .item(), no numpy, no detach).")
        mine = torch.autograd.grad(answer, parameters["directions"])[0]
        reference = torch.autograd.grad(dictionary_loss(toy, l1=0.2, **parameters), parameters["directions"])[0]
        expect_close(mine, reference, "the gradient of your loss with respect to the directions", rtol=1e-3, hint=hint)
    return grade


PARAMETER_NAMES = ("encoder", "encoder_bias", "directions", "centre")


def _step_cases(dictionary: SparseDictionary, vectors: torch.Tensor) -> dict[str, tuple]:
    """Held-out (batches, starting parameters, optimizer factory, l1): Adam and SGD, toy data and the lesson's layer."""
    generator = torch.Generator().manual_seed(7070)
    toy = torch.rand(3, 40, 6, generator=generator) * (torch.rand(3, 40, 6, generator=generator) < 0.3)
    wide = torch.randn(3, 24, 9, generator=generator).relu()
    layer = vectors[torch.randperm(len(vectors), generator=generator)[:64]] / dictionary.scale
    trained = {"encoder": dictionary.encoder, "encoder_bias": dictionary.encoder_bias,
               "directions": dictionary.directions, "centre": dictionary.centre / dictionary.scale}
    return {
        "three Adam steps of a random 10-feature dictionary on sparse 6-d data": (
            list(toy), _dictionary_case(toy[0], 10, 4), lambda p: torch.optim.Adam(p, lr=0.05), 0.1),
        "three SGD steps with momentum and a large learning rate, no L1 price": (
            list(wide), _dictionary_case(wide[0], 5, 5), lambda p: torch.optim.SGD(p, lr=0.5, momentum=0.9), 0.0),
        "your lesson's trained dictionary: two Adam steps on other vectors of your layer, a strong L1 price": (
            [layer[:32], layer[32:]], trained, lambda p: torch.optim.Adam(p, lr=1e-3), 0.5),
    }


@exercise(points=3)
def check_dictionary_step(step: Callable, dictionary: SparseDictionary, vectors: torch.Tensor) -> Grade:
    """Exercise 6: one training step of a sparse dictionary (loss, gradient, optimizer step, unit-length directions)."""
    grade = Grade()
    hint = ("Compute the loss of the batch as in exercise 2 (the course's loss is withheld here), clear the old gradients (optimizer.zero_grad()), "
            "backward, optimizer.step(), then, without tracking gradients, scale every ROW of the directions back to "
            "length 1 in place; return the loss computed before the step as a number.")
    for name, (batches, start, make_optimizer, l1) in _step_cases(dictionary, vectors).items():
        with grade.part(name):
            runs = {}
            for who in ("yours", "course"):
                parameters = {key: start[key].detach().clone().requires_grad_(True) for key in PARAMETER_NAMES}
                optimizer = make_optimizer(list(parameters.values()))
                losses = []
                for batch in batches:
                    if who == "course":
                        losses.append(dictionary_step(batch.clone(), *parameters.values(), optimizer, l1))
                        continue
                    # the step must change these very parameters in place, so they are passed, not copied
                    with withheld(dictionary_module, *_DICTIONARY_HIDDEN[dictionary_module]):
                        answer = call_answer(step, batch.clone(), *parameters.values(), optimizer, l1)
                    losses.append(_scalar(answer))
                runs[who] = (losses, parameters)
            (my_losses, mine), (course_losses, course) = runs["yours"], runs["course"]
            for index, (my_loss, course_loss) in enumerate(zip(my_losses, course_losses)):
                expect_close(my_loss, torch.tensor(course_loss), f"the loss your step returned at step {index + 1}",
                             rtol=1e-4, hint=hint)
            for key in PARAMETER_NAMES:
                expect_close(mine[key], course[key], f"the {key} after your steps", rtol=1e-4, atol=1e-6, hint=hint)
    return grade


def _dimensionality_cases() -> dict[str, torch.Tensor]:
    """Toy-model weights (m, n) the lesson never shows, each built to catch one way of getting D_i wrong."""
    generator = torch.Generator().manual_seed(707)
    angles = torch.arange(5) * 2 * torch.pi / 5
    pentagon = torch.stack([angles.cos(), angles.sin()]) * torch.tensor([2.0, 0.5, 1.0, 3.0, 1.5])
    dropped = torch.tensor([[1.0, -1.0, 0.0, 0.0, 0.0], [0.0, 0.0, 1.0, -1.0, 0.0]])
    return {
        "a pentagon of features with different lengths (2 x 5)": pentagon,
        "two antipodal pairs and a dropped feature (2 x 5)": dropped,
        "orthogonal features of different lengths (4 x 3)": torch.cat([torch.diag(torch.tensor([0.5, 2.0, 1.0])), torch.zeros(1, 3)]),
        "a random model, 20 features in 6 dimensions": torch.randn(6, 20, generator=generator),
    }


@exercise(points=3)
def check_feature_dimensionality(my_feature_dimensionality: Callable) -> Grade:
    """Exercise 3: my_feature_dimensionality(weights) returns D_i = ||W_i||² / sum_j (Ŵ_i · W_j)² per feature (0 when dropped)."""
    parts = {name: [(weights,)] for name, weights in _dimensionality_cases().items()}
    return compare_with_course(  # withholding _overlaps withholds feature_dimensionality and interference too
        parts, my_feature_dimensionality, feature_dimensionality, {superposition: ("_overlaps",)}, "D_i",
        rtol=1e-4, atol=1e-5,
        hint="Columns are features. Divide each column by its length to get Ŵ_i; (Ŵ_i · W_j)² summed over every j, i "
             "included, is the denominator; a feature of length 0 gets D_i = 0, not NaN.")


def _spread_cases(dictionary: SparseDictionary) -> dict[str, list[tuple[torch.Tensor, float]]]:
    """Held-out (directions, share): hand-built rows whose counts are known, random rows, and the lesson's own
    dictionary, plain and scaled (a direction's length must not change its count). No cumulative share sits on the
    share asked for, so that the count never hangs on rounding."""
    hand_built = torch.tensor([[0.0, 0.0, 5.0, 0.0, 0.0, 0.0],
                               [1.0, 2.0, 3.0, 4.0, 5.0, 6.0],
                               [-4.0, 1.0, 1.0, 1.0, 0.0, 0.0],
                               [1.0, -1.0, 1.0, -1.0, 1.0, 0.5]])
    generator = torch.Generator().manual_seed(7007)
    random = torch.randn(30, 64, generator=generator) * torch.rand(30, 1, generator=generator).add(0.5)
    rows = torch.randperm(dictionary.features, generator=generator)[:12]
    real = dictionary.directions.detach().cpu()[rows]
    return {
        "four hand-built rows of 6 units (signs mixed, lengths not 1), half and 90% of their length": [
            (hand_built, 0.5), (hand_built, 0.9)],
        "30 random directions of 64 units, at 0.5 and at 0.9": [(random, 0.5), (random, 0.9)],
        f"12 directions of your lesson's dictionary ({dictionary.units} units) at 0.75, and the same scaled by 3 at 0.3": [
            (real, 0.75), (3 * real, 0.3)],
    }


@exercise(points=3)
def check_units_to_hold(my_units_to_hold: Callable, dictionary: SparseDictionary) -> Grade:
    """Exercise 7: my_units_to_hold(directions, share): for each direction (row), how many units, largest loadings
    first, hold ``share`` of its squared length."""
    return compare_with_course(
        _spread_cases(dictionary), my_units_to_hold, units_to_hold,
        {dictionary_module: ("units_to_hold", "spread_over_units")}, "your counts of units", rtol=0, atol=0.5,
        hint="Square the loadings, sort each row's squares from largest to smallest, divide their running sum by the "
             "row's total, and count the units needed until that share first reaches `share` (the unit that reaches "
             "it counts too).")


def _at(degrees: float, length: float = 1.0) -> list[float]:
    """A 2-D feature column at ``degrees`` of the given length."""
    radians = math.radians(degrees)
    return [length * math.cos(radians), length * math.sin(radians)]


def _partner_cases() -> dict[str, list[tuple[torch.Tensor, float, float]]]:
    """Held-out (weights (m, n), threshold, cosine): hand-built models whose partners are known by construction, a
    line of three near-opposite features, and noisy pairs in 3 and 4 dimensions with other thresholds and cosines."""
    lengths = torch.tensor([_at(0, 1.5), _at(180, 0.8), _at(90), _at(270, 0.2), _at(120, 1.5), _at(250, 1.5)]).T
    dropped_first = torch.tensor([_at(0, 0.1), _at(90), _at(270, 1.2), _at(10, 0.9), _at(135, 2.0)]).T
    line = torch.tensor([_at(0), _at(178), _at(180)]).T
    generator = torch.Generator().manual_seed(7017)
    noisy = {}
    for hidden, pairs, loose in ((3, 3, 4), (4, 4, 3)):
        axes = torch.nn.functional.normalize(torch.randn(hidden, pairs, generator=generator), dim=0)
        lengths_of = 0.55 + torch.rand(2 * pairs, generator=generator)  # some between 0.5 and 0.7
        columns = torch.cat([axes, -axes + 0.03 * torch.randn(hidden, pairs, generator=generator)], dim=1) * lengths_of
        others = torch.randn(hidden, loose, generator=generator)
        weights = torch.cat([columns, others], dim=1)
        noisy[hidden] = weights[:, torch.randperm(weights.shape[1], generator=generator)]
    return {
        "hand-built 2-D models: features of different lengths, a dropped feature opposite a kept one, a dropped "
        "feature before a pair": [(lengths, 0.5, -0.996), (dropped_first, 0.5, -0.996)],
        "three features near one line: the most opposite one is the partner (two cosines)": [
            (line, 0.5, -0.996), (line, 0.5, -0.9999), (line.flip(1), 0.3, -0.99)],
        "noisy pairs among other features in 3 and 4 dimensions, other thresholds and cosines": [
            (noisy[3], 0.7, -0.99), (noisy[3], 0.5, -0.9), (noisy[4], 0.6, -0.98)],
    }


@exercise(points=3)
def check_antipodal_partners(my_antipodal_partners: Callable) -> Grade:
    """Exercise 8: my_antipodal_partners(weights, threshold, cosine): each feature's most opposite represented
    feature when their cosine is below ``cosine``, else -1 (and -1 for a dropped feature)."""
    return compare_with_course(
        _partner_cases(), my_antipodal_partners, antipodal_partners,
        {superposition: ("antipodal_partners", "paired_dimensionality")}, "your partners", rtol=0, atol=0.5,
        hint="Compare DIRECTIONS (each column divided by its length), not the columns themselves; only features whose "
             "length is above `threshold` take part, on both sides of a pair; a feature is not its own partner; "
             "among the features below `cosine`, take the most opposite one, and give its index among ALL columns.")


def _columns_at(degrees: list[float], lengths: list[float] | None = None) -> torch.Tensor:
    """A (2, n) toy model whose features point at ``degrees``, of the given lengths (1 by default)."""
    return torch.tensor([_at(angle, length) for angle, length in zip(degrees, lengths or [1.0] * len(degrees))]).T


def _polygon_cases() -> dict[str, list[tuple[torch.Tensor, int, float]]]:
    """Held-out (weights (2, n), sides, threshold): polygons the lesson never trains, whose deviations are worked
    out by hand (0°; 18° on the gap across 0°; 22° on a gap that is too SMALL), models with short features that must
    be dropped (or kept, at a lower threshold: then the count is wrong), and random models at other thresholds."""
    generator = torch.Generator().manual_seed(7019)
    order = torch.randperm(5, generator=generator)
    turned = _columns_at([17 + 72 * i for i in range(5)], [0.8, 1.5, 1.0, 1.2, 0.9])[:, order]
    with_short = _columns_at([0, 75, 145, 215, 290, 40, 180], [1.0, 1.1, 0.9, 1.0, 1.3, 0.3, 0.45])
    random_models = []
    for threshold in (0.8, 0.3):
        weights = torch.randn(2, 7, generator=generator)
        random_models.append((weights, int(represented_features(weights, threshold)), threshold))
    return {
        "a turned pentagon of features of different lengths, a pentagon with its largest gap across 0°, one with a "
        "gap too small": [(turned, 5, 0.5), (_columns_at([30, 100, 170, 240, 300]), 5, 0.5),
                          (_columns_at([40, 120, 200, 280, 330]), 5, 0.5)],
        "short features: dropped at threshold 0.5; kept at 0.4, so six features are not a pentagon; a square is not "
        "a pentagon but is a regular 4-gon": [(with_short, 5, 0.5), (with_short, 5, 0.4), (_columns_at([10, 100, 190, 280]), 5, 0.5),
                                              (_columns_at([10, 100, 190, 280]), 4, 0.5)],
        "random 2-D models, thresholds 0.8 and 0.3": random_models,
    }


def _finite_deviation(value: float) -> float:
    """A deviation ready to compare: infinity (not ``sides`` features kept) stands as -1."""
    return -1.0 if math.isinf(value) else value


@exercise(points=3)
def check_polygon_deviation(my_polygon_deviation: Callable) -> Grade:
    """Exercise 9: my_polygon_deviation(weights, sides, threshold): the largest difference in degrees between a gap of
    neighbouring kept features of a 2-D toy model and 360 / sides; infinity unless exactly ``sides`` are kept."""
    return compare_with_course(
        _polygon_cases(), my_polygon_deviation, lambda *case: _finite_deviation(polygon_deviation(*case)),
        {superposition: ("polygon_deviation", "regularity", "feature_angles", "angle_gaps", "planar_description")},
        "your deviation", rtol=0, atol=1e-3,
        read=lambda answer: _finite_deviation(one_number(answer, "angle in degrees (or infinity)")),
        hint="Keep the features longer than `threshold` (and return float('inf') unless there are exactly `sides`); "
             "take their angles with atan2 in degrees, sort them, and measure every gap between neighbours, the one "
             "across 0° (from the largest angle round to the smallest + 360°) too; compare each with 360 / sides, "
             "with its sign dropped.")


# --- exercise 10: training a toy model ------------------------------------------------------------------------------
#: Held-out settings: part -> (n_hidden, sparsity, importance); two seeds each, scored on features never seen.
_TRAINING_PARTS: dict[str, tuple[int, float, torch.Tensor]] = {
    "6 features in 2 dimensions, sparse (S = 0.9), importance 0.8^i": (2, 0.9, feature_importance(6, 0.8)),
    "8 features in 3 dimensions, dense (S = 0), importance 0.7^i": (3, 0.0, feature_importance(8, 0.7)),
    "12 equally important features in 4 dimensions, very sparse (S = 0.95)": (4, 0.95, torch.ones(12)),
    "10 features in 3 dimensions, S = 0.7, steep importance 0.6^i": (3, 0.7, feature_importance(10, 0.6)),
}
TRAINING_STEPS, TRAINING_BATCH, TRAINING_SEEDS, TRAINING_SLACK = 150, 128, (401, 402), 1.25


def _held_out(model: tuple[torch.Tensor, torch.Tensor], name: str, seed: int) -> float:
    """A trained (weights, bias)'s loss on features of part ``name`` it never saw (drawn with seed + 5000)."""
    return held_out_toy_loss(*model, *_TRAINING_PARTS[name][1:], torch.Generator().manual_seed(seed + 5000))


@functools.cache
def _course_training_loss(name: str, seed: int) -> float:
    """The course trainer's held-out loss on one part and seed (computed once per session)."""
    n_hidden, sparsity, importance = _TRAINING_PARTS[name]
    return _held_out(train_toy_model(n_hidden, sparsity, importance, TRAINING_STEPS, torch.Generator().manual_seed(seed),
                                     batch_size=TRAINING_BATCH, lr=1e-2, progress=False), name, seed)


def _trained_model(answer: object, n_hidden: int, n_features: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The student's (weights, bias) as detached float tensors, or an ExerciseError saying what is wrong with them."""
    tensors = isinstance(answer, (tuple, list)) and all(isinstance(a, torch.Tensor) for a in answer)
    shapes = [tuple(a.shape) for a in answer] if tensors else type(answer).__name__
    expect(shapes == [(n_hidden, n_features), (n_features,)], f"Return (weights, bias): ({n_hidden}, {n_features}) and "
           f"({n_features},) tensors; got {shapes}.", "n is the number of importances; one column per feature.")
    weights, bias = (a.detach().float().cpu() for a in answer)
    expect(bool(torch.isfinite(weights).all() and torch.isfinite(bias).all()), "Your weights or bias hold NaN or inf.")
    return weights, bias


@exercise(points=4)
def check_train_toy_model(my_train_toy_model: Callable) -> Grade:
    """Exercise 10: my_train_toy_model(n_hidden, sparsity, importance, steps, generator, batch_size, lr) trains one
    toy model with AdamW on the importance-weighted loss and returns its (weights, bias); judged by the loss the
    trained model reaches on features it never saw, against the course's trainer from the same seeds."""
    grade, hidden = Grade(), {superposition: ("train_toy_model", "train_toy_models", "held_out_toy_loss")}
    for name, (n_hidden, sparsity, importance) in _TRAINING_PARTS.items():
        with grade.part(name):
            yours = [_held_out(_trained_model(answer_without(
                hidden, my_train_toy_model, n_hidden, sparsity, importance, TRAINING_STEPS,
                torch.Generator().manual_seed(seed), TRAINING_BATCH, 1e-2), n_hidden, len(importance)), name, seed)
                for seed in TRAINING_SEEDS]
            ratio = min(yours) / max(_course_training_loss(name, seed) for seed in TRAINING_SEEDS)
            expect(ratio <= TRAINING_SLACK,
                   f"After {TRAINING_STEPS} steps your model's loss on fresh features is {ratio:.1f} times the course "
                   f"trainer's (the better of two seeds against the worse): it learned less.",
                   "Small random W (at W = 0 no gradient flows), zero bias, both given to AdamW; a fresh batch every "
                   "step (0 with probability `sparsity`); importance-weighted loss, ReLU after the bias; zero_grad().")
    return grade
