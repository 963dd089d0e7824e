"""Figures for equivariance: a unit's image-space weights, transformed, beside the unit they turn into."""
from __future__ import annotations

from typing import Mapping, Sequence

import torch
from matplotlib import pyplot as plt
from matplotlib.figure import Figure

from . import images_figure, to_numpy_image
from ..weights.equivariance import TransformedCopies, transform_weights


def _as_picture(weights: torch.Tensor) -> torch.Tensor:
    """Image-space weights (3, k, k) shown as colours: grey is zero, brighter excites, darker inhibits."""
    return (0.5 + 0.5 * weights / weights.abs().max().clamp(min=1e-12)).clamp(0, 1)


def transformed_copies_figure(weights: torch.Tensor, copies: Mapping[str, TransformedCopies], units: Sequence[int]) -> Figure:
    """One row per unit: its weights, then for each transformation the transformed weights and the best-matching other unit."""
    columns = 1 + 2 * len(copies)
    fig, axes = plt.subplots(len(units), columns, figsize=(1.3 * columns, 1.45 * len(units)), squeeze=False)
    for row, unit in zip(axes, units):
        panels = [(weights[unit], f"unit {unit}")]
        for name, found in copies.items():
            partner = int(found.partner[unit])
            panels.append((transform_weights(weights[unit : unit + 1], found.transformation)[0], name))
            panels.append((weights[partner], f"unit {partner}, r={found.copy[unit]:.2f}"))
        for ax, (grid, title) in zip(row, panels):
            ax.imshow(to_numpy_image(_as_picture(grid)), interpolation="nearest")
            ax.set_title(title, fontsize=7)
            ax.axis("off")
    fig.tight_layout()
    return fig


def weight_pictures_figure(pictures: Sequence[torch.Tensor], titles: Sequence[str], size: float = 1.6) -> Figure:
    """Image-space weights (3, k, k) side by side on one colour scale: grey is zero, brighter excites, darker inhibits."""
    scale = max(float(torch.as_tensor(p).abs().max()) for p in pictures) or 1.0
    return images_figure([(torch.as_tensor(p) / (2 * scale) + 0.5).clamp(0, 1) for p in pictures], titles=list(titles),
                         size=size)
