"""Every lesson follows the exercise format of CONTRIBUTING.md's **Exercises** section.

Each rule is a function returning the problems it finds in one notebook (a list of cells), so the same
rules are tested on every lesson in notebooks/ and on small hand-made notebooks: one that follows the
format, and one that breaks each rule.
"""
from __future__ import annotations

import ast
import copy
import json
import re
from pathlib import Path
from typing import Callable

import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
HEADER = re.compile(r"^###\s+Exercise\s+(\d+):\s*\S", re.M)
MARKS = re.compile(r"\*\*Difficulty\*\*\s+[1-5]/5\s+·\s+\*\*Importance\*\*\s+[1-5]/5\s+·\s+\*\*Study time\*\*\s+\d+\s+min")
DISTILL = re.compile(r"https://distill\.pub/20\d\d/[\w/-]+#[\w-]+")

Cells = list[dict]


def text(cell: dict) -> str:
    return "".join(cell["source"])


def grading(cell: dict) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {})


def section(cells: Cells, title: str) -> list[str]:
    """The markdown text from the heading ``## title`` to the next ``## `` heading."""
    lines: list[str] = []
    inside = False
    for cell in cells:
        if cell["cell_type"] != "markdown":
            continue
        for line in text(cell).splitlines():
            if line.startswith("## "):
                inside = line[3:].strip().lower() == title.lower()
                continue
            if inside:
                lines.append(line)
    return lines


def headers_have_marks(cells: Cells) -> list[str]:
    """Every `### Exercise N: title` header has the difficulty, importance and study-time line."""
    problems = []
    headers = [(i, cell) for i, cell in enumerate(cells) if cell["cell_type"] == "markdown" and HEADER.search(text(cell))]
    if not headers:
        problems.append("no `### Exercise N: title` header")
    for i, cell in headers:
        if not MARKS.search(text(cell)):
            problems.append(f"cell {i}: no `**Difficulty** d/5 · **Importance** i/5 · **Study time** m min` line")
    numbers = [int(m) for _, cell in headers for m in HEADER.findall(text(cell))]
    if numbers != list(range(1, len(numbers) + 1)):
        problems.append(f"exercises are numbered {numbers}, not 1, 2, 3...")
    return problems


def implementation_exercises(cells: Cells) -> list[str]:
    """At least two answer cells define a `def my_...` function with a docstring and a `...` body before the solution."""
    found = 0
    problems = []
    for i, cell in enumerate(cells):
        if cell["cell_type"] != "code" or not grading(cell).get("solution"):
            continue
        source = text(cell)
        if not re.search(r"^\s*def my_\w+\(", source, re.M):
            continue
        found += 1
        before = source.partition("### BEGIN SOLUTION")[0]
        functions = [n for n in ast.walk(ast.parse(source)) if isinstance(n, ast.FunctionDef) and n.name.startswith("my_")]
        if not functions or not ast.get_docstring(functions[0]):
            problems.append(f"cell {i}: the `my_` function has no docstring")
        if not re.search(r"^\s+\.\.\.\s*$", before, re.M):
            problems.append(f"cell {i}: the body's `...` placeholder is missing before the solution region")
    if found < 2:
        problems.append(f"{found} implementation exercise(s) (answer cells defining `def my_...`); at least 2")
    return problems


def answers_are_my_names(cells: Cells) -> list[str]:
    """Every code answer cell defines a `my_` name, with its placeholder before the solution region."""
    problems = []
    for i, cell in enumerate(cells):
        if cell["cell_type"] != "code" or not grading(cell).get("solution"):
            continue
        before = text(cell).partition("### BEGIN SOLUTION")[0]
        if not re.search(r"^\s*(def my_\w+\(|my_\w+\s*=\s*\.\.\.)", before, re.M):
            problems.append(f"cell {i}: no `my_...` answer (a `def my_` function or a `my_answer = ...` placeholder)")
    return problems


def hints_fold(cells: Cells) -> list[str]:
    """Hints are folded in `<details><summary>Hint</summary>`, never written open."""
    problems = []
    for i, cell in enumerate(cells):
        if cell["cell_type"] != "markdown":
            continue
        open_hints = re.findall(r"^\s*\**\s*Hints?\b\s*[:.]?\**", re.sub(r"<details>.*?</details>", "", text(cell), flags=re.S | re.I),
                                re.M | re.I)
        if open_hints or re.search(r"\*Hint:?\*", text(cell)):
            problems.append(f"cell {i}: a hint written open; fold it in <details><summary>Hint</summary> ... </details>")
    if not any(re.search(r"<details>\s*<summary>\s*Hint", text(c), re.I) for c in cells if c["cell_type"] == "markdown"):
        problems.append("no hint folded in <details><summary>Hint</summary>")
    return problems


def written_answers(cells: Cells) -> list[str]:
    """At least one markdown answer graded by hand, with a `**Rubric**` in the teacher edition."""
    written = [(i, c) for i, c in enumerate(cells) if c["cell_type"] == "markdown"
               and grading(c).get("solution") and grading(c).get("grade")]
    problems = [] if written else ["no written answer (a markdown cell with nbgrader grade and solution)"]
    for i, cell in written:
        meta = grading(cell)
        if not meta.get("points"):
            problems.append(f"cell {i}: a written answer without points")
        if not re.match(r"(ex\d+-written|predict-[\w-]+)$", meta.get("grade_id", "")):
            problems.append(f"cell {i}: grade_id {meta.get('grade_id')!r} is neither exN-written nor predict-NAME")
        if not re.search(r"\*\*Rubric\*\*\s*\(\d+ points?\):", text(cell)):
            problems.append(f"cell {i}: no `**Rubric** (N points):` in the teacher's text")
    return problems


def opening(cells: Cells) -> list[str]:
    """The opening (the markdown cells after the first code cell) states the study time and the compute time and links sections of the Distill articles."""
    first = next((i for i, c in enumerate(cells) if c["cell_type"] == "markdown"), len(cells))
    end = next((i for i in range(first, len(cells))
                if cells[i]["cell_type"] == "code" or HEADER.search(text(cells[i]))), len(cells))
    start = "\n".join(text(c) for c in cells[first:end])
    problems = []
    if not re.search(r"study time", start, re.I):
        problems.append("the opening does not state the study time")
    if not re.search(r"compute time", start, re.I):
        problems.append("the opening does not state the compute time")
    if not DISTILL.search(start):
        problems.append("the opening links no section of a Distill article (https://distill.pub/YYYY/...#section)")
    return problems


def ending(cells: Cells) -> list[str]:
    """It ends with `## Takeaways` (3-5 bullet points) and `## Review questions` (at least 3, answers folded)."""
    problems = []
    headings = [line.strip() for c in cells if c["cell_type"] == "markdown" for line in text(c).splitlines()
                if line.startswith("## ")]
    if headings[-2:] != ["## Takeaways", "## Review questions"]:
        problems.append(f"the last sections are {headings[-2:]}, not ['## Takeaways', '## Review questions']")
    bullets = [line for line in section(cells, "Takeaways") if re.match(r"\s{0,1}[-*]\s+\S", line)]
    if not 3 <= len(bullets) <= 5:
        problems.append(f"## Takeaways has {len(bullets)} bullet points; 3-5")
    review = "\n".join(section(cells, "Review questions"))
    questions = re.findall(r"^\s{0,1}(?:\d+\.|[-*])\s+\S", review, re.M)
    if len(questions) < 3:
        problems.append(f"## Review questions has {len(questions)} questions; at least 3")
    if review.count("<details>") < 3:
        problems.append("the review questions' answers are not folded in <details> (one each)")
    if any(c["cell_type"] == "code" for c in cells[_last_heading(cells, "## Takeaways"):]):
        problems.append("code after ## Takeaways; the lesson ends with the takeaways and review questions")
    return problems


def _last_heading(cells: Cells, heading: str) -> int:
    hits = [i for i, c in enumerate(cells) if c["cell_type"] == "markdown" and heading in text(c).splitlines()]
    return hits[-1] if hits else len(cells)


def checks_are_locked_and_graded(cells: Cells) -> list[str]:
    """Each code answer is followed by a written answer graded by hand, or by a locked, graded check cell whose last expression calls one
    helpers.checks function with the `my_` answer (its value is the score); its points equal the check's
    ``points``."""
    problems = []
    imported = _check_points(cells)
    for i, cell in enumerate(cells):
        if cell["cell_type"] != "code" or not grading(cell).get("solution"):
            continue
        check = cells[i + 1] if i + 1 < len(cells) else None
        meta = grading(check) if check else {}
        if check and check["cell_type"] == "markdown" and meta.get("grade") and meta.get("solution"):
            continue  # a choice graded by hand with the written answer after it (the student's own experiment)
        if not (check and check["cell_type"] == "code" and meta.get("grade") and meta.get("locked")
                and not meta.get("solution")):
            problems.append(f"cell {i + 1}: not the locked, graded check of answer cell {i} (nor a written answer)")
            continue
        called = re.findall(r"\b(check_\w+)\(", text(check))
        if len(called) != 1:
            problems.append(f"cell {i + 1}: calls {called or 'no check_ function'}; one check per cell")
            continue
        if called[0] not in imported:
            problems.append(f"cell {i + 1}: {called[0]} is not imported from helpers.checks")
        elif imported[called[0]] is None:
            problems.append(f"cell {i + 1}: {called[0]} is not an @exercise check of helpers.checks (no `points`)")
        elif imported[called[0]] != meta.get("points"):
            problems.append(f"cell {i + 1}: graded with {meta.get('points')} points but "
                            f"{called[0]} gives {imported[called[0]]}")
        if not re.search(r"\bmy_\w+", text(check)):
            problems.append(f"cell {i + 1}: passes no `my_` answer to the check")
        body = ast.parse(text(check)).body
        if not (body and isinstance(body[-1], ast.Expr) and isinstance(body[-1].value, ast.Call)
                and getattr(body[-1].value.func, "id", "") == called[0]) or text(check).rstrip().endswith(";"):
            problems.append(f"cell {i + 1}: the check call must be the cell's last expression (its value is the "
                            "score nbgrader reads)")
    return problems


def _check_points(cells: Cells) -> dict[str, float | None]:
    """``points`` of every name the notebook imports from helpers.checks (None: not an @exercise check)."""
    import importlib

    points = {}
    for cell in cells:
        if cell["cell_type"] != "code":
            continue
        try:
            tree = ast.parse(text(cell))
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("helpers.checks"):
                module = importlib.import_module(node.module)
                for alias in node.names:
                    points[alias.asname or alias.name] = getattr(getattr(module, alias.name, None), "points", None)
    return points


RULES: list[Callable[[Cells], list[str]]] = [headers_have_marks, implementation_exercises, answers_are_my_names,
                                             hints_fold, written_answers, opening, ending,
                                             checks_are_locked_and_graded]


def cells_of(path: Path) -> Cells:
    return json.loads(path.read_text(encoding="utf-8"))["cells"]


@pytest.mark.parametrize("rule", RULES, ids=lambda rule: rule.__name__)
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.stem)
def test_lesson_follows_the_exercise_format(path: Path, rule: Callable[[Cells], list[str]]) -> None:
    problems = rule(cells_of(path))
    assert not problems, f"{path.name}: {rule.__doc__}\n" + "\n".join(problems)


# A small lesson in the format, and one way of breaking each rule.

def _md(source: str, nbgrader: dict | None = None) -> dict:
    return {"cell_type": "markdown", "metadata": {"nbgrader": nbgrader} if nbgrader else {}, "source": source}


def _code(source: str, nbgrader: dict | None = None) -> dict:
    return {"cell_type": "code", "metadata": {"nbgrader": nbgrader} if nbgrader else {}, "source": source,
            "outputs": [], "execution_count": None}


def _answer(grade_id: str) -> dict:
    return {"grade": False, "solution": True, "locked": False, "grade_id": grade_id, "schema_version": 3}


def _graded(grade_id: str, points: float) -> dict:
    return {"grade": True, "solution": False, "locked": True, "points": points, "grade_id": grade_id, "schema_version": 3}


MARK_LINE = "**Difficulty** 2/5 · **Importance** 4/5 · **Study time** 15 min"
HINT = "<details><summary>Hint</summary>\n\nTake the maximum.\n\n</details>"


def good_lesson() -> Cells:
    """A lesson in the format; its checks are lesson 00's helpers.checks functions (one point each)."""
    function = ('def my_strongest(maps):\n    """The channel with the largest maximum."""\n    ...\n'
                "    ### BEGIN SOLUTION\n    return int(maps.flatten(1).amax(1).argmax())\n    ### END SOLUTION\n")
    return [
        _code("from helpers import load_model, seed_everything\n"
              "from helpers.checks.tour import check_strongest_units, check_top_classes\n"
              "seed_everything(0)\nmodel = load_model()"),
        _md("# A lesson\n\n**What you will learn.** ...\n\nIt follows [Zoom In, claim 1]"
            "(https://distill.pub/2020/circuits/zoom-in/#claim-1).\n\n**Study time** about 60 min; "
            "**compute time** about 2 min on a laptop CPU."),
        _md(f"### Exercise 1: the strongest unit\n\n{MARK_LINE}\n\nWrite it.\n\n{HINT}"),
        _code(function, _answer("ex1-answer")),
        _code("check_strongest_units(my_strongest, model)", _graded("ex1-check", 2)),
        _md(f"### Exercise 2: a unit's name\n\n{MARK_LINE}\n\nWrite it.\n\n{HINT}"),
        _code('def my_name(layer, channel):\n    """The unit\'s name."""\n    ...\n'
              '    ### BEGIN SOLUTION\n    return f"{layer}:{channel}"\n    ### END SOLUTION\n', _answer("ex2-answer")),
        _code("check_top_classes(my_name, model)", _graded("ex2-check", 2)),
        _md(f"### Exercise 3: what it means\n\n{MARK_LINE}\n\nExplain."),
        _md("**Rubric** (2 points): one point for each of ...", {**_graded("ex3-written", 2), "solution": True,
                                                                   "locked": False}),
        _md("## Takeaways\n\n- one\n- two\n- three\n"),
        _md("## Review questions\n\n1. Why? <details><summary>Answer</summary>Because.</details>\n"
            "2. How? <details><summary>Answer</summary>So.</details>\n"
            "3. What? <details><summary>Answer</summary>That.</details>\n"),
    ]


def _without_marks(cells: Cells) -> None:
    cells[2]["source"] = cells[2]["source"].replace(MARK_LINE, "Difficulty: easy")


def _one_implementation(cells: Cells) -> None:
    cells[6]["source"] = "my_name = ...\n### BEGIN SOLUTION\nmy_name = str\n### END SOLUTION\n"


def _answer_not_my(cells: Cells) -> None:
    cells[3]["source"] = cells[3]["source"].replace("my_strongest", "strongest")


def _open_hint(cells: Cells) -> None:
    cells[2]["source"] = f"### Exercise 1: the strongest unit\n\n{MARK_LINE}\n\n*Hint:* take the maximum."


def _no_rubric(cells: Cells) -> None:
    cells[9]["source"] = "Explain it here."


def _no_written_answer(cells: Cells) -> None:
    cells[9]["metadata"] = {}


def _no_study_time(cells: Cells) -> None:
    cells[1]["source"] = cells[1]["source"].replace("**Study time** about 60 min; ", "")


def _no_distill_section(cells: Cells) -> None:
    cells[1]["source"] = cells[1]["source"].replace("#claim-1", "")


def _two_takeaways(cells: Cells) -> None:
    cells[10]["source"] = "## Takeaways\n\n- one\n- two\n"


def _two_review_questions(cells: Cells) -> None:
    cells[11]["source"] = cells[11]["source"].split("3. What?")[0]


def _no_review_section(cells: Cells) -> None:
    del cells[11]


def _unlocked_check(cells: Cells) -> None:
    cells[4]["metadata"]["nbgrader"]["locked"] = False


def _score_hidden(cells: Cells) -> None:
    cells[4]["source"] += ";"


def _wrong_points(cells: Cells) -> None:
    cells[4]["metadata"]["nbgrader"]["points"] = 3


BREAKS = {_without_marks: headers_have_marks, _one_implementation: implementation_exercises,
          _answer_not_my: answers_are_my_names, _open_hint: hints_fold, _no_rubric: written_answers,
          _no_written_answer: written_answers, _no_study_time: opening, _no_distill_section: opening,
          _two_takeaways: ending, _two_review_questions: ending, _no_review_section: ending,
          _unlocked_check: checks_are_locked_and_graded, _wrong_points: checks_are_locked_and_graded,
          _score_hidden: checks_are_locked_and_graded}


@pytest.mark.parametrize("rule", RULES, ids=lambda rule: rule.__name__)
def test_a_lesson_in_the_format_passes_every_rule(rule: Callable[[Cells], list[str]]) -> None:
    assert rule(good_lesson()) == []


@pytest.mark.parametrize("breaking", BREAKS, ids=lambda f: f.__name__.lstrip("_"))
def test_each_broken_rule_is_caught(breaking: Callable[[Cells], None]) -> None:
    cells = copy.deepcopy(good_lesson())
    breaking(cells)
    assert BREAKS[breaking](cells), f"{breaking.__name__} was not caught by {BREAKS[breaking].__name__}"
    others = [rule.__name__ for rule in RULES if rule is not BREAKS[breaking] and rule(cells)]
    assert not others or breaking is _answer_not_my, f"{breaking.__name__} also broke {others}"
