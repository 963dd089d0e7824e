"""How much of the code a student touches is theirs: solution lines against all code lines, per lesson.

Usage: python scripts/code_share.py [LESSON ...]   (default: every notebooks/NN_*.ipynb)

Counts the non-blank, non-comment lines of every code cell of the teacher editions, and among them the lines
inside ``### BEGIN SOLUTION`` / ``### END SOLUTION`` (what the student writes). It also prints the share
without the claims cells (the lesson's "What we verified", which the student reads rather than runs for its
code) and the import cells, so that a change in either is visible apart from new exercises.
"""
from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

import nbformat

sys.path.insert(0, str(Path(__file__).resolve().parent))
from classroom import SOLUTION, lessons  # noqa: E402


@dataclass
class Share:
    """Counted lines of one lesson (or of several, added up)."""

    solution: int = 0
    code: int = 0
    claims: int = 0
    imports: int = 0

    def __add__(self, other: "Share") -> "Share":
        return Share(self.solution + other.solution, self.code + other.code, self.claims + other.claims,
                     self.imports + other.imports)

    def row(self, name: str) -> str:
        rest = self.code - self.claims - self.imports
        return (f"| {name} | {self.solution} | {self.code} | {self.solution / max(self.code, 1):.1%} | "
                f"{self.solution / max(rest, 1):.1%} |")


def code_lines(source: str) -> list[str]:
    """The lines of a code cell that count: not blank, not a comment, not a solution marker."""
    return [line for line in source.splitlines() if line.strip() and not line.strip().startswith("#")]


def count(path: Path) -> Share:
    """The counted lines of one teacher notebook."""
    share = Share()
    for cell in nbformat.read(path, as_version=4).cells:
        if cell.cell_type != "code":
            continue
        lines = len(code_lines(cell.source))
        share.code += lines
        share.solution += sum(len(code_lines(region)) for region in SOLUTION.findall(cell.source))
        if "Claims(" in cell.source:
            share.claims += lines
        elif cell.source.lstrip().startswith(("import", "from")) and "helpers" in cell.source:
            share.imports += lines
    return share


def main(names: list[str]) -> None:
    total = Share()
    print("| lesson | solution lines | code lines | share | share without claims and imports |")
    print("|---|---:|---:|---:|---:|")
    for path in lessons(names):
        share = count(path)
        total += share
        print(share.row(path.stem))
    print(total.row("**all**"))
    print(f"\nclaims cells {total.claims} lines, import cells {total.imports} lines")


if __name__ == "__main__":
    main(sys.argv[1:])
