"""The phase-scrambling test: does a unit read how an image is arranged, or only its spectrum and colours?

A photograph's phase-scrambled twin keeps the amplitude of every spatial frequency in every colour channel and
randomises where things are. A unit that ranks photographs the way it ranks their twins reads statistics that survive
scrambling (energy at some orientation and scale, colour); a unit whose ranking is lost reads arrangement (edges,
contours, parts in place). Lesson 01 runs the test on every unit of four layers.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from .models import CircuitModel
from .probing import unit_responses
from .stats import rank_correlation


def phase_scrambled(images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Each image (N, 3, H, W) in [0, 1] with its amplitude spectrum and colours kept and its phases randomised.

    One random phase map per image, shared by its three channels (so colours stay aligned); the phases are those
    of white noise, whose symmetry keeps the result real.
    """
    if images.dim() != 4:
        raise ValueError(f"images must be a batch (N, C, H, W), got shape {tuple(images.shape)}.")
    noise = torch.rand(images.shape[0], 1, *images.shape[-2:], generator=generator)
    phases = torch.angle(torch.fft.fft2(noise))
    return torch.fft.ifft2(torch.fft.fft2(images) * torch.exp(1j * phases)).real.clamp(0, 1)


@dataclass(frozen=True)
class ScramblingTest:
    """Every unit's strongest response to each photograph and to its scrambled twin, and how well the ranking survives."""

    scrambled: torch.Tensor
    """The twins (N, 3, H, W), in the photographs' order."""
    originals: dict[str, torch.Tensor]
    """Per layer: strongest response anywhere on each photograph (N, units)."""
    twins: dict[str, torch.Tensor]
    """Per layer: the same on each twin (N, units)."""
    correlation: dict[str, torch.Tensor]
    """Per layer: each unit's rank correlation between its responses to the photographs and to their twins."""


def scrambling_test(model: CircuitModel, layers: list[str], photographs: torch.Tensor, *, seed: int = 0,
                    pre_activation: bool = False, batch_size: int = 32) -> ScramblingTest:
    """Run the phase-scrambling test on every unit of ``layers`` with ``photographs`` (N, 3, H, W), twins drawn with ``seed``."""
    if not layers:
        raise ValueError("Name at least one layer to test.")
    if photographs.dim() != 4 or photographs.shape[0] < 3:
        raise ValueError(f"photographs must be a batch of at least 3 images (N, 3, H, W), got shape {tuple(photographs.shape)}.")
    units = [unit for name in layers for unit in model.units(name)]
    widths = [model.channels(name) for name in layers]
    scrambled = phase_scrambled(photographs, torch.Generator().manual_seed(seed))

    def strongest(images: torch.Tensor) -> dict[str, torch.Tensor]:
        values = unit_responses(model, units, images, at="max", pre_activation=pre_activation, batch_size=batch_size)
        return dict(zip(layers, values.cpu().split(widths, dim=1)))

    originals, twins = strongest(photographs), strongest(scrambled)
    correlation = {name: rank_correlation(originals[name], twins[name]) for name in layers}
    return ScramblingTest(scrambled, originals, twins, correlation)
