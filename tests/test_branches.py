"""Branch census: counts per branch, the exact chance tail, and the articles' families."""
import itertools

import pytest

from helpers.branches import article_family_censuses, at_least_by_chance, branch_census
from helpers.models import Branch, Layer

LAYER = Layer("toy", "toy", 10, branches=(Branch("a", 0, 2), Branch("b", 2, 5), Branch("c", 5, 10)))


def _brute_tail(widths: list[int], drawn: int, branch: int, members: int) -> float:
    owner = [index for index, width in enumerate(widths) for _ in range(width)]
    draws = list(itertools.combinations(range(len(owner)), drawn))
    return sum(sum(owner[c] == branch for c in draw) >= members for draw in draws) / len(draws)


@pytest.mark.parametrize("widths, drawn, branch, members", [([2, 3, 5], 4, 1, 2), ([2, 3, 5], 3, 0, 2), ([4, 4], 4, 1, 0),
                                                           ([1, 6], 2, 0, 1), ([3, 3, 3], 5, 2, 3)])
def test_chance_tail_matches_counting_every_draw(widths, drawn, branch, members) -> None:
    exact = at_least_by_chance(sum(widths), widths[branch], drawn, members)
    assert exact == pytest.approx(_brute_tail(widths, drawn, branch, members), abs=1e-12)


def test_census_counts_members_against_chance() -> None:
    census = branch_census(LAYER, [5, 6, 7, 9, 3, 7])  # a repeated channel counts once
    assert [(c.branch, c.channels, c.members) for c in census.counts] == [("a", 2, 0), ("b", 3, 1), ("c", 5, 4)]
    assert [c.expected for c in census.counts] == pytest.approx([1.0, 1.5, 2.5])
    assert census.size == 5 and census.most_enriched.branch == "c"
    assert census.most_enriched.p_value == pytest.approx(_brute_tail([2, 3, 5], 5, 2, 4))
    assert census.p_value == pytest.approx(min(1.0, 3 * census.most_enriched.p_value))
    assert census.share("c") == pytest.approx(0.8)
    empty = branch_census(LAYER, [])
    assert empty.size == 0 and empty.p_value == 1.0 and empty.share("a") == 0.0
    line = census.describe()
    assert line.startswith("5 units;") and "c 4 (2.5)" in line and "most enriched c" in line


def test_census_refuses_layers_without_branches_and_foreign_channels() -> None:
    with pytest.raises(ValueError, match="no branches"):
        branch_census(Layer("plain", "plain", 8), [1, 2])
    with pytest.raises(ValueError, match=r"\[10, 12\] are not in toy"):
        branch_census(LAYER, [1, 10, 12])
    with pytest.raises(ValueError, match="no branch 'd'"):
        branch_census(LAYER, [1]).share("d")


def test_the_articles_curve_families_each_crowd_one_inceptionv1_branch() -> None:
    censuses = article_family_censuses()
    mixed3b = censuses["curves, mixed3b"]
    assert mixed3b.share("5x5") == 1.0 and mixed3b.size == 10 and mixed3b.p_value < 1e-5
    assert censuses["curves, mixed3a"].share("3x3") == 1.0
    assert censuses["high-low, mixed3a"].most_enriched.branch == "3x3"
    assert "curves, conv2d2" not in censuses  # a stem layer has no branches
