"""helpers.files: atomic writes readable by others, hashing, stale temporary files, saves that warn, state-dict checks."""
from __future__ import annotations

import errno
import hashlib
import os
import stat
import subprocess
import sys
import time

import pytest
import torch
from torch import nn

from helpers.files import (
    WeightsFileError, check_state_dict, file_sha256, make_folder, remove_stale_temporaries, save_or_warn,
    temporary_path, write_atomically,
)


def test_write_atomically_renames_a_file_readable_by_all(tmp_path):
    old_umask = os.umask(0o077)  # even a private umask gives a file the class can read
    try:
        path = write_atomically(tmp_path / "a.bin", lambda temporary: temporary.write_bytes(b"abc"))
    finally:
        os.umask(old_umask)
    assert path.read_bytes() == b"abc" and stat.S_IMODE(path.stat().st_mode) == 0o644
    assert file_sha256(path) == hashlib.sha256(b"abc").hexdigest()
    assert [p.name for p in tmp_path.iterdir()] == ["a.bin"]


def test_a_failed_write_keeps_the_old_file_and_no_temporary(tmp_path):
    path = write_atomically(tmp_path / "a.bin", lambda temporary: temporary.write_bytes(b"old"))

    def half(temporary):
        temporary.write_bytes(b"ne")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        write_atomically(path, half)
    assert path.read_bytes() == b"old" and [p.name for p in tmp_path.iterdir()] == ["a.bin"]


def test_stale_temporaries_of_dead_writers_and_old_ones_go_live_ones_stay(tmp_path):
    child = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead_pid = int(child.stdout)
    dead = tmp_path / f".cache.pt.{dead_pid}.0123abcd.tmp"  # its writer is gone (kill -9)
    mine = temporary_path(tmp_path / "cache.pt")  # a save in progress in this process
    old = tmp_path / "foreign.tmp"  # no writer id, but untouched for two hours
    young = tmp_path / "recent.tmp"  # no writer id, young: maybe another machine's save in progress
    for path in (dead, mine, old, young):
        path.write_bytes(b"x")
    os.utime(old, (time.time() - 7200, time.time() - 7200))
    layer_name = tmp_path / ".model-blocks.3.2-abc.pt.3.2.tmp"  # digits in a layer name are not a writer id
    layer_name.write_bytes(b"x")
    assert sorted(remove_stale_temporaries(tmp_path)) == sorted([dead, old])
    assert mine.exists() and young.exists() and layer_name.exists()


@pytest.mark.parametrize("code, reason", [(errno.ENOSPC, "the disk is full"), (errno.EROFS, "read-only file system"),
                                          (errno.EACCES, "may not write there")])
def test_save_or_warn_says_why_and_how_to_fix_it(tmp_path, code, reason):
    def refuse(path):
        raise OSError(code, os.strerror(code))

    with pytest.warns(RuntimeWarning, match=rf"Could not save the thing to .*x.pt: .*{reason}.*CIRCUITS_DATA_DIR"):
        assert save_or_warn(tmp_path / "x.pt", refuse, "the thing") is False
    assert save_or_warn(tmp_path / "y.pt", lambda path: path.write_bytes(b"1"), "it") is True


def test_make_folder_shares_new_folders_like_their_parent(tmp_path):
    shared = tmp_path / "shared"
    shared.mkdir()
    os.chmod(shared, 0o2775)
    made = make_folder(shared / "cache" / "dataset_examples")
    assert stat.S_IMODE(made.stat().st_mode) == stat.S_IMODE((shared / "cache").stat().st_mode) == 0o2775


def test_state_dict_checks_name_the_tensor(tmp_path):
    module = nn.Linear(2, 3)
    check_state_dict(module.state_dict(), module, origin="good")
    with pytest.raises(WeightsFileError, match=r"'weight' has shape \(2, 2\)"):
        check_state_dict({"weight": torch.zeros(2, 2), "bias": torch.zeros(3)}, module, origin="f")
    with pytest.raises(WeightsFileError, match="'bias' holds NaN"):
        check_state_dict({"weight": torch.zeros(3, 2), "bias": torch.full((3,), float("nan"))}, module, origin="f")
