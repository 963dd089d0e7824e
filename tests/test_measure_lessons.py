"""scripts/measure_lessons.py: a lesson is executed in a fresh kernel, in full mode and offline unless
told otherwise, and its wall time, CPU time, peak memory and failed cells are recorded. A tiny
generated notebook keeps this quick: it burns a known amount of CPU, holds a known amount of memory,
reports its environment and has one failing cell."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "scripts" / "measure_lessons.py"


def _notebook(folder: Path) -> Path:
    cells = [
        "import os, time\nprint('FAST=' + os.environ.get('CIRCUITS_FAST', '<unset>'), 'OFFLINE=' + os.environ.get('CIRCUITS_OFFLINE', ''),"
        " 'EXTRA=' + os.environ.get('MEASURE_TEST_EXTRA', ''))",
        "block = bytearray(200 * 2**20)  # 200 MB held\nfor i in range(0, len(block), 4096): block[i] = 1",
        "t = time.process_time()\nwhile time.process_time() - t < 1.0: pass",
        "raise ValueError('a failing cell')",
        "print('after the failure')",
    ]
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(s) for s in cells])
    path = folder / "01_tiny.ipynb"
    nbformat.write(nb, path)
    return path


def test_measure_records_time_cpu_memory_and_failed_cells(tmp_path: Path) -> None:
    lesson = _notebook(tmp_path)
    out = tmp_path / "table.json"
    done = subprocess.run([sys.executable, str(SCRIPT), "--timeout", "60", "--env", "MEASURE_TEST_EXTRA=yes",
                           "--out", str(out), str(lesson)],
                          capture_output=True, text=True, timeout=180, env={**os.environ, "CIRCUITS_FAST": "1"})
    assert done.returncode == 1, done.stdout[-2000:] + done.stderr[-2000:]  # a cell failed
    record = json.loads(out.read_text())
    (row,) = record["lessons"]
    assert row["lesson"] == "01_tiny" and row["cells"] == 5
    assert row["failed_cells"] == [3] and not row["ok"]
    assert row["cpu_s"] >= 1.0, row
    assert row["wall_s"] >= row["cpu_s"] * 0.3
    assert row["peak_rss_mb"] >= 200, row
    assert "| 01_tiny |" in done.stdout
    assert "cell 4 done" in done.stdout, "the run stopped at the failing cell"


def test_fast_flag_env_and_markdown(tmp_path: Path) -> None:
    folder = tmp_path
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(
        "import os, pathlib\npathlib.Path('env.txt').write_text(os.environ.get('CIRCUITS_FAST', '<unset>') + ' '"
        " + os.environ.get('CIRCUITS_OFFLINE', '') + ' ' + os.environ.get('MEASURE_TEST_EXTRA', ''))")])
    lesson = folder / "02_env.ipynb"
    nbformat.write(nb, lesson)
    out = folder / "table.md"
    env = {**os.environ, "CIRCUITS_FAST": "1"}
    done = subprocess.run([sys.executable, str(SCRIPT), "--out", str(out), str(lesson)], capture_output=True, text=True,
                          timeout=120, env=env)
    assert done.returncode == 0, done.stderr[-2000:]
    assert (folder / "env.txt").read_text() == "<unset> 1 ", "full mode must unset CIRCUITS_FAST and set offline"
    assert "| 02_env |" in out.read_text() and "full mode" in out.read_text()
    done = subprocess.run([sys.executable, str(SCRIPT), "--fast", "--env", "MEASURE_TEST_EXTRA=x", str(lesson)],
                          capture_output=True, text=True, timeout=120, env=env)
    assert done.returncode == 0, done.stderr[-2000:]
    assert (folder / "env.txt").read_text() == "1 1 x"
    bad = subprocess.run([sys.executable, str(SCRIPT), "--env", "NOEQUALS", str(lesson)], capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "KEY=VALUE" in bad.stderr
