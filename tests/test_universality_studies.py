"""helpers.universality_studies: lesson 08's tables and claim verdicts on small hand-built inputs."""
from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import torch

from helpers import universality_studies as studies
from helpers.universality import CKAResult, FilterProperties, match_units


def props(*fractions: float, kind: str = "other") -> list[FilterProperties]:
    return [FilterProperties(colour_fraction=f, dc_fraction=0.0, orientedness=0.0, orientation=0.0, kind=kind)
            for f in fractions]


def cka_result(matrix: np.ndarray) -> CKAResult:
    depths = np.linspace(0, 1, len(matrix))
    return CKAResult(matrix, "a", "b", [f"l{i}" for i in range(len(matrix))], [f"m{i}" for i in range(len(matrix))],
                     depths, depths, False)


def test_filter_verdicts_and_table() -> None:
    trained, random_copy = props(0.95, 0.1, 0.2, 0.97), props(0.6, 0.5, 0.95, 0.7)
    assert studies.colour_split_verdict(trained, random_copy) == (
        True, "almost pure colour or grey: 100% of filters, random copy 25%")
    assert not studies.colour_split_verdict(random_copy, trained)[0]
    oriented = props(0.5, 0.5, kind="oriented")
    assert studies.oriented_verdict(oriented, random_copy) == (True, "oriented: 100% of filters, random copy 0%")
    table = studies.filter_split_table({"trained": trained, "random": random_copy}).splitlines()
    assert len(table) == 3 and table[1].split()[-4:] == ["50%", "50%", "100%", "0%"]


def test_family_verdicts() -> None:
    class Family(list):
        def __init__(self, count: int, gap: float, layer: str = "mixed3b"):
            super().__init__(range(count))
            self.layer, self.gap = layer, gap

        def largest_gap(self) -> float:
            return self.gap

    assert studies.curve_family_verdict(Family(9, 60), Family(2, 360)) == (
        True, "9 members at mixed3b (largest gap 60°); random copy 2")
    assert not studies.curve_family_verdict(Family(9, 120), Family(2, 360))[0]  # a gap in the circle
    assert not studies.high_low_family_verdict(Family(5, 0), Family(2, 0))[0]  # not three times the random copy's
    assert studies.curve_layer_verdict(Family(6, 0), Family(1, 0), "mixed3b") == (True, "6 members, random copy 1")
    assert not studies.curve_layer_verdict(Family(6, 0, "mixed3a"), Family(1, 0), "mixed3b")[0]


def test_cka_verdicts_and_table() -> None:
    trained, random_copy = cka_result(np.eye(5) * 0.6 + 0.3), cka_result(np.full((5, 5), 0.5))
    passed, measured = studies.same_depth_cka_verdict(trained, random_copy)
    assert passed and measured == "same-depth CKA 0.90, with the random copy 0.50"
    assert studies.depth_partner_verdict(trained, random_copy) == (True, "100% of layers (random copy: 20%)")
    lines = studies.cka_depth_table("a", {"b": trained}, {"b": random_copy}).splitlines()
    assert len(lines) == 2 and "trained" in lines[0] and "random copy" in lines[1]


def test_match_gain_verdict() -> None:
    generator = torch.Generator().manual_seed(0)
    a = torch.randn(40, 3, generator=generator)
    twin, unrelated = match_units(a, a + 0.1 * torch.randn(40, 3, generator=generator)), match_units(
        a, torch.randn(40, 3, generator=generator))
    passed, measured = studies.match_gain_verdict({0.1: (twin, None, unrelated, None), 0.5: (twin, None, twin, None)})
    assert not passed and measured.startswith("best-match gain over the random copy: +") and measured.endswith("+0.00 at 50%")
    assert studies.match_gain_verdict({0.3: (twin, None, unrelated, None)})[0]


def test_model_roster() -> None:
    model = SimpleNamespace(name="net", layers=[1, 2], input_size=224, trained=True)
    other = SimpleNamespace(name="other", layers=[1], input_size=240, trained=False)
    lines = studies.model_roster([model, other], model, []).splitlines()
    assert lines[0].endswith("none (run `make weights` online to add them)")
    assert "<- the active model" in lines[1] and "RANDOM" in lines[2]
    assert studies.model_roster([model], model, ["alexnet"]).splitlines()[0].endswith("['alexnet']")


def test_unit_matches_with_controls(monkeypatch: pytest.MonkeyPatch) -> None:
    class Recorded:
        grid = 2

        def __init__(self, seed: int):
            self.seed = seed

        def responses(self, layer: str) -> torch.Tensor:
            return torch.randn(24, 4, generator=torch.Generator().manual_seed(self.seed + len(layer)))

    model, other = SimpleNamespace(name="a"), SimpleNamespace(name="b")
    monkeypatch.setattr(studies, "layer_at_depth", lambda m, depth: f"{m.name}{int(depth * 10)}")
    matches, table = studies.unit_matches_with_controls(model, [other], {"a": Recorded(0), "b": Recorded(1)},
                                                        {"a": Recorded(2), "b": Recorded(3)}, [0.1, 0.3])
    assert set(matches) == {("b", 0.1), ("b", 0.3)} and all(len(row) == 4 for row in matches.values())
    assert len(table.splitlines()) == 3 and table.splitlines()[1].startswith("a:a1 -> b:b1")
