"""Issue 25: bad input, second round. One test (or a few) per group R1-R19 of
``shared/reference/bad_input_round2.md``: each reproduces the probe and checks the wanted behaviour
(a correct result, or the course's own error before any long work; a cache that cannot be saved
never costs the result)."""
from __future__ import annotations

import errno
import math
import os
import stat
import traceback
from pathlib import Path

import pytest
import torch
from torch import nn

import helpers.training as training
from helpers.dataset_examples import cache_path, load_cache, save_cache, scan_layer
from helpers.files import save_or_warn, write_atomically
from helpers.images import RandomCrops
from helpers.models import CircuitModel
from helpers.wrapping import wrap_model
from test_bad_input import small_net  # the same three-layer network as the first round

NOBODY = 65534


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
            torch.set_num_threads(1)  # the parent's OpenMP threads are not in the child: a parallel region would wait for them
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


# --- R1, R2: whole numbers, never truncated ------------------------------------------------------

@pytest.mark.parametrize("channel", [3.7, True, torch.tensor(5.9), "abc", 2.0])
def test_r1_r2_a_channel_must_be_a_whole_number(model, channel):
    with pytest.raises(TypeError, match="channel must be a whole number"):
        model.unit("b", channel)
    with pytest.raises(TypeError, match="channel must be a whole number"):
        model.unit(("b", channel))


def test_r1_r2_whole_numbers_pass_and_other_counts_are_checked(model):
    import numpy as np

    from helpers.featurevis import channel, render
    from helpers.training import load_dataset

    assert model.unit("b", np.int64(2)) == model.unit("b", torch.tensor(2)) == model.unit("b:2")
    ex = scan_layer(model, "b", crops(), cache=False, progress=False)
    with pytest.raises(TypeError, match="channel must be a whole number"):
        ex.top_indices(2.7)
    for options in ({"steps": 2.5}, {"seed": "abc"}, {"size": 32.5}):
        with pytest.raises(TypeError, match=f"{next(iter(options))} must be a whole number"):
            render(model, channel("b:1"), **{"size": 32, "steps": 2, **options})
    with pytest.raises(TypeError, match="size must be a whole number"):
        load_dataset("shapes", count=10, size=16.5)


# --- R3: the wrong kind of argument for a layer or a source --------------------------------------

def test_r3_layers_and_sources_of_the_wrong_kind(model):
    from helpers.activations import capture
    from helpers.dataset_examples import scan_layers

    with pytest.raises(TypeError, match="layers must be a layer name or a list"):
        capture(model, torch.rand(1, 3, 16, 16), 3)
    with pytest.raises(TypeError, match="ImageFolder.*RandomCrops"):
        scan_layer(model, "b", torch.rand(2, 3, 16, 16))
    with pytest.raises(TypeError, match="scan_layers"):
        scan_layer(model, ["b"], crops())
    with pytest.raises(TypeError, match="for one layer use scan_layer"):
        scan_layers(model, "b", crops())


# --- R4, R5: float64 images and the value range ---------------------------------------------------

def test_r4_float64_images_give_the_float32_result(model):
    from helpers.activations import capture

    images = torch.rand(2, 3, 16, 16, dtype=torch.float64)
    assert torch.equal(capture(model, images, "b")["b"], capture(model, images.float(), "b")["b"])


def test_r5_normalised_images_are_refused_and_the_converter_does_not_guess(model):
    import numpy as np

    from helpers.activations import capture
    from helpers.images import to_image_tensor

    images = torch.rand(2, 3, 16, 16)
    with pytest.raises(ValueError, match=r"normalised to \[-1, 1\]: use \(images \+ 1\) / 2"):
        capture(model, images * 2 - 1, "b")
    with pytest.raises(ValueError, match=r"\[0, 2\]: divide by 2"):
        capture(model, images * 2, "b")
    with pytest.raises(ValueError, match="x / 2, x / 255"):
        to_image_tensor(np.random.default_rng(0).random((16, 16, 3)) * 2)
    assert float(to_image_tensor(np.full((4, 4, 3), 200.0)).max()) == pytest.approx(200 / 255)
    assert torch.allclose(to_image_tensor(np.full((4, 4, 3), 0.5)), torch.full((3, 4, 4), 0.5))


# --- R6: k and label counts ------------------------------------------------------------------------

def test_r6_top_classes_k_and_wrap_model_labels(model):
    images = torch.rand(1, 3, 16, 16)
    for count in (2000, 3):
        with pytest.raises(ValueError, match="count must be at most the number of classes \\(2\\)"):
            model.top_classes(images, count=count)
    with pytest.raises(ValueError, match="count must be at least 1"):
        model.top_classes(images, count=-1)
    assert len(model.top_classes(images, count=2)[0]) == 2
    with pytest.raises(ValueError, match="outputs 2 classes, but 3 labels"):
        wrap_model(small_net().module, {"a": "1"}, input_size=16, labels=["a", "b", "c"])


# --- R7: receptive-field sizes ---------------------------------------------------------------------

def test_r7_receptive_field_sizes_and_a_silenced_layer(model):
    from helpers.activations import receptive_field
    from helpers.interventions import ablated

    for size in (0, -8):
        with pytest.raises(ValueError, match="size must be at least 1"):
            receptive_field(model, "b", size=size)
    with ablated(model, [f"a:{c}" for c in range(model.channels("a"))]):
        with pytest.raises(ValueError, match="every gradient is 0"):
            receptive_field(model, "b", 16)
    assert receptive_field(model, "b", 16) == (6, 6, 11, 11)  # measured afresh once the ablation ended


# --- R8: layer_means on no images ------------------------------------------------------------------

def test_r8_layer_means_needs_images_and_a_batch_size(model):
    from helpers.interventions import layer_means

    with pytest.raises(ValueError, match="at least one image"):
        layer_means(model, "b", torch.zeros(0, 3, 16, 16))
    with pytest.raises(ValueError, match="batch_size must be at least 1"):
        layer_means(model, "b", torch.rand(2, 3, 16, 16), batch_size=0)


# --- R9, R10: ImageFolder sizes, very large images --------------------------------------------------

def test_r9_image_folder_checks_size_and_batch_size(tmp_path):
    from PIL import Image

    from helpers.images import ImageFolder

    Image.new("RGB", (20, 20)).save(tmp_path / "a.png")
    for options, message in (({"size": 0}, "size must be at least 1"), ({"size": -5}, "size must be at least 1"),
                             ({"batch_size": 0}, "batch_size must be at least 1"),
                             ({"size": 32.5}, "size must be a whole number")):
        with pytest.raises((ValueError, TypeError), match=message):
            ImageFolder(tmp_path, **options)


def test_r10_a_huge_image_is_read_reduced_and_a_bomb_is_named_and_skipped(tmp_path, monkeypatch, capsys):
    import tracemalloc

    from PIL import Image

    from helpers.images import ImageFolder, center_crop, load_image

    Image.new("RGB", (3000, 2000), (120, 30, 200)).save(tmp_path / "pano.png")
    Image.new("RGB", (40, 40), (10, 20, 30)).save(tmp_path / "small.png")
    folder = ImageFolder(tmp_path, size=32)
    tracemalloc.start()
    big = folder[0]
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 8 * 1024 * 1024  # the full image as float32 would be 72 MB
    assert torch.allclose(big, center_crop(load_image(tmp_path / "pano.png"), 32), atol=1 / 255)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1_000_000)  # pano.png is now over Pillow's limit
    with pytest.raises(ValueError, match="pano.png is too large to read safely"):
        load_image(tmp_path / "pano.png")
    batches = list(ImageFolder(tmp_path, size=32))
    assert sum(len(b) for b in batches) == 1
    assert "skipped 1 unreadable file(s) of 2" in capsys.readouterr().out


# --- R12: NaN errors name their cause ----------------------------------------------------------------

def test_r12_nan_causes_are_named_at_the_entry_point(model):
    from helpers.featurevis import channel, render
    from helpers.interventions import ablated, layer_means

    with pytest.raises(ValueError, match="lr must be a finite number"):
        render(model, channel("b:1"), size=32, steps=3, lr=math.inf)
    with pytest.raises(ValueError, match="objective's weight must be a finite number"):
        render(model, channel("b:1") * float("nan"), size=32, steps=3)
    with pytest.raises(ValueError, match="colour_matrix holds NaN"):
        render(model, channel("b:1"), size=32, steps=3, colour_matrix=torch.full((3, 3), float("nan")))
    images = torch.rand(2, 3, 16, 16)
    means = layer_means(model, "b", images)
    means[3] = float("nan")
    with pytest.raises(ValueError, match=r"means for b hold NaN or infinite values at channels \[3\]"):
        with ablated(model, "b:3", mode="mean", means=means):
            pass
    with pytest.raises(ValueError, match="a std of 0 divides by zero"):
        wrap_model(small_net().module, ["1"], std=(0.0, 0.0, 0.0), input_size=16)


# --- R13: negative or empty selections --------------------------------------------------------------

def test_r13_negative_and_empty_selections_are_refused(model):
    from helpers.families.curves import CurveFamily
    from helpers.featurevis import channel, render
    from helpers.training import load_dataset

    with pytest.raises(ValueError, match=r"snapshot_steps must be step counts between 1 and steps=3"):
        render(model, channel("b:1"), size=32, steps=3, snapshot_steps=[5])
    ex = scan_layer(model, "b", crops(), cache=False, progress=False)
    with pytest.raises(ValueError, match="count must be at least 0"):
        ex.top_images(0, count=-1)
    with pytest.raises(ValueError, match="classes=\\[\\] picks no class"):
        load_dataset("shapes", count=16, size=16, classes=[])
    screen = object()  # the checks come before the screen is read
    with pytest.raises(ValueError, match="max_units must be at least 1"):
        CurveFamily.pick(screen, max_units=-1)
    with pytest.raises(ValueError, match="min_curve_selectivity must be finite"):
        CurveFamily.pick(screen, min_curve_selectivity=float("nan"))


# --- R14: interventions restored whatever the exit order; a fresh model ------------------------------

def test_r14_interventions_exited_out_of_order_restore_the_original(model):
    from helpers.activations import capture
    from helpers.interventions import ablated

    images = torch.rand(2, 3, 16, 16)
    before = capture(model, images, "b")["b"]
    original = model.module.get_submodule("3")
    a, b = ablated(model, "b:1"), ablated(model, "b:2")
    a.__enter__()
    b.__enter__()
    assert capture(model, images, "b")["b"][:, 1:3].abs().max() == 0
    a.__exit__(None, None, None)  # out of order
    after_a = capture(model, images, "b")["b"]
    assert torch.equal(after_a[:, 1], before[:, 1]) and after_a[:, 2].abs().max() == 0
    b.__exit__(None, None, None)
    assert model.module.get_submodule("3") is original
    assert torch.equal(capture(model, images, "b")["b"], before)


def test_r14_load_model_fresh_gives_a_new_copy(monkeypatch):
    from helpers import zoo

    built = []
    monkeypatch.setitem(zoo.MODELS, "tiny-test", lambda trained: built.append(small_net()) or built[-1])
    monkeypatch.setattr(zoo, "check_name", lambda name: None)
    first = zoo.load_model("tiny-test", device="cpu", verbose=False)
    assert zoo.load_model("tiny-test", device="cpu", verbose=False) is first
    fresh = zoo.load_model("tiny-test", device="cpu", verbose=False, fresh=True)
    assert fresh is not first and zoo.load_model("tiny-test", device="cpu", verbose=False) is fresh


# --- R15: too little data, macOS debris ---------------------------------------------------------------

def test_r15_macosx_is_not_a_class_and_tiny_splits_warn(tmp_path):
    from PIL import Image

    from helpers.training import folder_data, shapes_data

    for name in ("cats", "dogs", "__MACOSX"):
        (tmp_path / name).mkdir()
        for i in range(3):
            Image.new("RGB", (20, 20), (i * 40, 0, 0)).save(tmp_path / name / f"{i}.png")
    assert folder_data(tmp_path, size=16).classes == ["cats", "dogs"]
    with pytest.warns(RuntimeWarning, match="no training image for class.*only 1 image"):
        shapes_data(count=3, size=16).split(0.2)


# --- R16: wrap_model outside the conv mould -----------------------------------------------------------

def test_r16_wrap_model_says_what_layers_and_inputs_it_needs():
    mlp = nn.Sequential(nn.Flatten(), nn.Linear(192, 10), nn.ReLU(), nn.Linear(10, 2))
    with pytest.raises(ValueError, match=r"module '2' gives a Tensor of shape \(1, 10\).*\(N, C, H, W\)"):
        wrap_model(mlp, input_size=8)

    class Pair(nn.Module):
        def __init__(self):
            super().__init__()
            self.a = nn.Conv2d(3, 4, 3)
            self.head = nn.Linear(4, 2)

        def forward(self, x):
            return self.head(self.a(x).mean((2, 3)))

    class Gray(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv, self.relu, self.head = nn.Conv2d(1, 4, 3), nn.ReLU(), nn.Linear(4, 2)

        def forward(self, x):
            return self.head(self.relu(self.conv(x)).mean((2, 3)))

    gray = wrap_model(Gray(), in_channels=1, input_size=16)  # mean and std follow in_channels
    assert gray.in_channels == 1 and len(gray.top_classes(torch.rand(1, 1, 16, 16), count=2)[0]) == 2
    pooled = nn.Sequential(*[nn.Sequential(nn.Conv2d(3, 3, 1), nn.ReLU(), nn.MaxPool2d(2)) for _ in range(5)])
    with pytest.raises(ValueError, match="fails on a blank \\(1, 3, 16, 16\\) image.*input_size"):
        wrap_model(pooled, input_size=16)
    twice = wrap_model(Pair(), {"first": "a", "again": "a"}, input_size=16)
    assert twice.layer_names == ["first", "again"]


# --- R17: CIRCUITS_DATA_DIR ----------------------------------------------------------------------------

def test_r17_the_data_folder_is_expanded_and_absolute(tmp_path):
    import subprocess
    import sys

    code = "from helpers import config; print(config.DATA_DIR)"
    for setting, expected in (("~/circuits-data", Path.home() / "circuits-data"), ("mydata", tmp_path / "mydata")):
        env = {**os.environ, "CIRCUITS_DATA_DIR": setting, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
        out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True, check=True)
        assert Path(out.stdout.strip()) == expected.resolve()


# --- R19: the crafted-pickle message never repeats PyTorch's unsafe advice ------------------------------

def test_r19_a_crafted_trained_model_file_is_refused_without_the_unsafe_advice(tmp_path):
    import json
    import pickle

    from helpers.files import file_sha256
    from helpers.training import TrainedCacheError, load_trained

    class Crafted:
        def __reduce__(self):
            return (os.system, ("echo crafted",))

    path = tmp_path / "net.pt"
    torch.save({"x": Crafted()}, path, pickle_module=pickle)
    (tmp_path / "net.json").write_text(json.dumps({"format": training.CACHE_FORMAT, "name": "n", "history": {},
                                                   "settings": {"classes": ["a", "b"], "size": 16},
                                                   "weights_sha256": file_sha256(path)}))
    with pytest.raises(TrainedCacheError) as caught:
        load_trained(path)
    assert "weights_only" not in str(caught.value) and "arbitrary code" not in str(caught.value)


# --- R11: an old scan never shows edited pixels ---------------------------------------------------------

def test_r11_examples_refuse_to_show_images_edited_since_the_scan(model, tmp_path):
    from PIL import Image

    from helpers.images import ImageFolder

    for i in range(3):
        Image.new("RGB", (24, 24), (80 * i, 40, 200 - 60 * i)).save(tmp_path / f"{i}.png")
    folder = ImageFolder(tmp_path, size=16)
    ex = scan_layer(model, "b", folder, cache=False, progress=False)
    assert ex.top_images(0, 1).shape == (1, 3, 16, 16)
    edited = folder.files[int(ex.top_index[0, 0])]
    Image.new("RGB", (48, 48)).save(edited, format="PNG")
    os.utime(edited, ns=(edited.stat().st_atime_ns, edited.stat().st_mtime_ns + 10**9))
    with pytest.raises(ValueError, match="images changed since this scan of b"):
        ex.top_images(0, 1)
