"""capture(), unit_activation() and receptive_field() on hand-made networks."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from helpers.activations import capture, read_at, receptive_field, stream, unit_activation
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
    assert torch.allclose(unit_activation(model, images, "b:2", at="mean"), maps.mean(dim=(1, 2)))
    with pytest.raises(ValueError, match="at must be one of 'map', 'center', 'max', 'mean'"):
        unit_activation(model, images, "b:2", at="middle")


def test_read_at_reads_every_position_the_same_way_for_maps_of_any_rank() -> None:
    maps = torch.arange(2 * 3 * 5 * 5, dtype=torch.float32).reshape(2, 3, 5, 5)
    assert torch.equal(read_at(maps, "map"), maps)
    assert torch.equal(read_at(maps, "center"), maps[:, :, 2, 2])
    assert torch.equal(read_at(maps, "max"), maps[:, :, 4, 4])
    assert torch.allclose(read_at(maps, "mean"), maps.mean(dim=(2, 3)))
    assert torch.equal(read_at(maps[:, 1], "center"), maps[:, 1, 2, 2])  # one unit's maps (N, h, w)
    # neighbourhood=1: the largest of the 3 x 3 positions around the centre
    assert torch.equal(read_at(maps, "center", neighbourhood=1), maps[:, :, 3, 3])
    logits = torch.rand(2, 7)
    assert read_at(logits, "map") is logits  # values without positions pass through "map"
    with pytest.raises(ValueError, match="reads a position"):
        read_at(logits, "center")


def test_stream_batches_a_tensor_or_a_source_the_same_way() -> None:
    from helpers.images import RandomCrops

    model = wrap_model(net(), {"a": "1", "b": "3"}, input_size=12)
    images = torch.rand(5, 3, 12, 12)
    batches = list(stream(model, images, ["a", "b"], batch_size=2, progress=False))
    assert [indices.tolist() for indices, _ in batches] == [[0, 1], [2, 3], [4]]
    whole = capture(model, images, ["a", "b"])
    for name in ("a", "b"):
        streamed = torch.cat([maps[name] for _, maps in batches])
        assert streamed.dtype == torch.float32 and streamed.device.type == "cpu"
        torch.testing.assert_close(streamed, whole[name])
    assert torch.is_grad_enabled()  # inference mode never leaks out of the generator
    source = RandomCrops({"noise": torch.rand(3, 40, 40)}, count=3, size=12, batch_size=2)
    from_source = list(stream(model, source, "b", progress=False))
    assert [indices.tolist() for indices, _ in from_source] == [[0, 1], [2]]
    torch.testing.assert_close(torch.cat([maps["b"] for _, maps in from_source]), capture(model, source.images(range(3)), "b")["b"])
    resized = next(stream(model, torch.rand(2, 3, 20, 20), "b", size=12, progress=False))[1]["b"]
    assert resized.shape[-2:] == (12, 12)
    with pytest.raises(ValueError, match="batches itself"):
        next(stream(model, source, "b", batch_size=4))
    with pytest.raises(TypeError, match="image source"):
        next(stream(model, [images], "b"))
    with pytest.raises(ValueError, match=r"\(N, 3, H, W\)"):
        next(stream(model, torch.rand(2, 1, 12, 12), "b"))


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
