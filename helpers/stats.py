"""Statistics the course computes in many places, written once: correlation (also of ranks), standardizing, kurtosis,
circular statistics, one-to-one pairs of a score matrix, and what a layer-by-layer similarity matrix says about depth.

Conventions, everywhere: a series (or column) that never varies correlates 0 with everything (a dead
unit is not evidence either way); angles are in degrees.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import torch


def _as_float64(values: np.ndarray | torch.Tensor) -> np.ndarray:
    if isinstance(values, torch.Tensor):
        values = values.detach().cpu().double().numpy()
    return np.asarray(values, dtype=np.float64)


def pearson(a: np.ndarray | torch.Tensor, b: np.ndarray | torch.Tensor) -> float:
    """Pearson correlation of two equally long series, in float64 (0 when either is constant)."""
    a, b = _as_float64(a).ravel(), _as_float64(b).ravel()
    if a.shape != b.shape:
        raise ValueError(f"Need two series of the same length, got {a.shape[0]} and {b.shape[0]}.")
    a, b = a - a.mean(), b - b.mean()
    denominator = float(np.sqrt(float(a @ a) * float(b @ b)))
    return float(a @ b) / denominator if denominator > 0 else 0.0


def standardize_columns(x: torch.Tensor) -> torch.Tensor:
    """Each column centred and scaled to unit length, so ``standardize_columns(a).T @ standardize_columns(b)`` is a correlation.

    A column that does not vary (its spread below 1e-12 of the largest column's) becomes zeros.
    """
    x = x - x.mean(0)
    scale = x.norm(dim=0)
    tiny = 1e-12 * max(1.0, float(scale.max())) if scale.numel() else 1.0
    return torch.where(scale > tiny, x / scale.clamp_min(1e-300), torch.zeros_like(x))


def correlation_columns(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Pearson correlation (Ca, Cb) between every column of ``a`` (N, Ca) and every column of ``b`` (N, Cb)."""
    return standardize_columns(a).T @ standardize_columns(b)


def average_ranks(x: torch.Tensor) -> torch.Tensor:
    """The rank of every entry of ``x`` (N, C) within its column, 0 for the smallest, in float64; tied entries share
    the mean of their ranks (a column that never varies has one rank throughout)."""
    columns = x.detach().double().T.contiguous()
    ordered = columns.sort(dim=1).values
    below = torch.searchsorted(ordered, columns, side="left")
    through = torch.searchsorted(ordered, columns, side="right")
    return ((below + through - 1) / 2).T


def rank_correlation(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Spearman's correlation between each column of ``a`` (N, C) and the same column of ``b`` (N, C), one per column:
    Pearson's correlation of their average ranks (0 for a column that never varies)."""
    if a.dim() != 2 or a.shape != b.shape:
        raise ValueError(f"Need two tables of the same shape (N, C), got {tuple(a.shape)} and {tuple(b.shape)}.")
    return (standardize_columns(average_ranks(a)) * standardize_columns(average_ranks(b))).sum(0)


def kurtosis(values: torch.Tensor) -> torch.Tensor:
    """The fourth standardized moment of each column of ``values`` (N, C): 3 for a Gaussian, more for heavy tails.

    Moments over the N samples, without Bessel's correction; a column that never varies gets 0 / 1e-12 = 0.
    """
    centred = values - values.mean(0)
    return centred.pow(4).mean(0) / centred.pow(2).mean(0).square().clamp_min(1e-12)


def circular_resultant(angles_degrees: Sequence[float] | np.ndarray, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The weighted vector sum of unit vectors at ``angles_degrees`` (O,) for each column of ``weights`` (O, U), and the total weight.

    Its direction is the circular mean; its length over the total weight is one minus the circular variance.
    """
    angles = np.radians(np.asarray(angles_degrees, dtype=np.float64))
    weights = np.asarray(weights, dtype=np.float64)
    column = weights if weights.ndim > 1 else weights[:, None]
    vector = (column * np.exp(1j * angles)[:, None]).sum(0)
    total = column.sum(0)
    return (vector, total) if weights.ndim > 1 else (vector[0], total[0])


def circular_mean(angles_degrees: Sequence[float] | np.ndarray, weights: np.ndarray) -> np.ndarray:
    """The weighted circular mean of ``angles_degrees`` in [0, 360) for each column of ``weights``."""
    vector, _ = circular_resultant(angles_degrees, weights)
    return np.degrees(np.angle(vector)) % 360


def circular_concentration(angles_degrees: Sequence[float] | np.ndarray, weights: np.ndarray) -> np.ndarray:
    """One minus the weighted circular variance, in [0, 1], for each column of ``weights`` (0 where the weights are all 0)."""
    vector, total = circular_resultant(angles_degrees, weights)
    return np.where(total > 0, np.abs(vector) / np.maximum(total, 1e-12), 0.0)


def greedy_pairs(scores: np.ndarray | torch.Tensor) -> np.ndarray:
    """One-to-one pairs (row, column) of a score matrix (R, C), picked greedily: the largest remaining score, then its
    row and its column are used up; min(R, C) pairs, (P, 2) integers, strongest first (ties: the first in row-major order).

    Lesson 08 pairs each unit of model A with at most one unit of model B this way (Li et al. 2015 match one to one).
    """
    remaining = np.array(scores.detach().cpu().numpy() if isinstance(scores, torch.Tensor) else scores, dtype=np.float64)
    if remaining.ndim != 2:
        raise ValueError(f"scores must be a matrix (R, C), got shape {remaining.shape}.")
    if np.isnan(remaining).any():
        raise ValueError("scores hold NaN; a greedy pairing would be arbitrary.")
    return np.array([_take_best(remaining) for _ in range(min(remaining.shape))], dtype=np.int64).reshape(-1, 2)


def _take_best(remaining: np.ndarray) -> tuple[int, int]:
    """The (row, column) of the largest entry of ``remaining``, whose row and column it then uses up (sets to -inf)."""
    row, column = np.unravel_index(np.argmax(remaining), remaining.shape)
    remaining[row, :] = -np.inf
    remaining[:, column] = -np.inf
    return int(row), int(column)


def depth_agreement(matrix: np.ndarray, depth_a: np.ndarray, depth_b: np.ndarray, tolerance: float = 0.15,
                    far: float = 0.4) -> tuple[float, float, float]:
    """What a similarity matrix between the layers of two models (rows: A's layers at relative depths ``depth_a``,
    columns: B's at ``depth_b``) says about depth: the mean similarity over pairs at about the same depth
    (|Δ| <= ``tolerance``), the mean over pairs far apart (|Δ| >= ``far``), and the share of A's layers whose most
    similar layer of B lies within ``tolerance`` of the same depth. Lesson 08's CKA claims read these three numbers."""
    matrix, depth_a, depth_b = (np.asarray(x, dtype=np.float64) for x in (matrix, depth_a, depth_b))
    if matrix.shape != (len(depth_a), len(depth_b)):
        raise ValueError(f"matrix {matrix.shape} must be (layers of A, layers of B) = ({len(depth_a)}, {len(depth_b)}).")
    gap = _depth_gaps(depth_a, depth_b)
    if not (gap <= tolerance).any() or not (gap >= far).any():
        raise ValueError("No layer pairs at matched or at distant depths; widen tolerance or lower far.")
    partner_depth = depth_b[matrix.argmax(1)]
    return (float(matrix[gap <= tolerance].mean()), float(matrix[gap >= far].mean()),
            float(np.mean(np.abs(partner_depth - depth_a) <= tolerance)))


def _depth_gaps(depth_a: np.ndarray, depth_b: np.ndarray) -> np.ndarray:
    """|depth_a[i] - depth_b[j]| for every pair of layers (A's layers as rows)."""
    return np.abs(depth_a[:, None] - depth_b[None, :])
