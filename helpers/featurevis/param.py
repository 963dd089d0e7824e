"""Image parameterizations: the numbers the optimizer changes, and how they become images.

Every parameterization is an ``nn.Module`` whose ``forward()`` (no argument) returns a batch of
images (N, 3, S, S) in [0, 1]. Four are provided:

* :class:`PixelImage` – one free number per pixel and colour channel.
* :class:`FourierImage` – the image's 2-D Fourier coefficients, scaled by 1/frequency so that
  a step of the optimizer changes coarse structure as easily as fine detail (plain pixels
  favour high-frequency noise), with colours expressed in a decorrelated colour basis.
* :class:`NaturalSpectrumImage` – only the phases of the Fourier coefficients are free; their
  magnitudes are fixed to the average spectrum of photographs (:mod:`.spectrum`; MACO, Fel et
  al. 2023), so every image has a photograph's contrast by construction.
* :class:`PhotoImage` – a given photograph plus a learnable change in the Fourier basis of
  :class:`FourierImage` (starts exactly at the photograph; used by accentuation).

All pass the result through a colour matrix (see :func:`colour_matrix_from_images`) and a
sigmoid, so pixels always stay in [0, 1]; the random ones start from numbers drawn from a
``torch.Generator``, so the same seed gives the same start.
"""
from __future__ import annotations

from typing import Iterable

import torch
from torch import nn

# Principal components of ImageNet's RGB pixel values, as published by Krizhevsky et al. (2012,
# "ImageNet classification with deep CNNs", the "PCA colour augmentation"): eigenvectors as
# columns and their eigenvalues. A matrix M with M @ M.T equal to the colour covariance is
# eigenvectors @ diag(sqrt(eigenvalues)); only its shape matters here (it is normalized below).
_IMAGENET_EIGENVECTORS = torch.tensor(
    [[-0.5675, 0.7192, 0.4009], [-0.5808, -0.0045, -0.8140], [-0.5836, -0.6948, 0.4203]]
)
_IMAGENET_EIGENVALUES = torch.tensor([0.2175, 0.0188, 0.0045])
#: Radians per unit of NaturalSpectrumImage's learnable numbers: render's lr 0.05 then turns phases up to ~0.4 rad a
#: step. Of 8, 20 and 40, 8 drove lesson 11's units furthest (benchmarks/README.md); faster turns scramble the image.
PHASE_GAIN = 8.0
#: Photographs' pixels are clipped to [PHOTO_EDGE, 1 - PHOTO_EDGE] before the inverse sigmoid (keeps them finite).
PHOTO_EDGE = 0.005


def imagenet_colour_matrix() -> torch.Tensor:
    """The (3, 3) square root of ImageNet's RGB colour covariance (M @ M.T = covariance)."""
    return _IMAGENET_EIGENVECTORS * _IMAGENET_EIGENVALUES.sqrt()


def colour_matrix_from_images(images: torch.Tensor | Iterable[torch.Tensor]) -> torch.Tensor:
    """The (C, C) square root M of the colour covariance of your own images (M @ M.T = covariance).

    ``images`` is a (N, C, H, W) tensor in [0, 1] or an iterable of such batches (any image
    source of :mod:`helpers.images`). Pass the result as ``colour_matrix=`` to a parameterization
    so that the optimizer's colour directions match the statistics of your data.
    """
    batches = [images] if isinstance(images, torch.Tensor) else images
    count, total, outer = 0, None, None
    for batch in batches:
        if batch.dim() == 3:
            batch = batch.unsqueeze(0)
        if batch.dim() != 4:
            raise ValueError(f"Expected images of shape (N, C, H, W), got {tuple(batch.shape)}.")
        pixels = batch.detach().double().transpose(0, 1).reshape(batch.shape[1], -1)  # (C, pixels)
        total = pixels.sum(1) if total is None else total + pixels.sum(1)
        outer = pixels @ pixels.T if outer is None else outer + pixels @ pixels.T
        count += pixels.shape[1]
    if count < 2:
        raise ValueError("colour_matrix_from_images needs at least two pixels.")
    mean = total / count
    covariance = (outer - count * torch.outer(mean, mean)) / (count - 1)
    eigenvalues, eigenvectors = torch.linalg.eigh(covariance)
    if float(eigenvalues.min()) <= 1e-12:
        raise ValueError("The images' colours are degenerate (e.g. all grey): their covariance cannot be inverted.")
    return (eigenvectors * eigenvalues.sqrt()).float()


def _normalized(colour_matrix: torch.Tensor | None, channels: int) -> torch.Tensor:
    """The colour matrix scaled so its strongest direction has length 1 (identity when None)."""
    if colour_matrix is None:
        return torch.eye(channels)
    matrix = torch.as_tensor(colour_matrix, dtype=torch.float32)
    if matrix.shape != (channels, channels):
        raise ValueError(f"colour_matrix must have shape ({channels}, {channels}), got {tuple(matrix.shape)}.")
    if torch.linalg.matrix_rank(matrix) < channels:
        raise ValueError("colour_matrix must be invertible.")
    return matrix / matrix.norm(dim=0).max()


class ImageParam(nn.Module):
    """Base class: ``forward()`` returns (count, channels, size, size) images in [0, 1]."""

    def __init__(self, size: int, count: int, channels: int, colour_matrix: torch.Tensor | None):
        super().__init__()
        if size < 2 or count < 1 or channels < 1:
            raise ValueError(f"Need size >= 2, count >= 1 and channels >= 1; got size={size}, count={count}, channels={channels}.")
        self.size, self.count, self.channels = int(size), int(count), int(channels)
        self.register_buffer("colour", _normalized(colour_matrix, channels), persistent=False)

    def decorrelated(self) -> torch.Tensor:
        """The image before colours are mixed and squashed: (count, channels, size, size)."""
        raise NotImplementedError

    def forward(self) -> torch.Tensor:
        """The current images, (count, channels, size, size) in [0, 1]."""
        raw = self.decorrelated()
        mixed = torch.einsum("ij,njhw->nihw", self.colour, raw)
        return torch.sigmoid(mixed)


class PixelImage(ImageParam):
    """One learnable number per pixel and channel (the simplest parameterization)."""

    def __init__(self, size: int, count: int = 1, *, channels: int = 3, colour_matrix: torch.Tensor | None = None,
                 std: float = 0.01, generator: torch.Generator | None = None):
        super().__init__(size, count, channels, colour_matrix)
        self.pixels = nn.Parameter(torch.randn(count, channels, size, size, generator=generator) * std)

    def decorrelated(self) -> torch.Tensor:
        """The learnable pixels themselves."""
        return self.pixels


def frequency_scale(size: int, decay: float = 1.0) -> torch.Tensor:
    """Per-coefficient gain 1 / f**decay of a ``size``-pixel real FFT, normalized to mean square 1.

    With the orthonormal inverse FFT of :class:`FourierImage`, mean square 1 makes one Adam step of
    learning rate ``lr`` change the pixels (before the sigmoid) by ~1.3 * ``lr`` r.m.s. at every
    image size: the step in pixel space does not shrink as images grow.
    """
    fy = torch.fft.fftfreq(size).view(-1, 1)
    fx = torch.fft.rfftfreq(size).view(1, -1)
    frequency = torch.sqrt(fx**2 + fy**2).clamp(min=1.0 / size)  # DC gets the lowest frequency's gain
    scale = frequency.pow(-decay)
    return scale / scale.pow(2).mean().sqrt()


class FourierImage(ImageParam):
    """Images whose learnable numbers are Fourier coefficients scaled by 1/frequency**decay."""

    def __init__(self, size: int, count: int = 1, *, channels: int = 3, colour_matrix: torch.Tensor | None = None,
                 std: float = 0.01, decay: float = 1.0, generator: torch.Generator | None = None):
        super().__init__(size, count, channels, colour_matrix)
        width = size // 2 + 1
        self.spectrum = nn.Parameter(torch.randn(count, channels, size, width, 2, generator=generator) * std)
        self.register_buffer("scale", frequency_scale(size, decay), persistent=False)

    def decorrelated(self) -> torch.Tensor:
        """Inverse FFT of the scaled coefficients (orthonormal, so a coefficient's size is a pixel's size)."""
        coefficients = torch.view_as_complex(self.spectrum) * self.scale
        return torch.fft.irfft2(coefficients, s=(self.size, self.size), norm="ortho")


def to_optimized_space(images: torch.Tensor, colour: torch.Tensor) -> torch.Tensor:
    """The numbers (N, C, S, S) that the sigmoid and colour matrix ``colour`` turn back into ``images`` (in [0, 1])."""
    logits = torch.logit(images.clamp(PHOTO_EDGE, 1 - PHOTO_EDGE))
    return torch.einsum("ij,njhw->nihw", torch.linalg.inv(colour.to(images.dtype)).to(images.device), logits)


def natural_image_from_phases(magnitude: torch.Tensor, phase: torch.Tensor, size: int) -> torch.Tensor:
    """Images (N, C, size, size) before colour mixing: inverse orthonormal FFT of magnitude * exp(i * phase)."""
    return torch.fft.irfft2(torch.polar(magnitude.expand_as(phase), phase), s=(size, size), norm="ortho")


class NaturalSpectrumImage(ImageParam):
    """Images whose Fourier magnitudes are fixed to photographs' average spectrum; only the phases are learned.

    ``magnitude`` (C, size, size//2+1) is measured by :func:`helpers.featurevis.spectrum.natural_spectrum`
    unless given. Phases start uniformly random; ``phase_gain`` scales the learnable numbers into radians
    so that the renderer's usual learning rate turns phases at a useful pace.
    """

    def __init__(self, size: int, count: int = 1, *, channels: int = 3, colour_matrix: torch.Tensor | None = None,
                 magnitude: torch.Tensor | None = None, phase_gain: float = PHASE_GAIN,
                 generator: torch.Generator | None = None):
        super().__init__(size, count, channels, colour_matrix)
        if magnitude is None:
            from .spectrum import natural_spectrum

            magnitude = natural_spectrum(size, self.colour)
        width = size // 2 + 1
        if tuple(magnitude.shape) != (channels, size, width):
            raise ValueError(f"magnitude must have shape ({channels}, {size}, {width}) for {size}-px images, got {tuple(magnitude.shape)}.")
        if phase_gain <= 0:
            raise ValueError(f"phase_gain must be positive, got {phase_gain}.")
        self.phase_gain = float(phase_gain)
        self.register_buffer("magnitude", torch.as_tensor(magnitude, dtype=torch.float32).clone(), persistent=False)
        start = (torch.rand(count, channels, size, width, generator=generator) * 2 - 1) * torch.pi
        self.phase = nn.Parameter(start / self.phase_gain)

    def decorrelated(self) -> torch.Tensor:
        """Inverse FFT of the fixed magnitudes with the current phases."""
        return natural_image_from_phases(self.magnitude, self.phase * self.phase_gain, self.size)


class PhotoImage(ImageParam):
    """Given photographs plus a learnable change in :class:`FourierImage`'s 1/f-scaled basis (zero at the start)."""

    def __init__(self, photos: torch.Tensor, *, colour_matrix: torch.Tensor | None = None, decay: float = 1.0):
        if photos.dim() != 4 or photos.shape[-1] != photos.shape[-2]:
            raise ValueError(f"photos must be square images (N, C, S, S) in [0, 1], got shape {tuple(photos.shape)}.")
        count, channels, size, _ = photos.shape
        super().__init__(size, count, channels, colour_matrix)
        self.register_buffer("base", to_optimized_space(photos.detach().float().cpu(), self.colour), persistent=False)
        self.register_buffer("scale", frequency_scale(size, decay), persistent=False)
        self.spectrum = nn.Parameter(torch.zeros(count, channels, size, size // 2 + 1, 2))

    def decorrelated(self) -> torch.Tensor:
        """The photograph (in the optimized space) plus the inverse FFT of the scaled change."""
        change = torch.view_as_complex(self.spectrum) * self.scale
        return self.base + torch.fft.irfft2(change, s=(self.size, self.size), norm="ortho")


PARAMETERIZATIONS = {"fourier": FourierImage, "pixel": PixelImage, "natural": NaturalSpectrumImage}


def make_param(kind: str, size: int, count: int = 1, *, seed: int | torch.Generator = 0, decorrelate: bool = True,
               colour_matrix: torch.Tensor | None = None, channels: int = 3, std: float = 0.01) -> ImageParam:
    """Build a parameterization by name (``"fourier"``, ``"pixel"`` or ``"natural"``) for ``count`` images of ``size`` px.

    Colours use ImageNet's decorrelation matrix unless ``colour_matrix`` is given (e.g. from
    :func:`colour_matrix_from_images`) or ``decorrelate=False`` (plain RGB). ``std`` is the spread of
    the random start of ``"fourier"`` and ``"pixel"`` (``"natural"`` starts from random phases).
    """
    if kind not in PARAMETERIZATIONS:
        raise ValueError(f"Unknown parameterization {kind!r}; choose one of {sorted(PARAMETERIZATIONS)}.")
    generator = seed if isinstance(seed, torch.Generator) else torch.Generator().manual_seed(int(seed))
    if colour_matrix is None and decorrelate and channels == 3:
        colour_matrix = imagenet_colour_matrix()
    elif not decorrelate:
        colour_matrix = None
    options = {} if kind == "natural" else {"std": std}
    return PARAMETERIZATIONS[kind](size, count, channels=channels, colour_matrix=colour_matrix, generator=generator, **options)
