"""Lesson 09's unit explorer: moving the slider shows the top images the pure function picks."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from matplotlib.figure import Figure

from helpers.widgets.own_model import class_share, top_examples, unit_examples_explorer


def test_top_examples_and_class_share() -> None:
    responses = torch.tensor([[0.0, 1.0], [3.0, 0.0], [2.0, 5.0], [1.0, 4.0]])
    assert top_examples(responses, 0, 2) == [1, 2] and top_examples(responses, 1, 3) == [2, 3, 0]
    assert class_share(torch.tensor([0, 1, 1, 2]), [1, 2]) == 1.0 and class_share(torch.tensor([0, 1, 1, 2]), [0, 3]) == 0.5
    with pytest.raises(ValueError):
        top_examples(responses, 2, 1)


def test_explorer_follows_its_slider() -> None:
    generator = torch.Generator().manual_seed(0)
    images = torch.rand(10, 3, 6, 6, generator=generator)
    labels = torch.tensor([0, 1] * 5)
    responses = {"trained": torch.rand(10, 3, generator=generator), "twin": torch.rand(10, 3, generator=generator)}
    explorer = unit_examples_explorer(images, labels, ["a", "b"], responses, count=3)
    assert isinstance(explorer.result, Figure) and explorer.calls == 1
    explorer.controls["unit"].value = 2
    assert explorer.calls == 2 and "unit 2" in explorer.result.texts[0].get_text()
    for row, name in enumerate(responses):
        first = top_examples(responses[name], 2, 3)[0]
        shown = np.asarray(explorer.result.axes[row * 3].images[0].get_array())
        assert np.allclose(shown, images[first].permute(1, 2, 0).numpy())
