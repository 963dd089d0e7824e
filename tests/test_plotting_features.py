"""Lesson 01's figures (helpers.plotting.features) draw from small hand-made inputs: fake renders and scans, no model."""
from __future__ import annotations

from types import SimpleNamespace

import matplotlib
import pytest
import torch

matplotlib.use("Agg")
from matplotlib import pyplot as plt  # noqa: E402

from helpers.plotting.features import (  # noqa: E402
    directions_figure, filters_figure, layer_overview_figures, naive_versus_regularized_figure, scan_histogram_figure,
    scrambled_pairs_figure,
)


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _scan(units: int = 4) -> SimpleNamespace:
    """A stand-in for a layer's DatasetExamples: unit c's top values are c + 1, c + 0.5, ..."""
    return SimpleNamespace(
        top_values=lambda c, count=3: torch.tensor([c + 1.0, c + 0.5, c + 0.25])[:count],
        top_patches=lambda c, count=3: torch.full((count, 3, 6, 6), c / units),
        histogram=lambda c: (torch.tensor([5, 3, 1]), torch.tensor([0.0, 1.0, 2.0, 3.0])),
        band_range=lambda c: (0.5, 1.5),
        firing_fraction=torch.tensor([0.25] * units),
    )


def test_section_one_and_histogram_figures() -> None:
    naive = SimpleNamespace(values=torch.tensor([2.0]), images=torch.rand(1, 3, 8, 8), history=torch.rand(5, 1))
    figure = naive_versus_regularized_figure(naive, torch.rand(3, 8, 8), 4.0, torch.rand(5), title="neuron a:1")
    assert len(figure.axes) == 3 and figure.axes[0].get_title() == "naive pixels\nobjective 2.0"
    histogram = scan_histogram_figure(_scan(), 2, "layer:2")
    assert histogram.axes[0].get_title() == "layer:2: fires on 25% of positions"
    assert [t.get_text() for t in histogram.axes[0].get_legend().get_texts()] == ["median image max", "90th percentile", "top example"]


def test_layer_overview_leaves_out_stalled_and_unmoved_units(capsys) -> None:
    rendered = [("a", 0), ("a", 1), ("a", 2), ("b", 3)]
    result = SimpleNamespace(images=torch.rand(5, 3, 8, 8), values=torch.tensor([2.0, 2.0, 0.0, 1.0, 9.0]),
                             history=torch.zeros(6, 5), stalled=torch.tensor([False, True, False, True, False]))
    visualization, chosen = layer_overview_figures(result, rendered, {"paper_a": "a", "paper_b": "b"},
                                                   {"a": _scan(), "b": _scan()}, units_per_layer=2, top_shown=2)
    assert chosen == {"a": [0], "b": []} and list(visualization) == ["a"] and torch.equal(visualization["a"][0], result.images[0])
    printed = capsys.readouterr().out
    assert "could not drive (not shown): a:1, a:2, b:3" in printed and "b: no unit whose visualization moved" in printed
    assert len(plt.get_fignums()) == 1 and len(plt.gcf().axes) == 3  # one row: the visualization and 2 patches


def test_filters_pairs_and_directions_figures() -> None:
    weights = torch.randn(16, 3, 5, 5, generator=torch.Generator().manual_seed(0))
    figure = filters_figure(weights, "first-layer filters")
    shown = [ax.get_images()[0].get_array() for ax in figure.axes if ax.get_images()]
    assert len(shown) == 16 and all(int(s.min()) == 0 and int(s.max()) == 255 for s in shown)  # each to its own range
    pairs = scrambled_pairs_figure(torch.rand(3, 3, 8, 8), torch.rand(3, 3, 8, 8), pairs=2)
    assert [ax.get_title() for ax in pairs.axes] == ["photograph", "phase-scrambled"] * 2
    directions = directions_figure({5: torch.rand(3, 8, 8)}, (5, 7), torch.rand(2, 3, 8, 8), "mixed3b", size=8)
    assert [ax.get_title() for ax in directions.axes] == ["channel 5", "channel 7", "5 + 7", "random direction"]
    assert float(directions.axes[1].get_images()[0].get_array().std()) == 0.0  # channel 7 has no image: plain grey
