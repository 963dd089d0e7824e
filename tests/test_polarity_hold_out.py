"""helpers.polarity_hold_out: a curve family measured in the polarity each member was not picked in."""
import numpy as np
import pytest

from handmade_curves import SCREEN, build_mixed_polarity_network
from helpers.families import find_curve_family
from helpers.polarity_hold_out import other_polarity_screens, polarity_hold_out, polarity_hold_out_scores


def test_the_other_polarity_holds_each_member_out_of_its_selection() -> None:
    mixed = build_mixed_polarity_network()
    family = find_curve_family(mixed, "detectors", **SCREEN)
    others = other_polarity_screens(family)
    assert [o.style["foreground"] for o in others] == [1.0 if p == "dark" else 0.0 for p in family.polarity]
    hold_out = polarity_hold_out(family)
    selectivity = np.array([o.curve_selectivity[c] for o, c in zip(others, family.channels)])
    assert hold_out.kept_curves == pytest.approx(float(np.mean(selectivity > 0)))
    assert np.allclose(hold_out.selectivity, selectivity)
    assert np.allclose(hold_out.preferred, [o.preferred[c] for o, c in zip(others, family.channels)])
    assert np.allclose(polarity_hold_out_scores(hold_out.selectivity, hold_out.preferred, family.orientations),
                       [hold_out.kept_curves, hold_out.same_orientation, hold_out.invariant_gap])
    assert hold_out.shift.shape == (len(family),) and bool((hold_out.shift <= 180).all())
    assert 0 <= hold_out.invariant_gap <= 360 and "other polarity" in str(hold_out)
    with pytest.raises(ValueError, match="no member"):
        polarity_hold_out(family.subset([]))


def test_polarity_hold_out_scores_wrap_around_the_circle() -> None:
    scores = polarity_hold_out_scores(np.array([0.5, 0.0, 0.2]), np.array([350.0, 90.0, 100.0]), np.array([20.0, 90.0, 260.0]))
    # 30° apart across 0° (same), selectivity 0 (not kept), 160° apart (moved): one member passes both
    assert np.allclose(scores, [2 / 3, 2 / 3, 360.0])
