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
from typing import Callable, Iterator, Sequence

from .config import is_offline
from .files import remove_stale_temporaries, write_atomically

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
    remove_stale_temporaries(dest.parent)  # left by a download that was killed

    def fetch(temporary: Path) -> None:
        try:
            request = urllib.request.Request(url, headers={"User-Agent": "circuits-course"})
            with open(temporary, "wb") as handle, urllib.request.urlopen(request, timeout=timeout) as response:
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

    return write_atomically(dest, fetch)


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
