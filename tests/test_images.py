"""Image conversion and the image sources."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from helpers.images import ImageFolder, RandomCrops, center_crop, load_image, photo, sample_photos, to_image_tensor


def test_to_image_tensor_handles_every_layout() -> None:
    gray = np.full((4, 5), 255, np.uint8)
    assert to_image_tensor(gray).shape == (3, 4, 5) and to_image_tensor(gray).max() == 1
    rgba = np.zeros((4, 5, 4), np.float32)
    assert to_image_tensor(rgba).shape == (3, 4, 5)
    assert to_image_tensor(np.ones((2, 2), bool)).min() == 1
    with pytest.raises(ValueError, match="HxW"):
        to_image_tensor(np.zeros((2, 2, 7)))


def test_sample_photos_are_rgb_in_range() -> None:
    photos = sample_photos(["chelsea", "camera"])
    for image in photos.values():
        assert image.shape[0] == 3 and 0 <= image.min() and image.max() <= 1
    assert photo("chelsea", 64).shape == (3, 64, 64)
    with pytest.raises(ValueError, match="Available"):
        sample_photos(["lena"])


def test_random_crops_are_deterministic_and_indexable() -> None:
    photos = sample_photos(["chelsea", "coffee"])
    a = RandomCrops(photos, count=10, size=32, seed=3, batch_size=4)
    b = RandomCrops(photos, count=10, size=32, seed=3, batch_size=4)
    batches = list(a)
    assert [len(x) for x in batches] == [4, 4, 2]
    assert torch.equal(torch.cat(batches), torch.cat(list(b)))
    assert torch.equal(a[7], torch.cat(batches)[7])
    assert a.key == b.key != RandomCrops(photos, count=10, size=32, seed=4).key


def test_image_folder_recursive_skips_and_reports_broken_files(tmp_path, capsys) -> None:
    from matplotlib import pyplot as plt

    (tmp_path / "sub").mkdir()
    plt.imsave(tmp_path / "a.png", np.random.default_rng(0).random((20, 30, 3)))
    plt.imsave(tmp_path / "sub" / "b.png", np.random.default_rng(1).random((30, 20, 3)))
    (tmp_path / "sub" / "broken.jpg").write_bytes(b"not an image")
    folder = ImageFolder(tmp_path, size=16, batch_size=8)
    indices, images = next(folder.indexed_batches())
    assert images.shape == (2, 3, 16, 16) and indices.tolist() == [0, 1]
    list(folder)
    assert "skipped 1 unreadable" in capsys.readouterr().out
    assert torch.allclose(folder[0], center_crop(load_image(tmp_path / "a.png"), 16))


def test_image_folder_errors(tmp_path) -> None:
    with pytest.raises(FileNotFoundError, match="does not exist"):
        ImageFolder(tmp_path / "missing")
    with pytest.raises(ValueError, match="holds no images"):
        ImageFolder(tmp_path)
    (tmp_path / "x.png").write_bytes(b"junk")
    with pytest.raises(ValueError, match="None of the 1 image files"):
        list(ImageFolder(tmp_path))


def test_images_stacks_the_asked_indices_and_skips_missing_ones() -> None:
    crops = RandomCrops({"noise": torch.rand(3, 40, 40, generator=torch.Generator().manual_seed(0))}, count=4, size=8)
    stacked = crops.images(torch.tensor([2, -1, 0]))
    assert stacked.shape == (2, 3, 8, 8)
    assert torch.equal(stacked[0], crops[2]) and torch.equal(stacked[1], crops[0])
    assert crops.images([-1]).shape == (0, 3, 8, 8)
