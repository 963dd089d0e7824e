"""Figures for lesson 01, "Features are the fundamental unit": visualizations beside dataset examples."""
from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
import torch
from matplotlib import pyplot as plt
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from . import images_figure, stretch_for_display, to_numpy_image


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


def naive_versus_regularized_figure(naive, regular_image: torch.Tensor, regular_value: float, regular_history: torch.Tensor,
                                    title: str = "") -> Figure:
    """Lesson 01's section 1: a naive pixel render (a ``RenderResult`` of one image) beside the regularized image of
    the same unit, with both objectives over the steps."""
    return optimization_comparison_figure(
        {f"naive pixels\nobjective {float(naive.values[0]):.1f}": naive.images[0],
         f"Fourier + transforms\nobjective {regular_value:.1f}": regular_image},
        {"naive pixels": naive.history[:, 0], "Fourier + transforms": regular_history}, title=title)


def scan_histogram_figure(examples, unit: int, label: str) -> Figure:
    """One unit's activation histogram from a layer's dataset examples (``DatasetExamples``), marked with the median
    and 90th percentile of the images' maxima and the top example's value."""
    counts, edges = examples.histogram(unit)
    median, high = examples.band_range(unit)
    return activation_histogram_figure(counts, edges, f"{label}: fires on {examples.firing_fraction[unit]:.0%} of positions",
                                       {"median image max": median, "90th percentile": high,
                                        "top example": float(examples.top_values(unit)[0])})


def _moved(result, rendered: Sequence[tuple[str, int]]) -> tuple[dict[str, dict[int, torch.Tensor]], list[str]]:
    """The render's images per layer and unit whose image moved and whose objective ended above its start, and the
    labels of the others."""
    visualization: dict[str, dict[int, torch.Tensor]] = {}
    stalled = []
    rose = result.values > result.history[0] + 1e-3  # the objective ended above where it started
    for (name, c), image, stuck, improved in zip(rendered, result.images, result.stalled, rose):
        if stuck or not improved:
            stalled.append(f"{name}:{c}")
        else:
            visualization.setdefault(name, {})[c] = image
    return visualization, stalled


def layer_overview_figures(result, rendered: Sequence[tuple[str, int]], layers: Mapping[str, str], scans: Mapping,
                           units_per_layer: int, top_shown: int) -> tuple[dict[str, dict[int, torch.Tensor]], dict[str, list[int]]]:
    """Lesson 01's section 2: per layer, up to ``units_per_layer`` units whose visualization moved away from its grey
    start, each beside its ``top_shown`` top dataset patches; the units the optimizer could not drive are listed.

    ``result`` is the render whose first images are ``rendered``'s (layer, unit) pairs in order, ``layers`` maps the
    paper's layer names to the model's and ``scans`` the model's layers to their dataset examples. Returns the moved
    visualizations (layer -> unit -> image) and the units shown per layer.
    """
    visualization, stalled = _moved(result, rendered)
    chosen = {name: list(visualization.get(name, {}))[:units_per_layer] for name in layers.values()}
    print("the optimizer could not drive (not shown):", ", ".join(stalled) or "none")
    for paper, name in layers.items():
        if not chosen[name]:
            print(f"{name}: no unit whose visualization moved; nothing to show.")
            continue
        units_with_examples_figure(
            torch.stack([visualization[name][c] for c in chosen[name]]),
            [scans[name].top_patches(c, top_shown) for c in chosen[name]],
            [f"{name}:{c}" for c in chosen[name]],
            [scans[name].top_values(c, top_shown) for c in chosen[name]],
            suptitle=f"{name} (the role of {paper})",
        )
    return visualization, chosen


def filters_figure(weights: torch.Tensor, title: str = "") -> Figure:
    """Convolution filters (N, 3, k, k) as pictures, each scaled to its own range, eight to a row."""
    low, high = weights.amin(dim=(1, 2, 3), keepdim=True), weights.amax(dim=(1, 2, 3), keepdim=True)
    return images_figure(list((weights - low) / (high - low).clamp_min(1e-12)), [f"filter {i}" for i in range(len(weights))],
                         ncols=8, size=1.0, suptitle=title)


def scrambled_pairs_figure(photographs: torch.Tensor, scrambled: torch.Tensor, pairs: int = 2) -> Figure:
    """The first ``pairs`` photographs, each beside its phase-scrambled twin."""
    images = [image for i in range(pairs) for image in (photographs[i], scrambled[i])]
    return images_figure(images, ["photograph", "phase-scrambled"] * pairs, ncols=2 * pairs, size=1.6)


def directions_figure(own: Mapping[int, torch.Tensor], pair: tuple[int, int], images: Sequence[torch.Tensor], layer: str,
                      size: int) -> Figure:
    """Lesson 01's section 3: two channels' own visualizations (grey for a channel without one) beside the images of
    their mix and of a random direction (contrast stretched)."""
    first, second = pair
    pictures = [own.get(c, torch.full((3, size, size), 0.5)) for c in pair]
    return images_figure([*pictures, *images], [f"channel {first}", f"channel {second}", f"{first} + {second}", "random direction"],
                         suptitle=f"directions in {layer}", stretch=True)
