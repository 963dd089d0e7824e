"""The classroom editions: nbgrader's student edition leaks no solution, and autograding scores answers.

These run nbgrader's own commands through scripts/classroom.py, as a teacher would.
"""
from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SOLUTION = re.compile(r"### BEGIN SOLUTION\n(.*?)### END SOLUTION", re.S)


def _classroom():
    spec = importlib.util.spec_from_file_location("classroom", ROOT / "scripts" / "classroom.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


classroom = _classroom()
LESSONS = [path.stem for path in classroom.lessons([])]


def cells(path: Path) -> list[dict]:
    return json.loads(path.read_text(encoding="utf-8"))["cells"]


def source(cell: dict) -> str:
    return "".join(cell["source"])


@pytest.fixture(scope="module")
def student_edition(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("classroom")
    classroom.student_edition([], folder / "student", course=folder / "course")
    return folder / "student"


@pytest.mark.parametrize("lesson", LESSONS)
def test_student_edition_holds_no_solution_code(student_edition: Path, lesson: str) -> None:
    teacher = cells(ROOT / "notebooks" / f"{lesson}.ipynb")
    regions = [match for cell in teacher for match in SOLUTION.findall(source(cell))]
    assert len(regions) >= 3, f"{lesson} has {len(regions)} solution regions; every lesson needs at least 3 exercises"
    outside = "\n".join(SOLUTION.sub("", source(cell)) for cell in teacher)
    student = "\n".join(source(cell) for cell in cells(student_edition / f"{lesson}.ipynb"))
    solution_lines = {line.strip() for region in regions for line in region.splitlines()}
    leaked = [line for line in solution_lines
              if len(line) > 3 and not line.startswith("#") and line not in outside and line in student]
    assert not leaked, f"the student edition of {lesson} still holds solution code: {leaked}"
    assert student.count(classroom.CODE_STUB) == len(regions), "each solution region becomes one placeholder"


def _fill(student: Path, teacher: Path, target: Path, replace: dict[str, tuple[str, str]] | None = None) -> None:
    """Write ``target``: the student edition with each answer cell's stub replaced by the teacher's solution."""
    solutions = {cell["metadata"]["nbgrader"]["grade_id"]: SOLUTION.search(source(cell)).group(1)
                 for cell in cells(teacher) if cell["metadata"].get("nbgrader", {}).get("solution")}
    notebook = json.loads(student.read_text(encoding="utf-8"))
    for cell in notebook["cells"]:
        grade_id = cell["metadata"].get("nbgrader", {}).get("grade_id")
        if grade_id in solutions:
            text = source(cell).replace(classroom.CODE_STUB, solutions[grade_id])
            if replace and grade_id in replace:
                old, new = replace[grade_id]
                assert old in text, f"{old!r} is not in {grade_id}'s solution"
                text = text.replace(old, new)
            cell["source"] = text
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(notebook), encoding="utf-8")


def test_autograde_scores_right_wrong_and_missing_answers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CIRCUITS_FAST", "1")
    monkeypatch.setenv("CIRCUITS_OFFLINE", "1")
    lesson = "00_setup_and_tour"
    course = tmp_path / "course"
    student = classroom.student_edition([lesson], tmp_path / "student", course=course)[0]
    teacher = ROOT / "notebooks" / f"{lesson}.ipynb"
    submissions = tmp_path / "submissions"
    _fill(student, teacher, submissions / "alice" / student.name)
    _fill(student, teacher, submissions / "bob" / student.name, {"ex1-answer": (":7", ":8")})
    (submissions / "carol").mkdir()
    (submissions / "carol" / student.name).write_text(student.read_text(encoding="utf-8"), encoding="utf-8")
    table = classroom.autograde(submissions, tmp_path / "grades.csv", timeout=600, course=course)
    graded = [cell["metadata"]["nbgrader"]["grade_id"] for cell in cells(teacher)
              if cell["metadata"].get("nbgrader", {}).get("grade")]
    assert sorted(table[f"alice/{lesson}"]) == sorted(graded)
    assert sum(table[f"alice/{lesson}"].values()) == len(graded), table
    assert table[f"bob/{lesson}"]["ex1-check"] == 0 and sum(table[f"bob/{lesson}"].values()) == len(graded) - 1, table
    assert sum(table[f"carol/{lesson}"].values()) == 0, table
    assert "alice,00_setup_and_tour,ex1-check,1" in (tmp_path / "grades.csv").read_text()


def test_autograde_explains_a_bad_submissions_folder(tmp_path: Path) -> None:
    with pytest.raises(SystemExit, match="SUBMISSIONS/<student>/<lesson>.ipynb"):
        classroom.autograde(tmp_path / "missing", course=tmp_path / "course")
    (tmp_path / "subs" / "dave").mkdir(parents=True)
    (tmp_path / "subs" / "dave" / "homework.ipynb").write_text("{}")
    with pytest.raises(SystemExit, match="not a lesson of the course"):
        classroom.autograde(tmp_path / "subs", course=tmp_path / "course")


def test_unknown_lesson_is_named() -> None:
    with pytest.raises(SystemExit, match="Unknown lesson"):
        classroom.lessons(["99_nothing"])
