"""Course-wide settings: where data lives, fast mode, offline mode and seeding.

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
DATA_DIR = Path(os.environ.get("CIRCUITS_DATA_DIR", REPO_ROOT / "data"))
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


WEIGHT_KINDS = ("trained", "random")


def weights_kind() -> str:
    """``CIRCUITS_WEIGHTS``: "trained" (the default) or "random", the negative control every claim must fail."""
    kind = os.environ.get("CIRCUITS_WEIGHTS", "").strip().lower() or "trained"
    if kind not in WEIGHT_KINDS:
        raise ValueError(f"CIRCUITS_WEIGHTS={kind!r} is not understood; use one of {', '.join(WEIGHT_KINDS)} (or leave it unset).")
    return kind


def fast_or_full(fast: object, full: object):
    """Pick the fast-mode value or the full value, e.g. ``steps = fast_or_full(64, 512)``."""
    return fast if is_fast() else full


def seed_everything(seed: int = 0) -> torch.Generator:
    """Seed Python, NumPy and torch, and return a ``torch.Generator`` seeded the same way."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed)
