"""Check of lesson 07's exercise 11: a dictionary's account of a layer (features active per vector, the fraction of
variance its reconstruction keeps, dead features), called on held-out vectors and dictionaries and compared with
:func:`helpers.dictionary.dictionary_account`."""
from __future__ import annotations

from typing import Callable

import numpy as np
import torch

from ... import dictionary as dictionary_module
from ... import superposition_studies
from ...dictionary import SparseDictionary, dictionary_account, shuffle_units
from .. import ExerciseError, Grade, exercise
from ..withheld import compare_with_course

#: The course's account and what reports it, withheld while the student's function runs.
ACCOUNT_HIDDEN = {dictionary_module: ("dictionary_account", "feature_density"),
                  superposition_studies: ("layer_dictionary",)}


def hand_built_dictionary() -> tuple[SparseDictionary, torch.Tensor]:
    """Three features in two dimensions (scale 2, centre (1, -1)) and eight vectors, worked by hand: the first feature
    fires on 5 vectors, the second on exactly 2 of 8 (a density of 0.25), the third (bias -100) never."""
    directions = torch.tensor([[1.0, 0.0], [0.0, 1.0], [0.6, 0.8]])
    dictionary = SparseDictionary(encoder=directions.clone(), encoder_bias=torch.tensor([0.0, -0.5, -100.0]),
                                  directions=directions, centre=torch.tensor([1.0, -1.0]), scale=2.0, l1=0.1)
    vectors = torch.tensor([[3.0, -1.0], [5.0, 3.0], [1.0, 2.0], [0.0, -1.0], [2.0, -3.0], [4.0, -1.5], [1.0, -1.0],
                            [2.5, -0.5]])
    return dictionary, vectors


def _random_dictionary(features: int, units: int, seed: int, *, scale: float, dead: int) -> SparseDictionary:
    """An untrained dictionary with ``dead`` features whose bias keeps them silent and a non-zero centre."""
    generator = torch.Generator().manual_seed(seed)
    directions = torch.nn.functional.normalize(torch.randn(features, units, generator=generator), dim=1)
    bias = 0.3 * torch.randn(features, generator=generator) - 0.2
    bias[:dead] = -50.0
    return SparseDictionary(directions + 0.2 * torch.randn(features, units, generator=generator), bias, directions,
                            0.3 * torch.randn(units, generator=generator) + 0.5, scale, 0.1)


def _account_cases(dictionary: SparseDictionary, vectors: torch.Tensor) -> dict[str, list[tuple]]:
    """Held-out (vectors, dictionary, min_share): a hand-built case whose numbers are known, random dictionaries of
    other sizes and scales with silent features, and the lesson's dictionary on a sample of its layer's vectors (plain
    and shuffled unit by unit) at other shares."""
    generator = torch.Generator().manual_seed(7111)
    sparse = torch.rand(200, 6, generator=generator) * (torch.rand(200, 6, generator=generator) < 0.3) * \
        torch.tensor([1.0, 3.0, 0.5, 2.0, 1.0, 4.0]) + 1.0  # units of unequal spread, a mean far from 0
    wide = torch.randn(150, 9, generator=generator).relu() * 2
    rows = torch.randperm(len(vectors), generator=generator)[:300]
    layer = vectors.detach().float().cpu()[rows]
    own = SparseDictionary(*(value.detach().float().cpu() for value in (
        dictionary.encoder, dictionary.encoder_bias, dictionary.directions, dictionary.centre)), dictionary.scale,
        dictionary.l1)
    hand, eight = hand_built_dictionary()
    return {
        "a hand-built dictionary of 3 features (scale 2, a centre), a feature on exactly a quarter of the vectors": [
            (eight, hand, 0.25), (eight, hand, 0.1)],
        "random dictionaries with silent features: 10 features on 6 units (scale 0.5), 20 on 9 (scale 3)": [
            (sparse, _random_dictionary(10, 6, 1, scale=0.5, dead=3), 0.01),
            (wide, _random_dictionary(20, 9, 2, scale=3.0, dead=5), 0.05)],
        f"your lesson's dictionary on 300 of your layer's vectors ({dictionary.units} units), at shares 0.01 and 0.2": [
            (layer, own, 0.01), (layer, own, 0.2)],
        "your lesson's dictionary on the same vectors shuffled unit by unit": [
            (shuffle_units(layer, torch.Generator().manual_seed(7112)), own, 0.001)],
    }


def _three_numbers(answer: object) -> torch.Tensor:
    """The student's (features active, variance explained, dead features) as a tensor of three numbers."""
    if isinstance(answer, (tuple, list)) and len(answer) == 3:
        try:
            return torch.tensor([float(np.asarray(value.detach().cpu() if isinstance(value, torch.Tensor) else value))
                                 for value in answer], dtype=torch.float64)
        except (TypeError, ValueError, RuntimeError):
            pass
    size = f" of {len(answer)}" if isinstance(answer, (tuple, list)) else ""
    raise ExerciseError(f"Return three numbers (features active, variance explained, dead features); got "
                        f"{type(answer).__name__}{size}.")


def _course(vectors: torch.Tensor, dictionary: SparseDictionary, min_share: float) -> torch.Tensor:
    return torch.tensor(dictionary_account(vectors, dictionary, min_share), dtype=torch.float64)


@exercise(points=4)
def check_dictionary_account(my_dictionary_account: Callable, dictionary: SparseDictionary,
                             vectors: torch.Tensor) -> Grade:
    """Exercise 11: my_dictionary_account(vectors, dictionary, min_share) returns the mean number of features active
    per vector, the fraction of the vectors' variance (around their mean) the reconstruction keeps, and the number of
    features active on fewer than ``min_share`` of the vectors."""
    return compare_with_course(
        _account_cases(dictionary, vectors), my_dictionary_account, _course, ACCOUNT_HIDDEN,
        "your (features active, variance explained, dead features)", rtol=0, atol=1e-3, read=_three_numbers,
        hint="Codes with dictionary.encode, the rebuilt vectors with dictionary.decode; count the codes above 0 per "
             "vector and average; 1 - (squared error summed over everything) / (squared distance from the vectors' "
             "MEAN, summed over everything); a feature is dead when the SHARE of vectors it is active on is below "
             "min_share (strictly).")
