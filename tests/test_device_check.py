"""scripts/device_check.py and measure_lessons' GPU column, tested on the CPU: the arguments, the message on a
machine without a GPU (before any long work), and a tiny notebook run end to end with ``--device cpu``."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
import device_check  # noqa: E402
import measure_lessons  # noqa: E402


def test_without_a_gpu_it_says_so_and_stops_at_once(tmp_path: Path) -> None:
    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    start = time.perf_counter()
    done = subprocess.run([sys.executable, str(ROOT / "scripts" / "device_check.py"), "--out", str(tmp_path / "out")],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert "no CUDA GPU" in done.stderr and "Run this on a machine with a GPU" in done.stderr
    assert not (tmp_path / "out").exists(), "nothing is run or written before the device is found"
    assert time.perf_counter() - start < 60


def test_devices_it_understands() -> None:
    assert device_check.device_problem("cpu") is None
    assert "not understood" in device_check.device_problem("tpu")
    assert "not understood" in device_check.device_problem("cuda:x")
    assert device_check.main(["--device", "tpu"]) == 2


def test_the_commands_it_runs(tmp_path: Path) -> None:
    trained, control, table = device_check.commands("cuda:1", tmp_path, ["a.ipynb"], 60, control=True)
    assert "--gpu-memory" in trained and "CIRCUITS_STRICT=1" in trained and "CIRCUITS_DEVICE=cuda:1" in trained
    assert "--fast" not in trained and trained[-1] == "a.ipynb"
    assert f"CIRCUITS_CLAIMS_LOG={tmp_path / 'claims' / 'trained'}" in trained
    assert "--fast" in control and "CIRCUITS_WEIGHTS=random" in control and "CIRCUITS_STRICT=1" not in control
    assert table[1].endswith("claims_table.py") and table[2:4] == [str(tmp_path / "claims" / "trained"), str(tmp_path / "claims" / "control")]
    (only,) = device_check.commands("cpu", tmp_path, [], 60, control=False)
    assert "--gpu-memory" not in only


def _tiny_lesson(folder: Path) -> Path:
    cells = ["import os\nfrom pathlib import Path\nPath('device.txt').write_text(os.environ.get('CIRCUITS_DEVICE', '') + ' ' "
             "+ os.environ.get('CIRCUITS_STRICT', '') + ' ' + os.environ.get('CIRCUITS_FAST', '<unset>'))",
             "import torch\nx = torch.ones(1000, 1000)"]
    path = folder / "01_tiny.ipynb"
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(s) for s in cells]), path)
    return path


def test_a_tiny_lesson_on_the_cpu(tmp_path: Path) -> None:
    lesson = _tiny_lesson(tmp_path)
    out = tmp_path / "out"
    done = subprocess.run([sys.executable, str(ROOT / "scripts" / "device_check.py"), "--device", "cpu", "--no-control",
                           "--timeout", "60", "--out", str(out), str(lesson)],
                          capture_output=True, text=True, timeout=300, env={**os.environ, "CIRCUITS_FAST": "1"})
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert (tmp_path / "device.txt").read_text() == "cpu 1 <unset>"  # full mode, strict, on the asked device
    (row,) = json.loads((out / "lessons.json").read_text())["lessons"]
    assert row["ok"] and row["wall_s"] > 0 and row["peak_rss_mb"] > 0
    assert row["peak_gpu_allocated_mb"] is None and not row["gpu"]  # no GPU column on the CPU
    assert "| 01_tiny |" in (out / "lessons.md").read_text()


def test_the_gpu_memory_cell_is_measured_and_not_counted_as_a_lesson_cell(tmp_path: Path) -> None:
    lesson = _tiny_lesson(tmp_path)
    row = measure_lessons.measure(lesson, 60, {**os.environ, "CIRCUITS_OFFLINE": "1"}, gpu_memory=True)
    assert row.ok and row.cells == 2
    if torch.cuda.is_available():
        assert row.peak_gpu_allocated_mb is not None
    else:
        assert row.gpu == "no CUDA GPU in this kernel" and row.peak_gpu_allocated_mb is None
    table = measure_lessons.markdown_table([row], "test")
    assert "peak GPU allocated (MB)" in table and "| 01_tiny |" in table


def test_the_gpu_columns_of_the_table() -> None:
    rows = [measure_lessons.Measurement("01_a", 10, 20, 300, 1024, 1500, 2000, "H200"),
            measure_lessons.Measurement("02_b", 5, 6, 700, 512, 600, None, "H200")]
    table = measure_lessons.markdown_table(rows, "full mode")
    assert "GPU: H200" in table
    assert "| 01_a | 10 | 20 | 300 | 1024 | 1500 | 2000 | none |" in table
    assert "| 02_b | 5 | 6 | 700 | 512 | 600 | - | none |" in table
    assert "| **all** | 15 | 26 | 700 (max) | 1024 (max) | 1500 (max) | 2000 (max) | |" in table
    assert "GPU" not in measure_lessons.markdown_table([measure_lessons.Measurement("01_a", 1, 1, 1)], "cpu")
