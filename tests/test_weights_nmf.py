"""helpers.weights.nmf: the factorization recovers known parts; a unit's weights split into readable factors."""
import pytest
import torch

from helpers.weights.nmf import nmf, weight_factors


def test_nmf_recovers_a_known_low_rank_matrix():
    generator = torch.Generator().manual_seed(0)
    left, right = torch.rand(20, 3, generator=generator), torch.rand(3, 30, generator=generator)
    found_left, found_right = nmf(left @ right, 3, steps=2000)
    assert (found_left >= 0).all() and (found_right >= 0).all()
    assert torch.allclose(found_left @ found_right, (left @ right).double(), atol=2e-2)
    one_left, one_right = nmf(left @ right, 1)
    assert float(((one_left @ one_right - left @ right) ** 2).sum()) > 1e-3  # one factor cannot hold three


def test_a_two_sided_unit_splits_into_its_two_sides():
    kernel = torch.zeros(5, 5)
    kernel[:, :2], kernel[:, 3:] = 1.0, -1.0  # excites on the left, inhibits on the right
    profile = torch.tensor([1.0, 0.5, -1.0, 0.0])  # inputs 0, 1 excite through the kernel, input 2 inhibits
    found = weight_factors(profile[:, None, None] * kernel, factors=2, steps=1000)
    assert found.explained > 0.999
    left_side = int(found.spatial[:, :, :2].sum((1, 2)).argmax())  # the factor whose map lies on the left
    assert float(found.spatial[left_side, :, 3:].sum()) < 1e-3
    direction = found.channels[left_side] / found.channels[left_side].abs().max()
    assert torch.allclose(direction, profile, atol=1e-3)  # the left factor reads the inputs with their signs
    assert torch.allclose(found.channels[1 - left_side] / found.channels[1 - left_side].abs().max(), -profile, atol=1e-3)


@pytest.mark.parametrize("bad", [torch.zeros(3, 3), torch.zeros(2, 3, 3, 3)])
def test_bad_input_is_explained(bad):
    with pytest.raises(ValueError, match="one unit"):
        weight_factors(bad)
    with pytest.raises(ValueError, match="non-negative"):
        nmf(-torch.ones(3, 3), 1)
    with pytest.raises(ValueError, match="factors"):
        nmf(torch.ones(3, 3), 4)
