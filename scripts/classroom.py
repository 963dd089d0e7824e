"""The classroom editions of the course, made with nbgrader.

``notebooks/`` is the teacher edition: each exercise's answer cell holds the solution between
``### BEGIN SOLUTION`` and ``### END SOLUTION`` (an nbgrader solution region) after a placeholder
line such as ``my_gap = ...``, and the cell after it is a locked, graded check.

Usage:
  python scripts/classroom.py student [--out student] [LESSON ...]
      The student edition of every lesson (or the ones named): nbgrader removes each solution
      region, so the placeholder ``...`` is what the student starts from. Written to ``student/``.
  python scripts/classroom.py autograde SUBMISSIONS [--out grades.csv] [--feedback DIR] [--timeout S]
      Grade submitted notebooks, laid out as SUBMISSIONS/<student>/<lesson>.ipynb, with nbgrader's
      autograder in grading mode (``CIRCUITS_GRADING=1``: each check cell's value is its score, a bare
      number nbgrader reads as partial credit; nothing raises), a cell timeout taken from the measured
      lesson times (``cell_timeout``), and print a table of points per student and exercise; written
      answers and predictions are listed "to grade by hand" (nbgrader's Formgrader). ``--feedback``
      writes nbgrader's feedback page of each submission to DIR/<student>/<lesson>.html: the student's
      own notebook, graded, with the checks' messages; never a solution or a rubric.
  python scripts/classroom.py roundtrip [--out build/roundtrip] [LESSON ...]
      Autograde three submissions of every lesson (the teacher's answers, every second code answer
      spoiled, the untouched student edition); fails unless they earn all, some and none of the
      automatic points, the written answers are left to grade by hand, and no feedback page shows a
      solution.

nbgrader keeps its course folder (gradebook, release and autograded copies) in build/classroom/.
"""
from __future__ import annotations

import argparse
import csv
import html
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
COURSE = ROOT / "build" / "classroom"
#: What replaces a solution region in the student edition.
CODE_STUB = "# Write your answer here: replace the ... above with your own code."


def lessons(names: list[str]) -> list[Path]:
    """The teacher notebooks to use: all of notebooks/, or those named (with or without .ipynb), or paths
    to teacher notebooks elsewhere."""
    available = sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))
    if not names:
        return available
    by_name = {path.stem: path for path in available}
    unknown = [name for name in names if Path(name).stem not in by_name and not _notebook_file(name)]
    if unknown:
        raise SystemExit(f"Unknown lesson(s) {', '.join(unknown)}; the lessons are {', '.join(by_name)}.")
    return [Path(name).resolve() if _notebook_file(name) else by_name[Path(name).stem] for name in names]


def _notebook_file(name: str) -> bool:
    return name.endswith(".ipynb") and Path(name).is_file()


def nbgrader(*arguments: str, course: Path, env: dict[str, str] | None = None) -> None:
    """Run one nbgrader command on the course folder, with this Python's bin/ on PATH (nbgrader calls alembic)."""
    bin_dir = str(Path(sys.executable).parent)
    environment = {**os.environ, **(env or {}), "PATH": bin_dir + os.pathsep + os.environ.get("PATH", "")}
    course.mkdir(parents=True, exist_ok=True)
    (course / "nbgrader_config.py").write_text(
        "c = get_config()\n"
        f"c.CourseDirectory.root = {str(course.resolve())!r}\n"
        f"c.ClearSolutions.code_stub = {{'python': {CODE_STUB!r}}}\n"
    )
    command = [sys.executable, "-m", "nbgrader", *arguments, "--log-level=WARN"]
    result = subprocess.run(command, env=environment, cwd=course, capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(f"nbgrader {' '.join(arguments)} failed:\n{result.stdout}\n{result.stderr}")


def student_edition(names: list[str], out: Path, course: Path = COURSE, quiet: bool = False) -> list[Path]:
    """Generate the student edition of the chosen lessons into ``out``; returns the notebooks written."""
    written = []
    out.mkdir(parents=True, exist_ok=True)
    for path in lessons(names):
        source = course / "source" / path.stem
        shutil.rmtree(source, ignore_errors=True)
        source.mkdir(parents=True)
        shutil.copy2(path, source / path.name)
        nbgrader("generate_assignment", path.stem, "--force", course=course)
        shutil.copy2(course / "release" / path.stem / path.name, out / path.name)
        written.append(out / path.name)
        if not quiet:
            print(f"student edition: {out / path.name}")
    return written


#: Where the measured full-mode lesson times are read from, newest first: CI's latest run, then the
#: teacher's guide's sizing table (both written by scripts/measure_lessons.py).
SIZING = (ROOT / "build" / "sizing.md", ROOT / "docs" / "teaching.md")
#: Seconds a cell may run when grading a lesson: three times the lesson's measured full-mode wall time (no
#: cell takes longer than its whole lesson; the factor covers a slower or busier grading machine), at
#: least five minutes (a cold start loads the model and fills caches), 30 minutes when never measured.
TIMEOUT_FACTOR, TIMEOUT_MIN, TIMEOUT_UNMEASURED = 3, 300, 1800
#: What autograde reports for a cell graded by hand (a written answer or a prediction).
BY_HAND = "to grade by hand"


def measured_seconds(sources: tuple[Path, ...] = SIZING) -> dict[str, float]:
    """Full-mode wall seconds per lesson, from the first of ``sources`` with sizing rows (``| NN_lesson | wall (s) | ...``).

    Where that file measures a lesson more than once (one table per model), the longest time wins, so that the cell
    timeouts cover the slowest model measured."""
    for path in sources:
        if path.is_file():
            rows = re.findall(r"^\|\s*(\d\d_\w+)\s*\|\s*([\d.]+)\s*\|", path.read_text(encoding="utf-8"), re.M)
            if rows:
                longest: dict[str, float] = {}
                for lesson, seconds in rows:
                    longest[lesson] = max(longest.get(lesson, 0.0), float(seconds))
                return longest
    return {}


def cell_timeout(lesson: str, measured: dict[str, float]) -> int:
    """Seconds a cell of ``lesson`` may run when autograded (see TIMEOUT_FACTOR)."""
    if lesson not in measured:
        return TIMEOUT_UNMEASURED
    return int(max(TIMEOUT_MIN, TIMEOUT_FACTOR * measured[lesson]))


def autograde(submissions: Path, out: Path | None = None, timeout: int | None = None, course: Path = COURSE,
              feedback: Path | None = None) -> dict[str, dict[str, float | None]]:
    """Autograde SUBMISSIONS/<student>/<lesson>.ipynb in grading mode (partial credit) and write each
    student's feedback; returns {student/lesson: {grade id: points, or None for a cell graded by hand}}."""
    from nbgrader.api import Gradebook

    if not submissions.is_dir():
        raise SystemExit(f"{submissions} is not a folder; lay submissions out as SUBMISSIONS/<student>/<lesson>.ipynb.")
    found = sorted(submissions.glob("*/*.ipynb"))
    if not found:
        raise SystemExit(f"No submissions in {submissions}: expected SUBMISSIONS/<student>/<lesson>.ipynb files.")
    known = {path.stem for path in lessons([])} | {path.stem for path in (course / "source").glob("*/*.ipynb")}
    strangers = [str(p.relative_to(submissions)) for p in found if p.stem not in known]
    if strangers:
        raise SystemExit(f"{', '.join(strangers)}: not a lesson of the course ({', '.join(sorted(known))}).")
    measured = measured_seconds()
    # Grading mode: a check's cell shows its score as a bare number (nbgrader's partial credit) and never
    # raises; strict mode, which would turn a wrong answer into an error, is off.
    grading = {"CIRCUITS_GRADING": "1", "CIRCUITS_STRICT": "0"}
    for lesson in sorted({path.stem for path in found}):
        if not (course / "release" / lesson / f"{lesson}.ipynb").exists():
            student_edition([lesson], course / "student", course)
        for submitted in [p for p in found if p.stem == lesson]:
            target = course / "submitted" / submitted.parent.name / lesson
            shutil.rmtree(target, ignore_errors=True)
            target.mkdir(parents=True)
            shutil.copy2(submitted, target / submitted.name)
        seconds = timeout or cell_timeout(lesson, measured)
        print(f"autograding {lesson} (cell timeout {seconds} s) ...", flush=True)
        nbgrader("autograde", lesson, "--force", "--create", f"--Execute.timeout={seconds}", course=course, env=grading)
        nbgrader("generate_feedback", lesson, "--force", course=course)
    table: dict[str, dict[str, float | None]] = {}
    with Gradebook(f"sqlite:///{course.resolve() / 'gradebook.db'}") as gradebook:
        for submitted in found:
            lesson, student = submitted.stem, submitted.parent.name
            notebook = gradebook.find_submission_notebook(lesson, lesson, student)
            table[f"{student}/{lesson}"] = {grade.name: None if grade.needs_manual_grade else float(grade.score)
                                            for grade in notebook.grades}
            if feedback is not None:
                page = feedback / student / f"{lesson}.html"
                page.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(course / "feedback" / student / lesson / f"{lesson}.html", page)
    print_table(table)
    if feedback is not None:
        print(f"feedback for each student in {feedback}/<student>/<lesson>.html")
    if out is not None:
        with out.open("w", newline="") as file:
            writer = csv.writer(file)
            writer.writerow(["student", "lesson", "exercise", "points"])
            for key, scores in table.items():
                student, lesson = key.split("/")
                writer.writerows([student, lesson, exercise, BY_HAND if points is None else f"{points:g}"]
                                 for exercise, points in scores.items())
        print(f"grades written to {out}")
    return table


def print_table(table: dict[str, dict[str, float | None]]) -> None:
    """Print the points per exercise of each graded notebook, its total, and what is left to grade by hand."""
    for key, scores in table.items():
        cells = ", ".join(f"{exercise} {BY_HAND if points is None else f'{points:g}'}"
                          for exercise, points in scores.items())
        by_hand = sum(points is None for points in scores.values())
        total = sum(points for points in scores.values() if points is not None)
        print(f"{key}: {total:g} points" + (f" + {by_hand} answer(s) {BY_HAND}" if by_hand else "") + f" ({cells})")


SOLUTION = re.compile(r"### BEGIN SOLUTION\n(.*?)### END SOLUTION", re.S)
#: Appended to an answer cell to make the round trip's partly wrong submission: an answer of the right
#: kind that is wrong (a function returning 0.0, a number off by one, a tensor of ones, another string).
SPOIL = ("\n{name} = ((lambda *args, **kwargs: 0.0) if callable({name}) else {name} + 1 "
         "if isinstance({name}, (int, float)) else {name} * 0 + 1 if hasattr({name}, 'shape') else 'wrong')\n")
#: What a filled-in written answer says in the round trip (graded by hand).
WRITTEN = "My answer, in my own words."


def _answer_names(source: str) -> list[str]:
    """The answer names an answer cell defines: its ``my_`` names, or (older lessons) those its region assigns."""
    names = re.findall(r"^\s*def (my_\w+)\(|^(my_\w+)\s*=", source, re.M)
    found = [a or b for a, b in names]
    if not found:
        found = re.findall(r"^(answer\w*)\s*=", "".join(SOLUTION.findall(source)), re.M)
    return list(dict.fromkeys(found))


def submission(student: Path, teacher: Path, wrong: bool) -> dict:
    """The student edition filled in: every answer cell with the teacher's solution, every written answer
    with a sentence; with ``wrong``, every second answer that a check grades spoiled (SPOIL)."""
    import nbformat

    solutions = {cell.metadata["nbgrader"]["grade_id"]: cell.source
                 for cell in nbformat.read(teacher, as_version=4).cells
                 if cell.metadata.get("nbgrader", {}).get("solution")}
    notebook = nbformat.read(student, as_version=4)
    checked = 0
    for cell, after in zip(notebook.cells, notebook.cells[1:] + [None]):
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id not in solutions:
            continue
        if cell.cell_type == "markdown":
            cell.source = WRITTEN
            continue
        cell.source = solutions[grade_id]
        if after is None or after.cell_type != "code" or not after.metadata.get("nbgrader", {}).get("grade"):
            continue  # an answer no check grades (the student's own choice): always the teacher's
        if wrong and checked % 2 == 1:
            cell.source += "".join(SPOIL.format(name=name) for name in _answer_names(cell.source))
        checked += 1
    return notebook


def round_trip(names: list[str], folder: Path, course: Path = COURSE) -> list[str]:
    """Autograde three submissions of each lesson (the teacher's answers, partly wrong ones, the untouched
    student edition) and return what went wrong: the correct one must earn every automatic point, the
    partly wrong one some but not all, the untouched one none, and no feedback may show a solution."""
    import nbformat

    problems = []
    submissions = folder / "submissions"
    teachers = lessons(names)
    students = student_edition([str(t) for t in teachers], folder / "student", course, quiet=True)
    for teacher, student in zip(teachers, students):
        for who, wrong in (("correct", False), ("partly_wrong", True)):
            target = submissions / who / student.name
            target.parent.mkdir(parents=True, exist_ok=True)
            nbformat.write(submission(student, teacher, wrong), target)
        (submissions / "untouched").mkdir(parents=True, exist_ok=True)
        shutil.copy2(student, submissions / "untouched" / student.name)
    table = autograde(submissions, folder / "grades.csv", course=course, feedback=folder / "feedback")
    for teacher in teachers:
        cells = nbformat.read(teacher, as_version=4).cells
        maximum = sum(float(c.metadata["nbgrader"].get("points", 0)) for c in cells
                      if c.cell_type == "code" and c.metadata.get("nbgrader", {}).get("grade"))
        auto = {who: sum(p for p in table[f"{who}/{teacher.stem}"].values() if p is not None)
                for who in ("correct", "partly_wrong", "untouched")}
        if auto["correct"] != maximum:
            problems.append(f"{teacher.stem}: the teacher's answers earn {auto['correct']:g} of {maximum:g} points")
        if not 0 < auto["partly_wrong"] < maximum:
            problems.append(f"{teacher.stem}: partly wrong answers earn {auto['partly_wrong']:g} of {maximum:g}")
        if auto["untouched"] != 0:
            problems.append(f"{teacher.stem}: the untouched student edition earns {auto['untouched']:g} points")
        hand = [k for k, p in table[f"correct/{teacher.stem}"].items() if p is None]
        written = [c.metadata["nbgrader"]["grade_id"] for c in cells if c.cell_type == "markdown"
                   and c.metadata.get("nbgrader", {}).get("solution")]
        if sorted(hand) != sorted(written):
            problems.append(f"{teacher.stem}: {hand} are left to grade by hand, but the written answers are {written}")
        page = (folder / "feedback" / "untouched" / f"{teacher.stem}.html").read_text(encoding="utf-8")
        shown = [line for line in solution_lines(cells) if html.escape(line, quote=False) in page or line in page]
        if shown:
            problems.append(f"{teacher.stem}: the feedback shows solution code {shown[:3]}")
    return problems


def solution_lines(cells: list) -> list[str]:
    """The lines of a teacher notebook's solutions (code and written answers' regions, or the whole text of
    a written answer without one) that appear nowhere else in it: what no student edition or feedback
    page may show."""
    regions, outside = [], []
    for cell in cells:
        found = SOLUTION.findall(cell.source)
        if cell.cell_type == "markdown" and cell.metadata.get("nbgrader", {}).get("solution") and not found:
            regions.append(cell.source)  # nbgrader replaces the whole cell
        else:
            regions += found
            outside.append(SOLUTION.sub("", cell.source))
    rest = "\n".join(outside)
    lines = {line.strip() for region in regions for line in region.splitlines()}
    return sorted(line for line in lines if len(line) > 3 and not line.startswith("#") and line not in rest)


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    student = commands.add_parser("student", help="generate the student edition")
    student.add_argument("lessons", nargs="*")
    student.add_argument("--out", type=Path, default=ROOT / "student")
    grade = commands.add_parser("autograde", help="autograde submitted notebooks")
    grade.add_argument("submissions", type=Path)
    grade.add_argument("--out", type=Path, default=None, help="a CSV of points per student and exercise")
    grade.add_argument("--feedback", type=Path, default=None, help="a folder for each student's feedback pages")
    grade.add_argument("--timeout", type=int, default=None,
                       help="seconds a cell may run (default: from the measured lesson times)")
    trip = commands.add_parser("roundtrip", help="autograde a correct, a partly wrong and an untouched submission")
    trip.add_argument("lessons", nargs="*")
    trip.add_argument("--out", type=Path, default=ROOT / "build" / "roundtrip")
    options = parser.parse_args(argv)
    if options.command == "student":
        student_edition(options.lessons, options.out)
    elif options.command == "autograde":
        autograde(options.submissions, options.out, options.timeout, feedback=options.feedback)
    else:
        shutil.rmtree(options.out, ignore_errors=True)
        problems = round_trip(options.lessons, options.out, options.out / "course")
        print("\n".join(f"FAIL {problem}" for problem in problems) or "round trip: every lesson graded as expected")
        if problems:
            raise SystemExit(1)


if __name__ == "__main__":
    main(sys.argv[1:])
