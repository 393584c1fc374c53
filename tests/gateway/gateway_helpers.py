"""Real servers on 127.0.0.1 for gateway tests: uvicorn in a background thread on a pre-bound port."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import uvicorn

from computemoat.gateway.config import GatewayConfig, parse_config
from computemoat.gateway.hooks import UsageRecord
from computemoat.gateway.mock_backend import MockBackend, MockSettings


@contextlib.contextmanager
def serve_app(app: Any, **uvicorn_options: Any) -> Iterator[int]:
    """Run ``app`` under uvicorn in a thread; yield its port; shut it down (lifespan included).
    ``uvicorn_options`` go to ``uvicorn.Config`` (e.g. ``ssl_certfile``/``ssl_keyfile`` for https)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, log_level="error", access_log=False, lifespan="on", loop="asyncio",
                            timeout_graceful_shutdown=0.5, **uvicorn_options)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=lambda: asyncio.run(server.serve(sockets=[sock])), daemon=True)
    thread.start()
    while not server.started:
        if not thread.is_alive():
            raise RuntimeError("server thread died during startup")
        threading.Event().wait(0.01)
    try:
        yield port
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


@pytest.fixture
def mock_server() -> Iterator[Callable[..., int]]:
    """Start mock backends: ``port = mock_server(name="a", fail_rate=1.0)``."""
    with contextlib.ExitStack() as stack:

        def start(**settings: Any) -> int:
            return stack.enter_context(serve_app(MockBackend(MockSettings(**settings), seed=1)))

        yield start


def backend(name: str, port: int, provider: str, lat_deg: float = 40.0, lon_deg: float = -75.0,
            **extra: Any) -> dict[str, Any]:
    return {"name": name, "url": f"http://127.0.0.1:{port}", "provider": provider, "site": f"{provider}:x",
            "lat_deg": lat_deg, "lon_deg": lon_deg, "models": ["m"], **extra}


def gateway_config(backends: list[dict[str, Any]], **extra: Any) -> GatewayConfig:
    return parse_config({"backends": backends, **extra}, "test")


class ListSink:
    """An in-memory UsageSink: a real implementation of the protocol, durable for the test's life."""

    def __init__(self, fail: bool = False) -> None:
        self.records: list[UsageRecord] = []
        self.fail = fail

    async def record(self, rec: UsageRecord) -> None:
        if self.fail:
            raise OSError("database unavailable")
        self.records.append(rec)

    async def aclose(self) -> None:
        return None


CHAT = {"model": "m", "messages": [{"role": "user", "content": "hello"}]}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def spawn_mock(port: int, name: str, *options: str) -> subprocess.Popen[bytes]:
    """A mock backend in its own process (so it can be SIGSTOPped or killed like a real server)."""
    code = "from computemoat.cli import main; main()"
    return subprocess.Popen([sys.executable, "-c", code, "mock-backend", "--port", str(port), "--name", name,
                             *options], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def wait_listening(port: int, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listens on {port}")


def metric(text: str, prefix: str) -> float:
    """Sum of the samples of a Prometheus exposition whose line starts with ``prefix``."""
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith(prefix))
