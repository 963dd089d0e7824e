"""Drawing for the notebooks. Only ``plotting`` and ``widgets`` draw; every other module is headless.

This module holds the conversions every figure shares, so a saved image is the displayed image:
:func:`to_numpy_image` is the one conversion used both by :func:`images_figure` and :func:`save_image`.
Lesson-specific figures live in submodules (``helpers.plotting.curves`` and so on).
"""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from matplotlib import pyplot as plt
from matplotlib.figure import Figure


def to_numpy_image(image: torch.Tensor | np.ndarray) -> np.ndarray:
    """A (3, H, W) or (H, W, 3) image in [0, 1] as an (H, W, 3) uint8 array, the one displayed and saved."""
    if isinstance(image, torch.Tensor):
        image = image.detach().cpu().float()
        if image.dim() == 3 and image.shape[0] in (1, 3):
            image = image.permute(1, 2, 0)
        image = image.numpy()
    image = np.asarray(image, dtype=np.float32)
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[:, :, 0]
    if image.ndim == 2:
        image = np.repeat(image[:, :, None], 3, axis=2)
    return (np.clip(image, 0, 1) * 255 + 0.5).astype(np.uint8)


def stretch_contrast(images: torch.Tensor, target_std: float = 0.2) -> torch.Tensor:
    """For display only: each image's deviations from its mean colour scaled up to pixel std ``target_std``.

    ``images`` is (N, C, H, W) in [0, 1]. Images already at least that contrasted, and flat grey
    ones, are returned unchanged; the result is clipped to [0, 1]. The stretched image is NOT the
    optimized one (its objective value differs): label figures that show it.
    """
    if images.dim() != 4:
        raise ValueError(f"stretch_contrast expects images of shape (N, C, H, W), got {tuple(images.shape)}.")
    if not 0 < target_std <= 0.5:
        raise ValueError(f"target_std must be in (0, 0.5] (the std of pixels in [0, 1]), got {target_std}.")
    mean_colour = images.mean(dim=(2, 3), keepdim=True)
    current = images.flatten(1).std(1).view(-1, 1, 1, 1)
    gain = torch.where(current > 1e-6, target_std / current.clamp(min=1e-6), torch.ones_like(current)).clamp(min=1.0)
    stretched = (mean_colour + (images - mean_colour) * gain).clamp(0.0, 1.0)
    return torch.where(gain > 1.0, stretched, images)


def stretch_for_display(image: torch.Tensor) -> torch.Tensor:
    """One (3, H, W) image with its contrast raised if it is faint (see :func:`stretch_contrast`)."""
    return stretch_contrast(image[None])[0]


def save_image(image: torch.Tensor | np.ndarray, path: str | Path) -> Path:
    """Save an image in [0, 1] as a PNG, pixel for pixel what :func:`images_figure` displays."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    plt.imsave(path, to_numpy_image(image))
    return path


def images_figure(
    images: torch.Tensor | Sequence[torch.Tensor],
    titles: Sequence[str] | None = None,
    ncols: int | None = None,
    size: float = 2.0,
    suptitle: str | None = None,
    stretch: bool = False,
) -> Figure:
    """A grid of images in [0, 1] with optional titles; returns the figure.

    ``stretch=True`` raises faint images' contrast for display (feature visualizations of some
    models are nearly grey) and says so in the figure's title.
    """
    images = [stretch_for_display(image) for image in images] if stretch else list(images)
    if stretch:
        suptitle = f"{suptitle} (contrast stretched for display)" if suptitle else "contrast stretched for display"
    ncols = ncols or min(len(images), 8)
    nrows = max(1, -(-len(images) // ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(size * ncols, size * nrows + (0.4 if suptitle else 0)), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for i, image in enumerate(images):
        ax = axes.flat[i]
        ax.imshow(to_numpy_image(image), interpolation="nearest" if to_numpy_image(image).shape[0] < 64 else "antialiased")
        if titles is not None and i < len(titles):
            ax.set_title(titles[i], fontsize=8)
    if suptitle:
        fig.suptitle(suptitle)
    fig.tight_layout()
    return fig


def draw_weight_heatmap(ax: plt.Axes, weights: torch.Tensor | np.ndarray, title: str | None = None, vmax: float | None = None) -> None:
    """Draw a k x k weight grid the Circuits way: red excites, blue inhibits, white is zero."""
    weights = weights.detach().cpu().numpy() if isinstance(weights, torch.Tensor) else np.asarray(weights)
    vmax = vmax or float(np.abs(weights).max()) or 1.0
    ax.imshow(weights, cmap="RdBu_r", vmin=-vmax, vmax=vmax, interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])
    if title:
        ax.set_title(title, fontsize=8)
