"""Weight banding: the band score on kernels whose answer is known, and the layer it reads in a network."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from helpers import wrap_model
from helpers.training import SmallConvNet, wrap_small_net
from helpers.weights.banding import (
    band_profile, band_shares, chance_band_share, last_spatial_convolution, network_band_shares,
)


def test_pure_stripes_score_one_in_their_direction_whatever_their_offset():
    generator = torch.Generator().manual_seed(1)
    rows = torch.randn(5, 3, 3, 1, generator=generator).expand(5, 3, 3, 3) + torch.randn(5, 3, 1, 1, generator=generator)
    horizontal, vertical = band_shares(rows)
    assert horizontal == pytest.approx(1) and vertical == pytest.approx(0, abs=1e-12)
    assert band_shares(rows.transpose(2, 3)) == pytest.approx((0, 1), abs=1e-12)


def test_random_kernels_score_chance_in_both_directions():
    generator = torch.Generator().manual_seed(0)
    for height, width in ((3, 3), (5, 5), (3, 5)):
        horizontal, vertical = band_shares(torch.randn(400, 50, height, width, generator=generator))
        assert horizontal == pytest.approx(chance_band_share(height, width), abs=0.01)
        assert vertical == pytest.approx(chance_band_share(width, height), abs=0.01)
    assert chance_band_share(3, 3) == pytest.approx(0.25)


def test_strong_kernels_count_more_than_faint_ones():
    loud = torch.tensor([-10.0, 0.0, 10.0]).view(1, 1, 3, 1).expand(1, 1, 3, 3)
    faint = 0.1 * torch.randn(1, 20, 3, 3, generator=torch.Generator().manual_seed(2))
    assert band_shares(torch.cat([loud, faint], dim=1))[0] > 0.95


def test_bad_weights_are_refused():
    with pytest.raises(ValueError, match="at least 2x2"):
        band_shares(torch.randn(4, 4, 1, 1))
    with pytest.raises(ValueError, match="flat"):
        band_shares(torch.ones(2, 2, 3, 3))


def test_the_network_score_reads_its_last_spatial_convolution():
    torch.manual_seed(0)
    net = SmallConvNet(3, width=2)
    model = wrap_small_net(net, ["a", "b", "c"], 16)
    path, convolution = last_spatial_convolution(model)
    assert path == "conv4" and convolution is net.conv4
    assert network_band_shares(model) == band_shares(net.conv4.weight)
    pointwise = wrap_small_net(net, ["a", "b", "c"], 16)
    pointwise.module.conv4 = nn.Conv2d(4 * 2, 4 * 2, 1)
    assert last_spatial_convolution(pointwise)[0] == "conv3"


def test_the_profile_lists_every_spatial_convolution_in_order():
    torch.manual_seed(1)
    net = SmallConvNet(3, width=2)
    profile = band_profile(wrap_small_net(net, ["a", "b", "c"], 16))
    assert [path for path, _, _ in profile] == ["conv1", "conv2", "conv3", "conv4"]
    assert profile[1][1:] == band_shares(net.conv2.weight)
    flat = wrap_model(nn.Sequential(nn.Conv2d(3, 4, 1), nn.ReLU()), {"pointwise": "1"}, input_size=8)
    with pytest.raises(ValueError, match="no convolution with kernels wider than 1x1"):
        band_profile(flat)
