"""Issue 16: bad input never gives silent garbage, runs code, hangs or returns a stale result.

One test (or a few) per row of the issue's table, each reproducing the probe and checking the wanted
behaviour. The trained-model cache rows are in tests/test_training.py.
"""
from __future__ import annotations

import os
import socket
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

import helpers.images as images_module
import helpers.inceptionv1 as inception
import helpers.inceptionv1_weights as inception_weights
from helpers import zoo
from helpers.activations import capture
from helpers.download import DownloadError
from helpers.files import WeightsFileError, load_checked_state_dict
from helpers.featurevis import neuron, objective_values, render_units
from helpers.images import ImageFolder, RandomCrops, load_image, to_image_tensor
from helpers.models import CircuitModel, ImageNormalize, Layer
from helpers.wrapping import wrap_model
from helpers.universality import linear_cka


def small_net() -> CircuitModel:
    torch.manual_seed(0)
    module = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.Conv2d(4, 5, 3, padding=1), nn.ReLU(),
                           nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(5, 2))
    return wrap_model(module, {"a": "1", "b": "3"}, input_size=16)


@pytest.fixture
def model() -> CircuitModel:
    return small_net()


# --- RandomCrops.key: a content hash ------------------------------------------------------------

def test_random_crops_key_changes_with_any_single_pixel_edit():
    generator = torch.Generator().manual_seed(0)
    photos = {"a": torch.rand(3, 120, 90, generator=generator), "b": torch.rand(3, 64, 64, generator=generator)}
    keys = {RandomCrops(photos, count=4).key}
    rng = np.random.default_rng(0)
    for _ in range(200):  # the probe: 200 single-pixel edits (131 left the old, strided hash unchanged)
        name = ["a", "b"][rng.integers(2)]
        edited = {k: v.clone() for k, v in photos.items()}
        c, y, x = (int(rng.integers(n)) for n in edited[name].shape)
        edited[name][c, y, x] = (edited[name][c, y, x] + 0.25) % 1.0
        keys.add(RandomCrops(edited, count=4).key)
    assert len(keys) == 201
    crops = RandomCrops(photos, count=4)  # the digest is cached per photo, but an in-place edit is seen
    before = crops.key
    photos["b"][0, 5, 5] += 0.5
    assert crops.key != before
    photos["b"][0, 5, 5] -= 0.5
    assert RandomCrops(photos, count=4).key == RandomCrops({k: v.clone() for k, v in photos.items()}, count=4).key


# --- Imagenette through the course's checked downloader, with a timeout -------------------------

@pytest.fixture
def silent_server():
    """A server on 127.0.0.1 that accepts connections and never answers."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                accepted.append(listener.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    stop.set()
    thread.join(timeout=5)
    for connection in accepted:
        connection.close()
    listener.close()


def test_imagenette_download_from_a_silent_server_times_out(silent_server, tmp_path, monkeypatch):
    monkeypatch.delenv("CIRCUITS_OFFLINE", raising=False)
    monkeypatch.setattr(images_module, "DATASETS_DIR", tmp_path / "datasets")
    monkeypatch.setitem(images_module.IMAGENETTE_URLS, "imagenette", f"{silent_server}/imagenette2-160.tgz")
    start = time.monotonic()
    with pytest.raises(DownloadError, match="did not answer within 1 s"):
        images_module.imagenette("imagenette", timeout=1.0, progress=False)
    assert time.monotonic() - start < 15
    assert not any(p.is_file() for p in (tmp_path / "datasets").rglob("*"))  # nothing partial kept


def test_prepare_data_prints_a_skip_line_for_a_silent_server(silent_server, tmp_path, monkeypatch, capsys):
    import importlib.util

    import helpers.download
    from helpers.config import REPO_ROOT

    spec = importlib.util.spec_from_file_location("prepare_data", REPO_ROOT / "scripts" / "prepare_data.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    monkeypatch.delenv("CIRCUITS_OFFLINE", raising=False)
    monkeypatch.setattr(images_module, "DATASETS_DIR", tmp_path / "datasets")
    monkeypatch.setattr(script, "DATASETS_DIR", tmp_path / "datasets")
    monkeypatch.setattr(helpers.download, "DEFAULT_TIMEOUT", helpers.download.DEFAULT_TIMEOUT)  # restored after
    monkeypatch.setitem(images_module.IMAGENETTE_URLS, "imagewoof", f"{silent_server}/imagewoof2-160.tgz")
    start = time.monotonic()
    assert script.main(["--quiet", "--models", "--data", "imagewoof", "--timeout", "1"]) == 0
    assert time.monotonic() - start < 15
    line = capsys.readouterr().out.strip()
    assert line.startswith("imagewoof: skipped (the server did not answer within 1 s") and "prepare_data.py" in line


# helpers/training/data.py wraps torchvision's CIFAR10(download=True), which opens its URL with no timeout,
# in network_timeout(): the same kind of call to a server that never answers must give up.
def test_network_timeout_bounds_a_third_party_downloader(silent_server):
    import urllib.request

    from helpers.download import network_timeout

    start = time.monotonic()
    with network_timeout(1.0), pytest.raises(OSError):
        urllib.request.urlopen(f"{silent_server}/cifar-10-python.tar.gz")  # what torchvision does: no timeout
    assert time.monotonic() - start < 15
    assert socket.getdefaulttimeout() is None


def test_no_network_call_in_helpers_or_scripts_lacks_a_timeout():
    from helpers.config import REPO_ROOT

    sources = [*(REPO_ROOT / "helpers").rglob("*.py"), *(REPO_ROOT / "scripts").rglob("*.py")]
    for path in sources:
        text = path.read_text(encoding="utf-8")
        for unsafe in ("weights_only=False", "pickle.load", "allow_pickle=True"):
            assert unsafe not in text, (path, unsafe)
        for downloader in ("torchvision.datasets", "download_url_to_file", "load_state_dict_from_url", "requests.get"):
            # third-party downloaders take no timeout: only inside helpers.download.network_timeout()
            if downloader in text:
                assert "network_timeout(" in text, (path, downloader)
        for line in text.splitlines():
            if "urlopen(" in line and not line.lstrip().startswith("#"):
                assert "timeout=" in line, (path, line)


# --- images that are not floats in [0, 1] -----------------------------------------------------

@pytest.mark.parametrize("bad, words", [
    (torch.randint(0, 256, (2, 3, 16, 16), dtype=torch.uint8), "torch.uint8"),
    (torch.rand(2, 3, 16, 16) * 255, "0..255"),
])
def test_uint8_or_0_255_images_are_refused_by_every_entry_point(model, bad, words):
    for call in (lambda: model(bad), lambda: capture(model, bad, "a"),
                 lambda: objective_values(model, neuron(model.unit("b:0")), bad[:1])):
        with pytest.raises((TypeError, ValueError), match="to_image_tensor") as caught:
            call()
        assert words in str(caught.value)


def test_images_slightly_outside_0_1_still_run(model):
    assert model(torch.rand(1, 3, 16, 16) * 1.2 - 0.1).shape == (1, 2)


def test_to_image_tensor_scales_by_the_dtypes_range():
    ramp = np.linspace(0, 1, 64, dtype=np.float32).reshape(8, 8)
    for array in (ramp * 255, (ramp * 65535).round().astype(np.uint16), (ramp * 255).round().astype(np.uint8),
                  (ramp * 255).round().astype(np.int64)):
        image = to_image_tensor(np.stack([array] * 3, axis=-1))
        assert image.shape == (3, 8, 8)
        assert torch.allclose(image[0], torch.from_numpy(ramp), atol=1 / 255), array.dtype
        assert (image >= 1).float().mean() < 0.05  # not clamped to white
    with pytest.raises(ValueError, match="neither"):
        to_image_tensor(np.full((4, 4), 1000.0))


def test_16_bit_png_in_an_image_folder_is_read_at_its_depth(tmp_path):
    from PIL import Image

    ramp = np.linspace(0, 65535, 64 * 64).reshape(64, 64).astype(np.uint16)
    Image.fromarray(ramp).save(tmp_path / "deep.png")
    assert Image.open(tmp_path / "deep.png").mode.startswith("I")
    image = load_image(tmp_path / "deep.png")
    assert torch.allclose(image[0], torch.from_numpy(ramp / 65535.0).float(), atol=1e-4)
    folder = ImageFolder(tmp_path, size=32)
    assert (folder[0] >= 0.999).float().mean() < 0.1  # the probe: 99% of pixels were clamped to white


# --- NaN in an image, in weights, in CKA features ---------------------------------------------

def test_nan_in_an_image_is_an_error(model):
    images = torch.rand(2, 3, 16, 16)
    images[1, 0, 3, 3] = float("nan")
    with pytest.raises(ValueError, match="NaN"):
        capture(model, images, "a")
    with pytest.raises(ValueError, match="NaN"):
        model(images)


def test_nan_in_weights_is_an_error_naming_the_parameter(model):
    module = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten())
    with torch.no_grad():
        module[0].weight[0, 0, 0, 0] = float("nan")
    with pytest.raises(ValueError, match=r"'0\.weight'"):
        wrap_model(module, {"a": "1"}, input_size=8)
    with torch.no_grad():  # weights spoiled after the model was built
        model.module[2].bias[1] = float("nan")
    with pytest.raises(ValueError, match=r"NaN.*'2\.bias'"):
        capture(model, torch.rand(1, 3, 16, 16), "b")
    state = {name: t.clone() for name, t in inception.InceptionV1().state_dict().items()}
    state["mixed3a_1x1_pre_relu_conv.bias"][0] = float("nan")
    with pytest.raises(WeightsFileError, match="mixed3a_1x1_pre_relu_conv.bias"):
        inception_weights.build_inceptionv1(state)


def test_linear_cka_refuses_nan_features():
    features = torch.rand(20, 5, generator=torch.Generator().manual_seed(0))
    spoiled = features.clone()
    spoiled[3, 2] = float("nan")
    with pytest.raises(ValueError, match="features_b holds NaN"):
        linear_cka(features, spoiled)
    with pytest.raises(ValueError, match="features_a holds NaN"):
        linear_cka(spoiled.numpy(), features)


# --- InceptionV1 files on disk ------------------------------------------------------------------

@pytest.fixture
def weights_dir(tmp_path, monkeypatch) -> Path:
    folder = tmp_path / "weights"
    folder.mkdir()
    monkeypatch.setattr(inception_weights, "WEIGHTS_DIR", folder)
    monkeypatch.delenv("CIRCUITS_MODEL", raising=False)
    return folder


def test_corrupt_inception_weights_fall_back_to_the_offline_model(weights_dir, monkeypatch, capsys):
    inception_weights.weights_file().write_bytes(b"\x80\x02 not a state dict")
    name, reason = zoo.default_model_name()
    assert name == zoo.OFFLINE_DEFAULT
    assert str(inception_weights.weights_file()) in reason and "Delete" in reason and "\n" not in reason
    monkeypatch.setitem(zoo.MODELS, zoo.OFFLINE_DEFAULT, lambda trained: small_net())
    monkeypatch.setattr(zoo, "_loaded", {})
    zoo.load_model()
    out = capsys.readouterr().out.strip()
    assert out.count("\n") == 0 and out.startswith(f"Active model: {zoo.OFFLINE_DEFAULT}") and "cannot be used" in out
    torch.save(inception.InceptionV1().state_dict(), inception_weights.weights_file())  # a good file: InceptionV1 again
    assert zoo.default_model_name()[0] == "inceptionv1"


def test_unreadable_weights_never_suggest_the_unsafe_load(tmp_path):
    marker = tmp_path / "code-ran"

    class Payload:
        def __reduce__(self):
            return (Path.touch, (marker,))

    crafted = tmp_path / "crafted.pth"
    torch.save({"conv.weight": Payload()}, crafted)
    garbage = tmp_path / "garbage.pth"
    garbage.write_bytes(b"garbage")
    for path in (crafted, garbage):
        with pytest.raises(WeightsFileError) as caught:
            load_checked_state_dict(path, nn.Conv2d(1, 1, 1), source="URL")
        message = str(caught.value)
        assert "weights_only" not in message and "will likely succeed" not in message
        assert str(path) in message and "Delete" in message
    assert not marker.exists()
    from helpers.efficientnet_lite import build_efficientnet_lite

    with pytest.raises(ValueError) as caught:
        build_efficientnet_lite("efficientnet_lite0", weights=garbage)
    assert "weights_only" not in str(caught.value)


def test_damaged_record_or_label_file_names_the_file_and_the_fix(weights_dir):
    torch.save(inception.InceptionV1().state_dict(), inception_weights.weights_file())
    inception_weights.record_file().write_text('{"sha256": "abc', encoding="utf-8")
    with pytest.raises(WeightsFileError, match="inception5h.json is damaged") as caught:
        inception_weights.load_inceptionv1(progress=False)
    assert "Delete" in str(caught.value)
    inception_weights.record_file().write_text("[1, 2]", encoding="utf-8")  # valid JSON, wrong shape (was AttributeError)
    with pytest.raises(WeightsFileError, match="inception5h.json is damaged"):
        inception_weights.load_inceptionv1(progress=False)
    inception_weights.record_file().unlink()
    inception_weights.labels_file().write_bytes(b"dummy\n\xff\xfe kit fox\n")
    with pytest.raises(ValueError, match=f"{inception_weights.LABELS_MEMBER} is not a text file in UTF-8") as caught:
        inception_weights.load_inceptionv1(progress=False)
    assert "prepare_data.py" in str(caught.value)


# --- a module called several times per forward pass ---------------------------------------------

def test_reused_modules_of_resnet18_are_refused_and_left_out_of_wrap_models_defaults(capsys):
    from torchvision.models import resnet18

    torch.manual_seed(0)
    module = resnet18(weights=None)
    wrapped = wrap_model(module, name="resnet18_default", input_size=64)
    assert "left out" in capsys.readouterr().out
    assert all(layer.module_path == "relu" or not layer.module_path.endswith(".relu") for layer in wrapped.layers)
    with pytest.raises(ValueError, match="'layer1.0.relu' runs 2 times"):
        wrap_model(module, ["layer1.0.relu"], input_size=64)
    # A CircuitModel built by hand on the reused ReLU: capture refuses it instead of a value that
    # depends on which other layers are captured.
    by_hand = CircuitModel("resnet_by_hand", module, [Layer("block", "layer1.0.relu", 64), Layer("out", "layer1.1", 64)],
                           ImageNormalize((0.5,) * 3, (0.5,) * 3), 64, [str(i) for i in range(1000)])
    with pytest.raises(ValueError, match="runs 2 times.*'layer1.0'"):
        capture(by_hand, torch.rand(1, 3, 64, 64), "block")
    blocks = wrap_model(module, ["layer1.0", "layer1.1"], input_size=64)
    images = torch.rand(2, 3, 64, 64)
    alone = capture(blocks, images, "layer1.0")["layer1.0"]
    together = capture(blocks, images, ["layer1.0", "layer1.1"])["layer1.0"]
    assert torch.equal(alone, together)


# --- empty or odd shapes: the course's own message --------------------------------------------

def test_render_units_of_nothing(model):
    with pytest.raises(ValueError, match="no units to visualize"):
        render_units(model, [], steps=1, size=16, progress=False)


def test_random_crops_of_size_0():
    with pytest.raises(ValueError, match="size >= 1"):
        RandomCrops({"a": torch.rand(3, 32, 32)}, size=0)
    with pytest.raises(ValueError, match="to_image_tensor"):
        RandomCrops({"a": np.zeros((32, 32, 3), dtype=np.uint8)})


def test_hwc_arrays_and_four_channel_images(model):
    array = np.random.default_rng(0).integers(0, 256, (16, 16, 3), dtype=np.uint8)
    with pytest.raises(TypeError, match="to_image_tensor"):
        model(array)
    with pytest.raises(ValueError, match=r"\(H, W, C\) image"):
        capture(model, torch.rand(16, 16, 3), "a")
    with pytest.raises(ValueError, match="channels come last"):
        model(torch.rand(2, 16, 16, 3))
    with pytest.raises(ValueError, match="RGBA"):
        model(torch.rand(2, 4, 16, 16))
    with pytest.raises(ValueError, match=r"image\[None\]"):
        model(torch.rand(3, 16, 16))
    rgba = np.dstack([array, np.full((16, 16), 255, np.uint8)])
    assert torch.equal(to_image_tensor(rgba), to_image_tensor(array))
    assert model(to_image_tensor(rgba)[None]).shape == (1, 2)


# --- kill -9 during a dataset-example cache save ----------------------------------------------

def test_stale_temporary_files_are_cleaned_on_the_next_save(tmp_path):
    import subprocess
    import sys

    from helpers.dataset_examples import save_cache

    target = tmp_path / "dataset_examples" / "model-layer-0123.pt"
    target.parent.mkdir(parents=True)
    # The probe: a process killed with SIGKILL in the middle of a save leaves its temporary file behind.
    code = ("import sys, tempfile, time; h, p = tempfile.mkstemp(dir=sys.argv[1], prefix=sys.argv[2], suffix='.tmp'); "
            "open(p, 'wb').write(b'half a file'); print(p, flush=True); time.sleep(60)")
    child = subprocess.Popen([sys.executable, "-c", code, str(target.parent), target.name], stdout=subprocess.PIPE, text=True)
    orphan = Path(child.stdout.readline().strip())
    child.kill()
    child.wait(timeout=10)
    assert orphan.exists()
    old = time.time() - 2 * 3600
    os.utime(orphan, (old, old))
    fresh = target.parent / f"{target.name}fresh.tmp"  # another process's save in progress: kept
    fresh.write_bytes(b"in progress")

    class Examples:
        def to_state(self):
            return {"values": torch.zeros(2)}

    save_cache(target, Examples())
    assert target.exists() and not orphan.exists() and fresh.exists()
    assert sorted(p.name for p in target.parent.iterdir()) == sorted([target.name, fresh.name])
