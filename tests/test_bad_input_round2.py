"""Issue 25: bad input, second round. One test (or a few) per group R1-R19 of
``shared/reference/bad_input_round2.md``: each reproduces the probe and checks the wanted behaviour
(a correct result, or the course's own error before any long work; a cache that cannot be saved
never costs the result)."""
from __future__ import annotations

import errno
import os
import stat
import traceback
import warnings
from pathlib import Path

import pytest
import torch
from torch import nn

import helpers.training as training
from helpers.dataset_examples import cache_path, load_cache, save_cache, scan_layer
from helpers.files import save_or_warn, write_atomically
from helpers.images import RandomCrops
from helpers.models import CircuitModel, wrap_model

NOBODY = 65534


def small_net() -> CircuitModel:
    torch.manual_seed(0)
    module = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.Conv2d(4, 5, 3, padding=1), nn.ReLU(),
                           nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(5, 2))
    return wrap_model(module, {"a": "1", "b": "3"}, input_size=16)


@pytest.fixture
def model() -> CircuitModel:
    return small_net()


@pytest.fixture
def open_tmp():
    """A temporary folder every uid can reach (pytest's own tmp_path sits in a root-only folder)."""
    import shutil
    import tempfile

    folder = Path(tempfile.mkdtemp(prefix="circuits-r18-"))
    folder.chmod(0o755)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def crops(count: int = 4, seed: int = 0) -> RandomCrops:
    generator = torch.Generator().manual_seed(seed)
    return RandomCrops({"p": torch.rand(3, 40, 40, generator=generator)}, count=count, size=16)


def as_other_user(job, uid: int = NOBODY) -> None:
    """Run ``job()`` in a forked child under another uid (the tests run as root); fail with the child's traceback."""
    if os.geteuid() != 0:
        pytest.skip("needs root to switch to a second uid")
    reader, writer = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: another user of the hub
        os.close(reader)
        code = 0
        try:
            os.setgroups([])
            os.setgid(uid)
            os.setuid(uid)
            job()
        except BaseException:
            os.write(writer, traceback.format_exc().encode())
            code = 1
        os.close(writer)
        os._exit(code)
    os.close(writer)
    with os.fdopen(reader) as pipe:
        report = pipe.read()
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0, f"as uid {uid}:\n{report}"


# --- R18: saving a cache never loses finished work ---------------------------------------------

def test_r18_a_scan_into_a_folder_the_student_cannot_write_warns_and_returns_the_result(model, open_tmp):
    folder = open_tmp / "teacher-only"
    folder.mkdir(mode=0o755)  # owned by root: read-only for everyone else
    expected = scan_layer(model, "b", crops(), cache=False, progress=False).top_value

    def student() -> None:
        with pytest.warns(RuntimeWarning, match=r"Could not save the scan of b .*may not write there.*returned but not cached"):
            found = scan_layer(model, "b", crops(), cache_dir=folder, progress=False)
        assert torch.allclose(found.top_value, expected, equal_nan=True)

    as_other_user(student)
    assert not list(folder.rglob("*.pt"))


@pytest.mark.parametrize("failure", [OSError(errno.ENOSPC, "No space left on device"),
                                     RuntimeError("[enforce fail at inline_container.cc:672] . unexpected pos 64 vs 0"),
                                     OSError(errno.EROFS, "Read-only file system")])
def test_r18_a_full_or_read_only_disk_keeps_the_scan_and_the_training(model, tmp_path, monkeypatch, failure):
    def refuse(*args, **kwargs):
        raise failure

    monkeypatch.setattr(torch, "save", refuse)
    reason = "read-only file system" if getattr(failure, "errno", None) == errno.EROFS else "the disk is full"
    with pytest.warns(RuntimeWarning, match=reason):
        found = scan_layer(model, "b", crops(), cache_dir=tmp_path, progress=False)
    assert found.top_value.shape[0] == 5
    monkeypatch.setattr(training.store, "CACHE_DIR", tmp_path)
    with pytest.warns(RuntimeWarning, match=rf"Could not save the trained network .*{reason}.*CIRCUITS_DATA_DIR"):
        result = training.trained_model("shapes", count=16, size=16, width=2, epochs=1, progress=False)
    assert result.history["train_loss"] and not [p for p in tmp_path.rglob("*") if p.is_file()]


def test_r18_other_errors_while_saving_are_not_hidden(tmp_path):
    def broken(path: Path) -> None:
        raise RuntimeError("a bug in the code that writes")

    with pytest.raises(RuntimeError, match="a bug"):
        save_or_warn(tmp_path / "x.pt", broken, "x")


def test_r18_files_are_readable_by_others_and_writes_leave_no_temporary(tmp_path):
    target = write_atomically(tmp_path / "record.json", lambda temporary: temporary.write_text("{}"))
    assert stat.S_IMODE(target.stat().st_mode) == 0o644
    with pytest.raises(ValueError):
        write_atomically(target, lambda temporary: (temporary.write_text("half"), (_ for _ in ()).throw(ValueError())))
    assert target.read_text() == "{}" and sorted(p.name for p in tmp_path.iterdir()) == ["record.json"]


def test_r18_a_shared_class_folder_works_across_two_uids(model, open_tmp):
    """The teacher (root) fills a shared 1777 data folder; a student (nobody) reads it, adds to it, cannot spoil it."""
    shared = open_tmp / "class-data"
    shared.mkdir()
    os.chmod(shared, 0o1777)
    teacher = scan_layer(model, "b", crops(seed=0), cache_dir=shared, progress=False)
    teacher_file = cache_path(model, "b", crops(seed=0), teacher.settings, shared)
    assert stat.S_IMODE(teacher_file.stat().st_mode) == 0o644
    assert stat.S_IMODE(teacher_file.parent.stat().st_mode) == 0o1777  # the cache folder is as shared as the data folder
    before = teacher_file.read_bytes()

    def student() -> None:
        cached = load_cache(teacher_file, teacher.settings, crops(seed=0))
        assert cached is not None and torch.allclose(cached.top_value, teacher.top_value, equal_nan=True)  # read, not rescanned
        own = scan_layer(model, "b", crops(seed=1), cache_dir=shared, progress=False)  # a new file beside it
        own_file = cache_path(model, "b", crops(seed=1), own.settings, shared)
        assert own_file.exists() and stat.S_IMODE(own_file.stat().st_mode) == 0o644
        with pytest.warns(RuntimeWarning, match="may not write there"):  # the teacher's file is not the student's to replace
            assert not save_or_warn(teacher_file, lambda path: save_cache(path, own), "the scan of b")

    as_other_user(student)
    assert teacher_file.read_bytes() == before
    own_file = cache_path(model, "b", crops(seed=1), teacher.settings, shared)
    assert own_file.stat().st_uid == NOBODY and load_cache(own_file, teacher.settings, crops(seed=1)) is not None
    assert not list(shared.rglob("*.tmp"))
