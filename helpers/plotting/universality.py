"""Figures for universality (lesson 07) and for your own trained network (lesson 08)."""
from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
import torch
from matplotlib import pyplot as plt
from matplotlib.figure import Figure

from ..universality import FILTER_TYPES, CKAResult, FilterProperties, UnitMatch

#: One colour per filter type, used for titles and bars.
TYPE_COLOURS = {"oriented": "tab:blue", "colour contrast": "tab:red", "low frequency": "tab:green", "other": "tab:gray"}


def filter_to_image(filter_rgb: torch.Tensor) -> np.ndarray:
    """A (3, k, k) filter as an (k, k, 3) picture: grey is zero, the largest weight reaches 0 or 1."""
    weights = filter_rgb.detach().cpu().float().numpy()
    scale = float(np.abs(weights).max()) or 1.0
    return np.clip(0.5 + weights.transpose(1, 2, 0) / (2 * scale), 0, 1)


def filters_by_type_figure(
    filters: torch.Tensor,
    properties: Sequence[FilterProperties],
    title: str = "",
    ncols: int = 16,
    size: float = 0.8,
) -> Figure:
    """First-layer filters sorted by type; each one framed and titled in its type's colour."""
    order = sorted(range(len(properties)), key=lambda i: (FILTER_TYPES.index(properties[i].kind), -properties[i].orientedness))
    ncols = min(ncols, len(order))
    nrows = -(-len(order) // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(size * ncols, size * nrows + 0.6), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, index in zip(axes.flat, order):
        kind = properties[index].kind
        ax.imshow(filter_to_image(filters[index]), interpolation="nearest")
        ax.axis("on")
        ax.set_xticks([])
        ax.set_yticks([])
        for spine in ax.spines.values():
            spine.set_color(TYPE_COLOURS[kind])
            spine.set_linewidth(2.5)
    handles = [plt.Line2D([], [], color=c, lw=4, label=k) for k, c in TYPE_COLOURS.items()]
    fig.legend(handles=handles, loc="upper center", ncol=4, fontsize=8, frameon=False)
    fig.suptitle(title, y=0.0, va="bottom", fontsize=9)
    fig.tight_layout(rect=(0, 0.04, 1, 0.9))
    return fig


def filter_type_counts_figure(counts: Mapping[str, Mapping[str, float]], title: str = "First-layer filter types") -> Figure:
    """Stacked bars: the share of each filter type per model (or per random baseline)."""
    names = list(counts)
    fig, ax = plt.subplots(figsize=(1.2 + 1.1 * len(names), 3.2))
    bottom = np.zeros(len(names))
    for kind in FILTER_TYPES:
        totals = np.array([sum(counts[n].values()) or 1 for n in names], dtype=float)
        share = np.array([counts[n].get(kind, 0) for n in names], dtype=float) / totals
        ax.bar(names, share, bottom=bottom, color=TYPE_COLOURS[kind], label=kind)
        bottom += share
    ax.set_ylabel("share of filters")
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1, 1))
    ax.tick_params(axis="x", labelrotation=30, labelsize=8)
    fig.tight_layout()
    return fig


def cka_figure(result: CKAResult, ax: plt.Axes | None = None, vmax: float = 1.0) -> Figure:
    """A CKA heat map: rows are model A's layers, columns model B's, brighter is more similar."""
    fig = ax.figure if ax is not None else plt.figure(figsize=(0.3 * len(result.layers_b) + 2.5, 0.3 * len(result.layers_a) + 1.5))
    ax = ax or fig.add_subplot(1, 1, 1)
    image = ax.imshow(result.matrix, vmin=0, vmax=vmax, cmap="magma", aspect="auto")
    ax.set_yticks(range(len(result.layers_a)), result.layers_a, fontsize=6)
    ax.set_xticks(range(len(result.layers_b)), result.layers_b, fontsize=6, rotation=90)
    ax.set_ylabel(result.model_a, fontsize=8)
    ax.set_xlabel(result.model_b, fontsize=8)
    ax.set_title(f"{'debiased ' if result.debiased else ''}linear CKA", fontsize=9)
    fig.colorbar(image, ax=ax, fraction=0.046)
    return fig


def cka_grid_figure(results: Sequence[CKAResult], ncols: int = 3) -> Figure:
    """Several CKA heat maps side by side (e.g. every pair of models)."""
    nrows = -(-len(results) // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(4.2 * ncols, 3.8 * nrows), squeeze=False)
    for ax in axes.flat[len(results):]:
        ax.axis("off")
    for ax, result in zip(axes.flat, results):
        cka_figure(result, ax)
    fig.tight_layout()
    return fig


def unit_matches_figure(match: UnitMatch, shuffled: UnitMatch, title: str = "") -> Figure:
    """Left: best-match correlations against the shuffled-image baseline. Right: the correlation matrix, units in one-to-one pair order."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.3))
    bins = np.linspace(-0.2, 1, 25)
    left.hist(shuffled.best_correlation, bins=bins, alpha=0.6, color="tab:gray", label=f"shuffled images (mean {shuffled.mean_best:.2f})")
    left.hist(match.best_correlation, bins=bins, alpha=0.7, color="tab:orange", label=f"same images (mean {match.mean_best:.2f})")
    left.set_xlabel("best correlation with any unit of the other model")
    left.set_ylabel("units")
    left.legend(fontsize=7)
    pairs = match.one_to_one()  # one-to-one twins, strongest first, on the diagonal; unpaired units after them
    rows, columns = (list(dict.fromkeys(np.concatenate([pairs[:, side], np.arange(size)])))
                     for side, size in enumerate(match.correlations.shape))
    image = right.imshow(match.correlations[rows][:, columns], vmin=-1, vmax=1, cmap="RdBu_r", aspect="auto", interpolation="nearest")
    right.set_xlabel("units of B (one-to-one pairs, strongest first)")
    right.set_ylabel("units of A (paired in that order)")
    fig.colorbar(image, ax=right, fraction=0.046)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def orientation_rugs_figure(orientations: Mapping[str, Sequence[float]], title: str = "Preferred orientations of each family") -> Figure:
    """One polar rug per model: a spoke for each family member's preferred orientation."""
    names = list(orientations)
    fig, axes = plt.subplots(1, len(names), subplot_kw={"projection": "polar"}, figsize=(2.3 * len(names), 2.7), squeeze=False)
    for ax, name in zip(axes.flat, names):
        angles = np.radians(np.asarray(orientations[name], dtype=float))
        for angle in angles:
            ax.plot([angle, angle], [0, 1], color="tab:purple", lw=2)
        ax.set_yticks([])
        ax.set_xticks(np.radians([0, 90, 180, 270]))
        ax.set_title(f"{name}\n{len(angles)} units", fontsize=8)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def training_history_figure(history: Mapping[str, Sequence[float]], title: str = "") -> Figure:
    """Loss per step (left) and train/test accuracy per epoch (right)."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3))
    left.plot(history["step_loss"], lw=0.8, color="tab:blue")
    left.set_xlabel("step")
    left.set_ylabel("training loss")
    epochs = np.arange(1, len(history["test_accuracy"]) + 1)
    right.plot(epochs, history["train_accuracy"], "o-", label="train")
    right.plot(epochs, history["test_accuracy"], "o-", label="held out")
    right.set_xlabel("epoch")
    right.set_ylabel("accuracy")
    right.set_ylim(0, 1)
    right.legend(fontsize=8)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig
