"""Every link from a lesson or a document into docs/glossary.md lands on one of its headings."""
from __future__ import annotations

import json
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LINK = re.compile(r"glossary\.md#([\w-]+)")


def anchor(heading: str) -> str:
    """The anchor GitHub and JupyterLab give a Markdown heading: lower case, punctuation dropped, spaces as hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def glossary_anchors() -> set[str]:
    text = (ROOT / "docs" / "glossary.md").read_text(encoding="utf-8")
    return {anchor(line[3:]) for line in text.splitlines() if line.startswith("## ")}


def linking_texts() -> dict[str, str]:
    texts = {}
    for notebook in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        cells = json.loads(notebook.read_text(encoding="utf-8"))["cells"]
        texts[notebook.name] = "\n".join("".join(cell["source"]) for cell in cells if cell["cell_type"] == "markdown")
    for document in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        texts[document.name] = document.read_text(encoding="utf-8")
    return texts


def test_the_anchor_rule_matches_githubs():
    assert anchor("Global average pooling") == "global-average-pooling"
    assert anchor("Decorrelated colour") == "decorrelated-colour"
    assert anchor("Pre-activation") == "pre-activation"


def test_every_glossary_link_lands_on_a_heading():
    anchors = glossary_anchors()
    broken = [f"{name}: #{target}" for name, text in linking_texts().items() for target in LINK.findall(text)
              if target not in anchors]
    assert not broken, "links to glossary headings that do not exist: " + ", ".join(broken)


def test_every_glossary_term_is_linked_from_somewhere():
    linked = {target for text in linking_texts().values() for target in LINK.findall(text)}
    assert glossary_anchors() - linked == set()
