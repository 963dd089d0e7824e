"""The bench's naive method reduced to its core: plain gradient ascent on pixels, with or without random jitter.

The lab bench of lesson 11 renders its "naive pixels" images with :func:`helpers.featurevis.render` (a free
parameterization, no transforms). :func:`pixel_ascent` is that method written out as one short loop, the answer of
the lesson's exercise 7: Adam moves the pixels of a starting image along the objective's gradient, the pixels are
clipped to [0, 1] after every step, and ``jitter`` > 0 shifts the image by a random number of pixels (wrapping around)
before each scoring, the simplest of the transforms that keep a visualization from relying on single pixels.
"""
from __future__ import annotations

import torch

from ..arguments import finite_number, whole_number
from ..models import CircuitModel
from .objectives import BatchedObjectives, Objective


def pixel_ascent(model: CircuitModel, objective: Objective, start: torch.Tensor, steps: int, lr: float, jitter: int = 0,
                 seed: int = 0) -> torch.Tensor:
    """Images (N, 3, S, S) in [0, 1] after ``steps`` Adam steps of size ``lr`` that raise ``objective`` from ``start``.

    Every image of ``start`` (N, 3, S, S), in [0, 1], is scored by the same ``objective`` (pre-activations, as
    :class:`~helpers.featurevis.objectives.BatchedObjectives` reads by default); the loss is minus the sum of the scores.
    Before each scoring, the whole batch is rolled by ``(dy, dx) = torch.randint(-jitter, jitter + 1, (2,))`` pixels
    along (height, width), drawn from a generator seeded with ``seed``; after each step the pixels are clipped to [0, 1].
    """
    steps, jitter, seed = whole_number(steps, "steps"), whole_number(jitter, "jitter"), whole_number(seed, "seed")
    finite_number(lr, "lr", positive=True)
    if start.dim() != 4 or start.shape[1] != 3:
        raise ValueError(f"start must be images (N, 3, S, S) in [0, 1], got shape {tuple(start.shape)}.")
    if steps < 1 or jitter < 0:
        raise ValueError(f"pixel_ascent needs steps >= 1 and jitter >= 0, got steps={steps}, jitter={jitter}.")
    images = start.detach().clone().float().to(model.device).requires_grad_(True)
    scores = BatchedObjectives(model, [objective] * images.shape[0])
    optimizer = torch.optim.Adam([images], lr=lr)
    generator = torch.Generator().manual_seed(seed)
    for _ in range(steps):
        dy, dx = torch.randint(-jitter, jitter + 1, (2,), generator=generator).tolist()
        optimizer.zero_grad()
        loss = -scores(images.roll((dy, dx), dims=(2, 3))).sum()
        loss.backward()
        optimizer.step()
        with torch.no_grad():
            images.clamp_(0, 1)
    return images.detach().cpu()
