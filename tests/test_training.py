"""Tests of the small-network trainer and its data sets."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

import helpers.training as training
from helpers.activations import capture
from helpers.training import (
    LabelledImages, SmallConvNet, folder_data, load_dataset, load_trained, save_trained, shapes_data,
    train_classifier, trained_model,
)


@pytest.fixture(scope="module")
def tiny_data() -> LabelledImages:
    return shapes_data(count=96, size=16, seed=0, classes=("line", "circle", "corner"))


def _train(data: LabelledImages, seed: int = 0, epochs: int = 1):
    return train_classifier(data, width=4, seed=seed, epochs=epochs, batch_size=16, progress=False)


def test_training_is_bitwise_deterministic(tiny_data):
    first, second = _train(tiny_data), _train(tiny_data)
    for (name, a), b in zip(first.model.module.state_dict().items(), second.model.module.state_dict().values()):
        assert torch.equal(a, b), name
    assert first.history == second.history
    other = _train(tiny_data, seed=1)
    assert not torch.equal(first.model.module.conv1.weight, other.model.module.conv1.weight)


def test_loss_decreases_on_a_tiny_run(tiny_data):
    result = _train(tiny_data, epochs=6)
    steps = result.history["step_loss"]
    assert len(steps) == 6 * 5 and len(result.history["test_accuracy"]) == 6
    assert np.mean(steps[-5:]) < 0.8 * np.mean(steps[:5])


def test_trained_network_works_with_the_course_tools(tiny_data):
    model = _train(tiny_data).model
    assert model.layer_names == ["conv1", "conv2", "conv3", "conv4"]
    assert list(model.labels) == ["line", "circle", "corner"]
    maps = capture(model, tiny_data.images[:2], ["conv1", "conv4"], pre_activation=True)
    assert maps["conv1"].shape == (2, 4, 16, 16) and maps["conv4"].shape == (2, 16, 4, 4)


def test_save_load_and_cache(tiny_data, tmp_path, monkeypatch):
    result = _train(tiny_data)
    loaded = load_trained(save_trained(result, tmp_path / "net.pt"))
    assert torch.equal(loaded.model(tiny_data.images[:4]), result.model(tiny_data.images[:4]))
    assert loaded.history == result.history
    monkeypatch.setattr(training.store, "CACHE_DIR", tmp_path)
    settings = dict(count=32, size=16, width=2, epochs=1, progress=False)
    trained = trained_model("shapes", **settings)
    assert len(list((tmp_path / "trained").glob("*.pt"))) == 1
    again = trained_model("shapes", **settings)
    assert torch.equal(again.model.module.conv1.weight, trained.model.module.conv1.weight)


def test_split_is_seeded_and_disjoint(tiny_data):
    train, test = tiny_data.split(0.25, seed=0)
    assert len(train) == 72 and len(test) == 24
    again, _ = tiny_data.split(0.25, seed=0)
    assert torch.equal(train.images, again.images)


def _write_png(path, colour):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((20, 24, 3), colour, dtype=np.uint8)).save(path)


def test_image_folder_with_one_subfolder_per_class(tmp_path):
    _write_png(tmp_path / "cats" / "a.png", 10)
    _write_png(tmp_path / "cats" / "deeper" / "b.png", 20)
    _write_png(tmp_path / "dogs" / "c.png", 200)
    (tmp_path / "dogs" / "broken.png").write_bytes(b"not an image")
    data = load_dataset(tmp_path, size=16)
    assert data.classes == ["cats", "dogs"]
    assert data.labels.tolist() == [0, 0, 1]
    assert data.images.shape == (3, 3, 16, 16)


def test_bad_folders_give_clear_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        folder_data(tmp_path / "missing")
    with pytest.raises(ValueError, match="one subfolder per class"):
        folder_data(tmp_path)
    (tmp_path / "empty").mkdir()
    _write_png(tmp_path / "full" / "a.png", 0)
    with pytest.raises(ValueError, match="Class 'empty'.*no images"):
        folder_data(tmp_path)
    (tmp_path / "empty" / "broken.jpg").write_bytes(b"garbage")
    with pytest.raises(ValueError, match="Class 'empty'.*could be read"):
        folder_data(tmp_path)
    with pytest.raises(ValueError, match="Unknown data set"):
        load_dataset("no-such-thing")


def test_cifar10_offline_without_the_files_explains_what_to_do(tmp_path, monkeypatch):
    monkeypatch.setenv("CIRCUITS_OFFLINE", "1")
    monkeypatch.setattr(training.data, "DATASETS_DIR", tmp_path)
    with pytest.raises(FileNotFoundError, match="CIRCUITS_OFFLINE"):
        load_dataset("cifar10")


def test_network_arguments_are_checked():
    with pytest.raises(ValueError, match="width"):
        SmallConvNet(num_classes=1)


def test_a_subset_of_shapes_can_be_chosen():
    data = load_dataset("shapes", count=8, size=16, classes=["arc", "square"])
    assert data.classes == ["arc", "square"] and set(data.labels.tolist()) == {0, 1}
    with pytest.raises(ValueError, match="only chooses among the shapes"):
        load_dataset("cifar10", classes=["cat"])


# --- the trained-network cache: never unpickle, detect damage, key on contents, no orphans (issue 16) ----------
TINY = dict(count=32, size=16, width=2, epochs=1, progress=False)


class _Marker:
    """Unpickling this creates a marker file: a harmless stand-in for a crafted file that runs code."""

    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return (open, (self.path, "w"))


def _use_cache_in(tmp_path, monkeypatch):
    monkeypatch.setattr(training.store, "CACHE_DIR", tmp_path)
    path = training.trained_model_path("shapes", **{k: v for k, v in TINY.items() if k != "progress"})
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def test_a_crafted_cache_file_never_runs_code_and_is_replaced(tmp_path, monkeypatch, capsys):
    import hashlib
    import json

    path = _use_cache_in(tmp_path, monkeypatch)
    marker = tmp_path / "code-ran"
    torch.save({"state_dict": _Marker(marker)}, path)
    # the probe: the old loader (weights_only=False) would have run the payload
    proof = tmp_path / "proof"
    torch.save({"state_dict": _Marker(proof)}, tmp_path / "proof.pt")
    torch.load(tmp_path / "proof.pt", weights_only=False)
    assert proof.exists()
    # without and with a forged settings file that matches the crafted weights' hash
    for forge in (False, True):
        if forge:
            torch.save({"state_dict": _Marker(marker)}, path)
            record = {"format": training.CACHE_FORMAT, "name": "x", "settings": {"classes": ["a", "b"], "size": 16},
                      "history": {}, "weights_sha256": hashlib.sha256(path.read_bytes()).hexdigest()}
            path.with_suffix(".json").write_text(json.dumps(record))
            with pytest.raises(training.TrainedCacheError, match=str(path.name)):
                load_trained(path)
        result = trained_model("shapes", **TINY)
        assert not marker.exists()
        assert str(path) in capsys.readouterr().out  # the damaged file was named
        assert load_trained(path).model.module.conv1.weight.shape[0] == 2  # rebuilt, loadable
        assert torch.equal(load_trained(path).model.module.conv1.weight, result.model.module.conv1.weight)


@pytest.mark.parametrize("damage", ["garbage", "truncated", "no settings file", "garbage settings"])
def test_a_damaged_cache_is_named_and_rebuilt(tmp_path, monkeypatch, capsys, damage):
    path = _use_cache_in(tmp_path, monkeypatch)
    first = trained_model("shapes", **TINY)
    if damage == "garbage":
        path.write_bytes(b"\x80\x04 this is not a network")
    elif damage == "truncated":
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    elif damage == "no settings file":
        path.with_suffix(".json").unlink()
    else:
        path.with_suffix(".json").write_bytes(b"\xff{not json")
    with pytest.raises(training.TrainedCacheError) as error:
        load_trained(path)
    assert str(path.name) in str(error.value) and "weights_only" not in str(error.value)
    again = trained_model("shapes", **TINY)
    assert str(path.name) in capsys.readouterr().out
    assert torch.equal(again.model.module.conv1.weight, first.model.module.conv1.weight)
    assert torch.equal(load_trained(path).model.module.conv1.weight, first.model.module.conv1.weight)


def test_the_cache_key_follows_an_image_folders_contents(tmp_path, monkeypatch):
    monkeypatch.setattr(training.store, "CACHE_DIR", tmp_path / "cache")
    root = tmp_path / "images"
    for i in range(4):
        _write_png(root / "cats" / f"{i}.png", 10 + i)
        _write_png(root / "dogs" / f"{i}.png", 200 - i)
    settings = dict(size=16, width=2, epochs=1, progress=False)
    assert trained_model(root, **settings).model.labels == ["cats", "dogs"]
    for i in range(4):
        _write_png(root / "birds" / f"{i}.png", 100 + i)
    assert list(trained_model(root, **settings).model.labels) == ["birds", "cats", "dogs"]
    before = training.trained_model_path(root, size=16, width=2, epochs=1)
    _write_png(root / "cats" / "0.png", 99)  # one image changed
    assert training.trained_model_path(root, size=16, width=2, epochs=1) != before
    assert training.trained_model_path(root, size=16, width=2, epochs=2) != training.trained_model_path(root, size=16, width=2, epochs=1)


def test_a_save_killed_midway_leaves_no_orphan_after_the_next_save(tmp_path):
    import os
    import signal
    import subprocess
    import sys
    import textwrap

    folder = tmp_path / "trained"
    script = textwrap.dedent(f"""
        import time, torch
        import helpers.training as training
        data = training.shapes_data(count=16, size=16)
        result = training.train_classifier(data, width=2, epochs=1, batch_size=8, progress=False)
        def stuck(obj, file):
            open(file, "wb").write(b"half a network")
            print("saving", flush=True)
            time.sleep(60)
        training.store.torch.save = stuck
        training.save_trained(result, {str(folder / 'net.pt')!r})
    """)
    process = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout.readline().strip() == "saving"
    finally:
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=30)
    orphans = list(folder.glob("*.tmp"))
    assert len(orphans) == 1
    save_trained(_train(shapes_data(count=16, size=16), epochs=1), folder / "other.pt")
    assert not list(folder.glob("*.tmp"))
    assert sorted(p.name for p in folder.iterdir()) == ["other.json", "other.pt"]


def test_no_unsafe_loading_anywhere_in_helpers_or_scripts():
    """No code (comments and strings aside) in helpers/ or scripts/ unpickles arbitrary objects."""
    import io
    import tokenize
    from pathlib import Path

    root = Path(training.__file__).resolve().parent.parent
    bad = ["weights_only=" + "False", "pickle" + ".load", "allow_pickle=" + "True"]
    found = []
    for path in [*(root / "helpers").rglob("*.py"), *(root / "scripts").rglob("*.py")]:
        tokens = tokenize.generate_tokens(io.StringIO(path.read_text(encoding="utf-8")).readline)
        code = "".join(t.string for t in tokens if t.type not in (tokenize.COMMENT, tokenize.STRING))
        found += [f"{path}: {word}" for word in bad if word in code]
    assert not found, found


def test_course_network_is_untrained_under_the_negative_control(tmp_path, monkeypatch):
    monkeypatch.setattr(training.store, "CACHE_DIR", tmp_path)
    monkeypatch.setenv("CIRCUITS_WEIGHTS", "random")
    control = training.course_network("shapes", count=32, size=16, width=2, seed=3, epochs=1)
    assert control.history["step_loss"] == [] and not (tmp_path / "trained").exists()
    twin = training.untrained_classifier(shapes_data(count=32, size=16), width=2, seed=3)
    assert torch.equal(control.model.module.conv1.weight, twin.model.module.conv1.weight)
    monkeypatch.setenv("CIRCUITS_WEIGHTS", "trained")
    trained = training.course_network("shapes", count=32, size=16, width=2, seed=3, epochs=1)
    assert len(trained.history["step_loss"]) > 0
    assert not torch.equal(trained.model.module.conv1.weight, twin.model.module.conv1.weight)


def test_top_examples_purity_counts_the_commonest_class():
    torch.manual_seed(0)
    net = SmallConvNet(2, width=1)
    model = training.wrap_small_net(net, ["dark", "bright"], 8)
    images = torch.cat([torch.full((6, 3, 8, 8), 0.1), torch.full((6, 3, 8, 8), 0.9)])
    data = LabelledImages(images, torch.tensor([0] * 6 + [1] * 6), ["dark", "bright"])
    purity = training.top_examples_purity(model, data, "conv1", count=6)
    assert purity.shape == (1,)
    assert np.isnan(purity[0]) or purity[0] == 1.0  # a unit's 6 strongest of two uniform groups are one group
    with pytest.raises(ValueError, match="count must"):
        training.top_examples_purity(model, data, "conv1", count=0)


def test_checkpoints_keep_the_network_after_every_epoch(tiny_data, tmp_path):
    result = _train(tiny_data, epochs=2)
    assert len(result.checkpoints) == 2
    images = tiny_data.images[:4]
    assert torch.equal(result.after_epoch(2)(images), result.model(images))  # the last checkpoint is the final network
    assert not torch.equal(result.after_epoch(1).module.conv1.weight, result.model.module.conv1.weight)
    loaded = load_trained(save_trained(result, tmp_path / "net.pt"))
    assert len(loaded.checkpoints) == 2
    assert torch.equal(loaded.after_epoch(1)(images), result.after_epoch(1)(images))
    with pytest.raises(ValueError, match="between 1 and 2"):
        result.after_epoch(3)


def test_a_flatten_head_reads_every_position_and_survives_saving(tiny_data, tmp_path):
    result = train_classifier(tiny_data, width=4, head="flatten", epochs=2, batch_size=16, progress=False)
    net = result.model.module
    assert net.head == "flatten" and net.classifier.in_features == 16 * (16 // 4) ** 2
    images = tiny_data.images[:4]
    loaded = load_trained(save_trained(result, tmp_path / "flat.pt"))
    assert loaded.model.module.head == "flatten"
    assert torch.equal(loaded.model(images), result.model(images))
    assert torch.equal(loaded.after_epoch(1)(images), result.after_epoch(1)(images))
    shifted = torch.roll(images, shifts=4, dims=3)  # only a head that keeps positions can tell a shifted copy apart
    average = train_classifier(tiny_data, width=4, epochs=1, batch_size=16, progress=False).model
    assert average.module.head == "average" and average.module.classifier.in_features == 16
    with pytest.raises(ValueError, match="head must be one of average, flatten"):
        SmallConvNet(3, width=4, head="max")  # type: ignore[arg-type]
    assert not torch.allclose(result.model(shifted), result.model(images))


def test_upright_shapes_are_the_same_drawings_unrotated(tmp_path, monkeypatch):
    rotated, upright = shapes_data(count=16, size=24, seed=4), shapes_data(count=16, size=24, seed=4, upright=True)
    assert torch.equal(rotated.labels, upright.labels) and not torch.equal(rotated.images, upright.images)
    line = upright.images[0].mean(0)  # label 0 is a line: drawn flat, its ink spreads along a row
    ink = (line - line.median()).abs()
    assert ink.sum(dim=1).max() > 2 * ink.sum(dim=0).max()
    with pytest.raises(ValueError, match="upright=True only applies to the shapes"):
        load_dataset(str(tmp_path), upright=True)
    monkeypatch.setattr(training.store, "CACHE_DIR", tmp_path)
    keys = {training.trained_model_path("shapes", upright=flag, head=head)
            for flag in (False, True) for head in ("average", "flatten")}
    assert len(keys) == 4  # every variant is a cache file of its own


def test_an_unknown_head_is_refused_before_any_image_is_drawn(tmp_path, monkeypatch):
    def never(*args, **kwargs):
        raise AssertionError("data was drawn before the bad head was refused")

    monkeypatch.setattr(training.store, "CACHE_DIR", tmp_path)
    monkeypatch.setattr(training.store, "load_dataset", never)
    with pytest.raises(ValueError, match="head must be one of average, flatten, got 'max'"):
        trained_model("shapes", head="max", progress=False)  # type: ignore[arg-type]
    monkeypatch.setenv("CIRCUITS_WEIGHTS", "random")
    with pytest.raises(ValueError, match="head must be one of average, flatten, got 'max'"):
        training.course_network("shapes", head="max")
