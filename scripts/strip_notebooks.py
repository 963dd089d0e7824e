"""Strip outputs and execution counts from the course's notebooks, in place, and give every cell an id.

nbformat 4.5 requires a unique ``id`` on every cell; a cell without one (written by a tool that predates it)
gets one made from the notebook's name, the cell's position and its text, so running this twice changes nothing.

Usage: python scripts/strip_notebooks.py [notebook.ipynb ...]   (default: every notebook in notebooks/)
"""
from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def strip(path: Path) -> bool:
    """Remove outputs, execution counts and run metadata from one notebook, add missing cell ids; True if it changed."""
    text = path.read_text(encoding="utf-8")
    notebook = json.loads(text)
    taken = {cell["id"] for cell in notebook.get("cells", []) if "id" in cell}
    for index, cell in enumerate(notebook.get("cells", [])):
        if "id" not in cell:
            seed = f"{path.name}\0{index}\0{''.join(cell.get('source', ''))}"
            cell["id"] = next(candidate for attempt in range(100)
                              if (candidate := hashlib.sha1(f"{seed}\0{attempt}".encode()).hexdigest()[:12]) not in taken)
            taken.add(cell["id"])
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
