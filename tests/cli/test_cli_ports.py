"""A busy --port for serve, mock-backend or dashboard: one `error:` line and exit 2, before any address
is announced (today's failure: the address announced, then a raw uvicorn error, exit 3)."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from computemoat.cli import app

runner = CliRunner()


@pytest.fixture
def busy_port() -> Iterator[int]:
    """A port some other program holds: a real listening socket on 127.0.0.1."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        yield s.getsockname()[1]


def _gateway_yaml(tmp: Path) -> Path:
    path = tmp / "gateway.yaml"
    path.write_text(
        "backends:\n  - {name: a, url: 'http://127.0.0.1:9', provider: p, region: r, site: 'p:r', models: [m]}\n",
        encoding="utf-8",
    )
    return path


@pytest.mark.parametrize("command", ["serve", "mock-backend", "dashboard"])
def test_busy_port_is_one_line_exit_2(command: str, busy_port: int, tmp_path: Path) -> None:
    args = {
        "serve": ["serve", str(_gateway_yaml(tmp_path))],
        "mock-backend": ["mock-backend"],
        "dashboard": ["dashboard", "--no-solve"],
    }[command]
    result = runner.invoke(app, [*args, "--host", "127.0.0.1", "--port", str(busy_port)])
    assert result.exit_code == 2, result.output
    assert isinstance(result.exception, SystemExit)
    errors = [ln for ln in result.stderr.splitlines() if ln.strip()]
    assert len(errors) == 1 and errors[0].startswith("error:") and str(busy_port) in errors[0]
    assert "in use" in errors[0]
    assert "http://" not in result.stdout  # nothing announced


def test_free_port_passes_the_check() -> None:
    from computemoat.cli.common import check_port_free

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    check_port_free("127.0.0.1", port)  # a port nobody holds raises nothing
