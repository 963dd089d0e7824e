"""Tests of the toy models of superposition: the measures on hand-made weights, and training."""
import math

import pytest
import torch

from helpers.superposition import (
    angle_gaps,
    dimensions_per_feature,
    feature_angles,
    feature_dimensionality,
    feature_importance,
    feature_norms,
    features_per_neuron,
    interference,
    represented_features,
    sample_features,
    train_toy_models,
    ToyModel,
)


def polygon(count: int, radius: float = 1.0) -> torch.Tensor:
    """``count`` feature directions evenly spaced around a circle, as a (2, count) weight matrix."""
    angles = torch.arange(count, dtype=torch.float32) * 2 * math.pi / count
    return radius * torch.stack([angles.cos(), angles.sin()])


def test_orthogonal_basis_has_one_dimension_per_feature_and_no_interference():
    weights = torch.eye(3)[:, torch.tensor([2, 0, 1])]  # a permuted orthonormal basis
    assert torch.allclose(feature_norms(weights), torch.ones(3))
    assert torch.allclose(interference(weights), torch.zeros(3), atol=1e-6)
    assert torch.allclose(feature_dimensionality(weights), torch.ones(3))
    assert float(dimensions_per_feature(weights)) == pytest.approx(1.0)


def test_pentagon_in_two_dimensions():
    weights = polygon(5)
    assert float(dimensions_per_feature(weights)) == pytest.approx(2 / 5)
    assert torch.allclose(feature_dimensionality(weights), torch.full((5,), 2 / 5), atol=1e-5)
    # each feature overlaps its neighbours by cos 72 deg and the next ones by cos 144 deg
    expected = 2 * math.cos(math.radians(72)) ** 2 + 2 * math.cos(math.radians(144)) ** 2
    assert torch.allclose(interference(weights), torch.full((5,), expected), atol=1e-5)
    assert torch.allclose(angle_gaps(feature_angles(weights)), torch.full((5,), 72.0), atol=1e-3)


def test_scaling_the_weights_leaves_feature_dimensionality_alone():
    assert torch.allclose(feature_dimensionality(polygon(5, radius=1.3)), torch.full((5,), 2 / 5), atol=1e-5)


def test_antipodal_pair_shares_one_dimension():
    weights = torch.tensor([[1.0, -1.0, 0.0], [0.0, 0.0, 1.0]])
    assert torch.allclose(feature_dimensionality(weights), torch.tensor([0.5, 0.5, 1.0]))
    assert torch.allclose(interference(weights), torch.tensor([1.0, 1.0, 0.0]))


def test_dropped_feature_has_norm_zero_and_no_dimension():
    weights = torch.tensor([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    assert feature_norms(weights).tolist() == [1.0, 1.0, 0.0]
    assert feature_dimensionality(weights).tolist() == [1.0, 1.0, 0.0]
    assert int(represented_features(weights)) == 2
    assert feature_angles(weights).tolist() == [0.0, 90.0]


def test_measures_work_on_stacks_of_weight_matrices():
    stack = torch.stack([polygon(5), polygon(5) * 0])
    assert feature_norms(stack).shape == (2, 5)
    assert represented_features(stack).tolist() == [5, 0]


def test_bad_input_is_refused_with_a_reason():
    with pytest.raises(ValueError, match="Sparsities"):
        train_toy_models(5, 2, [1.0], steps=1, progress=False)
    with pytest.raises(ValueError, match="fewer hidden dimensions"):
        train_toy_models(2, 5, [0.5], steps=1, progress=False)
    with pytest.raises(ValueError, match="importance"):
        train_toy_models(5, 2, [0.5], importance=torch.ones(4), steps=1, progress=False)
    with pytest.raises(ValueError, match="one column per feature"):
        feature_norms(torch.ones(5))
    with pytest.raises(ValueError, match="2 hidden dimensions"):
        feature_angles(torch.ones(3, 5))


def test_sampled_features_have_the_asked_sparsity():
    features = sample_features(4000, 10, [0.0, 0.9], torch.Generator().manual_seed(0))
    zero_share = (features == 0).float().mean(dim=(1, 2))
    assert zero_share[0] < 0.01
    assert abs(float(zero_share[1]) - 0.9) < 0.01
    assert float(features.max()) <= 1 and float(features.min()) >= 0


def test_training_is_bitwise_deterministic_under_a_seed():
    runs = [
        train_toy_models(5, 2, [0.0, 0.9], steps=50, batch_size=64, generator=torch.Generator().manual_seed(3), progress=False)
        for _ in range(2)
    ]
    assert torch.equal(runs[0].weights, runs[1].weights)
    assert torch.equal(runs[0].biases, runs[1].biases)
    other = train_toy_models(5, 2, [0.0, 0.9], steps=50, batch_size=64, generator=torch.Generator().manual_seed(4), progress=False)
    assert not torch.equal(runs[0].weights, other.weights)


def test_dense_features_keep_m_and_sparse_features_go_into_superposition():
    sweep = train_toy_models(
        5, 2, [0.0, 0.95], importance=feature_importance(5, 0.9), steps=1500, batch_size=512, lr=1e-2,
        generator=torch.Generator().manual_seed(0), progress=False,
    )
    dense, sparse = sweep.weights
    assert int(represented_features(dense)) == 2  # m features, the rest dropped
    assert float(interference(dense)[:2].max()) < 0.05  # ... and kept orthogonal
    assert int(represented_features(sparse)) > 2  # more features than dimensions
    assert sweep.index_of(0.9) == 1
    # The untrained weights are kept as a control: the same shape, and not what training made of them.
    assert sweep.initial_weights.shape == sweep.weights.shape and not torch.equal(sweep.initial_weights, sweep.weights)


def test_antipodal_pairs_count_opposite_represented_features():
    from helpers.superposition import antipodal_pairs

    square = torch.tensor([[1.0, -1.0, 0.0, 0.0], [0.0, 0.0, 1.0, -1.0]])
    assert antipodal_pairs(square) == 2
    assert antipodal_pairs(polygon(5)) == 0
    assert antipodal_pairs(torch.tensor([[1.0, -0.1, 0.0], [0.0, 0.0, 1.0]])) == 0  # the partner is not represented
    assert antipodal_pairs(torch.tensor([[1.0, -1.0], [0.0, 0.05]])) == 1  # within 5 degrees of opposite
    assert antipodal_pairs(torch.tensor([[1.0, -1.0], [0.0, 0.2]])) == 0


def test_features_per_neuron_counts_positive_weights_above_the_threshold():
    weights = torch.tensor([[1.0, 0.0, 0.5, -0.9], [0.0, 1.0, 0.1, 0.0]])
    assert features_per_neuron(weights).tolist() == [2, 1]
    assert features_per_neuron(torch.stack([weights, -weights])).tolist() == [[2, 1], [1, 0]]  # -0.9 becomes +0.9


def test_hidden_relu_makes_the_hidden_layer_non_negative():
    model = ToyModel(1, 3, 2, torch.Generator().manual_seed(0), hidden_relu=True)
    with torch.no_grad():
        model.W.copy_(torch.tensor([[[1.0, -1.0, 0.0], [0.0, 0.0, 1.0]]]))
        model.b.zero_()
    features = torch.tensor([[[0.0, 1.0, 0.0]]])  # feature 1 drives hidden dimension 0 negative
    assert torch.equal(model(features), torch.zeros(1, 1, 3))  # the ReLU stops it: nothing comes back
    linear = ToyModel(1, 3, 2, torch.Generator().manual_seed(0))
    with torch.no_grad():
        linear.W.copy_(model.W)
        linear.b.zero_()
    assert torch.equal(linear(features), torch.tensor([[[0.0, 1.0, 0.0]]]))


def test_toy_loss_weights_each_features_squared_error_by_its_importance():
    from helpers.superposition import toy_loss

    weights = torch.eye(2, 3)[None]  # feature 2 has no dimension: it is always rebuilt as ReLU(b) = 0
    features = torch.tensor([[[1.0, 0.5, 1.0], [0.0, 0.0, 0.5]]])
    importance = torch.tensor([1.0, 1.0, 4.0])
    loss = toy_loss(weights, torch.zeros(1, 3), features, importance)
    assert loss.shape == (1,) and float(loss[0]) == pytest.approx(4 * (1.0 + 0.25) / 6)


def test_antipodal_partners_name_the_most_opposite_represented_feature():
    from helpers.superposition import antipodal_partners

    square = torch.tensor([[1.0, -1.0, 0.0, 0.0, 0.0], [0.0, 0.0, 1.0, -1.0, -0.2]])
    assert antipodal_partners(square).tolist() == [1, 0, 3, 2, -1]  # the short fifth is dropped, not a partner
    assert antipodal_partners(polygon(5)).tolist() == [-1] * 5
    line = torch.tensor([[1.0, math.cos(math.radians(178)), -1.0], [0.0, math.sin(math.radians(178)), 0.0]])
    assert antipodal_partners(line).tolist() == [2, 0, 0]  # the exact opposite beats the one 2° off
    assert antipodal_partners(line, cosine=-0.9999).tolist() == [2, -1, 0]
    with pytest.raises(ValueError, match="one"):
        antipodal_partners(torch.rand(3, 2, 4))


def test_paired_dimensionality_polygon_deviation_and_interference_on_hand_made_models():
    from helpers.superposition import ToyModelSweep, largest_interference, paired_dimensionality, polygon_deviation

    square = polygon(4)
    three = torch.cat([polygon(2), torch.tensor([[0.0], [1.0]])], dim=1)  # an antipodal pair and a feature alone
    sweep = ToyModelSweep(weights=torch.stack([square, torch.cat([three, torch.zeros(2, 1)], 1)]), biases=torch.zeros(2, 4),
                          sparsities=torch.tensor([0.9, 0.5]), importance=torch.ones(4), final_loss=torch.zeros(2))
    assert torch.allclose(paired_dimensionality(sweep, 0), torch.full((4,), 0.5))
    assert paired_dimensionality(sweep, 1).tolist() == pytest.approx([0.5, 0.5])  # the pair only, half a dimension each
    assert polygon_deviation(polygon(5)) == pytest.approx(0.0, abs=1e-4)
    assert polygon_deviation(square, sides=4) == pytest.approx(0.0, abs=1e-4)
    assert polygon_deviation(square) == float("inf")  # four kept, not five
    skewed = torch.tensor([[1.0, 0.0, -1.0, 0.0, 0.7071], [0.0, 1.0, 0.0, -1.0, 0.7071]])
    assert polygon_deviation(skewed) == pytest.approx(72 - 45, abs=1e-3)
    assert largest_interference(torch.eye(3)) == 0.0
    assert largest_interference(polygon(3)) == pytest.approx(2 * 0.25)
    assert largest_interference(torch.zeros(2, 3)) == 0.0


def test_sticky_counts_and_features_near_count_values_by_their_nearest_fraction():
    from helpers.superposition import STICKY_FRACTIONS, features_near, sticky_counts

    dims = torch.tensor([1.0, 0.99, 0.5, 0.52, 0.45, 0.4, 0.0])
    counts = sticky_counts(dims)
    assert list(counts) == list(STICKY_FRACTIONS)
    assert counts["dedicated dimension"] == 2 and counts["antipodal pair"] == 2 and counts["pentagon"] == 1
    assert sum(counts.values()) == 5  # 0.45 is 0.05 from 1/2, 0.0 near nothing
    assert sticky_counts(torch.zeros(0)) == dict.fromkeys(STICKY_FRACTIONS, 0)
    assert features_near(dims, 0.5) == 2 and features_near(dims, 0.6) == 0 and features_near(dims, 0.5, 0.06) == 3


def test_kept_dimensionality_reads_represented_features_trained_and_untrained():
    sweep = train_toy_models(5, 2, [0.0, 0.9], steps=50, batch_size=64, progress=False)
    kept = feature_norms(sweep.weights) > 0.5
    assert torch.equal(sweep.kept_dimensionality(), sweep.dimensionality[kept])
    initial_kept = feature_norms(sweep.initial_weights) > 0.5
    assert torch.equal(sweep.kept_dimensionality(initial=True), sweep.initial_dimensionality[initial_kept])


def test_one_toy_model_is_trained_as_the_sweep_trains_it_and_learns() -> None:
    from helpers.superposition import feature_importance, held_out_toy_loss, train_toy_model, train_toy_models

    importance = feature_importance(5, 0.9)
    weights, bias = train_toy_model(2, 0.9, importance, 100, torch.Generator().manual_seed(3), progress=False)
    sweep = train_toy_models(5, 2, [0.9], importance=importance, steps=100, batch_size=256,
                             generator=torch.Generator().manual_seed(3), progress=False)
    assert torch.equal(weights, sweep.weights[0]) and torch.equal(bias, sweep.biases[0])
    untrained = held_out_toy_loss(sweep.initial_weights[0], torch.zeros(5), 0.9, importance, torch.Generator().manual_seed(4))
    trained = held_out_toy_loss(weights, bias, 0.9, importance, torch.Generator().manual_seed(4))
    assert trained < untrained / 2
