"""Shared test fixtures.

``http_server``: a web server on 127.0.0.1 (a free port) serving a fresh folder from a background
thread, so download code can be tested without the network. Put files in ``server.root``, fetch
``server.url("name")``; ``server.requests`` lists the paths asked for; ``server.cut_after["name"] = n``
announces the full Content-Length but sends only ``n`` bytes, then hangs up; ``server.stop()`` shuts
it down so that connections are refused.

``high_low_model``: a tiny hand-built network (48 px input) with known high-low frequency detectors.
Layer ``energy`` (3x3 Laplacian, both signs, + ReLU) fires on fine texture anywhere, so both its
units are high-frequency units. Layer ``highlow`` (15x15 + ReLU): unit 0 adds the energy on the
right half of its field and subtracts the left half (fine side at 0 degrees); unit 1 is its mirror
(fine side at 180 degrees); unit 2 reads the whole field evenly (a texture unit, no boundary).
"""
from __future__ import annotations

import functools
import threading
from dataclasses import dataclass, field
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Iterator

import pytest
import torch
from torch import nn

from helpers import CircuitModel, wrap_model


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


@pytest.fixture(scope="session")
def high_low_model() -> CircuitModel:
    """The tiny high-low frequency network described in the module docstring, wrapped for the course's tools."""
    laplacian = torch.tensor([[0.0, 1, 0], [1, -4, 1], [0, 1, 0]]) / 3
    energy = nn.Conv2d(3, 2, 3, padding=1, bias=False)
    highlow = nn.Conv2d(2, 3, 15, padding=7)
    with torch.no_grad():
        energy.weight[0] = laplacian
        energy.weight[1] = -laplacian
        highlow.weight.zero_()
        highlow.bias.fill_(-0.01)
        highlow.weight[0, :, :, 8:] = 1 / 105
        highlow.weight[0, :, :, :7] = -1 / 105
        highlow.weight[1] = highlow.weight[0].flip(-1)
        highlow.weight[2] = 1 / 225
    module = nn.Sequential(energy, nn.ReLU(), highlow, nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten())
    return wrap_model(module, {"energy": "1", "highlow": "3"}, name="tiny_highlow", input_size=48)


# --- exercise checks --------------------------------------------------------------------------------
@pytest.fixture
def strict(monkeypatch: pytest.MonkeyPatch) -> None:
    """Strict mode, as when grading: a wrong or missing answer raises instead of printing."""
    monkeypatch.setenv("CIRCUITS_STRICT", "1")


@dataclass
class ExerciseProbe:
    """Asserts about an exercise check: a guess is rejected; the placeholder ``...`` is 'not attempted'."""

    monkeypatch: pytest.MonkeyPatch
    capsys: pytest.CaptureFixture

    def rejected(self, check, *args) -> None:
        """``check(*args)`` fails as a wrong answer (not as a missing one)."""
        from helpers.checks import ExerciseError, NotAttempted

        with pytest.raises(ExerciseError) as caught:
            check(*args)
        assert not isinstance(caught.value, NotAttempted), caught.value

    def not_attempted(self, *calls) -> None:
        """Each call (with ``...`` as the answer) raises NotAttempted when strict, else prints it and returns a score of 0."""
        from helpers.checks import NotAttempted

        for call in calls:
            with pytest.raises(NotAttempted):
                call()
        self.monkeypatch.delenv("CIRCUITS_STRICT")
        for call in calls:
            assert not call()
            assert "Not attempted yet" in self.capsys.readouterr().out
        self.monkeypatch.setenv("CIRCUITS_STRICT", "1")


@pytest.fixture
def exercise_probe(strict: None, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> ExerciseProbe:
    """An :class:`ExerciseProbe` in strict mode."""
    return ExerciseProbe(monkeypatch, capsys)


@pytest.fixture
def backward_passes(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """A list that grows by one at every ``torch.autograd.backward`` call while the test runs."""
    import torch

    calls: list[int] = []
    real_backward = torch.autograd.backward

    def counting_backward(*args, **kwargs):
        calls.append(1)
        return real_backward(*args, **kwargs)

    monkeypatch.setattr(torch.autograd, "backward", counting_backward)
    return calls
