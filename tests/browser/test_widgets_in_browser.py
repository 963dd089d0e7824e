"""End to end in a real browser: JupyterLab runs each notebook that has widgets, a robot moves
every slider and dropdown, and the figure (or numbers) in the widget's output must change.

Needs Debian's chromium (``apt-get install chromium``) and the ``playwright`` Python package (its
own browser download is not used). Skipped when chromium is missing, unless
``CIRCUITS_REQUIRE_BROWSER=1`` (CI sets it), in which case that is a failure.
Screenshots land in ``artifacts/browser/``.
"""
from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = ROOT / "notebooks"
ARTIFACTS = ROOT / "artifacts" / "browser"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_FLAGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run", "--disable-quic",
]
RUN_TIMEOUT_S = 900


def notebooks_with_widgets() -> list[Path]:
    """Lessons whose code uses the course's widgets."""
    found = []
    for path in sorted(NOTEBOOKS.glob("[0-9]*.ipynb")):
        cells = json.loads(path.read_text())["cells"]
        if any("helpers.widgets" in "".join(c["source"]) for c in cells if c["cell_type"] == "code"):
            found.append(path)
    return found


def _require_browser() -> None:
    missing = []
    if not Path(CHROMIUM).exists():
        missing.append("chromium (apt-get install chromium)")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        missing.append("playwright (pip install playwright)")
    if missing:
        message = "browser test needs " + " and ".join(missing)
        if os.environ.get("CIRCUITS_REQUIRE_BROWSER") == "1":
            pytest.fail(message)
        pytest.skip(message)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """A JupyterLab server on 127.0.0.1 without a token, serving a copy of notebooks/."""
    _require_browser()
    root = tmp_path_factory.mktemp("lab")
    for path in notebooks_with_widgets():
        shutil.copy(path, root / path.name)
    port = _free_port()
    env = dict(os.environ, CIRCUITS_FAST="1", CIRCUITS_OFFLINE="1", JUPYTER_CONFIG_DIR=str(root / ".jupyter"))
    env.pop("MPLBACKEND", None)  # kernels draw with the inline backend, as in a student's JupyterLab
    settings = root / "settings"
    settings.mkdir()
    shutil.copy(ROOT / "jupyter" / "overrides.json", settings / "overrides.json")
    server = subprocess.Popen(
        [sys.executable, "-m", "jupyter", "lab", "--no-browser", f"--port={port}", "--ip=127.0.0.1",
         "--allow-root", "--IdentityProvider.token=", "--ServerApp.password=", "--ServerApp.disable_check_xsrf=True",
         f"--ServerApp.root_dir={root}", f"--LabApp.app_settings_dir={settings}",
         "--LabServerApp.workspaces_dir=" + str(root / "workspaces")],
        env=env, stdout=subprocess.DEVNULL, stderr=open(root / "server.log", "w"),
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 120
    while True:
        try:
            urllib.request.urlopen(f"{url}/api/status", timeout=2)
            break
        except OSError:
            if time.time() > deadline or server.poll() is not None:
                server.kill()
                pytest.fail(f"JupyterLab did not start; log: {(root / 'server.log').read_text()[-2000:]}")
            time.sleep(1)
    yield url
    server.terminate()
    try:
        server.wait(timeout=20)
    except subprocess.TimeoutExpired:
        server.kill()


@pytest.fixture(scope="module")
def browser():
    _require_browser()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_FLAGS)
        yield instance
        instance.close()


def _dismiss_dialogs(page) -> None:
    """Accept a kernel-selection dialog if JupyterLab shows one."""
    dialog = page.locator(".jp-Dialog .jp-mod-accept")
    if dialog.count():
        dialog.first.click()


def _shut_down_kernels(url: str) -> None:
    """End every session, so the next notebook's run has the CPU to itself."""
    with urllib.request.urlopen(f"{url}/api/sessions", timeout=10) as response:
        sessions = json.load(response)
    for session in sessions:
        request = urllib.request.Request(f"{url}/api/sessions/{session['id']}", method="DELETE")
        urllib.request.urlopen(request, timeout=30).close()


def _run_all_cells(page) -> None:
    notebook = page.locator(".jp-Notebook:visible").first
    notebook.wait_for(timeout=180_000)
    page.wait_for_timeout(1500)
    _dismiss_dialogs(page)
    notebook.click(timeout=180_000)
    page.keyboard.press("Escape")
    page.locator("li.lm-MenuBar-item", has_text="Run").first.click()
    page.locator(".lm-Menu-item", has_text="Run All Cells").first.click()
    deadline = time.time() + RUN_TIMEOUT_S
    page.wait_for_timeout(3000)
    while time.time() < deadline:
        _dismiss_dialogs(page)
        busy = page.locator(".jp-InputPrompt", has_text="[*]").count()
        if busy == 0 and page.locator(".jp-Notebook-ExecutionIndicator[data-status='idle']").count():
            return
        page.wait_for_timeout(2000)
    pytest.fail("the notebook did not finish running in the browser")


def _output_signature(widget) -> str:
    """What the widget currently shows: its images' data and its text output."""
    images = widget.locator(".widget-output img")
    sources = [images.nth(i).get_attribute("src") or "" for i in range(images.count())]
    text = widget.locator(".widget-output").all_inner_texts()
    return "|".join(s[-200:] for s in sources) + "|" + "|".join(text)


def _wait_for_change(widget, before: str, page, seconds: float = 120, settle_s: float = 4) -> str:
    """Wait until the output differs from ``before`` and then stays the same for ``settle_s`` seconds
    (a control moved twice queues two redraws: the next control must start from the last one)."""
    deadline = time.time() + seconds
    now = _output_signature(widget)
    while time.time() < deadline and (now == before or not now.strip("|")):
        page.wait_for_timeout(500)
        now = _output_signature(widget)
    stable_since = time.time()
    while time.time() < deadline and time.time() - stable_since < settle_s:
        page.wait_for_timeout(500)
        latest = _output_signature(widget)
        if latest != now:
            now, stable_since = latest, time.time()
    return now


def _assert_no_error(after: str, where: str) -> None:
    assert "Traceback" not in after and "Error" not in after.split("|")[-1][:200], f"{where}: {after[-500:]}"


@pytest.mark.parametrize("notebook", notebooks_with_widgets(), ids=lambda p: p.name)
def test_every_control_redraws_its_output(lab, browser, notebook: Path) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(f"{lab}/lab/tree/{notebook.name}?reset")  # ?reset: open this notebook alone, not the last workspace
    _run_all_cells(page)
    widgets = page.locator(".jp-Notebook:visible .jp-OutputArea-output .widget-vbox").filter(has=page.locator(".widget-output"))
    assert widgets.count() > 0, f"{notebook.name}: no widget was rendered"
    moved = 0
    for w in range(widgets.count()):
        widget = widgets.nth(w)
        widget.scroll_into_view_if_needed()
        sliders = widget.locator(".widget-slider .noUi-handle, .widget-hslider .noUi-handle")
        for s in range(sliders.count()):
            before = _output_signature(widget)
            handle = sliders.nth(s)
            at_max = handle.get_attribute("aria-valuenow") == handle.get_attribute("aria-valuemax")
            handle.focus()
            for _ in range(2):  # two steps, towards whichever end the slider is not at
                page.keyboard.press("ArrowLeft" if at_max else "ArrowRight")
            after = _wait_for_change(widget, before, page)
            assert after != before, f"{notebook.name}: widget {w} slider {s} did not change the output"
            _assert_no_error(after, f"{notebook.name}: widget {w} slider {s}")
            moved += 1
        dropdowns = widget.locator(".widget-dropdown select")
        for d in range(dropdowns.count()):
            select = dropdowns.nth(d)
            options = select.locator("option")
            if options.count() < 2:
                continue
            before = _output_signature(widget)
            current = select.input_value()
            choice = next(options.nth(i).get_attribute("value") for i in range(options.count())
                          if options.nth(i).get_attribute("value") != current)
            select.select_option(choice)
            after = _wait_for_change(widget, before, page)
            assert after != before, f"{notebook.name}: widget {w} dropdown {d} did not change the output"
            _assert_no_error(after, f"{notebook.name}: widget {w} dropdown {d}")
            moved += 1
        widget.screenshot(path=str(ARTIFACTS / f"{notebook.stem}_widget{w}.png"))
    page.screenshot(path=str(ARTIFACTS / f"{notebook.stem}.png"), full_page=False)
    page.close()
    _shut_down_kernels(lab)
    assert moved > 0, f"{notebook.name}: widgets were shown but none had a control to move"
    assert not errors, f"{notebook.name}: page errors {errors}"
