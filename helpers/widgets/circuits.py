"""Lesson 03's widgets: a weight explorer, and sliders for the hand-built curve detector's settings."""
from __future__ import annotations

from dataclasses import replace
from typing import Sequence

import ipywidgets as widgets
import numpy as np
from matplotlib import pyplot as plt
from matplotlib.figure import Figure

from ..cleanroom import ComparisonSet, CurveDetectorSettings, Match, curve_kernel, match_family
from ..models import CircuitModel, Unit
from ..plotting import draw_weight_heatmap
from ..plotting.circuits import weight_view_figure
from ..weights import weight_view
from . import Explorer


def weight_explorer(model: CircuitModel, units: Sequence[str | Unit], count: int = 8, from_layer: str | None = None) -> Explorer:
    """Pick a unit, a number of inputs and excitatory/inhibitory; see those inputs' k x k expanded weights."""
    names = [str(model.unit(u)) for u in units]
    if not names:
        raise ValueError("Give at least one unit to explore, e.g. the members of a curve family.")
    controls = {
        "unit": widgets.Dropdown(options=names, value=names[0], description="unit"),
        "count": widgets.IntSlider(value=count, min=1, max=16, description="inputs", continuous_update=False),
        "kind": widgets.ToggleButtons(options=["excitatory", "inhibitory"], value="excitatory", description="show"),
    }
    return Explorer(
        lambda unit, count, kind: weight_view_figure(weight_view(model, unit, count, kind=kind, from_layer=from_layer)),
        controls,
        title=f"{model.name}: the strongest inputs of a unit, read off the expanded weights",
    )


def cleanroom_matches(comparisons: Sequence[ComparisonSet], base: CurveDetectorSettings, **changes: float) -> list[Match]:
    """The pure function behind the cleanroom sliders: each comparison set's match for ``base`` with ``changes``."""
    settings = replace(base, **changes)
    return [match_family(comparison, settings) for comparison in comparisons]


def cleanroom_figure(comparisons: Sequence[ComparisonSet], base: CurveDetectorSettings, **changes: float) -> Figure:
    """Per-unit correlations with the real family on each comparison set, and one hand-built unit's weights."""
    matches = cleanroom_matches(comparisons, base, **changes)
    settings = replace(base, **changes)

    fig, axes = plt.subplots(1, len(comparisons) + 1, figsize=(3.6 * len(comparisons) + 2.4, 2.8),
                             gridspec_kw={"width_ratios": [3] * len(comparisons) + [2]})
    for ax, comparison, match in zip(axes, comparisons, matches):
        colours = ["tab:red" if r > 0 else "tab:blue" for r in match.correlations]
        ax.bar(range(len(match.correlations)), match.correlations, color=colours)
        ax.axhline(match.mean, color="black", ls="--", lw=1)
        ax.set_ylim(-1, 1)
        ax.set_xticks([])
        ax.set_xlabel("real units, by preferred orientation", fontsize=8)
        ax.set_title(f"{comparison.name}: mean r = {match.mean:.2f}", fontsize=9)
    draw_weight_heatmap(axes[-1], curve_kernel(settings.rotated_to(90)).sum(0), "hand-built unit at 90°")
    fig.tight_layout()
    return fig


def cleanroom_explorer(comparisons: Sequence[ComparisonSet], base: CurveDetectorSettings) -> Explorer:
    """Sliders for the hand-set parameters; each release re-scores the hand-built family against the real one."""
    if not comparisons:
        raise ValueError("Give at least one ComparisonSet (e.g. screen_comparison(family)).")
    slider = lambda name, low, high, step: widgets.FloatSlider(  # noqa: E731
        value=float(np.clip(getattr(base, name), low, high)), min=low, max=high, step=step, description=name,
        continuous_update=False, style={"description_width": "initial"})
    controls = {
        "radius": slider("radius", 4.0, 80.0, 2.0),
        "tangent_spread": slider("tangent_spread", 5.0, 60.0, 5.0),
        "inhibition": slider("inhibition", 0.0, 2.0, 0.1),
        "cross_inhibition": slider("cross_inhibition", 0.0, 2.0, 0.1),
    }
    return Explorer(lambda **changes: cleanroom_figure(comparisons, base, **changes), controls,
                    title="Hand-built curve detectors vs the real family (correlation per unit)")
