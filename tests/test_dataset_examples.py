"""Tests of the streaming dataset-example scanner against brute force on small, hand-checkable cases."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest
import torch
from torch import nn

from helpers.activations import capture
from helpers.dataset_examples import DatasetExamples, cache_path, crop_box, scan_layer, scan_layers
from helpers.images import ImageSource, RandomCrops
from helpers.wrapping import wrap_model


@dataclass
class TensorSource(ImageSource):
    """A fixed stack of images, for tests."""

    images: torch.Tensor
    name: str = "tensors"
    batch_size: int = 8

    @property
    def size(self) -> int:
        return int(self.images.shape[-1])

    @property
    def key(self) -> str:
        return f"{self.name}-{len(self.images)}"

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: int) -> torch.Tensor:
        return self.images[index]


def small_convnet(seed: int = 0):
    torch.manual_seed(seed)
    module = nn.Sequential(
        nn.Conv2d(3, 6, 3, padding=1), nn.ReLU(),
        nn.Conv2d(6, 10, 3, stride=2, padding=1), nn.ReLU(),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(10, 4),
    )
    return wrap_model(module, {"conv1": "1", "conv2": "3"}, name=f"tiny{seed}", input_size=32)


@pytest.fixture(scope="module")
def model():
    return small_convnet()


def noise_source(count: int, seed: int = 0) -> RandomCrops:
    photos = {"noise": torch.rand(3, 80, 80, generator=torch.Generator().manual_seed(seed))}
    return RandomCrops(photos, count=count, size=32, scales=(0.3, 1.0), seed=seed, batch_size=8)


def brute_force(model, layer, source, pre_activation=False):
    """Every per-image maximum (N, C), its flat position (N, C), and every activation (C, N*h*w)."""
    maps = capture(model, torch.stack([source[i] for i in range(len(source))]), layer, pre_activation=pre_activation)[layer]
    best, where = maps.flatten(2).max(2)
    return best, where, maps.transpose(0, 1).reshape(maps.shape[1], -1), maps.shape[2:]


def scan(model, layer, source, tmp_path, **settings):
    return scan_layer(model, layer, source, cache_dir=tmp_path, progress=False, **settings)


def test_top_k_matches_a_full_sort(model, tmp_path):
    source = noise_source(37)
    ex = scan(model, "conv2", source, tmp_path, max_examples=5)
    best, where, _, (rows, cols) = brute_force(model, "conv2", source)
    distinct = 0
    for c in range(ex.channels):
        order = best[:, c].argsort(descending=True)[:5]
        torch.testing.assert_close(ex.top_values(c), best[order, c])
        torch.testing.assert_close(best[ex.top_indices(c), c], ex.top_values(c))  # each index has its value
        if len(best[:, c].unique()) == len(best):  # no ties (a dead unit ties at 0): the order is unique
            distinct += 1
            assert ex.top_indices(c).tolist() == order.tolist()
            flat = where[order, c]
            assert ex.top_positions(c).tolist() == torch.stack([flat // cols, flat % cols], 1).tolist()
    assert distinct >= ex.channels // 2


def test_top_k_larger_than_the_source_keeps_only_real_images(model, tmp_path):
    ex = scan(model, "conv1", noise_source(6), tmp_path, max_examples=10, max_band_examples=2)
    assert len(ex.top_values(0)) == 6 and sorted(ex.top_indices(0).tolist()) == list(range(6))


def test_band_members_lie_between_the_percentiles(model, tmp_path):
    source = noise_source(60)
    ex = scan(model, "conv2", source, tmp_path, band=(0.5, 0.9), max_band_examples=6, reservoir=64)
    best, *_ = brute_force(model, "conv2", source)
    for c in range(ex.channels):
        low, high = np.quantile(best[:, c].numpy(), [0.5, 0.9])
        assert ex.band_range(c) == pytest.approx((low, high), rel=1e-5, abs=1e-6)
        values = ex.band_values(c)
        assert len(values) == 6
        assert ((values >= low - 1e-6) & (values <= high + 1e-6)).all()
        torch.testing.assert_close(values, best[ex.band_indices(c), c])


def test_band_from_a_small_reservoir_is_close_to_the_true_band(model, tmp_path):
    source = noise_source(200)
    ex = scan(model, "conv2", source, tmp_path, band=(0.5, 0.9), max_band_examples=8, reservoir=64)
    best, *_ = brute_force(model, "conv2", source)
    for c in range(ex.channels):
        # a sample of 64 estimates a percentile to within a few ranks; allow 0.2 either side
        low, high = np.quantile(best[:, c].numpy(), [0.5 - 0.2, min(0.9 + 0.2, 1.0)])
        values = ex.band_values(c)
        assert len(values) == 8 and ((values >= low) & (values <= high)).all()


def test_histogram_and_statistics_match_brute_force(model, tmp_path):
    source = noise_source(29)
    ex = scan(model, "conv1", source, tmp_path, bins=16)
    _, _, values, _ = brute_force(model, "conv1", source)
    assert ex.num_positions == values.shape[1]
    for c in range(ex.channels):
        counts, edges = ex.histogram(c)
        assert counts.sum() == values.shape[1]
        assert len(edges) == 17 and edges[0] <= values[c].min() and edges[-1] >= values[c].max()
        expected, _ = np.histogram(values[c].double().numpy(), bins=edges.numpy())
        assert np.abs(expected - counts.numpy()).sum() <= 2  # values exactly on an edge may round either way
    torch.testing.assert_close(ex.mean, values.mean(1), rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(ex.std, values.std(1, unbiased=False), rtol=1e-3, atol=1e-5)
    torch.testing.assert_close(ex.firing_fraction, (values > 0).float().mean(1))


def test_pre_activation_differs_and_has_negative_values(model, tmp_path):
    source = noise_source(16)
    pre = scan(model, "conv1", source, tmp_path, pre_activation=True)
    post = scan(model, "conv1", source, tmp_path)
    assert (pre.histogram(0)[1][0] < 0) and (post.histogram(0)[1][0] == 0)
    torch.testing.assert_close(pre.firing_fraction, post.firing_fraction)


def test_cache_hit_returns_the_same_result_and_settings_change_the_key(model, tmp_path, monkeypatch):
    source = noise_source(24)
    first = scan(model, "conv2", source, tmp_path, max_examples=4)
    calls = []
    import helpers.dataset_examples.scan as module

    real_stream = module.stream
    monkeypatch.setattr(module, "stream", lambda *a, **k: calls.append(1) or real_stream(*a, **k))
    again = scan(model, "conv2", source, tmp_path, max_examples=4)
    assert calls == []  # served from the cache
    for name, value in first.to_state().items():
        if isinstance(value, torch.Tensor):
            torch.testing.assert_close(value, getattr(again, name), equal_nan=True)
    assert again.source is source

    changed = [
        dict(layer="conv2", source=source, max_examples=5),
        dict(layer="conv1", source=source, max_examples=4),
        dict(layer="conv2", source=noise_source(24, seed=1), max_examples=4),
        dict(layer="conv2", source=source, max_examples=4, pre_activation=True),
        dict(layer="conv2", source=source, max_examples=4, band=(0.2, 0.6)),
    ]
    for settings in changed:
        calls.clear()
        result = scan(model, settings.pop("layer"), settings.pop("source"), tmp_path, **settings)
        assert calls, f"{settings} was served from a stale cache"
        assert result.settings["max_examples"] == settings.get("max_examples", 4)


def test_other_weights_same_name_do_not_share_a_cache(tmp_path):
    source = noise_source(8)
    one, two = small_convnet(0), small_convnet(1)
    two.name = one.name
    settings = {"max_examples": 2}
    assert cache_path(one, "conv1", source, settings, tmp_path) != cache_path(two, "conv1", source, settings, tmp_path)


def test_a_scan_of_several_layers_fingerprints_the_weights_once(model, tmp_path, monkeypatch):
    # Hashing every weight is the slow part of a cache look-up: once per scan, not once per layer.
    import helpers.dataset_examples.cache as cache_module
    import helpers.dataset_examples.scan as scan_module

    real = cache_module.model_fingerprint
    computed = []

    def counting(*args, **kwargs):
        computed.append(1)
        return real(*args, **kwargs)

    for module in (cache_module, scan_module):  # wherever the scan looks it up
        monkeypatch.setattr(module, "model_fingerprint", counting)
    source = noise_source(8)
    layers = ["conv1", "conv2", "conv1"]  # a repeated name is scanned once
    for _ in range(2):  # scanned, then served from the cache: one fingerprint each time
        computed.clear()
        scan_layers(model, layers, source, max_examples=2, cache_dir=tmp_path, progress=False)
        assert len(computed) == 1, f"{len(computed)} fingerprints for one scan of two layers"


def test_changed_weights_are_seen_by_the_next_scan_of_the_same_model(tmp_path, monkeypatch):
    # The fingerprint is computed per scan, never remembered on the model: weights changed in place
    # (as an intervention does) must not be served the intact network's cached scan.
    import helpers.dataset_examples.scan as scan_module

    net = small_convnet(2)
    source = noise_source(8)
    before = scan(net, "conv2", source, tmp_path, max_examples=2)
    calls = []
    real_stream = scan_module.stream
    monkeypatch.setattr(scan_module, "stream", lambda *a, **k: calls.append(1) or real_stream(*a, **k))
    with torch.no_grad():
        net.module[2].weight.mul_(-1)
    after = scan(net, "conv2", source, tmp_path, max_examples=2)
    assert calls, "a scan of changed weights was served from the cache"
    assert not torch.equal(before.top_value.nan_to_num(), after.top_value.nan_to_num())


def test_field_geometry_measures_each_layer_and_size_once(backward_passes):
    from helpers.dataset_examples import field_geometry

    net = small_convnet(3)
    first = field_geometry(net, "conv2", 4)  # the field touches a 4-pixel input's border: larger probes too
    measured = [key for key in net._receptive_fields if key[0] == "conv2"]
    assert len(measured) > 1 and len(backward_passes) == len(measured), "one backward pass per (layer, size) probed"
    assert field_geometry(net, "conv2", 4) == first
    assert len(backward_passes) == len(measured), "a second call must reuse the measurements"


def test_corrupt_cache_file_is_rebuilt(model, tmp_path):
    source = noise_source(16)
    first = scan(model, "conv1", source, tmp_path)
    files = list(tmp_path.rglob("*.pt"))
    assert len(files) == 1 and not list(tmp_path.rglob("*.tmp"))
    files[0].write_bytes(b"not a torch file")
    rebuilt = scan(model, "conv1", source, tmp_path)
    torch.testing.assert_close(rebuilt.top_value, first.top_value)
    assert isinstance(torch.load(files[0], weights_only=True), dict)  # written again


def test_stored_size_does_not_grow_with_the_number_of_images(model, tmp_path):
    small = scan(model, "conv2", noise_source(16), tmp_path, reservoir=8, max_band_examples=4)
    large = scan(model, "conv2", noise_source(120), tmp_path, reservoir=8, max_band_examples=4)
    assert large.num_images == 120 and small.num_images == 16
    assert small.nbytes == large.nbytes


def test_bad_settings_are_explained(model, tmp_path):
    source = noise_source(4)
    with pytest.raises(ValueError, match="band"):
        scan(model, "conv1", source, tmp_path, band=(0.9, 0.5))
    with pytest.raises(ValueError, match="max_examples"):
        scan(model, "conv1", source, tmp_path, max_examples=0)
    with pytest.raises(KeyError, match="conv1"):
        scan(model, "conv9", source, tmp_path)
    ex = scan(model, "conv1", source, tmp_path)
    with pytest.raises(ValueError, match="channels 0..5"):
        ex.top_values(6)


def dot_detector():
    """conv 5x5 (mean brightness) -> ReLU -> conv 3x3 stride 2 (peaked at the centre) -> ReLU."""
    first = nn.Conv2d(3, 1, 5, padding=2, bias=False)
    second = nn.Conv2d(1, 1, 3, stride=2, padding=1, bias=False)
    with torch.no_grad():
        first.weight.fill_(1 / 75)
        second.weight.copy_(torch.tensor([[1.0, 2, 1], [2, 4, 2], [1, 2, 1]]).view(1, 1, 3, 3))
    module = nn.Sequential(first, nn.ReLU(), second, nn.ReLU(), nn.Flatten(), nn.LazyLinear(2))
    module(torch.zeros(1, 3, 40, 40))
    return wrap_model(module, {"dots": "3"}, name="dot_detector", input_size=40)


@pytest.mark.parametrize("dot", [(20, 20), (6, 30), (2, 2), (36, 14)])
def test_patch_is_centred_on_the_bright_dot(dot, tmp_path):
    model = dot_detector()
    images = torch.zeros(5, 3, 40, 40)
    images[3, :, dot[0], dot[1]] = 1.0  # only image 3 has a dot
    ex = scan(model, "dots", TensorSource(images), tmp_path, max_examples=2, max_band_examples=1)
    assert ex.top_indices(0)[0] == 3
    assert ex.top_positions(0)[0].tolist() == [dot[0] // 2, dot[1] // 2]
    patch = ex.top_patches(0, 1)[0]
    side = patch.shape[-1]
    assert side == 7  # 5x5 then 3x3 at stride 2: 5 + 2 * 2 - 2 * 0 ... = 7 pixels
    bright = torch.nonzero(patch[0] == 1.0).tolist()
    assert bright == [[side // 2, side // 2]]


def test_exclude_border_picks_the_strongest_interior_position(model, tmp_path):
    source = noise_source(21)
    margin = 2
    ex = scan(model, "conv2", source, tmp_path, max_examples=4, exclude_border=margin)
    maps = capture(model, torch.stack([source[i] for i in range(len(source))]), "conv2")["conv2"]
    rows, cols = maps.shape[2:]
    inner = maps[:, :, margin : rows - margin, margin : cols - margin]
    best = inner.flatten(2).max(2).values  # (N, C), interior only
    for c in range(ex.channels):
        torch.testing.assert_close(ex.top_values(c), best[:, c].sort(descending=True).values[:4])
        for index, (row, col) in zip(ex.top_indices(c).tolist(), ex.top_positions(c).tolist()):
            assert margin <= row < rows - margin and margin <= col < cols - margin
            torch.testing.assert_close(maps[index, c, row, col], best[index, c])  # positions index the whole map
    everywhere = scan(model, "conv2", source, tmp_path, max_examples=4)
    torch.testing.assert_close(ex.mean, everywhere.mean)  # statistics still cover every position
    assert ex.settings["exclude_border"] == margin and everywhere.settings["exclude_border"] == 0


def test_a_dot_at_the_edge_is_ignored_when_the_border_is_excluded(tmp_path):
    model = dot_detector()  # 20x20 map
    images = torch.zeros(4, 3, 40, 40)
    images[1, :, 2, 2] = 1.0  # a dot at the corner ...
    images[2, :, 20, 20] = 0.8  # ... and a fainter one in the middle
    assert scan(model, "dots", TensorSource(images), tmp_path, max_examples=1, max_band_examples=1).top_indices(0).tolist() == [1]
    interior = scan(model, "dots", TensorSource(images), tmp_path, max_examples=1, max_band_examples=1, exclude_border=2)
    assert interior.top_indices(0).tolist() == [2] and interior.top_positions(0).tolist() == [[10, 10]]


def test_exclude_border_must_leave_a_position(model, tmp_path):
    source = noise_source(4)
    with pytest.raises(ValueError, match="0 or more"):
        scan(model, "conv1", source, tmp_path, exclude_border=-1)
    with pytest.raises(ValueError, match=r"leaves no position of conv2's 16x16 map; use at most 7"):
        scan(model, "conv2", source, tmp_path, exclude_border=8)


def test_crop_box_pads_outside_the_image():
    image = torch.rand(3, 10, 10)
    patch = crop_box(image, (-2, 7, 3, 12), pad_value=0.25)
    assert patch.shape == (3, 5, 5)
    torch.testing.assert_close(patch[:, 2:, :3], image[:, 0:3, 7:10])
    assert (patch[:, :2] == 0.25).all() and (patch[:, :, 3:] == 0.25).all()


def test_state_round_trip_keeps_everything(model, tmp_path):
    ex = scan(model, "conv1", noise_source(10), tmp_path, cache=False)
    copy = DatasetExamples.from_state(ex.to_state(), ex.source)
    assert copy.geometry == ex.geometry and copy.map_size == ex.map_size
    torch.testing.assert_close(copy.top_patches(2, 3), ex.top_patches(2, 3))


def test_scanning_layers_together_equals_scanning_them_alone(model, tmp_path):
    source = noise_source(20)
    together = scan_layers(model, ["conv1", "conv2"], source, cache_dir=tmp_path / "a", progress=False)
    for layer in ("conv1", "conv2"):
        alone = scan(model, layer, source, tmp_path / "b")
        for name, value in alone.to_state().items():
            if isinstance(value, torch.Tensor):
                torch.testing.assert_close(value, getattr(together[layer], name), equal_nan=True)


def test_most_selective_ranks_by_top_value_in_standard_deviations(model, tmp_path):
    ex = scan(model, "conv2", noise_source(20), tmp_path)
    z = (ex.top_value[:, 0] - ex.mean) / ex.std
    alive = [c for c in range(ex.channels) if ex.top_values(c)[0] > 0]
    assert 3 <= len(alive) < ex.channels  # the small random network has dead units to leave out
    chosen = ex.most_selective(3)
    assert chosen == sorted(alive, key=lambda c: -float(z[c]))[:3]
    with pytest.raises(ValueError, match="count"):
        ex.most_selective(0)


def test_scan_settings_are_one_checked_frozen_object_that_makes_the_cache_key(model, tmp_path):
    import dataclasses

    from helpers.dataset_examples import ScanSettings

    settings = ScanSettings(max_examples=4, band=[0.2, 0.6])
    assert settings.band == (0.2, 0.6)
    # the very dict the cache key was made of before the settings were an object, so old caches stay valid
    assert settings.key() == {"max_examples": 4, "band": [0.2, 0.6], "max_band_examples": 16, "pre_activation": False, "reservoir": 1024,
                              "bins": 64, "seed": 0, "exclude_border": 0}
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.max_examples = 5
    with pytest.raises(ValueError, match="bins"):
        ScanSettings(bins=3)
    with pytest.raises(ValueError, match="reservoir"):
        ScanSettings(reservoir=4, max_band_examples=8)
    with pytest.raises(TypeError, match="max_examples must be a whole number"):
        ScanSettings(max_examples=2.0)
    source = noise_source(6)
    given = scan(model, "conv1", source, tmp_path, settings=ScanSettings(max_examples=3, max_band_examples=2))
    keywords = scan(model, "conv1", source, tmp_path, max_examples=3, max_band_examples=2)
    assert given.settings == keywords.settings
    torch.testing.assert_close(given.top_value, keywords.top_value, equal_nan=True)
    with pytest.raises(TypeError, match="Unknown scan setting.*top_count"):
        scan(model, "conv1", source, tmp_path, top_count=3)
