"""Mutual inhibition between mirrored pathways, on test_mirror.py's hand-built network.

``heads:0`` / ``heads:1`` answer a left / right arrow; ``merge:0`` = left - right and ``merge:1`` = right - left:
each pathway excites its own continuation and inhibits the other's, with net weights +1 and -1.
"""
import numpy as np
import pytest
from test_mirror import build_network, mixed_arrows

from helpers.mirror import mirror_test
from helpers.union_weights import pathway_inhibition


@pytest.fixture(scope="module")
def model():
    return build_network()


def test_the_known_circuit_excites_along_each_side_and_inhibits_across(model):
    images = mixed_arrows()
    first, second = (mirror_test(model, model.units(layer), images) for layer in ("heads", "merge"))
    found = pathway_inhibition(model, first, second, [("heads:0", "heads:1")], [("merge:0", "merge:1")], draws=50)
    assert found.same > 0 > found.cross
    assert found.same == pytest.approx(-found.cross)  # +1 and -1, in the same units
    swapped = pathway_inhibition(model, first, second, [("heads:1", "heads:0")], [("merge:0", "merge:1")], draws=50)
    assert swapped.cross == pytest.approx(found.cross)  # the sides come from the responses, not the order given
    assert len(found.shuffled_cross) == 50 and np.isfinite(found.shuffled_cross).all() and 0 < found.p <= 1


def test_pairs_are_required(model):
    images = mixed_arrows()
    first, second = (mirror_test(model, model.units(layer), images) for layer in ("heads", "merge"))
    with pytest.raises(ValueError, match="at least one mirror pair"):
        pathway_inhibition(model, first, second, [], [("merge:0", "merge:1")])
