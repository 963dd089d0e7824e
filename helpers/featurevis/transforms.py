"""Random geometric transforms applied to the images at every optimization step.

Without them the optimizer finds high-frequency patterns that excite a unit only at one exact
pixel alignment; asking the image to work after a small random shift, scaling and rotation
gives the smoother, more natural visualizations of the paper ("transformation robustness").

Each transform here is a small description (:class:`Pad`, :class:`Jitter`, :class:`RandomScale`,
:class:`RandomRotate`). :class:`Compose` chains them, draws each image's random parameters
from a ``torch.Generator`` and folds the whole chain into ONE affine map per image, applied to
the whole batch with a single ``grid_sample``: padding, both jitters, scale and rotation cost
one resampling, whatever the batch size.

Your own transform is any callable ``step(images, generator) -> images`` on a batch (N, C, S, S)
that keeps its shape (a colour jitter, noise, a blur...): put it in the chain beside the built-in
steps. Consecutive built-in steps still fold into one resampling; yours runs where it stands::

    def add_noise(images, generator):
        return images + 0.02 * torch.randn(images.shape, generator=generator).to(images.device)

    render(model, objective, transforms=[Pad(8), Jitter(4), add_noise, Jitter(2)])

The output keeps the input's size: padding and jitter decide which part of the (grey-filled)
plane is seen, but the window stays centred. Unlike a growing or shrinking canvas this keeps the
network's feature maps the same size, so a "neuron" objective reads the same central position
during optimization as when the finished image is scored.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import torch
import torch.nn.functional as F

# Coordinates below are in pixels, centred on the image. A transform maps the coordinates of
# its output canvas to those of its input: p_in = matrix @ p_out + offset, per image.


@dataclass(frozen=True)
class Pad:
    """Grow the canvas by ``pixels`` on every side, filled with ``Compose.fill`` (grey by default).

    (The final window has the input's size, so padding matters for the jitters that follow it.)
    """

    pixels: int

    def resize(self, size: int) -> int:
        """Canvas size after this transform."""
        return size + 2 * self.pixels

    def sample(self, count: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """Identity matrices and zero offsets: padding only enlarges the canvas."""
        return torch.eye(2).expand(count, 2, 2), torch.zeros(count, 2)


@dataclass(frozen=True)
class Jitter:
    """Cut a window ``pixels`` smaller than the canvas at a random integer offset (a random shift)."""

    pixels: int

    def resize(self, size: int) -> int:
        """Canvas size after this transform."""
        return size - self.pixels

    def sample(self, count: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """Random shifts of -pixels/2 .. +pixels/2 in each direction."""
        offsets = torch.randint(0, self.pixels + 1, (count, 2), generator=generator).float() - self.pixels / 2
        return torch.eye(2).expand(count, 2, 2), offsets


@dataclass(frozen=True)
class RandomScale:
    """Zoom each image by a factor picked at random from ``factors`` (the canvas keeps its size)."""

    factors: tuple[float, ...]

    def resize(self, size: int) -> int:
        """Canvas size after this transform (unchanged)."""
        return size

    def sample(self, count: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """Matrices 1/factor * identity: output pixel p shows input pixel p / factor."""
        factors = torch.tensor(self.factors, dtype=torch.float32)
        chosen = factors[torch.randint(0, len(factors), (count,), generator=generator)]
        return torch.eye(2) / chosen.view(-1, 1, 1), torch.zeros(count, 2)


@dataclass(frozen=True)
class RandomRotate:
    """Rotate each image by an angle (degrees) picked at random from ``degrees``."""

    degrees: tuple[float, ...]

    def resize(self, size: int) -> int:
        """Canvas size after this transform (unchanged)."""
        return size

    def sample(self, count: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """Inverse rotation matrices for the chosen angles."""
        angles = torch.tensor(self.degrees, dtype=torch.float32)
        theta = torch.deg2rad(angles[torch.randint(0, len(angles), (count,), generator=generator)])
        cos, sin = torch.cos(theta), torch.sin(theta)
        matrix = torch.stack([torch.stack([cos, sin], -1), torch.stack([-sin, cos], -1)], -2)
        return matrix, torch.zeros(count, 2)


AffineStep = Pad | Jitter | RandomScale | RandomRotate
#: A user's step: images (N, C, S, S) and the render's generator in, images of the same shape out.
CustomStep = Callable[[torch.Tensor, torch.Generator], torch.Tensor]
Transform = AffineStep | CustomStep
_AFFINE = (Pad, Jitter, RandomScale, RandomRotate)


@dataclass(frozen=True)
class Compose:
    """A chain of transforms applied, per image with its own random draws, in one resampling."""

    steps: tuple[Transform, ...] = ()
    fill: float = 0.5

    def __post_init__(self) -> None:
        for step in self.steps:
            if not isinstance(step, _AFFINE) and not callable(step):
                raise TypeError(f"Compose takes Pad, Jitter, RandomScale, RandomRotate or a callable "
                                f"step(images, generator) -> images, not {step!r}.")
            if isinstance(step, (Pad, Jitter)) and step.pixels < 0:
                raise ValueError(f"{type(step).__name__} needs pixels >= 0, got {step.pixels}.")
            if isinstance(step, RandomScale) and (not step.factors or min(step.factors) <= 0):
                raise ValueError(f"RandomScale needs positive factors, got {step.factors}.")
            if isinstance(step, RandomRotate) and not step.degrees:
                raise ValueError("RandomRotate needs at least one angle.")

    @property
    def is_identity(self) -> bool:
        """True when the chain cannot change any image (no steps, or only trivial built-in ones)."""
        return all(
            (isinstance(s, (Pad, Jitter)) and s.pixels == 0)
            or (isinstance(s, RandomScale) and set(s.factors) == {1.0})
            or (isinstance(s, RandomRotate) and set(s.degrees) == {0.0})
            for s in self.steps
        )

    def output_size(self, size: int) -> int:
        """Side of the transformed images for ``size``-pixel inputs (the same: the window stays centred)."""
        canvas = size
        for step in self.steps:
            if isinstance(step, _AFFINE):
                canvas = step.resize(canvas)
        if canvas < 1:
            raise ValueError(f"These transforms shrink a {size}-pixel image to nothing; use smaller jitter.")
        return size

    def __call__(self, images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """Transform a batch (N, C, S, S); each image gets its own random parameters."""
        if self.is_identity:
            return images
        self.output_size(images.shape[-1])
        affine: list[AffineStep] = []
        for step in self.steps:
            if isinstance(step, _AFFINE):
                affine.append(step)
                continue
            images = self._resample(images, affine, generator)
            affine = []
            shape = images.shape
            images = step(images, generator)
            if not isinstance(images, torch.Tensor) or images.shape != shape:
                raise ValueError(f"The transform {step!r} must return a tensor of the shape it was given, {tuple(shape)}; "
                                 f"it returned {getattr(images, 'shape', type(images).__name__)}.")
        return self._resample(images, affine, generator)

    def _resample(self, images: torch.Tensor, steps: Sequence[AffineStep], generator: torch.Generator) -> torch.Tensor:
        """Apply a run of built-in steps folded into one affine map per image (one ``grid_sample``)."""
        if not steps:
            return images
        count = images.shape[0]
        return _resample_folded(images, [step.sample(count, generator) for step in steps], self.fill)


def _resample_folded(images: torch.Tensor, draws: Sequence[tuple[torch.Tensor, torch.Tensor]], fill: float) -> torch.Tensor:
    """Fold a chain's (matrices (N, 2, 2), offsets (N, 2)), first step first, into one affine map per image and
    resample the batch (N, C, S, S) once; outside the image is ``fill``."""
    count, channels, size, _ = images.shape
    with torch.no_grad():
        matrix = torch.eye(2).repeat(count, 1, 1)
        offset = torch.zeros(count, 2)
        for step_matrix, step_offset in draws:
            offset = offset + torch.einsum("nij,nj->ni", matrix, step_offset)
            matrix = matrix @ step_matrix
        # grid_sample works in coordinates normalized to [-1, 1] by half the side of each image;
        # input and output windows have the same side, so the matrix needs no rescaling.
        theta = torch.cat([matrix, (2.0 * offset / size).unsqueeze(-1)], dim=-1)
        if images.is_cuda:  # drawn on the CPU (the same draws on every device); a pinned copy does not wait for the GPU
            theta = theta.pin_memory()
        grid = F.affine_grid(theta.to(images.device, images.dtype, non_blocking=True), [count, channels, size, size],
                             align_corners=False)
    # Sampling (image - fill) with zero padding fills everything outside the image with ``fill``.
    return F.grid_sample(images - fill, grid, mode="bilinear", padding_mode="zeros", align_corners=False) + fill


def transform_chain(images: torch.Tensor, steps: Sequence[tuple[str, object]], fill: float = 0.5) -> torch.Tensor:
    """A fixed chain of steps applied to every image of a batch (N, C, S, S) in ONE resampling, as :class:`Compose`
    applies its random draws: what a render's transforms do to an image, with chosen instead of random parameters.

    ``steps``, first applied first: ``("shift", (dx, dy))`` moves the window by dx pixels right and dy down (output
    pixel p shows the input at p + (dx, dy)); ``("scale", factor)`` zooms in by ``factor`` (p shows p / factor);
    ``("rotate", degrees)`` turns the picture clockwise on screen (p shows R p, R = [[cos, sin], [-sin, cos]] on
    (x, y) with y down). Coordinates are in pixels from the image's centre; outside the image is ``fill``.
    (Exercise 10 of lesson 01; the lesson renders with :class:`Compose` through ``render`` instead.)
    """
    draws = []
    for kind, value in steps:
        matrix, offset = torch.eye(2), torch.zeros(2)
        if kind == "shift":
            offset = torch.as_tensor(value, dtype=torch.float32).reshape(2)
        elif kind == "scale":
            matrix = matrix / float(value)
        elif kind == "rotate":
            matrix = RandomRotate((float(value),)).sample(1, torch.Generator())[0][0]
        else:
            raise ValueError(f"A step is ('shift', (dx, dy)), ('scale', factor) or ('rotate', degrees), not {kind!r}.")
        draws.append((matrix.expand(len(images), 2, 2), offset.expand(len(images), 2)))
    return _resample_folded(images, draws, fill)


def standard_transforms() -> Compose:
    """The default chain, after Lucid's: pad 12, jitter 8, scale 0.95-1.05, rotate ±5°, jitter 4."""
    return Compose((Pad(12), Jitter(8), RandomScale((1.0, 0.975, 1.025, 0.95, 1.05)), RandomRotate(tuple(range(-5, 6))), Jitter(4)))


def light_transforms() -> Compose:
    """A gentler chain for small images (under ~64 px): pad 2, jitter 2, scale 0.975-1.025, rotate ±2°, jitter 1."""
    return Compose((Pad(2), Jitter(2), RandomScale((1.0, 0.975, 1.025)), RandomRotate(tuple(range(-2, 3))), Jitter(1)))


PRESETS = {"standard": standard_transforms, "light": light_transforms, "none": Compose}


def get_transforms(spec: str | Compose | Sequence[Transform] | None) -> Compose:
    """Resolve a preset name (``"standard"``, ``"light"``, ``"none"``), a list of steps (built-in or callables),
    a Compose or None."""
    if spec is None:
        return Compose()
    if isinstance(spec, Compose):
        return spec
    if isinstance(spec, str):
        if spec not in PRESETS:
            raise ValueError(f"Unknown transform preset {spec!r}; choose one of {sorted(PRESETS)}, or pass a Compose.")
        return PRESETS[spec]()
    return Compose(tuple(spec))
