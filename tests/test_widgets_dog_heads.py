"""Tests of helpers.widgets.dog_heads on test_mirror.py's hand-built network: pick a unit, check the pure function's result."""
import pytest
from test_mirror import build_network, left_arrows, mixed_arrows

from helpers.mirror import mirror_test, partners_from_test
from helpers.widgets.dog_heads import mirror_pair_explorer, mirror_pair_figure, mirror_pair_responses


@pytest.fixture(scope="module")
def setting():
    model = build_network()
    partners = partners_from_test(mirror_test(model, model.units("heads"), mixed_arrows()))
    arrow = left_arrows(1)[0]
    pictures = {model.unit("heads:0"): arrow, model.unit("heads:1"): arrow.flip(-1)}
    return model, partners, pictures


def test_the_menu_drives_the_pure_function(setting):
    model, partners, pictures = setting
    explorer = mirror_pair_explorer(model, ["heads:0", "heads:1"], partners, pictures)
    assert explorer.result.partner == model.unit("heads:1")
    left = explorer.result.responses
    assert left == pytest.approx(mirror_pair_responses(model, "heads:0", "heads:1", pictures[model.unit("heads:0")]))
    assert left["unit on picture"] > 0 and left["unit on mirror"] == 0  # the left unit answers its arrow, not the mirror
    assert left["partner on mirror"] == pytest.approx(left["unit on picture"])  # the partner answers the mirror image alike
    explorer.controls["unit"].value = "heads:1"
    assert explorer.result.partner == model.unit("heads:0")
    assert explorer.result.responses == pytest.approx(mirror_pair_responses(model, "heads:1", "heads:0", pictures[model.unit("heads:1")]))
    assert explorer.calls == 2


def test_bad_input_is_explained(setting):
    model, partners, pictures = setting
    with pytest.raises(ValueError, match="No picture"):
        mirror_pair_figure(model, "heads:2", partners, pictures)
    with pytest.raises(ValueError, match="one"):
        mirror_pair_responses(model, "heads:0", "heads:1", left_arrows(2))
    with pytest.raises(ValueError, match="at least one"):
        mirror_pair_explorer(model, [], partners, pictures)
