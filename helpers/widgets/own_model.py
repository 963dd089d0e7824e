"""Lesson 09's unit explorer: one unit of your trained network beside the same unit of its untrained twin, with their top images."""
from __future__ import annotations

from typing import Mapping, Sequence

import ipywidgets as widgets
import torch
from matplotlib import pyplot as plt
from matplotlib.figure import Figure

from . import Explorer


def top_examples(responses: torch.Tensor, unit: int, count: int) -> list[int]:
    """Indices of the ``count`` images on which ``unit`` responds most (responses: images x units)."""
    if not 0 <= int(unit) < responses.shape[1]:
        raise ValueError(f"unit must be between 0 and {responses.shape[1] - 1}, got {unit}.")
    return [int(i) for i in torch.argsort(torch.as_tensor(responses)[:, int(unit)], descending=True)[:count]]


def class_share(labels: torch.Tensor, indices: Sequence[int]) -> float:
    """The share of the chosen images that belong to their most common class (1: all of one class)."""
    if not len(indices):
        raise ValueError("class_share needs at least one image.")
    counts = torch.bincount(torch.as_tensor(labels)[list(indices)].cpu())
    return float(counts.max()) / len(indices)


def unit_examples_figure(images: torch.Tensor, labels: torch.Tensor, classes: Sequence[str],
                         responses: Mapping[str, torch.Tensor], unit: int, count: int = 8) -> Figure:
    """The explorer's pure function: per network, the unit's top images with their classes, and their class share."""
    figure, axes = plt.subplots(len(responses), count, figsize=(1.2 * count, 1.5 * len(responses)), squeeze=False)
    for row, (name, values) in enumerate(responses.items()):
        chosen = top_examples(values, unit, count)
        for ax, index in zip(axes[row], chosen):
            ax.imshow(images[index].permute(1, 2, 0).clamp(0, 1).cpu().numpy())
            ax.set_title(classes[int(labels[index])], fontsize=7)
            ax.set_xticks([])
            ax.set_yticks([])
        axes[row][0].set_ylabel(f"{name}\nshare {class_share(labels, chosen):.2f}", fontsize=8)
    figure.suptitle(f"unit {unit}: its top {count} images in each network", fontsize=9)
    figure.tight_layout()
    return figure


def unit_examples_explorer(images: torch.Tensor, labels: torch.Tensor, classes: Sequence[str],
                           responses: Mapping[str, torch.Tensor], count: int = 8) -> Explorer:
    """A slider over units (the same index in every network): each move shows each network's top images for that unit."""
    width = min(values.shape[1] for values in responses.values())
    controls = {"unit": widgets.IntSlider(value=0, min=0, max=width - 1, description="unit", continuous_update=False)}
    return Explorer(lambda unit: unit_examples_figure(images, labels, classes, responses, unit, count), controls,
                    title="one unit, trained and untrained: its strongest images")
