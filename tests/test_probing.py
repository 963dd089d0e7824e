"""Probing units (helpers/probing.py) on the hand-built curve network."""
import pytest
import torch

from handmade_curves import KERNEL, SIZE, build_handmade_network
from helpers.models import Unit
from helpers.probing import place_on_receptive_field, resolve_units, unit_responses


@pytest.fixture(scope="module")
def handmade():
    """The hand-built curve network (see :func:`handmade_curves.build_handmade_network`)."""
    return build_handmade_network()


def test_placement_is_the_centre_units_receptive_field(handmade) -> None:
    placement = place_on_receptive_field(handmade, "detectors")
    assert placement.size == SIZE and placement.extent == KERNEL
    assert placement.center == (32.5, 32.5)  # the centre unit (row 32) sees rows 22..42
    assert placement.pixels(0.5) == pytest.approx(10.5)


def test_unit_responses_layer_units_neighbourhood_and_pre_activation(handmade) -> None:
    placement = place_on_receptive_field(handmade, "detectors")
    images = placement.draw("curve", {"orientation": [0, 180]}, radius=6, length=14, width=2).images
    everything = unit_responses(handmade, "detectors", images)
    some = unit_responses(handmade, ["detectors:3", Unit("detectors", 0)], images, batch_size=1)
    assert everything.shape == (2, 16)
    assert torch.allclose(some, everything[:, [3, 0]])
    wider = unit_responses(handmade, "detectors", images, neighbourhood=2)
    whole = unit_responses(handmade, "detectors", images, at="max")
    assert bool((wider >= everything).all()) and bool((whole >= wider).all())
    pre = unit_responses(handmade, "detectors", images, pre_activation=True)
    assert float(pre.min()) < 0 and torch.allclose(pre.clamp_min(0), everything, atol=1e-6)
    # The arc at 0 degrees drives unit 0 (built for it) far more than unit 4 (built for the opposite arc).
    assert pre[0, 0] > 2 * pre[0, 4]


def test_bad_input_is_explained(handmade) -> None:
    with pytest.raises(ValueError, match=r"\(N, 3, H, W\)"):
        unit_responses(handmade, "detectors", torch.zeros(2, 1, 8, 8))
    with pytest.raises(ValueError, match="at must be"):
        unit_responses(handmade, "detectors", torch.zeros(1, 3, 8, 8), at="map")
    with pytest.raises(ValueError, match="No units"):
        resolve_units(handmade, [])
    with pytest.raises(KeyError, match="no layer"):
        resolve_units(handmade, "conv9")
