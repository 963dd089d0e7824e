"""The magnitude spectrum of natural photographs, measured from the course's own pictures and cached.

Natural images have a characteristic power spectrum (roughly 1/f**2): the natural-spectrum
parameterization (:class:`helpers.featurevis.param.NaturalSpectrumImage`, after MACO, Fel et al. 2023)
keeps an image's Fourier magnitudes fixed to this average and lets the optimizer change only the
phases, so every image it makes has the contrast of a photograph by construction.

The spectrum is measured in the space the parameterizations optimize in: pixels passed through
the inverse sigmoid (logit) and the inverse colour matrix, the mean of each image removed. Random
phases with these magnitudes, through the colour matrix and the sigmoid, give images whose pixels
spread like the photographs'. Photographs come from Imagenette when it is on disk, otherwise from
scikit-image's bundled photographs (no download, ever); the result is cached in ``data/cache``.
"""
from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Iterable

import torch

from ..config import CACHE_DIR, DATASETS_DIR
from ..files import make_folder, save_or_warn, write_atomically
from ..images import ImageFolder, ImageSource, offline_patches
from .param import PHOTO_EDGE, to_optimized_space

FORMAT_VERSION = 1


def default_photos(size: int, count: int = 256) -> ImageSource:
    """Photographs to measure: Imagenette's validation images when present on disk, else scikit-image's crops."""
    folder = DATASETS_DIR / "imagenette2-160" / "val"
    if folder.is_dir():
        return ImageFolder(folder, size=size)
    return offline_patches(count=count, size=size)


def measure_spectrum(images: Iterable[torch.Tensor], colour: torch.Tensor, max_images: int | None = None) -> torch.Tensor:
    """Root-mean-square Fourier magnitude (C, S, S//2+1) of images (N, C, S, S) in [0, 1], in the optimized space.

    ``colour`` is the parameterization's (normalized) colour matrix; the zero-frequency term is set to 0,
    so images built from this spectrum have a mid-grey mean and only the phases decide what they show.
    """
    total, count = None, 0
    for batch in images:
        if batch.dim() != 4 or batch.shape[1] != colour.shape[0] or batch.shape[-1] != batch.shape[-2]:
            raise ValueError(f"measure_spectrum needs square (N, {colour.shape[0]}, S, S) images, got {tuple(batch.shape)}.")
        raw = to_optimized_space(batch.double(), colour.double())
        raw = raw - raw.mean(dim=(2, 3), keepdim=True)
        power = torch.fft.rfft2(raw, norm="ortho").abs().pow(2).sum(0)
        total = power if total is None else total + power
        count += batch.shape[0]
        if max_images is not None and count >= max_images:
            break
    if not count:
        raise ValueError("measure_spectrum got no images.")
    magnitude = (total / count).sqrt()
    magnitude[:, 0, 0] = 0.0
    return magnitude.float()


def falloff(magnitude: torch.Tensor, cycles: tuple[int, ...] = (1, 2, 4, 8, 16)) -> str:
    """How a magnitude spectrum (C, S, S//2+1) falls with frequency: its mean over channels and over the frequencies
    whose distance from zero rounds to each of ``cycles`` (cycles per image), in one printed line."""
    size = magnitude.shape[-2]
    fy, fx = torch.fft.fftfreq(size)[:, None] * size, torch.fft.rfftfreq(2 * (magnitude.shape[-1] - 1))[None, :] * size
    radius = (fy ** 2 + fx ** 2).sqrt().round()
    values = [float(magnitude[:, radius == c].mean()) for c in cycles if c <= size // 2]
    shown = ", ".join(f"{c}: {v:.3g}" for c, v in zip(cycles, values))
    return (f"mean magnitude at (cycles per image) {shown}; each doubling of the frequency divides it by about "
            f"{(values[0] / values[-1]) ** (1 / max(len(values) - 1, 1)):.2f} (a 1/f spectrum: by 2)")


def _cache_file(source: ImageSource, colour: torch.Tensor, max_images: int) -> Path:
    digest = hashlib.sha256(f"{FORMAT_VERSION}:{source.key}:{max_images}:{PHOTO_EDGE}".encode())
    digest.update(colour.detach().cpu().double().numpy().tobytes())
    return CACHE_DIR / "natural_spectrum" / f"spectrum-{source.size}px-{digest.hexdigest()[:16]}.pt"


def _save(path: Path, magnitude: torch.Tensor) -> None:
    """Cache the spectrum with the course's one atomic write; a folder that refuses it costs a warning only."""
    def write(target: Path) -> None:
        make_folder(target.parent)
        write_atomically(target, lambda temporary: torch.save(magnitude, temporary))

    save_or_warn(path, write, "the natural spectrum (it will be measured again)")


def natural_spectrum(size: int, colour: torch.Tensor, *, source: ImageSource | None = None, max_images: int = 256,
                     use_cache: bool = True) -> torch.Tensor:
    """The photographs' RMS magnitude spectrum (C, size, size//2+1) for ``size``-px images and colour matrix ``colour``.

    ``colour`` is the normalized colour matrix of the parameterization (identity: plain RGB). Cached in
    ``data/cache/natural_spectrum`` keyed by the photographs, the size and the colour matrix.
    """
    if int(size) < 2:
        raise ValueError(f"natural_spectrum needs size >= 2 pixels, got {size}.")
    source = default_photos(int(size), max_images) if source is None else source
    if source.size != size:
        raise ValueError(f"The photographs are {source.size} px but a {size}-px spectrum was asked for.")
    path = _cache_file(source, colour, max_images)
    if use_cache and path.exists():
        try:
            return torch.load(path, map_location="cpu", weights_only=True)
        except Exception:  # a truncated or foreign file: measure again
            pass
    magnitude = measure_spectrum(iter(source), colour.detach().cpu(), max_images)
    if use_cache:
        _save(path, magnitude)
    return magnitude
