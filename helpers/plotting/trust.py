"""Figures of lesson 11 (trusting feature visualizations): the lab bench, a round of the prediction game,
and a fooled unit beside the evidence that exposes it. Images are shown as they are (never stretched)."""
from __future__ import annotations

from typing import Mapping, Sequence

import torch
from matplotlib import pyplot as plt
from matplotlib.figure import Figure

from . import to_numpy_image


def _row(axes: Sequence[plt.Axes], images: Sequence[torch.Tensor], titles: Sequence[str]) -> None:
    for ax, image, title in zip(axes, images, titles):
        ax.imshow(to_numpy_image(image))
        ax.set_title(title, fontsize=8)
        ax.axis("off")


def bench_images_figure(images: Mapping[str, torch.Tensor], values: Mapping[str, float], title: str = "") -> Figure:
    """One unit by several methods: each image with its activation and pixel standard deviation (not stretched)."""
    fig, axes = plt.subplots(1, len(images), figsize=(2.4 * len(images), 2.8), squeeze=False)
    titles = [f"{name}\nactivation {values[name]:.2f}, std {float(image.std()):.3f}" for name, image in images.items()]
    _row(axes[0], list(images.values()), titles)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def game_round_figure(references: Sequence[torch.Tensor], reference_title: str, photos: torch.Tensor, title: str) -> Figure:
    """The references of a unit on the top row; the two photographs to choose between (left, right) below."""
    columns = max(len(references), 2)
    fig, axes = plt.subplots(2, columns, figsize=(1.9 * columns, 4.2), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    _row(axes[0], references, [reference_title] + [""] * (len(references) - 1))
    _row(axes[1], list(photos), ["left", "right"])
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return fig


def fooled_figure(panels: Mapping[str, torch.Tensor], examples: torch.Tensor, title: str = "") -> Figure:
    """The chosen picture and the visualizations (top row) beside the fooled unit's top natural examples (bottom row)."""
    columns = max(len(panels), len(examples))
    fig, axes = plt.subplots(2, columns, figsize=(2.2 * columns, 4.8), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    _row(axes[0], list(panels.values()), list(panels))
    _row(axes[1], list(examples), ["top natural examples (edited model)"] + [""] * (len(examples) - 1))
    if title:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return fig
