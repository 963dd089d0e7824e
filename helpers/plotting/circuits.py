"""Figures for lesson 03 (curve circuits): red/blue weight grids, the hand-built detector, match plots."""
from __future__ import annotations

from typing import Sequence

import numpy as np
import torch
from matplotlib import pyplot as plt
from matplotlib.figure import Figure

from ..cleanroom import CurveDetectorSettings, Match, curve_kernel
from ..weights import Connections, CurveWiring, FamilyClients, WeightView
from ..weights.nmf import MemberFactors, WeightFactors
from . import draw_weight_heatmap


def weight_grids_figure(
    grids: Sequence[torch.Tensor] | torch.Tensor,
    titles: Sequence[str] | None = None,
    *,
    ncols: int = 8,
    size: float = 1.3,
    vmax: float | None = None,
    suptitle: str | None = None,
) -> Figure:
    """k x k weight grids side by side on one colour scale: red excites, blue inhibits, white is zero."""
    grids = [g.detach().cpu() if isinstance(g, torch.Tensor) else torch.as_tensor(g) for g in grids]
    if not grids:
        raise ValueError("No weight grids to draw.")
    vmax = vmax or max(float(g.abs().max()) for g in grids) or 1.0
    ncols = min(ncols, len(grids))
    nrows = -(-len(grids) // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(size * ncols, size * nrows + (0.5 if suptitle else 0.1)), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for i, grid in enumerate(grids):
        draw_weight_heatmap(axes.flat[i], grid, titles[i] if titles is not None and i < len(titles) else None, vmax=vmax)
        axes.flat[i].axis("on")
    if suptitle:
        fig.suptitle(suptitle, fontsize=10)
    fig.tight_layout()
    return fig


def connections_figure(connections: Connections, labels: dict[int, str] | None = None, size: float = 1.3) -> Figure:
    """A unit's strongest excitatory inputs (top row) and inhibitory inputs (bottom row), one colour scale."""
    rows = [("excites", connections.excitatory), ("inhibits", connections.inhibitory)]
    ncols = max(1, max(len(r[1]) for r in rows))
    vmax = max([float(c.weights.abs().max()) for _, r in rows for c in r] + [1e-12])
    fig, axes = plt.subplots(2, ncols, figsize=(size * ncols, 2 * size + 0.8), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for r, (verb, items) in enumerate(rows):
        for i, item in enumerate(items):
            note = f"\n{labels[item.unit.channel]}" if labels and item.unit.channel in labels else ""
            draw_weight_heatmap(axes[r, i], item.weights, f"{item.unit.channel} {verb}\nsum {item.strength:+.2f}{note}", vmax=vmax)
            axes[r, i].axis("on")
    fig.suptitle(f"Inputs from {connections.other_layer} to {connections.unit}", fontsize=10)
    fig.tight_layout()
    return fig


def weight_view_figure(view: WeightView) -> Figure:
    """The weight explorer's picture: the strongest inputs of one kind, each with its summed weight."""
    titles = [f"{c.unit.channel}\nsum {c.strength:+.2f}" for c in view.connections]
    return weight_grids_figure(
        [c.weights for c in view.connections], titles, vmax=view.vmax,
        suptitle=f"Strongest {view.kind} inputs from {view.from_layer} to {view.unit}",
    )


def factorization_figure(kernel: torch.Tensor, channel_weights: torch.Tensor, unit: str, count: int = 24) -> Figure:
    """An EfficientNet expanded weight as its two factors: one k x k spatial kernel and one weight per input unit."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(9, 2.6), gridspec_kw={"width_ratios": [1, 4]})
    draw_weight_heatmap(left, kernel, "spatial kernel (shared)")
    values = channel_weights.detach().cpu().numpy()
    order = np.argsort(-np.abs(values))[:count]
    right.bar(range(len(order)), values[order], color=["tab:red" if v > 0 else "tab:blue" for v in values[order]])
    right.set_xticks(range(len(order)), [str(i) for i in order], rotation=90, fontsize=7)
    right.set_ylabel("channel weight")
    right.set_title(f"{unit}: the {len(order)} input units with the largest channel weight", fontsize=9)
    fig.tight_layout()
    return fig


def cleanroom_kernel_figure(settings: CurveDetectorSettings, orientations: Sequence[float], size: float = 1.6) -> Figure:
    """The hand-built unit's weights at several orientations, summed over line directions (red excites, blue inhibits)."""
    maps = [curve_kernel(settings.rotated_to(o)).sum(0) for o in orientations]
    vmax = max(float(m.abs().max()) for m in maps) or 1.0
    fig, axes = plt.subplots(1, len(maps), figsize=(size * len(maps), size + 0.4), squeeze=False)
    for ax, grid, orientation in zip(axes[0], maps, orientations):
        draw_weight_heatmap(ax, grid, f"{orientation:.0f}°", vmax=vmax)
    fig.suptitle("Hand-set weights of the cleanroom curve unit (summed over line directions)", fontsize=9)
    fig.tight_layout()
    return fig


def cleanroom_direction_figure(settings: CurveDetectorSettings, size: float = 1.2) -> Figure:
    """One hand-built unit's weights from each line-detector direction: where each line orientation excites or inhibits."""
    kernel = curve_kernel(settings)
    directions = np.arange(kernel.shape[0]) * 180.0 / kernel.shape[0]
    return weight_grids_figure(
        list(kernel), [f"lines {d:.0f}°" for d in directions], ncols=min(12, len(directions)), size=size,
        suptitle=f"Cleanroom unit at {settings.orientation:.0f}°: weights from each line-detector direction",
    )


def match_figure(match: Match, labels: Sequence[str], title: str, count: int = 4) -> Figure:
    """Per-unit correlation bars, and scatter plots of real vs hand-built responses for a few units."""
    count = min(count, len(labels))
    fig, axes = plt.subplots(1, count + 1, figsize=(3.0 * (count + 1), 2.8), squeeze=False)
    bars = axes[0, 0]
    bars.bar(range(len(labels)), match.correlations, color=["tab:red" if r > 0 else "tab:blue" for r in match.correlations])
    bars.axhline(match.mean, color="black", lw=1, ls="--", label=f"mean r = {match.mean:.2f}")
    bars.set_xticks(range(len(labels)), labels, rotation=90, fontsize=6)
    bars.set_ylabel("correlation r")
    bars.legend(fontsize=7)
    picks = np.linspace(0, len(labels) - 1, count).round().astype(int)
    for ax, f in zip(axes[0, 1:], picks):
        ax.scatter(match.cleanroom[:, f], match.real[:, f], s=8, alpha=0.6)
        ax.set_xlabel("hand-built response", fontsize=8)
        ax.set_ylabel("real response", fontsize=8)
        ax.set_title(f"{labels[f]}: r = {match.correlations[f]:.2f}", fontsize=8)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def tuning_pair_figure(orientations: np.ndarray, real: np.ndarray, cleanroom: np.ndarray, labels: Sequence[str]) -> Figure:
    """Orientation tuning of real units (solid) beside their hand-built twins (dashed), each scaled to its peak."""
    count = len(labels)
    fig, axes = plt.subplots(1, count, figsize=(2.2 * count, 2.2), squeeze=False, sharey=True)
    for i, ax in enumerate(axes[0]):
        for values, style, name in ((real[:, i], "-", "real"), (cleanroom[:, i], "--", "hand-built")):
            peak = np.abs(values).max() or 1.0
            ax.plot(orientations, values / peak, style, label=name)
        ax.axhline(0, color="grey", lw=0.5)
        ax.set_xticks([0, 90, 180, 270])
        ax.set_title(labels[i], fontsize=8)
    axes[0, 0].set_ylabel("response / peak")
    axes[0, 0].legend(fontsize=7)
    fig.tight_layout()
    return fig


def weight_factors_figure(factors: Sequence[WeightFactors], names: Sequence[str], labels: Sequence[Sequence[str]],
                          size: float = 1.6) -> Figure:
    """One row per unit: each NMF factor's spatial map, titled with what its channel profile reads (``labels``)."""
    count = max(len(f.spatial) for f in factors)
    fig, axes = plt.subplots(len(factors), count, figsize=(size * count + 1.5, size * len(factors) + 0.3), squeeze=False)
    for row, (found, name, row_labels) in enumerate(zip(factors, names, labels)):
        for column in range(count):
            ax = axes[row, column]
            ax.axis("off")
            if column < len(found.spatial):
                ax.imshow(found.spatial[column].numpy(), cmap="Greens", vmin=0, vmax=1)
                ax.set_title(row_labels[column], fontsize=7)
        axes[row, 0].text(-0.6, 0.5, f"{name}\n{found.explained:.0%} explained", transform=axes[row, 0].transAxes,
                          fontsize=7, ha="right", va="center")
    fig.tight_layout()
    return fig


def client_usage_figure(found: FamilyClients) -> Figure:
    """Histogram of how much each unit of the next layer reads a family (argument 6), the top clients' cut marked."""
    fig, ax = plt.subplots(figsize=(6, 2))
    ax.hist(found.usage, bins=50, color="grey")
    ax.axvline(found.usage[found.clients[-1]], color="tab:red", ls="--", label="top clients")
    ax.set_xlabel("L2 norm of weights from the curve family")
    ax.set_ylabel("units")
    ax.legend()
    fig.tight_layout()
    return fig


def member_factors_figure(rows: Sequence[MemberFactors], size: float = 1.6) -> Figure:
    """:func:`weight_factors_figure` of :func:`helpers.weights.nmf.family_weight_factors`' rows."""
    return weight_factors_figure([r.factors for r in rows], [r.name for r in rows], [r.reads for r in rows], size=size)


def curve_wiring_figure(wiring: CurveWiring) -> Figure:
    """Bars: a family's mean weight from the curve units below (in units of each member's strongest input), by band of
    orientation difference; red excites, blue inhibits, each bar labelled with its number of pairs."""
    edges = wiring.band_edges
    centres, values = (edges[:-1] + edges[1:]) / 2, np.nan_to_num(wiring.profile)
    fig, ax = plt.subplots(figsize=(5, 2.4))
    bars = ax.bar(centres, values, width=wiring.bin_width * 0.85,
                  color=["tab:red" if v > 0 else "tab:blue" for v in values])
    ax.bar_label(bars, labels=[f"{n} pairs" for n in wiring.pairs], fontsize=7)
    ax.axhline(0, color="grey", lw=0.5)
    ax.set_xticks(edges)
    ax.set_xlabel("orientation difference, curve unit below vs member (°)")
    ax.set_ylabel("mean weight / strongest")
    ax.set_title(f"curve-to-curve weights from {wiring.from_layer}", fontsize=9)
    fig.tight_layout()
    return fig
