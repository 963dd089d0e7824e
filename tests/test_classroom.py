"""The classroom editions: nbgrader's student edition leaks no solution, and autograding scores answers.

These run nbgrader's own commands through scripts/classroom.py, as a teacher would.
"""
from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path

import nbformat
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
    teacher = nbformat.read(ROOT / "notebooks" / f"{lesson}.ipynb", as_version=4).cells
    answers = [cell for cell in teacher if cell.metadata.get("nbgrader", {}).get("solution")]
    assert len(answers) >= 3, (f"{lesson} has {len(answers)} answer cells; every lesson needs at least 3 "
                               "(two implementation exercises and a written answer)")
    student = "\n".join(source(cell) for cell in cells(student_edition / f"{lesson}.ipynb"))
    leaked = [line for line in classroom.solution_lines(teacher) if line in student]
    assert not leaked, f"the student edition of {lesson} still holds solution code or a rubric: {leaked}"
    code_regions = [match for cell in teacher if cell.cell_type == "code" for match in SOLUTION.findall(cell.source)]
    assert student.count(classroom.CODE_STUB) == len(code_regions), "each code solution region becomes one placeholder"


#: The lessons whose round trip CI runs in fast mode (about 35, 90 and 70 s): the tour and the two lessons with the
#: fastest model-heavy checks. `scripts/classroom.py roundtrip` runs every lesson in full mode, too long for CI.
ROUND_TRIP_LESSONS = ["00_setup_and_tour", "03_curve_circuits", "11_trusting_feature_visualizations"]


@pytest.mark.parametrize("lesson", ROUND_TRIP_LESSONS)
def test_round_trip_grades_right_partly_wrong_and_untouched_submissions(lesson: str, tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """The teacher's answers earn every point, partly wrong ones some, the untouched edition none; the
    feedback shows no solution; grades.csv lists the points."""
    monkeypatch.setenv("CIRCUITS_FAST", "1")
    monkeypatch.setenv("CIRCUITS_OFFLINE", "1")
    monkeypatch.setenv("CIRCUITS_STRICT", "1")  # what CI sets; autograding must switch it off
    problems = classroom.round_trip([lesson], tmp_path, course=tmp_path / "course")
    assert not problems, problems
    grades = (tmp_path / "grades.csv").read_text()
    teacher = nbformat.read(ROOT / "notebooks" / f"{lesson}.ipynb", as_version=4).cells
    check, points = next((cell.metadata["nbgrader"]["grade_id"], cell.metadata["nbgrader"]["points"]) for cell in teacher
                         if cell.cell_type == "code" and cell.metadata.get("nbgrader", {}).get("grade"))
    assert f"correct,{lesson},{check},{points:g}" in grades and f"untouched,{lesson},{check},0" in grades
    assert (tmp_path / "feedback" / "partly_wrong" / f"{lesson}.html").is_file()


def test_feedback_check_sees_a_solution(tmp_path: Path) -> None:
    """The round trip's feedback test is not vacuous: the teacher edition's solution lines are found."""
    teacher = nbformat.read(ROOT / "notebooks" / f"{LESSONS[0]}.ipynb", as_version=4).cells
    lines = classroom.solution_lines(teacher)
    assert lines and all(line in "\n".join(c.source for c in teacher) for line in lines)


def test_timeouts_follow_the_measured_lesson_times(tmp_path: Path) -> None:
    sizing = tmp_path / "sizing.md"
    sizing.write_text("| lesson | wall (s) | CPU |\n|---|---:|---:|\n| 00_setup_and_tour | 5 | 5 |\n| 06_x | 314 | 434 |\n"
                      "\nAnother model:\n\n| lesson | wall (s) | CPU |\n|---|---:|---:|\n| 00_setup_and_tour | 9 | 8 |\n"
                      "| 06_x | 120 | 100 |\n")
    measured = classroom.measured_seconds((tmp_path / "missing.md", sizing))
    assert measured == {"00_setup_and_tour": 9.0, "06_x": 314.0}  # per lesson, the slowest model's time
    assert classroom.cell_timeout("00_setup_and_tour", measured) == classroom.TIMEOUT_MIN
    assert classroom.cell_timeout("06_x", measured) == 3 * 314
    assert classroom.cell_timeout("11_new", measured) == classroom.TIMEOUT_UNMEASURED
    assert classroom.measured_seconds()  # the committed teacher's guide holds a sizing table


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
