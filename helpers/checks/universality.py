"""Self-checks for the exercises of lesson 07 (universality)."""
from __future__ import annotations

import numpy as np
import torch

from . import expect, passed
from ..universality import CKAResult, FilterProperties, classify_filters, first_layer_filters, linear_cka
from ..models import CircuitModel


def check_most_similar_layer(answer: str, result: CKAResult, layer: str) -> bool:
    """Exercise 1: the layer of model B with the highest CKA to ``layer`` of model A."""
    expect(layer in result.layers_a, f"{layer!r} is not one of the rows of this CKA result ({result.model_a}).",
           "Use a layer name from result.layers_a.")
    expect(isinstance(answer, str), f"Answer with a layer name (a string), not {type(answer).__name__}.")
    row = result.matrix[result.layers_a.index(layer)]
    best = result.layers_b[int(row.argmax())]
    expect(answer in result.layers_b, f"{answer!r} is not a layer of {result.model_b}.", "Pick from result.layers_b.")
    expect(answer == best, f"{answer!r} has CKA {row[result.layers_b.index(answer)]:.3f} with {layer}, but another layer scores higher.",
           "Take the row of result.matrix for your layer and find the column with the largest value (np.argmax).")
    return passed(f"{result.model_b}'s {best} is the most similar to {result.model_a}'s {layer} (CKA {row.max():.3f}); "
                  f"relative depths {result.depth_a[result.layers_a.index(layer)]:.2f} and {result.depth_b[int(row.argmax())]:.2f}.")


def check_colour_filter_count(answer: int, model: CircuitModel) -> bool:
    """Exercise 2: how many first-layer filters of ``model`` the classifier calls colour contrast."""
    properties: list[FilterProperties] = classify_filters(first_layer_filters(model))
    count = sum(p.kind == "colour contrast" for p in properties)
    expect(isinstance(answer, (int, np.integer)), f"Answer with a whole number, not {type(answer).__name__}.")
    expect(int(answer) == count, f"{answer} is not the number of colour-contrast filters in {model.name}'s first layer.",
           "classify_filters(first_layer_filters(model)) gives one FilterProperties per filter; count those whose .kind is 'colour contrast'.")
    return passed(f"{model.name} has {count} colour-contrast filters out of {len(properties)}.")


def check_cka_invariances(rotated: float, scaled: float, mixed: float, features: torch.Tensor) -> bool:
    """Exercise 3: CKA of ``features`` with a rotated copy, a scaled copy and a copy mixed by a non-orthogonal matrix."""
    for name, value in (("rotated", rotated), ("scaled", scaled), ("mixed", mixed)):
        expect(isinstance(value, float) and 0 <= value <= 1 + 1e-6, f"{name} should be a CKA value between 0 and 1, got {value!r}.",
               "Call linear_cka(features, transformed_features).")
    expect(abs(rotated - 1) < 1e-6, f"CKA with a rotated copy should be 1, got {rotated:.4f}.",
           "Rotate with an orthogonal matrix: q, _ = torch.linalg.qr(torch.randn(d, d, dtype=torch.float64)).")
    expect(abs(scaled - 1) < 1e-6, f"CKA with a scaled copy should be 1, got {scaled:.4f}.", "Multiply the features by a number.")
    expect(mixed < 0.999, f"A non-orthogonal mix should lower CKA below 1, got {mixed:.4f}.",
           "Use a matrix that stretches some directions much more than others, e.g. torch.diag(torch.logspace(0, 2, d)).")
    expect(abs(linear_cka(features, features) - 1) < 1e-6, "features must be a (N, d) matrix of real numbers.")
    return passed(f"Rotation and scale leave CKA at 1; the stretching mix gave {mixed:.3f}: CKA compares representations "
                  "up to rotation and scale, not up to any invertible map.")
