"""Lesson 09's figures (helpers.plotting.own_model) draw from small hand-made inputs: no training, no zoo model."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest
import torch
from matplotlib import pyplot as plt
from matplotlib.figure import Figure
from torch import nn

from helpers import wrap_model
from helpers.branches import BranchCensus, BranchCount
from helpers.plotting.own_model import (
    band_profile_figure, band_shares_figure, branch_censuses_figure, class_accuracy_figure, draw_branch_census,
    purity_histogram_figure, recurrence_figure, strongest_kernels_figure,
)


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _net(seed: int):
    torch.manual_seed(seed)
    module = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.Conv2d(4, 5, 3, padding=1), nn.ReLU(),
                           nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(5, 2)).eval()
    return wrap_model(module, {"conv1": "1", "conv2": "3"}, name=f"tiny_{seed}", input_size=8)


def _census(members: tuple[int, int]) -> BranchCensus:
    counts = (BranchCount("1x1", 10, members[0], 1.0, 0.5), BranchCount("pool_reduce", 30, members[1], 3.0, 0.5))
    return BranchCensus("mixed3b", counts)


def test_bar_and_line_figures_have_one_axes() -> None:
    classes = ["circle", "square", "line"]
    figures = [
        class_accuracy_figure({"yours": np.array([0.9, 0.5, 0.7]), "twin": np.array([0.3, 0.4, 0.3])}, classes, 1 / 3),
        purity_histogram_figure({"yours": np.array([1.0, 0.5, np.nan]), "twin": np.array([0.2, 0.3, 0.25])}, 20, "conv4"),
        recurrence_figure({"a": {"conv1": 0.5, "conv2": 0.7}, "b": {"conv1": 0.4, "conv2": 0.3}}, ["conv1", "conv2"]),
        band_shares_figure({"yours": (0.4, 0.2), "twin": (0.25, 0.26), "flatten": (0.3, 0.3)}, 0.25, "conv4"),
        band_profile_figure({"trained": [("a", 0.3, 0.2), ("b", 0.5, 0.2)], "random": [("a", 0.2, 0.2), ("b", 0.2, 0.3)]},
                            "tiny"),
    ]
    for figure in figures:
        assert isinstance(figure, Figure) and len(figure.axes) == 1
    assert len(figures[0].axes[0].patches) == 2 * len(classes)  # one bar per class and network
    assert figures[1].axes[0].get_xlabel() == "share of a unit's top-20 fresh images in one class"
    assert len(figures[2].axes[0].lines) == 2


def test_strongest_kernels_figure_has_a_row_per_network() -> None:
    figure = strongest_kernels_figure({"first": _net(0), "second": _net(1)}, count=4)
    assert isinstance(figure, Figure) and len(figure.axes) == 2 * 4
    assert figure.axes[0].get_ylabel() == "first" and figure.axes[0].images[0].get_cmap().name == "RdBu_r"
    single = strongest_kernels_figure({"only": _net(2)}, count=3)
    assert len(single.axes) == 3


def test_branch_censuses_figure_has_a_panel_per_family_and_blanks_the_rest() -> None:
    censuses = {"curves": _census((4, 1)), "high-low": _census((0, 3)), "dogs": _census((1, 1)),
                "colour": _census((2, 0)), "other": _census((0, 2))}
    figure = branch_censuses_figure(censuses)
    assert isinstance(figure, Figure) and len(figure.axes) == 8  # two rows of four panels
    assert [ax.get_title() for ax in figure.axes[:5]] == [f"{name} ({c.size})" for name, c in censuses.items()]
    assert not figure.axes[5].axison
    _, ax = plt.subplots()
    draw_branch_census(ax, "curves", censuses["curves"])
    assert [tick.get_text() for tick in ax.get_xticklabels()] == ["1x1", "pool"]


def test_class_folders_are_read_back_as_the_same_labelled_images(tmp_path) -> None:
    from helpers.plotting.own_model import save_class_folders
    from helpers.shapes_dataset import ShapesDataset
    from helpers.training import folder_data

    dataset = ShapesDataset(count=6, size=16, seed=1)
    root = save_class_folders(dataset, tmp_path / "shapes")
    read = folder_data(root, size=16)
    assert len(read.images) == 6 and sorted(read.classes) == sorted({dataset.classes[dataset.label(i)] for i in range(6)})


def test_class_accuracy_figure_draws_intervals_as_whiskers() -> None:
    from helpers.training.evaluation import ClassAccuracy

    # a class always right: its upper end rounds to just below 1, and no whisker may come out negative
    accuracy = ClassAccuracy(np.array([1.0, 0.5]), np.array([0.7, 0.3]), np.array([1 - 1e-16, 0.7]), np.array([10, 20]))
    figure = class_accuracy_figure({"yours": accuracy}, ["circle", "line"], 0.5)
    ax = figure.axes[0]
    from matplotlib.container import ErrorbarContainer

    assert len(ax.patches) == 2 and any(isinstance(c, ErrorbarContainer) for c in ax.containers)  # the whiskers


def test_training_figure_and_family_tuning_figure_skip_what_is_missing(capsys) -> None:
    from helpers.plotting.own_model import family_tuning_figure, training_figure
    from helpers.training import TrainingResult

    untrained = TrainingResult(_net(0), {"step_loss": [], "test_accuracy": [0.1]})
    assert training_figure(untrained) is None and "never trained" in capsys.readouterr().out
    history = {"step_loss": [2.0, 1.5, 1.0], "train_loss": [1.2], "train_accuracy": [0.6], "test_loss": [1.3],
               "test_accuracy": [0.55]}
    figure = training_figure(TrainingResult(_net(1), history))
    assert isinstance(figure, Figure) and "held-out accuracy 55%" in figure.texts[0].get_text() + figure.axes[0].get_title()

    class Lonely(list):
        layer = "conv2"

    assert family_tuning_figure(Lonely([1]), "tiny") is None


def test_examples_beside_figure_has_a_row_per_channel() -> None:
    from helpers.plotting.own_model import examples_beside_figure

    class Examples:
        def top_patches(self, channel, count):
            return torch.rand(count, 3, 8, 8)

        def top_values(self, channel, count):
            return torch.arange(count, 0, -1).float()

    figure = examples_beside_figure(torch.rand(5, 3, 16, 16), Examples(), "conv2", [0, 3], title="tiny", count=2)
    assert isinstance(figure, Figure) and len(figure.axes) >= 2 * 3
