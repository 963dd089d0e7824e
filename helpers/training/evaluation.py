"""Per-class and per-unit evaluation of a trained network: class accuracy (with confidence intervals), top-example
purity."""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Mapping

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


def predicted_classes(model: CircuitModel, data: LabelledImages, batch_size: int = 256) -> torch.Tensor:
    """The class index the network predicts for every image of ``data``, on the CPU: (images,)."""
    with torch.no_grad():
        return torch.cat([model(data.images[start : start + batch_size]).argmax(1).cpu()
                          for start in range(0, len(data), batch_size)])


def class_accuracy(model: CircuitModel, data: LabelledImages, batch_size: int = 256) -> np.ndarray:
    """Accuracy per class of a wrapped network on ``data`` (one value per class name)."""
    predicted = predicted_classes(model, data, batch_size)
    return np.array([float((predicted[data.labels == c] == c).float().mean()) if (data.labels == c).any() else float("nan")
                     for c in range(len(data.classes))])


def class_accuracy_interval(predicted: torch.Tensor, labels: torch.Tensor, classes: int,
                            z: float = 1.96) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per class: the share of its images predicted as it (its accuracy, or recall), and the Wilson score interval of
    that share at the normal quantile ``z`` (1.96 for 95%). ``predicted`` and ``labels`` hold one class index per
    image. Returns (accuracy, low, high), each of shape (classes,), NaN for a class with no image.

    The Wilson interval, unlike the textbook p +- z sqrt(p (1 - p) / n), stays inside [0, 1] and does not shrink to
    nothing for a class that is always (or never) right: 10 of 10 right is not proof of perfection.
    """
    accuracy, low, high = (np.full(classes, np.nan) for _ in range(3))
    for c in range(classes):
        mine = labels == c
        n = int(mine.sum())
        if n == 0:
            continue
        p = float((predicted[mine] == c).double().mean())
        squared = z * z / n
        centre = (p + squared / 2) / (1 + squared)
        half = z * math.sqrt(p * (1 - p) / n + squared / (4 * n)) / (1 + squared)
        accuracy[c], low[c], high[c] = p, centre - half, centre + half
    return accuracy, low, high


@dataclass
class ClassAccuracy:
    """One network's accuracy per class on a labelled data set, with each class's Wilson interval and image count."""

    values: np.ndarray
    low: np.ndarray
    high: np.ndarray
    counts: np.ndarray

    def mean(self) -> float:
        """The mean of the classes' accuracies (every class weighs the same, whatever its count)."""
        return float(np.nanmean(self.values))

    def hardest(self) -> int:
        """The index of the class with the lowest accuracy."""
        return int(np.nanargmin(self.values))


def compare_class_accuracy(models: Mapping[str, CircuitModel], data: LabelledImages, z: float = 1.96,
                           batch_size: int = 256) -> dict[str, ClassAccuracy]:
    """Each network's accuracy per class on ``data`` with its confidence interval (``z``: 1.96 for 95%), by name."""
    counts = np.bincount(data.labels.cpu().numpy(), minlength=len(data.classes))
    results = {}
    for name, model in models.items():
        predicted = predicted_classes(model, data, batch_size)
        results[name] = ClassAccuracy(*class_accuracy_interval(predicted, data.labels.cpu(), len(data.classes), z), counts)
    return results

