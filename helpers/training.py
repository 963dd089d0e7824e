"""Train a small convolutional network of your own on the CPU, then take it apart with the course's tools.

- Data: :func:`load_dataset` gives a :class:`LabelledImages` from the course's own shapes
  (:mod:`helpers.shapes_dataset`, offline), CIFAR-10 (torchvision, downloaded to ``data/datasets``
  when the network is allowed) or any folder of images with one subfolder per class.
- Network: :class:`SmallConvNet`, four convolutional layers (the first 5x5, so its filters have
  room to become Gabor-like) and a linear read-out; ``width`` sets the channel counts.
- Training: :func:`train_classifier` is seeded and deterministic (the same seed gives bitwise the
  same weights on the same CPU), shows a tqdm bar and returns the loss/accuracy history with the
  network wrapped by :func:`helpers.models.wrap_model`, so every tool of the course works on it.
- :func:`trained_model` trains once and keeps the result in ``data/cache/trained/``, keyed by every
  setting, so two notebooks asking for the same network share one training run.
"""
from __future__ import annotations

import hashlib
import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .config import CACHE_DIR, DATASETS_DIR, fast_or_full, is_offline, weights_kind
from .download import network_timeout
from .images import ImageFolder
from .models import CircuitModel, wrap_model
from .shapes_dataset import SHAPE_CLASSES, ShapesDataset

#: Preprocessing of every small network: images in [0, 1] are mapped to [-1, 1].
NORMALIZE_MEAN = (0.5, 0.5, 0.5)
NORMALIZE_STD = (0.5, 0.5, 0.5)

#: Course layer names of :class:`SmallConvNet` and the activation module each one reads.
SMALL_NET_LAYERS = {"conv1": "relu1", "conv2": "relu2", "conv3": "relu3", "conv4": "relu4"}


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
        return (
            LabelledImages(self.images[train], self.labels[train], self.classes, f"{self.name} (train)"),
            LabelledImages(self.images[test], self.labels[test], self.classes, f"{self.name} (test)"),
        )


def shapes_data(count: int = 4000, size: int = 32, seed: int = 0, classes: Sequence[str] = SHAPE_CLASSES) -> LabelledImages:
    """The course's shapes (offline): ``count`` images of ``size`` pixels, balanced over ``classes``."""
    images, labels = ShapesDataset(count=count, size=size, seed=seed, classes=classes).tensors()
    return LabelledImages(images, labels, list(classes), f"shapes ({count})")


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
    class_folders = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
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
    dataset: str | Path = "shapes", *, count: int = 4000, size: int = 32, seed: int = 0, classes: Sequence[str] | None = None
) -> LabelledImages:
    """``"shapes"`` (offline; ``classes`` picks shapes), ``"cifar10"`` (needs the network once) or a folder with one subfolder per class."""
    if classes is not None and dataset != "shapes":
        raise ValueError("classes= only chooses among the shapes; a folder's classes are its subfolders.")
    if dataset == "shapes":
        return shapes_data(count=count, size=size, seed=seed, classes=classes or SHAPE_CLASSES)
    if dataset == "cifar10":
        if size != 32:
            raise ValueError(f"CIFAR-10 images are 32 px; size={size} is not available.")
        return cifar10_data(count=count, seed=seed)
    path = Path(dataset).expanduser()
    if path.exists():
        return folder_data(path, size=size)
    raise ValueError(f"Unknown data set {dataset!r}: use 'shapes', 'cifar10' or the path of an image folder.")


class SmallConvNet(nn.Module):
    """Four conv layers (5x5, then 3x3) with ReLUs, two max-pools, global average pooling and a linear read-out."""

    def __init__(self, num_classes: int, width: int = 16):
        super().__init__()
        if width < 1 or num_classes < 2:
            raise ValueError(f"width must be >= 1 and num_classes >= 2, got width={width}, num_classes={num_classes}.")
        self.conv1 = nn.Conv2d(3, width, 5, padding=2)
        self.relu1 = nn.ReLU()
        self.conv2 = nn.Conv2d(width, 2 * width, 3, padding=1, bias=False)
        self.norm2 = nn.BatchNorm2d(2 * width)
        self.relu2 = nn.ReLU()
        self.conv3 = nn.Conv2d(2 * width, 4 * width, 3, padding=1, bias=False)
        self.norm3 = nn.BatchNorm2d(4 * width)
        self.relu3 = nn.ReLU()
        self.conv4 = nn.Conv2d(4 * width, 4 * width, 3, padding=1, bias=False)
        self.norm4 = nn.BatchNorm2d(4 * width)
        self.relu4 = nn.ReLU()
        self.classifier = nn.Linear(4 * width, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.relu1(self.conv1(x))
        x = F.max_pool2d(self.relu2(self.norm2(self.conv2(x))), 2)
        x = F.max_pool2d(self.relu3(self.norm3(self.conv3(x))), 2)
        x = self.relu4(self.norm4(self.conv4(x)))
        return self.classifier(x.mean(dim=(2, 3)))


def wrap_small_net(net: SmallConvNet, classes: Sequence[str], size: int, name: str = "small_net") -> CircuitModel:
    """Wrap a :class:`SmallConvNet` as a CircuitModel with layers conv1..conv4 (post-ReLU, pre-activation available)."""
    net.eval()
    return wrap_model(
        net, SMALL_NET_LAYERS, name=name, mean=NORMALIZE_MEAN, std=NORMALIZE_STD, input_size=size, labels=list(classes)
    )


@dataclass
class TrainingResult:
    """A trained network (wrapped), its per-epoch and per-step history, and the settings that made it."""

    model: CircuitModel
    history: dict[str, list[float]]
    settings: dict[str, object] = field(default_factory=dict)

    @property
    def test_accuracy(self) -> float:
        """Accuracy on the held-out images after the last epoch."""
        return self.history["test_accuracy"][-1]


def _evaluate(net: nn.Module, data: LabelledImages, batch_size: int = 256) -> tuple[float, float]:
    net.eval()
    total_loss, correct = 0.0, 0
    with torch.no_grad():
        for start in range(0, len(data), batch_size):
            images = data.images[start : start + batch_size]
            labels = data.labels[start : start + batch_size]
            logits = net((images - 0.5) / 0.5)
            total_loss += float(F.cross_entropy(logits, labels, reduction="sum"))
            correct += int((logits.argmax(1) == labels).sum())
    return total_loss / len(data), correct / len(data)


def train_classifier(
    data: LabelledImages,
    *,
    width: int = 16,
    seed: int = 0,
    epochs: int = 4,
    batch_size: int = 64,
    learning_rate: float = 3e-3,
    test_fraction: float = 0.2,
    name: str | None = None,
    progress: bool = True,
) -> TrainingResult:
    """Train a :class:`SmallConvNet` on ``data``: seeded (initial weights, split, batch order), deterministic on CPU.

    Adam with a learning rate that decays linearly to zero; returns the wrapped network and the
    history (``step_loss`` per step; ``train_loss``, ``train_accuracy``, ``test_loss``,
    ``test_accuracy`` per epoch).
    """
    from tqdm.auto import tqdm

    if epochs < 1 or batch_size < 1:
        raise ValueError(f"epochs and batch_size must be >= 1, got epochs={epochs}, batch_size={batch_size}.")
    train, test = data.split(test_fraction, seed=seed)
    torch.manual_seed(seed)
    net = SmallConvNet(len(data.classes), width)
    optimizer = torch.optim.Adam(net.parameters(), lr=learning_rate)
    steps_per_epoch = -(-len(train) // batch_size)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1 - step / (epochs * steps_per_epoch))
    shuffle = torch.Generator().manual_seed(seed)
    history: dict[str, list[float]] = {k: [] for k in ("step_loss", "train_loss", "train_accuracy", "test_loss", "test_accuracy")}
    bar = tqdm(total=epochs * steps_per_epoch, desc=f"training width {width}, seed {seed}", disable=not progress)
    for _epoch in range(epochs):
        net.train()
        order = torch.randperm(len(train), generator=shuffle)
        for start in range(0, len(train), batch_size):
            chosen = order[start : start + batch_size]
            logits = net((train.images[chosen] - 0.5) / 0.5)
            loss = F.cross_entropy(logits, train.labels[chosen])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            schedule.step()
            history["step_loss"].append(loss.item())
            bar.update(1)
            bar.set_postfix(loss=f"{loss.item():.3f}")
        for split_name, split in (("train", train), ("test", test)):
            split_loss, accuracy = _evaluate(net, split)
            history[f"{split_name}_loss"].append(split_loss)
            history[f"{split_name}_accuracy"].append(accuracy)
    bar.close()
    settings = {"dataset": data.name, "width": width, "seed": seed, "epochs": epochs, "batch_size": batch_size,
                "learning_rate": learning_rate, "test_fraction": test_fraction, "size": data.size, "classes": list(data.classes)}
    model = wrap_small_net(net, data.classes, data.size, name or f"small_net_w{width}_seed{seed}")
    return TrainingResult(model, history, settings)


def untrained_classifier(
    data: LabelledImages, *, width: int = 16, seed: int = 0, test_fraction: float = 0.2, name: str | None = None
) -> TrainingResult:
    """The control for :func:`train_classifier`: the same architecture and seeded initial weights, never trained.

    Only the batch-norm statistics are set, as averages over the training split (no gradient step), so
    activations have a sensible scale; its history holds the accuracies of those untrained weights.
    """
    train, test = data.split(test_fraction, seed=seed)
    torch.manual_seed(seed)
    net = SmallConvNet(len(data.classes), width)
    for module in net.modules():
        if isinstance(module, nn.BatchNorm2d):
            module.reset_running_stats()
            module.momentum = None  # a cumulative average over every batch
    net.train()
    with torch.no_grad():
        for start in range(0, len(train), 256):
            net((train.images[start : start + 256] - 0.5) / 0.5)
    for module in net.modules():
        if isinstance(module, nn.BatchNorm2d):
            module.momentum = 0.1
    history: dict[str, list[float]] = {"step_loss": []}
    for split_name, split in (("train", train), ("test", test)):
        split_loss, accuracy = _evaluate(net, split)
        history[f"{split_name}_loss"] = [split_loss]
        history[f"{split_name}_accuracy"] = [accuracy]
    settings = {"dataset": data.name, "width": width, "seed": seed, "epochs": 0, "test_fraction": test_fraction,
                "size": data.size, "classes": list(data.classes)}
    model = wrap_small_net(net, data.classes, data.size, name or f"untrained_small_net_w{width}_seed{seed}")
    return TrainingResult(model, history, settings)


#: Version of the trained-network cache format; part of every cache key.
CACHE_FORMAT = 2

#: A temporary file left by a save older than this (seconds) is an orphan (its writer was killed): removed on the next save.
STALE_TEMPORARY_SECONDS = 600


class TrainedCacheError(ValueError):
    """A trained-network file that cannot be used: missing half, truncated, corrupt or not written by the course."""


def _settings_path(path: Path) -> Path:
    return path.with_suffix(".json")


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True  # someone else's process: assume it is alive
    return True


def clean_stale_temporaries(folder: str | Path, max_age: float = STALE_TEMPORARY_SECONDS) -> list[Path]:
    """Remove temporary files of interrupted saves in ``folder``: their writer is gone, or they are older than ``max_age`` s."""
    import time

    removed = []
    for temporary in Path(folder).glob(".*.tmp"):
        parts = temporary.name.split(".")
        pid = int(parts[-2]) if len(parts) >= 3 and parts[-2].isdigit() else None
        try:
            age = time.time() - temporary.stat().st_mtime
        except FileNotFoundError:
            continue
        if (pid is not None and pid != os.getpid() and not _process_alive(pid)) or age > max_age:
            temporary.unlink(missing_ok=True)
            removed.append(temporary)
    return removed


def _write_atomically(path: Path, write) -> None:
    """Call ``write(temporary_path)``, then rename it to ``path``; the temporary file carries our process id."""
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=f".{os.getpid()}.tmp")
    os.close(handle)
    try:
        write(temporary)
        os.chmod(temporary, 0o644)  # mkstemp makes owner-only files; a cache is for everyone
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def save_trained(result: TrainingResult, path: str | Path) -> Path:
    """Save a trained small network: its weights only (a state dict of tensors) and a JSON file of everything else.

    ``path`` holds the weights (``torch.save`` of tensors, loadable with ``weights_only=True``);
    ``path`` with the suffix ``.json`` holds the settings, history, name and the weights' SHA-256.
    Both are written to temporary files, then renamed; orphans of interrupted saves are removed first.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    clean_stale_temporaries(path.parent)
    state = {name: tensor.detach().cpu().clone() for name, tensor in result.model.module.state_dict().items()}
    _write_atomically(path, lambda temporary: torch.save(state, temporary))
    record = {"format": CACHE_FORMAT, "name": result.model.name, "settings": result.settings,
              "history": result.history, "weights_sha256": _file_sha256(path)}

    def write_json(temporary: str) -> None:
        with open(temporary, "w") as file:
            json.dump(record, file)

    _write_atomically(_settings_path(path), write_json)
    return path


def load_trained(path: str | Path) -> TrainingResult:
    """Load what :func:`save_trained` wrote, never unpickling anything but tensors.

    Raises :class:`TrainedCacheError` naming the file when either half is missing, truncated, corrupt,
    from another format or does not match the other half.
    """
    path = Path(path)
    record_path = _settings_path(path)
    if not path.exists():
        raise FileNotFoundError(f"No trained network at {path}; train one with train_classifier or trained_model.")
    try:
        record = json.loads(record_path.read_text(encoding="utf-8"))
        if not isinstance(record, dict) or record.get("format") != CACHE_FORMAT:
            raise ValueError(f"format {record.get('format') if isinstance(record, dict) else None!r}, expected {CACHE_FORMAT}")
        settings, history, name = record["settings"], record["history"], str(record["name"])
        classes, size = list(settings["classes"]), int(settings["size"])
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise TrainedCacheError(f"The trained network {path} cannot be used: its settings file {record_path.name} is missing or damaged "
                                f"({type(error).__name__}: {error}). Delete both files and train again.") from error
    if _file_sha256(path) != record.get("weights_sha256"):
        raise TrainedCacheError(f"The weights file {path} does not match its settings file {record_path.name} "
                                "(changed, truncated or replaced). Delete both files and train again.")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
        if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
            raise ValueError("not a dictionary of tensors")
        net = SmallConvNet(len(classes), int(state["conv1.weight"].shape[0]))
        net.load_state_dict(state)
    except Exception as error:  # torch's unpickler, a wrong shape, a missing key: all mean a bad file
        raise TrainedCacheError(f"The weights file {path} cannot be loaded ({type(error).__name__}: "
                                f"{str(error).splitlines()[0] if str(error) else ''}). Delete it and train again.") from None
    model = wrap_small_net(net, classes, size, name)
    return TrainingResult(model, {k: list(v) for k, v in history.items()}, settings)


def folder_fingerprint(root: str | Path) -> str:
    """A fingerprint of an image folder's contents: every file's path, size and modification time."""
    root = Path(root).expanduser()
    digest = hashlib.sha256()
    for file in sorted(p for p in root.rglob("*") if p.is_file()):
        info = file.stat()
        digest.update(f"{file.relative_to(root).as_posix()}\0{info.st_size}\0{info.st_mtime_ns}\n".encode())
    return digest.hexdigest()[:16]


def trained_model_settings(
    dataset: str | Path = "shapes", *, count: int = 4000, size: int = 32, width: int = 16, seed: int = 0,
    data_seed: int = 0, epochs: int = 4, classes: Sequence[str] | None = None,
) -> dict[str, object]:
    """Every setting that changes what :func:`trained_model` trains (its cache key), a folder's contents included."""
    settings: dict[str, object] = {
        "format": CACHE_FORMAT, "dataset": str(dataset), "count": count, "size": size, "width": width, "seed": seed,
        "data_seed": data_seed, "epochs": epochs, "classes": list(classes) if classes else None,
        "batch_size": 64, "learning_rate": 3e-3, "test_fraction": 0.2,
        "threads": torch.get_num_threads(), "torch": torch.__version__,
    }
    if dataset not in ("shapes", "cifar10"):
        path = Path(dataset).expanduser()
        settings["dataset"] = str(path.resolve())
        if path.is_dir():
            settings["contents"] = folder_fingerprint(path)
    return settings


def _dataset_label(dataset: str | Path) -> str:
    return "".join(ch if ch.isalnum() or ch in "-" else "-" for ch in Path(str(dataset)).name) or "data"


def trained_model_path(dataset: str | Path = "shapes", *, width: int = 16, seed: int = 0, **settings: object) -> Path:
    """The cache file :func:`trained_model` uses for these settings (its name holds a hash of all of them)."""
    everything = trained_model_settings(dataset, width=width, seed=seed, **settings)  # type: ignore[arg-type]
    key = hashlib.sha1(json.dumps(everything, sort_keys=True).encode()).hexdigest()[:12]
    return CACHE_DIR / "trained" / f"small_net_{_dataset_label(dataset)}_w{width}_seed{seed}_{key}.pt"


def trained_model(
    dataset: str | Path = "shapes",
    *,
    count: int = 4000,
    size: int = 32,
    width: int = 16,
    seed: int = 0,
    data_seed: int = 0,
    epochs: int = 4,
    classes: Sequence[str] | None = None,
    cache: bool = True,
    progress: bool = True,
) -> TrainingResult:
    """Train a small network on a data set (see :func:`load_dataset`), or load it from ``data/cache`` if already trained.

    ``seed`` sets the network's initial weights and batch order; ``data_seed`` which images are drawn;
    ``classes`` a subset of the shapes (e.g. only straight-edged ones). The cache key holds every
    setting and, for an image folder, its contents (so adding or changing images trains again). A
    damaged cache file is reported by name and replaced.
    """
    path = trained_model_path(dataset, count=count, size=size, width=width, seed=seed, data_seed=data_seed,
                              epochs=epochs, classes=classes)
    label = _dataset_label(dataset)
    if cache and path.exists():
        try:
            return load_trained(path)
        except TrainedCacheError as error:
            print(f"{error}\nTraining it again and replacing the damaged file.")
            path.unlink(missing_ok=True)
            _settings_path(path).unlink(missing_ok=True)
    data = load_dataset(dataset, count=count, size=size, seed=data_seed, classes=classes)
    result = train_classifier(data, width=width, seed=seed, epochs=epochs, progress=progress,
                              name=f"small_net_{label}_w{width}_seed{seed}")
    if cache:
        save_trained(result, path)
    return result


def course_network_settings() -> dict[str, object]:
    """The settings of the course's own small network (less data in fast mode); lessons 07 and 08 share it through the cache.

    Full mode: 6000 shapes, 8 epochs (held-out accuracy has levelled off by then); a run costs about
    a minute of CPU on a 2-core laptop, so a lesson can train a few variants within a class period.
    """
    return fast_or_full(
        {"dataset": "shapes", "count": 3000, "width": 8, "seed": 0, "epochs": 8},
        {"dataset": "shapes", "count": 6000, "width": 8, "seed": 0, "epochs": 8},
    )


def course_network(dataset: str | Path = "shapes", *, progress: bool = False, **settings: object) -> TrainingResult:
    """:func:`trained_model` with the course's negative control: under ``CIRCUITS_WEIGHTS=random`` the network stays untrained.

    The untrained network has the same architecture and seeded initial weights (see
    :func:`untrained_classifier`), so every claim a lesson makes about what training taught it must fail.
    """
    if weights_kind() == "trained":
        return trained_model(dataset, progress=progress, **settings)  # type: ignore[arg-type]
    allowed = ("count", "size", "data_seed", "classes")
    data = load_dataset(dataset, **{("seed" if k == "data_seed" else k): v for k, v in settings.items() if k in allowed})  # type: ignore[arg-type]
    width, seed = int(settings.get("width", 16)), int(settings.get("seed", 0))  # type: ignore[arg-type]
    return untrained_classifier(data, width=width, seed=seed, name=f"untrained_small_net_{_dataset_label(dataset)}_w{width}_seed{seed}")


def top_examples_purity(model: CircuitModel, data: LabelledImages, layer: str, k: int = 20) -> np.ndarray:
    """For every unit of ``layer``: the share of its ``k`` strongest images (peak over positions) that belong to one class.

    1 means all its top images are of one class; about ``1 / classes`` is what chance gives; NaN for a
    unit that never fires on ``data``.
    """
    from .activations import capture

    if not 1 <= k <= len(data):
        raise ValueError(f"k must lie between 1 and the number of images ({len(data)}), got {k}.")
    with torch.no_grad():
        peaks = torch.cat([capture(model, data.images[start : start + 256], layer)[layer].amax(dim=(2, 3))
                           for start in range(0, len(data), 256)])
    purity = np.full(peaks.shape[1], np.nan)
    for unit in range(peaks.shape[1]):
        if float(peaks[:, unit].max()) > 0:
            top = peaks[:, unit].argsort(descending=True)[:k]
            purity[unit] = np.bincount(data.labels[top].numpy(), minlength=len(data.classes)).max() / k
    return purity


def class_accuracy(model: CircuitModel, data: LabelledImages, batch_size: int = 256) -> np.ndarray:
    """Accuracy per class of a wrapped network on ``data`` (one value per class name)."""
    predictions = []
    with torch.no_grad():
        for start in range(0, len(data), batch_size):
            predictions.append(model(data.images[start : start + batch_size]).argmax(1))
    predicted = torch.cat(predictions)
    return np.array([float((predicted[data.labels == c] == c).float().mean()) if (data.labels == c).any() else float("nan")
                     for c in range(len(data.classes))])
