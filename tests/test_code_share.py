"""scripts/code_share.py counts solution lines against code lines, apart from claims and import cells."""
from __future__ import annotations

import sys
from pathlib import Path

import nbformat

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
from code_share import count  # noqa: E402


def test_solution_claims_and_import_lines_are_counted_apart(tmp_path: Path) -> None:
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [
        nbformat.v4.new_code_cell("import torch\nfrom helpers import load_model\n\nmodel = load_model()"),
        nbformat.v4.new_markdown_cell("### BEGIN SOLUTION\nnot code\n### END SOLUTION"),
        nbformat.v4.new_code_cell("def my_answer(x):\n    # a comment\n    ...\n    ### BEGIN SOLUTION\n"
                                  "    y = x + 1\n\n    return y\n    ### END SOLUTION"),
        nbformat.v4.new_code_cell("claims = Claims('x', model)\nclaims.check('a', True, 'b')"),
    ]
    path = tmp_path / "00_x.ipynb"
    nbformat.write(notebook, path)
    share = count(path)
    assert (share.solution, share.code, share.claims, share.imports) == (2, 9, 2, 3)
