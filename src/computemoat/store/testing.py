"""Fresh, isolated databases for tests and benchmarks: a SQLite file, or a private schema on the
PostgreSQL server named by ``$COMPUTEMOAT_TEST_PG_URL`` (``.ci/postgres.sh`` starts one).

PostgreSQL is skipped only when that variable is unset *and* ``CI`` is not ``true``; in CI a missing
server is an error, so the PostgreSQL half of the suite cannot silently vanish.
"""

from __future__ import annotations

import contextlib
import os
import pathlib
import secrets
from collections.abc import Iterator
from urllib.parse import quote

ENV_PG_URL = "COMPUTEMOAT_TEST_PG_URL"
BACKENDS = ("sqlite", "postgresql")


class PostgresUnavailable(RuntimeError):
    """Raised locally when no test server is configured (tests turn it into a skip)."""


def pg_server_url() -> str:
    url = os.environ.get(ENV_PG_URL, "")
    if url:
        return url
    if os.environ.get("CI", "").lower() == "true":
        raise RuntimeError(f"CI=true but ${ENV_PG_URL} is unset: run `eval \"$(.ci/postgres.sh)\"` first")
    raise PostgresUnavailable(f"${ENV_PG_URL} is unset (run `eval \"$(.ci/postgres.sh)\"` to test PostgreSQL)")


@contextlib.contextmanager
def fresh_database_url(backend: str, tmp_dir: pathlib.Path) -> Iterator[str]:
    """A URL to an empty database, removed afterwards."""
    if backend == "sqlite":
        yield f"sqlite:///{tmp_dir / 'computemoat-test.db'}"
        return
    from sqlalchemy import create_engine, text

    server = pg_server_url()
    schema = f"t_{secrets.token_hex(6)}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f"CREATE SCHEMA {schema}"))
        sep = "&" if "?" in server else "?"
        yield f"{server}{sep}options={quote(f'-csearch_path={schema}')}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
        admin.dispose()
