"""Tests of the universality measurements: CKA, unit matching, filter types, the model runner."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from helpers.families import curve_screen_options, find_high_low_family, high_low_screen_options
from helpers.training import SmallConvNet, wrap_small_net
from helpers.layers import layer_at_depth
from helpers.universality import (
    cka_matrix, classify_filters, correlation_matrix, filter_properties,
    filter_type_counts, FILTER_TYPES, first_layer_filters, format_table, linear_cka, match_units,
    representations, shuffled_match,
)


def _random(n: int, p: int, seed: int) -> torch.Tensor:
    return torch.randn(n, p, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


@pytest.mark.parametrize("debiased", [False, True])
def test_cka_is_one_for_identical_and_invariant_to_rotation_and_scale(debiased):
    x = _random(120, 20, 0)
    rotation, _ = torch.linalg.qr(_random(20, 20, 1))
    assert linear_cka(x, x, debiased=debiased) == pytest.approx(1.0, abs=1e-9)
    assert linear_cka(x, 3.7 * x @ rotation, debiased=debiased) == pytest.approx(1.0, abs=1e-9)
    y = torch.relu(x[:, :10]) + 0.5 * _random(120, 10, 2)
    assert linear_cka(x, y, debiased=debiased) == pytest.approx(linear_cka(x @ rotation * 0.1, y, debiased=debiased), abs=1e-9)


def test_cka_is_low_for_independent_representations_and_debiasing_removes_the_bias():
    x, y = _random(300, 10, 3), _random(300, 10, 4)
    plain, debiased = linear_cka(x, y), linear_cka(x, y, debiased=True)
    assert plain < 0.1
    assert abs(debiased) < 0.02 and debiased < plain


def test_cka_rejects_mismatched_examples():
    with pytest.raises(ValueError, match="same examples"):
        linear_cka(_random(10, 3, 0), _random(11, 3, 0))


def _small_model(seed: int = 0, width: int = 4):
    torch.manual_seed(seed)
    return SmallConvNet(num_classes=3, width=width)


def _permuted_copy(net: SmallConvNet, permutation: torch.Tensor) -> SmallConvNet:
    twin = SmallConvNet(num_classes=3, width=net.conv1.out_channels)
    twin.load_state_dict(net.state_dict())
    with torch.no_grad():
        twin.conv1.weight.copy_(net.conv1.weight[permutation])
        twin.conv1.bias.copy_(net.conv1.bias[permutation])
        twin.conv2.weight.copy_(net.conv2.weight[:, permutation])
    return twin


def test_unit_matching_recovers_a_channel_permutation():
    net = _small_model()
    permutation = torch.tensor([2, 0, 3, 1])
    model_a = wrap_small_net(net, ["a", "b", "c"], 32, name="a")
    model_b = wrap_small_net(_permuted_copy(net, permutation), ["a", "b", "c"], 32, name="b")
    images = torch.rand(12, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    assert torch.allclose(model_a(images), model_b(images), atol=1e-5)  # the same function
    responses_a = representations(model_a, images, ["conv1"]).responses("conv1")
    responses_b = representations(model_b, images, ["conv1"]).responses("conv1")
    match = match_units(responses_a, responses_b)
    # unit i of A is unit j of B where permutation[j] == i
    assert match.best.tolist() == torch.argsort(permutation).tolist()
    assert np.allclose(match.best_correlation, 1.0, atol=1e-6)
    assert match.correlations.shape == (4, 4)
    shuffled = shuffled_match(responses_a, responses_b, samples_per_image=16, seed=0)
    assert shuffled.mean_best < match.mean_best


def test_correlation_of_a_constant_unit_is_zero():
    a = torch.stack([torch.arange(5.0), torch.ones(5)], 1)
    assert np.allclose(correlation_matrix(a, a), [[1.0, 0.0], [0.0, 0.0]])


def test_cka_matrix_of_a_model_with_itself_has_ones_on_the_diagonal():
    model = wrap_small_net(_small_model(1), ["a", "b", "c"], 32, name="m")
    images = torch.rand(10, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    recorded = representations(model, images, grid=2)
    result = cka_matrix(recorded, recorded)
    assert result.matrix.shape == (4, 4)
    assert np.allclose(np.diag(result.matrix), 1.0)
    assert np.allclose(result.matrix, result.matrix.T)
    matched, far = result.matched_vs_mismatched(tolerance=0.1, far=0.6)
    assert matched == pytest.approx(1.0)
    assert far < matched


def _gabor(size: int, stripes_degrees: float, wavelength: float = 4.0) -> np.ndarray:
    ys, xs = np.mgrid[0:size, 0:size] - (size - 1) / 2
    ys = -ys  # image rows grow downwards; angles count counter-clockwise with y up
    across = np.radians(stripes_degrees + 90)
    phase = xs * np.cos(across) + ys * np.sin(across)
    return np.exp(-(xs**2 + ys**2) / (2 * (size / 4) ** 2)) * np.cos(2 * np.pi * phase / wavelength)


@pytest.mark.parametrize("angle", [0.0, 45.0, 90.0, 135.0])
def test_grey_gabors_are_oriented_with_the_right_orientation(angle):
    properties = filter_properties(np.stack([_gabor(11, angle)] * 3))
    assert properties.kind == "oriented"
    assert abs((properties.orientation - angle + 90) % 180 - 90) < 10


def test_colour_blob_low_frequency_blob_and_centre_surround_are_told_apart():
    ys, xs = np.mgrid[0:7, 0:7] - 3
    blob = np.exp(-(xs**2 + ys**2) / 4.0)
    assert filter_properties(np.stack([blob, -blob, 0 * blob])).kind == "colour contrast"  # red on, green off
    wide_blob = np.exp(-(xs**2 + ys**2) / 18.0)  # smooth, one sign across the whole kernel
    assert filter_properties(np.stack([wide_blob] * 3)).kind == "low frequency"
    surround = blob - np.exp(-(xs**2 + ys**2) / 16.0) * blob.sum() / np.exp(-(xs**2 + ys**2) / 16.0).sum()
    assert filter_properties(np.stack([surround] * 3)).kind == "other"
    assert filter_properties(np.zeros((3, 5, 5))).kind == "other"
    with pytest.raises(ValueError, match=r"\(3, k, k\)"):
        filter_properties(np.zeros((5, 5)))


def test_first_layer_filters_fold_in_the_preprocessing():
    net = _small_model(2)
    model = wrap_small_net(net, ["a", "b", "c"], 32)
    filters = first_layer_filters(model)
    assert filters.shape == (4, 3, 5, 5)
    assert torch.allclose(filters, net.conv1.weight / 0.5)  # std 0.5 per channel
    counts = filter_type_counts(classify_filters(filters))
    assert set(counts) == set(FILTER_TYPES) and sum(counts.values()) == 4


def test_depths():
    model = wrap_small_net(_small_model(3), ["a", "b", "c"], 32, name="m")
    assert model.depth_fraction("conv1") == 0.0 and model.depth_fraction("conv4") == 1.0
    assert layer_at_depth(model, 0.4) == "conv2"


def test_high_low_screen_returns_consistent_family():
    model = wrap_small_net(_small_model(4, width=6), ["a", "b", "c"], 32, name="m")
    family = find_high_low_family(model, "conv3", orientations=8, **{**high_low_screen_options(model), "seeds": (0,)})
    assert family.tuning().shape == (8, len(family)) and family.screen.placement.size == 32
    assert family.screen.every_seed[family.channels].all()
    assert np.all(np.diff(family.orientations) >= 0)
    assert np.all(family.boundary_selectivity >= 0.3) and np.all(family.orientation_selectivity >= 0.4)


def test_family_rows_and_table():
    model = wrap_small_net(_small_model(5, width=6), ["a", "b", "c"], 32, name="m")
    family = find_high_low_family(model, "conv3", orientations=8, **{**high_low_screen_options(model), "seeds": (0, 1)})
    row = family.summary(model)
    assert row["family"] == "high-low" and row["units"] == len(family) and row["of"] == 24 and row["depth"] == 0.67
    table = format_table([row, row])
    assert table.splitlines()[0].split()[0] == "model" and len(table.splitlines()) == 3
    assert curve_screen_options(model)["width"] > 0.03  # thicker strokes for a 32-px network


def test_filter_orientation_is_what_the_classifier_reads():
    from helpers.universality import filter_orientation

    stripes = np.stack([_gabor(9, 60.0)] * 3)
    properties = filter_properties(stripes)
    assert filter_orientation(stripes) == (properties.orientedness, properties.orientation)
    assert abs(filter_orientation(stripes)[1] - 60.0) < 10
    assert filter_orientation(stripes + 2.0) == pytest.approx(filter_orientation(stripes))  # an offset adds nothing
    assert filter_orientation(np.ones((3, 5, 5))) == (0.0, 0.0)  # no pattern
    with pytest.raises(ValueError, match="fft_size"):
        filter_orientation(np.zeros((3, 9, 9)), 8)


def test_random_filter_properties_are_seeded():
    from helpers.universality import random_filter_properties

    first = random_filter_properties(3, count=50, seed=1)
    assert len(first) == 50 and first == random_filter_properties(3, count=50, seed=1)
    assert first != random_filter_properties(3, count=50, seed=2)


def test_recurrence_by_layer_finds_a_network_in_itself_and_less_after_shuffling():
    from helpers.universality import recurrence_by_layer

    model = wrap_small_net(_small_model(2), ["a", "b", "c"], 32, name="m")
    images = torch.rand(12, 3, 32, 32, generator=torch.Generator().manual_seed(4))
    same = recurrence_by_layer(model, model, images, grid=2)
    shuffled = recurrence_by_layer(model, model, images, grid=2, shuffled=True)
    assert list(same) == list(model.layer_names) and list(shuffled) == list(same)
    assert all(value == pytest.approx(1.0) for value in same.values())
    assert all(shuffled[layer] < same[layer] for layer in same)


def test_small_net_census_counts_filters_and_families_per_layer():
    from helpers.census import small_net_census

    model = wrap_small_net(_small_model(4, width=6), ["a", "b", "c"], 32, name="m")
    row = small_net_census("seed 4", model, 0.875)
    assert row["variant"] == "seed 4" and row["accuracy"] == "88%"
    assert set(row) == {"variant", "accuracy", "oriented", "colour", "curves conv3", "curves conv4",
                        "high-low conv3", "high-low conv4"}
    assert all(0 <= row[key] <= 6 * 8 for key in row if key not in ("variant", "accuracy"))


def test_census_with_controls_screens_each_copy_at_its_trained_models_layers(monkeypatch):
    import helpers.census as census_module
    from helpers.census import census_with_controls

    class Found:
        def __init__(self, screened, kind):
            self.screened, self.kind = screened, kind

        def summary(self, model):
            return {"model": model, "family": self.kind, "units": len(self.screened)}

    class Named(str):
        @property
        def name(self):
            return str(self)

    calls = []

    def screen(model, reference):
        calls.append((model, reference))
        return {"curve": Found(model, "curve"), "high-low": Found(model, "high-low")}

    monkeypatch.setattr(census_module, "screen_families", screen)
    trained, copy = Named("net"), Named("random net")
    census, rows = census_with_controls([trained], {"net": copy})
    assert calls == [(trained, trained), (copy, trained)]
    assert list(census) == ["net", "net (random copy)"]
    assert [(row["model"], row["family"], row["units"]) for row in rows] == [
        ("net", "curve", 3), ("net", "high-low", 3), ("net (random copy)", "curve", 10), ("net (random copy)", "high-low", 10)]


def test_filter_split_shares():
    from helpers.census import filter_split
    from helpers.universality import FilterProperties

    props = [FilterProperties(0.95, 0.0, 0.0, 0.0, "colour contrast"), FilterProperties(0.1, 0.0, 0.8, 0.0, "oriented"),
             FilterProperties(0.5, 0.9, 0.0, 0.0, "low frequency"), FilterProperties(0.3, 0.0, 0.0, 0.0, "other")]
    assert filter_split(props) == pytest.approx((0.25, 0.25, 0.5, 0.25))
    with pytest.raises(ValueError):
        filter_split([])
