"""The unit explorer of lesson 01: setting a control's value recomputes the wrapped pure function."""
from __future__ import annotations

import pytest
import torch
from matplotlib import pyplot as plt
from matplotlib.figure import Figure
from torch import nn

from helpers.dataset_examples import scan_layers
from helpers.images import RandomCrops
from helpers.wrapping import wrap_model
from helpers.widgets.features import UnitView, feature_explorer, unit_view


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    torch.manual_seed(0)
    module = nn.Sequential(
        nn.Conv2d(3, 6, 3, padding=1), nn.ReLU(),
        nn.Conv2d(6, 10, 3, stride=2, padding=1), nn.ReLU(),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(10, 4),
    )
    model = wrap_model(module, {"conv1": "1", "conv2": "3"}, name="explorer_test", input_size=32)
    photos = {"noise": torch.rand(3, 64, 64, generator=torch.Generator().manual_seed(0))}
    source = RandomCrops(photos, count=24, size=32, seed=0, batch_size=8)
    scans = scan_layers(model, ["conv1", "conv2"], source, max_examples=4, max_band_examples=2, cache_dir=tmp_path_factory.mktemp("cache"),
                        progress=False)
    return model, scans


def test_unit_view_holds_the_visualization_and_the_top_patches(setup):
    model, scans = setup
    view = unit_view(model, scans["conv2"], 3, steps=4, size=32, count=3)
    assert view.unit.layer == "conv2" and view.unit.channel == 3
    assert view.visualization.shape == (3, 32, 32)
    assert 0 <= float(view.visualization.min()) and float(view.visualization.max()) <= 1
    torch.testing.assert_close(view.patch_values, scans["conv2"].top_values(3, 3))
    assert view.patches.shape[0] == 3
    assert int(view.counts.sum()) == scans["conv2"].num_positions
    fig = view.figure()
    assert isinstance(fig, Figure)
    plt.close(fig)


def test_controls_recompute_the_view(setup):
    model, scans = setup
    explorer = feature_explorer(model, scans, steps=16, size=32, count=3)
    assert all(not control.continuous_update for name, control in explorer.controls.items() if name != "layer")
    assert isinstance(explorer.result, UnitView) and explorer.result.unit.layer == "conv1" and explorer.calls == 1

    shown = explorer.output.outputs
    assert len(shown) == 1 and shown[0]["data"]["image/png"].startswith("iVBORw0KGgo")  # a PNG, as base64 text
    assert "UnitView(conv1:0" in shown[0]["data"]["text/plain"]

    explorer.controls["unit"].value = 4
    assert len(explorer.output.outputs) == 1 and explorer.output.outputs != shown  # replaced, not appended
    expected = unit_view(model, scans["conv1"], 4, steps=16, size=32, count=3)
    assert explorer.result.unit.channel == 4
    torch.testing.assert_close(explorer.result.visualization, expected.visualization)
    assert explorer.result.value == pytest.approx(expected.value)

    explorer.controls["layer"].value = "conv2"
    assert explorer.controls["unit"].max == 9 and explorer.result.unit.layer == "conv2"
    torch.testing.assert_close(explorer.result.patch_values, scans["conv2"].top_values(4, 3))

    explorer.controls["steps"].value = 32
    longer = unit_view(model, scans["conv2"], 4, steps=32, size=32, count=3)
    torch.testing.assert_close(explorer.result.visualization, longer.visualization)


def test_slider_fits_a_narrower_layer(setup):
    model, scans = setup
    explorer = feature_explorer(model, {"conv2": scans["conv2"], "conv1": scans["conv1"]}, steps=16, size=32, count=2)
    explorer.controls["unit"].value = 9
    explorer.controls["layer"].value = "conv1"
    assert explorer.controls["unit"].max == 5 and explorer.result.unit.channel == 5


def test_empty_scans_are_refused(setup):
    model, _ = setup
    with pytest.raises(ValueError, match="at least one scanned layer"):
        feature_explorer(model, {})
