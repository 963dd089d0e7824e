"""Figures for lessons 06 and 07: polysemantic units' examples and class votes, toy models' weights and geometry, dictionaries."""
from __future__ import annotations

from typing import Sequence

import numpy as np
import torch
from matplotlib import pyplot as plt
from matplotlib.figure import Figure

from ..class_votes import ClassSetCircuit
from ..dictionary import PeakCodes, SparseDictionary
from ..superposition import (
    STICKY_FRACTIONS,
    ToyModelSweep,
    dimensions_per_feature,
    feature_dimensionality,
    feature_norms,
    interference,
    represented_features,
)
from ..superposition_studies import CurveDirections
from . import to_numpy_image


def draw_gram(ax: plt.Axes, weights: torch.Tensor, title: str = "WᵀW") -> None:
    """Draw WᵀW (feature i's overlap with feature j): red positive, blue negative, white zero."""
    gram = (weights.T @ weights).numpy()
    ax.imshow(gram, cmap="RdBu_r", vmin=-1.2, vmax=1.2, interpolation="nearest")
    ax.set_title(title, fontsize=9)
    ax.set_xlabel("feature j")
    ax.set_ylabel("feature i")


def draw_feature_bars(ax: plt.Axes, weights: torch.Tensor) -> None:
    """Bars of ||W_i|| per feature, coloured from black (a dimension to itself) to yellow (in superposition)."""
    norms = feature_norms(weights).numpy()
    overlap = np.clip(interference(weights).numpy(), 0, 1)
    ax.barh(np.arange(len(norms)), norms, color=plt.cm.plasma(overlap * 0.9))
    ax.invert_yaxis()
    ax.set_xlim(0, max(1.3, float(norms.max()) * 1.05))
    ax.set_xlabel("||W_i||  (colour: superposition, black = none)")
    ax.set_ylabel("feature (most important on top)")


def draw_planar_features(ax: plt.Axes, weights: torch.Tensor, importance: torch.Tensor | None = None) -> None:
    """Arrows for the features of a model with 2 hidden dimensions (darker = more important)."""
    if weights.shape[0] != 2:
        raise ValueError(f"Only a model with 2 hidden dimensions can be drawn flat; this one has {weights.shape[0]}.")
    count = weights.shape[1]
    shades = plt.cm.viridis(np.linspace(0, 0.85, count)) if importance is None else plt.cm.viridis(
        0.85 * (1 - importance.numpy() / float(importance.max())))
    for i in range(count):
        x, y = weights[:, i].tolist()
        ax.annotate("", xy=(x, y), xytext=(0, 0), arrowprops=dict(arrowstyle="->", color=shades[i], lw=2))
        ax.text(x * 1.12, y * 1.12, str(i), ha="center", va="center", fontsize=8, color=shades[i])
    ax.add_patch(plt.Circle((0, 0), 1, fill=False, ls=":", color="grey"))
    ax.set_xlim(-1.5, 1.5)
    ax.set_ylim(-1.5, 1.5)
    ax.set_aspect("equal")
    ax.set_xticks([])
    ax.set_yticks([])


def sparsity_figure(sweep: ToyModelSweep, sparsity: float, planar: ToyModelSweep | None = None) -> Figure:
    """One sparsity of a sweep: WᵀW, the feature norms coloured by superposition, and (optionally) a 2-D model's geometry.

    The figure carries what it shows as attributes: ``sparsity``, ``represented`` (features with
    ||W_i|| > 0.5), ``dims_per_feature`` and, with ``planar``, ``planar_represented``.
    """
    index = sweep.index_of(sparsity)
    weights = sweep.weights[index]
    panels = 3 if planar is not None else 2
    fig, axes = plt.subplots(1, panels, figsize=(4.2 * panels, 3.8))
    draw_gram(axes[0], weights)
    draw_feature_bars(axes[1], weights)
    fig.sparsity = float(sweep.sparsities[index])
    fig.represented = int(represented_features(weights))
    fig.dims_per_feature = float(dimensions_per_feature(weights))
    axes[1].set_title(f"{fig.represented} of {sweep.n_features} features kept in {sweep.n_hidden} dimensions", fontsize=9)
    if planar is not None:
        flat = planar.weights[planar.index_of(sparsity)]
        draw_planar_features(axes[2], flat, planar.importance)
        fig.planar_represented = int(represented_features(flat))
        axes[2].set_title(f"{planar.n_features} features in 2-D: {fig.planar_represented} kept", fontsize=9)
    fig.suptitle(f"sparsity S = {fig.sparsity:.3f} (each feature present {1 - fig.sparsity:.1%} of the time)")
    fig.tight_layout()
    return fig


def phase_change_figure(sweep: ToyModelSweep) -> Figure:
    """Features kept and dimensions per feature against sparsity: the move from 'm features' to superposition."""
    density = (1 - sweep.sparsities).numpy()
    kept = represented_features(sweep.weights).numpy()
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.4))
    axes[0].plot(1 / density, kept, "o-")
    axes[0].axhline(sweep.n_hidden, color="grey", ls="--", label=f"m = {sweep.n_hidden} dimensions")
    axes[0].set_ylabel("features kept (||W_i|| > 0.5)")
    axes[0].legend()
    axes[1].plot(1 / density, dimensions_per_feature(sweep.weights).numpy(), "o-")
    axes[1].set_ylabel("dimensions per feature  m / ||W||²_F")
    for ax in axes:
        ax.set_xscale("log")
        ax.set_xlabel("1 / (1 - S)   (sparser to the right)")
    fig.tight_layout()
    return fig


def planar_geometry_figure(sweep: ToyModelSweep, sparsities: Sequence[float]) -> Figure:
    """The features of a 2-D toy model drawn as arrows, one panel per sparsity."""
    fig, axes = plt.subplots(1, len(sparsities), figsize=(2.6 * len(sparsities), 2.9), squeeze=False)
    for ax, sparsity in zip(axes[0], sparsities):
        index = sweep.index_of(sparsity)
        draw_planar_features(ax, sweep.weights[index], sweep.importance)
        ax.set_title(f"S = {float(sweep.sparsities[index]):.2f}", fontsize=9)
    fig.tight_layout()
    return fig


def dimensionality_figure(sweep: ToyModelSweep, threshold: float = 0.5) -> Figure:
    """Each represented feature's dimensionality D_i against sparsity, with the paper's sticky fractions as lines."""
    fig, ax = plt.subplots(figsize=(7.5, 4))
    generator = np.random.default_rng(0)  # horizontal jitter only, so overlapping dots stay visible
    for index, sparsity in enumerate(sweep.sparsities.tolist()):
        weights = sweep.weights[index]
        kept = feature_norms(weights) > threshold
        values = feature_dimensionality(weights)[kept].numpy()
        x = np.full(len(values), 1 / (1 - sparsity)) * np.exp(generator.normal(0, 0.03, len(values)))
        ax.scatter(x, values, s=6, alpha=0.5, color="k")
        ax.plot([1 / (1 - sparsity)], [float(dimensions_per_feature(weights))], "r_", ms=14, mew=2)
    for name, value in STICKY_FRACTIONS.items():
        ax.axhline(value, color="tab:blue", lw=0.6, ls=":")
        ax.text(1.0, value + 0.01, f"{name} {value:.3g}", fontsize=7, color="tab:blue")
    ax.set_xscale("log")
    ax.set_xlabel("1 / (1 - S)")
    ax.set_ylabel("feature dimensionality D_i")
    ax.set_ylim(0, 1.1)
    ax.set_title("dots: D_i of each kept feature; red: m / ||W||²_F; lines: the paper's sticky fractions", fontsize=9)
    fig.tight_layout()
    return fig


def facet_score_figure(scores: torch.Tensor, marked: dict[str, float] | None = None) -> Figure:
    """A histogram of a layer's facet scores with a few units marked."""
    fig, ax = plt.subplots(figsize=(7, 2.8))
    finite = scores[torch.isfinite(scores)].numpy()
    ax.hist(finite, bins=40, color="grey")
    for i, (name, value) in enumerate((marked or {}).items()):
        ax.axvline(value, color=plt.cm.tab10(i), label=name)
    if marked:
        ax.legend(fontsize=8)
    ax.set_xlabel("facet score: mean cosine distance between top examples (penultimate features)")
    ax.set_ylabel("units")
    fig.tight_layout()
    return fig


def image_rows_figure(rows: Sequence[torch.Tensor], row_titles: Sequence[str], title: str = "", per_row: int = 6) -> Figure:
    """Rows of images (each a (k, 3, H, W) stack, first ``per_row`` shown), each row with its own title.

    Fixed spacing rather than ``tight_layout``: a row title wider than its first image must not shrink the images."""
    height = 1.55 * len(rows) + (0.5 if title else 0.25)
    fig, axes = plt.subplots(len(rows), per_row, figsize=(1.4 * per_row, height), squeeze=False,
                             gridspec_kw={"hspace": 0.3, "wspace": 0.06})
    fig.subplots_adjust(left=0.01, right=0.99, bottom=0.01, top=1 - (0.55 if title else 0.3) / height)
    for axes_row, images, row_title in zip(axes, rows, row_titles):
        for ax in axes_row:
            ax.axis("off")
        for ax, image in zip(axes_row, images):
            ax.imshow(to_numpy_image(image))
        axes_row[0].set_title(row_title, fontsize=8, loc="left")
    if title:
        fig.suptitle(title, fontsize=10)
    return fig


def clustered_examples_figure(patches: torch.Tensor, labels: torch.Tensor, title: str = "", per_row: int = 6) -> Figure:
    """A unit's top examples, one row per cluster (row titles give the cluster sizes)."""
    clusters = labels.unique().tolist()
    members = [patches[labels == cluster] for cluster in clusters]
    return image_rows_figure(members, [f"cluster {c}: {len(m)} examples" for c, m in zip(clusters, members)],
                             title, per_row)


def recovery_figure(recovered: torch.Tensor, baselines: dict[str, torch.Tensor]) -> Figure:
    """For each known feature direction, the best cosine similarity a sparse dictionary reached (green)
    next to what other sets of directions reach (grey shades), features sorted by the dictionary's score."""
    fig, ax = plt.subplots(figsize=(9, 2.8))
    order = recovered.argsort(descending=True)
    positions = np.arange(len(recovered))
    width = 0.8 / (1 + len(baselines))
    ax.bar(positions, recovered[order].numpy(), width=width, color="tab:green", label="sparse dictionary")
    for i, (name, values) in enumerate(baselines.items(), start=1):
        ax.bar(positions + i * width, values[order].numpy(), width=width, color=plt.cm.Greys(0.25 + 0.25 * i), label=name)
    ax.set_xlabel("known feature direction (sorted)")
    ax.set_ylabel("best cosine similarity")
    ax.set_ylim(min([0.0] + [float(v.min()) for v in baselines.values()]), 1.05)
    ax.legend(fontsize=8, loc="lower left")
    fig.tight_layout()
    return fig


def class_votes_figure(votes: Sequence[torch.Tensor], titles: Sequence[str], labels: Sequence[str], count: int = 6) -> Figure:
    """One panel per unit: the classes it votes for most (horizontal bars), to compare what units 'mean'."""
    fig, axes = plt.subplots(1, len(votes), figsize=(3.3 * len(votes), 0.35 * count + 1.0), squeeze=False)
    for ax, vote, title in zip(axes[0], votes, titles):
        best = vote.topk(count)
        ax.barh(np.arange(count), best.values.numpy(), color="tab:red")
        ax.set_yticks(np.arange(count))
        ax.set_yticklabels([labels[int(i)][:22] for i in best.indices], fontsize=7)
        ax.invert_yaxis()
        ax.set_title(title, fontsize=8)
        ax.tick_params(axis="x", labelsize=7)
    fig.tight_layout()
    return fig


def circuit_votes_figure(circuit: ClassSetCircuit, labels: Sequence[str], name: str = "set", count: int = 6) -> Figure:
    """:func:`class_votes_figure` of a :class:`helpers.class_votes.ClassSetCircuit`: the unit voting most for the set
    (called ``name``, "car"), then each unit of the next layer it excites most."""
    receivers = circuit.outputs.excitatory
    return class_votes_figure([circuit.votes[:, circuit.unit.channel]] + [circuit.next_votes[:, c.unit.channel] for c in receivers],
                              [f"{circuit.unit} ({name} unit)"] + [f"-> {c.unit}" for c in receivers], labels, count)


def orientation_coverage_figure(rings: dict[str, Sequence[float]], title: str = "") -> Figure:
    """Preferred orientations (degrees) on concentric rings, one ring per set (e.g. neurons, dictionary
    features, a control), so the gaps each set leaves around the circle can be compared at a glance."""
    fig = plt.figure(figsize=(4.6, 4.6))
    ax = fig.add_subplot(projection="polar")
    for i, (name, angles) in enumerate(rings.items()):
        values = np.radians(np.asarray(list(angles), dtype=np.float64))
        ax.scatter(values, np.full(len(values), 1.0 + i), s=22, color=plt.cm.tab10(i), label=f"{name} ({len(values)})")
    ax.set_ylim(0, len(rings) + 0.6)
    ax.set_yticks([])
    ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.05), ncol=1)
    if title:
        ax.set_title(title, fontsize=9)
    fig.tight_layout()
    return fig


def loadings_figure(directions: torch.Tensor, titles: Sequence[str], marked: Sequence[int] = (), count: int = 8) -> Figure:
    """One panel per direction: its ``count`` largest loadings on the layer's units (bars), units in ``marked``
    (e.g. the curve neurons) in colour, the others grey: how many units a feature is spread over."""
    directions = torch.as_tensor(directions, dtype=torch.float32)
    count = max(len(directions), 1)
    fig, axes = plt.subplots(1, count, figsize=(2.9 * count, 2.4), squeeze=False)
    marked = set(int(m) for m in marked)
    for ax, direction, title in zip(axes[0], directions, titles):
        order = direction.abs().argsort(descending=True)[:count]
        values = direction[order].numpy()
        colours = ["tab:orange" if int(u) in marked else "grey" for u in order]
        ax.bar(np.arange(len(order)), values, color=colours)
        ax.set_xticks(np.arange(len(order)))
        ax.set_xticklabels([str(int(u)) for u in order], fontsize=7, rotation=90)
        ax.set_title(title, fontsize=8)
        ax.tick_params(axis="y", labelsize=7)
    if not len(directions):
        axes[0][0].axis("off")
        axes[0][0].set_title("no direction to show", fontsize=8)
    fig.tight_layout()
    return fig


def unit_and_features_figure(source, unit_images: torch.Tensor, feature_images: torch.Tensor, unit,
                             features: Sequence[int], share: torch.Tensor) -> Figure:
    """A unit's own top images (first row), then one row per dictionary feature in ``features`` with its top images,
    titled with its share of the unit's rebuilt activity. ``unit_images`` and ``feature_images`` are top image indices
    per column (-1 where a column has no more active images, as ``PeakCodes.top`` gives them); ``source`` gives the
    images (``source.images(indices)``); ``share`` is each feature's contribution to the unit (``contributions``)."""
    def images_of(indices: torch.Tensor) -> torch.Tensor:
        found = indices[indices >= 0]  # a column never active has no top images
        return source.images(found) if len(found) else torch.ones(1, 3, 8, 8)

    rows, titles = [images_of(unit_images[unit.channel])], [f"{unit} itself: its top images"]
    for f in features:
        rows.append(images_of(feature_images[f]))
        titles.append(f"dictionary feature {int(f)}: {float(share[f] / share.clamp_min(0).sum().clamp_min(1e-12)):.0%} "
                      "of the unit's rebuilt activity" + ("" if bool((feature_images[f] >= 0).any()) else " (never active)"))
    return image_rows_figure(rows, titles)


def spread_loadings_figure(directions: torch.Tensor, found, counts: torch.Tensor, marked: Sequence[int] = (),
                           count: int = 4) -> Figure:
    """:func:`loadings_figure` of the ``count`` most spread of the curve-like directions ``found`` (a family whose
    ``channels`` are rows of ``directions``), ``counts`` being how many units hold half of each (``spread_over_units``);
    units in ``marked`` (the curve neurons) in colour."""
    most_spread = counts.argsort(descending=True, stable=True)[:count].tolist()
    shown = directions[[found.channels[i] for i in most_spread]]
    return loadings_figure(shown, [f"live feature {found.channels[i]} · {found.orientations[i]:.0f}° · "
                                   f"{int(counts[i])} units hold half" for i in most_spread], marked=marked)


def polysemantic_unit_figure(source, peaks: dict[str, PeakCodes], dictionary: SparseDictionary,
                             activations: torch.Tensor, unit, *, codes: torch.Tensor | None = None, features: int = 3,
                             per_row: int = 6) -> Figure:
    """:func:`unit_and_features_figure` of ``unit`` (a layer's unit) and the ``features`` dictionary features that
    contribute most to its rebuilt activity on ``activations`` (``dictionary.contributions``), ``per_row`` top images
    each from ``peaks`` (``peaks_of_maps`` with "units" and "features")."""
    share = dictionary.contributions(activations, unit.channel, codes=codes)
    unit_images, _ = peaks["units"].top(per_row)
    feature_images, _ = peaks["features"].top(per_row)
    return unit_and_features_figure(source, unit_images, feature_images, unit, share.topk(features).indices, share)


def curve_coverage_figure(curve: CurveDirections, title: str = "") -> Figure:
    """:func:`orientation_coverage_figure` of the curve neurons and of each set's curve-like directions."""
    return orientation_coverage_figure({"curve neurons": curve.neurons.orientations,
                                        **{f"{name}: curve-like": found.orientations
                                           for name, found in curve.curve_like.items()}}, title=title)


def curve_spread_figure(curve: CurveDirections, share: float = 0.5, count: int = 4) -> Figure | None:
    """:func:`spread_loadings_figure` of the ``count`` most spread curve-like dictionary directions of ``curve`` (the
    units holding ``share`` of each), curve neurons in colour; None, with a line saying so, when there are none."""
    found = curve.curve_like["dictionary"]
    if not len(found):
        print("The dictionary has no curve-like direction on this model: nothing to show.")
        return None
    return spread_loadings_figure(curve.direction_sets["dictionary"], found, curve.spread(share)["dictionary"],
                                  marked=set(curve.neurons.channels), count=count)
