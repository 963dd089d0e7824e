"""scripts/measure_lessons.py: a lesson is executed in a fresh kernel, in full mode and offline unless
told otherwise, and its wall time, CPU time, peak memory and failed cells are recorded. A tiny
generated notebook keeps this quick: it burns a known amount of CPU, holds a known amount of memory,
reports its environment and has one failing cell."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import psutil
import pytest

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


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_stops_the_run_and_its_kernel(tmp_path: Path, signum: int) -> None:
    # A cell that sleeps, after starting a child that leaves the kernel's process group: the signal
    # must end the script promptly, with a message and a non-zero status, and leave neither behind.
    pids = tmp_path / "pids.txt"
    code = ("import os, subprocess, sys, time, pathlib\n"
            "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)'], start_new_session=True)\n"
            f"pathlib.Path({str(pids)!r}).write_text(f'{{os.getpid()}} {{child.pid}}')\n"
            "time.sleep(600)")
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(code), nbformat.v4.new_code_cell("print('never')")])
    lesson = tmp_path / "03_sleep.ipynb"
    nbformat.write(nb, lesson)
    script = subprocess.Popen([sys.executable, str(SCRIPT), "--fast", "--out", str(tmp_path / "table.json"), str(lesson)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    left: list[int] = []
    try:
        deadline = time.monotonic() + 180
        while not pids.exists() or len(pids.read_text().split()) != 2:
            assert script.poll() is None and time.monotonic() < deadline, "the sleeping cell never started"
            time.sleep(0.2)
        left = [int(pid) for pid in pids.read_text().split()]
        script.send_signal(signum)
        out, err = script.communicate(timeout=30)  # generous: the stop itself takes about a second
        assert script.returncode == 128 + signum, (script.returncode, out[-2000:], err[-2000:])
        assert f"stopped by {signal.Signals(signum).name}" in err and "03_sleep" in err, err[-2000:]
        assert not (tmp_path / "table.json").exists()
        for pid in left:  # the kernel and its child: gone (or a zombie waiting for init to reap it)
            running = psutil.pid_exists(pid) and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
            assert not running, f"process {pid} outlived the stopped script"
    finally:
        for process in [script, *(psutil.Process(pid) for pid in left if psutil.pid_exists(pid))]:
            try:
                process.kill()
            except (OSError, psutil.Error):
                pass
        script.wait(timeout=30)
