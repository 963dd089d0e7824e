"""The high-low lesson's boundary explorer: turn the boundary, change the frequency ratio, watch a unit."""
from __future__ import annotations

import ipywidgets as widgets
import numpy as np
import torch
from matplotlib import pyplot as plt
from matplotlib.figure import Figure

from ..models import CircuitModel, Unit
from ..plotting import to_numpy_image
from ..stimuli.boundaries import frequency_boundary
from ..probing import place_on_receptive_field, unit_responses
from . import Explorer


def boundary_stimuli(model: CircuitModel, unit: str | Unit, orientation: float, ratio: float, contrast: float = 1.0,
                     high_frequency: float = 0.25, seeds: int = 2, size: int = 96) -> torch.Tensor:
    """(seeds, 3, S, S) boundaries through the centre of ``unit``'s receptive field."""
    unit = model.unit(unit)
    if ratio < 1:
        raise ValueError(f"ratio (high / low frequency) must be >= 1, not {ratio}.")
    center = place_on_receptive_field(model, unit.layer, size).center
    return torch.stack([
        frequency_boundary(size, orientation, high_frequency, high_frequency / ratio, contrast=contrast, center=center, seed=s)
        for s in range(seeds)
    ])


def boundary_figure(model: CircuitModel, unit: str | Unit, orientation: float, ratio: float, contrast: float = 1.0,
                    high_frequency: float = 0.25, size: int = 96) -> Figure:
    """The stimulus and the unit's response to it (the explorer's pure function); the response is in ``fig.response``."""
    images = boundary_stimuli(model, unit, orientation, ratio, contrast, high_frequency, 2, size)
    response = float(unit_responses(model, [model.unit(unit)], images).mean())
    fig, axes = plt.subplots(1, 2, figsize=(6, 2.8), gridspec_kw={"width_ratios": [1, 1.2]})
    axes[0].imshow(to_numpy_image(images[0]))
    axes[0].set_title(f"fine side at {orientation:.0f}°, ratio {ratio:g}", fontsize=9)
    axes[0].axis("off")
    axes[1].barh([str(model.unit(unit))], [response], color="tab:red")
    axes[1].set_xlim(0, max(6.0, response * 1.1))
    axes[1].set_xlabel("response (mean of 2 textures)")
    fig.tight_layout()
    fig.response = response  # the number the figure shows, for tests and for the reader
    return fig


def boundary_explorer(model: CircuitModel, unit: str | Unit, orientation: float = 0.0, ratio: float = 8.0) -> Explorer:
    """Sliders for orientation, frequency ratio (log scale) and contrast, redrawing ``unit``'s response."""
    unit = model.unit(unit)
    controls = {
        "orientation": widgets.IntSlider(value=int(orientation) % 360, min=0, max=345, step=15, description="fine side °",
                                         continuous_update=False),
        "ratio": widgets.SelectionSlider(options=[float(r) for r in 2.0 ** np.arange(0, 6)], value=float(ratio),
                                         description="ratio", continuous_update=False),
        "contrast": widgets.FloatSlider(value=1.0, min=0.0, max=1.0, step=0.1, description="contrast", continuous_update=False),
    }
    return Explorer(
        lambda orientation, ratio, contrast: boundary_figure(model, unit, orientation, ratio, contrast),
        controls,
        title=f"{unit}: a frequency boundary through the centre of its receptive field",
    )
