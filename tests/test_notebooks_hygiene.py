"""Committed notebooks carry no outputs and follow the lesson structure."""
from __future__ import annotations

import json
import re
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
def test_notebook_is_valid_nbformat_with_a_unique_id_per_cell(path: Path) -> None:
    import nbformat

    notebook = json.loads(path.read_text())
    ids = [cell.get("id") for cell in notebook["cells"]]
    assert None not in ids and len(set(ids)) == len(ids), f"{path.name}: cells without an id or with the same id; run `make strip`"
    nbformat.validate(nbformat.from_dict(notebook))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_has_lesson_structure(path: Path) -> None:
    cells = json.loads(path.read_text())["cells"]
    sources = ["".join(c["source"]) for c in cells]
    code = [s for s, c in zip(sources, cells) if c["cell_type"] == "code"]
    assert "load_model(" in code[0] and "seed_everything(" in code[0], "first cell must seed and load the active model"
    assert cells[1]["cell_type"] == "markdown" and "What you will learn" in sources[1], "second cell: what you will learn"
    assert any("What we verified" in s for s in sources), "a 'What we verified' section is missing"
    verified = next(i for i, s in enumerate(sources) if "What we verified" in s)
    after = "\n".join(sources[verified:])
    assert f'Claims("{path.stem}"' in after and ".report()" in after, \
        "'What we verified' checks the lesson's claims with helpers.claims.Claims and reports them"
    assert "sys.path" not in "".join(code), "notebooks import helpers as an installed package"
    asserting = [i for i, s in enumerate(sources) if cells[i]["cell_type"] == "code" and re.search(r"^\s*assert ", s, re.M)]
    assert not asserting, f"cells {asserting} use assert: a lesson never stops on a negative; check claims with Claims"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_exercises_are_nbgrader_regions_with_graded_checks(path: Path) -> None:
    cells = json.loads(path.read_text())["cells"]
    graders = [(i, c["metadata"]["nbgrader"]) for i, c in enumerate(cells) if "nbgrader" in c["metadata"]]
    answers = [(i, meta) for i, meta in graders if meta.get("solution")]
    assert len(answers) >= 3, f"{path.name} has {len(answers)} exercises; every lesson needs at least 3"
    ids = [meta["grade_id"] for _, meta in graders]
    assert len(ids) == len(set(ids)), f"grade ids repeat: {ids}"
    for i, meta in answers:
        if cells[i]["cell_type"] == "markdown":  # a written answer, graded by hand: nbgrader replaces all of it
            assert meta.get("grade") and meta.get("points"), f"cell {i} ({meta['grade_id']}): a written answer needs points"
            continue
        text = "".join(cells[i]["source"])
        before, marker, _ = text.partition("### BEGIN SOLUTION")
        assert marker and "### END SOLUTION" in text, f"cell {i} ({meta['grade_id']}): no solution region"
        assert re.search(r"=\s*\.\.\.|^\s+\.\.\.\s*$", before, re.M), \
            f"cell {i} ({meta['grade_id']}): no placeholder (`my_answer = ...`, or a function body of `...`) before the region"
        check = cells[i + 1]
        if check["cell_type"] == "markdown" and check["metadata"].get("nbgrader", {}).get("solution"):
            continue  # a choice (the student's own experiment) graded by hand with the written answer after it
        assert check["metadata"].get("nbgrader", {}).get("grade") and check["metadata"]["nbgrader"].get("locked"), \
            f"cell {i + 1} must be the locked, graded check of {meta['grade_id']}"
        assert "check_" in "".join(check["source"]), f"cell {i + 1} must call a helpers.checks function"
        assert check["metadata"]["nbgrader"].get("points"), f"cell {i + 1}: a graded check needs points"
    shown = [i for i, c in enumerate(cells) if c["cell_type"] == "markdown" and re.search(r"<summary>\s*Solution", "".join(c["source"]))]
    assert not shown, f"cells {shown} print solutions; the teacher edition keeps them in nbgrader regions only"
