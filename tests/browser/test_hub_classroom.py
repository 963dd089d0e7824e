"""A class on JupyterHub: three students log in at once, each runs a lesson and moves a slider.

The hub is the one docs/teaching.md describes, shrunk to a test: JupyterHub on 127.0.0.1 with
configurable-http-proxy (npm), the dummy authenticator and the simple local-process spawner, the
course's own environment as the users' environment, each student in a home folder of their own
holding a copy of the lesson. Everything is stopped at the end, within bounded time.

Needs chromium, playwright and configurable-http-proxy (``npm install -g configurable-http-proxy``);
skipped without them unless ``CIRCUITS_REQUIRE_BROWSER=1`` (CI sets it).
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from jupyter_page import (
    CHROMIUM, CHROMIUM_FLAGS, assert_no_error, cell_errors, free_port, nudge_slider, output_signature, require,
    start_run_all, wait_for_change, wait_until_idle, widget_boxes,
)

ROOT = Path(__file__).resolve().parents[2]
LESSON = ROOT / "notebooks" / "00_setup_and_tour.ipynb"
STUDENTS = ("ada", "grace", "alan")
START_TIMEOUT_S = 180
RUN_TIMEOUT_S = 600


def hub_config(folder: Path, port: int) -> Path:
    """Write a jupyterhub_config.py for a loopback-only hub whose users run this Python's Jupyter."""
    bin_dir = Path(sys.executable).parent
    environment = {key: os.environ[key] for key in ("PATH", "CIRCUITS_DATA_DIR") if key in os.environ}
    environment.update(CIRCUITS_FAST="1", CIRCUITS_OFFLINE="1", OMP_WAIT_POLICY="PASSIVE", OMP_NUM_THREADS="1")
    settings = folder / "lab-settings"
    settings.mkdir()
    shutil.copy(ROOT / "jupyter" / "overrides.json", settings / "overrides.json")
    config = f"""
c = get_config()
c.JupyterHub.bind_url = "http://127.0.0.1:{port}"
c.JupyterHub.hub_ip = "127.0.0.1"
c.JupyterHub.hub_port = {free_port()}
c.ConfigurableHTTPProxy.api_url = "http://127.0.0.1:{free_port()}"
c.JupyterHub.authenticator_class = "dummy"
c.Authenticator.allow_all = True
c.JupyterHub.spawner_class = "simple"
c.SimpleLocalProcessSpawner.home_dir_template = {str(folder / "home" / "{username}")!r}
c.Spawner.cmd = [{str(bin_dir / "jupyterhub-singleuser")!r}]
c.Spawner.args = ["--allow-root", "--LabApp.app_settings_dir={settings}"]
c.Spawner.default_url = "/lab"
c.Spawner.environment = {environment!r}
c.Spawner.start_timeout = {START_TIMEOUT_S}
c.Spawner.http_timeout = {START_TIMEOUT_S}
c.JupyterHub.db_url = "sqlite:///{folder / 'jupyterhub.sqlite'}"
c.JupyterHub.cookie_secret_file = {str(folder / 'cookie_secret')!r}
c.ConfigurableHTTPProxy.pid_file = {str(folder / 'proxy.pid')!r}
"""
    path = folder / "jupyterhub_config.py"
    path.write_text(config)
    return path


@pytest.fixture()
def hub(tmp_path: Path):
    """A running hub (its URL); each student's home already holds the lesson. Stopped afterwards."""
    require(("configurable-http-proxy (npm install -g configurable-http-proxy)",
             shutil.which("configurable-http-proxy") is not None))
    for student in STUDENTS:
        home = tmp_path / "home" / student
        home.mkdir(parents=True)
        shutil.copy(LESSON, home / LESSON.name)
    port = free_port()
    config = hub_config(tmp_path, port)
    log = open(tmp_path / "hub.log", "w")
    bin_dir = str(Path(sys.executable).parent)
    server = subprocess.Popen(
        [sys.executable, "-m", "jupyterhub", "-f", str(config)], cwd=tmp_path, stdout=log, stderr=subprocess.STDOUT,
        env={**os.environ, "PATH": bin_dir + os.pathsep + os.environ.get("PATH", "")}, start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + START_TIMEOUT_S
    while True:
        try:
            urllib.request.urlopen(f"{url}/hub/api", timeout=2).close()
            break
        except OSError:
            if time.time() > deadline or server.poll() is not None:
                _stop(server)
                pytest.fail(f"JupyterHub did not start; log: {(tmp_path / 'hub.log').read_text()[-3000:]}")
            time.sleep(1)
    yield url, tmp_path
    _stop(server)
    log.close()


def _stop(server: subprocess.Popen) -> None:
    """Stop the hub and everything it started (proxy, users' servers and kernels): one process group."""
    if server.poll() is None:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            pass
    try:
        os.killpg(server.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def _log_in(browser, url: str, student: str):
    """A fresh browser context (its own cookies) logged in as ``student``, on the lesson in their server."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.goto(f"{url}/hub/login", timeout=60_000)
    page.fill("input[name=username]", student)
    page.fill("input[name=password]", "any")
    page.click("input[type=submit], button[type=submit]")
    page.wait_for_url(f"**/user/{student}/**", timeout=START_TIMEOUT_S * 1000)
    page.goto(f"{url}/user/{student}/lab/tree/{LESSON.name}?reset", timeout=120_000)
    return page


def test_three_students_run_a_lesson_on_the_hub_at_once(hub) -> None:
    url, folder = hub
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_FLAGS)
        try:
            pages = {student: _log_in(browser, url, student) for student in STUDENTS}
            for page in pages.values():  # all three run at the same time
                start_run_all(page)
            wait_until_idle(list(pages.values()), RUN_TIMEOUT_S)
            for student, page in pages.items():
                assert not cell_errors(page), f"{student} sees an error: {cell_errors(page)[0][:500]}"
                widget = widget_boxes(page).first
                widget.scroll_into_view_if_needed()
                before = output_signature(widget)
                nudge_slider(widget.locator(".widget-slider .noUi-handle, .widget-hslider .noUi-handle").first, page)
                after = wait_for_change(widget, before, page)
                assert after != before, f"{student}'s slider did not change their output"
                assert_no_error(after, f"{student}'s widget")
        finally:
            browser.close()
    with urllib.request.urlopen(f"{url}/hub/api", timeout=10) as response:
        assert "version" in json.load(response)
    for student in STUDENTS:  # each student's server ran in their own home, on their own copy
        assert (folder / "home" / student / LESSON.name).exists()
