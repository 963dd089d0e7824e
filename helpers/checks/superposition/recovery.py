"""Check of lesson 07's exercise 13: how well a set of directions finds a toy model's represented features, against the
principal axes of its hidden activations (each kept feature's best cosine with either), called on hand-built and random
held-out models and compared with :func:`helpers.superposition_studies.kept_feature_cosines`."""
from __future__ import annotations

from typing import Callable

import torch

from ... import dictionary as dictionary_module
from ... import superposition_studies
from ...superposition_studies import kept_feature_cosines
from .. import ExerciseError, Grade, exercise
from ..withheld import compare_with_course
from .interference import columns

#: The course's cosines, the best match they are built on and the toy test that reports them, withheld while the
#: student's function runs.
RECOVERY_HIDDEN = {superposition_studies: ("kept_feature_cosines", "toy_recovery"),
                   dictionary_module: ("best_match",)}


def _activations(weights: torch.Tensor, count: int, sparsity: float, seed: int, offset: float = 0.0) -> torch.Tensor:
    """``count`` hidden activations ``W x`` of a toy model for sparse features x (active with probability
    1 - ``sparsity``), shifted by ``offset`` in every dimension (activations whose mean is far from 0)."""
    generator = torch.Generator().manual_seed(seed)
    features = torch.rand(count, weights.shape[1], generator=generator)
    features = features * (torch.rand(count, weights.shape[1], generator=generator) >= sparsity)
    return features @ weights.T + offset


def _recovery_cases() -> dict[str, list[tuple]]:
    """Held-out (activations, directions, weights, threshold): a hand-built 2-D model with an antipodal pair, a dropped
    feature and directions of unequal lengths (one pointing away from a feature); the same with activations far from the
    origin; random models of other sizes, thresholds and numbers of directions."""
    pair = columns([0, 180, 90, 45], [1.0, 1.0, 1.5, 0.3])  # an antipodal pair, a third feature, a short dropped one
    directions = torch.tensor([[2.0, 0.0], [0.0, -0.5], [1.2, 1.6], [-3.0, 0.3]])  # lengths 2, 0.5, 2, about 3
    stretched = torch.tensor([[3.0, 0.0], [0.0, 1.0]])  # unequal spread: the first principal axis along x
    generator = torch.Generator().manual_seed(7131)
    random_cases = []
    for m, n, k, threshold, seed in ((4, 10, 12, 0.8, 1), (6, 9, 5, 0.5, 2), (3, 7, 9, 0.3, 3)):
        weights = torch.randn(m, n, generator=generator) * 0.7
        random_cases.append((_activations(weights, 300, 0.7, seed), torch.randn(k, m, generator=generator) *
                             (torch.rand(k, 1, generator=generator) * 3 + 0.2), weights, threshold))
    return {
        "hand-built: an antipodal pair, a third feature at 90° and a dropped one; directions of unequal lengths": [
            (_activations(stretched @ pair, 400, 0.5, 11), directions, stretched @ pair, 0.5),
            (_activations(pair, 400, 0.5, 12), directions[:2], pair, 0.2)],
        "the same model, its activations far from the origin (a mean of 5 in every dimension)": [
            (_activations(pair, 400, 0.5, 13, offset=5.0), directions, pair, 0.5)],
        "random models: 10 features in 4 dimensions, 9 in 6, 7 in 3, with 12, 5 and 9 directions": random_cases,
    }


def _course(activations: torch.Tensor, directions: torch.Tensor, weights: torch.Tensor,
            threshold: float) -> torch.Tensor:
    return torch.cat(kept_feature_cosines(activations, directions, weights, threshold)).double()


def _two_tensors(answer: object) -> torch.Tensor:
    """The student's (dictionary cosines, principal-axis cosines), two (kept,) tensors, joined into one."""
    if isinstance(answer, (tuple, list)) and len(answer) == 2:
        try:
            first, second = (torch.as_tensor(value).detach().cpu().double().flatten() for value in answer)
        except (TypeError, ValueError, RuntimeError):
            pass
        else:
            if len(first) == len(second):
                return torch.cat([first, second])
    size = f" of {len(answer)}" if isinstance(answer, (tuple, list)) else ""
    raise ExerciseError(f"Return two tensors of one cosine per kept feature (with the directions, with the principal "
                        f"axes); got {type(answer).__name__}{size}.")


@exercise(points=3)
def check_kept_feature_cosines(my_kept_feature_cosines: Callable) -> Grade:
    """Exercise 13: my_kept_feature_cosines(activations, directions, weights, threshold): per represented feature (a
    column of ``weights`` longer than ``threshold``), its best cosine with a row of ``directions`` and with a principal
    axis of the centred ``activations`` taken with either sign."""
    return compare_with_course(
        _recovery_cases(), my_kept_feature_cosines, _course, RECOVERY_HIDDEN,
        "your best cosines (with the directions, then with the principal axes)", rtol=0, atol=1e-4, read=_two_tensors,
        hint="Keep the columns longer than `threshold` and make them unit length; make every direction unit length "
             "too (a cosine, not a dot product), and take the LARGEST signed cosine over the directions for each "
             "feature. The principal axes are the rows of Vᵀ in the SVD of the activations minus their MEAN; an axis "
             "has no sign, so try each with both signs.")
