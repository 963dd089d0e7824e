"""The dog-head lesson's exercise checks: the right answer passes, every plausible wrong answer fails, `...` is "not attempted".

Run in strict mode (CIRCUITS_STRICT=1). The network is test_mirror.py's tiny hand-built one: ``heads:0``
answers a left arrow, ``heads:1`` its mirror image (a right arrow), ``heads:2`` never fires.
"""
import numpy as np
import pytest
import torch

from helpers.checks import ExerciseError, NotAttempted
from helpers.checks.dog_heads import check_left_score, check_mirror_partner, check_union_choice
from helpers.mirror import MirrorPartners, mirror_test, own_image_test, partners_from_test
from test_mirror import ARROW, build_network, left_arrows, mixed_arrows


pytestmark = pytest.mark.usefixtures("strict")  # as when grading: a wrong answer raises


@pytest.fixture(scope="module")
def model():
    return build_network()


def half_arrows(count: int = 6, size: int = 32) -> torch.Tensor:
    """Left arrows with a faint right arrow beside them: heads:0 answers them more, heads:1 a little."""
    images = left_arrows(count, size)
    images[:, :, 20:27, 20:27] += 0.9 * ARROW.flip(-1)
    return images.clamp(0, 1)


def test_left_score_exact(model):
    test = mirror_test(model, ["heads:0", "heads:1", "merge:0", "merge:2"], half_arrows())
    scores = test.left_score.tolist()
    assert len({round(s, 3) for s in scores}) >= 3  # the units' answers differ, so another unit's answer is wrong
    for row, unit in enumerate(test.units):
        assert check_left_score(scores[row], test, unit)
        for wrong in [-1.0, -0.5, 0.0, 0.5, 1.0, 1 / 3] + [s for s in scores if abs(s - scores[row]) > 1e-3]:
            if abs(wrong - scores[row]) > 1e-3:
                with pytest.raises(ExerciseError, match="left score"):
                    check_left_score(wrong, test, unit)
    with pytest.raises(ExerciseError):
        check_left_score("0.5", test, "heads:0")


def test_own_image_test_scores_each_unit_on_its_own_image(model):
    arrows = left_arrows(2)
    test = own_image_test(model, ["heads:0", "heads:1"], torch.stack([arrows[0], arrows[0].flip(-1)]))
    assert test.left_score.tolist() == pytest.approx([1.0, 1.0])  # each answers its own image, not the mirror
    assert check_left_score(1.0, test, "heads:1")


def test_mirror_partner_only_the_partner(model):
    images = mixed_arrows()
    partners = partners_from_test(mirror_test(model, model.units("heads"), images))
    assert int(partners.partner[0]) == 1 and int(partners.partner[1]) == 0
    assert check_mirror_partner(partners, 0, 1) and check_mirror_partner(partners, 1, 0)
    for wrong in (0, 2, 3, -1, 1.0, "1"):
        with pytest.raises(ExerciseError):
            check_mirror_partner(partners, 0, wrong)
    generator = torch.Generator().manual_seed(0)
    correlation = torch.rand(8, 8, generator=generator) * 0.5
    correlation[3, 6] = 0.9
    synthetic = MirrorPartners("layer", [model.unit("heads", 0)] * 8, correlation, torch.ones(8))
    assert check_mirror_partner(synthetic, 3, 6)
    for wrong in range(8):
        if wrong != 6:
            with pytest.raises(ExerciseError):
                check_mirror_partner(synthetic, 3, wrong)


def test_union_choice_only_the_most_even():
    rng = np.random.default_rng(0)
    left_net, right_net = rng.normal(size=20), rng.normal(size=20)
    allowed = rng.random(20) > 0.3
    best = int(np.argmax(np.where(allowed, np.minimum(left_net, right_net), -np.inf)))
    assert check_union_choice(best, left_net, right_net, allowed)
    for wrong in range(20):
        if wrong != best:
            with pytest.raises(ExerciseError):
                check_union_choice(wrong, left_net, right_net, allowed)
    for wrong in (int(np.argmax(left_net)), int(np.argmax(right_net)), int(np.argmax(left_net + right_net)), 20, float(best)):
        if wrong != best or isinstance(wrong, float):
            with pytest.raises(ExerciseError):
                check_union_choice(wrong, left_net, right_net, allowed)


def test_placeholder_is_not_attempted(monkeypatch, model, capsys):
    test = mirror_test(model, ["heads:0"], left_arrows())
    with pytest.raises(NotAttempted):
        check_left_score(..., test, "heads:0")
    with pytest.raises(NotAttempted):
        check_union_choice(..., np.ones(3), np.ones(3))
    monkeypatch.setenv("CIRCUITS_STRICT", "")
    assert not check_left_score(..., test, "heads:0")
    assert not check_left_score(0.25, test, "heads:0")
    out = capsys.readouterr().out
    assert "Not attempted yet" in out and "Not right yet" in out
