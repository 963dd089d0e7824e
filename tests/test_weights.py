"""Expanded weights, strongest connections and equivariance (helpers.weights)."""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from scipy.signal import convolve2d
from torch import nn

from helpers import load_model, wrap_model
from helpers.weights import (
    expanded_weights, family_equivariance, linearized_forward, rotate_grids, spatial_pattern,
    strongest_inputs, strongest_outputs, unit_weights, weight_equivariance, weight_view,
)
from helpers.weights.equivariance import hue_rotation, transform_weights, transformed_copies
from helpers.weights.expanded import image_weights


@pytest.fixture(scope="module")
def lite0():
    return load_model("efficientnet_lite0", verbose=False)


def tiny_network(seed: int = 0):
    """Two 3x3 convolutions with ReLUs, wrapped: layers 'a' (2 -> 3 channels) and 'b' (3 -> 4 channels)."""
    torch.manual_seed(seed)
    module = nn.Sequential(nn.Conv2d(3, 3, 3, padding=1), nn.ReLU(), nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(),
                           nn.Conv2d(4, 5, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten())
    return wrap_model(module, {"a": "1", "b": "3", "c": "5"}, name="tiny", input_size=24)


def linear_part(model, from_layer, to_layer, activation, size):
    """What the network adds to to_layer's pre-activation for this from_layer activation, ReLUs removed."""
    zero = torch.zeros_like(activation)
    with torch.no_grad():
        return linearized_forward(model, from_layer, to_layer, activation, size) - linearized_forward(model, from_layer, to_layer, zero, size)


@pytest.mark.parametrize("from_layer,to_layer", [("blocks.3.0", "blocks.3.1"), ("blocks.3.1", "blocks.3.2")])
def test_efficientnet_expanded_weights_are_the_composed_convolution(lite0, from_layer, to_layer) -> None:
    # blocks.3.0 has no residual (stride 2); blocks.3.1 adds its input back (a residual block).
    assert lite0.module.blocks[3][int(from_layer[-1])].has_skip == (from_layer == "blocks.3.1")
    weights = expanded_weights(lite0, from_layer, to_layer, method="analytic")
    assert weights.shape == (lite0.channels(to_layer), lite0.channels(from_layer), 3, 3)
    size = 96
    shape = lite0.layer_shapes(size)[from_layer]
    activation = torch.rand(1, *shape, generator=torch.Generator().manual_seed(1)) * 6  # in ReLU6's range
    expected = linear_part(lite0, from_layer, to_layer, activation, size)
    composed = F.conv2d(activation, weights, padding=1)
    assert torch.allclose(composed, expected, atol=1e-4 * float(expected.abs().max()))


def test_efficientnet_linearized_method_agrees_with_the_closed_form(lite0) -> None:
    closed = expanded_weights(lite0, "blocks.2.1", "blocks.3.0", method="analytic")[::40]
    numeric = expanded_weights(lite0, "blocks.2.1", "blocks.3.0", method="linearized", to_channels=range(0, 240, 40))
    assert numeric.shape == closed.shape
    assert torch.allclose(numeric, closed, atol=1e-5 * float(closed.abs().max()))


def test_efficientnet_weights_factorize_into_kernel_times_channel_weight(lite0) -> None:
    grids = expanded_weights(lite0, "blocks.3.1", "blocks.3.2", to_channels=[7])[0]  # (480, 3, 3)
    singular = torch.linalg.svdvals(grids.reshape(grids.shape[0], -1))
    assert singular[1] < 1e-5 * singular[0]  # rank one: one spatial kernel shared by every input


def test_generic_linearized_weights_match_composed_kernels() -> None:
    model = tiny_network()
    first, second = model.module[0].weight.detach(), model.module[2].weight.detach()
    weights = expanded_weights(model, "a", "b")  # consecutive: one conv, the second layer's own weights
    assert torch.allclose(weights, second, atol=1e-6)
    two_hops = expanded_weights(model, "a", "c")  # through 'b' with its ReLU ignored: 5x5 kernels
    third = model.module[4].weight.detach().numpy()
    expected = np.zeros((5, 3, 5, 5))
    for o in range(5):
        for i in range(3):
            expected[o, i] = sum(convolve2d(third[o, m], second.numpy()[m, i], mode="full") for m in range(4))
    assert two_hops.shape == (5, 3, 5, 5)
    assert np.allclose(two_hops.numpy(), expected, atol=1e-5)
    assert first.shape[0] == 3


def test_inceptionv1_branches_compose_into_5x5_grids() -> None:
    from helpers.inceptionv1_weights import build_inceptionv1

    model = build_inceptionv1(seed=0)
    weights = expanded_weights(model, "mixed3a", "mixed3b", method="analytic")
    assert weights.shape == (480, 256, 5, 5)
    pool = model.layer("mixed3b").branches[-1]
    assert pool.name.startswith("pool") and weights[pool.start : pool.stop].abs().max() == 0  # max-pool branch skipped
    size = 64
    activation = torch.rand(1, *model.layer_shapes(size)["mixed3a"], generator=torch.Generator().manual_seed(2))
    expected = linear_part(model, "mixed3a", "mixed3b", activation, size)[:, : pool.start]
    composed = F.conv2d(activation, weights[: pool.start], padding=2)
    assert torch.allclose(composed, expected, atol=1e-4 * float(expected.abs().max()))
    assert torch.equal(expanded_weights(model, "conv2d1", "conv2d2"), model.module.conv2d2_pre_relu_conv.weight.detach())


def test_unit_weights_and_strongest_connections(lite0) -> None:
    grids = expanded_weights(lite0, "blocks.3.1", "blocks.3.2", to_channels=[20])[0]
    assert torch.equal(unit_weights(lite0, "blocks.3.1:5", "blocks.3.2:20"), grids[5])
    found = strongest_inputs(lite0, "blocks.3.2:20", 5)
    sums = grids.sum(dim=(1, 2))
    assert [c.unit.channel for c in found.excitatory] == torch.argsort(sums, descending=True)[:5].tolist()
    assert [c.unit.channel for c in found.inhibitory] == torch.argsort(sums)[:5].tolist()
    assert all(c.strength > 0 for c in found.excitatory) and all(c.strength < 0 for c in found.inhibitory)
    outputs = strongest_outputs(lite0, "blocks.3.1:5", 3)
    column = expanded_weights(lite0, "blocks.3.1", "blocks.3.2")[:, 5].sum(dim=(1, 2))
    assert outputs.excitatory[0].unit.channel == int(column.argmax()) and outputs.other_layer == "blocks.3.2"
    view = weight_view(lite0, "blocks.3.2:20", 4, kind="inhibitory")
    assert [c.unit for c in view.connections] == [c.unit for c in found.inhibitory[:4]]


def test_bad_requests_say_what_is_allowed(lite0) -> None:
    with pytest.raises(ValueError, match="must come after"):
        expanded_weights(lite0, "blocks.3.2", "blocks.3.1")
    with pytest.raises(ValueError, match="method must be"):
        expanded_weights(lite0, "blocks.3.1", "blocks.3.2", method="exact")
    with pytest.raises(ValueError, match="No closed form"):
        expanded_weights(lite0, "blocks.3.0", "blocks.3.2", method="analytic")
    with pytest.raises(ValueError, match="first layer"):
        strongest_inputs(lite0, "stem:0")
    with pytest.raises(ValueError, match="kind must be"):
        weight_view(lite0, "blocks.3.2:0", kind="both")


def test_rotation_turns_grids_counter_clockwise() -> None:
    grid = torch.zeros(5, 5)
    grid[2, 4] = 1.0  # a dot on the right
    up = rotate_grids(grid, 90)
    assert up.argmax() == 0 * 5 + 2  # now on top, in the middle column
    assert torch.allclose(rotate_grids(grid, 0), grid, atol=1e-6)
    assert torch.allclose(rotate_grids(grid, 360), grid, atol=1e-5)


def test_equivariance_finds_rotated_copies() -> None:
    generator = torch.Generator().manual_seed(0)
    base = torch.randn(6, 5, 5, generator=generator)
    turned = rotate_grids(base, 90)
    assert weight_equivariance(base, turned, 90) > 0.99
    assert weight_equivariance(base, turned, 0) < 0.5
    assert weight_equivariance(base, turned, 90, mode="spatial") > 0.99
    pattern = spatial_pattern(torch.ones(3, 1, 1) * torch.tensor([[1.0, -2.0], [0.5, 0.0]]))
    assert torch.allclose(pattern / pattern.abs().max(), torch.tensor([[0.5, -1.0], [0.25, 0.0]]), atol=1e-5)


def test_rank_one_rebuilds_a_depthwise_units_weights_and_measures_the_rest() -> None:
    from helpers.weights import rank_one

    kernel = torch.tensor([[1.0, -2.0], [0.5, 0.0]])
    numbers = torch.tensor([2.0, -0.5, 1.0])
    exact = rank_one(numbers[:, None, None] * kernel)  # every input through one kernel, as behind a depthwise step
    assert exact.share == pytest.approx(1.0)
    assert torch.allclose(exact.per_input[:, None, None] * exact.pattern, numbers[:, None, None] * kernel, atol=1e-5)
    assert float(exact.per_input.sum()) > 0  # signed so that the excitatory inputs outweigh the inhibitory one
    mixed = rank_one(torch.randn(6, 3, 3, generator=torch.Generator().manual_seed(0)))
    assert 1 / 6 < mixed.share < 1


def test_family_equivariance_of_rotated_units() -> None:
    model = tiny_network()
    with torch.no_grad():  # make unit b:1 a 90-degree rotated copy of b:0 (on the same inputs)
        model.module[2].weight[1] = rotate_grids(model.module[2].weight[0], 90)
    summary = family_equivariance(model, ["b:0", "b:1"], [0.0, 90.0])
    assert summary.rotated[0] > 0.99 and summary.gain > 0.3
    with pytest.raises(ValueError, match="one orientation per unit"):
        family_equivariance(model, ["b:0", "b:1"], [0.0])


def test_image_weights_compose_every_convolution_back_to_the_pixels() -> None:
    model = tiny_network()
    first, second = model.module[0].weight.detach(), model.module[2].weight.detach().numpy()
    assert torch.allclose(image_weights(model, "a", size=16), first, atol=1e-6)
    expected = np.zeros((4, 3, 5, 5))
    for o in range(4):
        for i in range(3):
            expected[o, i] = sum(convolve2d(second[o, m], first.numpy()[m, i], mode="full") for m in range(3))
    assert np.allclose(image_weights(model, "b", size=16, chunk=3).numpy(), expected, atol=1e-5)


def test_transformed_copies_find_the_turned_mirrored_and_recoloured_unit() -> None:
    generator = torch.Generator().manual_seed(1)
    base = torch.randn(1, 3, 7, 7, generator=generator)
    others = torch.randn(5, 3, 7, 7, generator=generator)
    layer = torch.cat([base, transform_weights(base, "rotation"), transform_weights(base, "reflection"),
                       transform_weights(base, "hue"), others])
    for transformation, partner in (("rotation", 1), ("reflection", 2), ("hue", 3)):
        found = transformed_copies(layer, transformation)
        assert found.partner[0] == partner and found.copy[0] > 0.999, transformation
        assert found.copy[4:].max() < 0.5 and found.share_with_copy(0.5) < 0.5
    assert torch.allclose(hue_rotation(120.0) @ hue_rotation(120.0) @ hue_rotation(120.0), torch.eye(3, dtype=torch.float64), atol=1e-12)
    assert torch.allclose(hue_rotation(120.0) @ torch.tensor([1.0, 0.0, 0.0], dtype=torch.float64),
                          torch.tensor([0.0, 1.0, 0.0], dtype=torch.float64), atol=1e-12)  # red turns green
    with pytest.raises(ValueError, match="rotation"):
        transform_weights(layer, "scale")
    with pytest.raises(ValueError, match="image-space"):
        transform_weights(torch.zeros(2, 4, 3, 3), "hue")


def test_family_clients_match_the_test_and_draw(lite0) -> None:
    from matplotlib import pyplot as plt

    from helpers.plotting.circuits import client_usage_figure
    from helpers.weights import family_clients, family_usage
    from helpers.weights.connections import client_concentration_test

    family = lite0.units("blocks.2.1", [3, 10, 17, 40])
    found = family_clients(lite0, family, count=5, sets=50, seed=4)
    grids = expanded_weights(lite0, "blocks.2.1", found.layer)
    assert found.layer == "blocks.3.0" and found.clients.shape == (5,)  # the next layer
    assert np.allclose(found.usage, family_usage(lite0, family).numpy(), rtol=1e-4)
    assert found.usage[found.clients[0]] == found.usage.max()
    assert (found.concentration, found.p) == pytest.approx(client_concentration_test(grids, [3, 10, 17, 40], 50, 4))
    assert "top clients" in found.summary() and "p = " in found.summary()
    plt.close(client_usage_figure(found))
    with pytest.raises(ValueError, match="one layer"):
        family_clients(lite0, [lite0.unit("blocks.2.1:0"), lite0.unit("blocks.3.0:0")])
    with pytest.raises(ValueError, match="not every"):
        client_concentration_test(grids, list(range(grids.shape[1])))


def test_family_input_selectivity_is_argument_5s_test_with_its_details(lite0) -> None:
    from helpers.weights import family_input_selectivity
    from helpers.weights.connections import input_selectivity_test

    rng = np.random.default_rng(8)
    inputs = lite0.channels("blocks.2.0")
    selectivity, preferred = rng.uniform(size=inputs), rng.uniform(0, 360, size=inputs)
    family, orientations, curves = [3, 10, 17, 40], [0.0, 90.0, 180.0, 270.0], rng.choice(inputs, 30, replace=False)
    found = family_input_selectivity(lite0, "blocks.2.1", family, orientations, selectivity, preferred, curves, count=5,
                                     draws=100, seed=2)
    net = expanded_weights(lite0, "blocks.2.0", "blocks.2.1").sum(dim=(2, 3)).numpy()
    assert (found.family_value, found.p) == pytest.approx(input_selectivity_test(net, selectivity, family, count=5, draws=100, seed=2))
    top = np.argsort(-net[family], axis=1)[:, :5]
    assert found.curve_share[0] == pytest.approx(np.isin(top, curves).mean())
    assert len(found.aligned["excitatory"]) == np.isin(top, curves).sum()
    assert np.all((found.aligned["inhibitory"] >= 0) & (found.aligned["inhibitory"] <= 180))
    assert "p = " in found.summary(len(family), "blocks.2.0")
    none = family_input_selectivity(lite0, "blocks.2.1", [], [], selectivity, preferred, curves, draws=10)
    assert np.isnan(none.family_value) and none.p == 1.0 and none.curve_share is None
    assert len(none.random_sets) == 10 and np.isnan(none.random_sets).all()
    with pytest.raises(ValueError, match="each of the"):
        family_input_selectivity(lite0, "blocks.2.1", family, orientations, selectivity[:-1], preferred, curves)


def test_curve_to_curve_weights_read_the_expanded_weights_and_draw(lite0) -> None:
    from matplotlib import pyplot as plt

    from helpers.plotting.circuits import curve_wiring_figure
    from helpers.weights import curve_to_curve_weights
    from helpers.weights.curve_wiring import weight_by_orientation_difference

    family, orientations = [3, 10, 17, 40], [0.0, 90.0, 180.0, 270.0]
    curves, preferred = [1, 5, 8, 13, 21], [10.0, 100.0, 200.0, 300.0, 350.0]
    wiring = curve_to_curve_weights(lite0, "blocks.2.1", family, orientations, curves, preferred, bin_width=60)
    net = expanded_weights(lite0, "blocks.2.0", "blocks.2.1", to_channels=family).sum(dim=(2, 3)).numpy()
    assert wiring.from_layer == "blocks.2.0" and wiring.pairs.sum() == 20 and len(wiring.profile) == 3
    np.testing.assert_allclose(wiring.profile, weight_by_orientation_difference(net, orientations, curves, preferred, 60))
    assert wiring.summary().count("pairs") == 3
    plt.close(curve_wiring_figure(wiring))
    with pytest.raises(ValueError, match="divide 180"):
        curve_to_curve_weights(lite0, "blocks.2.1", family, orientations, curves, preferred, bin_width=50)


def test_family_weight_factors_name_what_each_factor_reads() -> None:
    from matplotlib import pyplot as plt

    from helpers.plotting.circuits import member_factors_figure
    from helpers.weights.nmf import factors_summary, family_weight_factors, weight_factors

    model = tiny_network(seed=1)
    rows = family_weight_factors(model, model.units("b", [0, 1, 2, 3]), "a", {0: "curve 0°", 1: "curve 90°", 2: "x"},
                                 members=2, factors=2)
    assert [r.name for r in rows] == ["b:0", "b:2"]  # spread over the family
    expected = weight_factors(expanded_weights(model, "a", "b", to_channels=[2])[0], factors=2)
    assert torch.allclose(rows[1].factors.channels, expected.channels)
    assert all(read.startswith("reads a:") and "\n(" in read for r in rows for read in r.reads)  # every input is named here
    assert factors_summary(rows).startswith("share of each member's split weights that 2 NMF factors reconstruct: b:0 ")
    plt.close(member_factors_figure(rows))
