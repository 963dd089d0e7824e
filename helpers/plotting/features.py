"""Figures for lesson 01, "Features are the fundamental unit": visualizations beside dataset examples."""
from __future__ import annotations

from typing import Sequence

import numpy as np
import torch
from matplotlib import pyplot as plt
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from . import stretch_for_display, to_numpy_image


def _picture(ax: Axes, image: torch.Tensor, title: str = "") -> None:
    picture = to_numpy_image(image)
    ax.imshow(picture, interpolation="nearest" if picture.shape[0] < 64 else "antialiased")
    ax.set_xticks([])
    ax.set_yticks([])
    if title:
        ax.set_title(title, fontsize=8)


def optimization_comparison_figure(images: dict[str, torch.Tensor], histories: dict[str, torch.Tensor], title: str = "") -> Figure:
    """Feature visualizations made different ways, side by side (contrast stretched), and their objective over the steps."""
    count = len(images)
    fig, axes = plt.subplots(1, count + 1, figsize=(2.8 * count + 3.6, 3), gridspec_kw={"width_ratios": [1] * count + [1.4]})
    for ax, (name, image) in zip(axes, images.items()):
        _picture(ax, stretch_for_display(image), name)
    title = f"{title} (images contrast stretched for display)" if title else "images contrast stretched for display"
    for name, history in histories.items():
        axes[-1].plot(history.numpy(), label=name)
    axes[-1].set_xlabel("step")
    axes[-1].set_ylabel("objective (on jittered image)")
    axes[-1].legend(fontsize=7)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def units_with_examples_figure(
    visualizations: torch.Tensor,
    patches: Sequence[torch.Tensor],
    titles: Sequence[str],
    patch_values: Sequence[torch.Tensor] | None = None,
    suptitle: str = "",
) -> Figure:
    """One row per unit: its feature visualization (contrast stretched), then its top dataset patches (with their activation)."""
    rows = len(titles)
    columns = 1 + max(len(p) for p in patches)
    fig, axes = plt.subplots(rows, columns, figsize=(1.5 * columns, 1.6 * rows + 0.3), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for row in range(rows):
        _picture(axes[row, 0], stretch_for_display(visualizations[row]), titles[row])
        axes[row, 0].axis("on")
        for column, patch in enumerate(patches[row], start=1):
            label = f"{float(patch_values[row][column - 1]):.2f}" if patch_values is not None else ""
            _picture(axes[row, column], patch, label)
    fig.suptitle(f"{suptitle} (visualizations contrast stretched for display)".strip(), fontsize=10)
    fig.tight_layout()
    return fig


def activation_histogram_figure(
    counts: torch.Tensor,
    edges: torch.Tensor,
    title: str = "",
    marks: dict[str, float] | None = None,
    ax: Axes | None = None,
) -> Figure:
    """A unit's activation histogram over all positions (log scale), with labelled vertical marks."""
    if ax is None:
        fig, ax = plt.subplots(figsize=(5, 2.8))
    else:
        fig = ax.figure
    edges_np = edges.numpy()
    ax.bar(edges_np[:-1], counts.numpy(), width=np.diff(edges_np), align="edge", color="tab:gray")
    ax.set_yscale("log")
    ax.set_xlabel("activation")
    ax.set_ylabel("positions")
    for (label, value), line_colour in zip((marks or {}).items(), plt.rcParams["axes.prop_cycle"].by_key()["color"]):
        ax.axvline(value, color=line_colour, linestyle="--", label=label)
    if marks:
        ax.legend(fontsize=7)
    if title:
        ax.set_title(title, fontsize=9)
    fig.tight_layout()
    return fig


def unit_view_figure(
    visualization: torch.Tensor,
    value: float,
    patches: torch.Tensor,
    patch_values: torch.Tensor,
    counts: torch.Tensor,
    edges: torch.Tensor,
    title: str,
) -> Figure:
    """The explorer's figure: a unit's visualization, its top dataset patches and its histogram."""
    count = len(patches)
    fig = plt.figure(figsize=(2.2 + 1.3 * max(count, 1) / 2 + 3.5, 2.8))
    grid = fig.add_gridspec(2, 2 + (count + 1) // 2 + 3)
    _picture(fig.add_subplot(grid[:, :2]), stretch_for_display(visualization), f"visualization (stretched)\nobjective {value:.2f}")
    for i, (patch, patch_value) in enumerate(zip(patches, patch_values)):
        _picture(fig.add_subplot(grid[i % 2, 2 + i // 2]), patch, f"{float(patch_value):.2f}")
    top = float(patch_values[0]) if len(patch_values) else float("nan")
    activation_histogram_figure(counts, edges, "all positions", {"top example": top}, ax=fig.add_subplot(grid[:, -3:]))
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig
