"""Figures for the high-low frequency lesson: stimuli, the layer screen, tuning curves and weights."""
from __future__ import annotations

from typing import Sequence

import numpy as np
import torch
from matplotlib import pyplot as plt
from matplotlib.figure import Figure

from ..families.high_low import HighLowFamily
from ..frequency import SideFactors, SideWeights
from ..models import CircuitModel, Unit
from ..stimuli.boundaries import band_limited_noise
from . import images_figure, to_numpy_image, draw_weight_heatmap
from .circuits import weight_factors_figure


def boundary_grid_figure(grid: torch.Tensor, orientations: Sequence[float], ratios: Sequence[float], size: float = 1.3) -> Figure:
    """A (O, R, 3, S, S) grid of boundaries: one row per orientation, one column per frequency ratio."""
    rows, cols = grid.shape[:2]
    fig, axes = plt.subplots(rows, cols, figsize=(size * cols + 0.8, size * rows + 0.4), squeeze=False)
    for i in range(rows):
        for j in range(cols):
            ax = axes[i, j]
            ax.imshow(to_numpy_image(grid[i, j]), interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            if i == 0:
                ax.set_title(f"ratio {ratios[j]:g}", fontsize=8)
            if j == 0:
                ax.set_ylabel(f"fine side {orientations[i]:g}°", fontsize=8)
    fig.tight_layout()
    return fig


def side_spectra_figure(image: torch.Tensor, boxes: dict[str, tuple[slice, slice]], fractions: dict[str, float]) -> Figure:
    """An image with two patches marked, and each patch's log power spectrum titled with its high-frequency share."""
    fig, axes = plt.subplots(1, 1 + len(boxes), figsize=(3.2 * (1 + len(boxes)), 3.2))
    axes[0].imshow(to_numpy_image(image))
    axes[0].set_title("stimulus")
    axes[0].axis("off")
    for ax, (name, (rows, cols)) in zip(axes[1:], boxes.items()):
        axes[0].add_patch(plt.Rectangle((cols.start, rows.start), cols.stop - cols.start, rows.stop - rows.start,
                                        fill=False, edgecolor="tab:red", linewidth=1.5))
        axes[0].text(cols.start + 1, rows.start + 5, name, color="tab:red", fontsize=9)
        patch = image.mean(0)[rows, cols].double()
        power = torch.fft.fftshift(torch.fft.fft2(patch - patch.mean()).abs() ** 2)
        ax.imshow(np.log10(power.numpy() + 1e-6), cmap="magma", extent=(-0.5, 0.5, -0.5, 0.5))
        ax.set_title(f"{name}: {fractions[name]:.0%} of power above 1/8 cycle/px", fontsize=8)
        ax.set_xlabel("cycles / pixel")
    fig.tight_layout()
    return fig


def layer_screen_figure(layers: Sequence[str], depths: Sequence[float], fractions: Sequence[float], counts: Sequence[int],
                      paper_depth: tuple[float, float] = (0.29, 0.33)) -> Figure:
    """Share of each layer's units that the screen calls high-low detectors, against depth in the network."""
    fig, ax = plt.subplots(figsize=(6, 3))
    ax.axvspan(*paper_depth, color="tab:orange", alpha=0.2, label="paper: 29-33% of depth")
    ax.bar(depths, fractions, width=0.03, color="tab:blue")
    for depth, fraction, count, name in zip(depths, fractions, counts, layers):
        ax.text(depth, fraction, f"{name}\n{count} units", ha="center", va="bottom", fontsize=7)
    ax.set_xlabel("depth (layer index / (layers - 1))")
    ax.set_ylabel("share of units in the family")
    ax.set_ylim(0, max(max(fractions) * 1.4, 0.05))
    ax.legend(fontsize=8, loc="upper left")
    fig.tight_layout()
    return fig


def screened_layers_figure(model: CircuitModel, families: dict[str, HighLowFamily]) -> Figure:
    """:func:`layer_screen_figure` of the families a screen found, one per layer, at each layer's depth in ``model``."""
    layers = list(families)
    return layer_screen_figure(layers, [model.depth_fraction(layer) for layer in layers],
                               [families[layer].fraction for layer in layers], [len(families[layer]) for layer in layers])


def found_parts_figure(parts: torch.Tensor, left: torch.Tensor, size: float = 1.6) -> Figure:
    """A made-up detector's true spatial parts (P, k, k) beside the NMF factors found for it: the columns of ``left``
    (k * k, P), each reshaped to the window and scaled to its own peak."""
    count, window = parts.shape[0], parts.shape[-1]
    found = torch.as_tensor(left).detach().cpu().T.reshape(count, window, window).float()
    found = found / found.amax(dim=(1, 2), keepdim=True).clamp(min=1e-9)
    titles = [f"true part {i + 1}" for i in range(count)] + [f"your factor {i + 1}" for i in range(count)]
    return images_figure([m.expand(3, window, window) for m in [*parts, *found]], titles=titles, size=size)


def family_tuning_figure(tuning: np.ndarray, orientations: Sequence[float], labels: Sequence[str], preferred: Sequence[float],
                       max_curves: int | None = None) -> Figure:
    """Members' tuning curves (O, F), each scaled to its peak, on a polar plot (the first ``max_curves``), and a histogram of all preferred orientations."""
    fig = plt.figure(figsize=(9, 4))
    polar = fig.add_subplot(1, 2, 1, projection="polar")
    angles = np.radians(np.append(orientations, orientations[0]))
    columns = range(tuning.shape[1]) if max_curves is None else np.argsort(-tuning.max(0), kind="stable")[:max_curves]
    colours = plt.cm.hsv(np.asarray(preferred) / 360.0)
    for column in columns:
        colour = colours[column]
        curve = np.clip(tuning[:, column], 0, None)
        curve = curve / max(curve.max(), 1e-12)
        polar.plot(angles, np.append(curve, curve[0]), color=colour, linewidth=1)
    polar.set_title(f"tuning curves of {len(columns)} members (each scaled to its peak)", fontsize=9)
    ax = fig.add_subplot(1, 2, 2)
    ax.hist(np.asarray(preferred) % 360, bins=np.arange(0, 361, 30), color="tab:blue", edgecolor="white")
    ax.set_xticks(range(0, 361, 90))
    ax.set_xlabel("preferred orientation of the fine side (degrees)")
    ax.set_ylabel("units")
    ax.set_title(f"{len(labels)} members", fontsize=9)
    fig.tight_layout()
    return fig


def ratio_curves_figure(ratios: Sequence[float], responses: np.ndarray, labels: Sequence[str]) -> Figure:
    """Response against frequency ratio (R, U), one line per unit, ratio on a log axis."""
    fig, ax = plt.subplots(figsize=(5.5, 3.2))
    for column, label in enumerate(labels):
        ax.plot(ratios, responses[:, column], marker="o", label=label)
    ax.set_xscale("log", base=2)
    ax.set_xticks(list(ratios))
    ax.set_xticklabels([f"{r:g}" for r in ratios])
    ax.set_xlabel("frequency ratio across the boundary (1 = same texture both sides)")
    ax.set_ylabel("response")
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    return fig


def blur_pairs_figure(preferred: np.ndarray, swapped: np.ndarray, labels: Sequence[str]) -> Figure:
    """Mean response to photographs sharp on each unit's fine side vs. with the sides swapped."""
    fig, ax = plt.subplots(figsize=(6, 3))
    x = np.arange(len(labels))
    ax.bar(x - 0.2, preferred.mean(1), width=0.4, label="sharp on the fine side")
    ax.bar(x + 0.2, swapped.mean(1), width=0.4, label="sides swapped")
    ax.set_xticks(x)
    ax.set_xticklabels(labels, rotation=45, ha="right", fontsize=7)
    ax.set_ylabel("mean response")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def side_maps_figure(maps: torch.Tensor, orientations: Sequence[float], labels: Sequence[str]) -> Figure:
    """Each detector's frequency-weighted input map (red: high-frequency inputs excite), with an arrow to its fine side."""
    count = len(labels)
    fig, axes = plt.subplots(1, count, figsize=(1.7 * count, 2.1), squeeze=False)
    vmax = float(maps.abs().max()) or 1.0
    for ax, grid, angle, label in zip(axes[0], maps, orientations, labels):
        draw_weight_heatmap(ax, grid, label, vmax=vmax)
        k = grid.shape[-1]
        centre = (k - 1) / 2
        dx, dy = 0.35 * k * np.cos(np.radians(angle)), -0.35 * k * np.sin(np.radians(angle))
        ax.annotate("", xy=(centre + dx, centre + dy), xytext=(centre, centre),
                    arrowprops={"arrowstyle": "->", "color": "black", "linewidth": 1.2})
    fig.tight_layout()
    return fig


def detectors_side_maps_figure(sides: SideWeights, units: Sequence[Unit]) -> Figure:
    """:func:`side_maps_figure` of some of the detectors of a :func:`helpers.frequency.side_weights` result (for
    example the family's strongest members), in the order given."""
    missing = [str(u) for u in units if u not in sides.units]
    if missing:
        raise ValueError(f"These units were not measured by side_weights: {missing}; pass units from sides.units.")
    shown = [sides.units.index(u) for u in units]
    return side_maps_figure(sides.frequency_maps[shown], sides.orientations[shown], [str(u) for u in units])


def side_factors_figure(factored: SideFactors, units: Sequence[Unit]) -> Figure:
    """The two NMF factors of each of ``units`` that :func:`helpers.frequency.side_factors` measured (others are
    skipped), each titled with its side (toward the fine side or away) and the frequencies its channel profile reads."""
    rows = [factored.units.index(u) for u in units if u in factored.units]
    labels = [[f"{'fine' if factored.position[i, j] > 0 else 'smooth'} side, reads {factored.reads[i, j]:+.2f}"
               for j in range(factored.position.shape[1])] for i in rows]
    return weight_factors_figure([factored.factors[i] for i in rows], [str(factored.units[i]) for i in rows], labels)


def noise_beside_figure(my_band_noise, size: int = 96) -> Figure | None:
    """The student's band-limited noise (lesson 04's exercise 8) beside the course's, at the lesson's fine and smooth
    frequencies (seeds 0 and 1), drawn as the stimuli draw them; prints a line and returns None until it is written."""
    settings = [(0.25, 0), (0.03, 1)]
    yours = [my_band_noise(size, frequency, seed=seed) for frequency, seed in settings]
    if any(texture is None for texture in yours):
        print("Write exercise 8 first: my_band_noise returns None.")
        return None
    course = [band_limited_noise(size, frequency, seed=seed) for frequency, seed in settings]
    grey = [(0.5 + torch.as_tensor(t).float() / 6).clamp(0, 1).expand(3, size, size) for t in [*yours, *course]]
    titles = [f"{who}: {frequency} cycle/px" for who in ("yours", "course") for frequency, _ in settings]
    return images_figure(grey, titles, ncols=4, size=2.2)
