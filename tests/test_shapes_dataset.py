"""Tests of the course's synthetic labelled shapes."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from helpers.shapes_dataset import SHAPE_CLASSES, ShapesDataset, draw_shape, render_stroke, shape_outline


def test_images_and_labels_have_the_right_shapes_and_range():
    data = ShapesDataset(count=24, size=32, seed=0)
    images, labels = data.tensors()
    assert images.shape == (24, 3, 32, 32) and images.dtype == torch.float32
    assert float(images.min()) >= 0.0 and float(images.max()) <= 1.0
    assert labels.tolist() == [i % len(SHAPE_CLASSES) for i in range(24)]
    assert len(data) == 24 and data.classes == SHAPE_CLASSES


def test_same_seed_gives_the_same_images_in_any_order():
    first = ShapesDataset(count=16, seed=3)
    second = ShapesDataset(count=16, seed=3)
    assert torch.equal(first[11], second[11])
    assert torch.equal(first.tensors()[0], torch.stack([second[i] for i in range(16)]))
    assert not torch.equal(first[5], ShapesDataset(count=16, seed=4)[5])


def test_batches_cover_every_image_once():
    data = ShapesDataset(count=10, batch_size=4)
    indices = torch.cat([index for index, _ in data.indexed_batches()])
    assert indices.tolist() == list(range(10))


def test_subset_of_classes_relabels_from_zero():
    data = ShapesDataset(count=6, classes=("arc", "corner"))
    assert [data.label(i) for i in range(6)] == [0, 1, 0, 1, 0, 1]


@pytest.mark.parametrize("bad", [("arc",), ("arc", "blob"), ("arc", "arc")])
def test_bad_classes_are_refused(bad):
    with pytest.raises(ValueError, match="at least two different shapes"):
        ShapesDataset(count=4, classes=bad)


def test_stroke_is_anti_aliased_and_lies_where_drawn():
    coverage = render_stroke(np.array([[4.0, 16.0], [28.0, 16.0]]), 32, 2.0)
    assert coverage[16, 16] == pytest.approx(1.0) and coverage[2, 16] == 0.0
    partial = coverage[(coverage > 0) & (coverage < 1)]
    assert partial.size > 0  # soft edges, not a hard 0/1 mask


def test_every_shape_draws_ink_and_unknown_shapes_fail():
    rng = np.random.default_rng(0)
    for name in SHAPE_CLASSES:
        assert shape_outline(name, rng).shape[1] == 2
        image = draw_shape(name, 32, np.random.default_rng(1), noise=0.0)
        assert image.std() > 0.05, name
    with pytest.raises(ValueError, match="Unknown shape"):
        draw_shape("blob")
