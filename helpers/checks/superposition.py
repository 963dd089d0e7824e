"""Self-checks for the polysemanticity and superposition lesson's exercises.

Each check recomputes the right answer from the objects the student's own lesson built (a toy-model
sweep, the scanned examples, the trained dictionary, the screened orientations) and never prints it.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import torch

from ..dataset_examples import DatasetExamples
from ..dictionary import SparseDictionary
from ..polysemanticity import FeatureMaps, facet_diversity, top_example_features
from ..superposition import ToyModelSweep, feature_dimensionality, feature_norms, represented_features
from ..tuning import largest_gap
from . import exercise, expect, passed


def _one_number(value: object, what: str) -> float:
    """The answer as a float, or an ExerciseError saying a single number was expected."""
    is_number = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)
    if isinstance(value, np.ndarray):
        is_scalar = value.size == 1
    else:
        is_scalar = isinstance(value, torch.Tensor) and value.numel() == 1 and value.dtype != torch.bool
    expect(is_number or is_scalar, f"Give {what} as one number, not {type(value).__name__}.")
    return float(value)


@exercise
def check_square_of_pairs(weights: torch.Tensor) -> bool:
    """Exercise 1: a (2, 4) weight matrix placing 4 features as two antipodal pairs (a square), each D_i = 1/2."""
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


@exercise
def check_first_superposition(sweep: ToyModelSweep, sparsity: float) -> bool:
    """Exercise 2: the smallest sparsity of the sweep at which the toy model keeps more features than dimensions."""
    value = _one_number(sparsity, "the sparsity")
    kept = represented_features(sweep.weights)
    over = torch.nonzero(kept > sweep.n_hidden).flatten()
    expect(len(over) > 0, "In this sweep no model keeps more features than dimensions: train sparser models.")
    first = float(sweep.sparsities[int(over[0])])
    expect(0 <= value < 1, f"A sparsity is a probability in [0, 1); {value} is not.")
    nearest = sweep.index_of(value)
    expect(abs(value - first) < 1e-4,
           f"S = {value:.3f} is not it: the model of the sweep nearest that sparsity keeps "
           f"{int(kept[nearest])} features in {sweep.n_hidden} dimensions, and it must be the FIRST model (lowest S) "
           "that keeps more features than dimensions.",
           "Use represented_features(sweep.weights), find the first entry above sweep.n_hidden, and read that "
           "model's sparsity from sweep.sparsities (do not type it in: copy it from the tensor).")
    return passed(f"From S = {first:.3f} on, the model keeps {int(kept[int(over[0])])} features in {sweep.n_hidden} dimensions.")


@exercise
def check_facet_score(examples: DatasetExamples, features: FeatureMaps, channel: int, k: int, score: float) -> bool:
    """Exercise 3: a unit's facet score computed by hand (mean cosine distance between its top-k examples' features)."""
    value = _one_number(score, "the facet score")
    expected = facet_diversity(top_example_features(examples, features, channel, k))
    expect(0 <= value <= 2, f"A mean of 1 - cosine similarity lies between 0 and 2; {value:.4f} does not.",
           "Cosine similarity of unit vectors is their dot product.")
    expect(abs(value - expected) < 1e-3,
           f"Your score {value:.4f} is not the facet score of {examples.layer}:{channel}'s top {k} examples.",
           "Average 1 - cosine similarity over the k (k - 1) ordered pairs i != j only: leave out each example's "
           "similarity to itself (the diagonal, always 1).")
    return passed(f"{examples.layer}:{channel} has facet score {expected:.3f} over its top {k} examples.")


@exercise
def check_explained_variance(dictionary: SparseDictionary, vectors: torch.Tensor, fraction: float) -> bool:
    """Exercise 4: the fraction of the vectors' variance a sparse dictionary's reconstruction keeps, computed by hand."""
    value = _one_number(fraction, "the fraction")
    expected = dictionary.explained_variance(vectors)
    expect(value <= 1, f"A fraction of variance kept cannot exceed 1; {value:.4f} does.")
    expect(abs(value - expected) < 1e-3,
           f"Your fraction {value:.4f} is not the share of variance the dictionary's reconstruction keeps.",
           "Sum the squared error over all vectors and units, and divide by the squared distance of every vector "
           "from the mean vector (not from zero); then take one minus that.")
    return passed(f"The dictionary keeps {expected:.1%} of the variance with {dictionary.features} features.")


@exercise
def check_largest_gap(neuron_orientations: Sequence[float], feature_orientations: Sequence[float], gap: float) -> bool:
    """Exercise 5: the widest arc of the circle that neither a curve neuron nor a curve-like dictionary feature prefers."""
    value = _one_number(gap, "the gap in degrees")
    together = [float(o) for o in neuron_orientations] + [float(o) for o in feature_orientations]
    expected = largest_gap(together)
    expect(0 <= value <= 360, f"A gap on the circle lies between 0 and 360 degrees; {value:.1f} does not.")
    alone = largest_gap(neuron_orientations)
    expect(abs(value - alone) >= 0.5 or abs(alone - expected) < 0.5,
           "That is the largest gap of the neurons alone.", "Pool the neurons' and the features' orientations first.")
    expect(abs(value - expected) < 0.5,
           f"{value:.1f}° is not the widest empty arc of the pooled orientations.",
           "Sort the angles, take the differences between neighbours, and do not forget the arc that wraps around "
           "from the last angle back to the first (the first plus 360).")
    return passed(f"Neurons and dictionary features together leave no gap wider than {expected:.0f}°.")
