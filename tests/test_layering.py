"""CONTRIBUTING.md's layer map is the code's: every helpers module is listed once, none imports a layer above it, and
no module of a lettered sub-layer (4a, 4b, ...) imports another module of its own sub-layer."""
import ast
import re
from pathlib import Path

HELPERS = Path(__file__).resolve().parents[1] / "helpers"
CONTRIBUTING = HELPERS.parent / "CONTRIBUTING.md"


def modules() -> set[str]:
    """Top-level modules and packages of helpers (``featurevis`` for ``helpers/featurevis/``)."""
    names = {p.stem for p in HELPERS.glob("*.py") if p.stem != "__init__"}
    return names | {p.name for p in HELPERS.iterdir() if (p / "__init__.py").exists()}


def layer_map() -> dict[str, tuple[int, str]]:
    """{module: (layer, sub-layer letter or "")} read from the numbered list under CONTRIBUTING.md's "Layout" heading."""
    text = CONTRIBUTING.read_text().split("## Layout", 1)[1].split("\n## ", 1)[0]
    known, levels, level = modules(), {}, None
    for line in text.splitlines():
        start = re.match(r"\s+(\d)\. ", line)
        sub = re.match(r"\s+- (\d)([a-z])\. ", line)
        if start:
            level = (int(start.group(1)), "")
        elif sub:
            assert level is not None and int(sub.group(1)) == level[0], f"sub-layer {sub.group(1)}{sub.group(2)} outside layer {sub.group(1)}"
            level = (level[0], sub.group(2))
        if level is None:
            continue
        for name in re.findall(r"`([a-z_0-9]+)/?`", line):
            if name in known:
                assert name not in levels or levels[name] == level, f"{name} is listed in layers {levels[name]} and {level}"
                levels[name] = level
        if line.startswith("- ") and level is not None and not start:
            break
    return levels


def imported_helpers(path: Path) -> set[str]:
    """The top-level helpers modules a file imports (relative or absolute, at the top or inside a function)."""
    package = path.relative_to(HELPERS).parts[:-1]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = list(package[: len(package) - (node.level - 1)])
                parts = base + (node.module.split(".") if node.module else [])
                if parts:
                    found.add(parts[0])
                else:  # "from . import x" at the top of helpers
                    found.update(alias.name for alias in node.names)
            elif node.module and node.module.startswith("helpers."):
                found.add(node.module.split(".")[1])
        elif isinstance(node, ast.Import):
            found.update(a.name.split(".")[1] for a in node.names if a.name.startswith("helpers."))
    return found


def test_every_module_is_in_the_layer_map_once() -> None:
    levels = layer_map()
    assert set(levels) == modules(), f"not in CONTRIBUTING.md's layout: {sorted(modules() - set(levels))}"


def test_no_module_imports_one_above_it() -> None:
    levels = layer_map()
    wrong = []
    for path in HELPERS.rglob("*.py"):
        if path == HELPERS / "__init__.py":
            continue
        own = path.relative_to(HELPERS).parts[0].removesuffix(".py")
        for other in imported_helpers(path) - {own}:
            if other in levels and levels[other] > levels[own]:
                wrong.append(f"{path.relative_to(HELPERS)} (layer {written(levels[own])}) imports {other} (layer {written(levels[other])})")
            elif other in levels and levels[other] == levels[own] and levels[own][1]:
                wrong.append(f"{path.relative_to(HELPERS)} imports {other}, both in sub-layer {written(levels[own])}: "
                             "move one of them to a later sub-layer in CONTRIBUTING.md's map")
    assert not wrong, "\n".join(wrong)


def written(level: tuple[int, str]) -> str:
    """A layer as CONTRIBUTING.md writes it: ``3`` or ``4b``."""
    return f"{level[0]}{level[1]}"


def test_layer_four_is_split_into_ordered_sub_layers() -> None:
    subs = {letter for number, letter in layer_map().values() if number == 4}
    assert "" not in subs and len(subs) >= 2, f"layer 4's modules must each sit in a lettered sub-layer, got {sorted(subs)}"


def test_no_module_is_over_400_lines() -> None:
    long = {path.relative_to(HELPERS).as_posix(): n for path in HELPERS.rglob("*.py")
            if (n := len(path.read_text().splitlines())) > 400}
    assert not long, f"one job per module: split these (CONTRIBUTING.md, Layout): {long}"
