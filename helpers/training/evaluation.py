"""Per-class and per-unit evaluation of a trained network: class accuracy, top-example purity."""
from __future__ import annotations

import numpy as np
import torch

from ..models import CircuitModel
from .data import LabelledImages


def top_examples_purity(model: CircuitModel, data: LabelledImages, layer: str, count: int = 20) -> np.ndarray:
    """For every unit of ``layer``: the share of its ``count`` strongest images (peak over positions) that belong to one class.

    1 means all its top images are of one class; about ``1 / classes`` is what chance gives; NaN for a
    unit that never fires on ``data``.
    """
    from ..activations import read_at, stream

    if not 1 <= count <= len(data):
        raise ValueError(f"count must lie between 1 and the number of images ({len(data)}), got {count}.")
    peaks = torch.cat([read_at(maps[layer], "max")
                       for _, maps in stream(model, data.images, layer, batch_size=256, progress=False, description="peaks")])
    return class_purity(peaks.cpu(), data.labels, count)


def class_purity(peaks: torch.Tensor, labels: torch.Tensor, count: int) -> np.ndarray:
    """For every unit (column of ``peaks`` (images, units)): the share of its ``count`` strongest images that belong to
    the class most common among them; NaN for a unit whose peaks are never above 0."""
    purity = np.full(peaks.shape[1], np.nan)
    for unit in range(peaks.shape[1]):
        if float(peaks[:, unit].max()) > 0:
            top = peaks[:, unit].argsort(descending=True)[:count]
            purity[unit] = np.bincount(labels[top].numpy()).max() / count
    return purity


def class_accuracy(model: CircuitModel, data: LabelledImages, batch_size: int = 256) -> np.ndarray:
    """Accuracy per class of a wrapped network on ``data`` (one value per class name)."""
    predictions = []
    with torch.no_grad():
        for start in range(0, len(data), batch_size):
            predictions.append(model(data.images[start : start + batch_size]).argmax(1))
    predicted = torch.cat(predictions)
    return np.array([float((predicted[data.labels == c] == c).float().mean()) if (data.labels == c).any() else float("nan")
                     for c in range(len(data.classes))])
