"""``INSERT ... ON CONFLICT`` for both dialects (SQLite >= 3.24 and PostgreSQL share the syntax, but
SQLAlchemy exposes it per dialect)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql.dml import Insert


def insert_for(conn: Connection, model: Any) -> Any:
    table = model.__table__ if hasattr(model, "__table__") else model
    return (postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert)(table)


def upsert(
    conn: Connection, model: Any, values: Mapping[str, Any], keys: Sequence[str], set_: Mapping[str, Any]
) -> Insert:
    stmt = insert_for(conn, model).values(**values)
    return stmt.on_conflict_do_update(index_elements=list(keys), set_=dict(set_))
