"""CONTRIBUTING.md's vocabulary is the code's: one plot verb, one word for "how many", one randomness argument, one
rule for progress bars, one spelling, and no module importing another module's private names.

Like test_layering.py, this reads helpers' source with ``ast`` (nothing is imported or run).
"""
from __future__ import annotations

import ast
import functools
import re
from pathlib import Path
from typing import Iterator

HELPERS = Path(__file__).resolve().parents[1] / "helpers"

#: The functions whose progress bar is off unless asked: measurements that lessons and other helpers call many
#: times in a loop (CONTRIBUTING.md, "Vocabulary"). Every other ``progress`` switch defaults to True.
QUIET = {
    "screen_curves", "screen_high_low", "screen_colour_contrast", "unit_responses", "rotation_tuning",
    "joint_rotation_tuning", "linearized_weights", "expanded_weights", "layer_features", "representations",
    "course_network",
}
HOW_MANY_WORDS = {"k", "top", "top_k", "n", "num", "number", "how_many", "show", "shown", "limit", "n_units", "num_units"}


@functools.cache
def sources() -> tuple[tuple[str, ast.Module], ...]:
    """(path relative to helpers/, parsed module) for every helpers file."""
    return tuple((path.relative_to(HELPERS).as_posix(), ast.parse(path.read_text())) for path in sorted(HELPERS.rglob("*.py")))


def public_functions(top_level: bool = False) -> Iterator[tuple[str, ast.FunctionDef]]:
    """Every public function and method of helpers (a name without a leading underscore); only the module-level
    functions when ``top_level`` (methods and a widget's callbacks are named by what they do for their object)."""
    for where, tree in sources():
        for node in (tree.body if top_level else ast.walk(tree)):
            if isinstance(node, ast.FunctionDef) and not node.name.startswith("_"):
                yield where, node


def parameters(function: ast.FunctionDef) -> list[ast.arg]:
    """Positional and keyword-only parameters of a function."""
    return function.args.posonlyargs + function.args.args + function.args.kwonlyargs


def test_a_function_that_returns_a_figure_is_named_something_figure() -> None:
    wrong = []
    for where, function in public_functions(top_level=True):
        returns = ast.unparse(function.returns) if function.returns else ""
        if re.fullmatch(r"(plt\.)?Figure|\"Figure\"", returns) and not function.name.endswith("_figure"):
            wrong.append(f"{where}: {function.name} returns a Figure: name it <what>_figure")
        if re.match(r"(plot|show)_", function.name):
            wrong.append(f"{where}: {function.name}: a figure is <what>_figure, drawing onto given axes draw_<what>")
        first = parameters(function)[0].arg if parameters(function) else ""
        if first in ("ax", "axes") and returns == "None" and not function.name.startswith("draw_"):
            wrong.append(f"{where}: {function.name} draws onto the axes it is given: name it draw_<what>")
        if function.name.startswith("draw_") and where.split("/")[0] in ("plotting", "widgets"):
            takes_axes = any(a.arg in ("ax", "axes") for a in parameters(function))
            if returns != "None" or not takes_axes:
                wrong.append(f"{where}: {function.name}: draw_<what> draws onto the axes it is given and returns None")
    assert not wrong, "\n".join(wrong)


def settings_fields() -> Iterator[tuple[str, str, str, str]]:
    """(path, class, field, annotation) of every public annotated field of a helpers class (a settings object's
    fields are its parameters)."""
    for where, tree in sources():
        for node in ast.walk(tree):
            if isinstance(node, ast.ClassDef):
                for item in node.body:
                    if isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name) \
                            and not item.target.id.startswith("_"):
                        yield where, node.name, item.target.id, ast.unparse(item.annotation)


def test_how_many_is_count() -> None:
    named = [(where, function.name, a.arg, ast.unparse(a.annotation) if a.annotation else "int")
             for where, function in public_functions() for a in parameters(function)]
    wrong = [f"{where}: {owner}({name}=...): say count (or max_<things> for an upper bound)"
             for where, owner, name, annotation in named + list(settings_fields())
             if (name in HOW_MANY_WORDS or name.endswith("_k")) and annotation.startswith("int")]
    assert not wrong, "\n".join(wrong)


def test_randomness_is_a_seed_or_a_generator() -> None:
    wrong = []
    for where, function in public_functions():
        for a in parameters(function):
            annotation = ast.unparse(a.annotation) if a.annotation else ""
            if a.arg in ("rng", "random_state", "gen", "random_generator", "random_seed"):
                wrong.append(f"{where}: {function.name}({a.arg}=...): take seed or generator")
            elif "Generator" in annotation and a.arg != "generator" and not (a.arg == "seed" and "int" in annotation):
                wrong.append(f"{where}: {function.name}({a.arg}: {annotation}): a generator is called generator")
            elif a.arg == "seed" and annotation and "int" not in annotation:
                wrong.append(f"{where}: {function.name}(seed: {annotation}): a seed is an int")
    assert not wrong, "\n".join(wrong)


def test_progress_is_keyword_only_and_on_except_for_measurements() -> None:
    wrong, quiet = [], set()
    for where, function in public_functions():
        kwonly = dict(zip((a.arg for a in function.args.kwonlyargs), function.args.kw_defaults))
        if "progress" in (a.arg for a in function.args.posonlyargs + function.args.args):
            wrong.append(f"{where}: {function.name}: progress must be keyword-only")
        elif "progress" in kwonly:
            default = kwonly["progress"]
            if not (isinstance(default, ast.Constant) and isinstance(default.value, bool)):
                wrong.append(f"{where}: {function.name}: progress defaults to True or False")
            elif default.value is False:
                quiet.add(function.name)
    assert not wrong, "\n".join(wrong)
    assert quiet == QUIET, (f"progress=False by default only on the measurements of QUIET: unexpected "
                            f"{sorted(quiet - QUIET)}, now on {sorted(QUIET - quiet)}")


def defined_names(tree: ast.Module) -> Iterator[tuple[int, str]]:
    """(line, name) of every function, class, parameter, assigned name and attribute a module defines."""
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            yield node.lineno, node.name
        elif isinstance(node, ast.arg):
            yield node.lineno, node.arg
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            yield node.lineno, node.id
        elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
            yield node.lineno, node.attr


def test_the_spelling_is_colour() -> None:
    wrong = [f"{where}:{line}: {name}" for where, tree in sources() for line, name in defined_names(tree)
             if "color" in name.lower()]
    assert not wrong, "write colour (matplotlib's own color= keyword excepted):\n" + "\n".join(wrong)


def test_no_module_imports_another_modules_private_names() -> None:
    wrong = []
    for where, tree in sources():
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and (node.level or (node.module or "").startswith("helpers")):
                for alias in node.names:
                    if alias.name.startswith("_") and not alias.name.startswith("__"):
                        wrong.append(f"{where}:{node.lineno} imports {alias.name}: make it public in its module")
    assert not wrong, "\n".join(wrong)
