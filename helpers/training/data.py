"""Labelled data sets: the course's shapes, CIFAR-10 or a folder of images with one subfolder per class."""
from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import torch

from ..arguments import whole_number
from ..config import DATASETS_DIR, is_offline
from ..download import network_timeout
from ..images import ImageFolder
from ..shapes_dataset import SHAPE_CLASSES, ShapesDataset


@dataclass
class LabelledImages:
    """Images (N, 3, H, W) in [0, 1] with class indices (N,) and class names."""

    images: torch.Tensor
    labels: torch.Tensor
    classes: list[str]
    name: str = "images"

    def __post_init__(self) -> None:
        if self.images.dim() != 4 or self.images.shape[1] != 3:
            raise ValueError(f"images must be (N, 3, H, W), got {tuple(self.images.shape)}.")
        if self.labels.shape != (len(self.images),):
            raise ValueError(f"labels must be ({len(self.images)},), one per image; got {tuple(self.labels.shape)}.")
        if len(self.images) and (int(self.labels.min()) < 0 or int(self.labels.max()) >= len(self.classes)):
            raise ValueError(f"labels must lie in 0..{len(self.classes) - 1} (one per class name).")

    def __len__(self) -> int:
        return len(self.labels)

    @property
    def size(self) -> int:
        """Side of the (square) images in pixels."""
        return int(self.images.shape[-1])

    def split(self, test_fraction: float = 0.2, seed: int = 0) -> tuple["LabelledImages", "LabelledImages"]:
        """A seeded random split into (train, test) sets."""
        if not 0 < test_fraction < 1:
            raise ValueError(f"test_fraction must be between 0 and 1, got {test_fraction}.")
        order = torch.randperm(len(self), generator=torch.Generator().manual_seed(seed))
        cut = max(1, int(round(len(self) * test_fraction)))
        if cut >= len(self):
            raise ValueError(f"{len(self)} images are too few to split off a test set of {test_fraction:.0%}.")
        test, train = order[:cut], order[cut:]
        unseen = [name for label, name in enumerate(self.classes) if not bool((self.labels[train] == label).any())]
        if unseen or cut < 10:
            warnings.warn(f"{self.name}: " + (f"no training image for class(es) {', '.join(unseen)} (the network cannot learn "
                          "them); " if unseen else "") + f"the test set holds only {cut} image(s), so its accuracy is noise. "
                          "Use more images per class.", RuntimeWarning, stacklevel=2)
        return (
            LabelledImages(self.images[train], self.labels[train], self.classes, f"{self.name} (train)"),
            LabelledImages(self.images[test], self.labels[test], self.classes, f"{self.name} (test)"),
        )


def shapes_data(count: int = 4000, size: int = 32, seed: int = 0, classes: Sequence[str] = SHAPE_CLASSES,
                upright: bool = False) -> LabelledImages:
    """The course's shapes (offline): ``count`` images of ``size`` pixels, balanced over ``classes`` (``upright``: unrotated)."""
    images, labels = ShapesDataset(count=count, size=size, seed=seed, classes=classes, upright=upright).tensors()
    return LabelledImages(images, labels, list(classes), f"{'upright ' if upright else ''}shapes ({count})")


def cifar10_data(count: int | None = 10000, train: bool = True, seed: int = 0) -> LabelledImages:
    """CIFAR-10 (32 px, 10 classes) from ``data/datasets``, downloaded once when the network is allowed.

    ``count`` images are drawn at random (seeded) from the split; None keeps all of them.
    """
    from torchvision.datasets import CIFAR10

    folder = DATASETS_DIR / "cifar-10-batches-py"
    if not folder.is_dir() and is_offline():
        raise FileNotFoundError(
            f"CIFAR-10 is not in {DATASETS_DIR} and CIRCUITS_OFFLINE is set, so it cannot be downloaded. "
            "Use dataset='shapes' (drawn offline) or an image folder, or unset CIRCUITS_OFFLINE once."
        )
    DATASETS_DIR.mkdir(parents=True, exist_ok=True)
    with network_timeout():  # torchvision's downloader has no timeout of its own
        dataset = CIFAR10(str(DATASETS_DIR), train=train, download=not folder.is_dir())
    images = torch.from_numpy(dataset.data).permute(0, 3, 1, 2).float() / 255.0
    labels = torch.tensor(dataset.targets)
    if count is not None and count < len(labels):
        chosen = torch.randperm(len(labels), generator=torch.Generator().manual_seed(seed))[:count]
        images, labels = images[chosen], labels[chosen]
    return LabelledImages(images, labels, list(dataset.classes), f"CIFAR-10 ({len(labels)})")


def folder_data(root: str | Path, size: int = 32) -> LabelledImages:
    """Any folder of labelled images: one subfolder per class, images anywhere below it, centre-cropped to ``size``."""
    root = Path(root).expanduser()
    if not root.is_dir():
        raise FileNotFoundError(f"Image folder {root} does not exist (or is not a folder).")
    # Hidden folders and macOS's zip debris (__MACOSX) are not classes.
    class_folders = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".") and p.name != "__MACOSX")
    if len(class_folders) < 2:
        raise ValueError(
            f"{root} needs one subfolder per class (at least two), e.g. {root}/cats/*.jpg and {root}/dogs/*.jpg; "
            f"found {len(class_folders)} subfolder(s)."
        )
    images, labels = [], []
    for label, folder in enumerate(class_folders):
        try:
            source = ImageFolder(folder, size=size)
            for _indices, batch in source.indexed_batches():
                images.append(batch)
                labels.append(torch.full((len(batch),), label))
        except ValueError as error:
            raise ValueError(f"Class {folder.name!r} of {root}: {error}") from error
    return LabelledImages(torch.cat(images), torch.cat(labels), [p.name for p in class_folders], root.name)


def load_dataset(
    dataset: str | Path = "shapes", *, count: int = 4000, size: int = 32, seed: int = 0, classes: Sequence[str] | None = None,
    upright: bool = False,
) -> LabelledImages:
    """``"shapes"`` (offline; ``classes`` picks shapes, ``upright`` leaves them unrotated), ``"cifar10"`` (needs the
    network once) or a folder with one subfolder per class."""
    count = whole_number(count, "count", minimum=1)
    size = whole_number(size, "size", minimum=1)
    if classes is not None and len(classes) == 0:
        raise ValueError("classes=[] picks no class: leave classes=None for all shapes, or name at least two.")
    if classes is not None and dataset != "shapes":
        raise ValueError("classes= only chooses among the shapes; a folder's classes are its subfolders.")
    if upright and dataset != "shapes":
        raise ValueError("upright=True only applies to the shapes: other data sets are photographs as they were taken.")
    if dataset == "shapes":
        return shapes_data(count=count, size=size, seed=seed, classes=classes or SHAPE_CLASSES, upright=upright)
    if dataset == "cifar10":
        if size != 32:
            raise ValueError(f"CIFAR-10 images are 32 px; size={size} is not available.")
        return cifar10_data(count=count, seed=seed)
    path = Path(dataset).expanduser()
    if path.exists():
        return folder_data(path, size=size)
    raise ValueError(f"Unknown data set {dataset!r}: use 'shapes', 'cifar10' or the path of an image folder.")
