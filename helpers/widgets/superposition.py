"""Lesson 07's widgets (superposition and dictionaries): a sparsity slider over a precomputed sweep of toy models, and
an explorer of a sparse dictionary's features unit by unit."""
from __future__ import annotations

import ipywidgets as widgets
import torch
from matplotlib.figure import Figure

from ..dictionary import PeakCodes, SparseDictionary
from ..images import ImageSource
from ..plotting.superposition import image_rows_figure, sparsity_figure
from ..superposition import ToyModelSweep
from . import Explorer


def sparsity_explorer(sweep: ToyModelSweep, planar: ToyModelSweep | None = None, sparsity: float | None = None) -> Explorer:
    """A slider over the sweep's sparsities; each value shows WᵀW, feature norms and the 2-D model's geometry.

    Every model was trained beforehand (one batched run), so moving the slider only looks one up.
    """
    if planar is not None and not _same_sparsities(planar, sweep):
        raise ValueError("The 2-D sweep must be trained at the same sparsities as the main sweep.")
    options = [(f"{s:.3f}", round(float(s), 6)) for s in sweep.sparsities.tolist()]
    start = options[sweep.index_of(sparsity)][1] if sparsity is not None else options[0][1]
    controls = {"sparsity": widgets.SelectionSlider(options=options, value=start, description="sparsity S",
                                                    continuous_update=True)}
    return Explorer(lambda sparsity: sparsity_figure(sweep, sparsity, planar), controls,
                    title=f"Toy model: {sweep.n_features} features in {sweep.n_hidden} dimensions")


def _same_sparsities(first: ToyModelSweep, second: ToyModelSweep) -> bool:
    return first.sparsities.shape == second.sparsities.shape and bool(
        (first.sparsities - second.sparsities).abs().max() < 1e-6)


def dictionary_explorer(dictionary: SparseDictionary, vectors: torch.Tensor, units: PeakCodes, features: PeakCodes,
                        source: ImageSource, layer: str, unit: int = 0, per_row: int = 6) -> Explorer:
    """Pick a unit and a rank: see the unit's top images above those of the dictionary feature that
    contributes the rank-th most to it (contributions averaged over ``vectors``; top images from the
    per-image peaks of the units and of the features, :func:`helpers.dictionary.scan_peaks`)."""
    codes = dictionary.encode(vectors)
    unit_images, _ = units.top(per_row)
    feature_images, _ = features.top(per_row)

    def show(unit: int, rank: int) -> Figure:
        share = dictionary.contributions(vectors, unit, codes=codes)
        feature = int(share.argsort(descending=True)[rank - 1])
        rows = [_images(source, unit_images[unit]), _images(source, feature_images[feature])]
        figure = image_rows_figure(rows, [
            f"{layer}:{unit}: its top images",
            f"dictionary feature {feature}, contribution rank {rank}: "
            f"{float(share[feature] / share.clamp_min(0).sum().clamp_min(1e-12)):.0%} of the unit's rebuilt activity"],
            per_row=per_row)
        figure.unit, figure.feature = unit, feature
        return figure

    controls = {
        "unit": widgets.IntSlider(value=unit, min=0, max=dictionary.units - 1, description="unit", continuous_update=False),
        "rank": widgets.IntSlider(value=1, min=1, max=5, description="feature rank", continuous_update=False),
    }
    return Explorer(show, controls, title=f"Sparse dictionary of {layer}: {dictionary.features} features")


def _images(source: ImageSource, indices: torch.Tensor) -> torch.Tensor:
    """The images at ``indices`` (-1 marks a missing one); a blank tile when there are none."""
    found = indices[indices >= 0]
    return source.images(found) if len(found) else torch.ones(1, 3, 8, 8)
