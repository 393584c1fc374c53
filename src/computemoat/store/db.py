"""Opening the database: URL normalisation, SQLite pragmas, and migrations to head.

SQLite runs in WAL mode with ``busy_timeout`` so several gateway worker processes share one file.
Write transactions that read-then-write (the rate limiter) must start with ``BEGIN IMMEDIATE`` so two
processes cannot both read the old counter; pysqlite's own transaction handling is switched off and
every transaction begins explicitly (``immediate=True`` through :func:`write_tx`).

Two engines on SQLite: ``engine`` (``synchronous=NORMAL``: survives a killed process, may lose the
last commits on power loss, fine for keys and counters) and ``durable_engine`` (``synchronous=FULL``:
each group commit of usage records is fsynced). PostgreSQL uses one engine; the server decides.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import resources

from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, OperationalError

from computemoat.store.errors import FieldError

ENV_DATABASE_URL = "COMPUTEMOAT_DATABASE_URL"
_BUSY_TIMEOUT_MS = 30_000
_MIGRATION_LOCK_KEY = 0x636D6F6174  # "cmoat": PostgreSQL advisory lock serialising migrations


def default_database_url() -> str:
    """``$COMPUTEMOAT_DATABASE_URL`` or a SQLite file ``computemoat.db`` in the working directory."""
    return os.environ.get(ENV_DATABASE_URL) or "sqlite:///computemoat.db"


def normalize_url(url: str) -> str:
    """Accept ``postgresql://`` / ``postgres://`` (use psycopg 3) and ``sqlite:///path``."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise FieldError(
            "database_url", f"{url!r} is not a database URL "
            "(use sqlite:///path/to/file.db or postgresql://user@host:5432/dbname)"
        ) from None
    backend = parsed.get_backend_name()
    if backend in ("postgresql", "postgres"):
        return parsed.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)
    if backend == "sqlite":
        if not parsed.database or parsed.database == ":memory:":
            raise FieldError(
                "database_url", f"{url!r}: an in-memory SQLite database cannot be shared between "
                "processes (use sqlite:///path/to/file.db)"
            )
        return url
    raise FieldError("database_url", f"{url!r}: unsupported database {backend!r} (use sqlite or postgresql)")


def _sqlite_engine(url: str, synchronous: str) -> Engine:
    engine = create_engine(url, connect_args={"timeout": _BUSY_TIMEOUT_MS / 1000, "check_same_thread": False})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record) -> None:
        dbapi_conn.isolation_level = None  # we issue BEGIN ourselves
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute(f"PRAGMA synchronous={synchronous}")
        cur.execute(f"PRAGMA busy_timeout={_BUSY_TIMEOUT_MS}")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        mode = "IMMEDIATE" if conn.get_execution_options().get("immediate") else "DEFERRED"
        conn.exec_driver_sql(f"BEGIN {mode}")

    return engine


@dataclass(frozen=True)
class Database:
    url: str
    engine: Engine
    durable_engine: Engine

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    def dispose(self) -> None:
        self.engine.dispose()
        if self.durable_engine is not self.engine:
            self.durable_engine.dispose()


def open_database(url: str | None = None, *, migrate: bool = True) -> Database:
    """Connect (and by default upgrade the schema to head). Safe to call from several processes."""
    url = normalize_url(url or default_database_url())
    if make_url(url).get_backend_name() == "sqlite":
        db = Database(url, _sqlite_engine(url, "NORMAL"), _sqlite_engine(url, "FULL"))
    else:
        engine = create_engine(url, pool_size=8, max_overflow=8, pool_pre_ping=True)
        db = Database(url, engine, engine)
    if migrate:
        try:
            upgrade(db)
        except OperationalError as e:  # no such directory, server down, wrong password...
            db.dispose()
            shown = make_url(url).render_as_string(hide_password=True)
            reason = " ".join(str(e.orig).split())  # drivers answer on several lines; one line here
            raise FieldError("database_url", f"{shown}: cannot open the database ({reason})") from None
    return db


@contextlib.contextmanager
def write_tx(db: Database, *, durable: bool = False) -> Iterator[Connection]:
    """A transaction that takes the write lock up front on SQLite (``BEGIN IMMEDIATE``)."""
    engine = db.durable_engine if durable else db.engine
    with engine.connect() as conn:
        conn = conn.execution_options(immediate=True)
        with conn.begin():
            yield conn


def upgrade(db: Database, revision: str = "head") -> None:
    """Run the Alembic migrations shipped as package data, serialised across processes."""
    _migrate(db, "upgrade", revision)


def downgrade(db: Database, revision: str = "base") -> None:
    _migrate(db, "downgrade", revision)


def _migrate(db: Database, direction: str, revision: str) -> None:
    from alembic import command
    from alembic.config import Config

    script_location = str(resources.files("computemoat.store") / "migrations")
    cfg = Config()
    cfg.set_main_option("script_location", script_location)
    with write_tx(db) as conn:
        if not db.is_sqlite:
            conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _MIGRATION_LOCK_KEY})
        cfg.attributes["connection"] = conn
        getattr(command, direction)(cfg, revision)
