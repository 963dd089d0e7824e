"""Lesson 08's unit-pair explorer: moving the slider finds the partner the pure function finds."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from matplotlib.figure import Figure

from helpers.widgets.universality import best_partner, top_images, unit_pair_explorer


def responses() -> tuple[torch.Tensor, torch.Tensor]:
    """B's unit 2 is A's unit 0 (times 3, plus noise); B's unit 0 is minus A's unit 1; the rest is noise."""
    generator = torch.Generator().manual_seed(0)
    a = torch.rand(40, 3, generator=generator)
    b = torch.rand(40, 4, generator=generator)
    b[:, 2] = 3 * a[:, 0] + 0.01 * b[:, 2]
    b[:, 0] = a[:, 1]
    return a, b


def test_best_partner_is_the_built_twin() -> None:
    a, b = responses()
    assert best_partner(a, b, 0)[0] == 2 and best_partner(a, b, 0)[1] > 0.99
    assert best_partner(a, b, 1) == (0, pytest.approx(1.0))
    with pytest.raises(ValueError):
        best_partner(a, b, 3)


def test_top_images_average_over_cells() -> None:
    per_cell = torch.tensor([[0.0], [0.0], [5.0], [-5.0], [1.0], [1.0]])  # three images of two cells each
    assert top_images(per_cell, 0, cells=2, count=2) == [2, 0] or top_images(per_cell, 0, cells=2, count=2) == [2, 1]


def test_explorer_follows_its_slider() -> None:
    a, b = responses()
    images = torch.rand(20, 3, 8, 8, generator=torch.Generator().manual_seed(1))
    explorer = unit_pair_explorer(images, a, b, cells=2, names=("A", "B"), count=3)
    assert isinstance(explorer.result, Figure) and "unit 2" in explorer.result.texts[0].get_text()
    explorer.controls["unit"].value = 1
    assert explorer.calls == 2
    title = explorer.result.texts[0].get_text()
    assert "A unit 1" in title and "unit 0" in title.split("in B")[1]
    shown = np.asarray(explorer.result.axes[0].images[0].get_array())
    best = top_images(a, 1, 2, 1)[0]
    assert np.allclose(shown, images[best].permute(1, 2, 0).numpy())
