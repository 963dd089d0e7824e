"""Copy-proof: nothing a lesson's student edition prints or holds earns an exercise's points.

Usage: python scripts/copy_proof.py [--jobs N] [--call-timeout S] [--budget S] [--json OUT] [LESSON ...]

For each lesson (default: every ``notebooks/NN_*.ipynb``; a path to another teacher notebook works too),
nbgrader makes the student edition (scripts/classroom.py), and a kernel runs it top to bottom with the
environment this script was given (CI: the trained offline model, ``CIRCUITS_FAST=1``) in grading mode
(``CIRCUITS_GRADING=1``: a check returns its score, never raises). Then, in the same kernel
(scripts/copy_proof_probe.py), every graded check cell is run again with each answer name it passes
(``my_...``) replaced by each candidate answer of the same kind as the teacher's answer:

- functions (function exercises): every callable reachable from the notebook's names (imported helpers,
  their modules' functions, the methods of the course's objects) that can be called as the teacher's
  function is (the others can only fail), and functions that do nothing (returning their first
  argument, zeros, 0 or 1);
- numbers, integers, strings: every number printed by any cell (a percentage also as a fraction) and
  every number or string reachable from the names the notebook imports or defines: the values, their
  attributes one level down (fields, and the properties of the course's own classes), the entries of
  small lists, tuples, dicts, tensors and arrays; then every number or word a check printed for a wrong
  answer (a check that prints the right answer is caught when that answer is fed back);
- tensors and arrays: every reachable tensor or array of the teacher's answer's shape;
- anything else: every reachable value of the same type.

Candidates are deduplicated and tried nearest to the teacher's answer first, up to a per-exercise time
budget; every candidate within 10 % of the teacher's answer (or equal, for strings) must be tried.

A lesson **fails** when a candidate earns an exercise's full points, when a check's message for a wrong
answer prints the teacher's (non-integer) number to 3 or more significant digits, when the teacher's own
answer does not earn full points (the attack would prove nothing), or when a near candidate was left
untried. Candidates earning partial credit are listed, not failed: a held-out part that a trivial answer
passes (a shape, a sign) is worth a look but not proof of a leak. Exit status 1 on any failure.
"""
from __future__ import annotations

import argparse
import ast
import importlib.util
import json
import os
import re
import sys
import tempfile
import textwrap
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import nbformat
from nbclient import NotebookClient

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from copy_proof_probe import run_in_kernel  # noqa: E402
from render_course import course_kernel  # noqa: E402

ROOT = HERE.parent
SOLUTION = re.compile(r"### BEGIN SOLUTION\n(.*?)[ \t]*### END SOLUTION", re.S)


def _classroom():
    spec = importlib.util.spec_from_file_location("classroom", HERE / "classroom.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


classroom = _classroom()


def _bound(source: str) -> set[str]:
    """Names a cell defines: functions, classes and assignment targets."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return set()
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
    return names


def _regions(source: str) -> str:
    """The code inside a cell's solution regions, dedented."""
    return "\n".join(textwrap.dedent(region) for region in SOLUTION.findall(source))


def _loaded(source: str) -> set[str]:
    """Names a cell reads."""
    return {node.id for node in ast.walk(ast.parse(source)) if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load)}


def exercises(teacher: Path) -> list[dict]:
    """Each graded check cell of a teacher notebook: its source, points, the answer names it passes (its
    ``my_`` names; in older lessons, names a solution region before it defines) and the teacher's answer
    cell(s) that define them."""
    cells = nbformat.read(teacher, as_version=4).cells
    found = []
    for index, cell in enumerate(cells):
        meta = cell.metadata.get("nbgrader", {})
        if cell.cell_type != "code" or not meta.get("grade") or meta.get("solution"):
            continue
        solutions = [c for c in cells[:index] if c.cell_type == "code" and c.metadata.get("nbgrader", {}).get("solution")]
        passed = _loaded(cell.source)
        names = sorted(name for name in passed if name.startswith("my_")) or sorted(  # older lessons: answer_1...
            passed & set().union(*(_bound(_regions(c.source)) for c in solutions)))
        defining = []
        for name in names:
            source = next(c.source for c in reversed(solutions) if name in _bound(c.source))
            if source not in defining:
                defining.append(source)
        found.append({"grade_id": meta["grade_id"], "points": float(meta.get("points", 0)), "cell": index,
                      "check_source": cell.source, "answer_names": names, "teacher_source": "\n".join(defining)})
    return found


def printed(notebook: nbformat.NotebookNode) -> list[tuple[str, str]]:
    """Every text a cell printed or displayed (stdout, stderr, plain-text results), with its cell."""
    texts = []
    for index, cell in enumerate(notebook.cells):
        for output in cell.get("outputs", []):
            text = output.get("text") or output.get("data", {}).get("text/plain", "")
            if text:
                texts.append((f"printed by cell {index}", text if isinstance(text, str) else "".join(text)))
    return texts


def prove(teacher: Path, work: Path, call_seconds: float = 20, budget: float = 180, cell_timeout: int = 1800) -> dict:
    """Make the student edition of ``teacher``, run it, attack its checks; returns the lesson's report."""
    start = time.perf_counter()
    work.mkdir(parents=True, exist_ok=True)
    student = classroom.student_edition([str(teacher)], work / "student", course=work / "course", quiet=True)[0]
    notebook = nbformat.read(student, as_version=4)
    graded = exercises(teacher)
    report: dict = {"lesson": teacher.stem, "exercises": [], "problems": []}
    os.environ["CIRCUITS_GRADING"] = "1"
    os.environ.pop("CIRCUITS_STRICT", None)
    kernel = course_kernel(Path(tempfile.mkdtemp(prefix="kernel-", dir=work)))
    client = NotebookClient(notebook, km=kernel, timeout=cell_timeout, startup_timeout=120,
                            resources={"metadata": {"path": str(teacher.parent)}})
    try:
        with client.setup_kernel():
            for index, cell in enumerate(notebook.cells):
                if cell.cell_type == "code":
                    client.execute_cell(cell, index)
            payload, result = work / "payload.json", work / "result.json"
            payload.write_text(json.dumps({"printed": printed(notebook), "exercises": graded,
                                           "call_seconds": call_seconds, "budget": budget}), encoding="utf-8")
            probe = nbformat.v4.new_code_cell(run_in_kernel(str(payload), str(result)))
            notebook.cells.append(probe)
            client.timeout = int(budget * (len(graded) + 1) + 600)
            client.execute_cell(probe, len(notebook.cells) - 1)
        found = json.loads(result.read_text(encoding="utf-8"))
    except Exception as error:  # the student edition itself failed: the lesson cannot be proved
        report["problems"].append(f"{type(error).__name__}: {str(error)[-2000:]}")
        return report
    report["pool"] = found["pool"]
    report["cpu_s"] = {"student edition": found["cpu_student_s"], "candidates": found["cpu_probe_s"]}
    for exercise, attack in zip(graded, found["exercises"]):
        attack["cell"] = exercise["cell"]
        if not exercise["answer_names"]:
            attack["problems"].append("the check cell passes no answer defined in a solution cell")
        report["exercises"].append(attack)
    report["seconds"] = round(time.perf_counter() - start, 1)
    return report


def failures(report: dict) -> list[str]:
    """What makes a lesson fail copy-proof (see the module's docstring)."""
    found = [f"{report['lesson']}: {problem}" for problem in report["problems"]]
    for attack in report["exercises"]:
        where = f"{report['lesson']} {attack['grade_id']}"
        found += [f"{where}: {problem}" for problem in attack["problems"]]
        if attack["full"]:
            shown = "; ".join(attack["full"][:5]) + (f"; and {len(attack['full']) - 5} more" if len(attack["full"]) > 5 else "")
            found.append(f"{where}: {len(attack['full'])} candidate(s) earn full points: {shown}")
        found += [f"{where}: {leak}" for leak in attack["leaks"]]
        if attack["untried_near"]:
            found.append(f"{where}: {attack['untried_near']} candidates near the teacher's answer left untried "
                         "(raise --budget, or make the check faster)")
    return found


def summary(report: dict) -> str:
    """One line per exercise: the answer kinds, candidates tried, and what earned points."""
    lines = [f"{report['lesson']}: {sum(a['tried'] for a in report['exercises'])} candidates "
             f"in {report.get('seconds', 0):.0f} s wall, CPU {report.get('cpu_s', {})} s; pool {report.get('pool', {})}"]
    for attack in report["exercises"]:
        kinds = ", ".join(f"{name}: {kind}" for name, kind in attack["kinds"].items()) or "-"
        lines.append(f"  {attack['grade_id']} ({attack['points']:g} pt; {kinds}): {attack['tried']} tried, "
                     f"{len(attack['full'])} full, {len(attack['partial'])} partial"
                     + (f" [{'; '.join(attack['partial'][:5])}]" if attack["partial"] else ""))
    return "\n".join(lines)


def _prove_one(arguments: tuple[str, str, float, float]) -> dict:
    teacher, work, call_seconds, budget = arguments
    return prove(Path(teacher), Path(work), call_seconds, budget)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("lessons", nargs="*", help="lessons (names in notebooks/ or teacher notebook paths)")
    parser.add_argument("--jobs", type=int, default=1, help="lessons proved at once (default 1)")
    parser.add_argument("--call-timeout", type=float, default=20, help="seconds one check call may take (default 20)")
    parser.add_argument("--budget", type=float, default=180, help="seconds of candidates per exercise (default 180)")
    parser.add_argument("--work", type=Path, default=ROOT / "build" / "copy_proof", help="working folder")
    parser.add_argument("--json", type=Path, help="also write every lesson's report as JSON")
    options = parser.parse_args(argv)
    teachers = classroom.lessons(options.lessons)
    jobs = [(str(t), str(options.work / t.stem), options.call_timeout, options.budget) for t in teachers]
    with ProcessPoolExecutor(max_workers=max(1, options.jobs)) as pool:
        reports = list(pool.map(_prove_one, jobs))
    problems = []
    for report in reports:
        print(summary(report))
        problems += failures(report)
    total = sum(a["tried"] for r in reports for a in r["exercises"])
    print(f"copy-proof: {total} candidates fed to {sum(len(r['exercises']) for r in reports)} checks "
          f"of {len(reports)} lessons")
    if options.json:
        options.json.write_text(json.dumps(reports, indent=1), encoding="utf-8")
    for problem in problems:
        print(f"FAIL {problem}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
