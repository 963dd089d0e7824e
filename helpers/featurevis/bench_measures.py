"""The lab bench's measurements (lesson 11): how each visualization method's images look, in numbers.

For every method: the units' mean activation (scored by the caller, one scorer for every method), the images'
contrast as you see them (:func:`pixel_contrast`, the mean over images of each image's pixel standard deviation) and
their share of high-frequency power (:func:`helpers.stimuli.boundaries.high_frequency_fraction`).
:func:`bench_table` lays these out as the printed table.
"""
from __future__ import annotations

from collections.abc import Mapping

import torch

from ..stimuli.boundaries import high_frequency_fraction


def pixel_contrast(images: torch.Tensor) -> float:
    """Mean over images (N, C, H, W) of each image's pixel standard deviation (all channels and pixels together)."""
    if images.dim() != 4 or images.shape[0] == 0:
        raise ValueError(f"pixel_contrast needs a non-empty batch (N, C, H, W), got {tuple(images.shape)}.")
    return float(images.flatten(1).std(dim=1).mean())


def bench_table(images: Mapping[str, torch.Tensor], values: Mapping[str, torch.Tensor]) -> str:
    """One line per method: mean activation (of ``values[name]``), pixel contrast and mean high-frequency share."""
    lines = [f"{'method':<18} {'activation':>10} {'pixel std':>10} {'high-freq share':>16}"]
    for name, batch in images.items():
        noise = sum(high_frequency_fraction(image) for image in batch) / len(batch)
        lines.append(f"{name:<18} {float(values[name].mean()):10.2f} {pixel_contrast(batch):10.3f} {noise:16.1%}")
    return "\n".join(lines)
