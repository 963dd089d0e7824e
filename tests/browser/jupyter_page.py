"""Driving JupyterLab in Debian's chromium with Playwright: shared by the browser and hub tests.

Playwright's own browser download does not work offline, so the tests launch ``/usr/bin/chromium``.
"""
from __future__ import annotations

import os
import shutil
import socket
import time
from pathlib import Path

import pytest

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_FLAGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run", "--disable-quic",
]


def require(*tools: tuple[str, bool]) -> None:
    """Skip (or, with ``CIRCUITS_REQUIRE_BROWSER=1`` as in CI, fail) unless every ``(what, present)`` holds."""
    try:
        import playwright.sync_api  # noqa: F401
        has_playwright = True
    except ImportError:
        has_playwright = False
    wanted = [("chromium (apt-get install chromium)", Path(CHROMIUM).exists()),
              ("playwright (pip install playwright)", has_playwright), *tools]
    missing = [what for what, present in wanted if not present]
    if missing:
        message = "this test needs " + " and ".join(missing)
        if os.environ.get("CIRCUITS_REQUIRE_BROWSER") == "1":
            pytest.fail(message)
        pytest.skip(message)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def dismiss_dialogs(page) -> None:
    """Accept a kernel-selection dialog if JupyterLab shows one."""
    dialog = page.locator(".jp-Dialog .jp-mod-accept")
    if dialog.count():
        dialog.first.click()


def start_run_all(page) -> None:
    """Wait for the open notebook, then choose Run > Run All Cells (returns at once)."""
    notebook = page.locator(".jp-Notebook:visible").first
    notebook.wait_for(timeout=180_000)
    page.wait_for_timeout(1500)
    dismiss_dialogs(page)
    notebook.click(timeout=180_000)
    page.keyboard.press("Escape")
    page.locator("li.lm-MenuBar-item", has_text="Run").first.click()
    page.locator(".lm-Menu-item", has_text="Run All Cells").first.click()
    page.wait_for_timeout(3000)


def is_idle(page) -> bool:
    """True when no cell is queued or running and the kernel says it is idle."""
    dismiss_dialogs(page)
    busy = page.locator(".jp-InputPrompt", has_text="[*]").count()
    return busy == 0 and page.locator(".jp-Notebook-ExecutionIndicator[data-status='idle']").count() > 0


def wait_until_idle(pages: list, seconds: float) -> None:
    """Wait until every page's notebook has finished running, or fail after ``seconds``."""
    deadline = time.time() + seconds
    waiting = list(pages)
    while waiting and time.time() < deadline:
        waiting = [page for page in waiting if not is_idle(page)]
        if waiting:
            waiting[0].wait_for_timeout(2000)
    if waiting:
        pytest.fail(f"{len(waiting)} notebook(s) did not finish running in the browser within {seconds:.0f} s")


def cell_errors(page) -> list[str]:
    """The tracebacks the open notebook shows (JupyterLab renders errors as stderr outputs)."""
    outputs = page.locator(".jp-Notebook:visible .jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']")
    return [text for text in outputs.all_inner_texts() if "Traceback" in text or "Error" in text]


def output_signature(widget) -> str:
    """What the widget currently shows: its images' data and its text output."""
    images = widget.locator(".widget-output img")
    sources = [images.nth(i).get_attribute("src") or "" for i in range(images.count())]
    text = widget.locator(".widget-output").all_inner_texts()
    return "|".join(s[-200:] for s in sources) + "|" + "|".join(text)


def wait_for_change(widget, before: str, page, seconds: float = 120, settle_s: float = 4) -> str:
    """Wait until the output differs from ``before`` and then stays the same for ``settle_s`` seconds
    (a control moved twice queues two redraws: the next control must start from the last one)."""
    deadline = time.time() + seconds
    now = output_signature(widget)
    while time.time() < deadline and (now == before or not now.strip("|")):
        page.wait_for_timeout(500)
        now = output_signature(widget)
    stable_since = time.time()
    while time.time() < deadline and time.time() - stable_since < settle_s:
        page.wait_for_timeout(500)
        latest = output_signature(widget)
        if latest != now:
            now, stable_since = latest, time.time()
    return now


def nudge_slider(handle, page) -> None:
    """Move a slider two steps, towards whichever end it is not at."""
    at_max = handle.get_attribute("aria-valuenow") == handle.get_attribute("aria-valuemax")
    handle.focus()
    for _ in range(2):
        page.keyboard.press("ArrowLeft" if at_max else "ArrowRight")


def assert_no_error(after: str, where: str) -> None:
    """Fail if a widget's output shows a traceback or an error."""
    assert "Traceback" not in after and "Error" not in after.split("|")[-1][:200], f"{where}: {after[-500:]}"


def widget_boxes(page):
    """The course's widgets shown in the open notebook (a box holding controls and an output)."""
    return page.locator(".jp-Notebook:visible .jp-OutputArea-output .widget-vbox").filter(has=page.locator(".widget-output"))
