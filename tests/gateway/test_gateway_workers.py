"""``computemoat serve --workers N``: uvicorn worker processes built by the ``app_from_env`` factory."""

from __future__ import annotations

import contextlib
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from computemoat.cli import app
from computemoat.gateway.server import ENV_CONFIG, app_from_env
from computemoat.model.errors import UserError


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _workers_of(pid: int) -> list[int]:
    """Child processes started by multiprocessing's spawn (uvicorn's workers), from /proc."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, IndexError, ValueError):
            ppid = int(stat.read_text().rsplit(")", 1)[1].split()[1])
            if ppid == pid and b"spawn_main" in (stat.parent / "cmdline").read_bytes():
                found.append(int(stat.parent.name))
    return found


def test_two_workers_serve_the_gateway(mock_server, tmp_path: Path) -> None:
    mock = mock_server(name="a")
    cfg = tmp_path / "gw.yaml"
    cfg.write_text(
        "backends:\n"
        f"  - {{name: a, url: 'http://127.0.0.1:{mock}', provider: p, site: 'p:x', lat_deg: 0, lon_deg: 0,"
        " models: [m]}\n"
    )
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-c", "from computemoat.cli import main; main()", "serve", str(cfg), "--port", str(port),
         "--workers", "2"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 60
        workers: list[int] = []
        while time.monotonic() < deadline and proc.poll() is None:
            workers = _workers_of(proc.pid)
            with contextlib.suppress(httpx.HTTPError):
                if len(workers) == 2 and httpx.get(f"http://127.0.0.1:{port}/readyz").status_code == 200:
                    break
            time.sleep(0.1)
        assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
        assert len(workers) == 2
        body = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
        statuses = {httpx.post(f"http://127.0.0.1:{port}/v1/chat/completions", json=body).status_code
                    for _ in range(20)}  # a fresh connection each: accepted by either worker
        assert statuses == {200}
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    assert _workers_of(proc.pid) == []


def test_a_bad_config_fails_in_the_parent_before_workers_start(tmp_path: Path, monkeypatch) -> None:
    p = tmp_path / "gw.yaml"
    p.write_text(
        "backends:\n  - {name: a, url: 'https://x.example', provider: p, site: 'p:x', lat_deg: 0, lon_deg: 0,"
        " models: [m], api_key_env: CM_TEST_UNSET_KEY}\n"
    )
    monkeypatch.delenv("CM_TEST_UNSET_KEY", raising=False)
    result = CliRunner().invoke(app, ["serve", str(p), "--workers", "2"])
    assert result.exit_code == 2
    assert "CM_TEST_UNSET_KEY" in result.output and "Traceback" not in result.output


def test_the_factory_needs_its_config_variable(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.delenv(ENV_CONFIG, raising=False)
    with pytest.raises(UserError, match=ENV_CONFIG):
        app_from_env()
    p = tmp_path / "gw.yaml"
    p.write_text("backends:\n  - {name: a, url: 'http://127.0.0.1:1', provider: p, site: 'p:x', lat_deg: 0,"
                 " lon_deg: 0, models: [m]}\n")
    monkeypatch.setenv(ENV_CONFIG, str(p))
    assert app_from_env().state.gateway.cfg.backends[0].name == "a"
