"""Checks of lesson 06's exercises (polysemantic neurons): the student's facet score and effective number
of facets, each called on held-out inputs and compared with :mod:`helpers.polysemanticity`."""
from __future__ import annotations

from typing import Callable

import torch

from ..dataset_examples import DatasetExamples
from ..polysemanticity import FeatureMaps, effective_number, facet_diversity, selective_units, top_example_features
from . import Grade, call_answer, exercise, expect_close

_FACET_HINT = ("Scale every row to length 1, take all dot products at once with a matrix product, and average "
               "1 - similarity over the pairs of DIFFERENT examples only (leave out the diagonal).")


def _clusters(sizes: tuple[int, ...], dim: int, scale: float, generator: torch.Generator) -> torch.Tensor:
    """Points in tight groups around random directions, each row rescaled by a random length (not unit length)."""
    centres = torch.randn(len(sizes), dim, generator=generator)
    points = torch.cat([centre + 0.05 * torch.randn(size, dim, generator=generator) for centre, size in zip(centres, sizes)])
    return points * (scale * torch.rand(len(points), 1, generator=generator) + 0.5)


@exercise(points=3)
def check_facet_score(facet_score: Callable, examples: DatasetExamples, features: FeatureMaps) -> Grade:
    """Exercise 1: the facet score of a set of examples (mean 1 - cosine similarity over pairs of different rows)."""
    grade = Grade()
    generator = torch.Generator().manual_seed(2606)
    cases = {
        "one tight group of 6 examples, rows of different lengths": _clusters((6,), 24, 5.0, generator),
        "three groups of 4 (a polysemantic unit by construction)": _clusters((4, 4, 4), 24, 3.0, generator),
        "two examples only": torch.randn(2, 9, generator=generator),
        "random points, 11 examples of 40 numbers": torch.randn(11, 40, generator=generator),
    }
    # Units of the lesson's own layer that the notebook never scores one by one.
    selective = torch.nonzero(selective_units(examples)).flatten()
    pool = selective if len(selective) >= 2 else torch.arange(examples.channels)
    for number, channel in enumerate(pool[torch.randperm(len(pool), generator=generator)[:2]].tolist(), 1):
        cases[f"the top examples of another unit of {examples.layer} ({number})"] = top_example_features(
            examples, features, channel)
    for name, points in cases.items():
        with grade.part(name):
            answer = call_answer(facet_score, points.clone())
            expect_close(answer, torch.tensor(facet_diversity(points)), "your facet score", rtol=1e-3, atol=1e-4,
                         hint=_FACET_HINT)
    return grade


@exercise(points=2)
def check_effective_number(effective_facets: Callable) -> Grade:
    """Exercise 2: the effective number of facets of a unit's clustered examples (exp of the entropy of group shares)."""
    grade = Grade()
    generator = torch.Generator().manual_seed(606)
    cases = {
        "three equal groups": torch.tensor([0, 1, 2] * 4),
        "one big group and two stragglers": torch.tensor([0] * 10 + [1, 2]),
        "labels that do not start at 0 and skip numbers": torch.tensor([7, 7, 9, 9, 9, 3]),
        "a single group": torch.full((8,), 4),
        "40 random labels of 5 groups": torch.randint(5, (40,), generator=generator),
    }
    for name, labels in cases.items():
        with grade.part(name):
            answer = call_answer(effective_facets, labels.clone())
            expect_close(answer, torch.tensor(effective_number(labels)), "your effective number", rtol=1e-3,
                         hint="Turn the labels into the share of examples in each group, compute the entropy "
                              "-sum(p log p) with the natural logarithm, and take exp of it.")
    return grade
