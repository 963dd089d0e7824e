"""The superposition lesson's sparsity slider: look up a precomputed sweep of toy models, redraw instantly."""
from __future__ import annotations

import ipywidgets as widgets

from ..plotting.superposition import sparsity_figure
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
