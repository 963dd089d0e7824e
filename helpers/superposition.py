"""Toy models of superposition (Elhage et al., 2022): more sparse features than dimensions.

``n`` synthetic features, each zero with probability ``S`` (the sparsity) and otherwise uniform
in [0, 1], are squeezed into ``m < n`` hidden dimensions by ``h = W x`` and read back by
``x' = ReLU(Wᵀ h + b)``. The loss is the squared error weighted by each feature's importance
``I_i``. Dense features: the model keeps about the ``m`` most important ones, orthogonally, and
drops the rest. Sparse features: it packs more than ``m`` into the ``m`` dimensions, accepting a
little interference because two sparse features are rarely active together.

Many copies (one per sparsity) train at once as a single batched model, so a whole sparsity sweep
takes seconds on a CPU. With ``hidden_relu=True`` the hidden layer gets a ReLU, which makes its
dimensions neurons (the paper's privileged-basis variant, where polysemantic neurons appear).

The measures (feature norms, interference, dimensions per feature) work on one weight matrix
``(m, n)`` or a stack of them ``(..., m, n)``; column ``i`` of ``W`` is feature ``i``'s direction
``W_i`` in the hidden space.
"""
from __future__ import annotations

import math
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Iterator, Sequence

import torch
from torch import nn
from tqdm.auto import tqdm

#: Per-feature dimensionalities where the paper's features cluster ("sticky" fractions) and the
#: geometry each stands for.
STICKY_FRACTIONS: dict[str, float] = {
    "dedicated dimension": 1.0,
    "tetrahedron": 3 / 4,
    "triangle": 2 / 3,
    "antipodal pair": 1 / 2,
    "pentagon": 2 / 5,
    "square antiprism": 3 / 8,
}


def feature_importance(n_features: int, decay: float = 0.9) -> torch.Tensor:
    """Importances ``decay ** i`` for features ``i = 0..n-1`` (``decay=1`` makes all features equal)."""
    if n_features < 1:
        raise ValueError(f"n_features must be at least 1, got {n_features}.")
    if not 0 < decay <= 1:
        raise ValueError(f"decay must lie in (0, 1], got {decay}.")
    return decay ** torch.arange(n_features, dtype=torch.float32)


def _check_sparsities(sparsities: Sequence[float] | torch.Tensor) -> torch.Tensor:
    values = torch.as_tensor(sparsities, dtype=torch.float32).flatten()
    if values.numel() == 0:
        raise ValueError("Give at least one sparsity.")
    if not bool(((values >= 0) & (values < 1)).all()):
        raise ValueError(f"Sparsities are probabilities of a feature being zero and must lie in [0, 1); got {values.tolist()}.")
    return values


def sample_features(
    batch_size: int, n_features: int, sparsities: Sequence[float] | torch.Tensor, generator: torch.Generator
) -> torch.Tensor:
    """A batch of synthetic inputs, shape (copies, batch, n): each feature 0 with probability S, else U[0, 1]."""
    sparsity = _check_sparsities(sparsities)
    shape = (sparsity.numel(), batch_size, n_features)
    values = torch.rand(shape, generator=generator)
    present = torch.rand(shape, generator=generator) >= sparsity.view(-1, 1, 1)
    return values * present


class ToyModel(nn.Module):
    """Several independent toy models ``x' = ReLU(Wᵀ W x + b)`` stacked along a first 'copies' axis.

    With ``hidden_relu`` the hidden layer gets a ReLU too, ``h = ReLU(W x)``: its dimensions become
    *neurons* (a privileged basis), which the paper uses to study polysemantic neurons.
    """

    def __init__(self, copies: int, n_features: int, n_hidden: int, generator: torch.Generator, hidden_relu: bool = False):
        super().__init__()
        if n_hidden < 1:
            raise ValueError(f"n_hidden must be positive, got {n_hidden}.")
        bound = math.sqrt(6 / (n_features + n_hidden))  # Xavier-uniform initialization
        weights = (torch.rand(copies, n_hidden, n_features, generator=generator) * 2 - 1) * bound
        self.W = nn.Parameter(weights)
        self.b = nn.Parameter(torch.zeros(copies, n_features))
        self.hidden_relu = hidden_relu

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """Reconstruct a (copies, batch, n) batch of features through the m hidden dimensions."""
        return toy_reconstruction(self.W, self.b, features, hidden_relu=self.hidden_relu)


def toy_reconstruction(weights: torch.Tensor, biases: torch.Tensor, features: torch.Tensor, *,
                       hidden_relu: bool = False) -> torch.Tensor:
    """``ReLU(Wᵀ W x + b)`` for stacked toy models: weights (copies, m, n), biases (copies, n), features (copies, batch, n)."""
    hidden = torch.einsum("cmn,cbn->cbm", weights, features)
    if hidden_relu:
        hidden = torch.relu(hidden)
    return torch.relu(torch.einsum("cmn,cbm->cbn", weights, hidden) + biases[:, None, :])


def toy_loss(weights: torch.Tensor, biases: torch.Tensor, features: torch.Tensor, importance: torch.Tensor, *,
             hidden_relu: bool = False) -> torch.Tensor:
    """Each stacked toy model's training loss (copies,): the importance-weighted squared reconstruction error,
    averaged over the batch and the features."""
    error = importance * (toy_reconstruction(weights, biases, features, hidden_relu=hidden_relu) - features) ** 2
    return error.mean(dim=(1, 2))


@dataclass
class ToyModelSweep:
    """Trained toy models, one per sparsity: weights (copies, m, n), biases (copies, n) and the settings."""

    weights: torch.Tensor
    biases: torch.Tensor
    sparsities: torch.Tensor
    importance: torch.Tensor
    final_loss: torch.Tensor
    hidden_relu: bool = False
    initial_weights: torch.Tensor | None = None  # (copies, m, n) before training: the untrained control

    @property
    def n_features(self) -> int:
        """Number of features n."""
        return self.weights.shape[-1]

    @property
    def dimensionality(self) -> torch.Tensor:
        """Each trained model's D_i (copies, n): the share of a dimension each feature gets (see :func:`feature_dimensionality`)."""
        return feature_dimensionality(self.weights)

    @property
    def initial_dimensionality(self) -> torch.Tensor:
        """The same D_i before training (copies, n): the untrained control."""
        if self.initial_weights is None:
            raise ValueError("This sweep kept no initial weights; train it with train_toy_models.")
        return feature_dimensionality(self.initial_weights)

    @property
    def n_hidden(self) -> int:
        """Number of hidden dimensions m."""
        return self.weights.shape[-2]

    def kept_dimensionality(self, initial: bool = False, threshold: float = 0.5) -> torch.Tensor:
        """D_i of every represented feature (``||W_i|| > threshold``) of every model of the sweep, in one flat tensor;
        ``initial=True``: of the models before training (the untrained control)."""
        if initial:
            return self.initial_dimensionality[feature_norms(self.initial_weights) > threshold]
        return self.dimensionality[feature_norms(self.weights) > threshold]

    def index_of(self, sparsity: float) -> int:
        """Index of the trained copy whose sparsity is closest to ``sparsity``."""
        return int((self.sparsities - sparsity).abs().argmin())


@contextmanager
def _one_thread() -> Iterator[None]:
    """Run torch on one CPU thread: the toy models' tensors are so small that more threads only add waiting."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def train_toy_models(
    n_features: int,
    n_hidden: int,
    sparsities: Sequence[float] | torch.Tensor,
    *,
    importance: torch.Tensor | None = None,
    steps: int = 5000,
    batch_size: int = 1024,
    lr: float = 1e-2,
    hidden_relu: bool = False,
    generator: torch.Generator | None = None,
    progress: bool = True,
) -> ToyModelSweep:
    """Train one toy model per sparsity, all at once, with AdamW on the importance-weighted squared error.

    ``importance`` defaults to ``0.9 ** i``; ``hidden_relu`` adds a ReLU on the hidden layer (neurons).
    The paper's code uses lr 1e-3 for 10k steps; the default 1e-2 reaches the same solutions in a few
    thousand steps. Deterministic for a given ``generator`` (seed 0 if None).
    """
    sparsity = _check_sparsities(sparsities)
    if n_hidden >= n_features:
        raise ValueError(f"Superposition needs fewer hidden dimensions than features; got m={n_hidden}, n={n_features}.")
    if steps < 1 or batch_size < 1:
        raise ValueError(f"steps and batch_size must be positive, got steps={steps}, batch_size={batch_size}.")
    importance = feature_importance(n_features) if importance is None else torch.as_tensor(importance, dtype=torch.float32)
    if importance.shape != (n_features,) or bool((importance < 0).any()):
        raise ValueError(f"importance must be {n_features} non-negative numbers, got shape {tuple(importance.shape)}.")
    generator = generator if generator is not None else torch.Generator().manual_seed(0)
    model = ToyModel(sparsity.numel(), n_features, n_hidden, generator, hidden_relu)
    initial = model.W.detach().clone()
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr)
    with torch.enable_grad(), _one_thread():
        for _ in tqdm(range(steps), desc=f"toy models ({sparsity.numel()} sparsities)", disable=not progress):
            features = sample_features(batch_size, n_features, sparsity, generator)
            loss_per_copy = toy_loss(model.W, model.b, features, importance, hidden_relu=hidden_relu)
            optimizer.zero_grad(set_to_none=True)
            loss_per_copy.sum().backward()
            optimizer.step()
    return ToyModelSweep(
        weights=model.W.detach().clone(),
        biases=model.b.detach().clone(),
        sparsities=sparsity,
        importance=importance,
        final_loss=loss_per_copy.detach().clone(),
        hidden_relu=hidden_relu,
        initial_weights=initial,
    )



def train_toy_model(n_hidden: int, sparsity: float, importance: torch.Tensor, steps: int, generator: torch.Generator,
                    batch_size: int = 256, lr: float = 1e-2, *, progress: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
    """One toy model trained as :func:`train_toy_models` trains each of its copies: weights (m, n) and bias (n,).

    For one sparsity and the importances' ``n`` features: what lesson 07's exercise 10 asks the student to write (the
    optimization loop over the importance-weighted loss), and the course's answer its check compares losses with.
    """
    importance = torch.as_tensor(importance, dtype=torch.float32)
    sweep = train_toy_models(len(importance), n_hidden, [sparsity], importance=importance, steps=steps,
                             batch_size=batch_size, lr=lr, generator=generator, progress=progress)
    return sweep.weights[0], sweep.biases[0]


def held_out_toy_loss(weights: torch.Tensor, bias: torch.Tensor, sparsity: float, importance: torch.Tensor,
                      generator: torch.Generator, batch_size: int = 8192) -> float:
    """One toy model's loss (weights (m, n), bias (n,)) on a fresh batch of features drawn with ``generator``: how well
    a trained model does on inputs it never saw."""
    importance = torch.as_tensor(importance, dtype=torch.float32)
    features = sample_features(batch_size, len(importance), [sparsity], generator)
    return float(toy_loss(weights[None].float(), bias[None].float(), features, importance)[0])

# --- measures (the paper's) ------------------------------------------------------------------

def _check_weights(weights: torch.Tensor) -> torch.Tensor:
    weights = torch.as_tensor(weights, dtype=torch.float32)
    if weights.dim() < 2:
        raise ValueError(f"Weights must be (m, n) or (..., m, n) with one column per feature, got shape {tuple(weights.shape)}.")
    return weights


def feature_norms(weights: torch.Tensor) -> torch.Tensor:
    """||W_i|| for every feature: about 1 when the feature is represented, about 0 when dropped."""
    return _check_weights(weights).norm(dim=-2)


def _overlaps(weights: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """(Ŵ_i · W_j) for all i, j: row i is feature i's unit direction dotted with every feature."""
    weights = _check_weights(weights)
    norms = weights.norm(dim=-2, keepdim=True)
    directions = weights / norms.clamp_min(eps)
    return directions.transpose(-1, -2) @ weights


def interference(weights: torch.Tensor) -> torch.Tensor:
    """Superposition of each feature: sum over j != i of (Ŵ_i · W_j)²; 0 when it has a dimension to itself."""
    squared = _overlaps(weights) ** 2
    return squared.sum(-1) - squared.diagonal(dim1=-2, dim2=-1)


def dimensions_per_feature(weights: torch.Tensor) -> torch.Tensor:
    """m / ||W||_F²: hidden dimensions the model spends per (unit-norm) feature it represents."""
    weights = _check_weights(weights)
    return weights.shape[-2] / weights.pow(2).sum(dim=(-2, -1))


def feature_dimensionality(weights: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """D_i = ||W_i||² / sum_j (Ŵ_i · W_j)²: the share of a dimension feature i gets (0 when dropped)."""
    squared_norms = _check_weights(weights).pow(2).sum(-2)
    total = (_overlaps(weights, eps) ** 2).sum(-1)
    return torch.where(squared_norms > eps, squared_norms / total.clamp_min(eps), torch.zeros_like(squared_norms))


def represented_features(weights: torch.Tensor, threshold: float = 0.5) -> torch.Tensor:
    """How many features have ||W_i|| above ``threshold`` (the model keeps them), per weight matrix."""
    return (feature_norms(weights) > threshold).sum(-1)


def feature_angles(weights: torch.Tensor, threshold: float = 0.5) -> torch.Tensor:
    """Angles in degrees [0, 360) of the represented features of a 2-D toy model (m = 2), sorted."""
    weights = _check_weights(weights)
    if weights.dim() != 2 or weights.shape[0] != 2:
        raise ValueError(f"feature_angles needs one (2, n) weight matrix (a model with 2 hidden dimensions), got {tuple(weights.shape)}.")
    kept = weights[:, feature_norms(weights) > threshold]
    angles = torch.rad2deg(torch.atan2(kept[1], kept[0])) % 360
    return angles.sort().values


def angle_gaps(angles: torch.Tensor) -> torch.Tensor:
    """Gaps in degrees between neighbouring directions around the circle (they sum to 360)."""
    angles = torch.as_tensor(angles, dtype=torch.float32).sort().values
    if angles.numel() == 0:
        raise ValueError("No directions given: no feature is represented.")
    return torch.diff(torch.cat([angles, angles[:1] + 360]))


def antipodal_pairs(weights: torch.Tensor, threshold: float = 0.5, tolerance: float = 5.0) -> int:
    """How many pairs of represented features point in opposite directions (within ``tolerance`` degrees): (m, n) -> int."""
    weights = _check_weights(weights)
    if weights.dim() != 2:
        raise ValueError(f"antipodal_pairs needs one (m, n) weight matrix, got {tuple(weights.shape)}.")
    kept = torch.nn.functional.normalize(weights[:, feature_norms(weights) > threshold], dim=0)
    cosines = (kept.T @ kept).triu(1)
    return int((cosines < math.cos(math.radians(180 - tolerance))).sum())


def features_per_neuron(weights: torch.Tensor, threshold: float = 0.3) -> torch.Tensor:
    """How many features drive each hidden neuron with a weight above ``threshold``: (..., m).

    Meaningful for models trained with ``hidden_relu`` (a privileged basis): more than one means the
    neuron fires for several unrelated features, a polysemantic neuron. Without the ReLU any rotation
    of the hidden space is as good, so its axes mean nothing.
    """
    return (_check_weights(weights) > threshold).sum(-1)


def antipodal_partners(weights: torch.Tensor, threshold: float = 0.5, cosine: float = -0.996) -> torch.Tensor:
    """Each feature's antipodal partner in one toy model's weights (m, n): the index of the represented feature
    (``||W_j|| > threshold``) whose direction is most opposite to its own, when their cosine is below ``cosine``;
    -1 for a feature with no such partner and for a dropped feature (n,).

    What it is for: an antipodal pair (``x`` and ``-x`` on one line) is how a toy model gives two sparse features
    half a dimension each; the lesson reads it through :func:`paired_dimensionality`.
    """
    weights = _check_weights(weights)
    if weights.dim() != 2:
        raise ValueError(f"antipodal_partners needs one (m, n) weight matrix, got {tuple(weights.shape)}.")
    kept = feature_norms(weights) > threshold
    unit = torch.nn.functional.normalize(weights, dim=0)
    cosines = torch.where(kept[:, None] & kept[None, :], unit.T @ unit, torch.inf)
    cosines.fill_diagonal_(torch.inf)  # a feature is not its own partner
    most_opposite = cosines.min(dim=1)
    return torch.where(most_opposite.values < cosine, most_opposite.indices, -1)


def paired_dimensionality(sweep: ToyModelSweep, index: int, threshold: float = 0.5, cosine: float = -0.996) -> torch.Tensor:
    """D_i of the features of the sweep's model ``index`` that have an antipodal partner (see
    :func:`antipodal_partners`): about 1/2 each when the pairs are the model's geometry."""
    partnered = antipodal_partners(sweep.weights[index], threshold, cosine) >= 0
    return sweep.dimensionality[index][partnered]


def polygon_deviation(weights: torch.Tensor, sides: int = 5, threshold: float = 0.5) -> float:
    """How far a 2-D toy model (2, n) is from a regular polygon of ``sides`` features: the largest difference (degrees)
    between a gap of neighbouring represented features and 360 / ``sides``; infinity unless exactly ``sides`` are kept."""
    if int(represented_features(weights, threshold)) != sides:
        return float("inf")
    return float((angle_gaps(feature_angles(weights, threshold)) - 360 / sides).abs().max())


def planar_description(sweep: ToyModelSweep, index: int) -> str:
    """One line on model ``index`` of a sweep of 2-D toy models: how many features it keeps, their angles and the
    gaps between neighbours (degrees), and every feature's D_i."""
    weights = sweep.weights[index]
    angles = feature_angles(weights)
    gaps = angle_gaps(angles).tolist() if len(angles) else []
    return (f"kept {len(angles)}, angles {[round(a) for a in angles.tolist()]}, gaps {[round(g) for g in gaps]}, "
            f"D_i {[round(d, 2) for d in sweep.dimensionality[index].tolist()]}")


def regularity(sweep: ToyModelSweep, index: int, sides: int = 5) -> tuple[float, float]:
    """(trained, untrained) :func:`polygon_deviation` of model ``index`` of a sweep of 2-D toy models: how far its
    kept features, and the same model's before training, are from a regular polygon of ``sides`` features."""
    if sweep.initial_weights is None:
        raise ValueError("This sweep kept no untrained weights: train it with train_toy_models to compare.")
    return polygon_deviation(sweep.weights[index], sides), polygon_deviation(sweep.initial_weights[index], sides)


def largest_interference(weights: torch.Tensor, threshold: float = 0.5) -> float:
    """The largest :func:`interference` of a represented feature of one toy model (m, n): 0 when every kept feature
    has a dimension to itself (0 when none is kept)."""
    kept = feature_norms(weights) > threshold
    return float(interference(weights)[kept].max()) if bool(kept.any()) else 0.0


def features_near(dimensionality: torch.Tensor, value: float, tolerance: float = 0.03) -> int:
    """How many features' D_i lie within ``tolerance`` of ``value`` (a sticky fraction, or a value that is not one)."""
    return int(((torch.as_tensor(dimensionality) - value).abs() < tolerance).sum())


def sticky_counts(dimensionality: torch.Tensor, tolerance: float = 0.03) -> dict[str, int]:
    """Per sticky fraction of :data:`STICKY_FRACTIONS`, how many features' D_i lie within ``tolerance`` of it and
    nearer to it than to any other fraction."""
    values = torch.as_tensor(dimensionality, dtype=torch.float32).flatten()
    fractions = torch.tensor(list(STICKY_FRACTIONS.values()))
    if values.numel() == 0:
        return {name: 0 for name in STICKY_FRACTIONS}
    nearest = (values[:, None] - fractions).abs().argmin(1)
    near = (values - fractions[nearest]).abs() < tolerance
    return {name: int((near & (nearest == i)).sum()) for i, name in enumerate(STICKY_FRACTIONS)}
