"""The on-disk cache of dataset-example scans: a fingerprint of the model, the file name, loading and saving.

A file's name holds every setting that changes the result (the model's name and a fingerprint of
its architecture and weights, the layer, the source, the settings and :data:`FORMAT_VERSION`), so a
changed model or setting never reads an old result. Files are written atomically and readable by every user.
"""
from __future__ import annotations

import hashlib
from pathlib import Path

import torch

from ..config import CACHE_DIR
from ..files import make_folder, remove_stale_temporaries, write_atomically
from ..images import ImageSource
from ..models import CircuitModel
from .examples import DatasetExamples

#: Bump when the stored layout or the algorithm changes, so old caches are never read.
FORMAT_VERSION = 1


def model_fingerprint(model: CircuitModel) -> str:
    """A short hash of the model's architecture (its repr, minus memory addresses) and every tensor of its state.

    Interventions add buffers to the state (see :mod:`helpers.interventions`), so an intervened model
    has another fingerprint. It hashes every weight, so compute it once per scan, not once per layer;
    never remember it on the model, whose state can change between scans.
    """
    import re

    digest = hashlib.sha1()
    # The architecture too (settings without weights, e.g. InceptionV1's local response norm), minus memory addresses.
    digest.update(re.sub(r" at 0x[0-9a-fA-F]+", "", repr(model.module) + repr(model.preprocess)).encode())
    for name, tensor in model.module.state_dict().items():
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().view(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()[:16]


def cache_path(model: CircuitModel, layer: str, source: ImageSource, settings: dict, cache_dir: Path | None = None,
               *, fingerprint: str | None = None) -> Path:
    """The cache file for a scan: its name holds every setting that changes the result.

    ``fingerprint`` is :func:`model_fingerprint` of ``model`` when the caller already has it (a scan of
    several layers computes it once); by default it is computed here.
    """
    if fingerprint is None:
        fingerprint = model_fingerprint(model)
    description = repr(sorted({"format": FORMAT_VERSION, "model": model.name, "weights": fingerprint,
                               "layer": layer, "source": source.key, **settings}.items()))
    digest = hashlib.sha1(description.encode()).hexdigest()[:20]
    safe_layer = "".join(ch if ch.isalnum() or ch in "._-" else "_" for ch in layer)
    return Path(cache_dir or CACHE_DIR) / "dataset_examples" / f"{model.name}-{safe_layer}-{digest}.pt"


def load_cache(path: Path, settings: dict, source: ImageSource) -> DatasetExamples | None:
    """The cached scan at ``path`` if it was made with ``settings`` on ``source``; None if absent, stale or unreadable."""
    try:
        if not path.exists():
            return None
        state = torch.load(path, map_location="cpu", weights_only=True)
        if state.get("format") != FORMAT_VERSION or state["examples"]["settings"] != settings:
            return None
        if state["examples"]["source_key"] != source.key:
            return None
        return DatasetExamples.from_state(state["examples"], source)
    except Exception:  # a truncated, corrupt or foreign file: ignore it and scan again
        return None


def save_cache(path: Path, examples: DatasetExamples) -> None:
    """Write ``examples`` to ``path`` atomically, readable by the whole class (see :func:`helpers.files.write_atomically`)."""
    make_folder(path.parent)
    remove_stale_temporaries(path.parent)  # orphans of saves that were killed (kill -9) mid-write
    write_atomically(path, lambda temporary: torch.save({"format": FORMAT_VERSION, "examples": examples.to_state()}, temporary))
