"""Measure what each lesson costs to run: wall time, CPU time and peak memory of its kernel.

Usage: python scripts/measure_lessons.py [--fast] [--gpu-memory] [--env KEY=VAL ...] [--timeout S]
       [--out table.json|table.md] [notebooks ...]

Each lesson (default: every ``notebooks/NN_*.ipynb``) is executed top to bottom, one at a time, in a
fresh kernel running this script's own Python, in full mode (``CIRCUITS_FAST`` unset) and offline
(``CIRCUITS_OFFLINE=1``), as a student runs it; ``--fast`` measures CI's fast mode instead. While it
runs, the kernel process (and any process it starts) is polled: CPU time is user + system time of
the kernel and its children, peak memory the largest resident set seen (on Linux also the kernel's
own high-water mark, ``VmHWM``). A failing cell does not stop the run: the lesson goes on and the
failed cells are counted and named. The table is printed; ``--out`` also writes it as JSON (``.json``)
or Markdown (any other suffix, e.g. ``.md``), for the teacher's guide and the sizing of a hub.

``--gpu-memory`` adds each lesson's peak GPU memory: a last cell, appended to the kernel's copy of the
lesson, reads PyTorch's own high-water marks (``torch.cuda.max_memory_allocated`` and ``..._reserved``,
summed over the GPUs; a fresh kernel starts at zero), and ``nvidia-smi``, where present, is polled for
the kernel's processes, whose figure also holds the CUDA context that PyTorch does not count.

SIGTERM or SIGINT (Ctrl-C) stops the run at once: the running kernel and every process it started
are shut down, nothing is written, and the script exits with 128 + the signal's number (143, 130).
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import nbformat
import psutil
from nbclient import NotebookClient
from nbclient.exceptions import CellTimeoutError, DeadKernelError

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))
from render_course import course_kernel  # noqa: E402  (the same kernel set-up as the HTML build)


@dataclass
class Measurement:
    """What one lesson cost: seconds of wall and CPU time, peak resident memory, failed cells."""

    lesson: str
    wall_s: float = 0.0
    cpu_s: float = 0.0
    peak_rss_mb: float = 0.0
    peak_gpu_allocated_mb: float | None = None  # PyTorch's high-water mark (tensors), with --gpu-memory
    peak_gpu_reserved_mb: float | None = None  # PyTorch's caching allocator's high-water mark
    peak_gpu_process_mb: float | None = None  # nvidia-smi's largest reading for the kernel's processes (with the context)
    gpu: str = ""  # the GPU's name, or why there is no figure
    cells: int = 0
    failed_cells: list[int] = field(default_factory=list)
    error: str = ""

    @property
    def ok(self) -> bool:
        """True when every cell ran without an error."""
        return not self.failed_cells and not self.error


class Stopped(BaseException):
    """Raised in the main thread when SIGTERM or SIGINT arrives: the run stops and its kernel is shut down."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def _raise_stopped(signum: int, _frame: object) -> None:
    # A second signal while the kernel is being stopped ends the script at once (the signal's default).
    for other in (signal.SIGTERM, signal.SIGINT):
        signal.signal(other, signal.SIG_DFL)
    raise Stopped(signum)


def process_tree(pid: int | None) -> list[psutil.Process]:
    """A process and all its descendants (empty if ``pid`` is None or gone)."""
    if pid is None:
        return []
    try:
        root = psutil.Process(pid)
        return [root, *root.children(recursive=True)]
    except psutil.Error:
        return []


def stop_processes(tree: list[psutil.Process], grace: float = 3.0) -> None:
    """Terminate the processes still running (SIGTERM, then SIGKILL after ``grace`` seconds)."""
    for process in tree:
        try:
            process.terminate()
        except psutil.Error:
            pass
    _, alive = psutil.wait_procs(tree, timeout=grace)
    for process in alive:
        try:
            process.kill()
        except psutil.Error:
            pass
    psutil.wait_procs(alive, timeout=grace)


def _kernel_pid(kernel: object) -> int | None:
    """The kernel's process id, once it has started."""
    provisioner = getattr(kernel, "provisioner", None)
    process = getattr(provisioner, "process", None)
    return getattr(process, "pid", None)


class KernelMonitor:
    """Polls a process tree in a thread: the largest resident memory and the latest CPU time seen."""

    def __init__(self, pid: int, interval: float = 0.2, gpu: bool = False) -> None:
        self.process = psutil.Process(pid)
        self.interval = interval
        self.peak_rss = 0
        self.cpu = 0.0
        self.gpu = gpu and shutil.which("nvidia-smi") is not None
        self.peak_gpu_mb: float | None = None
        self._samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> "KernelMonitor":
        self.sample()
        self._thread.start()
        return self

    def stop(self) -> None:
        """Take a last sample (call it while the kernel is still alive) and stop polling."""
        self._stop.set()
        self._thread.join()
        self.sample()

    def sample(self) -> None:
        """Read the tree's CPU time and resident memory now; keep the maxima."""
        try:
            with self.process.oneshot():
                times = self.process.cpu_times()
                rss = self.process.memory_info().rss
                cpu = times.user + times.system + times.children_user + times.children_system
            peak = _high_water_mark(self.process.pid)
            children_cpu: dict[int, float] = {}
            for child in self.process.children(recursive=True):
                try:
                    child_times = child.cpu_times()
                    rss += child.memory_info().rss
                    children_cpu[child.pid] = child_times.user + child_times.system
                except psutil.Error:
                    continue
        except psutil.Error:  # the kernel is gone: keep what was seen last
            return
        # Live children count with their own times; once ended and waited for, in children_user/system.
        self.cpu = max(self.cpu, cpu + sum(children_cpu.values()))
        self.peak_rss = max(self.peak_rss, rss, peak)
        self._samples += 1
        if self.gpu and self._samples % 5 == 1:  # nvidia-smi takes tens of milliseconds: once a second
            used = gpu_memory_of({self.process.pid, *children_cpu})
            if used is not None:
                self.peak_gpu_mb = max(self.peak_gpu_mb or 0.0, used)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.sample()


def gpu_memory_of(pids: set[int]) -> float | None:
    """GPU memory (MB) that ``nvidia-smi`` reports for these processes, or None where it cannot say."""
    try:
        out = subprocess.run(["nvidia-smi", "--query-compute-apps=pid,used_memory", "--format=csv,noheader,nounits"],
                             capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    used = 0.0
    for line in out.splitlines():
        pid, _, memory = line.partition(",")
        if pid.strip().isdigit() and int(pid) in pids and memory.strip().replace(".", "", 1).isdigit():
            used += float(memory)
    return used


#: Appended to the kernel's copy of a lesson with --gpu-memory: PyTorch's peaks, written where the env says.
GPU_MEMORY_CELL = """import json as _json, os as _os, torch as _torch
_gpu = {"gpu": "no CUDA GPU in this kernel"}
if _torch.cuda.is_available():
    _count = _torch.cuda.device_count()
    _gpu = {"gpu": _torch.cuda.get_device_name(0),
            "allocated": sum(_torch.cuda.max_memory_allocated(d) for d in range(_count)) / 2**20,
            "reserved": sum(_torch.cuda.max_memory_reserved(d) for d in range(_count)) / 2**20}
open(_os.environ["MEASURE_GPU_FILE"], "w").write(_json.dumps(_gpu))"""


def _high_water_mark(pid: int) -> int:
    """The process's own peak resident memory in bytes (Linux ``VmHWM``), or 0 where unknown."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return 0


def measure(notebook: Path, timeout: int, env: dict[str, str], gpu_memory: bool = False) -> Measurement:
    """Execute one notebook in a fresh kernel with ``env`` and measure it; never raises on a failing cell.

    ``gpu_memory``: also record the peak GPU memory (see the module's docstring).

    The notebook runs in a worker thread, so this (main) thread keeps its SIGTERM and SIGINT handlers
    (nbclient would otherwise replace them with its own, which leave a running cell running): when
    :class:`Stopped` is raised here, the kernel and its children are stopped and it propagates.
    """
    result = Measurement(notebook.stem)
    nb = nbformat.read(notebook, as_version=4)
    result.cells = sum(cell.cell_type == "code" for cell in nb.cells)
    lesson_cells = len(nb.cells)
    gpu_file = Path(tempfile.mkstemp(prefix="measure-gpu-", suffix=".json")[1]) if gpu_memory else None
    if gpu_file is not None:
        nb.cells.append(nbformat.v4.new_code_cell(GPU_MEMORY_CELL))
        env = {**env, "MEASURE_GPU_FILE": str(gpu_file)}
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(env)
    monitor: KernelMonitor | None = None
    start = time.perf_counter()

    def started(**_: object) -> None:
        nonlocal monitor
        pid = client.km.provisioner.process.pid  # type: ignore[union-attr]
        monitor = KernelMonitor(pid, gpu=gpu_memory).start()

    def done(**_: object) -> None:
        if monitor is not None:
            monitor.stop()

    def report(cell, cell_index: int, **_: object) -> None:
        if cell.cell_type == "code":
            print(f"  cell {cell_index} done at {time.perf_counter() - start:.0f} s", flush=True)

    failure: list[BaseException] = []

    def execute() -> None:
        try:
            client.execute()
        except (CellTimeoutError, DeadKernelError, RuntimeError) as error:
            result.error = f"{type(error).__name__}: {str(error).strip().splitlines()[-1] if str(error).strip() else ''}"
        except BaseException as error:  # raised again in the main thread
            failure.append(error)

    try:
        with tempfile.TemporaryDirectory(prefix="measure-") as workdir:
            kernel = course_kernel(Path(workdir))
            client = NotebookClient(nb, km=kernel, timeout=timeout, startup_timeout=120, allow_errors=True,
                                    resources={"metadata": {"path": str(notebook.parent)}},
                                    on_notebook_start=started, on_notebook_complete=done,
                                    on_cell_executed=report)
            worker = threading.Thread(target=execute, name=f"measure {notebook.stem}", daemon=True)
            try:
                worker.start()
                while worker.is_alive():
                    worker.join(0.2)  # short waits, so a signal's handler runs promptly
                if failure:
                    raise failure[0]
            except Stopped:
                # Stop whatever kernel exists (one may still be starting) until the worker sees it die.
                deadline = time.monotonic() + 30
                while worker.is_alive() and time.monotonic() < deadline:
                    stop_processes(process_tree(_kernel_pid(kernel)))
                    worker.join(0.5)
                raise
            finally:
                if monitor is not None and not monitor._stop.is_set():
                    monitor.stop()
                # shutdown_kernel stops the kernel's process group; a child that left the group is stopped too.
                tree = process_tree(_kernel_pid(kernel))
                if kernel.has_kernel and not worker.is_alive():
                    kernel.shutdown_kernel(now=True)
                stop_processes(tree)
    finally:
        os.environ.clear()
        os.environ.update(saved)
    result.wall_s = time.perf_counter() - start
    if monitor is not None:
        result.cpu_s = monitor.cpu
        result.peak_rss_mb = monitor.peak_rss / 2**20
        result.peak_gpu_process_mb = monitor.peak_gpu_mb
    if gpu_file is not None:
        _read_gpu_file(gpu_file, result)
    code_cells = [i for i, cell in enumerate(nb.cells[:lesson_cells]) if cell.cell_type == "code"]
    result.failed_cells = [i for i in code_cells if any(out.get("output_type") == "error" for out in nb.cells[i].get("outputs", []))]
    return result


def _read_gpu_file(path: Path, result: Measurement) -> None:
    """Fill the GPU columns from what the appended cell wrote (nothing there: the lesson's kernel died first)."""
    try:
        record = json.loads(path.read_text(encoding="utf-8") or "{}")
    except (OSError, ValueError):
        record = {}
    finally:
        path.unlink(missing_ok=True)
    result.gpu = record.get("gpu", "not measured: the kernel did not reach the last cell")
    result.peak_gpu_allocated_mb = record.get("allocated")
    result.peak_gpu_reserved_mb = record.get("reserved")


def _mb(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f}"


def markdown_table(rows: list[Measurement], settings: str) -> str:
    """The measurements as a Markdown table (with GPU columns when any lesson's GPU memory was measured)."""
    gpu = any(r.gpu for r in rows)
    gpu_names = sorted({r.gpu for r in rows if r.gpu})
    head = "| lesson | wall (s) | CPU user+sys (s) | peak memory (MB) |"
    head += " peak GPU allocated (MB) | peak GPU reserved (MB) | GPU process, nvidia-smi (MB) |" if gpu else ""
    lines = [f"Measured by `scripts/measure_lessons.py` ({settings}); {os.cpu_count()} CPU cores"
             + (f"; GPU: {', '.join(gpu_names)}" if gpu else "") + ".", "",
             head + " failed cells |", "|---|---:|---:|---:|" + ("---:|---:|---:|" if gpu else "") + "---|"]
    for row in rows:
        failed = ", ".join(map(str, row.failed_cells)) or "none"
        if row.error:
            failed += f" ({row.error})"
        gpu_cells = (f" {_mb(row.peak_gpu_allocated_mb)} | {_mb(row.peak_gpu_reserved_mb)} | {_mb(row.peak_gpu_process_mb)} |"
                     if gpu else "")
        lines.append(f"| {row.lesson} | {row.wall_s:.0f} | {row.cpu_s:.0f} | {row.peak_rss_mb:.0f} |{gpu_cells} {failed} |")
    total = Measurement("total", sum(r.wall_s for r in rows), sum(r.cpu_s for r in rows),
                        max((r.peak_rss_mb for r in rows), default=0.0))
    most = lambda name: max((getattr(r, name) for r in rows if getattr(r, name) is not None), default=None)  # noqa: E731
    gpu_total = (f" {_mb(most('peak_gpu_allocated_mb'))} (max) | {_mb(most('peak_gpu_reserved_mb'))} (max) | "
                 f"{_mb(most('peak_gpu_process_mb'))} (max) |" if gpu else "")
    lines.append(f"| **all** | {total.wall_s:.0f} | {total.cpu_s:.0f} | {total.peak_rss_mb:.0f} (max) |{gpu_total} |")
    return "\n".join(lines)


def parse_env(pairs: list[str], fast: bool) -> dict[str, str]:
    """The kernel's environment: this one, offline, full mode unless ``fast``, plus ``KEY=VAL`` pairs."""
    env = dict(os.environ)
    env.pop("CIRCUITS_FAST", None)
    env["CIRCUITS_OFFLINE"] = "1"
    if fast:
        env["CIRCUITS_FAST"] = "1"
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ValueError(f"--env {pair!r}: write KEY=VALUE")
        env[key] = value
    return env


def _print_row(row: Measurement) -> None:
    print(f"  {row.wall_s:.0f} s wall, {row.cpu_s:.0f} s CPU, {row.peak_rss_mb:.0f} MB peak, "
          f"{'ok' if row.ok else 'FAILED cells ' + str(row.failed_cells) + (' ' + row.error if row.error else '')}",
          flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", type=Path, help="lessons to measure (default: every notebooks/NN_*.ipynb)")
    parser.add_argument("--fast", action="store_true", help="measure fast mode (CIRCUITS_FAST=1) instead of full mode")
    parser.add_argument("--env", action="append", default=[], metavar="KEY=VAL", help="extra kernel environment (repeatable)")
    parser.add_argument("--timeout", type=int, default=1800, help="seconds allowed per cell (default 1800)")
    parser.add_argument("--out", type=Path, action="append", default=[],
                        help="also write the table: .json, or Markdown for any other suffix (repeatable)")
    parser.add_argument("--gpu-memory", action="store_true", help="also record each lesson's peak GPU memory")
    args = parser.parse_args(argv)
    missing = [str(p) for p in args.notebooks if not p.is_file()]
    if missing:
        parser.error(f"no such notebook: {', '.join(missing)}")
    try:
        env = parse_env(args.env, args.fast)
    except ValueError as error:
        parser.error(str(error))
    notebooks = [p.resolve() for p in args.notebooks] or sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    settings = ("fast" if args.fast else "full") + " mode, offline" + "".join(f", {p}" for p in args.env)
    rows = []
    previous = {signum: signal.signal(signum, _raise_stopped) for signum in (signal.SIGTERM, signal.SIGINT)}
    try:
        for notebook in notebooks:
            print(f"measuring {notebook.name} ({settings}) ...", flush=True)
            try:
                row = measure(notebook, args.timeout, env, args.gpu_memory)
            except Stopped as stop:
                print(f"stopped by {stop} while measuring {notebook.name}: its kernel and the processes it started "
                      f"were shut down; {len(rows)} lesson(s) measured before it, nothing written.",
                      file=sys.stderr, flush=True)
                return 128 + stop.signum
            _print_row(row)
            rows.append(row)
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    table = markdown_table(rows, settings)
    print(table)
    for out in args.out:
        out.parent.mkdir(parents=True, exist_ok=True)
        if out.suffix == ".json":
            record = {"settings": settings, "cpu_cores": os.cpu_count(),
                      "lessons": [asdict(r) | {"ok": r.ok} for r in rows]}
            out.write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
        else:
            out.write_text(table + "\n", encoding="utf-8")
        print(f"written: {out}")
    return 0 if all(r.ok for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
