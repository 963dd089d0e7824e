"""Feature accentuation: the smallest change to a photograph that makes a unit fire more.

A feature visualization starts from noise and shows what a unit likes *in general*; accentuation
(after Hamblin, Fel et al. 2024) starts from a real photograph, in the natural-image parameterization
:class:`~helpers.featurevis.param.PhotoImage` (the photo plus a 1/f-scaled Fourier change), and
maximizes the unit minus a penalty on the distance to the photo. What changes shows which parts of
*this* image drive the unit, and how.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import torch

from ..models import CircuitModel
from .objectives import BatchedObjectives, Objective, objective_values
from .param import PhotoImage, imagenet_colour_matrix
from .render import render


@dataclass
class Accentuation:
    """Photographs, their accentuated versions, each one's objective before and after, and the pixel change."""

    photos: torch.Tensor  # (N, 3, S, S) the starting photographs
    images: torch.Tensor  # (N, 3, S, S) the accentuated images
    before: torch.Tensor  # (N,) objective on each photograph
    after: torch.Tensor  # (N,) objective on each accentuated image
    change: torch.Tensor  # (N,) root-mean-square pixel change


def closeness_penalty(photos: torch.Tensor, weight: float) -> Callable[[torch.Tensor], torch.Tensor]:
    """The cost ``weight`` x mean squared pixel difference from ``photos``, per image: (N, 3, S, S) -> (N,)."""
    def cost(images: torch.Tensor) -> torch.Tensor:
        return weight * (images - photos).pow(2).mean(dim=(1, 2, 3))

    return cost


def accentuate(model: CircuitModel, objectives: Objective | Sequence[Objective], photos: torch.Tensor, *,
               steps: int = 64, lr: float = 0.02, closeness: float = 100.0, transforms: str | None = "light",
               redirect_steps: int = 0, pre_activation: bool = True, decorrelate: bool = True, seed: int = 0,
               progress: bool = True) -> Accentuation:
    """Change each photograph a little so its own objective rises: one photo (3, S, S) for all, or one per objective.

    ``closeness`` weighs the mean squared pixel change against the objective (larger: smaller changes);
    the other options are :func:`render`'s.
    """
    objectives = [objectives] if isinstance(objectives, Objective) else list(objectives)
    if not isinstance(photos, torch.Tensor) or photos.dim() not in (3, 4) or photos.shape[-3] != 3:
        raise ValueError(f"photos must be one (3, S, S) image or (N, 3, S, S) images in [0, 1], got "
                         f"{tuple(getattr(photos, 'shape', ())) or type(photos).__name__}.")
    if photos.dim() == 3:
        photos = photos.unsqueeze(0).expand(len(objectives), -1, -1, -1)
    if photos.shape[0] != len(objectives):
        raise ValueError(f"Give one photograph, or one per objective: got {photos.shape[0]} photos for {len(objectives)} objectives.")
    if photos.shape[-1] != photos.shape[-2] or photos.shape[-1] < 8:
        raise ValueError(f"photos must be square and at least 8 px, got {tuple(photos.shape[-2:])}.")
    if closeness < 0:
        raise ValueError(f"closeness must be 0 or more, got {closeness}.")
    photos = photos.detach().float().clamp(0, 1)
    param = PhotoImage(photos, colour_matrix=imagenet_colour_matrix() if decorrelate else None)
    with torch.no_grad():
        start = param().to(model.device)  # the photo as the parameterization sees it (pixels clipped to its range)
    result = render(model, objectives, steps=steps, size=photos.shape[-1], param=param, transforms=transforms, lr=lr,
                    seed=seed, redirect_steps=redirect_steps, pre_activation=pre_activation,
                    penalty=closeness_penalty(start, closeness), progress=progress)
    before = objective_values(model, objectives, start, pre_activation=pre_activation).cpu()
    change = (result.images - start.cpu()).pow(2).mean(dim=(1, 2, 3)).sqrt()
    return Accentuation(photos=start.cpu(), images=result.images, before=before, after=result.values, change=change)


def accentuation_step(model: CircuitModel, objective: Objective, images: torch.Tensor, photos: torch.Tensor,
                      closeness: float, lr: float) -> torch.Tensor:
    """One plain gradient-ascent step in pixel space on objective - closeness x mean squared change, clipped to [0, 1].

    (What :func:`accentuate` does with Adam in a Fourier basis, reduced to its core; images and photos (N, 3, S, S).)
    """
    images = images.detach().to(model.device).requires_grad_(True)
    batched = BatchedObjectives(model, [objective] * images.shape[0])
    gain = batched(images) - closeness * (images - photos.to(model.device)).pow(2).mean(dim=(1, 2, 3))
    (gradient,) = torch.autograd.grad(gain.sum(), images)
    return (images + lr * gradient).clamp(0, 1).detach()
