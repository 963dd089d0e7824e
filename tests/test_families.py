"""The family base (helpers/families/base.py) and the protocol every family module follows."""
import importlib
import inspect
import pkgutil
from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np
import pytest

import helpers.families
from helpers.families import Family, Screen, member_field
from helpers.families.base import Threshold
from helpers.probing import Placement

FAMILY_MODULES = sorted(m.name for m in pkgutil.iter_modules(helpers.families.__path__) if m.name != "base")


@pytest.mark.parametrize("name", FAMILY_MODULES)
def test_every_family_module_has_a_screen_a_family_and_the_three_functions(name: str) -> None:
    module = importlib.import_module(f"helpers.families.{name}")
    screens = [c for c in vars(module).values() if inspect.isclass(c) and issubclass(c, Screen) and c is not Screen
               and c.__module__ == module.__name__]
    families = [c for c in vars(module).values() if inspect.isclass(c) and issubclass(c, Family) and c is not Family
                and c.__module__ == module.__name__]
    assert len(screens) == 1 and len(families) == 1, (screens, families)
    screen, family = screens[0], families[0]
    assert screen.selectivity_name in {f for f in screen.__dataclass_fields__}, "selectivity_name must name a field"
    assert family.kind and family.__dataclass_fields__["screen"].type in (screen.__name__, screen)
    assert screen.tuning is not Screen.tuning, "a screen must say what its tuning curves are"
    functions = {n for n, f in vars(module).items() if inspect.isfunction(f) and f.__module__ == module.__name__}
    finders = [n for n in functions if n.startswith("find_") and n.endswith("_family")]
    assert len(finders) == 1, functions
    kind = finders[0][len("find_"):-len("_family")]
    assert f"{kind}_family" in functions and any(n.startswith("screen_") for n in functions), functions


def test_the_three_families_are_there() -> None:
    assert {"colour_contrast", "curves", "high_low"} <= set(FAMILY_MODULES)


@dataclass(kw_only=True)
class ToyScreen(Screen):
    """Five units with made-up numbers: enough to test what the base does with any screen."""

    sharpness: np.ndarray
    curves: np.ndarray
    selectivity_name: ClassVar[str] = "sharpness"

    def tuning(self) -> np.ndarray:
        return self.curves


@dataclass(kw_only=True)
class ToyFamily(Family):
    sharpness: np.ndarray = member_field()
    screen: ToyScreen = field(repr=False)
    kind: ClassVar[str] = "toy"
    thresholds: ClassVar[tuple] = (Threshold("score", 0.0, strict=True), Threshold("sharpness", 0.0))


@pytest.fixture
def toy() -> ToyScreen:
    preferred = np.array([300.0, 10.0, 100.0, 200.0, 20.0])
    return ToyScreen(
        layer="toy", placement=Placement("toy", 32, (16.0, 16.0), 10.0), pre_activation=False,
        orientations=np.arange(0, 360, 90.0), orientation_selectivity=np.array([0.9, 0.8, 0.7, 0.6, 0.95]),
        preferred=preferred, score=np.array([0.5, 0.9, 0.0, 0.7, 0.6]), sharpness=np.array([0.1, 0.2, 0.3, 0.4, 0.5]),
        curves=np.arange(20.0).reshape(4, 5),
    )


def test_chosen_keeps_passing_units_best_first_then_sorts_them_round_the_circle(toy) -> None:
    passes = np.array([True, True, False, True, True])
    assert toy.chosen(passes).tolist() == [1, 4, 3, 0]  # by preferred orientation: 10, 20, 200, 300
    assert toy.chosen(passes, max_units=2).tolist() == [1, 3]  # the two best scores (0.9, 0.7), then by orientation


def test_from_screen_copies_every_member_field_and_subset_keeps_them_in_step(toy) -> None:
    family = ToyFamily.from_screen(toy, [1, 4, 3])
    assert family.channels == [1, 4, 3] and family.orientations.tolist() == [10.0, 20.0, 200.0]
    assert family.sharpness.tolist() == [0.2, 0.5, 0.4] and family.score.tolist() == [0.9, 0.6, 0.7]
    part = family.subset([2, 0])
    assert part.channels == [3, 1] and part.sharpness.tolist() == [0.4, 0.2] and part.screen is toy
    assert family.tuning().tolist() == toy.curves[:, [1, 4, 3]].tolist()
    assert family.selectivity.tolist() == [0.2, 0.5, 0.4] and family.fraction == pytest.approx(3 / 5)


def test_spread_strongest_table_and_gap(toy) -> None:
    family = ToyFamily.from_screen(toy, [1, 4, 3, 0])
    assert family.spread(4).channels == [1, 3, 0]  # 10 and 20 share the first quarter; the better score (unit 1) stays
    assert [u.channel for u in family.strongest(2)] == [1, 3]
    assert family.largest_gap() == pytest.approx(180.0)  # from 20 to 200
    lines = family.table().splitlines()
    assert len(lines) == 5 and "sharpness" in lines[0] and lines[1].split()[0] == "toy:1"
    assert "no member" in ToyFamily.from_screen(toy, []).table()
    with pytest.raises(ValueError, match="count must be at least 1"):
        family.spread(0)


def test_pick_applies_every_rule_at_its_default_or_the_value_given(toy) -> None:
    assert sorted(ToyFamily.pick(toy).channels) == [0, 1, 3, 4]  # score > 0 drops unit 2
    assert sorted(ToyFamily.pick(toy, min_sharpness=0.35).channels) == [3, 4]
    assert ToyFamily.pick(toy, max_units=1).channels == [1]
    with pytest.raises(TypeError, match="Unknown threshold.*min_sharp.*allowed: min_score, min_sharpness"):
        ToyFamily.pick(toy, min_sharp=0.3)


def test_find_family_sends_each_option_where_it_is_named_and_rejects_the_rest(toy) -> None:
    from helpers.families import find_family

    seen = {}

    def screen_toy(model, layer, *, size=32, min_sharpness=None):
        seen["screen"] = {"size": size, "min_sharpness": min_sharpness}
        return toy

    family = find_family(None, "toy", screen_toy, ToyFamily, {"size": 64, "min_sharpness": 0.35, "max_units": 5})
    assert seen == {"screen": {"size": 64, "min_sharpness": 0.35}}  # a threshold the screen also names goes to both
    assert sorted(family.channels) == [3, 4]
    with pytest.raises(TypeError, match="Unknown option.*sizes.*allowed: max_units, min_score, min_sharpness, size"):
        find_family(None, "toy", screen_toy, ToyFamily, {"sizes": 64})


def test_paper_families_replace_inceptionv1_families_by_the_articles_units_for_time_estimates(toy, monkeypatch) -> None:
    from types import SimpleNamespace

    import helpers.families.base as base
    from helpers.families import find_family
    from helpers.paper import CURVE_FAMILIES, article_family

    assert article_family("curve", "mixed3b") == CURVE_FAMILIES["mixed3b"] and len(article_family("high-low", "mixed3a")) == 14
    assert article_family("high-low", "mixed3b") is None and article_family("colour contrast", "mixed3a") is None
    monkeypatch.setattr(base, "article_family", lambda kind, layer: (0, 2, 3) if (kind, layer) == ("toy", "toy") else None)
    inception, other = SimpleNamespace(name="inceptionv1"), SimpleNamespace(name="efficientnet_lite0")
    screen = lambda model, layer: toy  # noqa: E731
    assert sorted(find_family(inception, "toy", screen, ToyFamily, {}).channels) == [0, 1, 3, 4]  # the flag is off
    monkeypatch.setenv("CIRCUITS_PAPER_FAMILIES", "1")
    listed = find_family(inception, "toy", screen, ToyFamily, {})
    assert listed.channels == [2, 3, 0]  # the article's units (unit 2 fails the score rule), sorted round the circle
    assert listed.score.tolist() == [0.0, 0.7, 0.5]
    assert sorted(find_family(other, "toy", screen, ToyFamily, {}).channels) == [0, 1, 3, 4]  # only InceptionV1
