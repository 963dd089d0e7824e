"""Downloading files safely: all or nothing, checked, and with a clear way out when offline.

Every download streams into a temporary file next to its destination, is checked (size against
the server's Content-Length, SHA-256 when known, and any extra ``check`` the caller gives), and is
renamed into place only once it passed every check. Whatever goes wrong, no partial file is left
behind, and the error says what failed, which URL it was, and where to put the file by hand.

With ``CIRCUITS_OFFLINE=1`` nothing here touches the network: every call fails at once with that
same guidance.
"""
from __future__ import annotations

import hashlib
import http.client
import os
import shutil
import tarfile
import tempfile
import urllib.error
import urllib.request
import zipfile
from contextlib import contextmanager
from pathlib import Path, PurePosixPath
from typing import Callable, Iterator, Mapping, Sequence

import torch
from torch import nn

from .config import is_offline

#: Seconds to wait for the server to answer (and between two chunks of data).
DEFAULT_TIMEOUT = 60.0
_CHUNK_BYTES = 1 << 20
_HEX_DIGITS = set("0123456789abcdef")


class DownloadError(OSError):
    """A download that failed or did not pass its checks; nothing was kept on disk."""

    def __init__(self, url: str, dest: Path, reason: str, *, by_hand: str | None = None):
        self.url = url
        self.dest = Path(dest)
        self.reason = reason
        by_hand = by_hand or f"save it as {self.dest}"
        super().__init__(
            f"Could not download {url}: {reason}. Nothing was saved. To get it by hand, download "
            f"{url} on a machine with network access and {by_hand}."
        )

    def __str__(self) -> str:  # OSError would prefix an errno tuple otherwise
        return self.args[0]


def file_sha256(path: str | Path) -> str:
    """The SHA-256 hex digest of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(_CHUNK_BYTES), b""):
            digest.update(chunk)
    return digest.hexdigest()


@contextmanager
def network_timeout(seconds: float | None = None) -> Iterator[None]:
    """Bound every socket wait inside a ``with`` block, for third-party downloaders that take no timeout.

    torchvision's dataset downloaders (``CIFAR10(download=True)``) call ``urlopen`` without a timeout, so a
    server that accepts the connection and never answers would hang them forever; inside this block the
    socket default (``seconds``, default :data:`DEFAULT_TIMEOUT`) applies and they raise ``TimeoutError``.
    """
    import socket

    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(DEFAULT_TIMEOUT if seconds is None else float(seconds))
    try:
        yield
    finally:
        socket.setdefaulttimeout(previous)


def remove_stale_temporaries(folder: str | Path, pattern: str, *, older_than_s: float = 3600.0) -> list[Path]:
    """Delete files matching ``pattern`` in ``folder`` last modified more than ``older_than_s`` ago; returns them.

    Temporary files are renamed into place or deleted by the code that wrote them; one still there long
    after is the leftover of a process that was killed (``kill -9``, a power cut) and would stay forever.
    Younger ones may belong to a save in progress in another process, so they are left alone.
    """
    import time

    folder = Path(folder)
    removed = []
    if not folder.is_dir():
        return removed
    limit = time.time() - older_than_s
    for path in folder.glob(pattern):
        try:
            if path.is_file() and path.stat().st_mtime < limit:
                path.unlink()
                removed.append(path)
        except OSError:  # vanished meanwhile, or not ours to delete
            continue
    return removed


def _check_sha256_argument(sha256: str | None) -> str | None:
    if sha256 is None:
        return None
    expected = sha256.strip().lower()
    if not 8 <= len(expected) <= 64 or not set(expected) <= _HEX_DIGITS:
        raise ValueError(
            f"sha256 must be a SHA-256 hex digest or its first 8 or more hex digits (as torch.hub puts in file "
            f"names), not {sha256!r}."
        )
    return expected


def _stream_to(response: http.client.HTTPResponse, handle, url: str, progress: bool) -> tuple[int, str, int | None]:
    """Copy a response into an open file; return (bytes written, sha256, announced length)."""
    from tqdm.auto import tqdm

    length_header = response.headers.get("Content-Length")
    expected_length = int(length_header) if length_header and length_header.isdigit() else None
    digest = hashlib.sha256()
    written = 0
    with tqdm(total=expected_length, unit="B", unit_scale=True, unit_divisor=1024,
              desc=PurePosixPath(url).name or url, disable=not progress, leave=False) as bar:
        while True:
            chunk = response.read(_CHUNK_BYTES)
            if not chunk:
                break
            handle.write(chunk)
            digest.update(chunk)
            written += len(chunk)
            bar.update(len(chunk))
    return written, digest.hexdigest(), expected_length


def download(
    url: str,
    dest: str | Path,
    *,
    sha256: str | None = None,
    check: Callable[[Path], None] | None = None,
    progress: bool = True,
    timeout: float | None = None,
) -> Path:
    """Download ``url`` to ``dest``, keeping the file only if it arrived whole and passed every check.

    ``sha256`` is the expected hex digest, or its first digits (torch.hub's file-name convention).
    ``check`` receives the downloaded (still temporary) file and raises to reject it. ``timeout``
    (default :data:`DEFAULT_TIMEOUT`, read at call time) bounds every wait for the server. Raises
    :class:`DownloadError` (an ``OSError``) on any failure, offline mode included.
    """
    dest = Path(dest)
    timeout = DEFAULT_TIMEOUT if timeout is None else float(timeout)
    if not timeout > 0:
        raise ValueError(f"timeout must be a positive number of seconds, got {timeout}.")
    expected_sha = _check_sha256_argument(sha256)
    if is_offline():
        raise DownloadError(url, dest, "CIRCUITS_OFFLINE is set, so the network is not used")
    dest.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(dest.parent, f".{dest.name}.*.part")  # left by a download that was killed
    handle = tempfile.NamedTemporaryFile(dir=dest.parent, prefix=f".{dest.name}.", suffix=".part", delete=False)
    temporary = Path(handle.name)
    try:
        try:
            request = urllib.request.Request(url, headers={"User-Agent": "circuits-course"})
            with handle, urllib.request.urlopen(request, timeout=timeout) as response:
                written, digest, expected_length = _stream_to(response, handle, url, progress)
        except urllib.error.HTTPError as error:
            raise DownloadError(url, dest, f"the server answered HTTP {error.code} ({error.reason})") from error
        except (TimeoutError, urllib.error.URLError) as error:
            if isinstance(error, TimeoutError) or isinstance(getattr(error, "reason", None), TimeoutError):
                raise DownloadError(url, dest, f"the server did not answer within {timeout:g} s (timed out)") from error
            raise DownloadError(url, dest, f"no connection ({error.reason})") from error
        except (http.client.HTTPException, OSError) as error:
            raise DownloadError(url, dest, f"the transfer broke off ({type(error).__name__}: {error})") from error
        if expected_length is not None and written != expected_length:
            raise DownloadError(url, dest, f"the transfer was cut short: got {written} of {expected_length} bytes")
        if expected_sha is not None and not digest.startswith(expected_sha):
            raise DownloadError(url, dest, f"its SHA-256 is {digest}, but {expected_sha} was expected (corrupt or changed file)")
        if check is not None:
            try:
                check(temporary)
            except Exception as error:  # any rejection by the caller's check, reported with its reason
                raise DownloadError(url, dest, f"the downloaded file failed its check: {error}") from error
        os.replace(temporary, dest)
        return dest
    finally:
        handle.close()
        temporary.unlink(missing_ok=True)


def _safe_member_name(name: str) -> PurePosixPath:
    path = PurePosixPath(name)
    if path.is_absolute() or ".." in path.parts:
        raise ValueError(f"archive member {name!r} would be written outside the target folder")
    return path


def _archive_members(archive: Path) -> list[str]:
    if zipfile.is_zipfile(archive):
        with zipfile.ZipFile(archive) as bundle:
            return [info.filename for info in bundle.infolist() if not info.is_dir()]
    with tarfile.open(archive) as bundle:
        return [member.name for member in bundle.getmembers() if member.isfile()]


def _extract_all(archive: Path, target: Path) -> None:
    if zipfile.is_zipfile(archive):
        with zipfile.ZipFile(archive) as bundle:
            for name in bundle.namelist():
                _safe_member_name(name)
            bundle.extractall(target)
        return
    with tarfile.open(archive) as bundle:
        for member in bundle.getmembers():
            _safe_member_name(member.name)
            if not (member.isfile() or member.isdir()):
                raise ValueError(f"archive member {member.name!r} is a link or device; refusing to unpack it")
        if hasattr(tarfile, "data_filter"):
            bundle.extractall(target, filter="data")
        else:  # Python < 3.11.4: members were checked above
            bundle.extractall(target)


def _extract_named(archive: Path, wanted: Sequence[str], target: Path) -> None:
    """Copy the members whose base name is in ``wanted`` directly into ``target``."""
    found = {}
    for name in _archive_members(archive):
        base = PurePosixPath(name).name
        if base in wanted and base not in found:
            found[base] = name
    missing = [name for name in wanted if name not in found]
    if missing:
        raise ValueError(f"the archive holds no file named {', '.join(missing)}")
    if zipfile.is_zipfile(archive):
        with zipfile.ZipFile(archive) as bundle:
            for base, name in found.items():
                with bundle.open(name) as source, open(target / base, "wb") as out:
                    shutil.copyfileobj(source, out)
    else:
        with tarfile.open(archive) as bundle:
            for base, name in found.items():
                source = bundle.extractfile(name)
                with source, open(target / base, "wb") as out:
                    shutil.copyfileobj(source, out)


def download_and_extract(
    url: str,
    dest_dir: str | Path,
    *,
    members: Sequence[str] | None = None,
    progress: bool = True,
    timeout: float | None = None,
) -> Path:
    """Download a .tgz/.tar.gz/.tar/.zip archive and unpack it into ``dest_dir``; returns ``dest_dir``.

    Everything is unpacked into a temporary folder first and moved into place only once the whole
    archive was read; top-level entries that already exist in ``dest_dir`` are replaced. With
    ``members`` (file base names, e.g. ``["labels.txt"]``) only those files are kept, placed
    directly in ``dest_dir``. The archive itself is deleted afterwards.
    """
    dest_dir = Path(dest_dir)
    archive_name = PurePosixPath(url.split("?")[0]).name or "archive"
    archive = dest_dir / f".{archive_name}.download"
    kept = f"the files {', '.join(members)}" if members is not None else "everything"
    by_hand = f"unpack {kept} into {dest_dir}"
    try:
        download(url, archive, progress=progress, timeout=timeout)
    except DownloadError as error:
        raise DownloadError(url, dest_dir, error.reason, by_hand=by_hand) from error
    staging = Path(tempfile.mkdtemp(dir=dest_dir, prefix=".unpacking-"))
    try:
        try:
            if members is not None:
                _extract_named(archive, list(members), staging)
            else:
                _extract_all(archive, staging)
        except (tarfile.TarError, zipfile.BadZipFile, ValueError, OSError, EOFError) as error:
            raise DownloadError(url, dest_dir, f"the archive could not be unpacked ({error})", by_hand=by_hand) from error
        for entry in sorted(staging.iterdir()):
            target = dest_dir / entry.name
            if target.is_dir() and not target.is_symlink():
                shutil.rmtree(target)
            elif target.exists() or target.is_symlink():
                target.unlink()
            os.replace(entry, target)
        return dest_dir
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        archive.unlink(missing_ok=True)


class WeightsFileError(ValueError):
    """A weights file that cannot be read, or whose tensors do not fit the architecture."""


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


def first_non_finite(tensors: Mapping[str, torch.Tensor]) -> str | None:
    """The name of the first floating-point tensor holding a NaN or an infinity (meta tensors skipped), or None."""
    for name, tensor in tensors.items():
        if tensor.is_floating_point() and tensor.device.type != "meta" and not bool(torch.isfinite(tensor).all()):
            return name
    return None


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
