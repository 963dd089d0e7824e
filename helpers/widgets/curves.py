"""The curve explorer: sliders for a curve's orientation, curvature and width, and the family's responses."""
from __future__ import annotations

import math

import ipywidgets as widgets
import numpy as np
import torch
from matplotlib.figure import Figure

from ..models import CircuitModel
from ..plotting.curves import stimulus_and_bars_figure
from ..stimuli.curves import curve
from ..families import CurveFamily
from . import Explorer


def family_curve_response(
    model: CircuitModel, family: CurveFamily, orientation: float, curvature: float, width: float, polarity: str | None = None
) -> tuple[torch.Tensor, np.ndarray]:
    """Draw one curve on the family's receptive field and return it with the members' responses (minus blank).

    ``curvature`` is 1 / radius in 1/pixels (0 draws a straight line); ``width`` is in pixels; the
    arc's length is the screen's; ``polarity`` ("dark" on light or "light" on dark, default the screen's
    first) picks the colours, and the blank image subtracted is drawn in the same polarity.
    """
    if curvature < 0:
        raise ValueError(f"curvature must be >= 0 (1 / radius in 1/pixels; 0 is a straight line), not {curvature}.")
    screen = family.screen
    polarity = polarity or screen.polarities[0]
    style = dict(family.style(polarity), width=float(width))
    radius = math.inf if curvature == 0 else 1.0 / curvature
    image = curve(screen.placement.size, orientation=orientation, radius=radius, center=screen.placement.center, **style)
    return image, family.responses(model, image[None], polarity=polarity)[0]


def curve_response_figure(model: CircuitModel, family: CurveFamily, orientation: float, curvature: float, width: float,
                          polarity: str | None = None) -> Figure:
    """The explorer's pure function: the stimulus and a bar per family member."""
    image, values = family_curve_response(model, family, orientation, curvature, width, polarity)
    title = f"orientation {orientation:.0f}°, curvature {curvature:.3f}/px, width {width:.1f} px"
    return stimulus_and_bars_figure(image, values, [str(u.channel) for u in family.units], family.orientations, title)


def curve_explorer(model: CircuitModel, family: CurveFamily) -> Explorer:
    """Sliders for orientation, curvature and width; each release redraws the curve and the family's bars."""
    if len(family) == 0:
        raise ValueError("The family is empty: loosen find_curve_family's thresholds before exploring it.")
    screen = family.screen
    best = float(screen.best_radius[family.channels].mean())
    largest = 1.0 / float(screen.radii.min())
    controls = {
        "orientation": widgets.FloatSlider(value=float(family.orientations[0]), min=0, max=345, step=15,
                                           description="orientation", continuous_update=False),
        "curvature": widgets.FloatSlider(value=round(1.0 / best, 3), min=0.0, max=round(1.5 * largest, 3), step=0.005,
                                         description="curvature", readout_format=".3f", continuous_update=False),
        "width": widgets.FloatSlider(value=round(float(screen.style["width"]), 1), min=0.5, max=12.0, step=0.5,
                                     description="width (px)", continuous_update=False),
        "polarity": widgets.Dropdown(options=list(screen.polarities), value=screen.polarities[0], description="contrast"),
    }
    return Explorer(
        lambda orientation, curvature, width, polarity: curve_response_figure(model, family, orientation, curvature, width, polarity),
        controls,
        title=f"{model.name} {family.layer}: the curve family's response to one curve",
    )
