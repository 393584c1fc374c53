"""One batch of usage records in one transaction: the rows (a request id already stored is skipped,
so rewriting a batch is idempotent), each priced (``prices``: model+provider, else model+'*', else 0),
and the cost added to ``daily_spend`` of the row's tenant and of its key.

PostgreSQL: a single statement in autocommit mode - the rows as one array per column (``unnest``),
priced by a join, inserted with ``ON CONFLICT DO NOTHING ... RETURNING``, and the spend upserted from
what was returned, all in data-modifying CTEs - so a batch costs one round trip to the server and one
WAL flush, however many rows it has (the earlier COPY path took six round trips: BEGIN, the id check,
the prices, COPY, the spend, COMMIT; at concurrency 1 they were most of the added latency).

SQLite: ``BEGIN IMMEDIATE``, the id check, the prices, one ``executemany`` of ``INSERT ... ON CONFLICT
DO NOTHING`` (sqlite3 loops in C) and the spend upsert, compiled once and run through the driver;
in-process calls, so the cost is the commit's fsync.

Token counts are capped at ``TOKENS_MAX`` and tags at the column's 64 characters: a backend reporting
2^63 tokens is billed for 2^31 - 1, not a failed commit.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import fields, replace
from operator import attrgetter
from typing import Any

from sqlalchemy import Connection, bindparam, column, func, select
from sqlalchemy.dialects import sqlite

from computemoat.model.usage import UsageRecord
from computemoat.store.db import Database
from computemoat.store.limits import TOKENS_MAX, clamp_tokens, day_of
from computemoat.store.schema import DailySpend, Price, UsageRecordRow

USAGE_FIELDS = tuple(f.name for f in fields(UsageRecord))
USAGE_FIELDS_OF = attrgetter(*USAGE_FIELDS)  # any object with these attributes -> tuple, in C
_TAG_MAX = 64  # characters, as ``usage_records.tag``
Costs = dict[tuple[str, str], float]  # (tenant_id, key_id) -> USD of the batch's new rows


def _storable(r: UsageRecord) -> UsageRecord:
    """``r`` with token counts in 0 ... TOKENS_MAX and a tag the column takes (cheap when it already is)."""
    if 0 <= r.prompt_tokens <= TOKENS_MAX and 0 <= r.completion_tokens <= TOKENS_MAX \
            and len(r.tag) <= _TAG_MAX and "\x00" not in r.tag:
        return r
    return replace(r, prompt_tokens=clamp_tokens(r.prompt_tokens), completion_tokens=clamp_tokens(r.completion_tokens),
                   tag=r.tag.replace("\x00", "")[:_TAG_MAX])


def commit_rows(db: Database, rows: list[UsageRecord]) -> Costs:
    """Commit ``rows`` on a connection of ``db``'s durable engine; the new rows' cost per scope."""
    with db.durable_engine.connect() as conn:
        return commit_rows_on(conn, rows)


def commit_rows_on(conn: Connection, rows: list[UsageRecord]) -> Costs:
    """Commit ``rows`` on ``conn`` (outside any transaction of its own): one transaction."""
    unique = {r.request_id: _storable(r) for r in rows}
    if not unique:
        return {}
    if conn.dialect.name == "postgresql":
        return _commit_pg(conn, list(unique.values()))
    return _commit_sqlite(conn, unique)


# --- PostgreSQL: one statement ---------------------------------------------------------------------

_PG_TYPES = {"prompt_tokens": "bigint", "completion_tokens": "bigint", "latency_ms": "float8", "status": "int",
             "streamed": "boolean", "time_unix_s": "float8"}
_COLUMNS = (*USAGE_FIELDS, "day")
_PG_SQL = f"""
WITH rows AS (
  SELECT * FROM unnest({", ".join(f"%({c})s::{_PG_TYPES.get(c, 'text')}[]" for c in _COLUMNS)})
    AS r({", ".join(_COLUMNS)})
), priced AS (
  SELECT r.*, (r.prompt_tokens * COALESCE(p.usd_per_mtok_prompt, d.usd_per_mtok_prompt, 0)
             + r.completion_tokens * COALESCE(p.usd_per_mtok_completion, d.usd_per_mtok_completion, 0)) / 1e6
             AS cost_usd
  FROM rows r
  LEFT JOIN {Price.__tablename__} p ON p.model = r.model AND p.provider = r.provider
  LEFT JOIN {Price.__tablename__} d ON d.model = r.model AND d.provider = '*'
), ins AS (
  INSERT INTO {UsageRecordRow.__tablename__} ({", ".join((*USAGE_FIELDS, "cost_usd"))})
  SELECT {", ".join((*USAGE_FIELDS, "cost_usd"))} FROM priced
  ON CONFLICT (request_id) DO NOTHING
  RETURNING request_id
), new AS (
  SELECT priced.* FROM priced JOIN ins USING (request_id)
), spend AS (
  SELECT tenant_id, '' AS key_id, day, SUM(cost_usd) AS usd, COUNT(*) AS requests FROM new GROUP BY tenant_id, day
  UNION ALL
  SELECT tenant_id, key_id, day, SUM(cost_usd), COUNT(*) FROM new WHERE key_id <> '' GROUP BY tenant_id, key_id, day
), upsert AS (
  INSERT INTO {DailySpend.__tablename__} (tenant_id, key_id, day, usd, requests)
  SELECT tenant_id, key_id, day, usd, requests FROM spend
  ON CONFLICT (tenant_id, key_id, day) DO UPDATE
    SET usd = {DailySpend.__tablename__}.usd + excluded.usd,
        requests = {DailySpend.__tablename__}.requests + excluded.requests
)
SELECT tenant_id, key_id, SUM(cost_usd) FROM new GROUP BY tenant_id, key_id
"""


def _commit_pg(conn: Connection, rows: list[UsageRecord]) -> Costs:
    params: dict[str, list[Any]] = {c: [getattr(r, c) for r in rows] for c in USAGE_FIELDS}
    params["day"] = [day_of(t) for t in params["time_unix_s"]]
    if conn.get_execution_options().get("isolation_level") != "AUTOCOMMIT":
        conn.execution_options(isolation_level="AUTOCOMMIT")  # the statement is its own transaction
    try:
        return {(t, k): float(usd) for t, k, usd in conn.exec_driver_sql(_PG_SQL, params)}
    finally:
        conn.commit()  # ends SQLAlchemy's bookkeeping transaction (the server has committed already)


# --- SQLite: one transaction of in-process statements -----------------------------------------------

def _build_statements() -> dict[str, Any]:
    ids: Any = select(column("value")).select_from(func.json_each(bindparam("ids")))
    spend = sqlite.insert(DailySpend).values({c: bindparam(c) for c in ("tenant_id", "key_id", "day", "usd",
                                                                          "requests")})
    return {
        "existing": select(UsageRecordRow.request_id).where(UsageRecordRow.request_id.in_(ids)),
        "prices": select(Price.model, Price.provider, Price.usd_per_mtok_prompt, Price.usd_per_mtok_completion),
        "insert": sqlite.insert(UsageRecordRow).values({c: bindparam(c) for c in (*USAGE_FIELDS, "cost_usd")})
        .on_conflict_do_nothing(index_elements=["request_id"]),
        "spend": spend.on_conflict_do_update(
            index_elements=["tenant_id", "key_id", "day"],
            set_={"usd": DailySpend.usd + spend.excluded.usd,
                  "requests": DailySpend.requests + spend.excluded.requests},
        ),
    }


_SQL: dict[str, tuple[str, tuple[str, ...] | None]] = {}


def _driver(conn: Connection, name: str, params: Any, *, many: bool = False) -> Any:
    """Run statement ``name`` through the driver: SQL text compiled once, so a batch pays no
    per-statement or per-row SQLAlchemy work (that was most of a small batch's CPU)."""
    if name not in _SQL:
        compiled = _build_statements()[name].compile(dialect=conn.dialect, for_executemany=many)
        _SQL[name] = (str(compiled), tuple(compiled.positiontup) if compiled.positional else None)
    sql, order = _SQL[name]
    if order is not None:
        params = [tuple(p[c] for c in order) for p in params] if many else tuple(params[c] for c in order)
    return conn.exec_driver_sql(sql, params)


def _commit_sqlite(conn: Connection, unique: dict[str, UsageRecord]) -> Costs:
    conn = conn.execution_options(immediate=True)  # BEGIN IMMEDIATE: see store.db
    with conn.begin():
        existing = {rid for (rid,) in _driver(conn, "existing", {"ids": json.dumps(list(unique))})}
        new = [r for rid, r in unique.items() if rid not in existing]
        if not new:
            return {}
        prices = {(m, p): (pu, cu) for m, p, pu, cu in _driver(conn, "prices", {})}
        values: list[dict[str, Any]] = []
        spend: dict[tuple[str, str, str], list[float]] = defaultdict(lambda: [0.0, 0])
        costs: Costs = defaultdict(float)
        for r in new:
            p_usd, c_usd = prices.get((r.model, r.provider)) or prices.get((r.model, "*")) or (0.0, 0.0)
            cost_usd = (r.prompt_tokens * p_usd + r.completion_tokens * c_usd) / 1e6
            row = dict(zip(USAGE_FIELDS, USAGE_FIELDS_OF(r), strict=True))
            row["cost_usd"] = cost_usd
            values.append(row)
            costs[(r.tenant_id, r.key_id)] += cost_usd
            day = day_of(r.time_unix_s)
            for key_id in ("", r.key_id) if r.key_id else ("",):  # the tenant's spend and its key's
                acc = spend[(r.tenant_id, key_id, day)]
                acc[0] += cost_usd
                acc[1] += 1
        _driver(conn, "insert", values, many=True)
        _driver(conn, "spend", [{"tenant_id": t, "key_id": k, "day": d, "usd": usd, "requests": int(n)}
                                for (t, k, d), (usd, n) in spend.items()], many=True)
    return dict(costs)
