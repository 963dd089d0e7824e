"""Where users extend feature visualization: their own objective term, transform and optimizer."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from helpers import wrap_model
from helpers.featurevis import Compose, Jitter, Pad, channel, custom, objective_values, render
from helpers.featurevis.objectives import BatchedObjectives


@pytest.fixture(scope="module")
def small_model():
    torch.manual_seed(0)
    module = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.Conv2d(4, 6, 3, padding=1), nn.ReLU(),
                           nn.Conv2d(6, 8, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten())
    return wrap_model(module, {"first": "1", "second": "3", "third": "5"}, name="small", input_size=32)


def test_custom_term_equals_the_same_function_applied_by_hand(small_model) -> None:
    images = torch.rand(3, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    energy = custom("first", lambda acts: acts.pow(2).mean(dim=(1, 2, 3)), "energy", pre_activation=False)
    values = objective_values(small_model, [energy, 2 * energy - channel("first:1"), energy], images)
    with torch.no_grad():
        before_relu = small_model.module[0](images)
    by_hand = before_relu.relu().pow(2).mean(dim=(1, 2, 3))
    assert torch.allclose(values[0], by_hand[0]) and torch.allclose(values[2], by_hand[2])
    assert torch.allclose(values[1], 2 * by_hand[1] - before_relu[1, 1].mean(), atol=1e-6)  # channel(): pre-activation


def test_custom_term_keeps_the_pass_short_and_reads_pre_activations(small_model) -> None:
    term = custom("first", lambda acts: acts.amin(dim=(1, 2, 3)), "darkest")  # pre-activation: can be negative
    batched = BatchedObjectives(small_model, [term])
    assert batched.deepest_layer == "first"
    images = torch.rand(1, 3, 32, 32, generator=torch.Generator().manual_seed(2))
    assert float(batched(images)[0]) < 0


def test_custom_term_with_a_wrong_shape_is_explained(small_model) -> None:
    bad = custom("second", lambda acts: acts.mean(dim=(2, 3)), "per channel")
    with pytest.raises(ValueError, match=r"one value per image, shape \(1,\)"):
        objective_values(small_model, [bad], torch.rand(1, 3, 32, 32))
    with pytest.raises(TypeError, match="function of the layer's activations"):
        custom("second", 3.0)


def test_custom_term_is_optimized_by_render(small_model) -> None:
    term = custom("third", lambda acts: acts.clamp(min=0).mean(dim=(1, 2, 3)), "mean activation")
    result = render(small_model, term, steps=24, size=32, transforms="none", progress=False, seed=0)
    assert result.history[-1, 0] > result.history[0, 0]


def test_user_transform_runs_between_built_in_steps_with_the_generator() -> None:
    calls = []

    def invert(images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        calls.append(generator)
        return 1.0 - images

    generator = torch.Generator().manual_seed(0)
    images = torch.rand(2, 3, 16, 16, generator=torch.Generator().manual_seed(3))
    assert torch.allclose(Compose((invert,))(images, generator), 1.0 - images)
    chained = Compose((Pad(0), invert, Jitter(0)))
    assert not chained.is_identity
    assert torch.allclose(chained(images, generator), 1.0 - images, atol=1e-5)
    assert calls == [generator, generator]


def test_user_transform_must_keep_the_shape() -> None:
    with pytest.raises(ValueError, match="the shape it was given"):
        Compose((lambda images, generator: images[:, :, :8],))(torch.rand(1, 3, 16, 16), torch.Generator())
    with pytest.raises(TypeError, match="callable step"):
        Compose(("blur",))


def test_optimizer_factory_is_used(small_model) -> None:
    made = []

    def sgd(parameters):
        made.append(sum(p.numel() for p in parameters))
        return torch.optim.SGD(parameters, lr=0.5, momentum=0.9)

    whole_layer = custom("second", lambda acts: acts.mean(dim=(1, 2, 3)), "mean")
    result = render(small_model, whole_layer, steps=8, size=32, transforms="none", optimizer=sgd, progress=False)
    assert made and made[0] > 0 and result.images.shape == (1, 3, 32, 32)
    with pytest.raises(TypeError, match="torch.optim.Optimizer"):
        render(small_model, whole_layer, steps=2, size=32, transforms="none", optimizer=lambda parameters: "adam",
               progress=False)
