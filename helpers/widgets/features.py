"""Lesson 01's unit explorer: pick a layer, a unit and a number of steps; see the unit's feature
visualization beside its top dataset examples and its activation histogram."""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Mapping

import ipywidgets as widgets
import torch
from matplotlib import pyplot as plt
from matplotlib.figure import Figure

from ..dataset_examples import DatasetExamples
from ..featurevis import neuron, render
from ..models import CircuitModel, Unit
from ..plotting.features import unit_view_figure
from . import Explorer, figure_as_png


@dataclass
class UnitView:
    """Everything the explorer shows about one unit, as numbers and images."""

    unit: Unit
    visualization: torch.Tensor  # (3, S, S) in [0, 1]
    value: float  # the neuron objective the visualization reached
    patches: torch.Tensor  # (k, 3, r, r) top dataset patches
    patch_values: torch.Tensor  # (k,) their per-image maximum activation
    counts: torch.Tensor  # histogram of the unit's activations over every position
    edges: torch.Tensor
    firing_fraction: float

    def figure(self) -> Figure:
        """Draw the view (visualization, top patches, histogram)."""
        title = f"{self.unit}: fires on {self.firing_fraction:.0%} of positions"
        return unit_view_figure(self.visualization, self.value, self.patches, self.patch_values, self.counts, self.edges, title)

    def _repr_png_(self) -> bytes:
        """The view as a picture, wherever it is shown: a cell's result or an explorer's output."""
        figure = self.figure()
        try:
            return figure_as_png(figure).data
        finally:
            plt.close(figure)

    def __repr__(self) -> str:  # the text beside the picture: not every tensor's values
        return f"UnitView({self.unit}, reached {self.value:.3g}, fires on {self.firing_fraction:.0%} of positions)"


def unit_view(model: CircuitModel, examples: DatasetExamples, channel: int, *, steps: int = 64, size: int = 96,
              count: int = 6, seed: int = 0) -> UnitView:
    """Render one unit's neuron visualization and collect its top ``count`` dataset patches (the explorer's pure function)."""
    unit = model.unit(examples.layer, channel)
    transforms = "standard" if size >= 64 else "light"  # the standard jitter is too strong for small images
    result = render(model, [neuron(unit)], steps=steps, size=size, transforms=transforms, seed=seed, progress=False)
    counts, edges = examples.histogram(channel)
    return UnitView(
        unit=unit,
        visualization=result.images[0],
        value=float(result.values[0]),
        patches=examples.top_patches(channel, count),
        patch_values=examples.top_values(channel, count),
        counts=counts,
        edges=edges,
        firing_fraction=float(examples.firing_fraction[channel]),
    )


def feature_explorer(model: CircuitModel, scans: Mapping[str, DatasetExamples], *, steps: int = 64, size: int = 96,
                     count: int = 6, seed: int = 0) -> Explorer:
    """A layer dropdown, a unit slider and a steps slider over the scanned layers, showing :func:`unit_view`."""
    if not scans:
        raise ValueError("Pass at least one scanned layer: scans = scan_layers(model, [...], source).")
    first = next(iter(scans))
    layer = widgets.Dropdown(options=list(scans), value=first, description="layer")
    unit = widgets.IntSlider(value=0, min=0, max=scans[first].channels - 1, description="unit", continuous_update=False)
    step_count = widgets.IntSlider(value=steps, min=16, max=max(512, steps), step=16, description="steps",
                                   continuous_update=False)

    def fit_slider(change: dict) -> None:
        unit.max = scans[change["new"]].channels - 1

    layer.observe(fit_slider, names="value")  # registered first, so the slider fits before the view redraws

    @lru_cache(maxsize=16)
    def show(layer: str, unit: int, steps: int) -> UnitView:
        return unit_view(model, scans[layer], min(unit, scans[layer].channels - 1), steps=steps, size=size, count=count, seed=seed)

    return Explorer(show, {"layer": layer, "unit": unit, "steps": step_count}, title=f"{model.name}: any unit, any layer")
