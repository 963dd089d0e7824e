"""Self-checks for the polysemanticity and superposition lesson's exercises."""
from __future__ import annotations

import torch

from ..dataset_examples import DatasetExamples
from ..dictionary import SparseDictionary
from ..polysemanticity import FeatureMaps, facet_diversity, top_example_features
from ..superposition import ToyModelSweep, feature_dimensionality, feature_norms, represented_features
from . import expect, passed


def check_square_of_pairs(weights: torch.Tensor) -> bool:
    """Exercise 1: a (2, 4) weight matrix placing 4 features as two antipodal pairs (a square), each D_i = 1/2."""
    expect(isinstance(weights, torch.Tensor) and tuple(weights.shape) == (2, 4),
           f"Give a (2, 4) tensor: 2 hidden dimensions, one column per feature; got {getattr(weights, 'shape', type(weights).__name__)}.")
    norms = feature_norms(weights)
    expect(bool(((norms - 1).abs() < 0.05).all()),
           f"Every feature should be represented with norm about 1; the norms are {[round(x, 2) for x in norms.tolist()]}.",
           "Use unit vectors such as (1, 0) and (-1, 0).")
    dims = feature_dimensionality(weights)
    expect(bool(((dims - 0.5).abs() < 0.02).all()),
           f"Each feature should get half a dimension (D_i = 1/2); got {[round(x, 3) for x in dims.tolist()]}.",
           "Antipodal pairs: feature 1 = -feature 0, feature 3 = -feature 2, and the two pairs orthogonal.")
    return passed("Two antipodal pairs at right angles: four features in two dimensions, D_i = 1/2 each.")


def check_first_superposition(sweep: ToyModelSweep, sparsity: float) -> bool:
    """Exercise 2: the smallest sparsity of the sweep at which the toy model keeps more features than dimensions."""
    kept = represented_features(sweep.weights)
    over = torch.nonzero(kept > sweep.n_hidden).flatten()
    expect(len(over) > 0, "In this sweep no model keeps more features than dimensions: train sparser models.")
    first = float(sweep.sparsities[int(over[0])])
    expect(isinstance(sparsity, (int, float)), f"Give the sparsity as a number, not {type(sparsity).__name__}.")
    expect(abs(float(sparsity) - first) < 1e-4,
           f"{float(sparsity):.3f} is not it: at that sparsity the model keeps "
           f"{int(kept[sweep.index_of(float(sparsity))])} features in {sweep.n_hidden} dimensions.",
           "Use represented_features(sweep.weights) and find the first entry above sweep.n_hidden.")
    return passed(f"From S = {first:.3f} on, the model keeps {int(kept[int(over[0])])} features in {sweep.n_hidden} dimensions.")


def check_facet_score(examples: DatasetExamples, features: FeatureMaps, channel: int, k: int, score: float) -> bool:
    """Exercise 3: a unit's facet score computed by hand (mean cosine distance between its top-k examples' features)."""
    expected = facet_diversity(top_example_features(examples, features, channel, k))
    expect(isinstance(score, (int, float)) or (isinstance(score, torch.Tensor) and score.numel() == 1),
           f"Give one number, not {type(score).__name__}.")
    value = float(score)
    expect(abs(value - expected) < 1e-3,
           f"Your score {value:.4f} differs from the facet score {expected:.4f}.",
           "Average 1 - cosine similarity over pairs i != j only (leave out each example's similarity to itself).")
    return passed(f"{examples.layer}:{channel} has facet score {expected:.3f} over its top {k} examples.")


def check_explained_variance(dictionary: SparseDictionary, vectors: torch.Tensor, fraction: float) -> bool:
    """Exercise 4: the fraction of the vectors' variance a sparse dictionary's reconstruction keeps, computed by hand."""
    expect(isinstance(fraction, (int, float)) or (isinstance(fraction, torch.Tensor) and fraction.numel() == 1),
           f"Give one number, not {type(fraction).__name__}.")
    expected = dictionary.explained_variance(vectors)
    value = float(fraction)
    expect(abs(value - expected) < 1e-3,
           f"Your fraction {value:.4f} differs from the dictionary's {expected:.4f}.",
           "Sum the squared error over all vectors and units, and divide by the squared distance of every vector "
           "from the mean vector (not from zero); then take one minus that.")
    return passed(f"The dictionary keeps {expected:.1%} of the variance with {dictionary.features} features.")
