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
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from jupyter_page import (
    CHROMIUM, CHROMIUM_FLAGS, assert_no_error, free_port, nudge_slider, output_signature, require, start_run_all,
    wait_for_change, wait_until_idle, widget_boxes,
)

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = ROOT / "notebooks"
ARTIFACTS = ROOT / "artifacts" / "browser"
RUN_TIMEOUT_S = 900


def notebooks_with_widgets() -> list[Path]:
    """Lessons whose code uses the course's widgets."""
    found = []
    for path in sorted(NOTEBOOKS.glob("[0-9]*.ipynb")):
        cells = json.loads(path.read_text())["cells"]
        if any("helpers.widgets" in "".join(c["source"]) for c in cells if c["cell_type"] == "code"):
            found.append(path)
    return found


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """A JupyterLab server on 127.0.0.1 without a token, serving a copy of notebooks/."""
    require()
    root = tmp_path_factory.mktemp("lab")
    for path in notebooks_with_widgets():
        shutil.copy(path, root / path.name)
    port = free_port()
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
    require()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_FLAGS)
        yield instance
        instance.close()


def _shut_down_kernels(url: str) -> None:
    """End every session, so the next notebook's run has the CPU to itself."""
    with urllib.request.urlopen(f"{url}/api/sessions", timeout=10) as response:
        sessions = json.load(response)
    for session in sessions:
        request = urllib.request.Request(f"{url}/api/sessions/{session['id']}", method="DELETE")
        urllib.request.urlopen(request, timeout=30).close()


@pytest.mark.parametrize("notebook", notebooks_with_widgets(), ids=lambda p: p.name)
def test_every_control_redraws_its_output(lab, browser, notebook: Path) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(f"{lab}/lab/tree/{notebook.name}?reset")  # ?reset: open this notebook alone, not the last workspace
    start_run_all(page)
    wait_until_idle([page], RUN_TIMEOUT_S)
    widgets = widget_boxes(page)
    assert widgets.count() > 0, f"{notebook.name}: no widget was rendered"
    moved = 0
    for w in range(widgets.count()):
        widget = widgets.nth(w)
        widget.scroll_into_view_if_needed()
        sliders = widget.locator(".widget-slider .noUi-handle, .widget-hslider .noUi-handle")
        for s in range(sliders.count()):
            before = output_signature(widget)
            nudge_slider(sliders.nth(s), page)
            after = wait_for_change(widget, before, page)
            assert after != before, f"{notebook.name}: widget {w} slider {s} did not change the output"
            assert_no_error(after, f"{notebook.name}: widget {w} slider {s}")
            moved += 1
        dropdowns = widget.locator(".widget-dropdown select")
        for d in range(dropdowns.count()):
            select = dropdowns.nth(d)
            options = select.locator("option")
            if options.count() < 2:
                continue
            before = output_signature(widget)
            current = select.input_value()
            choice = next(options.nth(i).get_attribute("value") for i in range(options.count())
                          if options.nth(i).get_attribute("value") != current)
            select.select_option(choice)
            after = wait_for_change(widget, before, page)
            assert after != before, f"{notebook.name}: widget {w} dropdown {d} did not change the output"
            assert_no_error(after, f"{notebook.name}: widget {w} dropdown {d}")
            moved += 1
        widget.screenshot(path=str(ARTIFACTS / f"{notebook.stem}_widget{w}.png"))
    page.screenshot(path=str(ARTIFACTS / f"{notebook.stem}.png"), full_page=False)
    page.close()
    _shut_down_kernels(lab)
    assert moved > 0, f"{notebook.name}: widgets were shown but none had a control to move"
    assert not errors, f"{notebook.name}: page errors {errors}"
