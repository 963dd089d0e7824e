"""Course-wide settings: where data lives, fast mode, offline mode, the device and seeding.

Every path is resolved from this package's location, never from the working directory, so a
notebook, a test and a script all find the same ``data/`` folder.
"""
from __future__ import annotations

import os
import random
from pathlib import Path

import numpy as np
import torch

REPO_ROOT = Path(__file__).resolve().parent.parent
#: ``CIRCUITS_DATA_DIR`` may start with ``~`` and may be relative (to the folder Python started in); it is made absolute once.
_DATA_DIR_SETTING = os.environ.get("CIRCUITS_DATA_DIR", "").strip()
DATA_DIR = Path(_DATA_DIR_SETTING).expanduser().resolve() if _DATA_DIR_SETTING else REPO_ROOT / "data"
WEIGHTS_DIR = DATA_DIR / "weights"
DATASETS_DIR = DATA_DIR / "datasets"
CACHE_DIR = DATA_DIR / "cache"

_TRUE = {"1", "true", "yes", "on"}


def _flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in _TRUE


def is_fast() -> bool:
    """True when ``CIRCUITS_FAST=1``: notebooks shrink steps, sizes and counts (CI sets it)."""
    return _flag("CIRCUITS_FAST")


def is_offline() -> bool:
    """True when ``CIRCUITS_OFFLINE=1``: nothing tries the network (CI sets it)."""
    return _flag("CIRCUITS_OFFLINE")


def is_strict() -> bool:
    """True when ``CIRCUITS_STRICT=1``: claims and exercise checks raise instead of reporting (CI, autograding)."""
    return _flag("CIRCUITS_STRICT")


def paper_families() -> bool:
    """True when ``CIRCUITS_PAPER_FAMILIES=1``: for time estimates only, InceptionV1's families are the articles' units.

    Every family screened on an InceptionV1 layer for which an article lists the units (curves in conv2d2 to
    mixed4a, high-low in mixed3a) becomes that list, whatever the screen found. With random weights, whose
    screens find nothing, a lesson then does its per-member work at the articles' family sizes, so
    ``scripts/measure_lessons.py`` can estimate its time with the real weights. The claims mean nothing then.
    """
    return _flag("CIRCUITS_PAPER_FAMILIES")


WEIGHT_KINDS = ("trained", "random")


def weights_kind() -> str:
    """``CIRCUITS_WEIGHTS``: "trained" (the default) or "random", the negative control every claim must fail."""
    kind = os.environ.get("CIRCUITS_WEIGHTS", "").strip().lower() or "trained"
    if kind not in WEIGHT_KINDS:
        raise ValueError(f"CIRCUITS_WEIGHTS={kind!r} is not understood; use one of {', '.join(WEIGHT_KINDS)} (or leave it unset).")
    return kind


DEVICE_KINDS = ("cpu", "cuda", "mps")


def cuda_available() -> bool:
    """True when PyTorch sees a CUDA GPU."""
    return torch.cuda.is_available()


def mps_available() -> bool:
    """True when PyTorch can use Apple's Metal (MPS) backend."""
    backend = getattr(torch.backends, "mps", None)
    return bool(backend is not None and backend.is_available())


def _available(kind: str) -> bool:
    return {"cpu": lambda: True, "cuda": cuda_available, "mps": mps_available}[kind]()


def select_device(requested: str | None = None) -> torch.device:
    """The device models run on: ``requested``, else ``CIRCUITS_DEVICE``, else the best one available.

    The best one is a CUDA GPU, then Apple's MPS, else the CPU. An explicit choice (``cpu``, ``cuda``,
    ``cuda:N`` or ``mps``) that is not understood, or not available on this machine, is an error that
    says so, rather than a silent fall-back.
    """
    origin = "device" if requested is not None else "CIRCUITS_DEVICE"
    if requested is None:
        requested = os.environ.get("CIRCUITS_DEVICE", "")
    requested = str(requested).strip().lower()
    if not requested:
        for kind in ("cuda", "mps"):
            if _available(kind):
                return torch.device(kind)
        return torch.device("cpu")
    kind, _, index = requested.partition(":")
    if kind not in DEVICE_KINDS or (index and not (kind == "cuda" and index.isdigit())):
        raise ValueError(f"{origin}={requested!r} is not understood; use one of {', '.join(DEVICE_KINDS)} "
                         f"(or cuda:N for the N-th GPU), or leave it unset to pick the best available one.")
    if not _available(kind):
        raise RuntimeError(f"{origin}={requested!r}, but this machine has no {kind.upper()} device PyTorch can use "
                           f"(torch {torch.__version__}). Set CIRCUITS_DEVICE=cpu, or leave it unset to pick the best "
                           f"available device.")
    if index and int(index) >= torch.cuda.device_count():
        raise RuntimeError(f"{origin}={requested!r}, but this machine has {torch.cuda.device_count()} CUDA device(s), "
                           f"numbered from 0.")
    return torch.device(requested)


def fast_or_full(fast: object, full: object):
    """Pick the fast-mode value or the full value, e.g. ``steps = fast_or_full(64, 512)``."""
    return fast if is_fast() else full


def seed_everything(seed: int = 0) -> torch.Generator:
    """Seed Python, NumPy and torch, and return a ``torch.Generator`` seeded the same way."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed)
