"""High-low frequency boundaries: fine texture on one side of a line, smooth texture on the other.

The picture a high-low frequency detector looks for: an edge in *frequency*, not in brightness.
Both sides have the same mean brightness and the same contrast (standard deviation), so the only
thing that changes across the line is how fine the texture is.

Conventions (used by every function here):

- ``orientation`` is the direction, in degrees counter-clockwise from "right" (screen up is +90),
  in which the **high-frequency** side lies. ``orientation=0`` puts the fine texture on the right and
  the smooth texture on the left; ``orientation=180`` swaps the sides; ``90`` puts the fine texture
  at the top. The boundary line itself runs at ``orientation + 90``.
- Frequencies are in cycles per pixel (0.5 is the finest a pixel grid can show).
- ``offset`` moves the boundary along ``orientation``, in pixels from the image centre.
- Every image is a (3, S, S) float tensor in [0, 1]; everything random takes a ``seed``.

Also here: photographs with the background blurred (:func:`blur_outside`, :func:`blur_half_plane`),
the natural situation the paper suggests these detectors are for, and :func:`high_frequency_fraction`,
which measures a patch's frequency content with an FFT (:func:`side_fractions`: of several named regions).
"""
from __future__ import annotations

import math
from typing import Literal, Sequence

import numpy as np
import torch
import torch.nn.functional as F

Kind = Literal["noise", "grating"]
KINDS = ("noise", "grating")


def _check_size(size: int) -> int:
    if not isinstance(size, (int, np.integer)) or size < 8:
        raise ValueError(f"size must be an integer of at least 8 pixels, not {size!r}.")
    return int(size)


def _check_frequency(value: float, name: str, allow_zero: bool = False) -> float:
    value = float(value)
    low_ok = value >= 0 if allow_zero else value > 0
    if not (low_ok and value <= 0.5):
        allowed = "0 (flat) to 0.5" if allow_zero else "above 0 and at most 0.5"
        raise ValueError(f"{name} must be in cycles per pixel, {allowed}; got {value}.")
    return value


def _coordinates(size: int, center: tuple[float, float] | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Pixel coordinates (x to the right, y up) relative to ``center``, each (S, S).

    ``center`` is an (x, y) point in pixels from the top-left corner, pixel centres at half-integers
    (the convention of :mod:`helpers.tuning`); the default is the middle of the image.
    """
    cx, cy = center if center is not None else (size / 2, size / 2)
    rows, cols = torch.meshgrid(torch.arange(size, dtype=torch.float64), torch.arange(size, dtype=torch.float64), indexing="ij")
    return cols + 0.5 - cx, cy - (rows + 0.5)


def half_plane_mask(
    size: int, orientation: float = 0.0, offset: float = 0.0, softness: float = 0.75, center: tuple[float, float] | None = None
) -> torch.Tensor:
    """(S, S) mask in [0, 1]: 1 on the side ``orientation`` points to, 0 on the other, a soft step between.

    The boundary passes ``offset`` pixels from ``center`` (default: the image's middle) towards
    ``orientation``; ``softness`` is the width (pixels) of the transition, which keeps it from aliasing.
    """
    size = _check_size(size)
    if softness <= 0:
        raise ValueError(f"softness must be positive (pixels), not {softness}.")
    x, y = _coordinates(size, center)
    angle = math.radians(orientation)
    distance = x * math.cos(angle) + y * math.sin(angle) - offset
    return torch.sigmoid(distance / softness).float()


def band_limited_noise(size: int, frequency: float, seed: int = 0, bandwidth: float = 1.0) -> torch.Tensor:
    """(S, S) isotropic noise whose power sits in one band around ``frequency`` (cycles/pixel).

    The band spans ``bandwidth`` octaves centred on ``frequency``; the result has mean 0 and standard
    deviation 1. ``frequency=0`` gives a flat (all-zero) image: the limit of a perfectly smooth texture.
    """
    size = _check_size(size)
    frequency = _check_frequency(frequency, "frequency", allow_zero=True)
    if bandwidth <= 0:
        raise ValueError(f"bandwidth must be a positive number of octaves, not {bandwidth}.")
    if frequency == 0:
        return torch.zeros(size, size)
    rng = np.random.default_rng(seed)
    white = rng.standard_normal((size, size))
    fy = np.fft.fftfreq(size)[:, None]
    fx = np.fft.fftfreq(size)[None, :]
    radius = np.sqrt(fx**2 + fy**2)
    low, high = frequency * 2 ** (-bandwidth / 2), min(frequency * 2 ** (bandwidth / 2), 0.5 * math.sqrt(2))
    band = ((radius >= low) & (radius <= high)).astype(float)
    if band.sum() == 0:  # a band narrower than the frequency grid: keep the nearest ring
        band = (np.abs(radius - frequency) <= 1.0 / size).astype(float)
    noise = np.real(np.fft.ifft2(np.fft.fft2(white) * band))
    noise = (noise - noise.mean()) / (noise.std() + 1e-12)
    return torch.from_numpy(noise).float()


def grating(size: int, frequency: float, direction: float, phase: float = 0.0) -> torch.Tensor:
    """(S, S) sine grating with mean 0 and standard deviation 1, its waves travelling along ``direction`` (degrees)."""
    size = _check_size(size)
    frequency = _check_frequency(frequency, "frequency", allow_zero=True)
    if frequency == 0:
        return torch.zeros(size, size)
    x, y = _coordinates(size)
    angle = math.radians(direction)
    wave = torch.sin(2 * math.pi * frequency * (x * math.cos(angle) + y * math.sin(angle)) + phase)
    return (wave * math.sqrt(2)).float()


def _texture(kind: str, size: int, frequency: float, seed: int, orientation: float) -> torch.Tensor:
    if kind == "noise":
        return band_limited_noise(size, frequency, seed=seed)
    if kind == "grating":
        # Stripes perpendicular to the boundary, so the boundary is not itself a stripe edge.
        phase = float(np.random.default_rng(seed).uniform(0, 2 * math.pi))
        return grating(size, frequency, direction=orientation + 90.0, phase=phase)
    raise ValueError(f"kind must be one of {KINDS}, not {kind!r}.")


def frequency_boundary(
    size: int = 224,
    orientation: float = 0.0,
    high_frequency: float = 0.25,
    low_frequency: float = 0.03,
    *,
    contrast: float = 1.0,
    offset: float = 0.0,
    center: tuple[float, float] | None = None,
    kind: Kind = "noise",
    seed: int = 0,
) -> torch.Tensor:
    """A (3, S, S) grey image in [0, 1]: ``high_frequency`` texture on the ``orientation`` side, ``low_frequency`` on the other.

    Both sides have mean 0.5 and the same standard deviation, ``contrast / 6`` (so ``contrast=1`` fills
    [0, 1] to about three standard deviations); ``low_frequency=0`` leaves that side flat grey.
    ``kind="noise"`` uses band-limited noise (one octave wide), ``kind="grating"`` sine stripes running
    across the boundary. ``center`` (x, y pixels) is the point the boundary passes through (e.g. a
    unit's receptive-field centre, :func:`helpers.probing.place_on_receptive_field`).
    """
    size = _check_size(size)
    high_frequency = _check_frequency(high_frequency, "high_frequency", allow_zero=True)
    low_frequency = _check_frequency(low_frequency, "low_frequency", allow_zero=True)
    if not 0 <= contrast <= 1:
        raise ValueError(f"contrast must be in [0, 1], not {contrast}.")
    high = _texture(kind, size, high_frequency, seed, orientation)
    low = _texture(kind, size, low_frequency, seed + 1, orientation)
    mask = half_plane_mask(size, orientation, offset, center=center)
    texture = mask * high + (1 - mask) * low
    grey = (0.5 + texture * (contrast / 6.0)).clamp(0, 1)
    return grey.expand(3, size, size).clone()


def boundary_grid(
    orientations: Sequence[float],
    ratios: Sequence[float],
    size: int = 96,
    high_frequency: float = 0.25,
    *,
    contrast: float = 1.0,
    center: tuple[float, float] | None = None,
    kind: Kind = "noise",
    seed: int = 0,
) -> torch.Tensor:
    """Boundaries over orientation x frequency ratio, shape (len(orientations), len(ratios), 3, S, S).

    The ratio is ``high_frequency / low_frequency``: ratio 1 is the same texture on both sides (no
    frequency boundary at all, the control), larger ratios make the low side smoother. Every image
    uses the same ``seed``, so the grid varies only the two parameters.
    """
    orientations, ratios = list(orientations), list(ratios)
    if not orientations or not ratios:
        raise ValueError("boundary_grid needs at least one orientation and one ratio.")
    if any(r < 1 for r in ratios):
        raise ValueError(f"ratios must be >= 1 (high / low frequency); got {ratios}.")
    rows = [
        torch.stack([
            frequency_boundary(size, o, high_frequency, high_frequency / r, contrast=contrast, center=center, kind=kind, seed=seed)
            for r in ratios
        ])
        for o in orientations
    ]
    return torch.stack(rows)


def gaussian_blur(image: torch.Tensor, sigma: float) -> torch.Tensor:
    """Blur a (3, H, W) or (N, 3, H, W) image with a Gaussian of ``sigma`` pixels (reflected borders)."""
    if sigma < 0:
        raise ValueError(f"sigma must be >= 0 pixels, not {sigma}.")
    if sigma == 0:
        return image.clone()
    single = image.dim() == 3
    batch = image[None] if single else image
    radius = max(1, int(math.ceil(3 * sigma)))
    radius = min(radius, min(batch.shape[-2:]) - 1)
    taps = torch.arange(-radius, radius + 1, dtype=batch.dtype)
    kernel = torch.exp(-(taps**2) / (2 * sigma**2))
    kernel = kernel / kernel.sum()
    channels = batch.shape[1]
    out = F.pad(batch, (radius, radius, radius, radius), mode="reflect")
    out = F.conv2d(out, kernel.view(1, 1, 1, -1).expand(channels, 1, 1, -1), groups=channels)
    out = F.conv2d(out, kernel.view(1, 1, -1, 1).expand(channels, 1, -1, 1), groups=channels)
    return out[0] if single else out


def blur_outside(image: torch.Tensor, mask: torch.Tensor, sigma: float) -> torch.Tensor:
    """Keep ``image`` sharp where ``mask`` is 1 and blur it by ``sigma`` pixels where it is 0 (a fake shallow focus)."""
    if image.dim() != 3 or image.shape[0] != 3:
        raise ValueError(f"image must be (3, H, W) in [0, 1], got shape {tuple(image.shape)}.")
    if mask.shape[-2:] != image.shape[-2:]:
        raise ValueError(f"mask must be {tuple(image.shape[-2:])} like the image, got {tuple(mask.shape)}.")
    mask = mask.to(image.dtype).clamp(0, 1)
    return (mask * image + (1 - mask) * gaussian_blur(image, sigma)).clamp(0, 1)


def blur_half_plane(
    image: torch.Tensor, sigma: float, orientation: float = 0.0, offset: float = 0.0, center: tuple[float, float] | None = None
) -> torch.Tensor:
    """Blur one half of a square photograph: sharp on the ``orientation`` side, blurred by ``sigma`` on the other."""
    if image.dim() != 3 or image.shape[1] != image.shape[2]:
        raise ValueError(f"image must be a square (3, S, S) tensor, got shape {tuple(image.shape)}.")
    return blur_outside(image, half_plane_mask(image.shape[-1], orientation, offset, center=center), sigma)


def high_frequency_fraction(patch: torch.Tensor, cutoff: float = 0.125) -> float:
    """Share of a patch's (mean-removed) power above ``cutoff`` cycles/pixel, measured with a windowed FFT.

    Takes a (3, H, W) or (H, W) patch; a flat patch returns 0. It is meant for patches cut out of a photograph: the
    window keeps the patch's cut edges from counting as fine detail. Whole images (a visualization, which wraps
    around) are measured by :func:`helpers.featurevis.fragility.high_frequency_share`.
    """
    if patch.dim() == 3:
        patch = patch.mean(0)
    if patch.dim() != 2 or min(patch.shape) < 4:
        raise ValueError(f"patch must be (H, W) or (3, H, W) with sides of at least 4 pixels, got {tuple(patch.shape)}.")
    values = patch.double() - patch.double().mean()
    window = torch.outer(torch.hann_window(values.shape[0], periodic=False, dtype=torch.float64),
                         torch.hann_window(values.shape[1], periodic=False, dtype=torch.float64))
    power = torch.fft.fft2(values * window).abs() ** 2
    fy = torch.fft.fftfreq(values.shape[0], dtype=torch.float64)[:, None]
    fx = torch.fft.fftfreq(values.shape[1], dtype=torch.float64)[None, :]
    radius = torch.sqrt(fx**2 + fy**2)
    total = float(power.sum())
    return 0.0 if total < 1e-12 else float(power[radius > cutoff].sum()) / total


def side_fractions(image: torch.Tensor, boxes: dict[str, tuple[slice, slice]], cutoff: float = 0.125) -> dict[str, float]:
    """Each named region of an image, ``{name: (rows, cols)}`` slices of a (3, H, W) or (H, W) image, with its share of
    power above ``cutoff`` cycles/pixel (:func:`high_frequency_fraction`): for example the two sides of a boundary."""
    if not boxes:
        raise ValueError("Give at least one region: {name: (row slice, column slice)}.")
    return {name: high_frequency_fraction(image[..., rows, cols], cutoff) for name, (rows, cols) in boxes.items()}
