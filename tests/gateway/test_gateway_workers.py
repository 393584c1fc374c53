"""``computemoat serve --workers N``: worker processes built from explicit ``WorkerSettings``, metrics merged
across them, SIGHUP reloading every worker after the parent checked the new config."""

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
from computemoat.gateway.server import WorkerSettings, worker_app
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


def _backend_line(name: str, port: int) -> str:
    return (f"  - {{name: {name}, url: 'http://127.0.0.1:{port}', provider: p{name}, site: 'p:x', lat_deg: 0,"
            " lon_deg: 0, models: [m]}\n")


def _scrape(port: int) -> str:
    return httpx.get(f"http://127.0.0.1:{port}/metrics").text  # a fresh connection: either worker answers


def _count_200(text: str) -> float:
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
               if line.startswith('gateway_requests_total{model="m",status="200"}'))


def test_two_workers_serve_merge_metrics_and_reload_on_sighup(mock_server, tmp_path: Path) -> None:
    a, b = mock_server(name="a"), mock_server(name="b")
    cfg = tmp_path / "gw.yaml"
    cfg.write_text("backends:\n" + _backend_line("a", a))
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
        for pid in workers:  # the settings were handed over, not put in the environment
            assert b"COMPUTEMOAT_GATEWAY_" not in Path(f"/proc/{pid}/environ").read_bytes()
        body = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
        statuses = {httpx.post(f"http://127.0.0.1:{port}/v1/chat/completions", json=body).status_code
                    for _ in range(29)}  # a fresh connection each: accepted by either worker
        assert statuses == {200}
        # oracle: 29 answers were given; every scrape, whichever worker serves it, must say 29
        counts = [_count_200(_scrape(port)) for _ in range(6)]
        assert counts == [29.0] * 6
        assert 'gateway_backend_healthy{backend="a"} 1.0' in _scrape(port)

        cfg.write_text("backends:\n" + _backend_line("a", a) + _backend_line("b", b))
        proc.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 20
        seen: list[dict[str, int]] = []
        while time.monotonic() < deadline:
            seen = [httpx.get(f"http://127.0.0.1:{port}/readyz").json()["available_backends"] for _ in range(8)]
            if all(s == {"m": 2} for s in seen):
                break
            time.sleep(0.2)
        assert all(s == {"m": 2} for s in seen), seen
        cfg.write_text("backends: [}\n")  # broken: checked in the parent, never reaches the workers
        proc.send_signal(signal.SIGHUP)
        time.sleep(1.0)
        assert proc.poll() is None and len(_workers_of(proc.pid)) == 2
        assert all(httpx.get(f"http://127.0.0.1:{port}/readyz").json()["available_backends"] == {"m": 2}
                   for _ in range(6))
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


def test_a_worker_builds_its_app_from_explicit_settings(tmp_path: Path) -> None:
    p = tmp_path / "gw.yaml"
    p.write_text("backends:\n  - {name: a, url: 'http://127.0.0.1:1', provider: p, site: 'p:x', lat_deg: 0,"
                 " lon_deg: 0, models: [m]}\n")
    settings = WorkerSettings(str(p), admin_token="t0ken")
    assert "t0ken" not in repr(settings)
    assert worker_app(settings).state.gateway.cfg.backends[0].name == "a"
    with pytest.raises(UserError, match=r"no-such\.yaml"):
        worker_app(WorkerSettings(str(tmp_path / "no-such.yaml")))
