"""Databases (SQLite and PostgreSQL) and real processes on 127.0.0.1 for the tenancy tests."""

from __future__ import annotations

import contextlib
import json
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

# --- real processes on 127.0.0.1: a mock model server and computemoat gateways -----------------------



ADMIN_TOKEN = "test-admin-token"
_CLI = "from computemoat.cli import main; main()"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_http(url: str, proc: subprocess.Popen, timeout_s: float = 120.0) -> None:  # type: ignore[type-arg]
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode} before serving {url}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url, timeout=1.0).status_code < 500:
                return
        time.sleep(0.05)
    raise RuntimeError(f"{url} did not come up in {timeout_s} s")


def _stop(proc: subprocess.Popen) -> None:  # type: ignore[type-arg]
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="session")
def mock_backend_url() -> Iterator[str]:
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-c", _CLI, "mock-backend", "--port", str(port)],
                            stdout=subprocess.DEVNULL)
    try:
        _wait_http(f"http://127.0.0.1:{port}/v1/models", proc)
        yield f"http://127.0.0.1:{port}"
    finally:
        _stop(proc)


@pytest.fixture
def gateway(mock_backend_url: str, tmp_path: Path) -> Iterator[Callable[..., list[tuple[str, subprocess.Popen]]]]:  # type: ignore[type-arg]
    """Start ``computemoat serve`` subprocesses: ``[(base_url, proc)] = gateway(db_url)``."""
    config = tmp_path / "gateway.yaml"
    config.write_text(json.dumps({"backends": [{
        "name": "b1", "url": mock_backend_url, "provider": "aws", "site": "use1",
        "lat_deg": 39.0, "lon_deg": -77.5, "models": ["m"],
    }]}))
    procs: list[subprocess.Popen] = []  # type: ignore[type-arg]

    def start(db_url: str, n: int = 1) -> list[tuple[str, subprocess.Popen]]:  # type: ignore[type-arg]
        """Start ``n`` gateways on ``db_url`` at once (they share its tenants, limits and usage)."""
        started = []
        for _ in range(n):
            port = _free_port()
            proc = subprocess.Popen(
                [sys.executable, "-c", _CLI, "serve", str(config), "--port", str(port),
                 "--database-url", db_url, "--admin-token", ADMIN_TOKEN],
                stdout=subprocess.DEVNULL,
            )
            procs.append(proc)
            started.append((f"http://127.0.0.1:{port}", proc))
        for base, proc in started:
            _wait_http(f"{base}/healthz", proc)
        return started

    try:
        yield start
    finally:
        for p in procs:
            _stop(p)


@pytest.fixture
def admin() -> dict[str, str]:
    """Headers carrying the admin token the ``gateway`` fixture starts servers with."""
    return {"Authorization": f"Bearer {ADMIN_TOKEN}"}
