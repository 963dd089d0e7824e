"""The static-HTML course builds: a lesson is executed and written with its outputs."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_render_course_writes_executed_pages(tmp_path: Path) -> None:
    lesson = ROOT / "notebooks" / "00_setup_and_tour.ipynb"
    done = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "render_course.py"), "--fast", "--out", str(tmp_path), str(lesson)],
        capture_output=True, text=True, timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    page = (tmp_path / "00_setup_and_tour.html").read_text()
    assert "data:image/png;base64" in page, "the page holds no rendered figure"
    assert "All checks passed for" in page, "the 'What we verified' cell did not run"
    assert "application/vnd.jupyter.widget-state+json" in page, "widget state was not stored"
    assert "00_setup_and_tour.html" in (tmp_path / "index.html").read_text()
