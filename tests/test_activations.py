"""capture(), unit_activation() and receptive_field() on hand-made networks."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from helpers.activations import capture, receptive_field, unit_activation
from helpers.wrapping import wrap_model


class CountingConv(nn.Conv2d):
    calls = 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        CountingConv.calls += 1
        return super().forward(x)


def net() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(inplace=True),
        nn.Conv2d(4, 5, 3, padding=1), nn.ReLU(),
        CountingConv(5, 6, 3, padding=1), nn.ReLU(),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(6, 3),
    )


def test_capture_matches_manual_forward_and_pre_activation() -> None:
    module = net()
    model = wrap_model(module, {"a": "1", "b": "3"}, input_size=12)
    images = torch.rand(2, 3, 12, 12)
    got = capture(model, images, ["a", "b"], pre_activation=True)
    pre_a = module[0](images)
    assert torch.allclose(got["a"], pre_a)  # the in-place ReLU did not overwrite the copy
    assert (got["a"] < 0).any()
    post = capture(model, images, "b")["b"]
    assert torch.allclose(post, torch.relu(module[2](torch.relu(pre_a))))
    center = capture(model, images, "b", at="center")["b"]
    assert torch.allclose(center, post[:, :, 6, 6])


def test_capture_stops_after_the_deepest_layer() -> None:
    model = wrap_model(net(), {"a": "1", "b": "3", "c": "5"}, input_size=12)
    CountingConv.calls = 0
    capture(model, torch.rand(1, 3, 12, 12), ["a", "b"])
    assert CountingConv.calls == 0
    capture(model, torch.rand(1, 3, 12, 12), ["c"])
    assert CountingConv.calls == 1


def test_unit_activation_modes() -> None:
    model = wrap_model(net(), {"b": "3"}, input_size=12)
    images = torch.rand(3, 3, 12, 12)
    maps = unit_activation(model, images, "b:2", at="map")
    assert maps.shape == (3, 12, 12)
    assert torch.allclose(unit_activation(model, images, "b:2", at="max"), maps.flatten(1).amax(1))
    assert torch.allclose(unit_activation(model, images, "b:2"), maps[:, 6, 6])
    with pytest.raises(ValueError, match="at must be"):
        unit_activation(model, images, "b:2", at="mean")


def test_receptive_field_of_stacked_3x3_convs() -> None:
    model = wrap_model(net(), {"a": "1", "b": "3", "c": "5"}, input_size=21)
    assert receptive_field(model, "a") == (9, 9, 12, 12)   # 3 x 3 around the centre pixel 10
    assert receptive_field(model, "c") == (7, 7, 14, 14)   # three 3x3 convs: 7 x 7


def test_receptive_field_is_measured_once_per_layer_and_size(backward_passes: list[int]) -> None:
    model = wrap_model(net(), {"a": "1", "b": "3", "c": "5"}, input_size=21)
    first = receptive_field(model, "c")
    assert receptive_field(model, "c") == first and receptive_field(model, "c", model.input_size) == first
    assert len(backward_passes) == 1, "the second and third calls must reuse the first measurement"
    receptive_field(model, "c", 25)
    receptive_field(model, "a")
    assert len(backward_passes) == 3, "another size or layer is a new measurement"
