"""The classroom editions of the course, made with nbgrader.

``notebooks/`` is the teacher edition: each exercise's answer cell holds the solution between
``### BEGIN SOLUTION`` and ``### END SOLUTION`` (an nbgrader solution region) after a placeholder
line such as ``my_gap = ...``, and the cell after it is a locked, graded check.

Usage:
  python scripts/classroom.py student [--out student] [LESSON ...]
      The student edition of every lesson (or the ones named): nbgrader removes each solution
      region, so the placeholder ``...`` is what the student starts from. Written to ``student/``.
  python scripts/classroom.py autograde SUBMISSIONS [--out grades.csv] [--timeout S]
      Grade submitted notebooks, laid out as SUBMISSIONS/<student>/<lesson>.ipynb, with nbgrader's
      autograder (checks run strictly: a wrong or missing answer scores 0), and print a table of
      points per student and exercise.

nbgrader keeps its course folder (gradebook, release and autograded copies) in build/classroom/.
"""
from __future__ import annotations

import argparse
import csv
import os
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


def autograde(submissions: Path, out: Path | None = None, timeout: int = 1800,
              course: Path = COURSE) -> dict[str, dict[str, float]]:
    """Autograde SUBMISSIONS/<student>/<lesson>.ipynb; returns {student/lesson: {exercise: points}}."""
    from nbgrader.api import Gradebook

    if not submissions.is_dir():
        raise SystemExit(f"{submissions} is not a folder; lay submissions out as SUBMISSIONS/<student>/<lesson>.ipynb.")
    found = sorted(submissions.glob("*/*.ipynb"))
    if not found:
        raise SystemExit(f"No submissions in {submissions}: expected SUBMISSIONS/<student>/<lesson>.ipynb files.")
    known = {path.stem for path in lessons([])}
    strangers = [str(p.relative_to(submissions)) for p in found if p.stem not in known]
    if strangers:
        raise SystemExit(f"{', '.join(strangers)}: not a lesson of the course ({', '.join(sorted(known))}).")
    for lesson in sorted({path.stem for path in found}):
        if not (course / "release" / lesson / f"{lesson}.ipynb").exists():
            student_edition([lesson], course / "student", course)
        for submitted in [p for p in found if p.stem == lesson]:
            target = course / "submitted" / submitted.parent.name / lesson
            shutil.rmtree(target, ignore_errors=True)
            target.mkdir(parents=True)
            shutil.copy2(submitted, target / submitted.name)
        nbgrader("autograde", lesson, "--force", "--create", f"--Execute.timeout={timeout}",
                 course=course, env={"CIRCUITS_STRICT": "1"})
    table: dict[str, dict[str, float]] = {}
    with Gradebook(f"sqlite:///{course.resolve() / 'gradebook.db'}") as gradebook:
        for submitted in found:
            lesson, student = submitted.stem, submitted.parent.name
            notebook = gradebook.find_submission_notebook(lesson, lesson, student)
            table[f"{student}/{lesson}"] = {grade.name: float(grade.score) for grade in notebook.grades}
    print_table(table)
    if out is not None:
        with out.open("w", newline="") as file:
            writer = csv.writer(file)
            writer.writerow(["student", "lesson", "exercise", "points"])
            for key, scores in table.items():
                student, lesson = key.split("/")
                writer.writerows([student, lesson, exercise, points] for exercise, points in scores.items())
        print(f"grades written to {out}")
    return table


def print_table(table: dict[str, dict[str, float]]) -> None:
    """Print points per exercise for each graded notebook, and the total."""
    for key, scores in table.items():
        cells = ", ".join(f"{exercise} {points:g}" for exercise, points in scores.items())
        print(f"{key}: {sum(scores.values()):g} points ({cells})")


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    student = commands.add_parser("student", help="generate the student edition")
    student.add_argument("lessons", nargs="*")
    student.add_argument("--out", type=Path, default=ROOT / "student")
    grade = commands.add_parser("autograde", help="autograde submitted notebooks")
    grade.add_argument("submissions", type=Path)
    grade.add_argument("--out", type=Path, default=None)
    grade.add_argument("--timeout", type=int, default=1800, help="seconds a cell may run (default 1800)")
    options = parser.parse_args(argv)
    if options.command == "student":
        student_edition(options.lessons, options.out)
    else:
        autograde(options.submissions, options.out, options.timeout)


if __name__ == "__main__":
    main(sys.argv[1:])
