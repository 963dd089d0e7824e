"""The conda environment file and pyproject.toml must ask for the same packages."""
from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _pip_section(text: str) -> list[str]:
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip() == "- pip:")
    entries = []
    for line in lines[start + 1 :]:
        match = re.match(r"^\s+- (.+)$", line)
        if not match:
            break
        entries.append(match.group(1).strip())
    return entries


def _normalise(requirement: str) -> str:
    return re.sub(r"\s+", "", requirement).lower()


def test_environment_yml_matches_pyproject() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = project["dependencies"] + project["optional-dependencies"]["test"]
    listed = [entry for entry in _pip_section((ROOT / "environment.yml").read_text()) if not entry.startswith("-e")]
    assert sorted(map(_normalise, listed)) == sorted(map(_normalise, wanted))


def test_environment_yml_installs_the_course_itself() -> None:
    assert "-e ." in _pip_section((ROOT / "environment.yml").read_text())
