"""Shared test fixtures.

``http_server``: a web server on 127.0.0.1 (a free port) serving a fresh folder from a background
thread, so download code can be tested without the network. Put files in ``server.root``, fetch
``server.url("name")``; ``server.requests`` lists the paths asked for; ``server.cut_after["name"] = n``
announces the full Content-Length but sends only ``n`` bytes, then hangs up; ``server.stop()`` shuts
it down so that connections are refused.
"""
from __future__ import annotations

import functools
import threading
from dataclasses import dataclass, field
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Iterator

import pytest


@dataclass
class LocalServer:
    """A running local HTTP server (see the module docstring)."""

    root: Path
    base_url: str
    requests: list[str] = field(default_factory=list)
    cut_after: dict[str, int] = field(default_factory=dict)
    _server: ThreadingHTTPServer | None = field(default=None, repr=False)
    _thread: threading.Thread | None = field(default=None, repr=False)

    def url(self, name: str) -> str:
        """The URL of a file in ``root``."""
        return f"{self.base_url}/{name}"

    def stop(self) -> None:
        """Shut the server down; later connections to its port are refused."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._thread.join(timeout=5)
            self._server = None


class _Handler(SimpleHTTPRequestHandler):
    state: LocalServer

    def log_message(self, format: str, *args) -> None:  # keep test output quiet
        pass

    def do_GET(self) -> None:
        name = self.path.lstrip("/")
        self.state.requests.append(self.path)
        if name in self.state.cut_after:
            data = (self.state.root / name).read_bytes()
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data[: self.state.cut_after[name]])
            self.wfile.flush()
            self.close_connection = True
            return
        super().do_GET()


@pytest.fixture
def http_server(tmp_path: Path) -> Iterator[LocalServer]:
    """A local HTTP server on 127.0.0.1 serving ``tmp_path / 'served'``; stopped after the test."""
    root = tmp_path / "served"
    root.mkdir()
    state = LocalServer(root=root, base_url="")
    handler = type("Handler", (_Handler,), {"state": state})
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(handler, directory=str(root)))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    state.base_url = f"http://127.0.0.1:{server.server_address[1]}"
    state._server, state._thread = server, thread
    yield state
    state.stop()
