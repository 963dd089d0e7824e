"""Read a circuit off the weights: expanded weights between layers, strongest connections, equivariance.

The *expanded weights* from layer A to layer B are the k x k spatial weights of the linear map that
takes A's activation to B's pre-activation once every non-linearity in between is ignored (the
Circuits thread's "Visualizing Weights" does the same). ``expanded_weights(model, A, B)[o, i]`` is a
k x k grid: how unit ``B:o`` reads unit ``A:i`` at each offset of its window (row 0 = top).

Three ways to get them, picked by ``method``:

- ``"analytic"`` for the zoo's EfficientNet-Lite and InceptionV1 (consecutive layers only): the
  convolutions are composed in closed form, batch-norm scales folded in. Exact for the linear path.
- ``"linearized"`` for any :class:`CircuitModel` and any pair of layers: the network is run with A's
  activation replaced by an input of our own, every activation module replaced by the identity,
  ``nn.MaxPool2d`` by average pooling over the same window and ``nn.LocalResponseNorm`` by the identity
  (custom pooling modules, such as InceptionV1's TensorFlow-padded max-pool, run unchanged);
  the gradient of B's centre unit with respect to that input is the expanded weight (exact for the
  linear parts, an approximation wherever a pooling or normalization sits between A and B).
- ``"auto"``: analytic where it exists, otherwise linearized.

What is ignored, and why that is fine or not:

- EfficientNet-Lite: between the expanded activation of one block and that of the next lie the
  block's projection (1x1 conv + BN, linear), possibly a residual add, then the next block's
  expansion (1x1 conv + BN), ReLU6 (ignored) and depthwise conv + BN. The residual adds the block's
  *input*, which is computed before A and does not depend on A's activation, so it contributes no
  weight at all (only an input-dependent offset): the expanded weights are exact for the linear path
  with or without a residual. Because the last step is depthwise, ``W[o, i] = kernel[o] * M[o, i]``:
  every input unit is read through the *same* k x k pattern, scaled by a channel weight.
- InceptionV1 (mixedXa -> mixedXb and conv2d2 -> mixed3a, ...): the 1x1 branch (weight at the
  centre of the grid), the 3x3 bottleneck composed with the 3x3 conv, the 5x5 bottleneck composed
  with the 5x5 conv, all reported on a 5x5 grid. The pool branch starts with a max-pool, which is
  not linear: its channels get zero expanded weights here (use ``method="linearized"`` to see them
  through an average-pool approximation). Max-pools and local response norms *between* two layers
  (conv2d0 -> conv2d1, conv2d2 -> mixed3a, mixed3b -> mixed4a, ...) are treated as the identity,
  as the Circuits articles do.

Modules, one job each: :mod:`.expanded` (expanded weights, analytic and linearized: :func:`expanded_weights`,
:func:`unit_weights`, :func:`linearized_forward`, :func:`linearized_weights`), :mod:`.connections`
(strongest inputs and outputs, family usage, a family's clients), :mod:`.equivariance` (rotated weights compared),
:mod:`.curve_wiring` (a family's weights from the curve units below, by orientation difference),
:mod:`.view` (a weight explorer's data), :mod:`.nmf` (weights factored into a few non-negative parts),
:mod:`.banding` (weight banding: kernels made of stripes), :mod:`.smoothness` (how smooth a filter is, against its
weights shuffled in space).
"""
from .connections import (
    Connection, Connections, FamilyClients, InputSelectivity, family_clients, family_input_selectivity, family_usage,
    strongest_inputs, strongest_outputs,
)
from .curve_wiring import CurveWiring, curve_to_curve_weights
from .equivariance import (
    EquivarianceSummary, RankOne, family_equivariance, rank_one, rotate_grids, spatial_pattern, weight_equivariance,
)
from .expanded import Method, expanded_weights, linearized_forward, linearized_weights, unit_weights
from .view import WeightView, weight_view

__all__ = [
    "expanded_weights", "unit_weights", "linearized_forward", "linearized_weights", "Method",
    "Connection", "Connections", "strongest_inputs", "strongest_outputs", "family_usage", "family_clients", "FamilyClients",
    "family_input_selectivity", "InputSelectivity", "curve_to_curve_weights", "CurveWiring",
    "rotate_grids", "spatial_pattern", "rank_one", "RankOne", "weight_equivariance", "EquivarianceSummary",
    "family_equivariance",
    "WeightView", "weight_view",
]
