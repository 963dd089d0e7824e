"""Lesson 08's unit-pair explorer: pick a unit of model A, see its best-matching unit of model B and both their top images."""
from __future__ import annotations

from typing import Sequence

import ipywidgets as widgets
import torch
from matplotlib import pyplot as plt
from matplotlib.figure import Figure

from ..universality import match_units
from . import Explorer


def best_partner(responses_a: torch.Tensor, responses_b: torch.Tensor, unit: int) -> tuple[int, float]:
    """The unit of B whose responses correlate most with unit ``unit`` of A (responses: samples x units), and that correlation."""
    if not 0 <= int(unit) < responses_a.shape[1]:
        raise ValueError(f"unit must be between 0 and {responses_a.shape[1] - 1}, got {unit}.")
    found = match_units(responses_a[:, [int(unit)]], responses_b)
    return int(found.best[0]), float(found.best_correlation[0])


def top_images(responses: torch.Tensor, unit: int, cells: int, count: int) -> list[int]:
    """Indices of the ``count`` images on which ``unit`` responds most (its response averaged over an image's ``cells`` rows)."""
    per_image = torch.as_tensor(responses)[:, int(unit)].reshape(-1, cells).mean(1)
    return [int(i) for i in torch.argsort(per_image, descending=True)[:count]]


def unit_pair_figure(images: torch.Tensor, responses_a: torch.Tensor, responses_b: torch.Tensor, unit: int, cells: int,
                     names: Sequence[str], count: int = 5) -> Figure:
    """The explorer's pure function: A's unit and its best partner in B, each with its top images, and their correlation."""
    partner, correlation = best_partner(responses_a, responses_b, unit)
    figure, axes = plt.subplots(2, count, figsize=(1.6 * count, 3.6), squeeze=False)
    for row, (responses, name, channel) in enumerate(((responses_a, names[0], unit), (responses_b, names[1], partner))):
        for ax, index in zip(axes[row], top_images(responses, channel, cells, count)):
            ax.imshow(images[index].permute(1, 2, 0).clamp(0, 1).cpu().numpy())
            ax.set_xticks([])
            ax.set_yticks([])
        axes[row][0].set_ylabel(f"{name}\nunit {channel}", fontsize=8)
    figure.suptitle(f"{names[0]} unit {unit} and its best match in {names[1]}, unit {partner} (r = {correlation:.2f})", fontsize=9)
    figure.tight_layout()
    return figure


def unit_pair_explorer(images: torch.Tensor, responses_a: torch.Tensor, responses_b: torch.Tensor, cells: int,
                       names: Sequence[str], count: int = 5) -> Explorer:
    """A slider over model A's units; each move finds the unit's best match in model B and shows both units' top images."""
    controls = {"unit": widgets.IntSlider(value=0, min=0, max=responses_a.shape[1] - 1, description=f"{names[0]} unit",
                                          continuous_update=False)}
    return Explorer(lambda unit: unit_pair_figure(images, responses_a, responses_b, unit, cells, names, count), controls,
                    title=f"{names[0]} against {names[1]}: a unit and its best-matching twin")
