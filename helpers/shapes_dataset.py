"""A labelled data set the course draws itself: outlined shapes whose classes need curves to tell apart.

Model-free and offline. Every image is a thin anti-aliased stroke (a line, a corner, an arc, a
circle, a triangle, a square, a wave or a spiral) in a random colour on a random background, at a
random size, rotation and position. To tell an arc from a corner or a circle from a square a
network has to see *curvature* and *orientation*, so curve and line detectors have a reason to
form when a small network learns it.

Image ``i`` is drawn from its own random generator seeded with ``(seed, i)``: the set is
deterministic, order-independent, and any image can be drawn again alone. Labels cycle through the
classes (``label = i % number of classes``), so every class has the same count.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import torch

from .images import ImageSource

#: The shapes, in label order.
SHAPE_CLASSES: tuple[str, ...] = ("line", "corner", "arc", "circle", "triangle", "square", "wave", "spiral")

_POINTS_PER_CURVE = 24


def _polygon(corners: int, rotation: float) -> np.ndarray:
    angles = rotation + np.linspace(0, 2 * np.pi, corners + 1)
    return np.stack([np.cos(angles), np.sin(angles)], axis=1)


def shape_outline(name: str, generator: np.random.Generator) -> np.ndarray:
    """Points (M, 2) of a shape's stroke in a unit frame (about [-1, 1]), before rotation and placement."""
    if name == "line":
        return np.array([[-1.0, 0.0], [1.0, 0.0]])
    if name == "corner":
        half_angle = np.deg2rad(generator.uniform(30, 60))  # opening angle 60-120 degrees
        arm = np.array([np.cos(half_angle), np.sin(half_angle)])
        return np.stack([arm * [1, 1], [0.0, 0.0], arm * [1, -1]]) - [0.5 * np.cos(half_angle), 0]
    if name == "arc":
        span = np.deg2rad(generator.uniform(90, 200))
        angles = np.linspace(-span / 2, span / 2, _POINTS_PER_CURVE)
        return np.stack([np.cos(angles), np.sin(angles)], axis=1)
    if name == "circle":
        return _polygon(_POINTS_PER_CURVE, 0.0)
    if name == "triangle":
        return _polygon(3, np.pi / 2)
    if name == "square":
        return _polygon(4, np.pi / 4)
    if name == "wave":
        x = np.linspace(-1, 1, _POINTS_PER_CURVE)
        periods = generator.uniform(1.0, 2.0)
        return np.stack([x, 0.35 * np.sin(np.pi * periods * x + generator.uniform(0, 2 * np.pi))], axis=1)
    if name == "spiral":
        turns = generator.uniform(1.25, 2.0)
        angles = np.linspace(0, 2 * np.pi * turns, 2 * _POINTS_PER_CURVE)
        radius = 0.15 + 0.85 * angles / angles[-1]
        return np.stack([radius * np.cos(angles), radius * np.sin(angles)], axis=1)
    raise ValueError(f"Unknown shape {name!r}. Available: {', '.join(SHAPE_CLASSES)}.")


def render_stroke(points: np.ndarray, size: int, width: float) -> np.ndarray:
    """Anti-aliased coverage (size, size) in [0, 1] of a polyline ``points`` given in pixel coordinates.

    A pixel's coverage falls linearly from 1 to 0 over the one pixel across the stroke's edge,
    from its distance to the nearest segment: a cheap, exact-enough anti-aliasing.
    """
    if points.ndim != 2 or points.shape[1] != 2 or len(points) < 2:
        raise ValueError(f"points must be an (M, 2) array with M >= 2, got shape {points.shape}.")
    ys, xs = np.mgrid[0:size, 0:size].astype(np.float32) + 0.5
    pixels = np.stack([xs.ravel(), ys.ravel()], axis=1)[:, None, :]  # (P, 1, 2)
    points = points.astype(np.float32)
    start, stop = points[:-1][None], points[1:][None]  # (1, S, 2)
    direction = stop - start
    length2 = np.maximum((direction**2).sum(-1), 1e-12)
    along = np.clip(((pixels - start) * direction).sum(-1) / length2, 0.0, 1.0)
    nearest = start + along[..., None] * direction
    distance = np.sqrt(((pixels - nearest) ** 2).sum(-1)).min(axis=1)
    return np.clip(width / 2 + 0.5 - distance, 0.0, 1.0).reshape(size, size)


def _colours(generator: np.random.Generator, min_contrast: float = 0.35) -> tuple[np.ndarray, np.ndarray]:
    while True:
        background, foreground = generator.uniform(0, 1, 3), generator.uniform(0, 1, 3)
        if abs(background.mean() - foreground.mean()) >= min_contrast:
            return background, foreground


def draw_shape(name: str, size: int = 32, generator: np.random.Generator | None = None, noise: float = 0.03,
               upright: bool = False) -> torch.Tensor:
    """One random image (3, size, size) in [0, 1] of the shape ``name``: colours, scale, angle, place and stroke vary.

    ``upright`` keeps every shape at angle 0 (a line lies flat, a triangle stands on its base): the same
    draws otherwise, so the set gains an up and a down, as photographs have.
    """
    if size < 8:
        raise ValueError(f"size must be at least 8 pixels, got {size}.")
    generator = generator if generator is not None else np.random.default_rng()
    outline = shape_outline(name, generator)
    angle = generator.uniform(0, 2 * np.pi)  # drawn even when upright, so both sets share every other draw
    angle = 0.0 if upright else angle
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    scale = size * generator.uniform(0.25, 0.42)
    centre = size / 2 + generator.uniform(-0.12, 0.12, 2) * size
    points = outline @ rotation.T * scale + centre
    width = generator.uniform(0.04, 0.08) * size
    coverage = render_stroke(points, size, width)[None]
    background, foreground = _colours(generator)
    image = background[:, None, None] * (1 - coverage) + foreground[:, None, None] * coverage
    if noise > 0:
        image = image + generator.normal(0, noise, image.shape)
    return torch.from_numpy(np.clip(image, 0, 1).astype(np.float32))


@dataclass
class ShapesDataset(ImageSource):
    """``count`` labelled shape images of ``size`` pixels; an image source every course tool can scan.

    ``dataset[i]`` is image i; :meth:`label` its class index; :meth:`tensors` draws them all at
    once as ``(images, labels)``; ``classes`` names the labels.
    """

    count: int = 4000
    size: int = 32
    seed: int = 0
    classes: Sequence[str] = SHAPE_CLASSES
    noise: float = 0.03
    upright: bool = False
    batch_size: int = 64
    _cache: tuple[torch.Tensor, torch.Tensor] | None = field(init=False, repr=False, default=None)

    def __post_init__(self) -> None:
        if self.count < 1:
            raise ValueError(f"count must be at least 1, got {self.count}.")
        unknown = [name for name in self.classes if name not in SHAPE_CLASSES]
        if unknown or len(self.classes) < 2 or len(set(self.classes)) != len(self.classes):
            raise ValueError(
                f"classes must be at least two different shapes from {', '.join(SHAPE_CLASSES)}; got {list(self.classes)}."
            )
        self.classes = tuple(self.classes)

    @property
    def key(self) -> str:
        settings = f"{self.count}-{self.size}-{self.seed}-{','.join(self.classes)}-{self.noise}" + ("-upright" if self.upright else "")
        return "shapes-" + hashlib.sha1(settings.encode()).hexdigest()[:12]

    def __len__(self) -> int:
        return self.count

    def label(self, index: int) -> int:
        """The class index of image ``index``."""
        if not 0 <= index < self.count:
            raise IndexError(f"Index {index} is outside 0..{self.count - 1}.")
        return index % len(self.classes)

    def __getitem__(self, index: int) -> torch.Tensor:
        """Image ``index`` as a (3, size, size) tensor, the same every time."""
        name = self.classes[self.label(index)]
        return draw_shape(name, self.size, np.random.default_rng([self.seed, index]), self.noise, self.upright)

    def tensors(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Every image (N, 3, size, size) and label (N,), drawn once and kept."""
        if self._cache is None:
            images = torch.stack([self[i] for i in range(self.count)])
            labels = torch.tensor([self.label(i) for i in range(self.count)])
            self._cache = (images, labels)
        return self._cache
