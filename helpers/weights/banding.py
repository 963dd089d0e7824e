"""Weight banding: how much of a convolution's kernels is constant along rows (horizontal bands) or columns.

Petrov et al. (2021, "Weight Banding", in the Circuits thread) saw the last convolutions of several
ImageNet networks with global average pooling grow kernels made of horizontal stripes. The measure
here: centre each spatial kernel (one output unit, one input channel) on its own mean; its
*horizontal-band part* is its row means repeated along each row, its *vertical-band part* its column
means repeated down each column. A layer's share of each is that part's energy over all kernels'
energy, so strong kernels count more than faint ones. Random kernels score :func:`chance_band_share`.
"""
from __future__ import annotations

import torch
from torch import nn

from ..arguments import whole_number
from ..models import CircuitModel


def band_shares(weight: torch.Tensor) -> tuple[float, float]:
    """The shares of a convolution weight's (out, in, height, width) kernel energy in horizontal and in vertical bands."""
    if weight.dim() != 4 or weight.shape[2] < 2 or weight.shape[3] < 2:
        raise ValueError(f"band_shares needs a convolution weight (out, in, height, width) with kernels of at least 2x2; "
                         f"got shape {tuple(weight.shape)}.")
    weight = weight.detach().double()
    centred = weight - weight.mean(dim=(2, 3), keepdim=True)
    energy = float((centred ** 2).sum())
    if energy == 0:
        raise ValueError("Every kernel of this weight is flat (constant): it has no spatial pattern to measure.")
    rows = float((centred.mean(dim=3) ** 2).sum()) * weight.shape[3]
    columns = float((centred.mean(dim=2) ** 2).sum()) * weight.shape[2]
    return rows / energy, columns / energy


def strongest_kernels(weight: torch.Tensor, count: int) -> torch.Tensor:
    """The ``count`` spatial kernels of a convolution weight (out, in, height, width) with the most energy (sum of
    squares), each centred on its own mean, largest first: (count, height, width). What banding shows kernel by kernel."""
    if weight.dim() != 4:
        raise ValueError(f"strongest_kernels needs a convolution weight (out, in, height, width); got shape {tuple(weight.shape)}.")
    kernels = weight.shape[0] * weight.shape[1]
    count = whole_number(count, "count", minimum=1)
    if count > kernels:
        raise ValueError(f"count must be at most the weight's {kernels} kernels (out x in), got {count}.")
    flat = weight.detach().cpu().flatten(0, 1)
    centred = flat - flat.mean(dim=(1, 2), keepdim=True)
    return centred[(centred ** 2).sum(dim=(1, 2)).argsort(descending=True)[:count]]


def chance_band_share(height: int, width: int) -> float:
    """The horizontal-band share that random (height x width) kernels have on average: (height - 1) / (height * width - 1)."""
    return (height - 1) / (height * width - 1)


def spatial_convolutions(model: CircuitModel) -> list[tuple[str, nn.Conv2d]]:
    """Every convolution of the network whose kernels are wider than 1x1, in module order, with its path."""
    found = [(path, module) for path, module in model.module.named_modules()
             if isinstance(module, nn.Conv2d) and min(module.kernel_size) > 1]
    if not found:
        raise ValueError(f"{model.name} has no convolution with kernels wider than 1x1, so it has no spatial weights to band.")
    return found


def last_spatial_convolution(model: CircuitModel) -> tuple[str, nn.Conv2d]:
    """The network's last convolution whose kernels are wider than 1x1 (where the article found bands), with its path."""
    return spatial_convolutions(model)[-1]


def network_band_shares(model: CircuitModel) -> tuple[float, float]:
    """Horizontal and vertical band shares of the network's last spatial convolution (see :func:`band_shares`)."""
    return band_shares(last_spatial_convolution(model)[1].weight)


def band_profile(model: CircuitModel) -> list[tuple[str, float, float]]:
    """``(path, horizontal share, vertical share)`` of every spatial convolution, first to last: where banding sits."""
    return [(path, *band_shares(convolution.weight)) for path, convolution in spatial_convolutions(model)]
