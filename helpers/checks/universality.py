"""Self-checks for the exercises of lesson 07 (universality).

Every check recomputes the right answer from what the student passes in (the CKA result, the model,
the features and the student's own transformed copies), so typed-in numbers, a neighbouring layer or
another model's count fail.
"""
from __future__ import annotations

import math

import numpy as np
import torch

from ..models import CircuitModel
from ..universality import CKAResult, classify_filters, first_layer_filters, linear_cka
from . import exercise, expect, passed

#: Colour fraction above which a stem filter counts as almost pure colour, and below which almost pure grey.
PURE_COLOUR, PURE_GREY = 0.9, 0.3


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool) and math.isfinite(float(value))


@exercise
def check_most_similar_layer(result: CKAResult, layer: str, answer: str) -> bool:
    """Exercise 1: the layer of model B (the columns) with the highest CKA to ``layer`` of model A (the rows)."""
    expect(layer in result.layers_a, f"{layer!r} is not one of the rows of this CKA result ({result.model_a}).",
           "Use a layer name from result.layers_a.")
    expect(isinstance(answer, str), f"Answer with a layer name (a string), not {type(answer).__name__}.",
           "The column names are in result.layers_b.")
    expect(answer in result.layers_b, f"{answer!r} is not a layer of {result.model_b}.", "Pick from result.layers_b.")
    row = result.matrix[result.layers_a.index(layer)]
    best = int(row.argmax())
    expect(answer == result.layers_b[best],
           f"{answer!r} has CKA {row[result.layers_b.index(answer)]:.3f} with {result.model_a}'s {layer}, but another layer "
           f"of {result.model_b} scores higher.",
           "Take the row of result.matrix that belongs to your layer (result.layers_a.index(...)) and find the column "
           "with the largest value (np.argmax); the column names are result.layers_b.")
    return passed(f"{result.model_b}'s {answer} is the most similar to {result.model_a}'s {layer} (CKA {row[best]:.3f}); "
                  f"relative depths {result.depth_a[result.layers_a.index(layer)]:.2f} and {result.depth_b[best]:.2f}.")


def separated_share(model: CircuitModel) -> tuple[float, float, float]:
    """Shares of ``model``'s first-layer filters that are almost pure colour, almost pure grey, and either."""
    fractions = np.array([p.colour_fraction for p in classify_filters(first_layer_filters(model))])
    colour, grey = fractions > PURE_COLOUR, fractions < PURE_GREY
    return float(colour.mean()), float(grey.mean()), float((colour | grey).mean())


@exercise
def check_separated_share(model: CircuitModel, answer: float) -> bool:
    """Exercise 2: the share of ``model``'s first-layer filters that are almost pure colour or almost pure grey."""
    filters = first_layer_filters(model)
    count = len(filters)
    colour, grey, either = separated_share(model)
    expect(_is_number(answer), f"Answer with a number (a share between 0 and 1), not {type(answer).__name__}.")
    answer = float(answer)
    expect(0 <= answer <= 1, f"{answer:g} is not a share: a share lies between 0 and 1.",
           f"Divide the number of such filters by the number of filters of {model.name}'s first layer.")
    close = abs(answer - either) < 1e-9
    if not close and (abs(answer - colour) < 1e-9 or abs(answer - grey) < 1e-9):
        expect(False, f"{answer:.3f} counts only one of the two kinds of filter.",
               f"Count a filter when its colour_fraction is above {PURE_COLOUR} OR below {PURE_GREY}.")
    expect(close, f"{answer:.3f} is not the share of {model.name}'s {count} first-layer filters that are almost pure colour "
                  "or almost pure grey.",
           f"classify_filters(first_layer_filters(model)) gives one FilterProperties per filter; use each one's "
           f".colour_fraction (above {PURE_COLOUR}: pure colour, below {PURE_GREY}: pure grey), then take the mean.")
    return passed(f"{either:.0%} of {model.name}'s {count} first-layer filters are almost pure colour ({colour:.0%}) "
                  f"or almost pure grey ({grey:.0%}).")


def _as_float64(name: str, value: object, shape: tuple[int, ...]) -> torch.Tensor:
    expect(isinstance(value, (torch.Tensor, np.ndarray)), f"{name} should be a matrix (a tensor), not {type(value).__name__}.",
           "Multiply the features by a matrix or a number.")
    tensor = torch.as_tensor(value).detach().to(torch.float64).cpu()
    expect(tuple(tensor.shape) == shape, f"{name} has shape {tuple(tensor.shape)}; it must have the features' shape {shape}.",
           "Transform the features (N, d) by a (d, d) matrix on the right, or by a number.")
    expect(bool(torch.isfinite(tensor).all()), f"{name} holds NaN or infinite values.")
    return tensor


@exercise
def check_cka_invariances(features: torch.Tensor, rotated_copy: torch.Tensor, scaled_copy: torch.Tensor,
                          stretched_copy: torch.Tensor, answer: tuple[float, float, float]) -> bool:
    """Exercise 3: three transformed copies of ``features`` and the CKA of ``features`` with each of them."""
    x = torch.as_tensor(features).detach().to(torch.float64).cpu()
    rotated = _as_float64("rotated_copy", rotated_copy, tuple(x.shape))
    scaled = _as_float64("scaled_copy", scaled_copy, tuple(x.shape))
    stretched = _as_float64("stretched_copy", stretched_copy, tuple(x.shape))
    size = float(x.norm())
    gram = x @ x.T
    # a rotation keeps every inner product between examples (X Q Qᵀ Xᵀ = X Xᵀ) but changes the features
    expect(float((rotated @ rotated.T - gram).norm()) <= 1e-8 * float(gram.norm()),
           "rotated_copy is not a rotation of the features: the inner products between examples changed.",
           "Multiply the features from the right by the orthogonal matrix `rotation`.")
    expect(float((rotated - x).norm()) > 1e-6 * size, "rotated_copy is the features themselves, not a rotated copy.",
           "Use the matrix `rotation` given above.")
    factor = float((scaled * x).sum() / (x * x).sum())
    expect(float((scaled - factor * x).norm()) <= 1e-8 * size * max(1.0, abs(factor)),
           "scaled_copy is not the features times one number.", "Multiply the features by one number.")
    expect(abs(abs(factor) - 1) > 1e-3, "scaled_copy has the features' own size: scale them by a number other than ±1.")
    truth = (linear_cka(x, rotated), linear_cka(x, scaled), linear_cka(x, stretched))
    expect(truth[2] < 0.999, f"stretched_copy gives CKA {truth[2]:.4f}: it is (almost) a rotation or rescaling of the features.",
           "Stretch some directions much more than others, with the matrix `stretch`.")
    expect(isinstance(answer, (tuple, list)) and len(answer) == 3,
           "answer should hold three CKA values: (with rotated_copy, with scaled_copy, with stretched_copy).")
    for name, value, true in zip(("rotated", "scaled", "stretched"), answer, truth):
        expect(_is_number(value), f"The {name} CKA should be a number, not {value!r}.", "Call linear_cka(features, copy).")
        expect(abs(float(value) - true) < 1e-6, f"Your {name} CKA, {float(value):.4f}, is not the CKA of the features with "
                                                f"your {name}_copy.",
               "Compute each value with linear_cka(features, the copy), with the plain (not debiased) estimator.")
    return passed(f"rotation and scale leave CKA at 1; your stretch gave {truth[2]:.3f}: CKA compares representations up "
                  "to rotation and scale, not up to any invertible map.")
