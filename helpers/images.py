"""Images for the course: one image type, and sources of images that all yield the same batches.

The one image type is a float tensor in [0, 1], RGB, shaped (3, H, W) for one image or
(N, 3, H, W) for a batch. Every source yields such batches, so the dataset-example scanner does not
care where the pictures come from:

- :func:`sample_photos`: the photographs that ship inside scikit-image (no download);
- :class:`RandomCrops`: deterministic random crops at several scales, so a handful of photographs
  gives thousands of patches;
- :class:`ImageFolder`: any folder of images, searched recursively; unreadable files are skipped,
  counted and reported;
- :func:`imagenette`: Imagenette / Imagewoof (fast.ai's ImageNet subsets), downloaded when online.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Iterator, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from .arguments import whole_number
from .config import DATASETS_DIR, is_offline

#: scikit-image's bundled pictures that are photographs of real scenes (others are synthetic or need a download).
PHOTO_NAMES = (
    "astronaut", "chelsea", "coffee", "rocket", "camera", "coins", "clock", "moon", "page",
    "text", "brick", "grass", "gravel", "hubble_deep_field", "immunohistochemistry", "retina", "cell",
)

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp"}


def _scaled_to_unit(array: np.ndarray) -> np.ndarray:
    """Floats in [0, 1] from any numeric array, scaled by its type's range (not clamped away)."""
    if array.dtype == bool:
        return array.astype(np.float32)
    if np.issubdtype(array.dtype, np.integer):
        if array.size and int(array.min()) < 0:
            raise ValueError(f"An image of {array.dtype} holds negative values (down to {int(array.min())}); "
                             "pixel values must be 0 or more.")
        if np.issubdtype(array.dtype, np.unsignedinteger):
            top = float(np.iinfo(array.dtype).max)  # uint8: 255, uint16: 65535
        else:  # signed integers carry no bit depth (np.array of Python ints is int64): judge from the values
            peak = int(array.max()) if array.size else 0
            if peak > 65535:
                raise ValueError(f"An image of {array.dtype} holds values up to {peak}, beyond 16 bits; scale it to "
                                 "floats in [0, 1] yourself.")
            top = 255.0 if peak <= 255 else 65535.0
        return array.astype(np.float32) / top
    if not np.issubdtype(array.dtype, np.floating):
        raise ValueError(f"Cannot read an image of dtype {array.dtype}: use uint8, uint16 or floats in [0, 1].")
    array = array.astype(np.float32)
    if array.size == 0:
        return array
    if not np.isfinite(array).all():
        raise ValueError(f"The image holds NaN or infinite values ({int((~np.isfinite(array)).sum())} of {array.size}).")
    low, high = float(array.min()), float(array.max())
    if high <= 1.1 and low >= -0.1:
        return array  # [0, 1] (a little overshoot from resampling is clipped below)
    if low >= -0.5 and 2.0 < high <= 255.5:
        return array / 255.0  # floats holding 0..255 values
    if low >= -0.5 and high <= 2.0:
        raise ValueError(f"The image's values run from {low:.4g} to {high:.4g}: is that [0, 1] gone too far, [0, 2], or a "
                         "very dark 0..255 image? Say which: divide by the scale you used (x / 2, x / 255) to get [0, 1].")
    raise ValueError(f"The image's values run from {low:.4g} to {high:.4g}: neither [0, 1] nor 0..255. Rescale it to "
                     "[0, 1] first (e.g. (x - x.min()) / (x.max() - x.min())).")


def to_image_tensor(array: np.ndarray | torch.Tensor) -> torch.Tensor:
    """Convert an HxW, HxWx3 or HxWx4 array to a (3, H, W) float tensor in [0, 1].

    Values are scaled by their type's range: uint8 by 255, uint16 by 65535, bool as 0/1, floats in
    [0, 1] as they are and floats holding 0..255 by 255. The alpha channel of an HxWx4 image is dropped.
    """
    if isinstance(array, torch.Tensor):
        array = array.detach().cpu().numpy()
    array = np.asarray(array)
    if array.ndim == 3 and array.shape[0] in (1, 3, 4) and array.shape[2] not in (1, 3, 4):
        raise ValueError(f"Expected an image of shape HxW, HxWx3 or HxWx4, got {array.shape}: it looks like channels "
                         "first (C, H, W); it is probably an image tensor already (or use array.transpose(1, 2, 0)).")
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[:, :, 0]
    if array.ndim != 2 and (array.ndim != 3 or array.shape[2] not in (3, 4)):
        raise ValueError(f"Expected an image of shape HxW, HxWx3 or HxWx4, got {array.shape}.")
    array = _scaled_to_unit(array)
    if array.ndim == 2:
        array = np.repeat(array[:, :, None], 3, axis=2)
    return torch.from_numpy(np.ascontiguousarray(array[:, :, :3])).permute(2, 0, 1).clamp(0, 1)


def resize(images: torch.Tensor, size: int | tuple[int, int]) -> torch.Tensor:
    """Resize (3, H, W) or (N, 3, H, W) images with antialiased bilinear interpolation."""
    single = images.dim() == 3
    batch = images[None] if single else images
    size = (size, size) if isinstance(size, int) else size
    out = F.interpolate(batch, size=size, mode="bilinear", antialias=True, align_corners=False).clamp(0, 1)
    return out[0] if single else out


def center_crop(image: torch.Tensor, size: int) -> torch.Tensor:
    """Resize the short side of a (3, H, W) image to ``size`` and cut the central square."""
    _, h, w = image.shape
    scale = size / min(h, w)
    image = resize(image, (max(size, round(h * scale)), max(size, round(w * scale))))
    _, h, w = image.shape
    top, left = (h - size) // 2, (w - size) // 2
    return image[:, top : top + size, left : left + size]


def load_image(path: str | Path, size: int | None = None) -> torch.Tensor:
    """Read an image file as a (3, H, W) tensor in [0, 1]; raises ValueError naming the file if it is not an image.

    With ``size``, an image whose short side is at least 4 x ``size`` is read reduced (by a whole
    factor, keeping it at least 2 x ``size``) before it is converted, so a huge photograph costs memory
    for its crop, not for all its pixels. An image over Pillow's pixel limit (a decompression bomb) is refused.
    """
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as img:
            if size is not None and min(img.size) >= 4 * size:
                img.draft(img.mode, (2 * size, 2 * size))  # JPEG: decode at a fraction of the resolution
                factor = min(img.size) // (2 * size)
                if factor >= 2:
                    img = (img if img.mode in ("L", "RGB", "RGBA", "I", "F") else img.convert("RGB")).reduce(factor)
            if img.mode in ("I;16", "I;16L", "I;16B", "I;16N", "I"):
                # 16-bit greyscale (PNG): convert("RGB") would clip every value above 255 to white.
                pixels = np.asarray(img)
                if img.mode == "I" and (pixels.min() < 0 or pixels.max() > 65535):
                    return to_image_tensor(pixels.astype(np.int64))  # beyond 16 bits: refused with a message
                return to_image_tensor(pixels.astype(np.uint16))  # scaled by 65535, whatever the brightest pixel
            if img.mode == "F":
                return to_image_tensor(np.asarray(img))
            return to_image_tensor(np.asarray(img.convert("RGB")))
    except Image.DecompressionBombError as error:
        raise ValueError(f"{path} is too large to read safely ({error}); shrink it, or remove it from the folder.") from None
    except (UnidentifiedImageError, OSError, SyntaxError) as error:
        raise ValueError(f"{path} is not a readable image: {error}") from error


def sample_photos(names: Sequence[str] = PHOTO_NAMES) -> dict[str, torch.Tensor]:
    """scikit-image's bundled photographs by name, each a (3, H, W) tensor in [0, 1]."""
    import skimage.data

    photos = {}
    for name in names:
        if name not in PHOTO_NAMES:
            raise ValueError(f"Unknown sample photo {name!r}. Available: {', '.join(PHOTO_NAMES)}.")
        photos[name] = to_image_tensor(getattr(skimage.data, name)())
    return photos


def photo(name: str, size: int | None = None) -> torch.Tensor:
    """One bundled photograph, centre-cropped to a ``size`` square when given."""
    image = sample_photos([name])[name]
    return center_crop(image, size) if size else image


class ImageSource:
    """Base of every source: a fixed, indexable list of (3, size, size) images in [0, 1].

    Iterate for (N, 3, size, size) batches; :meth:`indexed_batches` also gives each image's index,
    so a scanner can keep indices instead of pixels and fetch an image again with ``source[i]``.
    ``key`` names the source and its settings for caches.
    """

    size: int
    batch_size: int

    @property
    def key(self) -> str:  # pragma: no cover - abstract
        raise NotImplementedError

    def __len__(self) -> int:  # pragma: no cover - abstract
        raise NotImplementedError

    def __getitem__(self, index: int) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def _readable(self, index: int) -> torch.Tensor | None:
        return self[index]

    def images(self, indices: Iterable[int] | torch.Tensor) -> torch.Tensor:
        """The images at ``indices``, stacked (N, 3, size, size); negative entries (no image) are skipped."""
        found = [self[int(i)] for i in indices if int(i) >= 0]
        return torch.stack(found) if found else torch.zeros(0, 3, self.size, self.size)

    def indexed_batches(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """Yield (indices, images) batches; images that cannot be read are left out."""
        indices: list[int] = []
        batch: list[torch.Tensor] = []
        for index in range(len(self)):
            image = self._readable(index)
            if image is None:
                continue
            indices.append(index)
            batch.append(image)
            if len(batch) == self.batch_size:
                yield torch.tensor(indices), torch.stack(batch)
                indices, batch = [], []
        if batch:
            yield torch.tensor(indices), torch.stack(batch)

    def __iter__(self) -> Iterator[torch.Tensor]:
        for _indices, images in self.indexed_batches():
            yield images


@dataclass
class RandomCrops(ImageSource):
    """``count`` deterministic random square crops of the given photographs, resized to ``size``.

    Each crop's side is a random fraction (``scales``) of the photo's short side, so one photograph
    gives patches from close-ups to whole scenes; with ``flip`` (the default) crops are flipped
    left-right at random.
    """

    photos: dict[str, torch.Tensor]
    count: int = 1024
    size: int = 224
    scales: tuple[float, float] = (0.15, 1.0)
    seed: int = 0
    batch_size: int = 32
    flip: bool = True
    _boxes: list[tuple[str, int, int, int, bool]] = field(init=False, repr=False)
    _digests: dict[str, tuple[tuple, bytes]] = field(init=False, repr=False, compare=False, default_factory=dict)

    def __post_init__(self) -> None:
        if not self.photos:
            raise ValueError("RandomCrops needs at least one photograph.")
        if self.count < 1 or not 0 < self.scales[0] <= self.scales[1] <= 1:
            raise ValueError(f"Need count >= 1 and 0 < scales[0] <= scales[1] <= 1; got count={self.count}, scales={self.scales}.")
        self.size, self.batch_size = whole_number(self.size, "size"), whole_number(self.batch_size, "batch_size")
        self.count = whole_number(self.count, "count")
        if int(self.size) < 1 or int(self.batch_size) < 1:
            raise ValueError(f"RandomCrops needs size >= 1 pixel and batch_size >= 1; got size={self.size}, "
                             f"batch_size={self.batch_size}.")
        for name, image in self.photos.items():
            if not isinstance(image, torch.Tensor) or image.dim() != 3 or image.shape[0] != 3 or not image.is_floating_point():
                shape = tuple(getattr(image, "shape", ()))
                raise ValueError(f"RandomCrops: photo {name!r} must be a (3, H, W) float tensor in [0, 1], got "
                                 f"{type(image).__name__} of shape {shape}: convert it with to_image_tensor.")
        rng = np.random.default_rng(self.seed)
        names = sorted(self.photos)
        self._boxes = []
        for _ in range(self.count):
            name = names[rng.integers(len(names))]
            _, h, w = self.photos[name].shape
            side = max(8, int(min(h, w) * rng.uniform(*self.scales)))
            top, left = int(rng.integers(h - side + 1)), int(rng.integers(w - side + 1))
            flipped = bool(rng.integers(2))  # drawn even without flip, so the crops themselves do not depend on it
            self._boxes.append((name, top, left, side, flipped and self.flip))

    @property
    def key(self) -> str:
        """Names the photos by a hash of ALL their pixels (any edit changes it) and every setting."""
        digest = hashlib.sha256()
        for name in sorted(self.photos):
            digest.update(name.encode())
            digest.update(self._photo_digest(name))
        return f"crops-{digest.hexdigest()[:16]}-n{self.count}-s{self.size}-sc{self.scales[0]}-{self.scales[1]}-seed{self.seed}{'' if self.flip else '-noflip'}"

    def _photo_digest(self, name: str) -> bytes:
        """SHA-256 of every pixel of one photo; recomputed whenever the tensor is replaced or edited in place."""
        image = self.photos[name]
        # torch counts in-place edits in _version, so an edit through the tensor is never served a stale digest.
        stamp = (id(image), image._version, image.data_ptr(), tuple(image.shape), image.dtype)
        cached = self._digests.get(name)
        if cached is None or cached[0] != stamp:
            pixels = image.detach().cpu().contiguous()
            digest = hashlib.sha256(f"{tuple(pixels.shape)}:{pixels.dtype}".encode())
            digest.update(pixels.numpy().tobytes())
            self._digests[name] = cached = (stamp, digest.digest())
        return cached[1]

    def __len__(self) -> int:
        return self.count

    def __getitem__(self, index: int) -> torch.Tensor:
        """The ``index``-th crop as a (3, size, size) tensor."""
        name, top, left, side, flip = self._boxes[index]
        patch = resize(self.photos[name][:, top : top + side, left : left + side], self.size)
        return patch.flip(-1) if flip else patch


def offline_patches(count: int = 1024, size: int = 224, seed: int = 0, batch_size: int = 32) -> RandomCrops:
    """Random crops of scikit-image's photographs: the course's offline stand-in for a data set."""
    return RandomCrops(sample_photos(), count=count, size=size, seed=seed, batch_size=batch_size)


@dataclass
class ImageFolder(ImageSource):
    """Every image under ``root`` (recursively), centre-cropped to ``size``.

    Unreadable files are skipped, counted in ``skipped`` and reported once the pass ends; an empty or
    missing folder raises a clear error at construction.
    """

    root: str | Path
    size: int = 224
    batch_size: int = 32
    files: list[Path] = field(init=False)
    skipped: list[Path] = field(init=False, default_factory=list)
    _first_problem: str = field(init=False, repr=False, default="")

    def __post_init__(self) -> None:
        self.size = whole_number(self.size, "size", minimum=1)
        self.batch_size = whole_number(self.batch_size, "batch_size", minimum=1)
        root = Path(self.root).expanduser()
        if not root.is_dir():
            raise FileNotFoundError(f"Image folder {root} does not exist (or is not a folder).")
        self.files = sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
        if not self.files:
            raise ValueError(
                f"Image folder {root} holds no images (looked recursively for {', '.join(sorted(IMAGE_SUFFIXES))})."
            )

    @property
    def key(self) -> str:
        digest = hashlib.sha1()
        for path in self.files:
            stat = path.stat()
            digest.update(f"{path}:{stat.st_size}:{stat.st_mtime_ns}".encode())
        return f"folder-{digest.hexdigest()[:12]}-s{self.size}"

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, index: int) -> torch.Tensor:
        """The ``index``-th image, centre-cropped; raises ValueError if the file is unreadable."""
        return center_crop(load_image(self.files[index], self.size), self.size)

    def _readable(self, index: int) -> torch.Tensor | None:
        try:
            return self[index]
        except ValueError as error:
            if self.files[index] not in self.skipped:
                self.skipped.append(self.files[index])
                self._first_problem = self._first_problem or str(error)
            return None

    def indexed_batches(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """Yield (indices, images) batches, then report how many files could not be read."""
        self.skipped, self._first_problem = [], ""
        yield from super().indexed_batches()
        if self.skipped:
            print(f"ImageFolder: skipped {len(self.skipped)} unreadable file(s) of {len(self.files)} (listed in .skipped): "
                  f"{self._first_problem}")
        if len(self.skipped) == len(self.files):
            raise ValueError(f"None of the {len(self.files)} image files under {self.root} could be read.")


IMAGENETTE_URLS = {
    "imagenette": "https://s3.amazonaws.com/fast-ai-imageclas/imagenette2-160.tgz",
    "imagewoof": "https://s3.amazonaws.com/fast-ai-imageclas/imagewoof2-160.tgz",
}


def imagenette(which: str = "imagenette", split: str = "val", size: int = 160, batch_size: int = 32, *,
               timeout: float | None = None, progress: bool = True) -> ImageFolder:
    """Imagenette or Imagewoof (160 px), downloaded once to ``data/datasets/`` when the network allows.

    The archive comes through the course's checked downloader (:func:`helpers.download.download_and_extract`):
    a server that stops answering for ``timeout`` seconds (default ``helpers.download.DEFAULT_TIMEOUT``)
    is a :class:`~helpers.download.DownloadError`, never a hang, and nothing partial is kept.
    """
    if which not in IMAGENETTE_URLS:
        raise ValueError(f"Unknown data set {which!r}: choose one of {', '.join(IMAGENETTE_URLS)}.")
    if split not in ("train", "val"):
        raise ValueError(f"split must be 'train' or 'val', not {split!r}.")
    folder = DATASETS_DIR / f"{which}2-160" / split
    if not folder.is_dir():
        if is_offline():
            raise FileNotFoundError(
                f"{which} is not in {folder.parent} and CIRCUITS_OFFLINE is set. Run `make weights` with a network "
                f"connection, or unpack {IMAGENETTE_URLS[which]} there yourself."
            )
        from .download import DEFAULT_TIMEOUT, DownloadError, download_and_extract

        DATASETS_DIR.mkdir(parents=True, exist_ok=True)
        download_and_extract(IMAGENETTE_URLS[which], DATASETS_DIR, progress=progress,
                             timeout=DEFAULT_TIMEOUT if timeout is None else timeout)
        if not folder.is_dir():
            raise DownloadError(IMAGENETTE_URLS[which], folder.parent, f"the archive holds no {folder.parent.name}/{split} folder",
                                by_hand=f"unpack it into {DATASETS_DIR}")
    return ImageFolder(folder, size=size, batch_size=batch_size)
