"""InceptionV1's weights and labels on disk: where they live, downloading and checking them, and the model built from them.

The architecture is :mod:`helpers.inceptionv1`; this module holds the files: the public PyTorch conversion
of the graph, the label file of TensorFlow's release, and the small record of the weights' SHA-256 taken
at first download.
"""
from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Mapping, Sequence

import torch

from .config import WEIGHTS_DIR, is_offline
from .download import DownloadError, download, download_and_extract
from .files import WeightsFileError, check_state_dict, file_sha256, load_checked_state_dict, write_atomically
from .inceptionv1 import INPUT_SIZE, NUM_CLASSES, architecture_on_meta, course_layers, InceptionV1
from .models import CircuitModel, ImageNormalize

#: The public PyTorch conversion of the graph (what Lucent downloads). No checksum is published:
#: the names and shapes are checked instead, and the SHA-256 of the first download is recorded.
WEIGHTS_URL = "https://github.com/ProGamerGov/pytorch-old-tensorflow-models/raw/master/inception5h.pth"
#: TensorFlow's release of the graph; it holds the label file (and the graph itself, which we do not use).
LABELS_URL = "https://storage.googleapis.com/download.tensorflow.org/models/inception5h.zip"
LABELS_MEMBER = "imagenet_comp_graph_label_strings.txt"

def weights_file() -> Path:
    """Where the InceptionV1 state dict lives once downloaded (``data/weights/inception5h.pth``)."""
    return WEIGHTS_DIR / "inception5h.pth"


def labels_file() -> Path:
    """Where the label file from ``inception5h.zip`` lives once downloaded."""
    return WEIGHTS_DIR / LABELS_MEMBER


def record_file() -> Path:
    """The small JSON next to the weights recording their source and SHA-256 at first download."""
    return WEIGHTS_DIR / "inception5h.json"


def read_labels(path: str | Path) -> list[str]:
    """The 1008 class names from a label file whose line i names output i (padded with 'unused')."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        raise ValueError(
            f"{path} is not a text file in UTF-8 (byte {error.start} cannot be decoded), so it is not InceptionV1's "
            f"label file. Delete it and run `python scripts/prepare_data.py --models inceptionv1` (or unpack "
            f"{LABELS_MEMBER} from {LABELS_URL} there)."
        ) from None
    lines = [line.strip() for line in text.splitlines()]
    while lines and not lines[-1]:
        lines.pop()
    if not 1001 <= len(lines) <= NUM_CLASSES:
        raise ValueError(
            f"{path} has {len(lines)} lines; an InceptionV1 label file has 1001 ('dummy', then 1000 class names), "
            f"at most {NUM_CLASSES}. Delete it and download {LABELS_URL} again."
        )
    return lines + ["unused"] * (NUM_CLASSES - len(lines))


def _generic_labels() -> list[str]:
    return [f"class {i}" for i in range(NUM_CLASSES)]


def build_inceptionv1(state_dict: Mapping[str, torch.Tensor] | None = None, *, labels: Sequence[str] | None = None,
                      seed: int = 0) -> CircuitModel:
    """InceptionV1 as a CircuitModel, from a state dict, or randomly initialised (with ``seed``) when None.

    ``labels`` default to the label file's names when it is on disk, else ``class i``.
    """
    if state_dict is not None:
        check_state_dict(state_dict, architecture_on_meta(), origin="The InceptionV1 state dict")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        module = InceptionV1()
    if state_dict is not None:
        module.load_state_dict(state_dict)
    if labels is None:
        labels = read_labels(labels_file()) if labels_file().exists() else _generic_labels()
    if len(labels) != NUM_CLASSES:
        raise ValueError(f"InceptionV1 needs {NUM_CLASSES} labels (one per output), got {len(labels)}.")
    origin = "the inception5h weights" if state_dict is not None else f"random weights (seed {seed}), a negative control"
    return CircuitModel(
        name="inceptionv1",
        module=module,
        layers=course_layers(module),
        preprocess=ImageNormalize((117 / 255,) * 3, (1 / 255,) * 3),  # x * 255 - 117, the graph's input range
        input_size=INPUT_SIZE,
        labels=list(labels),
        description=f"InceptionV1 (Lucid's inception5h, the Circuits papers' model) with {origin}",
        trained=state_dict is not None,
    )


def _write_record(url: str) -> None:
    path = weights_file()
    record = {
        "file": path.name,
        "url": url,
        "sha256": file_sha256(path),
        "bytes": path.stat().st_size,
        "downloaded_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    write_atomically(record_file(), lambda temporary: temporary.write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8"))


def download_labels(labels_url: str | None = None, *, progress: bool = True) -> Path:
    """Fetch the label file (from the release .zip, or a plain .txt URL) into ``data/weights``; checked, or not kept."""
    labels_url = labels_url or LABELS_URL
    target = labels_file()
    if labels_url.lower().split("?")[0].endswith(".txt"):
        return download(labels_url, target, check=read_labels, progress=progress)
    download_and_extract(labels_url, target.parent, members=[LABELS_MEMBER], progress=progress)
    try:
        read_labels(target)
    except ValueError as error:
        target.unlink(missing_ok=True)
        raise DownloadError(labels_url, target, f"the label file in it is not valid ({error})",
                            by_hand=f"unpack {LABELS_MEMBER} into {target.parent}") from error
    return target


def download_weights(url: str | None = None, labels_url: str | None = None, *, labels: bool = True,
                     force: bool = False, progress: bool = True) -> Path:
    """Download the weights (checked against the architecture; SHA-256 recorded) and the labels; returns the weights path.

    ``url`` and ``labels_url`` default to :data:`WEIGHTS_URL` and :data:`LABELS_URL`. Files already on
    disk are kept unless ``force``. A failed label download only prints a note: the model works
    without labels.
    """
    url = url or WEIGHTS_URL
    path = weights_file()
    if force or not path.exists():
        download(url, path, check=lambda p: load_checked_state_dict(p, architecture_on_meta(), source=url),
                 progress=progress)
        _write_record(url)
    if labels and (force or not labels_file().exists()):
        try:
            download_labels(labels_url, progress=progress)
        except DownloadError as error:
            print(f"InceptionV1 labels not downloaded (the model works without them): {error}")
    return path


def _missing_weights_message(reason: str) -> str:
    path = weights_file()
    return (
        f"InceptionV1 weights are not at {path} ({reason}). With a network connection run "
        f"`python scripts/prepare_data.py --models inceptionv1`, or download {WEIGHTS_URL} yourself and save it "
        f"as {path} (labels: unpack {LABELS_MEMBER} from {LABELS_URL} into {path.parent})."
    )


def _recorded_sha256() -> str | None:
    """The SHA-256 recorded at download, or None without a record; a damaged record is an error naming the file."""
    record = record_file()
    if not record.exists():
        return None
    fix = (f"Delete {record} (it is only a record of the download; the weights check without it), or delete it "
           f"and {weights_file()} and download both again with `python scripts/prepare_data.py --models inceptionv1`.")
    try:
        data = json.loads(record.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise WeightsFileError(f"{record} is damaged (not a JSON record: {error}). {fix}") from None
    if not isinstance(data, dict) or not isinstance(data.get("sha256", ""), str):
        raise WeightsFileError(f"{record} is damaged (expected a JSON object with a 'sha256' text). {fix}")
    return data.get("sha256") or None


def _check_against_record(path: Path) -> None:
    recorded = _recorded_sha256()
    if recorded and file_sha256(path) != recorded:
        raise WeightsFileError(
            f"{path} changed since it was downloaded: its SHA-256 differs from the one recorded in {record_file()}. "
            f"If you replaced it on purpose, delete {record_file()}; otherwise delete both and download again."
        )


_problem_cache: dict[tuple, str | None] = {}


def weights_problem() -> str | None:
    """Why the InceptionV1 weights on disk cannot be used (a one-line reason with the fix), or None if they can.

    Checks what :func:`load_inceptionv1` checks (the recorded SHA-256, the file reads as a state dict
    with the architecture's names and shapes and finite values, the label file if present) without
    building the model; the answer is cached until a file changes.
    """
    path = weights_file()
    files = (path, record_file(), labels_file())
    stamp = tuple((f.stat().st_mtime_ns, f.stat().st_size) if f.exists() else None for f in files)
    key = (str(path), stamp)
    if key not in _problem_cache:
        _problem_cache.clear()
        if not path.exists():
            problem = f"InceptionV1 weights are not at {path}"
        else:
            try:
                _check_against_record(path)
                load_checked_state_dict(path, architecture_on_meta(), source=WEIGHTS_URL)
                if labels_file().exists():
                    read_labels(labels_file())
                problem = None
            except (WeightsFileError, ValueError, OSError) as error:
                problem = str(error).splitlines()[0] if str(error) else type(error).__name__
        _problem_cache[key] = problem
    return _problem_cache[key]


def load_inceptionv1(*, progress: bool = True) -> CircuitModel:
    """The paper's InceptionV1 with its real weights, downloading them first when missing and allowed."""
    path = weights_file()
    if not path.exists():
        if is_offline():
            raise FileNotFoundError(_missing_weights_message("CIRCUITS_OFFLINE is set, so nothing is downloaded"))
        try:
            download_weights(progress=progress)
        except DownloadError as error:
            raise FileNotFoundError(_missing_weights_message(f"the download failed: {error.reason}")) from error
    _check_against_record(path)
    state_dict = load_checked_state_dict(path, architecture_on_meta(), source=WEIGHTS_URL)
    labels = None
    if not labels_file().exists():
        print(f"Note: no InceptionV1 label file at {labels_file()}; classes are named 'class i' "
              f"(get it with `python scripts/prepare_data.py --models inceptionv1`).")
        labels = _generic_labels()
    return build_inceptionv1(state_dict, labels=labels)
