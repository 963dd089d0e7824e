"""PLACEHOLDER — being written (InceptionV1 port). Only weights_file() exists so far."""
from pathlib import Path

from .config import WEIGHTS_DIR


def weights_file() -> Path:
    """Where the InceptionV1 state dict lives once downloaded."""
    return WEIGHTS_DIR / "inception5h.pth"
