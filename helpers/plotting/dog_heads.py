"""Figures for the dog-head lesson: mirror-test scores, union weights and cross-path weights."""
from __future__ import annotations

from typing import Sequence

import numpy as np
import torch
from matplotlib import pyplot as plt
from matplotlib.figure import Figure

from . import draw_weight_heatmap, images_figure

LABEL_COLOURS = {"left": "tab:blue", "right": "tab:red", "invariant": "tab:gray", "silent": "white"}


def mirror_scores_figure(groups: dict[str, "object"], threshold: float = 1 / 3) -> Figure:
    """Left scores of several mirror tests side by side (one panel per test, e.g. per layer), coloured by label."""
    fig, axes = plt.subplots(1, len(groups), figsize=(4 * len(groups), 3), squeeze=False, sharey=True)
    for ax, (title, test) in zip(axes[0], groups.items()):
        scores = test.left_score.numpy()
        colours = [LABEL_COLOURS[label] for label in test.labels]
        ax.bar(range(len(scores)), scores, color=colours, edgecolor="black", linewidth=0.5)
        ax.axhline(threshold, color="tab:blue", linestyle="--", linewidth=0.8)
        ax.axhline(-threshold, color="tab:red", linestyle="--", linewidth=0.8)
        ax.set_xticks(range(len(scores)))
        ax.set_xticklabels([str(u.channel) for u in test.units], rotation=90, fontsize=7)
        ax.set_ylim(-1.05, 1.05)
        ax.set_title(title, fontsize=9)
    axes[0, 0].set_ylabel("left score  (+1 left only, -1 right only)")
    fig.tight_layout()
    return fig


def union_scatter_figure(left_net: np.ndarray, right_net: np.ndarray, highlight: Sequence[int] = (), title: str = "") -> Figure:
    """Net weight from the left-leaning units against net weight from the right-leaning ones, one dot per downstream unit."""
    fig, ax = plt.subplots(figsize=(4.2, 4))
    ax.scatter(left_net, right_net, s=8, color="tab:gray", alpha=0.6)
    for index in highlight:
        ax.scatter([left_net[index]], [right_net[index]], s=40, color="tab:purple")
        ax.annotate(str(index), (left_net[index], right_net[index]), fontsize=8)
    ax.axhline(0, color="black", linewidth=0.6)
    ax.axvline(0, color="black", linewidth=0.6)
    ax.set_xlabel("net weight from left-leaning units")
    ax.set_ylabel("net weight from right-leaning units")
    ax.set_title(title or "union candidates: top right quadrant", fontsize=9)
    fig.tight_layout()
    return fig


def union_weights_figure(summary: "object") -> Figure:
    """The target's kernels from the left units and from the right units (summed over each set), on one colour scale."""
    fig, axes = plt.subplots(1, 2, figsize=(4.4, 2.4))
    vmax = float(torch.maximum(summary.left_map.abs().max(), summary.right_map.abs().max())) or 1.0
    draw_weight_heatmap(axes[0], summary.left_map, f"from left units\nnet {summary.left_net:+.2f}", vmax=vmax)
    draw_weight_heatmap(axes[1], summary.right_map, f"from right units\nnet {summary.right_net:+.2f}", vmax=vmax)
    fig.suptitle(f"into {summary.target}", fontsize=9)
    fig.tight_layout()
    return fig


def inhibition_figure(inhibition: "object") -> Figure:
    """The real same-side and cross weights between mirrored pathways against those of shuffled pairings."""
    fig, ax = plt.subplots(figsize=(6, 2.6))
    for values, real, colour, name in ((inhibition.shuffled_same, inhibition.same, "tab:blue", "same side"),
                                       (inhibition.shuffled_cross, inhibition.cross, "tab:red", "cross")):
        ax.hist(values, bins=30, color=colour, alpha=0.4, label=f"{name}, shuffled pairings")
        ax.axvline(real, color=colour, linewidth=2, label=f"{name}, mirror pairs")
    ax.axvline(0, color="black", linewidth=0.5)
    ax.set_xlabel("mean net weight (units of the mean |net weight|)")
    ax.set_ylabel("pairings")
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def pair_pictures_figure(result: "object", count: int = 4) -> Figure:
    """The first ``count`` pairs of a :class:`~helpers.mirror.PairPictures`, one row of three per pair: A's picture,
    its mirror image (with B's response to it) and B's picture (with B's response to A's picture as given)."""
    panels, titles = [], []
    for (a, b), (on_mirror, on_image) in zip(result.pairs[:count], result.answers[::2].tolist()):
        panels += [result.pictures[a], result.pictures[a].flip(-1), result.pictures[b]]
        titles += [f"A = {a}", f"mirror(A's image)\nB answers {on_mirror:.2f}", f"B = {b}\n(A's image: {on_image:.2f})"]
    return images_figure(panels, titles, ncols=6, size=2.0, stretch=True)


def oriented_and_invariant_figure(test: "object", pictures: dict) -> Figure:
    """The most oriented and the most mirror-invariant unit of a :class:`~helpers.mirror.MirrorTest` of units on their
    own pictures (:func:`~helpers.mirror.own_image_test`), each with its picture, the mirror image, and its response
    to both (read from the test). Needs at least two units."""
    if len(test.units) < 2:
        raise ValueError(f"Need at least two units to compare, got {len(test.units)}.")
    order = torch.argsort(test.left_score.abs(), descending=True)
    panels, titles = [], []
    for row in (int(order[0]), int(order[-1])):
        unit = test.units[row]
        panels += [pictures[unit], pictures[unit].flip(-1)]
        titles += [f"{unit}\nas given: {float(test.on_left[row, 0]):.2f}", f"mirrored: {float(test.on_right[row, 0]):.2f}"]
    return images_figure(panels, titles, size=2.2, stretch=True)
