"""Files on disk, safely: atomic writes readable by a whole class, hashing, stale-file cleanup, state-dict checks.

Every file the course writes (a cache, a download, a claims log) goes through :func:`write_atomically`:
it is written to a temporary file in the destination's own folder, made readable by the group and
others (a class shares one data folder on a hub), and renamed into place, so a reader sees the old
file or the new one, never half of one. :func:`save_or_warn` turns a save that fails (read-only
folder, full disk, another user's file) into a warning that says how to fix it: a cache that cannot
be saved never costs the result it was going to hold.
"""
from __future__ import annotations

import errno
import hashlib
import os
import re
import secrets
import time
import warnings
from pathlib import Path
from typing import Callable, Mapping

import torch
from torch import nn

#: A temporary file whose writer is gone, or that was not modified for this many seconds, is an orphan.
STALE_TEMPORARY_SECONDS = 600.0

#: The mode of every file the course writes: readable by the group and others, writable by its owner.
SHARED_FILE_MODE = 0o644

_CHUNK_BYTES = 1 << 20
#: The end of a name made by :func:`temporary_path`: ``.<pid>.<8 hex digits>.tmp``.
_TEMPORARY_NAME = re.compile(r"\.(\d+)\.[0-9a-f]{8}\.tmp$")


class WeightsFileError(ValueError):
    """A weights file that cannot be read, or whose tensors do not fit the architecture."""


def file_sha256(path: str | Path) -> str:
    """The SHA-256 hex digest of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(_CHUNK_BYTES), b""):
            digest.update(chunk)
    return digest.hexdigest()


def make_folder(folder: str | Path) -> Path:
    """Create ``folder`` and its missing parents with the permission bits of the nearest existing one.

    A teacher who makes the data folder shared (``chmod 1777`` or a group folder ``2775``) shares every
    cache folder the course creates inside it, so students of other uids can add their own files.
    """
    folder = Path(folder)
    missing = []
    existing = folder
    while not existing.exists():
        missing.append(existing)
        existing = existing.parent
    mode = existing.stat().st_mode & 0o7777
    for created in reversed(missing):
        created.mkdir(exist_ok=True)
        try:
            os.chmod(created, mode)
        except OSError:  # made meanwhile by another user: theirs to share
            pass
    return folder


def temporary_path(path: str | Path) -> Path:
    """A fresh temporary name beside ``path``: hidden, with this process's id (so a cleaner knows when its writer is gone)."""
    path = Path(path)
    return path.parent / f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp"


def write_atomically(path: str | Path, write: Callable[[Path], None]) -> Path:
    """Call ``write(temporary)`` to fill a temporary file beside ``path``, make it readable by all, rename it to ``path``.

    Whatever ``write`` raises, the temporary file is removed and the old ``path`` (if any) is untouched.
    """
    path = Path(path)
    temporary = temporary_path(path)
    try:
        write(temporary)
        os.chmod(temporary, SHARED_FILE_MODE)
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return path


def _writer_gone(temporary: Path) -> bool:
    """True when the temporary file's name holds the id of a process that no longer runs on this machine."""
    found = _TEMPORARY_NAME.search(temporary.name)
    if found is None or int(found.group(1)) == os.getpid():
        return False
    pid = int(found.group(1))
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except OSError:  # another user's process: alive
        return False
    return False


def remove_stale_temporaries(folder: str | Path, pattern: str = "*.tmp", *,
                             older_than_s: float = STALE_TEMPORARY_SECONDS) -> list[Path]:
    """Delete orphaned temporary files (``pattern``) in ``folder``: their writer is gone, or they are older than ``older_than_s``.

    A temporary file is renamed into place or deleted by the code that wrote it; one left behind comes
    from a process that was killed (``kill -9``, a power cut). Younger ones of live processes may be
    saves in progress and are kept; files this user may not delete (another user's, in a shared folder)
    are skipped. Returns the files removed.
    """
    folder = Path(folder)
    removed: list[Path] = []
    if not folder.is_dir():
        return removed
    limit = time.time() - older_than_s
    for temporary in folder.glob(pattern):
        try:
            if temporary.is_file() and (_writer_gone(temporary) or temporary.stat().st_mtime < limit):
                temporary.unlink()
                removed.append(temporary)
        except OSError:  # vanished meanwhile, or not ours to delete
            continue
    return removed


def _why_not_saved(error: OSError) -> str:
    """What the student can do about a failed save, from its errno."""
    if error.errno in (errno.ENOSPC, errno.EDQUOT):
        return "the disk is full (or your quota is used up): free some space"
    if error.errno == errno.EROFS:
        return "the folder is on a read-only file system"
    if error.errno in (errno.EACCES, errno.EPERM):
        return ("you may not write there (a read-only folder, or another user's file): make it writable "
                "(chmod u+w, or ask its owner)")
    return f"{type(error).__name__}: {error}"


def is_disk_full(error: BaseException) -> bool:
    """True for the errors a full disk gives: ``ENOSPC`` / ``EDQUOT``, or torch's zip writer failing mid-file."""
    if isinstance(error, OSError):
        return error.errno in (errno.ENOSPC, errno.EDQUOT)
    text = str(error)
    return isinstance(error, RuntimeError) and ("unexpected pos" in text or "iostream error" in text
                                                 or "PytorchStreamWriter failed" in text)


def save_or_warn(path: str | Path, save: Callable[[Path], object], what: str) -> bool:
    """Run ``save(path)``; if the disk or folder refuses it, warn how to fix that and return False (the caller keeps its result).

    ``what`` names the result (``"the scan of mixed4a"``) in the warning.
    """
    path = Path(path)
    try:
        save(path)
        return True
    except (OSError, RuntimeError) as error:
        if isinstance(error, RuntimeError) and not is_disk_full(error):
            raise
        reason = _why_not_saved(error) if isinstance(error, OSError) else "the disk is full: free some space"
        warnings.warn(f"Could not save {what} to {path}: {reason}. The result is returned but not cached, so it will be "
                      "computed again next time; or set CIRCUITS_DATA_DIR to a writable folder with free space.",
                      RuntimeWarning, stacklevel=3)
        return False


def first_non_finite(tensors: Mapping[str, torch.Tensor]) -> str | None:
    """The name of the first floating-point tensor holding a NaN or an infinity (meta tensors skipped), or None."""
    for name, tensor in tensors.items():
        if tensor.is_floating_point() and tensor.device.type != "meta" and not bool(torch.isfinite(tensor).all()):
            return name
    return None


def check_state_dict(state_dict: Mapping[str, torch.Tensor], module: nn.Module, *, origin: str, fix: str = "") -> None:
    """Raise :class:`WeightsFileError` unless ``state_dict`` has exactly ``module``'s tensor names and shapes."""
    fix = f" {fix}" if fix else ""
    if not isinstance(state_dict, Mapping) or not all(isinstance(v, torch.Tensor) for v in state_dict.values()):
        raise WeightsFileError(f"{origin} does not hold a state dict (a dict of tensor names to tensors).{fix}")
    expected = module.state_dict()
    missing = [name for name in expected if name not in state_dict]
    unexpected = [name for name in state_dict if name not in expected]
    if missing or unexpected:
        raise WeightsFileError(
            f"{origin} does not match the architecture: {len(missing)} tensor(s) missing (e.g. {missing[:3]}), "
            f"{len(unexpected)} unexpected (e.g. {unexpected[:3]}).{fix}"
        )
    for name, tensor in expected.items():
        if tuple(state_dict[name].shape) != tuple(tensor.shape):
            raise WeightsFileError(
                f"{origin}: tensor {name!r} has shape {tuple(state_dict[name].shape)}, but the architecture needs "
                f"{tuple(tensor.shape)}.{fix}"
            )
    bad = first_non_finite(state_dict)
    if bad is not None:
        raise WeightsFileError(f"{origin}: tensor {bad!r} holds NaN or infinite values, so every activation after it "
                               f"would be NaN.{fix}")


def describe_load_error(error: BaseException) -> str:
    """What went wrong in ``torch.load``, in one line, without PyTorch's advice to retry with ``weights_only`` off.

    That advice would run whatever code a crafted file holds; the course never loads a file that way.
    """
    text = str(error)
    marker = "WeightsUnpickler error:"
    if marker in text:
        text = text[text.index(marker) + len(marker):]
    lines = [line.strip() for line in text.splitlines()
             if line.strip() and not any(word in line for word in ("weights_only", "trusted source", "torch.load"))]
    first = lines[0] if lines else ""
    return f"{type(error).__name__}: {first}" if first else type(error).__name__


def load_checked_state_dict(path: str | Path, module: nn.Module, *, source: str) -> dict[str, torch.Tensor]:
    """Read a state dict with ``torch.load(weights_only=True)`` and check its names and shapes against ``module``.

    ``source`` (where the file comes from) goes into the error message, which says how to fix the file.
    """
    path = Path(path)
    fix = f"Delete {path} and download it again from {source}."
    try:
        state_dict = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises several types for truncated or foreign files
        raise WeightsFileError(
            f"{path} could not be read as a PyTorch state dict (truncated or corrupt?): {describe_load_error(error)}. "
            f"{fix}"
        ) from None
    check_state_dict(state_dict, module, origin=str(path), fix=fix)
    return dict(state_dict)
