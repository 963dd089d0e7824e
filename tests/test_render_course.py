"""The static-HTML build (scripts/render_course.py): a notebook is executed by the course's own
Python and written as a page with its figures, widget state and an index; a broken notebook fails
loudly. The lessons' own contents are executed by nbval; here a small notebook keeps this quick."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "scripts" / "render_course.py"


def _notebook(folder: Path, name: str, *sources: str) -> Path:
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# A page")]
                                  + [nbformat.v4.new_code_cell(source) for source in sources])
    path = folder / name
    nbformat.write(nb, path)
    return path


def _render(*args: str | Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), "--fast", "--timeout", "240", *map(str, args)],
                          capture_output=True, text=True, timeout=540)


def test_render_writes_page_with_figure_widget_state_and_index(tmp_path: Path) -> None:
    lesson = _notebook(
        tmp_path, "lesson.ipynb",
        "import sys\nprint('kernel python:', sys.executable)",
        "%matplotlib inline\nfrom matplotlib import pyplot as plt\nplt.plot([0, 1], [1, 0]);",
        "import ipywidgets as widgets\nfrom helpers.widgets import Explorer\n"
        "Explorer(lambda n: n * n, {'n': widgets.IntSlider(value=3, max=9)}, title='square').widget",
    )
    out = tmp_path / "site"
    done = _render("--out", out, lesson)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    assert "cell 3 done" in done.stdout, "no progress line per cell"
    page = (out / "lesson.html").read_text()
    assert f"kernel python: {sys.executable}" in page, "the kernel did not run the course's own Python"
    assert "data:image/png;base64" in page, "the page holds no rendered figure"
    assert "application/vnd.jupyter.widget-state+json" in page, "widget state was not stored"
    assert "lesson.html" in (out / "index.html").read_text()


def test_render_fails_loudly_on_a_broken_notebook(tmp_path: Path) -> None:
    broken = _notebook(tmp_path, "broken.ipynb", "raise ValueError('this lesson is broken')")
    done = _render("--out", tmp_path / "site", broken)
    assert done.returncode == 1
    assert "broken.ipynb failed" in done.stderr and "this lesson is broken" in done.stderr
    assert not (tmp_path / "site" / "broken.html").exists()


def test_render_names_a_missing_notebook(tmp_path: Path) -> None:
    done = _render("--out", tmp_path / "site", tmp_path / "nowhere.ipynb")
    assert done.returncode == 2 and "no such notebook" in done.stderr and "nowhere.ipynb" in done.stderr
