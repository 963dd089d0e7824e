"""Figures for lesson 10 (interventions): damage against random ablations, tuning curves, attribution maps."""
from __future__ import annotations

from typing import TYPE_CHECKING, Sequence

import numpy as np
import torch
from matplotlib import pyplot as plt
from matplotlib.figure import Figure

from . import to_numpy_image

if TYPE_CHECKING:
    from ..dataset_examples import DatasetExamples
    from ..models import CircuitModel, Unit


def damage_figure(family: dict[str, float], random: dict[str, np.ndarray], title: str = "") -> Figure:
    """One panel per stimulus group: the random ablations' damage (histogram) and the family's (red line)."""
    groups = list(random)
    figure, axes = plt.subplots(1, len(groups), figsize=(3.2 * len(groups), 2.6), squeeze=False)
    for ax, group in zip(axes[0], groups):
        values = random[group][np.isfinite(random[group])]
        if len(values):
            ax.hist(values, bins=max(4, len(values) // 2), color="grey", label="random units")
        if np.isfinite(family.get(group, np.nan)):
            ax.axvline(family[group], color="tab:red", lw=2, label="curve family")
        ax.set_title(group)
        ax.set_xlabel("change of evoked response")
    axes[0][0].set_ylabel("ablations")
    axes[0][0].legend(fontsize=7)
    if title:
        figure.suptitle(title)
    figure.tight_layout()
    return figure


def prediction_change_figure(family: float, random: Sequence[float], label: str) -> Figure:
    """The family ablation's change of the network's predictions (red) against random ablations (grey)."""
    figure, ax = plt.subplots(figsize=(4.5, 2.4))
    values = np.asarray(random, dtype=float)
    if len(values):
        ax.hist(values, bins=max(4, len(values) // 2), color="grey", label="random units")
    if np.isfinite(family):
        ax.axvline(family, color="tab:red", lw=2, label="curve family")
    ax.set_xlabel(label)
    ax.set_ylabel("ablations")
    ax.legend(fontsize=7)
    figure.tight_layout()
    return figure


def message_figure(message: str) -> Figure:
    """A small figure that only says ``message``: what a figure shows when there is nothing to draw."""
    figure, ax = plt.subplots(figsize=(4, 1.5))
    ax.text(0.5, 0.5, message, ha="center", va="center")
    ax.axis("off")
    return figure


def tuning_figure(angles: np.ndarray, curves: dict[str, np.ndarray], labels: Sequence[str], title: str = "", ncols: int = 4) -> Figure:
    """Each unit's orientation tuning (rows of ``curves[name]``: (O, U)) under several conditions, one panel per unit."""
    count = len(labels)
    if count == 0:
        return message_figure("no units to show")
    rows = int(np.ceil(count / ncols))
    figure, axes = plt.subplots(rows, min(ncols, count), figsize=(2.6 * min(ncols, count), 2.1 * rows), squeeze=False)
    styles = {0: ("black", "-"), 1: ("tab:red", "-"), 2: ("tab:blue", "--"), 3: ("tab:green", ":")}
    for index, ax in enumerate(axes.flat):
        if index >= count:
            ax.axis("off")
            continue
        for k, (name, values) in enumerate(curves.items()):
            colour, line = styles[k % len(styles)]
            ax.plot(angles, values[:, index], color=colour, ls=line, label=name)
        ax.axhline(0, color="grey", lw=0.5)
        ax.set_title(labels[index], fontsize=8)
        ax.set_xticks([0, 90, 180, 270])
        ax.tick_params(labelsize=7)
    axes[0][0].legend(fontsize=6)
    axes[-1][0].set_xlabel("curve orientation (°)")
    if title:
        figure.suptitle(title, fontsize=10)
    figure.tight_layout()
    return figure


def bars_figure(values: dict[str, np.ndarray], labels: Sequence[str], ylabel: str, title: str = "") -> Figure:
    """Grouped bars: one group per label, one bar per condition."""
    figure, ax = plt.subplots(figsize=(max(4.0, 0.8 * len(labels) + 2), 2.6))
    width = 0.8 / max(1, len(values))
    x = np.arange(len(labels))
    for k, (name, heights) in enumerate(values.items()):
        ax.bar(x + k * width, heights, width, label=name)
    ax.set_xticks(x + width * (len(values) - 1) / 2)
    ax.set_xticklabels(labels, fontsize=7, rotation=30)
    ax.axhline(0, color="grey", lw=0.5)
    ax.set_ylabel(ylabel)
    ax.legend(fontsize=7)
    if title:
        ax.set_title(title, fontsize=9)
    figure.tight_layout()
    return figure


def attribution_figure(crops: Sequence[torch.Tensor], maps: Sequence[torch.Tensor], inputs: Sequence[Sequence[str]], title: str = "") -> Figure:
    """Per row: a dataset example (crop) and the activation x weight maps of its strongest inputs (red: carries the unit)."""
    rows = len(crops)
    if rows == 0:
        return message_figure("no examples to show")
    cols = 1 + max(len(m) for m in maps)
    figure, axes = plt.subplots(rows, cols, figsize=(1.6 * cols, 1.7 * rows), squeeze=False)
    for row in range(rows):
        axes[row][0].imshow(to_numpy_image(crops[row]))
        axes[row][0].axis("off")
        scale = max(max(float(torch.as_tensor(m).abs().max()) for m in maps[row]), 1e-9) if len(maps[row]) else 1.0
        for col in range(1, cols):
            ax = axes[row][col]
            ax.axis("off")
            if col - 1 < len(maps[row]):
                ax.imshow(torch.as_tensor(maps[row][col - 1]).numpy(), cmap="RdBu_r", vmin=-scale, vmax=scale)
                ax.set_title(inputs[row][col - 1], fontsize=7)
    if title:
        figure.suptitle(title, fontsize=10)
    figure.tight_layout()
    return figure


def member_attribution_figure(model: "CircuitModel", member: "Unit | None", scan: "DatasetExamples",
                              marked: Sequence[int] = (), *, images: int = 3, inputs: int = 4, radius: int = 3) -> Figure:
    """Lesson 10, section 7: ``member``'s top ``images`` dataset examples of ``scan`` (a scan of its layer) and, beside
    each, the activation x weight maps of its ``inputs`` strongest inputs there, cut to ``radius`` positions around the
    member's position; inputs in ``marked`` (the layer before's curve units) are named "(curve)". No member: a message."""
    from ..interventions.attribution import top_example_attributions

    crops, maps, names = [], [], []
    if member is not None:
        found = top_example_attributions(model, [member], scan, images)[0]
        patches = scan.top_patches(found.unit.channel, images)
        for n, (row, col) in enumerate(found.positions):
            top = found.strongest_inputs(n, inputs)
            window = slice(max(row - radius, 0), row + radius + 1), slice(max(col - radius, 0), col + radius + 1)
            crops.append(patches[n])
            maps.append([found.maps[n, i][window] for i in top])
            names.append([f"{i}{' (curve)' if i in marked else ''}" for i in top])
    return attribution_figure(crops, maps, names, f"attribution of {member if member is not None else 'no member'}")


def probe_tuning_figure(probe: "object", angles: np.ndarray, responses: dict[str, np.ndarray], group: str = "curves",
                        title: str = "") -> Figure:
    """:func:`tuning_figure` of a :class:`~helpers.interventions.ClientProbe`'s units: each condition's responses
    (N, U) to the probe's images, read as the evoked responses to one ``group`` (one stimulus per angle)."""
    evoked = {name: probe.evoked(values, group) for name, values in responses.items()}
    return tuning_figure(angles, evoked, [str(u) for u in probe.units], title=title)
