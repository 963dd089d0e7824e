"""Dog imagery for the dog-head lesson (05) without labelled dog photographs: the model's own class visualizations of
dog breeds, Imagewoof's photographs when they are on disk, a background of offline photographs with no dogs, and the
units that grow most on such images against that background (the lesson's head units)."""
from __future__ import annotations

from typing import Sequence

import torch

from .config import DATASETS_DIR
from .featurevis.objectives import class_logit
from .featurevis.render import render
from .images import ImageFolder, RandomCrops, sample_photos
from .models import CircuitModel, Unit
from .probing import unit_responses

BACKGROUND_PHOTOS = ("coffee", "rocket", "camera", "coins", "clock", "moon", "page", "text", "brick", "grass", "gravel")
"""The offline photographs (no dogs in any) whose crops are the lesson's background."""


def background_crops(size: int, count: int, *, seed: int = 1) -> torch.Tensor:
    """``count`` random crops (count, 3, size, size) of :data:`BACKGROUND_PHOTOS`: images with no dogs, against which
    :func:`units_gaining` measures how much a unit grows on dog imagery."""
    return torch.cat(list(RandomCrops(sample_photos(list(BACKGROUND_PHOTOS)), count=count, size=size, seed=seed)))


def dog_class_visualizations(model: CircuitModel, breeds: Sequence[str], *, steps: int, size: int,
                             progress: bool = True) -> tuple[torch.Tensor, list[int]]:
    """Class visualizations (N, 3, size, size) of the ``breeds`` among the model's labels, rendered in one batch, and
    those classes' indices. No breed among the labels: nothing rendered."""
    classes = [model.labels.index(name) for name in breeds if name in model.labels]
    if not classes:
        return torch.zeros(0, 3, size, size), []
    objectives = [class_logit(i, model.labels[i]) for i in classes]
    return render(model, objectives, steps=steps, size=size, progress=progress).images, classes


def imagewoof_photos(size: int, max_images: int) -> torch.Tensor:
    """Up to ``max_images`` Imagewoof validation photographs (dogs of ten breeds, facing unknown), evenly spaced
    through the folder, when ``data/datasets/imagewoof2-160`` is on disk (``make weights``); else an empty batch."""
    folder = DATASETS_DIR / "imagewoof2-160" / "val"
    if not folder.is_dir():
        return torch.zeros(0, 3, size, size)
    woof = ImageFolder(folder, size=size)
    return torch.stack([woof[i] for i in range(0, len(woof), max(1, len(woof) // max_images))][:max_images])


def units_gaining(model: CircuitModel, layer: str, images: torch.Tensor, background: torch.Tensor,
                  count: int) -> tuple[list[Unit], torch.Tensor]:
    """The ``count`` units of ``layer`` whose response (largest value over positions) grows most, on average, on
    ``images`` (e.g. dog imagery) against ``background``, best first, and every unit's gain (C,). No images: no gain."""
    if len(images):
        gain = (unit_responses(model, layer, images, at="max").mean(0)
                - unit_responses(model, layer, background, at="max").mean(0)).cpu()
    else:
        gain = torch.zeros(model.channels(layer))
    return [model.unit(layer, int(c)) for c in torch.argsort(gain, descending=True)[:count]], gain
