"""Figures for the curve-detector lesson: what the screen draws, family scores, tuning heat maps, radial plots, response
bars, the family reading the visualizations, a rotated example and the rotated examples' joint tuning."""
from __future__ import annotations

from typing import Sequence

import numpy as np
import torch
from matplotlib import pyplot as plt
from matplotlib.figure import Figure

from .. import rotation
from ..stimuli.curves import corner, line, stimulus_grid
from . import images_figure, to_numpy_image


def orientation_colours(orientations: Sequence[float]) -> np.ndarray:
    """One colour per orientation from a cyclic colour map (0 and 360 degrees get the same colour)."""
    return plt.get_cmap("hsv")((np.asarray(orientations, dtype=float) % 360) / 360)


def family_scores_figure(screen, family) -> Figure:
    """Every unit of the screened layer: curve selectivity against orientation selectivity, the family coloured."""
    fig, ax = plt.subplots(figsize=(5.5, 4.2))
    ax.scatter(screen.curve_selectivity, screen.orientation_selectivity, s=8, color="0.75", label="other units")
    members = family.channels
    ax.scatter(screen.curve_selectivity[members], screen.orientation_selectivity[members], s=36,
               color=orientation_colours(family.orientations), edgecolor="k", linewidth=0.5, label="curve family")
    for unit, x, y in zip(family.units, screen.curve_selectivity[members], screen.orientation_selectivity[members]):
        ax.annotate(str(unit.channel), (x, y), fontsize=6, xytext=(2, 2), textcoords="offset points")
    ax.set_xlabel("curve selectivity  (best curve - best line) / best curve")
    ax.set_ylabel("orientation selectivity")
    ax.set_xlim(-1.05, 1.05)
    ax.set_ylim(0, 1.05)
    ax.set_title(f"{screen.layer}: {len(family)} of {len(screen.score)} units form the curve family", fontsize=9)
    ax.legend(fontsize=7, loc="lower left")
    fig.tight_layout()
    return fig


def radial_tuning_figure(
    orientations: Sequence[float],
    responses: np.ndarray,
    labels: Sequence[str],
    preferred: Sequence[float],
    title: str = "",
    normalize: bool = True,
    mark_preferred: bool = False,
) -> Figure:
    """Tuning curves (O, U) drawn around a circle, one colour per unit by its preferred orientation.

    With ``normalize`` each unit is scaled to its own peak (negative responses drawn as zero), so
    the plot shows where each unit fires, not how strongly: a family tiles the circle. With
    ``mark_preferred`` a dashed spoke marks each unit's ``preferred`` orientation.
    """
    values = np.clip(np.asarray(responses, dtype=float), 0, None)
    if normalize:
        values = values / np.maximum(values.max(0, keepdims=True), 1e-12)
    angles = np.radians(np.append(orientations, np.asarray(orientations)[:1]))
    fig = plt.figure(figsize=(5, 5))
    ax = fig.add_subplot(projection="polar")
    for column, (label, colour) in enumerate(zip(labels, orientation_colours(preferred))):
        curve = np.append(values[:, column], values[:1, column])
        ax.plot(angles, curve, color=colour, linewidth=1.5, label=label)
        ax.fill(angles, curve, color=colour, alpha=0.08)
        if mark_preferred:
            spoke = np.radians(preferred[column])
            ax.plot([spoke, spoke], [0, 1.05 * max(curve.max(), 1e-12)], color=colour, linestyle="--", linewidth=0.8)
    ax.set_yticklabels([])
    ax.set_title(title, fontsize=9)
    if len(labels) <= 16:
        ax.legend(fontsize=6, loc="upper left", bbox_to_anchor=(1.02, 1.0))
    fig.tight_layout()
    return fig


def tuning_heatmaps_figure(
    responses: np.ndarray,
    orientations: Sequence[float],
    curvatures: Sequence[float],
    labels: Sequence[str],
    others: np.ndarray | None = None,
    ncols: int = 5,
) -> Figure:
    """One orientation x curvature heat map per unit (responses (O, R, U)), with its best line and corner beside it.

    ``others`` (U, 2) gives each unit's best line and best corner response, drawn as the title's
    numbers for comparison with the map's maximum.
    """
    values = np.asarray(responses, dtype=float)
    count = values.shape[2]
    ncols = min(ncols, count)
    nrows = -(-count // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(2.3 * ncols, 2.4 * nrows), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for index in range(count):
        ax = axes.flat[index]
        ax.axis("on")
        limit = max(abs(values[:, :, index]).max(), 1e-12)
        ax.imshow(values[:, :, index].T, aspect="auto", origin="lower", cmap="RdBu_r", vmin=-limit, vmax=limit,
                  extent=(orientations[0], orientations[-1] + (orientations[1] - orientations[0]), 0, len(curvatures)))
        ax.set_yticks(np.arange(len(curvatures)) + 0.5)
        ax.set_yticklabels([f"{c:.2f}" for c in curvatures], fontsize=6)
        ax.set_xticks([0, 90, 180, 270, 360])
        ax.tick_params(labelsize=6)
        title = f"{labels[index]}\ncurve max {values[:, :, index].max():.1f}"
        if others is not None:
            title += f" | line {others[index, 0]:.1f} corner {others[index, 1]:.1f}"
        ax.set_title(title, fontsize=6.5)
        if index % ncols == 0:
            ax.set_ylabel("curvature (1/px)", fontsize=7)
        if index // ncols == nrows - 1:
            ax.set_xlabel("orientation (deg)", fontsize=7)
    fig.tight_layout()
    return fig


def stimulus_and_bars_figure(image: torch.Tensor, values: Sequence[float], labels: Sequence[str],
                             preferred: Sequence[float], title: str = "") -> Figure:
    """A stimulus beside the family's responses to it, one bar per member coloured by its orientation."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(8.5, 3.2), gridspec_kw={"width_ratios": [1, 2.2]})
    left.imshow(to_numpy_image(image))
    left.axis("off")
    left.set_title(title, fontsize=8)
    positions = np.arange(len(values))
    right.bar(positions, values, color=orientation_colours(preferred), edgecolor="k", linewidth=0.4)
    right.axhline(0, color="k", linewidth=0.6)
    right.set_xticks(positions)
    right.set_xticklabels([f"{label}\n{angle:.0f}°" for label, angle in zip(labels, preferred)], fontsize=6)
    right.set_ylabel("response (minus blank)")
    fig.tight_layout()
    return fig


def examples_figure(
    top: Sequence[torch.Tensor],
    band: Sequence[torch.Tensor],
    histograms: Sequence[tuple[np.ndarray, np.ndarray]],
    labels: Sequence[str],
    band_limits: Sequence[tuple[float, float]],
) -> Figure:
    """Per unit (a row): its top patches, its moderate (band) patches, and its activation histogram."""
    rows = len(labels)
    per = max(max((len(t) for t in top), default=1), max((len(b) for b in band), default=1), 1)
    fig, axes = plt.subplots(rows, 2 * per + 1, figsize=(1.1 * (2 * per + 1) + 1.5, 1.25 * rows), squeeze=False,
                             gridspec_kw={"width_ratios": [1] * (2 * per) + [2.2]})
    for row in range(rows):
        for column in range(2 * per):
            axes[row, column].axis("off")
        for column, patch in enumerate(top[row]):
            axes[row, column].imshow(to_numpy_image(patch))
        for column, patch in enumerate(band[row]):
            axes[row, per + column].imshow(to_numpy_image(patch))
        axes[row, 0].set_title(f"{labels[row]}: top", fontsize=6, loc="left")
        axes[row, per].set_title("moderate (band)", fontsize=6, loc="left")
        counts, edges = histograms[row]
        ax = axes[row, -1]
        ax.bar(edges[:-1], np.maximum(counts, 0.5), width=np.diff(edges), align="edge", color="0.5", log=True)
        low, high = band_limits[row]
        ax.axvspan(low, high, color="tab:orange", alpha=0.3)
        ax.tick_params(labelsize=5)
    axes[0, -1].set_title("activations (log count);\nband shaded", fontsize=6)
    fig.tight_layout(pad=0.3)
    return fig


def rotation_figure(rotated: torch.Tensor, angles: Sequence[float], responses: np.ndarray, labels: Sequence[str],
                    preferred: Sequence[float], title: str = "") -> Figure:
    """One example rotated in steps (top) and the family's responses at each step (bottom)."""
    count = len(angles)
    fig = plt.figure(figsize=(max(8, 0.75 * count), 4.2))
    grid = fig.add_gridspec(2, count, height_ratios=[1, 1.6])
    for column in range(count):
        ax = fig.add_subplot(grid[0, column])
        ax.imshow(to_numpy_image(rotated[column]))
        ax.set_title(f"{angles[column]:.0f}°", fontsize=7)
        ax.axis("off")
    ax = fig.add_subplot(grid[1, :])
    for column, (label, colour) in enumerate(zip(labels, orientation_colours(preferred))):
        ax.plot(angles, responses[:, column], color=colour, marker="o", markersize=3, label=label)
    ax.set_xlabel("rotation (degrees, counter-clockwise)")
    ax.set_ylabel("response")
    ax.legend(fontsize=6, ncol=min(len(labels), 6), loc="upper right")
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return fig


def middle_half(patches: torch.Tensor) -> torch.Tensor:
    """The middle half (in height and width) of image patches (..., H, W): where a unit's attention concentrates."""
    side = patches.shape[-1]
    return patches[..., side // 4 : side - side // 4, side // 4 : side - side // 4]


def screen_gallery_figure(screen, family) -> Figure:
    """A few of the screen's drawings in each of its polarities: curves at 0°, 90° and 270° (at the family's median best
    radius, or the screen's median radius without a family), a line and a corner."""
    placement = screen.placement
    radius = float(np.median(screen.best_radius[family.channels])) if len(family) else float(np.median(screen.radii))
    gallery, titles = [], []
    for polarity in screen.polarities:
        style = family.style(polarity)
        gallery += list(stimulus_grid("curve", {"orientation": [0, 90, 270]}, size=placement.size, radius=radius,
                                      center=placement.center, **style).images)
        gallery += [line(placement.size, angle=0, center=placement.center, **style),
                    corner(placement.size, orientation=90, angle=90, center=placement.center, **style)]
        titles += [f"{polarity}: curve 0°", "curve 90°", "curve 270°", "line 0°", "corner 90°"]
    return images_figure(gallery, titles=titles, ncols=5, size=1.6)


def visualization_responses_figure(responses: np.ndarray, owner: Sequence[int]) -> Figure:
    """Every member's response (columns) to every visualization (rows), z-scored per member; dots mark each
    visualization's own unit."""
    z = (responses - responses.mean(0)) / np.maximum(responses.std(0), 1e-12)
    fig, ax = plt.subplots(figsize=(8, 3.2))
    ax.imshow(z, aspect="auto", cmap="RdBu_r", vmin=-3, vmax=3)
    ax.set_xlabel("member (sorted by preferred orientation)")
    ax.set_ylabel("visualization of")
    ax.plot(list(owner), range(len(owner)), "k.", markersize=4)
    ax.set_title("each member's response to each visualization (z-scored per member; dots: the visualization's own unit)",
                 fontsize=9)
    fig.tight_layout()
    return fig


def rotated_example_figure(model, units, image: torch.Tensor, angles: Sequence[float], center: tuple[float, float],
                           labels: Sequence[str], preferred: Sequence[float], *, pre_activation: bool = False,
                           title: str = "") -> Figure:
    """One example (1, 3, H, W) rotated about ``center`` through ``angles`` (its middle half shown) and every unit's
    response at each step (:func:`helpers.rotation.rotation_tuning`)."""
    responses = rotation.rotation_tuning(model, units, image, angles, center, pre_activation=pre_activation)[0].numpy()
    strip = torch.cat([rotation.rotate_about(image, a, center) for a in angles])
    return rotation_figure(middle_half(strip), angles, responses, labels, preferred, title=title)


def joint_tuning_figure(joint: rotation.JointTuning, labels: Sequence[str], title: str = "") -> Figure:
    """The rotated examples' responses by stimulus orientation (:meth:`helpers.rotation.JointTuning.by_orientation`), each member's
    floor subtracted, around a circle, its synthetic preferred orientation dashed."""
    orientations, binned = joint.by_orientation()
    return radial_tuning_figure(orientations, binned - binned.min(0), labels, joint.preferred, title=title,
                                mark_preferred=True)


def family_examples_figure(examples, channels: Sequence[int], labels: Sequence[str], count: int) -> Figure:
    """:func:`examples_figure` of scanned dataset examples (:func:`helpers.dataset_examples.scan_layer`): per channel
    the middle half of its ``count`` top and band patches, and its activation histogram with the band shaded."""
    return examples_figure(
        top=[middle_half(examples.top_patches(c, count)) for c in channels],
        band=[middle_half(examples.band_patches(c, count)) for c in channels],
        histograms=[tuple(t.numpy() for t in examples.histogram(c)) for c in channels],
        labels=list(labels)[: len(channels)],
        band_limits=[examples.band_range(c) for c in channels],
    )


def family_heatmaps_figure(screen, members, labels: Sequence[str], ncols: int = 4) -> Figure:
    """:func:`tuning_heatmaps_figure` of a family's ``members`` (a family or a subset of one) from the screen that found
    them: each member's curve responses by orientation and curvature (1 / radius), its best line and corner beside it."""
    channels = members.channels
    others = np.stack([screen.line.max((0, 1))[channels], screen.corner.max((0, 1))[channels]], axis=1)
    return tuning_heatmaps_figure(screen.curve[:, :, channels], screen.orientations, 1.0 / screen.radii, labels, others,
                                  ncols=ncols)
