"""Lesson 03's widgets: moving a control recomputes the wrapped function's result."""
from __future__ import annotations

import numpy as np
import torch
from matplotlib.figure import Figure
from test_weights import tiny_network

from helpers.cleanroom import ComparisonSet, CurveDetectorSettings, cleanroom_responses
from helpers.stimuli.curves import curve
from helpers.weights import weight_view
from helpers.widgets.circuits import cleanroom_explorer, cleanroom_matches, weight_explorer

SIZE = 96


def test_weight_explorer_follows_its_controls() -> None:
    model = tiny_network()
    explorer = weight_explorer(model, ["c:0", "c:3"], count=2)
    assert isinstance(explorer.result, Figure) and explorer.calls == 1
    assert "c:0" in explorer.result.texts[0].get_text()
    explorer.controls["unit"].value = "c:3"
    explorer.controls["kind"].value = "inhibitory"
    assert explorer.calls == 3 and "c:3" in explorer.result.texts[0].get_text()
    view = weight_view(model, "c:3", 2, kind="inhibitory")
    drawn = [ax for ax in explorer.result.axes if ax.images]
    assert len(drawn) == len(view.connections)
    assert np.allclose(drawn[0].images[0].get_array(), view.connections[0].weights.numpy())


def test_cleanroom_sliders_rescore_the_match() -> None:
    base = CurveDetectorSettings(radius=14, arc_length=30, line_scale=1.5)
    images = torch.stack([curve(SIZE, orientation=o, radius=r, length=30, width=3) for o in range(0, 360, 45) for r in (10, 14, 20)])
    real = cleanroom_responses(images, [0.0, 180.0], base).numpy()  # a "real" family that is the hand-built one
    comparison = ComparisonSet("curves", images, real, np.array([0.0, 180.0]), (SIZE / 2, SIZE / 2), ("u0", "u1"))
    explorer = cleanroom_explorer([comparison], base)
    assert isinstance(explorer.result, Figure) and "mean r = 1.00" in explorer.result.axes[0].get_title()
    explorer.controls["inhibition"].value = 0.0
    explorer.controls["cross_inhibition"].value = 0.0
    assert explorer.calls == 3
    changed = cleanroom_matches([comparison], base, inhibition=0.0, cross_inhibition=0.0, radius=14.0, tangent_spread=15.0)[0]
    assert changed.mean < 0.99
    assert f"mean r = {changed.mean:.2f}" in explorer.result.axes[0].get_title()
