"""Shared fixtures: small scenarios written as YAML to tmp_path, so tests exercise the real loader."""

from __future__ import annotations

import subprocess
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from computemoat.store.testing import BACKENDS, PostgresUnavailable, fresh_database_url

if TYPE_CHECKING:
    from computemoat.store import Database


@pytest.fixture
def write_yaml(tmp_path: Path) -> Callable[[str], Path]:
    def write(text: str, name: str = "scenario.yaml") -> Path:
        path = tmp_path / name
        path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
        return path

    return write


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh database URL per test on each backend: SQLite file, and PostgreSQL (own schema) when
    $COMPUTEMOAT_TEST_PG_URL names a server (skipped otherwise, except in CI where it must exist)."""
    try:
        with fresh_database_url(request.param, tmp_path) as url:
            yield url
    except PostgresUnavailable as e:
        pytest.skip(str(e))


@pytest.fixture
def db(db_url: str) -> Iterator[Database]:
    from computemoat.store import open_database

    database = open_database(db_url)
    yield database
    database.dispose()


@pytest.fixture
def solver_children(monkeypatch: pytest.MonkeyPatch) -> list[subprocess.Popen[bytes]]:
    """Every HiGHS child process the planner starts in this test (highs_run forced to use one)."""
    from computemoat.planner import highs_run

    monkeypatch.setattr(highs_run, "IN_PROCESS_MAX_COLS", 0)
    children: list[subprocess.Popen[bytes]] = []
    real = subprocess.Popen

    def spy(*args: object, **kwargs: object) -> subprocess.Popen[bytes]:
        children.append(real(*args, **kwargs))  # type: ignore[call-overload]
        return children[-1]

    monkeypatch.setattr(highs_run.subprocess, "Popen", spy)
    return children
