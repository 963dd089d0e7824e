"""The tour's activation-map explorer: pick a photograph and a unit, see where the unit fires."""
from __future__ import annotations

import ipywidgets as widgets
import torch
from matplotlib.figure import Figure

from ..activations import unit_activation
from ..models import CircuitModel
from ..plotting.tour import activation_map_figure
from . import Explorer


def unit_map_figure(model: CircuitModel, image: torch.Tensor, layer: str, channel: int) -> Figure:
    """Figure of one unit's activation map over one image (the explorer's pure function)."""
    unit = model.unit(layer, channel)
    activation = unit_activation(model, image[None], unit, at="map")[0]
    return activation_map_figure(image, activation, f"{unit} max {float(activation.max()):.2f}")


def activation_explorer(model: CircuitModel, layer: str, photos: dict[str, torch.Tensor], channel: int = 0) -> Explorer:
    """A photo dropdown and a unit slider over ``layer``, redrawing the unit's activation map."""
    controls = {
        "photo": widgets.Dropdown(options=list(photos), description="photo"),
        "channel": widgets.IntSlider(value=channel, min=0, max=model.channels(layer) - 1, description="unit",
                                     continuous_update=False),
    }
    return Explorer(
        lambda photo, channel: unit_map_figure(model, photos[photo], layer, channel),
        controls,
        title=f"{model.name} layer {layer}",
    )
