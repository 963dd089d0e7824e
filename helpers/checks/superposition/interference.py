"""Check of lesson 07's exercise 12: the largest interference a represented feature of a toy model suffers, called on
hand-built and random held-out models and compared with :func:`helpers.superposition.largest_interference`."""
from __future__ import annotations

import math
from typing import Callable

import torch

from ... import superposition, superposition_studies
from ...superposition_studies import toy_models
from ...superposition import largest_interference
from .. import Grade, exercise, one_number
from ..withheld import compare_with_course

#: The course's interference, what it is built on (withholding ``_overlaps`` withholds D_i too: D_i would give the
#: interference in one line) and what reports it (where the lesson imports it and where it is defined, which the
#: first toy-model claim's verdict calls), withheld while the student's function runs.
INTERFERENCE_HIDDEN = {superposition: ("largest_interference", "interference", "_overlaps"),
                       superposition_studies: ("regime_ends",), toy_models: ("regime_ends",)}


def columns(degrees: list[float], lengths: list[float]) -> torch.Tensor:
    """A (2, n) toy model whose features point at ``degrees`` with the given lengths."""
    return torch.tensor([[length * math.cos(math.radians(angle)), length * math.sin(math.radians(angle))]
                         for angle, length in zip(degrees, lengths)]).T


def _interference_cases() -> dict[str, list[tuple[torch.Tensor, float]]]:
    """Held-out (weights (m, n), threshold): hand-built 2-D models whose interference is worked out by hand (features
    of different lengths, a short dropped feature that overlaps the kept ones, nothing kept), and random models of
    other sizes and thresholds."""
    generator = torch.Generator().manual_seed(7121)
    random_models = [(torch.randn(5, 12, generator=generator) * 0.6, 0.5),
                     (torch.randn(3, 4, generator=generator), 1.2), (torch.randn(8, 8, generator=generator) * 0.4, 0.3)]
    return {
        "hand-built: two orthogonal features of lengths 1 and 2, and a third at 30° (length 1.5)": [
            (columns([0, 90], [1.0, 2.0]), 0.5), (columns([0, 90, 30], [1.0, 2.0, 1.5]), 0.5)],
        "hand-built: a short feature at 45° that must be dropped (and kept at a lower threshold); none kept": [
            (columns([0, 90, 45], [1.0, 1.0, 0.4]), 0.5), (columns([0, 90, 45], [1.0, 1.0, 0.4]), 0.3),
            (columns([10, 200], [0.2, 0.3]), 0.5)],
        "random models: 12 features in 5 dimensions, 4 in 3, 8 in 8, at thresholds 0.5, 1.2 and 0.3": random_models,
    }


@exercise(points=3)
def check_largest_interference(my_largest_interference: Callable) -> Grade:
    """Exercise 12: my_largest_interference(weights, threshold): the largest sum over j != i of (Ŵ_i · W_j)² among the
    features whose length is above ``threshold`` (0 when none is)."""
    return compare_with_course(
        _interference_cases(), my_largest_interference, largest_interference, INTERFERENCE_HIDDEN,
        "your largest interference", rtol=1e-4, atol=1e-5, read=lambda answer: one_number(answer, "number"),
        hint="Columns are features: divide each by its length for Ŵ_i, dot it with EVERY column W_j (not only their "
             "directions), square, and sum over j without j = i; then the largest among the features longer than "
             "`threshold` (a short feature counts as a W_j of the others, never as an i); 0.0 when none is kept.")
