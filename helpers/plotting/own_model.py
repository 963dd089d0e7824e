"""Figures of lesson 09 (your own model and data set): your network beside its untrained twin, class by class and unit
by unit, weight banding in its last layer and in the active model, and where the articles' families sit among
InceptionV1's branches."""
from __future__ import annotations

from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import torch
from matplotlib import pyplot as plt
from matplotlib.figure import Figure

from ..branches import BranchCensus
from ..models import CircuitModel
from ..dataset_examples import DatasetExamples
from ..families import Family
from ..shapes_dataset import ShapesDataset
from ..training import TrainingResult
from ..training.evaluation import ClassAccuracy
from ..weights import banding
from .curves import radial_tuning_figure
from .features import units_with_examples_figure
from .universality import training_history_figure


def class_accuracy_figure(accuracy: Mapping[str, np.ndarray | ClassAccuracy], classes: Sequence[str], chance: float) -> Figure:
    """Accuracy per class on fresh shapes, side-by-side bars for each network (with each class's confidence interval
    when given a :class:`ClassAccuracy`), with chance as a dotted line."""
    fig, ax = plt.subplots(figsize=(8, 2.8))
    positions = np.arange(len(classes))
    offsets = np.linspace(-0.2, 0.2, len(accuracy)) if len(accuracy) > 1 else [0.0]
    width = 0.8 / max(len(accuracy), 1)
    for offset, (name, values) in zip(offsets, accuracy.items()):
        if isinstance(values, ClassAccuracy):
            errors = np.clip(np.stack([values.values - values.low, values.high - values.values]), 0, None)  # rounding at 0 and 1
            ax.bar(positions + offset, values.values, width, yerr=errors, capsize=2, label=name)
        else:
            ax.bar(positions + offset, values, width, label=name)
    ax.axhline(chance, color="black", linestyle=":", label="chance")
    ax.set_xticks(positions, classes)
    ax.set_ylabel("accuracy on fresh shapes")
    ax.set_ylim(0, 1)
    ax.legend(fontsize=8, loc="upper right")
    return fig


def training_figure(result: TrainingResult) -> Figure | None:
    """The loss per step and the accuracy per epoch of a training run, titled with its held-out accuracy; None (and a
    line saying so) for a network that was never trained (the negative control)."""
    if not result.history["step_loss"]:
        print(f"{result.model.name} was never trained (the negative control): there is no training curve to show.")
        return None
    return training_history_figure(result.history, title=f"{result.model.name}: held-out accuracy {result.test_accuracy:.0%}")


def family_tuning_figure(family: Family, network: str) -> Figure | None:
    """A curve family's radial tuning curves (lesson 02's figure), or None for a family of fewer than two units."""
    if len(family) < 2:
        return None
    return radial_tuning_figure(family.screen.orientations, family.tuning(), [str(u) for u in family.units],
                                family.orientations, title=f"{network}: curve family in {family.layer}")


def examples_beside_figure(rendered: torch.Tensor, examples: DatasetExamples, layer: str, channels: Sequence[int],
                           title: str, count: int = 6) -> Figure:
    """One row per channel: its feature visualization (``rendered[i]`` for ``channels[i]``), then its ``count``
    strongest dataset patches with their activations."""
    return units_with_examples_figure(rendered[: len(channels)], [examples.top_patches(c, count) for c in channels],
                                      [f"{layer}:{c}" for c in channels], [examples.top_values(c, count) for c in channels],
                                      suptitle=title)


def purity_histogram_figure(purity: Mapping[str, np.ndarray], count: int, layer: str) -> Figure:
    """Histograms of the units' class purity (share of their top ``count`` images in one class), one per network."""
    fig, ax = plt.subplots(figsize=(6, 2.8))
    for name, values in purity.items():
        values = np.asarray(values, dtype=float)
        ax.hist(values[~np.isnan(values)], bins=np.linspace(0, 1, 21), alpha=0.6, label=name)
    ax.set_xlabel(f"share of a unit's top-{count} fresh images in one class")
    ax.set_ylabel(f"units of {layer}")
    ax.legend(fontsize=8)
    return fig


def recurrence_figure(recurrence: Mapping[str, Mapping[str, float]], layers: Sequence[str]) -> Figure:
    """The mean best-match correlation per layer, one line per pair of networks (or baseline)."""
    fig, ax = plt.subplots(figsize=(5, 3))
    for name, values in recurrence.items():
        ax.plot(list(layers), [values[layer] for layer in layers], "o-", label=name)
    ax.set_ylabel("mean best-match correlation")
    ax.set_ylim(0, 1)
    ax.legend(fontsize=8)
    return fig


def band_shares_figure(shares: Mapping[str, tuple[float, float]], chance: float, layer: str) -> Figure:
    """Horizontal and vertical band shares of a layer's kernel energy, per network, beside chance (dashed)."""
    fig, ax = plt.subplots(figsize=(6, 3))
    positions = np.arange(len(shares))
    ax.bar(positions - 0.2, [h for h, _ in shares.values()], 0.4, label="horizontal")
    ax.bar(positions + 0.2, [v for _, v in shares.values()], 0.4, label="vertical")
    ax.axhline(chance, color="grey", linestyle="--", label="chance")
    ax.set_xticks(positions, list(shares), rotation=15, fontsize=8)
    ax.set_ylabel(f"share of {layer}'s kernel energy")
    ax.legend(fontsize=8)
    return fig


def kernels_figure(kernels: Mapping[str, torch.Tensor]) -> Figure:
    """One row per name: its (count, height, width) spatial kernels, red positive, blue negative, each on its own scale."""
    count = max(len(row) for row in kernels.values())
    fig, axes = plt.subplots(len(kernels), count, figsize=(9 * count / 12, 0.9 * len(kernels)), squeeze=False)
    for row, (name, shown) in zip(axes, kernels.items()):
        for ax, kernel in zip(row, shown):
            kernel = kernel.detach().cpu().numpy()
            limit = float(np.abs(kernel).max()) or 1.0
            ax.imshow(kernel, cmap="RdBu_r", vmin=-limit, vmax=limit)
        for ax in row:
            ax.set_xticks([])
            ax.set_yticks([])
        row[0].set_ylabel(name, rotation=0, ha="right", fontsize=8)
    return fig


def strongest_kernels_figure(networks: Mapping[str, CircuitModel], count: int = 12) -> Figure:
    """One row per network: the ``count`` strongest centred kernels of its last spatial convolution (red +, blue -)."""
    return kernels_figure({name: banding.strongest_kernels(banding.last_spatial_convolution(net)[1].weight, count)
                           for name, net in networks.items()})


def band_profile_figure(profiles: Mapping[str, Sequence[tuple[str, float, float]]], model_name: str) -> Figure:
    """The horizontal minus vertical band share of every spatial convolution, first to last, one line per copy."""
    fig, ax = plt.subplots(figsize=(7, 2.8))
    for label, profile in profiles.items():
        ax.plot(range(len(profile)), [h - v for _, h, v in profile], "o-", label=label)
    ax.axhline(0, color="grey", linewidth=0.8)
    ax.set_xlabel(f"spatial convolutions of {model_name}, first to last")
    ax.set_ylabel("horizontal - vertical share")
    ax.legend(fontsize=8)
    return fig


def draw_branch_census(ax: plt.Axes, label: str, census: BranchCensus) -> None:
    """Draw one family's census: each branch's share of the layer's channels (grey) and of the family (blue)."""
    names = [c.branch.replace("pool_reduce", "pool") for c in census.counts]
    layer_width = sum(c.channels for c in census.counts)
    ax.bar(names, [c.channels / layer_width for c in census.counts], color="lightgrey", label="share of the channels")
    ax.bar(names, [census.share(c.branch) for c in census.counts], width=0.4, color="tab:blue", label="share of the family")
    ax.set_title(f"{label} ({census.size})", fontsize=8)
    ax.tick_params(labelsize=7)


def branch_censuses_figure(censuses: Mapping[str, BranchCensus], ncols: int = 4) -> Figure:
    """One panel per family: where its members sit among the layer's branches, beside each branch's share of channels."""
    nrows = max(1, -(-len(censuses) // ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(10, 2.3 * nrows), sharey=True, squeeze=False)
    for ax, (label, census) in zip(axes.flat, censuses.items()):
        draw_branch_census(ax, label, census)
    for ax in list(axes.flat)[len(censuses):]:
        ax.axis("off")
    axes.flat[0].legend(fontsize=7)
    fig.tight_layout()
    return fig


def save_class_folders(dataset: ShapesDataset, path: str | Path) -> Path:
    """Write every image of ``dataset`` as a PNG into ``path/<class name>/<index>.png``: a folder of images with one
    subfolder per class, as ``helpers.training.folder_data`` reads (lesson 09 makes one to show it offline)."""
    from . import save_image

    path = Path(path)
    for index in range(len(dataset)):
        save_image(dataset[index], path / dataset.classes[dataset.label(index)] / f"{index:03d}.png")
    return path
