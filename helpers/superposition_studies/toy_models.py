"""Lesson 07's toy-model measurements in one call each: the middle regime of a sweep, the two ends of a sweep, the
sticky fractions, and the verdicts of the lesson's toy-model claims (each ``(passed, detail)``, thresholds passed by the
lesson so that its claims cell still shows them). The procedures live in :mod:`helpers.superposition`."""
from __future__ import annotations

import torch

from ..superposition import (
    STICKY_FRACTIONS, ToyModelSweep, antipodal_pairs, features_near, features_per_neuron, largest_interference,
    paired_dimensionality, regularity, represented_features, sticky_counts,
)

def middle_model(sweep: ToyModelSweep, near: float = 0.75) -> int:
    """The index of the model between the sweep's first (densest) and last (sparsest) with the most antipodal pairs,
    the one whose sparsity is nearest ``near`` among equals: the middle regime to show."""
    if len(sweep.sparsities) < 3:
        raise ValueError(f"A middle model needs a sweep of at least 3 sparsities, got {len(sweep.sparsities)}.")
    pairs = [antipodal_pairs(weights) for weights in sweep.weights]
    return max(range(1, len(pairs) - 1), key=lambda i: (pairs[i], -abs(float(sweep.sparsities[i]) - near)))



def regime_ends(sweep: ToyModelSweep, threshold: float = 0.5) -> tuple[int, float, int]:
    """The two ends of a sweep: how many features the densest model keeps (length above ``threshold``) and the largest
    interference among them (0 when each has a dimension to itself), and how many the sparsest model keeps."""
    dense, sparse = sweep.weights[0], sweep.weights[-1]
    return (int(represented_features(dense, threshold)), largest_interference(dense, threshold),
            int(represented_features(sparse, threshold)))

def sticky_summary(dimensionality: torch.Tensor, tolerance: float = 0.03) -> str:
    """One line per sticky fraction (how many of the D_i lie within ``tolerance`` of it, and nearest to it), then the
    share of all of them near one of the paper's fractions."""
    sticky = sticky_counts(dimensionality, tolerance)
    lines = [f"{name:20s} {value:.3f}: {sticky[name]:4d} features within {tolerance}"
             for name, value in STICKY_FRACTIONS.items()]
    lines.append(f"{sum(sticky.values()) / max(len(dimensionality), 1):.0%} of {len(dimensionality)} kept features sit "
                 f"within {tolerance} of one of the paper's fractions")
    return "\n".join(lines)


# --- the verdicts of lesson 07's toy-model claims --------------------------------------------------------------------

def regime_verdict(sweep: ToyModelSweep, *, max_interference: float = 0.1, extra: int = 2) -> tuple[bool, str]:
    """Dense features keep at most m features (m - 1 or m), each with a dimension to itself (largest interference
    below ``max_interference``, :func:`regime_ends`); the sparsest model keeps more than m + ``extra``."""
    m = sweep.n_hidden
    dense_kept, worst, sparse_kept = regime_ends(sweep)
    return m - 1 <= dense_kept <= m and worst < max_interference and sparse_kept > m + extra, (
        f"m = {m}: dense keeps {dense_kept} (largest interference {worst:.3f}), sparsest keeps {sparse_kept}")


def pentagon_verdict(sweep: ToyModelSweep, index: int, *, sides: int = 5,
                     max_deviation: float = 10) -> tuple[bool, str]:
    """Model ``index`` of a sweep of 2-D toy models is a regular polygon of ``sides`` features (every gap within
    ``max_deviation`` degrees of 360 / sides, :func:`helpers.superposition.regularity`) and the same model before
    training is not."""
    kept, kept0 = (int(represented_features(weights[index])) for weights in (sweep.weights, sweep.initial_weights))
    trained, untrained = regularity(sweep, index, sides=sides)  # largest gap deviation; inf unless `sides` kept
    return trained < max_deviation and not untrained < max_deviation, (
        f"trained: {kept} kept, largest deviation {trained:.1f}°; untrained: {kept0} kept, deviation {untrained:.1f}°")


def antipodal_verdict(sweep: ToyModelSweep, middle: int, *, cosine: float = -0.996, tolerance: float = 0.05,
                      min_pairs: int = 2, times: float = 2) -> tuple[bool, str]:
    """Between a sweep's ends (its first and last model), features pair up antipodally: at least ``min_pairs`` pairs
    and more than ``times`` as many as the untrained models have by chance; and in model ``middle`` at least two
    features have a partner (cosine below ``cosine``), each with D_i within ``tolerance`` of 1/2."""
    trained = sum(antipodal_pairs(weights) for weights in sweep.weights[1:-1])
    untrained = sum(antipodal_pairs(weights) for weights in sweep.initial_weights[1:-1])
    paired = paired_dimensionality(sweep, middle, cosine=cosine)  # D_i of the features with a partner
    half = len(paired) >= 2 and float((paired - 0.5).abs().max()) < tolerance
    return trained >= min_pairs and trained > times * untrained and half, (
        f"antipodal pairs in the middle models: trained {trained}, untrained {untrained}; D_i of the paired features "
        f"at S = {float(sweep.sparsities[middle]):.3f}: {[round(d, 3) for d in paired.tolist()]}")


def sticky_verdict(sweep: ToyModelSweep, *, other: float = 0.6, tolerance: float = 0.03,
                   min_count: int = 10) -> tuple[bool, str]:
    """The antipodal fraction 1/2 is sticky: at least ``min_count`` kept features of the sweep have D_i within
    ``tolerance`` of it, more than near ``other`` (not a sticky fraction) and more than before training."""
    dims = sweep.kept_dimensionality()
    at_half, at_other = features_near(dims, 0.5, tolerance), features_near(dims, other, tolerance)
    at_half_untrained = features_near(sweep.kept_dimensionality(initial=True), 0.5, tolerance)
    return at_half >= min_count and at_half > at_other and at_half > at_half_untrained, (
        f"features within {tolerance} of 1/2: {at_half}; of {other}: {at_other}; of 1/2 before training: "
        f"{at_half_untrained}")


def neurons_verdict(sweep: ToyModelSweep, *, min_mean: float = 2) -> tuple[bool, str]:
    """A sweep of toy models with neurons (a hidden ReLU), densest first and sparsest last: one feature drives each
    neuron of the densest model (:func:`helpers.superposition.features_per_neuron`), ``min_mean`` or more per neuron
    on average in the sparsest."""
    per_neuron = features_per_neuron(sweep.weights)
    dense, sparse = per_neuron[0], per_neuron[-1]
    return dense.tolist() == [1] * sweep.n_hidden and float(sparse.float().mean()) >= min_mean, (
        f"features per neuron: dense {dense.tolist()}, sparse {sparse.tolist()}")
