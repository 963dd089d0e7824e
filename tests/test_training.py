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
    monkeypatch.setattr(training, "CACHE_DIR", tmp_path)
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
    monkeypatch.setattr(training, "DATASETS_DIR", tmp_path)
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
