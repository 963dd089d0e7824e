"""helpers.curves_study: lesson 02's measurements in one call each (the screen's summary, argument 2's neighbour test
on centred examples, argument 4's table) and the verdict behind each of its claims."""
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from handmade_curves import SCREEN, build_mixed_polarity_network
from helpers.curves_study import (
    agreement_table, agreement_verdict, examples_neighbour_test, family_summary, firing_summary, gap_verdict,
    hand_over_verdict, neighbour_verdict, paper_family_verdict, paper_rank_verdict, paper_spread_verdict, share_verdict,
    with_examples,
)
from helpers.families import find_curve_family
from helpers.tuning import NeighbourTest


@pytest.fixture(scope="module")
def mixed():
    model = build_mixed_polarity_network()
    return model, find_curve_family(model, "detectors", **SCREEN)


def test_the_summary_says_what_the_screen_found(mixed) -> None:
    model, family = mixed
    text = family_summary(family)
    assert f"{len(family)} of {family.screen.channels} units form the curve family" in text
    assert "Members by contrast polarity: " in text and "member(s) prefer lines to curves in their other polarity" in text
    assert text.endswith(family.table())
    assert "there is no family to study" in family_summary(family.subset([0]))


def test_the_family_reads_its_centred_examples(mixed) -> None:
    model, family = mixed
    size = family.screen.placement.size
    from helpers.stimuli.curves import curve

    batches = [torch.stack([curve(size, orientation=o, radius=12, length=20, width=3, center=family.screen.placement.center)])
               for o in family.orientations]
    batches[1] = batches[1][:0]  # a member without examples
    test = examples_neighbour_test(model, family, batches)
    assert isinstance(test, NeighbourTest) and test.rows == len(family) - 1
    assert examples_neighbour_test(model, family, [b[:0] for b in batches]) is None
    assert examples_neighbour_test(model, family.subset([0]), batches[:1]) is None
    shown = family.subset([0, 1, 2])
    rotating, kept, labels = with_examples(shown, family, batches, 1, ["a", "b", "c"])
    assert rotating.units == [family.units[0], family.units[2]] and labels == ["a", "c"] and [len(b) for b in kept] == [1, 1]


def test_summaries_and_tables_print_every_member() -> None:
    examples = SimpleNamespace(summary=lambda c: {"firing_fraction": [0.1, 0.3][c]})
    assert "at 20% of positions on average (range 10% to 30%)" in firing_summary(examples, [0, 1])
    table = agreement_table(["a:1", "a:2"], np.array([10.0, 200.0]), np.array([12.0, 190.0]), np.array([20.0, 180.0]))
    assert len(table.splitlines()) == 3 and "190°" in table.splitlines()[2]


def test_each_verdict_keeps_its_threshold_and_fails_what_was_not_measured() -> None:
    assert share_verdict(0.85, 2, need=0.85) == (True, "85% of 2 members (need 85%)")
    assert not share_verdict(0.9, 1, need=0.85)[0] and not share_verdict(None, 5, need=0.8)[0]
    assert gap_verdict(75.0, widest=75) == (True, "largest gap 75°") and not gap_verdict(76.0, widest=75)[0]
    assert not gap_verdict(None, widest=75)[0]
    good = NeighbourTest(30, 40, 0.3, 0.001, 45.0)
    assert neighbour_verdict(good, max_p=0.01) == (True, str(good))
    assert not neighbour_verdict(NeighbourTest(30, 40, 0.3, 0.01, 45.0), max_p=0.01)[0]
    assert not neighbour_verdict(NeighbourTest(10, 40, 0.3, 0.001, 45.0), max_p=0.01)[0]  # p small, rate below chance
    assert not neighbour_verdict(None, max_p=0.01)[0]
    misses = np.array([[0.0, 30.0], [50.0, 90.0]])  # half within 45°
    assert hand_over_verdict(misses, 0.25, times=2) == (True, "50% of rotations, a random member 25% (need twice)")
    assert not hand_over_verdict(misses, 0.26, times=2)[0] and not hand_over_verdict(None, None, times=2)[0]
    assert agreement_verdict(np.array([10.0, 40.0, 45.0, 50.0]), need=0.75) == (True, "75% of 4 members within 45° (need 75%)")
    assert not agreement_verdict(np.array([10.0, 50.0]), need=0.75)[0] and not agreement_verdict(None, need=0.75)[0]


def test_the_paper_verdicts_read_the_family_and_the_screen() -> None:
    family = SimpleNamespace(channels=[5, 1, 2, 9], score=np.array([0.9, 0.8, 0.1, 0.5]))
    assert paper_family_verdict(family, [1, 2, 3], least=2, unit=1) == (True, "2 of 3 in the family: [1, 2]")
    assert not paper_family_verdict(family, [1, 2, 3], least=2, unit=3)[0]
    assert paper_rank_verdict(family, [5, 1, 2], count=2, least=2) == (True, "2 of 3 in the top 2")
    assert not paper_rank_verdict(family, [5, 2], count=2, least=2)[0]
    screen = SimpleNamespace(preferred=np.array([0.0, 90.0, 180.0, 270.0]), score=np.array([0.5, 0.5, 0.5, 0.0]))
    assert paper_spread_verdict(screen, [0, 1, 2], widest=180) == (True, "largest gap 180°")
    assert not paper_spread_verdict(screen, [0, 1, 2, 3], widest=180)[0]  # unit 3 does not score
