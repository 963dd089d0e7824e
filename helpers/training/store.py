"""Trained networks kept on disk: saving and loading safely, the cache and its fingerprints, the course's network."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Sequence

import torch

from ..config import CACHE_DIR, fast_or_full, weights_kind
from ..files import describe_load_error, file_sha256, make_folder, remove_stale_temporaries, save_or_warn, write_atomically
from .data import load_dataset
from .fitting import TrainingResult, train_classifier, untrained_classifier
from .networks import Head, SmallConvNet, check_head, wrap_small_net

#: Version of the trained-network cache format; part of every cache key (3: the per-epoch checkpoints are kept).
CACHE_FORMAT = 3

#: How a checkpoint's tensors are named in the weights file: ``epoch3/conv1.weight``.
CHECKPOINT_PREFIX = "epoch{}/"


class TrainedCacheError(ValueError):
    """A trained-network file that cannot be used: missing half, truncated, corrupt or not written by the course."""


def _settings_path(path: Path) -> Path:
    return path.with_suffix(".json")


def save_trained(result: TrainingResult, path: str | Path) -> Path:
    """Save a trained small network: its weights and per-epoch checkpoints (tensors only) and a JSON file of everything else.

    ``path`` holds the weights (``torch.save`` of tensors, loadable with ``weights_only=True``);
    ``path`` with the suffix ``.json`` holds the settings, history, name and the weights' SHA-256.
    Both are written atomically and readable by every user (:func:`helpers.files.write_atomically`);
    orphans of interrupted saves are removed first.
    """
    path = Path(path)
    make_folder(path.parent)
    remove_stale_temporaries(path.parent)
    state = {name: tensor.detach().cpu().clone() for name, tensor in result.model.module.state_dict().items()}
    for epoch, checkpoint in enumerate(result.checkpoints, start=1):
        state.update({CHECKPOINT_PREFIX.format(epoch) + name: tensor.cpu() for name, tensor in checkpoint.items()})
    write_atomically(path, lambda temporary: torch.save(state, temporary))
    record = {"format": CACHE_FORMAT, "name": result.model.name, "settings": result.settings,
              "history": result.history, "weights_sha256": file_sha256(path)}
    write_atomically(_settings_path(path), lambda temporary: temporary.write_text(json.dumps(record), encoding="utf-8"))
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
    if file_sha256(path) != record.get("weights_sha256"):
        raise TrainedCacheError(f"The weights file {path} does not match its settings file {record_path.name} "
                                "(changed, truncated or replaced). Delete both files and train again.")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
        if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
            raise ValueError("not a dictionary of tensors")
        final = {name: tensor for name, tensor in state.items() if "/" not in name}
        width = int(final["conv1.weight"].shape[0])
        architecture = {"head": settings.get("head", "average"), "size": size}
        net = SmallConvNet(len(classes), width, **architecture)
        net.load_state_dict(final)
        checkpoints = []
        for epoch in range(1, int(settings.get("epochs", 0)) + 1):
            prefix = CHECKPOINT_PREFIX.format(epoch)
            checkpoint = {name[len(prefix):]: tensor for name, tensor in state.items() if name.startswith(prefix)}
            SmallConvNet(len(classes), width, **architecture).load_state_dict(checkpoint)  # raises when a checkpoint is incomplete
            checkpoints.append(checkpoint)
    except Exception as error:  # torch's unpickler, a wrong shape, a missing key: all mean a bad file
        raise TrainedCacheError(f"The weights file {path} cannot be loaded ({describe_load_error(error)}). "
                                "Delete it and train again.") from None
    model = wrap_small_net(net, classes, size, name)
    return TrainingResult(model, {k: list(v) for k, v in history.items()}, settings, checkpoints)


def folder_fingerprint(root: str | Path) -> str:
    """A fingerprint of an image folder's contents: every file's path, size and modification time."""
    root = Path(root).expanduser()
    digest = hashlib.sha256()
    for file in sorted(p for p in root.rglob("*") if p.is_file()):
        info = file.stat()
        digest.update(f"{file.relative_to(root).as_posix()}\0{info.st_size}\0{info.st_mtime_ns}\n".encode())
    return digest.hexdigest()[:16]


def trained_model_settings(
    dataset: str | Path = "shapes", *, count: int = 4000, size: int = 32, width: int = 16, head: Head = "average",
    seed: int = 0, data_seed: int = 0, epochs: int = 4, classes: Sequence[str] | None = None, upright: bool = False,
) -> dict[str, object]:
    """Every setting that changes what :func:`trained_model` trains (its cache key), a folder's contents included."""
    check_head(head)  # before any image is drawn or any training starts
    settings: dict[str, object] = {
        "format": CACHE_FORMAT, "dataset": str(dataset), "count": count, "size": size, "width": width, "seed": seed,
        "data_seed": data_seed, "epochs": epochs, "classes": list(classes) if classes else None,
        **({"head": head} if head != "average" else {}), **({"upright": True} if upright else {}),
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
    head: Head = "average",
    seed: int = 0,
    data_seed: int = 0,
    epochs: int = 4,
    classes: Sequence[str] | None = None,
    upright: bool = False,
    cache: bool = True,
    progress: bool = True,
) -> TrainingResult:
    """Train a small network on a data set (see :func:`load_dataset`), or load it from ``data/cache`` if already trained.

    ``seed`` sets the network's initial weights and batch order; ``data_seed`` which images are drawn;
    ``classes`` a subset of the shapes (e.g. only straight-edged ones); ``upright`` draws the shapes
    unrotated; ``head`` is the network's read-out (see :class:`SmallConvNet`). The cache key holds every
    setting and, for an image folder, its contents (so adding or changing images trains again). A
    damaged cache file is reported by name and replaced.
    """
    path = trained_model_path(dataset, count=count, size=size, width=width, head=head, seed=seed, data_seed=data_seed,
                              epochs=epochs, classes=classes, upright=upright)
    label = _dataset_label(dataset)
    if cache and path.exists():
        try:
            return load_trained(path)
        except TrainedCacheError as error:
            print(f"{error}\nTraining it again and replacing the damaged file.")
            path.unlink(missing_ok=True)
            _settings_path(path).unlink(missing_ok=True)
    data = load_dataset(dataset, count=count, size=size, seed=data_seed, classes=classes, upright=upright)
    result = train_classifier(data, width=width, head=head, seed=seed, epochs=epochs, progress=progress,
                              name=f"small_net_{label}_w{width}_seed{seed}")
    if cache:  # a folder that refuses the file costs a warning, never the finished training
        save_or_warn(path, lambda target: save_trained(result, target), f"the trained network {result.model.name}")
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
    head = settings.get("head", "average")
    check_head(head)  # before any image is drawn
    allowed = ("count", "size", "data_seed", "classes", "upright")
    data = load_dataset(dataset, **{("seed" if k == "data_seed" else k): v for k, v in settings.items() if k in allowed})  # type: ignore[arg-type]
    width, seed = int(settings.get("width", 16)), int(settings.get("seed", 0))  # type: ignore[arg-type]
    return untrained_classifier(data, width=width, head=head, seed=seed,  # type: ignore[arg-type]
                                name=f"untrained_small_net_{_dataset_label(dataset)}_w{width}_seed{seed}")
