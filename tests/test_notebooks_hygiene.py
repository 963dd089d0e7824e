"""Committed notebooks carry no outputs and follow the lesson structure."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parent.parent / "notebooks").glob("*.ipynb"))


def test_there_are_notebooks() -> None:
    assert NOTEBOOKS, "notebooks/ holds no lessons"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_is_stripped(path: Path) -> None:
    cells = json.loads(path.read_text())["cells"]
    dirty = [i for i, c in enumerate(cells) if c["cell_type"] == "code" and (c.get("outputs") or c.get("execution_count"))]
    assert not dirty, f"{path.name}: cells {dirty} hold outputs; run `make strip`"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_has_lesson_structure(path: Path) -> None:
    cells = json.loads(path.read_text())["cells"]
    sources = ["".join(c["source"]) for c in cells]
    code = [s for s, c in zip(sources, cells) if c["cell_type"] == "code"]
    assert "load_model(" in code[0] and "seed_everything(" in code[0], "first cell must seed and load the active model"
    assert any("What we verified" in s for s in sources), "a 'What we verified' section is missing"
    verified = next(i for i, s in enumerate(sources) if "What we verified" in s)
    assert any("assert " in s for s in sources[verified:]), "'What we verified' must be followed by assertions"
    assert any("helpers.checks" in s or "from helpers.checks" in s for s in code), "exercises must use helpers.checks"
    assert "sys.path" not in "".join(code), "notebooks import helpers as an installed package"
