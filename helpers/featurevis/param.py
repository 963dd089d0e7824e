"""Image parameterizations: the numbers the optimizer changes, and how they become images.

Every parameterization is an ``nn.Module`` whose ``forward()`` (no argument) returns a batch of
images (N, 3, S, S) in [0, 1]. Two are provided:

* :class:`PixelImage` – one free number per pixel and colour channel.
* :class:`FourierImage` – the image's 2-D Fourier coefficients, scaled by 1/frequency so that
  a step of the optimizer changes coarse structure as easily as fine detail (plain pixels
  favour high-frequency noise), with colours expressed in a decorrelated colour basis.

Both pass the result through a colour matrix (see :func:`color_matrix_from_images`) and a
sigmoid, so pixels always stay in [0, 1]; both start from small random numbers drawn from a
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


def imagenet_color_matrix() -> torch.Tensor:
    """The (3, 3) square root of ImageNet's RGB colour covariance (M @ M.T = covariance)."""
    return _IMAGENET_EIGENVECTORS * _IMAGENET_EIGENVALUES.sqrt()


def color_matrix_from_images(images: torch.Tensor | Iterable[torch.Tensor]) -> torch.Tensor:
    """The (C, C) square root M of the colour covariance of your own images (M @ M.T = covariance).

    ``images`` is a (N, C, H, W) tensor in [0, 1] or an iterable of such batches (any image
    source of :mod:`helpers.images`). Pass the result as ``color_matrix=`` to a parameterization
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
        raise ValueError("color_matrix_from_images needs at least two pixels.")
    mean = total / count
    covariance = (outer - count * torch.outer(mean, mean)) / (count - 1)
    eigenvalues, eigenvectors = torch.linalg.eigh(covariance)
    if float(eigenvalues.min()) <= 1e-12:
        raise ValueError("The images' colours are degenerate (e.g. all grey): their covariance cannot be inverted.")
    return (eigenvectors * eigenvalues.sqrt()).float()


def _normalized(color_matrix: torch.Tensor | None, channels: int) -> torch.Tensor:
    """The colour matrix scaled so its strongest direction has length 1 (identity when None)."""
    if color_matrix is None:
        return torch.eye(channels)
    matrix = torch.as_tensor(color_matrix, dtype=torch.float32)
    if matrix.shape != (channels, channels):
        raise ValueError(f"color_matrix must have shape ({channels}, {channels}), got {tuple(matrix.shape)}.")
    if torch.linalg.matrix_rank(matrix) < channels:
        raise ValueError("color_matrix must be invertible.")
    return matrix / matrix.norm(dim=0).max()


class ImageParam(nn.Module):
    """Base class: ``forward()`` returns (count, channels, size, size) images in [0, 1]."""

    def __init__(self, size: int, count: int, channels: int, color_matrix: torch.Tensor | None):
        super().__init__()
        if size < 2 or count < 1 or channels < 1:
            raise ValueError(f"Need size >= 2, count >= 1 and channels >= 1; got size={size}, count={count}, channels={channels}.")
        self.size, self.count, self.channels = int(size), int(count), int(channels)
        self.register_buffer("color", _normalized(color_matrix, channels), persistent=False)

    def decorrelated(self) -> torch.Tensor:
        """The image before colours are mixed and squashed: (count, channels, size, size)."""
        raise NotImplementedError

    def forward(self) -> torch.Tensor:
        """The current images, (count, channels, size, size) in [0, 1]."""
        raw = self.decorrelated()
        mixed = torch.einsum("ij,njhw->nihw", self.color, raw)
        return torch.sigmoid(mixed)


class PixelImage(ImageParam):
    """One learnable number per pixel and channel (the simplest parameterization)."""

    def __init__(self, size: int, count: int = 1, *, channels: int = 3, color_matrix: torch.Tensor | None = None,
                 std: float = 0.01, generator: torch.Generator | None = None):
        super().__init__(size, count, channels, color_matrix)
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

    def __init__(self, size: int, count: int = 1, *, channels: int = 3, color_matrix: torch.Tensor | None = None,
                 std: float = 0.01, decay: float = 1.0, generator: torch.Generator | None = None):
        super().__init__(size, count, channels, color_matrix)
        width = size // 2 + 1
        self.spectrum = nn.Parameter(torch.randn(count, channels, size, width, 2, generator=generator) * std)
        self.register_buffer("scale", frequency_scale(size, decay), persistent=False)

    def decorrelated(self) -> torch.Tensor:
        """Inverse FFT of the scaled coefficients (orthonormal, so a coefficient's size is a pixel's size)."""
        coefficients = torch.view_as_complex(self.spectrum) * self.scale
        return torch.fft.irfft2(coefficients, s=(self.size, self.size), norm="ortho")


PARAMETERIZATIONS = {"fourier": FourierImage, "pixel": PixelImage}


def make_param(kind: str, size: int, count: int = 1, *, seed: int | torch.Generator = 0, decorrelate: bool = True,
               color_matrix: torch.Tensor | None = None, channels: int = 3, std: float = 0.01) -> ImageParam:
    """Build a parameterization by name (``"fourier"`` or ``"pixel"``) for ``count`` images of ``size`` px.

    Colours use ImageNet's decorrelation matrix unless ``color_matrix`` is given (e.g. from
    :func:`color_matrix_from_images`) or ``decorrelate=False`` (plain RGB).
    """
    if kind not in PARAMETERIZATIONS:
        raise ValueError(f"Unknown parameterization {kind!r}; choose one of {sorted(PARAMETERIZATIONS)}.")
    generator = seed if isinstance(seed, torch.Generator) else torch.Generator().manual_seed(int(seed))
    if color_matrix is None and decorrelate and channels == 3:
        color_matrix = imagenet_color_matrix()
    elif not decorrelate:
        color_matrix = None
    return PARAMETERIZATIONS[kind](size, count, channels=channels, color_matrix=color_matrix, std=std, generator=generator)
