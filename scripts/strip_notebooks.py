"""Strip outputs and execution counts from the course's notebooks, in place.

Usage: python scripts/strip_notebooks.py [notebook.ipynb ...]   (default: every notebook in notebooks/)
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def strip(path: Path) -> bool:
    """Remove outputs, execution counts and run metadata from one notebook; True if it changed."""
    text = path.read_text(encoding="utf-8")
    notebook = json.loads(text)
    for cell in notebook.get("cells", []):
        if cell.get("cell_type") == "code":
            cell["outputs"] = []
            cell["execution_count"] = None
        cell.get("metadata", {}).pop("execution", None)
    notebook.get("metadata", {}).pop("widgets", None)
    new_text = json.dumps(notebook, indent=1, ensure_ascii=False) + "\n"
    if new_text != text:
        path.write_text(new_text, encoding="utf-8")
        return True
    return False


def main(paths: list[str]) -> None:
    files = [Path(p) for p in paths] or sorted((ROOT / "notebooks").glob("*.ipynb"))
    for path in files:
        if strip(path):
            print(f"stripped {path}")


if __name__ == "__main__":
    main(sys.argv[1:])
