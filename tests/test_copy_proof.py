"""scripts/copy_proof.py catches a leaky check and passes a sound one, on a tiny hand-made lesson.

The lesson has five exercises: two sound (a function checked on held-out inputs; a number that is never
printed nor held), and three leaky ones, each the way issue 22 found them in the course: the reference
implementation imported by the notebook, a number the notebook prints, and a check whose message for a
wrong answer prints the right one.
"""
from __future__ import annotations

import importlib.util
import sys
import textwrap
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent

CHECKS = '''
"""The hand-made lesson's checks."""
import torch

from helpers.checks import Grade, call_answer, exercise, expect, expect_close


def cube(x):
    """The course's implementation of exercise 2 (which the lesson wrongly imports)."""
    return x ** 3


def _function_check(function, reference):
    grade = Grade()
    for x in (3.0, -2.5):
        with grade.part(f"x = {x}"):
            expect_close(call_answer(function, torch.tensor(x)), reference(torch.tensor(x)), "your result")
    return grade


@exercise(points=2)
def check_square(function):
    """Exercise 1: square a tensor (sound: held-out inputs)."""
    return _function_check(function, lambda x: x * x)


@exercise(points=2)
def check_cube(function):
    """Exercise 2: cube a tensor (leaky: the lesson imports the reference)."""
    return _function_check(function, cube)


@exercise
def check_mean(data, answer):
    """Exercise 3: the mean of the data (leaky: the lesson prints it)."""
    right = float(data.mean())
    expect(abs(answer - right) <= 1e-3 * abs(right), "That is not the mean.")
    return True


@exercise
def check_spread(data, answer):
    """Exercise 4: the sample standard deviation (sound: never printed nor held)."""
    right = float(data.std())
    expect(abs(answer - right) <= 1e-3 * right, "That is not the spread.", "Divide by n - 1.")
    return True


@exercise
def check_gap(data, answer):
    """Exercise 5: the largest step between neighbours (leaky: a wrong answer's message prints it)."""
    right = float((data[1:] - data[:-1]).abs().max())
    expect(abs(answer - right) <= 1e-3 * right, f"Not right: the largest step is {right:.4f}.")
    return True
'''


def _cell(kind: str, source: str, grade_id: str | None = None, points: float = 0, solution: bool = False):
    make = nbformat.v4.new_code_cell if kind == "code" else nbformat.v4.new_markdown_cell
    cell = make(textwrap.dedent(source).strip())
    if grade_id:
        cell.metadata["nbgrader"] = {"grade": not solution, "solution": solution, "locked": not solution,
                                     "grade_id": grade_id, "schema_version": 3, "task": False,
                                     **({"points": points} if not solution else {})}
    return cell


def _answer(number: int, source: str):
    return _cell("code", source, f"ex{number}-answer", solution=True)


def _check(number: int, source: str, points: float):
    return _cell("code", source, f"ex{number}-check", points=points)


def lesson(folder: Path) -> Path:
    """Write the hand-made teacher notebook and its checks module into ``folder``."""
    (folder / "fixture_checks.py").write_text(CHECKS, encoding="utf-8")
    cells = [
        _cell("code", """
            import torch
            from fixture_checks import check_cube, check_gap, check_mean, check_spread, check_square, cube
            data = torch.tensor([0.3, 1.7, 2.2, 4.9, 3.1])
            print(f"the mean is {float(data.mean()):.4f}")
        """),
        _answer(1, '''
            def my_square(x):
                """x squared."""
                ...
                ### BEGIN SOLUTION
                return x * x
                ### END SOLUTION
        '''),
        _check(1, "check_square(my_square)", 2),
        _answer(2, '''
            def my_cube(x):
                """x cubed."""
                ...
                ### BEGIN SOLUTION
                return x * x * x
                ### END SOLUTION
        '''),
        _check(2, "check_cube(my_cube)", 2),
        _answer(3, """
            my_mean = ...
            ### BEGIN SOLUTION
            my_mean = float(data.sum() / len(data))
            ### END SOLUTION
        """),
        _check(3, "check_mean(data, my_mean)", 1),
        _answer(4, """
            my_spread = ...
            ### BEGIN SOLUTION
            my_spread = float(((data - data.mean()) ** 2).sum().div(len(data) - 1).sqrt())
            ### END SOLUTION
        """),
        _check(4, "check_spread(data, my_spread)", 1),
        _answer(5, """
            my_gap = ...
            ### BEGIN SOLUTION
            my_gap = float(data.diff().abs().max())
            ### END SOLUTION
        """),
        _check(5, "check_gap(data, my_gap)", 1),
    ]
    path = folder / "99_fixture.ipynb"
    notebook = nbformat.v4.new_notebook(cells=cells)
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(notebook, path)
    return path


def _copy_proof():
    spec = importlib.util.spec_from_file_location("copy_proof", ROOT / "scripts" / "copy_proof.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


copy_proof = _copy_proof()


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> dict:
    folder = tmp_path_factory.mktemp("copy_proof")
    with pytest.MonkeyPatch.context() as patch:  # prove() sets grading mode for its kernel: keep it out of other tests
        patch.setenv("CIRCUITS_GRADING", "1")
        patch.delenv("CIRCUITS_STRICT", raising=False)
        return copy_proof.prove(lesson(folder), folder / "work", call_seconds=10, budget=60)


def _attack(report: dict, grade_id: str) -> dict:
    return next(a for a in report["exercises"] if a["grade_id"] == grade_id)


def test_the_student_edition_runs_and_every_teacher_answer_earns_full_points(report: dict) -> None:
    assert not report["problems"], report["problems"]
    assert [a["grade_id"] for a in report["exercises"]] == [f"ex{n}-check" for n in range(1, 6)]
    for attack in report["exercises"]:
        assert not attack["problems"], attack
        assert attack["teacher_score"] == attack["points"]
        assert attack["tried"] > 0, f"{attack['grade_id']}: no candidate was fed to the check"


def test_sound_checks_pass(report: dict) -> None:
    square, spread = _attack(report, "ex1-check"), _attack(report, "ex4-check")
    assert square["kinds"] == {"my_square": "function"} and spread["kinds"] == {"my_spread": "number"}
    for attack in (square, spread):
        assert not attack["full"] and not attack["leaks"], attack
    # the imported cube and the do-nothing functions were among the candidates of exercise 1
    assert square["tried"] >= 5


def test_the_imported_reference_implementation_is_caught(report: dict) -> None:
    assert any(entry.endswith("= cube") for entry in _attack(report, "ex2-check")["full"])


def test_a_printed_answer_is_caught(report: dict) -> None:
    assert any("printed by cell 0" in entry for entry in _attack(report, "ex3-check")["full"])


def test_a_check_that_prints_the_answer_is_caught(report: dict) -> None:
    gap = _attack(report, "ex5-check")
    assert any("2.7000" in leak for leak in gap["leaks"]), gap
    assert any("a check's message" in entry for entry in gap["full"]), gap


def test_failures_name_each_leak_and_nothing_else(report: dict) -> None:
    found = copy_proof.failures(report)
    assert {line.split(":")[0] for line in found} == {"99_fixture ex2-check", "99_fixture ex3-check",
                                                       "99_fixture ex5-check"}, found


def test_a_function_that_cannot_be_called_like_the_answer_is_ruled_out_without_a_check_call() -> None:
    sys.path.insert(0, str(ROOT / "scripts"))
    from copy_proof_probe import callable_like

    def answer(maps, layer, top=3):
        return maps

    assert callable_like(lambda a, b: 0, answer) and callable_like(lambda a, b, c=None, *rest: 0, answer)
    assert callable_like(lambda *args, **kwargs: 0, answer)
    assert not callable_like(lambda a: 0, answer) and not callable_like(lambda a, b, c, d: 0, answer)


def test_a_candidate_that_hooks_a_network_does_not_change_the_next_check() -> None:
    sys.path.insert(0, str(ROOT / "scripts"))
    import torch
    from copy_proof_probe import CheckCell

    network = torch.nn.Sequential(torch.nn.Linear(2, 2))
    check = CheckCell("my_answer(torch.zeros(1))\nfloat(network(torch.ones(1, 2)).shape[1])")
    namespace = {"torch": torch, "network": network}
    score, output = check.run({**namespace, "my_answer": network[0].register_forward_hook}, 10, (network,))
    assert score is None and "not callable" in output
    assert not network[0]._forward_hooks, "a tensor left as a forward hook breaks every later forward pass"
    score, output = check.run({**namespace, "my_answer": lambda x: x}, 10, (network,))
    assert score == 2.0, output
