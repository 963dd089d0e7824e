"""Figures for the tour notebook: predictions and activation maps."""
from __future__ import annotations

from typing import Sequence

import torch
from matplotlib import pyplot as plt
from matplotlib.figure import Figure

from . import to_numpy_image


def predictions_figure(images: dict[str, torch.Tensor], predictions: Sequence[Sequence[tuple[str, float]]]) -> Figure:
    """Each photograph above a bar chart of its top predicted classes."""
    fig, axes = plt.subplots(2, len(images), figsize=(3 * len(images), 5.2), squeeze=False,
                             gridspec_kw={"height_ratios": [3, 2]})
    for column, ((name, image), top) in enumerate(zip(images.items(), predictions)):
        axes[0, column].imshow(to_numpy_image(image))
        axes[0, column].set_title(name)
        axes[0, column].axis("off")
        labels = [label for label, _ in top][::-1]
        axes[1, column].barh(labels, [p for _, p in top][::-1], color="tab:blue")
        axes[1, column].set_xlim(0, 1)
        axes[1, column].tick_params(labelsize=7)
        axes[1, column].set_xlabel("probability")
    fig.tight_layout()
    return fig


def activation_map_figure(image: torch.Tensor, activation: torch.Tensor, title: str) -> Figure:
    """An image, one unit's activation map over it, and the map laid on the image."""
    fig, axes = plt.subplots(1, 3, figsize=(9, 3.2))
    picture = to_numpy_image(image)
    height, width = picture.shape[:2]
    values = activation.detach().cpu().numpy()
    axes[0].imshow(picture)
    axes[0].set_title("image")
    shown = axes[1].imshow(values, cmap="magma")
    axes[1].set_title(f"{title}\n{values.shape[0]}x{values.shape[1]} map")
    fig.colorbar(shown, ax=axes[1], fraction=0.046)
    axes[2].imshow(picture)
    axes[2].imshow(values, cmap="magma", alpha=0.6, extent=(0, width, height, 0), interpolation="bilinear")
    axes[2].set_title("where it fires")
    for ax in axes:
        ax.axis("off")
    fig.tight_layout()
    return fig
