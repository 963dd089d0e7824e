"""The colour-contrast family (helpers/families/colour_contrast.py), on a network whose units are built by hand."""
import pytest
import torch
from torch import nn

from helpers.families.colour_contrast import (
    OPPONENT_PAIRS,
    ColourContrastFamily,
    as_grey,
    colour_boundary,
    find_colour_contrast_family,
    screen_colour_contrast,
)
from helpers.models import CircuitModel
from helpers.wrapping import wrap_model
from helpers.tuning import angle_difference

KERNEL = 9
SIZE = 32


def edge(orientation: float) -> torch.Tensor:
    """(K, K) zero-mean step: +1 on the side ``orientation`` points to, -1 on the other."""
    return colour_boundary(KERNEL, orientation, (1.0, 1.0, 1.0), (0.0, 0.0, 0.0))[0] * 2 - 1


def build_network() -> CircuitModel:
    """Channel 0: red (right) against green (left); 1: blue (up) against yellow (down); 2: a grey edge facing
    right (any colours of different brightness drive it); 3: a red blob (red anywhere, no boundary needed)."""
    red_green = torch.tensor([1.0, -1.0, 0.0])  # red minus green
    blue_yellow = torch.tensor([-0.5, -0.5, 1.0])  # blue minus yellow (red + green)
    filters = [
        red_green[:, None, None] * edge(0.0)[None],
        blue_yellow[:, None, None] * edge(90.0)[None],
        torch.ones(3)[:, None, None] * edge(0.0)[None] / 3,
        red_green[:, None, None] * torch.ones(KERNEL, KERNEL)[None] / KERNEL,
    ]
    conv = nn.Conv2d(3, len(filters), KERNEL, padding=KERNEL // 2)
    with torch.no_grad():
        conv.weight.copy_(torch.stack(filters) / KERNEL)
        conv.bias.fill_(-0.05)
    module = nn.Sequential(conv, nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten())
    return wrap_model(module, {"detectors": "1"}, name="colours", input_size=SIZE, mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5))


@pytest.fixture(scope="module")
def family() -> ColourContrastFamily:
    return find_colour_contrast_family(build_network(), "detectors", orientations=16)


def test_the_colour_edges_are_members_with_their_orientation_and_colours(family) -> None:
    assert sorted(family.channels) == [0, 1], family.screen.colour_selectivity
    found = dict(zip(family.channels, zip(family.orientations, family.pair)))
    assert angle_difference(found[0][0], 0.0) < 10 and found[0][1] == "red/green"
    assert angle_difference(found[1][0], 90.0) < 10 and found[1][1] == "blue/yellow"


def test_the_grey_edge_and_the_colour_blob_fail_their_controls(family) -> None:
    screen = family.screen
    assert screen.colour_selectivity[2] < 0.5  # the grey version of the boundary drives it as much
    assert screen.orientation_selectivity[3] < 0.5 or screen.colour_selectivity[3] < 0.5  # red alone does as much


def test_the_family_answers_the_same_api_as_every_family(family) -> None:
    assert family.tuning().shape == (16, len(family))
    assert family.table().splitlines()[0].split()[:2] == ["unit", "orientation"] and "red/green" in family.table()
    assert family.strongest(1)[0] in family.units
    assert len(family.spread(4)) == len(family) and family.subset([1]).pair.tolist() == [family.pair[1]]
    row = family.summary(build_network())
    assert row["family"] == "colour contrast" and row["units"] == 2 and row["of"] == 4
    images = torch.stack([colour_boundary(family.screen.placement.size, 0.0, *OPPONENT_PAIRS["red/green"],
                                          center=family.screen.placement.center)])
    responses = family.responses(build_network(), images)
    assert responses.shape == (1, 2) and responses[0, family.channels.index(0)] > responses[0, family.channels.index(1)]


def test_grey_keeps_luminance_and_drops_colour() -> None:
    images = torch.rand(2, 3, 5, 5, generator=torch.Generator().manual_seed(0))
    grey = as_grey(images)
    assert torch.allclose(grey[:, 0], grey[:, 1]) and torch.allclose(grey[:, 1], grey[:, 2])
    assert torch.allclose(grey[:, 0], 0.299 * images[:, 0] + 0.587 * images[:, 1] + 0.114 * images[:, 2])


def test_bad_input_is_named() -> None:
    model = build_network()
    with pytest.raises(ValueError, match="orientations must be at least 4"):
        screen_colour_contrast(model, "detectors", orientations=2)
    with pytest.raises(ValueError, match="two RGB colours with values in"):
        screen_colour_contrast(model, "detectors", pairs={"bad": ((2, 0, 0), (0, 1, 0))})
    with pytest.raises(ValueError, match="at least one pair"):
        screen_colour_contrast(model, "detectors", pairs={})
