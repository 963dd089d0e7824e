"""Execute every notebook and render the course to static HTML, for reading without a kernel.

Usage: python scripts/render_course.py [--fast] [--out site] [notebooks ...]

Full mode (the default) runs each lesson at full size on the active model (InceptionV1 when its
weights are present); ``--fast`` uses the CI settings (CIRCUITS_FAST=1, offline), to show the build
works. Widget state is stored in the pages, so sliders show their last drawing.
"""
from __future__ import annotations

import argparse
import html
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import nbformat
from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import KernelManager
from nbconvert import HTMLExporter
from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError
from nbconvert.preprocessors import ExecutePreprocessor

ROOT = Path(__file__).resolve().parent.parent


def course_kernel(workdir: Path) -> KernelManager:
    """A kernel manager for this script's own Python (the course's environment, whatever kernels
    the machine has registered). On Linux and macOS it talks over Unix sockets in ``workdir`` rather
    than TCP ports, which another Jupyter starting at the same moment could take."""
    spec_dir = workdir / "kernels" / "course"
    spec_dir.mkdir(parents=True)
    spec = {"argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
            "display_name": "circuits course", "language": "python"}
    (spec_dir / "kernel.json").write_text(json.dumps(spec), encoding="utf-8")
    specs = KernelSpecManager(kernel_dirs=[str(workdir / "kernels")])
    if os.name != "posix":
        return KernelManager(kernel_name="course", kernel_spec_manager=specs)
    return KernelManager(kernel_name="course", kernel_spec_manager=specs, transport="ipc", ip=str(workdir / "k"))


def render(notebook: Path, out_dir: Path, timeout: int) -> tuple[Path, float]:
    """Execute one notebook in its own folder and write it as HTML; returns the page and seconds taken.

    Prints a line per code cell, so a slow or stuck cell is named while it runs."""
    start = time.perf_counter()
    nb = nbformat.read(notebook, as_version=4)

    def report(cell, cell_index: int, **_: object) -> None:
        if cell.cell_type == "code":
            print(f"  cell {cell_index} done at {time.perf_counter() - start:.0f} s", flush=True)

    executor = ExecutePreprocessor(timeout=timeout, startup_timeout=120, store_widget_state=True,
                                   on_cell_executed=report)
    with tempfile.TemporaryDirectory(prefix="render-") as workdir:
        kernel = course_kernel(Path(workdir))
        try:
            executor.preprocess(nb, {"metadata": {"path": str(notebook.parent)}}, km=kernel)
        finally:
            if kernel.has_kernel:
                kernel.shutdown_kernel()
    body, _ = HTMLExporter().from_notebook_node(nb)
    page = out_dir / f"{notebook.stem}.html"
    page.write_text(body, encoding="utf-8")
    return page, time.perf_counter() - start


def write_index(pages: list[tuple[Path, float]], out_dir: Path, fast: bool) -> Path:
    """An index page listing every lesson with the time it took to run."""
    rows = "\n".join(
        f'<li><a href="{html.escape(p.name)}">{html.escape(p.stem)}</a> ({seconds:.0f} s)</li>' for p, seconds in pages
    )
    mode = "fast mode (CI settings)" if fast else "full mode"
    index = out_dir / "index.html"
    index.write_text(
        f"<!doctype html><meta charset='utf-8'><title>Zoom In: the circuits course</title>"
        f"<h1>Zoom In: the circuits course</h1><p>Rendered in {mode}.</p><ol>{rows}</ol>",
        encoding="utf-8",
    )
    return index


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", type=Path, help="notebooks to render (default: all)")
    parser.add_argument("--fast", action="store_true", help="CI settings: fast and offline")
    parser.add_argument("--out", type=Path, default=ROOT / "site", help="output folder (default: site/)")
    parser.add_argument("--timeout", type=int, default=3600, help="seconds allowed per cell")
    args = parser.parse_args()
    if args.fast:
        os.environ["CIRCUITS_FAST"] = "1"
        os.environ["CIRCUITS_OFFLINE"] = "1"
    missing = [str(p) for p in args.notebooks if not p.is_file()]
    if missing:
        parser.error(f"no such notebook: {', '.join(missing)} (give .ipynb files, or none for every lesson)")
    notebooks = [p.resolve() for p in args.notebooks] or sorted((ROOT / "notebooks").glob("[0-9]*.ipynb"))
    args.out.mkdir(parents=True, exist_ok=True)
    pages = []
    for notebook in notebooks:
        print(f"rendering {notebook.name} ...", flush=True)
        try:
            page, seconds = render(notebook, args.out, args.timeout)
        except (CellExecutionError, CellTimeoutError, DeadKernelError) as error:
            print(f"{notebook.name} failed; nothing written for it:\n{error}", file=sys.stderr)
            return 1
        print(f"  {page} in {seconds:.0f} s", flush=True)
        pages.append((page, seconds))
    print(f"index: {write_index(pages, args.out, args.fast)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
