"""CircuitModel, units and wrap_model on small hand-made networks."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from helpers.models import Branch, Layer, Unit, UnknownNameError
from helpers.wrapping import wrap_model


def tiny_net() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(),
        nn.Conv2d(4, 6, 3, stride=2, padding=1), nn.ReLU(),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(6, 5),
    )


def test_unit_parse_and_print_round_trip() -> None:
    for text in ["mixed3b:379", "blocks.3.2:17", "conv2d0:0"]:
        assert str(Unit.parse(text)) == text
    assert Unit.parse(("mixed4e", 55)) == Unit("mixed4e", 55)
    for bad in ["mixed3b", "mixed3b:x", ":3", 42]:
        with pytest.raises(ValueError, match="layer:channel"):
            Unit.parse(bad)


def test_wrap_model_finds_activation_layers_and_channels() -> None:
    model = wrap_model(tiny_net(), input_size=32)
    assert model.layer_names == ["1", "3"]
    assert [model.channels(n) for n in model.layer_names] == [4, 6]
    assert model.layer_shapes() == {"1": (4, 32, 32), "3": (6, 16, 16)}
    assert len(model.labels) == 5
    assert not any(p.requires_grad for p in model.module.parameters())
    assert not model.module.training


def test_wrap_model_with_course_names_and_preprocessing() -> None:
    net = tiny_net()
    model = wrap_model(net, {"conv1": "1", "conv2": "3"}, mean=(0.5, 0.5, 0.5), std=(0.25, 0.25, 0.25), input_size=16)
    images = torch.rand(2, 3, 16, 16)
    assert torch.allclose(model(images), net((images - 0.5) / 0.25))
    assert model.layer("conv2").pre_activation_path == "3"


def test_unknown_layer_and_unit_errors_list_what_exists() -> None:
    model = wrap_model(tiny_net(), {"conv1": "1", "conv2": "3"}, input_size=16)
    with pytest.raises(UnknownNameError, match="Did you mean .*'conv1'.*Available: conv1, conv2"):
        model.layer("convl")
    with pytest.raises(UnknownNameError, match="channels 0..5; there is no unit conv2:6"):
        model.unit("conv2:6")
    with pytest.raises(UnknownNameError, match="no submodule"):
        wrap_model(tiny_net(), ["7"], input_size=16)


def test_branch_lookup_names_the_concat_branch() -> None:
    layer = Layer("mixed", "m", 10, branches=(Branch("1x1", 0, 4), Branch("3x3", 4, 10)))
    assert layer.branch_of(3).name == "1x1"
    assert layer.branch_of(4).name == "3x3"
    assert layer.branch_of(10) is None


def test_every_entry_point_moves_inputs_to_the_models_device() -> None:
    # CI has no GPU: on the "meta" device an output can only come out if the CPU input was moved there.
    from helpers.activations import capture, unit_activation
    from helpers.featurevis import neuron, objective_values

    torch.manual_seed(0)
    module = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.Conv2d(4, 5, 3, padding=1), nn.ReLU(),
                           nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(5, 2))
    model = wrap_model(module, {"a": "1", "b": "3"}, input_size=16).to("meta")
    assert model.device.type == "meta" and model.preprocess.mean.device.type == "meta"
    images = torch.rand(2, 3, 16, 16)
    assert model(images).device.type == "meta"
    assert capture(model, images, ["a", "b"])["b"].device.type == "meta"
    assert capture(model, images, "a", at="center")["a"].shape == (2, 4)
    assert unit_activation(model, images, "b:1").device.type == "meta"
    assert objective_values(model, [neuron(model.unit("b:0")), neuron(model.unit("b:1"))], images).device.type == "meta"
    assert model.layer_shapes(16)["b"] == (5, 16, 16)  # the shape trace builds its blank image on the device
    with pytest.raises(TypeError, match="torch.uint8"):  # checks that need no values still run
        model(torch.zeros(1, 3, 16, 16, dtype=torch.uint8))
