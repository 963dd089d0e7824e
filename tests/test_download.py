"""Tests of helpers.download against a local HTTP server (no network needed)."""
from __future__ import annotations

import hashlib
import io
import tarfile
import zipfile
from pathlib import Path

import pytest
import torch
from torch import nn

from helpers.download import DownloadError, download, download_and_extract
from helpers.files import WeightsFileError, file_sha256, load_checked_state_dict

PAYLOAD = bytes(range(256)) * 400  # 100 KiB, several chunks for the progress bar


@pytest.fixture(autouse=True)
def online(monkeypatch):
    """The test command sets CIRCUITS_OFFLINE=1; these tests only talk to 127.0.0.1, so lift it."""
    monkeypatch.delenv("CIRCUITS_OFFLINE", raising=False)


def _files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def test_download_lands_whole_and_leaves_no_temporary_file(http_server, tmp_path):
    (http_server.root / "blob.bin").write_bytes(PAYLOAD)
    dest = tmp_path / "out" / "blob.bin"
    result = download(http_server.url("blob.bin"), dest, sha256=hashlib.sha256(PAYLOAD).hexdigest(), progress=False)
    assert result == dest and dest.read_bytes() == PAYLOAD
    assert _files(dest.parent) == ["blob.bin"]
    assert file_sha256(dest) == hashlib.sha256(PAYLOAD).hexdigest()


def test_sha256_prefix_is_accepted_and_a_wrong_digest_is_rejected(http_server, tmp_path):
    (http_server.root / "blob.bin").write_bytes(PAYLOAD)
    digest = hashlib.sha256(PAYLOAD).hexdigest()
    download(http_server.url("blob.bin"), tmp_path / "a.bin", sha256=digest[:8], progress=False)
    wrong = ("0" if digest[0] != "0" else "1") + digest[1:]
    with pytest.raises(DownloadError, match="SHA-256") as caught:
        download(http_server.url("blob.bin"), tmp_path / "b.bin", sha256=wrong, progress=False)
    assert http_server.url("blob.bin") in str(caught.value) and str(tmp_path / "b.bin") in str(caught.value)
    assert _files(tmp_path) == ["a.bin", "served"]


def test_bad_sha256_argument_is_refused(tmp_path):
    with pytest.raises(ValueError, match="hex"):
        download("http://127.0.0.1:9/x", tmp_path / "x", sha256="not-a-digest")


def test_cut_transfer_is_rejected_and_nothing_is_kept(http_server, tmp_path):
    (http_server.root / "blob.bin").write_bytes(PAYLOAD)
    http_server.cut_after["blob.bin"] = 1000
    dest = tmp_path / "out" / "blob.bin"
    with pytest.raises(DownloadError, match="cut short|broke off"):
        download(http_server.url("blob.bin"), dest, progress=False)
    assert _files(dest.parent) == []


def test_failed_download_keeps_the_previous_file(http_server, tmp_path):
    (http_server.root / "blob.bin").write_bytes(PAYLOAD)
    http_server.cut_after["blob.bin"] = 10
    dest = tmp_path / "blob.bin"
    dest.write_bytes(b"old contents")
    with pytest.raises(DownloadError):
        download(http_server.url("blob.bin"), dest, progress=False)
    assert dest.read_bytes() == b"old contents"


def test_check_callback_rejection_is_reported(http_server, tmp_path):
    (http_server.root / "blob.bin").write_bytes(PAYLOAD)

    def must_be_text(path: Path) -> None:
        path.read_bytes().decode("ascii")

    with pytest.raises(DownloadError, match="failed its check"):
        download(http_server.url("blob.bin"), tmp_path / "out" / "blob.bin", check=must_be_text, progress=False)
    assert _files(tmp_path / "out") == []


def test_http_error_names_the_status(http_server, tmp_path):
    with pytest.raises(DownloadError, match="HTTP 404"):
        download(http_server.url("missing.bin"), tmp_path / "missing.bin", progress=False)
    assert not (tmp_path / "missing.bin").exists()


def test_refused_connection_is_a_clear_error(http_server, tmp_path):
    url = http_server.url("blob.bin")
    http_server.stop()
    with pytest.raises(DownloadError, match="no connection") as caught:
        download(url, tmp_path / "blob.bin", progress=False, timeout=5)
    assert "save it as" in str(caught.value)
    assert _files(tmp_path) == ["served"]


def test_offline_mode_never_makes_a_request(http_server, tmp_path, monkeypatch):
    (http_server.root / "blob.bin").write_bytes(PAYLOAD)
    monkeypatch.setenv("CIRCUITS_OFFLINE", "1")
    with pytest.raises(DownloadError, match="CIRCUITS_OFFLINE"):
        download(http_server.url("blob.bin"), tmp_path / "blob.bin", progress=False)
    with pytest.raises(DownloadError, match="CIRCUITS_OFFLINE"):
        download_and_extract(http_server.url("blob.bin"), tmp_path / "unpacked", progress=False)
    assert http_server.requests == []
    assert not (tmp_path / "blob.bin").exists()


def _tar_gz(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as bundle:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            bundle.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def test_download_and_extract_unpacks_a_tgz_and_removes_the_archive(http_server, tmp_path):
    archive = _tar_gz({"woof2-160/val/n0/a.txt": b"a", "woof2-160/train/n1/b.txt": b"b"})
    (http_server.root / "woof2-160.tgz").write_bytes(archive)
    target = tmp_path / "datasets"
    assert download_and_extract(http_server.url("woof2-160.tgz"), target, progress=False) == target
    assert (target / "woof2-160" / "val" / "n0" / "a.txt").read_bytes() == b"a"
    assert (target / "woof2-160" / "train" / "n1" / "b.txt").read_bytes() == b"b"
    assert _files(target) == ["woof2-160"]  # no archive, no staging folder left


def test_download_and_extract_keeps_only_named_members_of_a_zip(http_server, tmp_path):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as bundle:
        bundle.writestr("graph.pb", b"big graph")
        bundle.writestr("labels.txt", "dummy\nkit fox\n")
    (http_server.root / "release.zip").write_bytes(buffer.getvalue())
    download_and_extract(http_server.url("release.zip"), tmp_path / "w", members=["labels.txt"], progress=False)
    assert _files(tmp_path / "w") == ["labels.txt"]
    with pytest.raises(DownloadError, match="no file named nope.txt"):
        download_and_extract(http_server.url("release.zip"), tmp_path / "w", members=["nope.txt"], progress=False)


def test_archive_escaping_its_folder_is_refused(http_server, tmp_path):
    (http_server.root / "evil.tgz").write_bytes(_tar_gz({"../escaped.txt": b"x"}))
    target = tmp_path / "inside"
    with pytest.raises(DownloadError, match="outside the target folder"):
        download_and_extract(http_server.url("evil.tgz"), target, progress=False)
    assert not (tmp_path / "escaped.txt").exists()
    assert _files(target) == []


def test_load_checked_state_dict_names_the_problem(tmp_path):
    module = nn.Sequential(nn.Conv2d(3, 4, 3), nn.Linear(4, 2))
    good = tmp_path / "good.pth"
    torch.save(module.state_dict(), good)
    assert set(load_checked_state_dict(good, module, source="URL")) == set(module.state_dict())

    truncated = tmp_path / "truncated.pth"
    truncated.write_bytes(good.read_bytes()[:200])
    with pytest.raises(WeightsFileError, match="truncated or corrupt"):
        load_checked_state_dict(truncated, module, source="URL")

    wrong = dict(module.state_dict(), **{"1.weight": torch.zeros(3, 4)})
    torch.save(wrong, tmp_path / "wrong.pth")
    with pytest.raises(WeightsFileError, match=r"'1\.weight' has shape \(3, 4\).*needs \(2, 4\)"):
        load_checked_state_dict(tmp_path / "wrong.pth", module, source="URL")

    torch.save({"other": torch.zeros(1)}, tmp_path / "foreign.pth")
    with pytest.raises(WeightsFileError, match="missing"):
        load_checked_state_dict(tmp_path / "foreign.pth", module, source="URL")


# --- scripts/prepare_data.py, the set-up command's front end to these downloads ---------------

def test_prepare_data_skips_everything_offline_and_exits_0(tmp_path):
    import os
    import subprocess
    import sys

    from helpers.config import REPO_ROOT

    env = dict(os.environ, CIRCUITS_OFFLINE="1", CIRCUITS_DATA_DIR=str(tmp_path / "data"))
    result = subprocess.run(
        [sys.executable, str(REPO_ROOT / "scripts" / "prepare_data.py"), "--quiet",
         "--models", "inceptionv1", "resnet18", "--data", "imagewoof"],
        capture_output=True, text=True, env=env, timeout=120,
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 3
    assert all("skipped (CIRCUITS_OFFLINE is set)" in line and "prepare_data.py" in line for line in lines)
    assert not (tmp_path / "data").exists() or not any(p.is_file() for p in (tmp_path / "data").rglob("*"))


def test_prepare_data_reports_ready_and_skipped_items(http_server, tmp_path, monkeypatch, capsys):
    import importlib.util

    import helpers.inceptionv1 as inception
    import helpers.inceptionv1_weights as inception_weights
    from helpers.config import REPO_ROOT

    spec = importlib.util.spec_from_file_location("prepare_data", REPO_ROOT / "scripts" / "prepare_data.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    monkeypatch.setattr(inception_weights, "WEIGHTS_DIR", tmp_path / "weights")
    weights = inception.InceptionV1().state_dict()
    torch.save(weights, http_server.root / "inception5h.pth")
    monkeypatch.setattr(inception_weights, "WEIGHTS_URL", http_server.url("inception5h.pth"))
    monkeypatch.setattr(inception_weights, "LABELS_URL", http_server.url("missing.zip"))
    assert script.main(["--quiet", "--models", "inceptionv1", "efficientnet_lite0", "--data"]) == 0
    out = capsys.readouterr().out
    assert f"inceptionv1: ready ({inception_weights.weights_file()})" in out
    assert "efficientnet_lite0: ready" in out
    http_server.stop()
    inception_weights.weights_file().unlink()
    assert script.main(["--quiet", "--models", "inceptionv1", "--data"]) == 0
    assert "inceptionv1: skipped (no connection" in capsys.readouterr().out
